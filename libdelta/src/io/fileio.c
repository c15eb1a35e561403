/*
 * POSIX file adapters for the I/O callbacks (libdelta/fileio.h).
 *
 * The only place in the library that touches files. Every transfer is a
 * pread/pwrite loop that retries on EINTR and continues after a partial
 * transfer; callbacks map errno to a delta_io_result (ENOSPC and EDQUOT are
 * DELTA_IO_NOSPACE, an early end of file is DELTA_IO_SHORT, anything else is
 * DELTA_IO_ERROR). Functions that return a delta_status put errno's text in
 * the message.
 */
#define _GNU_SOURCE /* O_CLOEXEC, fdatasync, BLKGETSIZE64 on older libcs */

#include "libdelta/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h> /* renameat */
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#ifdef __linux__
#include <linux/fs.h> /* BLKGETSIZE64 */
#include <sys/ioctl.h>
#endif

#include "common/internal.h"

#define JOURNAL_NAME "journal"
#define JOURNAL_TMP_NAME "journal.tmp"
#define SCRATCH_NAME "scratch"

enum file_kind { KIND_SOURCE, KIND_SINK, KIND_FLASH, KIND_MAP };

struct delta_file {
    enum file_kind kind;
    int fd;            /* -1 when none (a map closes its fd after mapping) */
    uint64_t size;     /* source: size at open */
    uint64_t capacity; /* flash: the region's limit */
    void *map;         /* map: the mapping (NULL for an empty file) */
    size_t map_len;
    delta_buf copy; /* map of a file that cannot be mapped (a pipe): its bytes */
};

struct delta_dir_store {
    char *dir;
    int dirfd;
    int scratch_fd; /* opened at the first scratch access; -1 until then */
};

/* ---- transfer loops -------------------------------------------------- */

/* A callback's failure: errno's text goes with it (delta_error_set), so the
 * library's message ends with the system's words. */
static int io_errno_result(int err)
{
    delta_error_set("%s", strerror(err));
    if (err == ENOSPC) return DELTA_IO_NOSPACE;
#ifdef EDQUOT
    if (err == EDQUOT) return DELTA_IO_NOSPACE;
#endif
    return DELTA_IO_ERROR;
}

/* Reads exactly len bytes at off; DELTA_IO_SHORT at an early end of file. */
static int pread_full(int fd, uint64_t off, void *buf, size_t len)
{
    uint8_t *p = buf;
    while (len > 0) {
        if (off > (uint64_t)INT64_MAX) return DELTA_IO_SHORT;
        ssize_t n = pread(fd, p, len, (off_t)off);
        if (n < 0) {
            if (errno == EINTR) continue;
            return io_errno_result(errno);
        }
        if (n == 0) {
            delta_error_set("the file ends at %llu", (unsigned long long)off);
            return DELTA_IO_SHORT;
        }
        p += n;
        off += (uint64_t)n;
        len -= (size_t)n;
    }
    return DELTA_IO_OK;
}

/* Writes exactly len bytes at off. */
static int pwrite_full(int fd, uint64_t off, const void *buf, size_t len)
{
    const uint8_t *p = buf;
    while (len > 0) {
        if (off > (uint64_t)INT64_MAX) return DELTA_IO_NOSPACE;
        ssize_t n = pwrite(fd, p, len, (off_t)off);
        if (n < 0) {
            if (errno == EINTR) continue;
            return io_errno_result(errno);
        }
        if (n == 0) return DELTA_IO_SHORT;
        p += n;
        off += (uint64_t)n;
        len -= (size_t)n;
    }
    return DELTA_IO_OK;
}

/* Writes len bytes at the file position (for a fresh temporary file). */
static int write_full(int fd, const void *buf, size_t len)
{
    const uint8_t *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR) continue;
            return io_errno_result(errno);
        }
        if (n == 0) return DELTA_IO_SHORT;
        p += n;
        len -= (size_t)n;
    }
    return DELTA_IO_OK;
}

static int open_retry(const char *path, int flags, mode_t mode)
{
    int fd;
    do fd = open(path, flags | O_CLOEXEC, mode);
    while (fd < 0 && errno == EINTR);
    return fd;
}

static int openat_retry(int dirfd, const char *name, int flags, mode_t mode)
{
    int fd;
    do fd = openat(dirfd, name, flags | O_CLOEXEC, mode);
    while (fd < 0 && errno == EINTR);
    return fd;
}

/* close() is not retried on EINTR: on Linux the descriptor is gone either way. */
static void close_quietly(int fd)
{
    if (fd >= 0) {
        int saved = errno;
        close(fd);
        errno = saved;
    }
}

static int sync_fd(int fd, int data_only)
{
    int r;
    do r = data_only ? fdatasync(fd) : fsync(fd);
    while (r < 0 && errno == EINTR);
    return r;
}

static delta_file *file_new(enum file_kind kind, int fd)
{
    delta_file *f = calloc(1, sizeof *f);
    if (!f) return NULL;
    f->kind = kind;
    f->fd = fd;
    return f;
}

/* ---- opening inputs ---------------------------------------------------- */

/* Opens path read-only without waiting: a FIFO with no writer would block
 * open() forever, so open with O_NONBLOCK (which succeeds at once on a FIFO),
 * fstat, then clear O_NONBLOCK so that reads block as usual. Directories are
 * refused here; what else a caller accepts is its own business. */
static delta_status open_input(const char *path, int *fd_out, struct stat *st)
{
    *fd_out = -1;
    int fd = open_retry(path, O_RDONLY | O_NONBLOCK, 0);
    if (fd < 0) return dlt_fail(DELTA_ERR_INPUT, "%s: cannot open: %s", path, strerror(errno));
    if (fstat(fd, st) < 0) {
        close_quietly(fd);
        return dlt_fail(DELTA_ERR_INPUT, "%s: cannot stat: %s", path, strerror(errno));
    }
    if (S_ISDIR(st->st_mode)) {
        close_quietly(fd);
        return dlt_fail(DELTA_ERR_INPUT, "%s: is a directory", path);
    }
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) < 0) {
        close_quietly(fd);
        return dlt_fail(DELTA_ERR_INPUT, "%s: cannot clear O_NONBLOCK: %s", path, strerror(errno));
    }
    *fd_out = fd;
    return DELTA_OK;
}

/* ---- source ---------------------------------------------------------- */

static int source_read(void *ctx, uint64_t off, void *buf, size_t len)
{
    delta_file *f = ctx;
    if (!dlt_range_ok(off, len, f->size)) return DELTA_IO_SHORT;
    return pread_full(f->fd, off, buf, len);
}

delta_status delta_file_source_open(const char *path, delta_source *src, delta_file **out)
{
    *out = NULL;
    int fd;
    struct stat st;
    delta_status status = open_input(path, &fd, &st);
    if (status) return status;
    /* A source is read at random offsets and its size must be known: a
     * pipe, FIFO, socket or terminal has neither (pread fails, st_size is 0). */
    if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
        close_quietly(fd);
        return dlt_fail(DELTA_ERR_INPUT, "%s: not a regular file or block device", path);
    }
    uint64_t size = (uint64_t)st.st_size;
#ifdef BLKGETSIZE64
    if (S_ISBLK(st.st_mode) && ioctl(fd, BLKGETSIZE64, &size) < 0) {
        close_quietly(fd);
        return dlt_fail(DELTA_ERR_INPUT, "%s: cannot get the device size: %s", path,
                          strerror(errno));
    }
#endif
    delta_file *f = file_new(KIND_SOURCE, fd);
    if (!f) {
        close_quietly(fd);
        return dlt_fail(DELTA_ERR_NOMEM, "%s: out of memory", path);
    }
    f->size = size;
    *src = (delta_source){DELTA_SOURCE_VERSION, f, size, source_read};
    *out = f;
    return DELTA_OK;
}

/* ---- sink ------------------------------------------------------------ */

static int sink_write(void *ctx, uint64_t off, const void *buf, size_t len)
{
    delta_file *f = ctx;
    return pwrite_full(f->fd, off, buf, len);
}

delta_status delta_file_sink_open(const char *path, delta_sink *sink, delta_file **out)
{
    *out = NULL;
    int fd = open_retry(path, O_WRONLY | O_CREAT | O_TRUNC, 0666);
    if (fd < 0) return dlt_fail(DELTA_ERR_OUTPUT, "%s: cannot create: %s", path, strerror(errno));
    delta_file *f = file_new(KIND_SINK, fd);
    if (!f) {
        close_quietly(fd);
        return dlt_fail(DELTA_ERR_NOMEM, "%s: out of memory", path);
    }
    *sink = (delta_sink){DELTA_SINK_VERSION, f, sink_write};
    *out = f;
    return DELTA_OK;
}

/* ---- flash ----------------------------------------------------------- */

static int flash_read(void *ctx, uint64_t off, void *buf, size_t len)
{
    delta_file *f = ctx;
    return pread_full(f->fd, off, buf, len);
}

static int flash_write(void *ctx, uint64_t off, const void *buf, size_t len)
{
    delta_file *f = ctx;
    if (!dlt_range_ok(off, len, f->capacity)) return DELTA_IO_NOSPACE;
    return pwrite_full(f->fd, off, buf, len);
}

static int flash_sync(void *ctx)
{
    delta_file *f = ctx;
    return sync_fd(f->fd, 1) < 0 ? io_errno_result(errno) : DELTA_IO_OK;
}

static int flash_resize(void *ctx, uint64_t size)
{
    delta_file *f = ctx;
    if (size > f->capacity || size > (uint64_t)INT64_MAX) return DELTA_IO_NOSPACE;
    int r;
    do r = ftruncate(f->fd, (off_t)size);
    while (r < 0 && errno == EINTR);
    return r < 0 ? io_errno_result(errno) : DELTA_IO_OK;
}

delta_status delta_file_flash_open(const char *path, uint64_t capacity, delta_flash *flash,
                                   delta_file **out)
{
    *out = NULL;
    int fd = open_retry(path, O_RDWR, 0);
    if (fd < 0) return dlt_fail(DELTA_ERR_INPUT, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) < 0) {
        close_quietly(fd);
        return dlt_fail(DELTA_ERR_INPUT, "%s: cannot stat: %s", path, strerror(errno));
    }
    int is_block = S_ISBLK(st.st_mode);
    if (!is_block && !S_ISREG(st.st_mode)) {
        close_quietly(fd);
        return dlt_fail(DELTA_ERR_INPUT, "%s: not a regular file or a block device", path);
    }
    uint64_t size = (uint64_t)st.st_size;
    if (is_block) {
#ifdef BLKGETSIZE64
        if (ioctl(fd, BLKGETSIZE64, &size) < 0) {
            close_quietly(fd);
            return dlt_fail(DELTA_ERR_INPUT, "%s: cannot get the device size: %s", path,
                              strerror(errno));
        }
#else
        close_quietly(fd);
        return dlt_fail(DELTA_ERR_INPUT, "%s: block devices are not supported here", path);
#endif
        if (size < capacity) capacity = size;
    }
    delta_file *f = file_new(KIND_FLASH, fd);
    if (!f) {
        close_quietly(fd);
        return dlt_fail(DELTA_ERR_NOMEM, "%s: out of memory", path);
    }
    f->size = size;
    f->capacity = capacity;
    *flash = (delta_flash)DELTA_FLASH_INIT;
    flash->ctx = f;
    flash->size = size;
    flash->capacity = capacity;
    flash->read = flash_read;
    flash->write = flash_write;
    flash->sync = flash_sync;
    flash->resize = is_block ? NULL : flash_resize;
    *out = f;
    return DELTA_OK;
}

/* ---- sync, close ----------------------------------------------------- */

delta_status delta_file_sync(delta_file *f)
{
    if (!f) return dlt_fail(DELTA_ERR_ARG, "delta_file_sync: no file");
    if (f->fd < 0) return DELTA_OK; /* a mapping: nothing written */
    if (sync_fd(f->fd, 1) < 0) {
        if (f->kind == KIND_FLASH)
            return dlt_fail(DELTA_ERR_SYNC, "cannot sync the image: %s", strerror(errno));
        return dlt_fail(DELTA_ERR_OUTPUT, "cannot sync the output: %s", strerror(errno));
    }
    return DELTA_OK;
}

void delta_file_close(delta_file *f)
{
    if (!f) return;
    close_quietly(f->fd);
    if (f->map) munmap(f->map, f->map_len);
    delta_buf_free(&f->copy);
    free(f);
}

/* ---- whole files ----------------------------------------------------- */

/* Reads fd to its end into buf (replacing its contents), at most max bytes. */
static delta_status read_fd_all(int fd, const char *path, uint64_t max, delta_buf *buf)
{
    buf->len = 0;
    for (;;) {
        delta_status st = delta_buf_reserve(buf, 65536);
        if (st) return st;
        size_t room = buf->cap - buf->len;
        ssize_t n = read(fd, buf->data + buf->len, room);
        if (n < 0) {
            if (errno == EINTR) continue;
            return dlt_fail(DELTA_ERR_INPUT, "%s: cannot read: %s", path, strerror(errno));
        }
        if (n == 0) return DELTA_OK;
        buf->len += (size_t)n;
        if ((uint64_t)buf->len > max)
            return dlt_fail(DELTA_ERR_LIMIT, "%s: larger than the limit of %llu bytes", path,
                              (unsigned long long)max);
    }
}

delta_status delta_file_read_all(const char *path, uint64_t max, delta_buf *buf)
{
    int fd;
    struct stat st;
    delta_status status = open_input(path, &fd, &st);
    if (status) return status;
    if (S_ISREG(st.st_mode) && (uint64_t)st.st_size > max) {
        close_quietly(fd);
        return dlt_fail(DELTA_ERR_LIMIT, "%s: %llu bytes, larger than the limit of %llu", path,
                          (unsigned long long)st.st_size, (unsigned long long)max);
    }
    status = read_fd_all(fd, path, max, buf);
    close_quietly(fd);
    return status;
}

delta_status delta_file_map(const char *path, const uint8_t **data, size_t *len, delta_file **out)
{
    *out = NULL;
    *data = NULL;
    *len = 0;
    int fd;
    struct stat st;
    delta_status status = open_input(path, &fd, &st);
    if (status) return status;
    delta_file *f = file_new(KIND_MAP, -1);
    if (!f) {
        close_quietly(fd);
        return dlt_fail(DELTA_ERR_NOMEM, "%s: out of memory", path);
    }
    if (S_ISREG(st.st_mode)) {
        if ((uint64_t)st.st_size > SIZE_MAX) {
            status = dlt_fail(DELTA_ERR_LIMIT, "%s: too large to map", path);
        } else if (st.st_size > 0) {
            void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
            if (p == MAP_FAILED) {
                status = dlt_fail(DELTA_ERR_INPUT, "%s: cannot map: %s", path, strerror(errno));
            } else {
                f->map = p;
                f->map_len = (size_t)st.st_size;
                *data = p;
                *len = f->map_len;
            }
        }
    } else {
        /* A pipe or a character device (e.g. process substitution): read it. */
        status = read_fd_all(fd, path, SIZE_MAX, &f->copy);
        if (!status && f->copy.len) {
            *data = f->copy.data;
            *len = f->copy.len;
        }
    }
    close_quietly(fd);
    if (status) {
        delta_file_close(f);
        *data = NULL;
        *len = 0;
        return status;
    }
    *out = f;
    return DELTA_OK;
}

/* ---- durable directory entries ---------------------------------------- */

/* The directory holding path, as a path ("." for a bare name). */
static char *parent_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash) return strdup(".");
    if (slash == path) return strdup("/");
    return strndup(path, (size_t)(slash - path));
}

/* fsync of the directory holding path: what makes a create, rename or
 * removal there durable (POSIX does not promise it otherwise). */
static int sync_parent(const char *path)
{
    char *dir = parent_of(path);
    if (!dir) {
        errno = ENOMEM;
        return -1;
    }
    int fd = open_retry(dir, O_RDONLY | O_DIRECTORY, 0);
    free(dir);
    if (fd < 0) return -1;
    int r = sync_fd(fd, 0);
    close_quietly(fd);
    return r;
}

delta_status delta_file_replace(const char *tmp, const char *path)
{
    if (rename(tmp, path) < 0)
        return dlt_fail(DELTA_ERR_OUTPUT, "%s: cannot rename into place: %s", path, strerror(errno));
    if (sync_parent(path) < 0)
        return dlt_fail(DELTA_ERR_OUTPUT, "%s: cannot sync its directory: %s", path, strerror(errno));
    return DELTA_OK;
}

/* ---- directory store ------------------------------------------------- */

/*
 * The state directory is created by the first write (after every check has
 * passed), durably: mkdir, then an fsync of its parent. Files are created
 * and replaced inside it through its descriptor and made durable by an
 * fsync of it; journal_remove removes the files, then the directory, then
 * syncs the parent. An existing directory is used only when it is ours: a
 * real directory (not a symbolic link), owned by this user, holding nothing
 * but the names below.
 */
static int ensure_dir(delta_dir_store *s)
{
    if (s->dirfd >= 0) return DELTA_IO_OK;
    if (mkdir(s->dir, 0700) < 0 && errno != EEXIST) return io_errno_result(errno);
    if (sync_parent(s->dir) < 0) return io_errno_result(errno);
    s->dirfd = open_retry(s->dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0);
    return s->dirfd < 0 ? io_errno_result(errno) : DELTA_IO_OK;
}

static int store_journal_read(void *ctx, void *buf, size_t cap, size_t *len)
{
    delta_dir_store *s = ctx;
    *len = 0;
    if (s->dirfd < 0) return DELTA_IO_OK; /* no directory: no update */
    int fd = openat_retry(s->dirfd, JOURNAL_NAME, O_RDONLY | O_NOFOLLOW | O_NONBLOCK, 0);
    if (fd < 0) return errno == ENOENT ? DELTA_IO_OK : DELTA_IO_ERROR;
    struct stat st;
    int result = DELTA_IO_OK;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size > cap) {
        result = DELTA_IO_ERROR;
    } else {
        result = pread_full(fd, 0, buf, (size_t)st.st_size);
        if (result == DELTA_IO_OK) *len = (size_t)st.st_size;
    }
    close_quietly(fd);
    return result;
}

/* Replaces the journal: write journal.tmp fully, fsync it, rename it over
 * journal, fsync the directory. A crash leaves either the old or the new
 * journal, never a torn one; journal.tmp is removed when anything fails. */
static int store_journal_write(void *ctx, const void *buf, size_t len)
{
    delta_dir_store *s = ctx;
    int result = ensure_dir(s);
    if (result != DELTA_IO_OK) return result;
    int fd = openat_retry(s->dirfd, JOURNAL_TMP_NAME, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, 0600);
    if (fd < 0) return io_errno_result(errno);
    result = write_full(fd, buf, len);
    if (result == DELTA_IO_OK && sync_fd(fd, 0) < 0) result = io_errno_result(errno);
    if (close(fd) < 0 && result == DELTA_IO_OK && errno != EINTR) result = io_errno_result(errno);
    if (result == DELTA_IO_OK && renameat(s->dirfd, JOURNAL_TMP_NAME, s->dirfd, JOURNAL_NAME) < 0)
        result = io_errno_result(errno);
    if (result != DELTA_IO_OK) {
        unlinkat(s->dirfd, JOURNAL_TMP_NAME, 0);
        return result;
    }
    return sync_fd(s->dirfd, 0) < 0 ? io_errno_result(errno) : DELTA_IO_OK;
}

static int unlink_if_present(int dirfd, const char *name)
{
    return unlinkat(dirfd, name, 0) < 0 && errno != ENOENT ? -1 : 0;
}

/* Removes the journal first, durably: without it the scratch is meaningless,
 * while a journal whose scratch is gone would describe data that is lost.
 * Then the rest, then the directory itself. */
static int store_journal_remove(void *ctx)
{
    delta_dir_store *s = ctx;
    if (s->dirfd < 0) return DELTA_IO_OK;
    if (unlink_if_present(s->dirfd, JOURNAL_NAME) < 0) return io_errno_result(errno);
    if (sync_fd(s->dirfd, 0) < 0) return io_errno_result(errno);
    close_quietly(s->scratch_fd);
    s->scratch_fd = -1;
    if (unlink_if_present(s->dirfd, SCRATCH_NAME) < 0) return io_errno_result(errno);
    if (unlink_if_present(s->dirfd, JOURNAL_TMP_NAME) < 0) return io_errno_result(errno);
    if (sync_fd(s->dirfd, 0) < 0) return io_errno_result(errno);
    close_quietly(s->dirfd);
    s->dirfd = -1;
    if (rmdir(s->dir) < 0 && errno != ENOENT) return io_errno_result(errno);
    return sync_parent(s->dir) < 0 ? io_errno_result(errno) : DELTA_IO_OK;
}

static int scratch_fd(delta_dir_store *s, int create)
{
    if (s->scratch_fd >= 0) return s->scratch_fd;
    if (s->dirfd < 0) {
        if (!create) {
            errno = ENOENT;
            return -1;
        }
        int r = ensure_dir(s);
        if (r != DELTA_IO_OK) return -1;
    }
    /* A new scratch's entry becomes durable with the next journal write's
     * directory fsync, which comes before anything relies on its content. */
    s->scratch_fd = openat_retry(s->dirfd, SCRATCH_NAME, O_RDWR | O_NOFOLLOW | (create ? O_CREAT : 0), 0600);
    return s->scratch_fd;
}

static int store_scratch_read(void *ctx, uint64_t off, void *buf, size_t len)
{
    delta_dir_store *s = ctx;
    int fd = scratch_fd(s, 0);
    if (fd < 0) return io_errno_result(errno);
    return pread_full(fd, off, buf, len);
}

static int store_scratch_write(void *ctx, uint64_t off, const void *buf, size_t len)
{
    delta_dir_store *s = ctx;
    int fd = scratch_fd(s, 1);
    if (fd < 0) return io_errno_result(errno);
    return pwrite_full(fd, off, buf, len);
}

static int store_scratch_sync(void *ctx)
{
    delta_dir_store *s = ctx;
    if (s->scratch_fd < 0) return DELTA_IO_OK; /* nothing written through this store */
    return sync_fd(s->scratch_fd, 1) < 0 ? io_errno_result(errno) : DELTA_IO_OK;
}

static uint64_t free_bytes_of(const char *path)
{
    struct statvfs vfs;
    if (statvfs(path, &vfs) < 0) return UINT64_MAX; /* unknown */
    uint64_t bytes;
    if (!dlt_mul_u64((uint64_t)vfs.f_bavail, (uint64_t)vfs.f_frsize, &bytes)) return UINT64_MAX;
    return bytes;
}

/* DELTA_OK when the existing directory at dir may hold our state. */
static delta_status check_ours(const char *dir, int dirfd)
{
    struct stat st;
    if (fstat(dirfd, &st) < 0) return dlt_fail(DELTA_ERR_INPUT, "%s: cannot stat: %s", dir, strerror(errno));
    if (st.st_uid != geteuid())
        return dlt_fail(DELTA_ERR_INPUT, "%s: the state directory belongs to another user", dir);
    if (st.st_mode & (S_IWGRP | S_IWOTH))
        return dlt_fail(DELTA_ERR_INPUT, "%s: the state directory is writable by others (mode %03o)", dir,
                          (unsigned)(st.st_mode & 0777));
    int fd = dup(dirfd);
    DIR *d = fd < 0 ? NULL : fdopendir(fd);
    if (!d) {
        close_quietly(fd);
        return dlt_fail(DELTA_ERR_INPUT, "%s: cannot list: %s", dir, strerror(errno));
    }
    delta_status result = DELTA_OK;
    struct dirent *e;
    while (!result && (e = readdir(d)) != NULL) {
        const char *n = e->d_name;
        if (!strcmp(n, ".") || !strcmp(n, "..") || !strcmp(n, JOURNAL_NAME) || !strcmp(n, JOURNAL_TMP_NAME) ||
            !strcmp(n, SCRATCH_NAME))
            continue;
        result = dlt_fail(DELTA_ERR_INPUT, "%s: not a libdelta state directory (it holds %s); give an empty or new "
                            "directory", dir, n);
    }
    closedir(d);
    return result;
}

delta_status delta_dir_store_open(const char *dir, delta_store *store, delta_dir_store **out)
{
    *out = NULL;
    if (!dir || !*dir) return dlt_fail(DELTA_ERR_ARG, "the state directory has no name");
    int dirfd = -1;
    struct stat lst;
    if (lstat(dir, &lst) == 0) {
        if (S_ISLNK(lst.st_mode))
            return dlt_fail(DELTA_ERR_INPUT, "%s: the state directory is a symbolic link; refusing it", dir);
        if (!S_ISDIR(lst.st_mode)) return dlt_fail(DELTA_ERR_INPUT, "%s: exists and is not a directory", dir);
        dirfd = open_retry(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0);
        if (dirfd < 0)
            return dlt_fail(DELTA_ERR_INPUT, "%s: cannot open the state directory: %s", dir, strerror(errno));
        delta_status st = check_ours(dir, dirfd);
        if (st) {
            close_quietly(dirfd);
            return st;
        }
    } else if (errno != ENOENT) {
        return dlt_fail(DELTA_ERR_INPUT, "%s: cannot stat the state directory: %s", dir, strerror(errno));
    } else {
        /* It will be created by the first write: its parent must be there now. */
        char *parent = parent_of(dir);
        struct stat pst;
        int ok = parent && stat(parent, &pst) == 0 && S_ISDIR(pst.st_mode);
        free(parent);
        if (!ok) return dlt_fail(DELTA_ERR_INPUT, "%s: the state directory cannot be created: its parent is not a "
                                   "directory", dir);
    }
    delta_dir_store *s = calloc(1, sizeof *s);
    char *copy = strdup(dir);
    char *parent = parent_of(dir);
    if (!s || !copy || !parent) {
        free(s);
        free(copy);
        free(parent);
        close_quietly(dirfd);
        return dlt_fail(DELTA_ERR_NOMEM, "%s: out of memory", dir);
    }
    s->dir = copy;
    s->dirfd = dirfd;
    s->scratch_fd = -1;
    *store = (delta_store)DELTA_STORE_INIT;
    store->ctx = s;
    store->free_bytes = free_bytes_of(dirfd >= 0 ? dir : parent);
    free(parent);
    store->journal_read = store_journal_read;
    store->journal_write = store_journal_write;
    store->journal_remove = store_journal_remove;
    store->scratch_read = store_scratch_read;
    store->scratch_write = store_scratch_write;
    store->scratch_sync = store_scratch_sync;
    *out = s;
    return DELTA_OK;
}

int delta_dir_store_has_journal(const char *dir)
{
    int dirfd = open_retry(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0);
    if (dirfd < 0) return 0;
    struct stat st;
    int found = fstatat(dirfd, JOURNAL_NAME, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode);
    close_quietly(dirfd);
    return found;
}

void delta_dir_store_close(delta_dir_store *s)
{
    if (!s) return;
    close_quietly(s->scratch_fd);
    close_quietly(s->dirfd);
    free(s->dir);
    free(s);
}
