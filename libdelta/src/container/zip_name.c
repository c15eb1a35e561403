/* Member names: the one rule shared by the writer and the reader. */
#include "zip_internal.h"

static bool name_char_ok(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-' || c == '/';
}

int delta_zip_name_ok(const char *name, size_t len)
{
    if (!name || len == 0 || len > DELTA_ZIP_MAX_NAME) return 0;
    for (size_t i = 0; i < len; i++)
        if (!name_char_ok(name[i])) return 0;
    /* Walk the '/'-separated components: none empty (leading, trailing or
     * doubled '/'), none "." or "..". */
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && name[i] != '/') continue;
        size_t n = i - start;
        if (n == 0) return 0;
        if (name[start] == '.' && (n == 1 || (n == 2 && name[start + 1] == '.'))) return 0;
        start = i + 1;
    }
    return 1;
}
