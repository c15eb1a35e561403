#include "testutil.h"

#include "libdelta/io.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

uint8_t *tu_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    cr_assert(f != NULL, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc(n > 0 ? (size_t)n : 1);
    cr_assert(buf != NULL);
    cr_assert(fread(buf, 1, (size_t)n, f) == (size_t)n, "short read of %s", path);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

void tu_write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    cr_assert(f != NULL, "cannot create %s", path);
    cr_assert(len == 0 || fwrite(data, 1, len, f) == len); /* fwrite(NULL, ...) is undefined even for 0 bytes */
    cr_assert(fclose(f) == 0);
}

void tu_fill_random(uint8_t *buf, size_t len, uint64_t seed)
{
    uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
    for (size_t i = 0; i < len; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        buf[i] = (uint8_t)(x >> 24);
    }
}

char *tu_tempdir(void)
{
    char tmpl[] = "/tmp/libdelta-test-XXXXXX";
    char *d = mkdtemp(tmpl);
    cr_assert(d != NULL);
    return strdup(d);
}

int tu_memsink_write(void *ctx, uint64_t off, const void *buf, size_t len)
{
    tu_memsink *m = ctx;
    if (off > m->cap || len > m->cap - off) return DELTA_IO_NOSPACE;
    memcpy(m->data + off, buf, len);
    if (off + len > m->len) m->len = (size_t)(off + len);
    return DELTA_IO_OK;
}
