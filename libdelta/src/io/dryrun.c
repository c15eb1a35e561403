/* The dry run on temporary copies (libdelta/fileio.h, delta_file_dry_run). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/internal.h"
#include "libdelta/fileio.h"

/* The private directory's name under the temporary directory, and the names in it. */
#define DIR_TEMPLATE "libdelta-dry-run.XXXXXX"
#define STATE_NAME "state"
#define PACKAGE_NAME "package"
#define COPY_CHUNK (64u * 1024)

/* Room for the names below the private directory ("/image-15", "/package",
 * the state directory's "/state/journal.tmp") and the NUL. */
#define LONGEST_INSIDE 32

DLT_DEFINE_INIT(delta_file_dry_run_params, DELTA_FILE_DRY_RUN_PARAMS_INIT, DELTA_FILE_DRY_RUN_PARAMS_VERSION)

/* Copies the regular file (or block device) src to a new file dst. */
static delta_status copy_file(const char *src_path, const char *dst_path, uint8_t *buf)
{
    delta_source src;
    delta_sink sink;
    delta_file *in = NULL, *out = NULL;
    delta_status st = delta_file_source_open(src_path, &src, &in);
    if (!st) st = delta_file_sink_open(dst_path, &sink, &out);
    for (uint64_t off = 0; !st && off < src.size;) {
        size_t n = src.size - off < COPY_CHUNK ? (size_t)(src.size - off) : COPY_CHUNK;
        if (src.read(src.ctx, off, buf, n))
            st = dlt_fail(DELTA_ERR_INPUT, "%s: cannot read at %llu", src_path, (unsigned long long)off);
        else if (sink.write(sink.ctx, off, buf, n))
            st = dlt_fail(DELTA_ERR_OUTPUT, "%s: cannot copy to %s", src_path, dst_path); /* + the adapter's errno text */
        off += n;
    }
    delta_file_close(out);
    delta_file_close(in);
    return st;
}

/* Writes len bytes at data to a new file path. */
static delta_status write_file(const char *path, const void *data, size_t len)
{
    delta_sink sink;
    delta_file *out = NULL;
    delta_status st = delta_file_sink_open(path, &sink, &out);
    if (!st && len && sink.write(sink.ctx, 0, data, len))
        st = dlt_fail(DELTA_ERR_OUTPUT, "%s: cannot write the package", path); /* + the adapter's errno text */
    delta_file_close(out);
    return st;
}

/* Removes everything in the directory dirfd refers to, down to depth more
 * levels of directories (never following a symbolic link), then closes it.
 * 0, or -1 when something could not be removed. */
static int empty_dir(int dirfd, int depth)
{
    DIR *d = fdopendir(dirfd);
    if (!d) {
        close(dirfd);
        return -1;
    }
    int result = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        const char *n = e->d_name;
        if (!strcmp(n, ".") || !strcmp(n, "..")) continue;
        if (unlinkat(dirfd, n, 0) == 0) continue;
        int sub = depth > 0 ? openat(dirfd, n, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) : -1;
        if (sub < 0 || empty_dir(sub, depth - 1) < 0 || unlinkat(dirfd, n, AT_REMOVEDIR) < 0) result = -1;
    }
    closedir(d);
    return result;
}

/* Removes the private directory and everything in it: the copies, the
 * package, the state directory and whatever the session left in it. */
static int remove_private(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return errno == ENOENT ? 0 : -1;
    int result = empty_dir(fd, 1);
    if (rmdir(dir) < 0 && errno != ENOENT) result = -1;
    return result;
}

static delta_status check_params(const delta_file_dry_run_params *p)
{
    if (!p) return dlt_fail(DELTA_ERR_ARG, "dry run: no parameters");
    delta_status st = dlt_check_version("delta_file_dry_run_params", p->version, DELTA_FILE_DRY_RUN_PARAMS_VERSION);
    if (st) return st;
    if (!p->package == !p->package_data)
        return dlt_fail(DELTA_ERR_ARG, "dry run: give the package as a path or as bytes, not %s",
                          p->package ? "both" : "neither");
    if (!p->sources || p->source_count == 0 || p->source_count > DELTA_MANIFEST_MAX_IMAGES)
        return dlt_fail(DELTA_ERR_ARG, "dry run: give 1..%d source images", DELTA_MANIFEST_MAX_IMAGES);
    for (size_t i = 0; i < p->source_count; i++)
        if (!p->sources[i].path || !*p->sources[i].path)
            return dlt_fail(DELTA_ERR_ARG, "dry run: source image %zu has no path", i);
    return DELTA_OK;
}

delta_status delta_file_dry_run(const delta_file_dry_run_params *p, delta_update_result *result)
{
    if (result) memset(result, 0, sizeof *result);
    delta_status st = check_params(p);
    if (st) return st;
    const char *base = p->temp_dir;
    if (!base) base = getenv("TMPDIR");
    if (!base || !*base) base = "/tmp";
    /* Every path the run makes fits PATH_MAX, or nothing is made at all. */
    size_t base_len = strlen(base);
    if (base_len > PATH_MAX - sizeof "/" DIR_TEMPLATE - LONGEST_INSIDE)
        return dlt_fail(DELTA_ERR_ARG, "the temporary directory's path is too long (%zu bytes, at most %zu)",
                          base_len, (size_t)(PATH_MAX - sizeof "/" DIR_TEMPLATE - LONGEST_INSIDE));

    size_t cap = base_len + sizeof "/" DIR_TEMPLATE + LONGEST_INSIDE;
    char *dir = malloc(cap), *path = malloc(cap);
    uint8_t *buf = malloc(COPY_CHUNK);
    char *copies[DELTA_MANIFEST_MAX_IMAGES] = {0};
    if (!dir || !path || !buf) {
        free(dir);
        free(path);
        free(buf);
        return dlt_fail(DELTA_ERR_NOMEM, "dry run: out of memory");
    }
    snprintf(dir, cap, "%s/%s", base, DIR_TEMPLATE);
    if (!mkdtemp(dir)) {
        st = dlt_fail(DELTA_ERR_OUTPUT, "%s: cannot create a temporary directory: %s", dir, strerror(errno));
        free(dir);
        free(path);
        free(buf);
        return st;
    }

    delta_file_image images[DELTA_MANIFEST_MAX_IMAGES];
    for (size_t i = 0; i < p->source_count && !st; i++) {
        copies[i] = malloc(cap);
        if (!copies[i]) {
            st = dlt_fail(DELTA_ERR_NOMEM, "dry run: out of memory");
            break;
        }
        snprintf(copies[i], cap, "%s/image-%zu", dir, i);
        st = copy_file(p->sources[i].path, copies[i], buf);
        images[i] = p->sources[i];
        images[i].path = copies[i];
    }
    const char *package = p->package;
    if (!st && !package) {
        snprintf(path, cap, "%s/%s", dir, PACKAGE_NAME);
        st = write_file(path, p->package_data, p->package_len);
        package = path;
    }
    char *state_dir = st ? NULL : malloc(cap);
    if (!st && !state_dir) st = dlt_fail(DELTA_ERR_NOMEM, "dry run: out of memory");
    if (!st) {
        snprintf(state_dir, cap, "%s/%s", dir, STATE_NAME);
        delta_file_update_params up = DELTA_FILE_UPDATE_PARAMS_INIT;
        up.package = package;
        up.images = images;
        up.image_count = p->source_count;
        up.all_regions = 1;
        up.dry_run = 1;
        up.state_dir = state_dir;
        if (p->check) up.check = *p->check;
        up.check.free_space = UINT64_MAX;
        up.progress = p->progress;
        up.progress_ctx = p->progress_ctx;
        st = delta_file_update(&up, result);
    }
    free(state_dir);
    /* Whatever happened, nothing of the rehearsal stays behind. */
    if (remove_private(dir) < 0 && !st)
        st = dlt_fail(DELTA_ERR_OUTPUT, "%s: cannot remove the temporary directory: %s", dir, strerror(errno));
    for (size_t i = 0; i < p->source_count; i++) free(copies[i]);
    free(dir);
    free(path);
    free(buf);
    return st;
}
