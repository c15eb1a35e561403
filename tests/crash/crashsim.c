/*
 * crashsim: an LD_PRELOAD shim that logs every mutating file operation under
 * one directory tree and can kill the process at the Nth of them.
 *
 *   CRASHSIM_ROOT=DIR   the tree to watch (everything else passes through)
 *   CRASHSIM_LOG=FILE   the event log; written bytes go to FILE.data
 *   CRASHSIM_CUT=N      die (SIGKILL) right before the Nth event ...
 *   CRASHSIM_AFTER=1    ... or right after it
 *   CRASHSIM_EIO_NAME=NAME, CRASHSIM_EIO_AFTER=K
 *                       a medium that fails: every write to NAME (relative to
 *                       the root) after the first K of this process fails
 *                       with EIO (one process is one try of an update);
 *   CRASHSIM_EIO_COUNT=C  ... only the first C of them (0: all)
 *
 * Events, numbered from 1 in the order they are attempted: a create (open with
 * O_CREAT of a name that did not exist, creat, mkstemp and its kin), a
 * truncation (O_TRUNC of an existing file, ftruncate), write/pwrite, fsync,
 * fdatasync (of a file or a directory), rename, unlink, mkdir, rmdir. A call
 * that cannot change anything (unlink of a missing name, mkdir of an existing
 * one, an open that neither creates nor truncates) is no event. Opening an
 * existing name is logged, though ("B", a binding of the inode to the name at
 * that instant), so that the reboot model (reboot.py) can tell which file a
 * later operation on the descriptor refers to.
 *
 * Log lines, tab-separated, names relative to the root ("." is the root),
 * bytes below '!' and '%' written as %XX:
 *   B  ino  name  dir                 an existing name was opened
 *   E  seq  create  ino  name  mode
 *   E  seq  mkdir   ino  name
 *   E  seq  trunc   ino  size
 *   E  seq  write   ino  off  len  data-offset   (the bytes are in FILE.data)
 *   E  seq  fsync|fdatasync  ino  name
 *   E  seq  rename  from  to
 *   E  seq  unlink|rmdir  name
 *   F  seq  what  errno                an event whose call failed (no effect)
 *   C  seq  before|after  what         where CRASHSIM_CUT killed the process
 *   T  count                           the process ended normally
 * The log is written with raw system calls, each line whole, before the
 * process can be killed, so it is complete up to the cut.
 *
 * Limits: one thread; descriptors below CS_MAX_FD; no dup, writev, O_TMPFILE,
 * link, symlink, mmap'd writes or stdio output under the root (the tools use
 * none of them).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#define CS_MAX_FD 1024

typedef struct cs_fd {
    int used;
    int dir;
    dev_t dev;
    ino_t ino;
    char name[PATH_MAX]; /* relative to the root, at open time */
} cs_fd;

static struct {
    int ready;
    int active;
    char root[PATH_MAX];
    size_t root_len;
    int log_fd, data_fd;
    uint64_t data_off;
    unsigned long seq, cut;
    int after;
    char eio_name[PATH_MAX];
    unsigned long eio_after, eio_writes, eio_count;
    cs_fd fds[CS_MAX_FD];
} cs; /* zero: in .bss, the descriptor table is large */

/* ---- raw output --------------------------------------------------------- */

static void raw_write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        long n = syscall(SYS_write, fd, p, len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;
        p += n;
        len -= (size_t)n;
    }
}

/* Appends s to buf at *pos with bytes below '!' and '%' as %XX. */
static void put_escaped(char *buf, size_t cap, size_t *pos, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (; *s && *pos + 4 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (c < '!' || c == '%' || c == 0x7f) {
            buf[(*pos)++] = '%';
            buf[(*pos)++] = hex[c >> 4];
            buf[(*pos)++] = hex[c & 15];
        } else {
            buf[(*pos)++] = (char)c;
        }
    }
}

/* Writes one log line; fmt knows %s (escaped name), %S (verbatim), %lu, %llu. */
static void log_line(const char *fmt, ...)
{
    if (cs.log_fd < 0) return;
    char buf[3 * PATH_MAX + 256];
    size_t pos = 0;
    va_list ap;
    va_start(ap, fmt);
    for (const char *f = fmt; *f && pos + 64 < sizeof buf; f++) {
        if (*f != '%') {
            buf[pos++] = *f;
            continue;
        }
        f++;
        if (*f == 's') {
            put_escaped(buf, sizeof buf - 2, &pos, va_arg(ap, const char *));
        } else if (*f == 'S') {
            const char *s = va_arg(ap, const char *);
            size_t n = strlen(s);
            if (n > sizeof buf - pos - 2) n = sizeof buf - pos - 2;
            memcpy(buf + pos, s, n);
            pos += n;
        } else if (*f == 'l' && f[1] == 'u') {
            f++;
            pos += (size_t)snprintf(buf + pos, sizeof buf - pos, "%lu", va_arg(ap, unsigned long));
        } else if (*f == 'l' && f[1] == 'l' && f[2] == 'u') {
            f += 2;
            pos += (size_t)snprintf(buf + pos, sizeof buf - pos, "%llu",
                                    va_arg(ap, unsigned long long));
        }
    }
    va_end(ap);
    buf[pos++] = '\n';
    raw_write_all(cs.log_fd, buf, pos);
}

/* ---- set-up ------------------------------------------------------------- */

#define REAL(name) real_##name
#define DECLARE_REAL(ret, name, ...) static ret (*real_##name)(__VA_ARGS__)
#define LOAD_REAL(name)                                                                    \
    do {                                                                                   \
        if (!real_##name) *(void **)&real_##name = dlsym(RTLD_NEXT, #name);                \
    } while (0)

DECLARE_REAL(int, openat, int, const char *, int, ...);
DECLARE_REAL(int, mkostemps, char *, int, int);
DECLARE_REAL(ssize_t, write, int, const void *, size_t);
DECLARE_REAL(ssize_t, pwrite, int, const void *, size_t, off_t);
DECLARE_REAL(int, fsync, int);
DECLARE_REAL(int, fdatasync, int);
DECLARE_REAL(int, ftruncate, int, off_t);
DECLARE_REAL(int, truncate, const char *, off_t);
DECLARE_REAL(int, rename, const char *, const char *);
DECLARE_REAL(int, renameat, int, const char *, int, const char *);
DECLARE_REAL(int, renameat2, int, const char *, int, const char *, unsigned);
DECLARE_REAL(int, unlink, const char *);
DECLARE_REAL(int, unlinkat, int, const char *, int);
DECLARE_REAL(int, mkdir, const char *, mode_t);
DECLARE_REAL(int, mkdirat, int, const char *, mode_t);
DECLARE_REAL(int, rmdir, const char *);
DECLARE_REAL(int, close, int);

__attribute__((constructor)) static void cs_init(void)
{
    if (cs.ready) return;
    cs.ready = 1;
    cs.log_fd = cs.data_fd = -1;
    const char *root = getenv("CRASHSIM_ROOT");
    const char *log = getenv("CRASHSIM_LOG");
    const char *cut = getenv("CRASHSIM_CUT");
    const char *after = getenv("CRASHSIM_AFTER");
    if (!root || !*root || !realpath(root, cs.root)) return;
    cs.root_len = strlen(cs.root);
    if (cs.root_len == 1) cs.root_len = 0; /* "/": every path is under it */
    cs.cut = cut ? strtoul(cut, NULL, 10) : 0;
    cs.after = after && *after && strcmp(after, "0");
    const char *eio = getenv("CRASHSIM_EIO_NAME"), *eio_after = getenv("CRASHSIM_EIO_AFTER");
    if (eio && *eio) {
        snprintf(cs.eio_name, sizeof cs.eio_name, "%s", eio);
        cs.eio_after = eio_after ? strtoul(eio_after, NULL, 10) : 0;
        const char *count = getenv("CRASHSIM_EIO_COUNT");
        cs.eio_count = count ? strtoul(count, NULL, 10) : 0;
    }
    if (log && *log) {
        char data[PATH_MAX + 8];
        snprintf(data, sizeof data, "%s.data", log);
        int flags = O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC;
        cs.log_fd = (int)syscall(SYS_openat, AT_FDCWD, log, flags, 0644);
        cs.data_fd = (int)syscall(SYS_openat, AT_FDCWD, data, flags, 0644);
    }
    cs.active = 1;
}

__attribute__((destructor)) static void cs_fini(void)
{
    if (cs.active) log_line("T\t%lu", cs.seq);
}

/* ---- paths -------------------------------------------------------------- */

/* The directory an *at call resolves against, as an absolute path. */
static int dir_of(int dirfd, char *out, size_t cap)
{
    if (dirfd == AT_FDCWD) return getcwd(out, cap) ? 0 : -1;
    char link[64];
    snprintf(link, sizeof link, "/proc/self/fd/%d", dirfd);
    ssize_t n = readlink(link, out, cap - 1);
    if (n < 0) return -1;
    out[n] = '\0';
    return 0;
}

/* Removes "." and "" components and resolves ".." lexically (abs is absolute). */
static void normalise(char *abs)
{
    char out[PATH_MAX];
    size_t len = 0;
    char *save = NULL;
    for (char *c = strtok_r(abs, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
        if (!strcmp(c, ".")) continue;
        if (!strcmp(c, "..")) {
            while (len > 0 && out[len - 1] != '/') len--;
            if (len > 0) len--;
            continue;
        }
        size_t n = strlen(c);
        if (len + n + 2 > sizeof out) break;
        out[len++] = '/';
        memcpy(out + len, c, n);
        len += n;
    }
    if (len == 0) out[len++] = '/';
    out[len] = '\0';
    memcpy(abs, out, len + 1);
}

/* Sets rel to path's name relative to the root; 0 when path is under the root,
 * -1 otherwise. The parent directory is resolved with realpath (symbolic links),
 * the last component is kept as given. */
static int rel_path(int dirfd, const char *path, char *rel)
{
    if (!cs.active || !path) return -1;
    char abs[PATH_MAX];
    if (path[0] == '/') {
        snprintf(abs, sizeof abs, "%s", path);
    } else {
        char base[PATH_MAX];
        if (dir_of(dirfd, base, sizeof base) < 0) return -1;
        if ((size_t)snprintf(abs, sizeof abs, "%s/%s", base, path) >= sizeof abs) return -1;
    }
    normalise(abs);
    char *slash = strrchr(abs, '/');
    if (slash && slash != abs) {
        *slash = '\0';
        char parent[PATH_MAX];
        if (realpath(abs, parent)) {
            char joined[PATH_MAX];
            if ((size_t)snprintf(joined, sizeof joined, "%s/%s", parent, slash + 1) < sizeof joined)
                memcpy(abs, joined, strlen(joined) + 1);
            else
                *slash = '/';
        } else {
            *slash = '/';
        }
    }
    size_t n = strlen(abs);
    if (cs.root_len == 0) {
        snprintf(rel, PATH_MAX, "%s", n == 1 ? "." : abs + 1);
        return 0;
    }
    if (n < cs.root_len || memcmp(abs, cs.root, cs.root_len) != 0) return -1;
    if (abs[cs.root_len] == '\0') {
        strcpy(rel, ".");
        return 0;
    }
    if (abs[cs.root_len] != '/') return -1;
    snprintf(rel, PATH_MAX, "%s", abs + cs.root_len + 1);
    return 0;
}

/* The entry of a descriptor opened under the root, NULL for any other. A
 * descriptor closed where no shim sees it (fclose, a library's internal close)
 * and its number reused is caught by its inode. */
static cs_fd *tracked(int fd)
{
    if (!cs.active || fd < 0 || fd >= CS_MAX_FD || !cs.fds[fd].used) return NULL;
    cs_fd *e = &cs.fds[fd];
    struct stat st;
    if (fstat(fd, &st) < 0 || st.st_ino != e->ino || st.st_dev != e->dev) {
        e->used = 0;
        return NULL;
    }
    return e;
}

static void track(int fd, const char *rel)
{
    if (fd < 0) return;
    if (fd >= CS_MAX_FD) {
        static const char msg[] = "crashsim: descriptor beyond CS_MAX_FD not tracked\n";
        raw_write_all(2, msg, sizeof msg - 1);
        return;
    }
    struct stat st;
    if (fstat(fd, &st) < 0) return;
    cs_fd *e = &cs.fds[fd];
    e->used = 1;
    e->dir = S_ISDIR(st.st_mode);
    e->ino = st.st_ino;
    e->dev = st.st_dev;
    snprintf(e->name, sizeof e->name, "%s", rel);
}

static ino_t ino_of(int dirfd, const char *path)
{
    struct stat st;
    return fstatat(dirfd, path, &st, AT_SYMLINK_NOFOLLOW) == 0 ? st.st_ino : 0;
}

/* ---- events ------------------------------------------------------------- */

/* Called before each event: numbers it and dies there when it is the cut. */
static unsigned long event_begin(const char *what)
{
    cs.seq++;
    if (cs.cut && !cs.after && cs.seq == cs.cut) {
        log_line("C\t%lu\tbefore\t%S", cs.seq, what);
        syscall(SYS_kill, (long)getpid(), (long)SIGKILL);
        _exit(137);
    }
    return cs.seq;
}

/* Called after each event (logged or failed): dies when it was the cut. */
static void event_end(unsigned long seq, const char *what)
{
    if (cs.cut && cs.after && seq == cs.cut) {
        log_line("C\t%lu\tafter\t%S", seq, what);
        syscall(SYS_kill, (long)getpid(), (long)SIGKILL);
        _exit(137);
    }
}

static void event_failed(unsigned long seq, const char *what, int err)
{
    log_line("F\t%lu\t%S\t%lu", seq, what, (unsigned long)err);
}

/* A readable description of an event, e.g. "fdatasync(img.bin)". */
static const char *describe(char *buf, size_t cap, const char *op, const char *a, const char *b)
{
    if (b) snprintf(buf, cap, "%s(%s -> %s)", op, a, b);
    else snprintf(buf, cap, "%s(%s)", op, a);
    for (char *p = buf; *p; p++)
        if (*p == '\t' || *p == '\n') *p = ' ';
    return buf;
}

/* ---- open and create ---------------------------------------------------- */

static int do_open(int (*fn)(int, const char *, int, mode_t), int dirfd, const char *path,
                   int flags, mode_t mode)
{
    char rel[PATH_MAX];
    if (rel_path(dirfd, path, rel) < 0) return fn(dirfd, path, flags, mode);
#ifdef O_TMPFILE
    if ((flags & O_TMPFILE) == O_TMPFILE) {
        static const char msg[] = "crashsim: O_TMPFILE under the root is not modelled\n";
        raw_write_all(2, msg, sizeof msg - 1);
        return fn(dirfd, path, flags, mode);
    }
#endif
    struct stat st;
    int exists = fstatat(dirfd, path, &st, 0) == 0;
    int creates = !exists && (flags & O_CREAT);
    int truncates = exists && (flags & O_TRUNC) && S_ISREG(st.st_mode) && (flags & O_ACCMODE) != O_RDONLY;
    char what[PATH_MAX + 32];
    unsigned long seq = 0;
    if (creates || truncates) {
        describe(what, sizeof what, creates ? "create" : "open-truncate", rel, NULL);
        seq = event_begin(what);
    }
    int fd = fn(dirfd, path, flags, mode);
    int err = errno;
    if (fd < 0) {
        if (seq) event_failed(seq, what, err);
    } else {
        track(fd, rel);
        cs_fd *e = tracked(fd);
        if (e && creates) {
            log_line("E\t%lu\tcreate\t%llu\t%s\t%lu", seq, (unsigned long long)e->ino, rel,
                     (unsigned long)(mode & 07777));
        } else if (e) {
            log_line("B\t%llu\t%s\t%lu", (unsigned long long)e->ino, rel, (unsigned long)e->dir);
            if (truncates) log_line("E\t%lu\ttrunc\t%llu\t0", seq, (unsigned long long)e->ino);
        }
    }
    if (seq) event_end(seq, what);
    errno = err;
    return fd;
}

static int call_openat(int dirfd, const char *path, int flags, mode_t mode)
{
    LOAD_REAL(openat);
    return REAL(openat)(dirfd, path, flags, mode);
}

static int needs_mode(int flags)
{
#ifdef O_TMPFILE
    if ((flags & O_TMPFILE) == O_TMPFILE) return 1;
#endif
    return (flags & O_CREAT) != 0;
}

#define MODE_ARG(flags, mode)                                                              \
    do {                                                                                   \
        if (needs_mode(flags)) {                                                           \
            va_list ap;                                                                    \
            va_start(ap, flags);                                                           \
            mode = (mode_t)va_arg(ap, int);                                                \
            va_end(ap);                                                                    \
        }                                                                                  \
    } while (0)

int open(const char *path, int flags, ...)
{
    mode_t mode = 0;
    MODE_ARG(flags, mode);
    return do_open(call_openat, AT_FDCWD, path, flags, mode);
}

int open64(const char *path, int flags, ...)
{
    mode_t mode = 0;
    MODE_ARG(flags, mode);
    return do_open(call_openat, AT_FDCWD, path, flags | O_LARGEFILE, mode);
}

int openat(int dirfd, const char *path, int flags, ...)
{
    mode_t mode = 0;
    MODE_ARG(flags, mode);
    return do_open(call_openat, dirfd, path, flags, mode);
}

int openat64(int dirfd, const char *path, int flags, ...)
{
    mode_t mode = 0;
    MODE_ARG(flags, mode);
    return do_open(call_openat, dirfd, path, flags | O_LARGEFILE, mode);
}

/* _FORTIFY_SOURCE's checked variants: no mode (O_CREAT is refused by them). */
int __open_2(const char *path, int flags);
int __open64_2(const char *path, int flags);
int __openat_2(int dirfd, const char *path, int flags);
int __openat64_2(int dirfd, const char *path, int flags);
int __open_2(const char *path, int flags) { return do_open(call_openat, AT_FDCWD, path, flags, 0); }
int __open64_2(const char *path, int flags)
{
    return do_open(call_openat, AT_FDCWD, path, flags | O_LARGEFILE, 0);
}
int __openat_2(int dirfd, const char *path, int flags)
{
    return do_open(call_openat, dirfd, path, flags, 0);
}
int __openat64_2(int dirfd, const char *path, int flags)
{
    return do_open(call_openat, dirfd, path, flags | O_LARGEFILE, 0);
}

int creat(const char *path, mode_t mode)
{
    return do_open(call_openat, AT_FDCWD, path, O_WRONLY | O_CREAT | O_TRUNC, mode);
}

int creat64(const char *path, mode_t mode)
{
    return do_open(call_openat, AT_FDCWD, path, O_WRONLY | O_CREAT | O_TRUNC | O_LARGEFILE, mode);
}

/* mkstemp and its kin open through glibc internals that no shim sees: wrap them
 * whole. Whether the template is under the root is decided by its directory. */
static int do_mkstemp(char *tmpl, int (*call)(char *, int, int), int suffix, int flags)
{
    char rel[PATH_MAX];
    if (rel_path(AT_FDCWD, tmpl, rel) < 0) return call(tmpl, suffix, flags);
    char what[PATH_MAX + 32];
    describe(what, sizeof what, "mkstemp", rel, NULL);
    unsigned long seq = event_begin(what);
    int fd = call(tmpl, suffix, flags);
    int err = errno;
    if (fd < 0) {
        event_failed(seq, what, err);
    } else if (rel_path(AT_FDCWD, tmpl, rel) == 0) {
        track(fd, rel);
        cs_fd *e = tracked(fd);
        if (e) {
            log_line("E\t%lu\tcreate\t%llu\t%s\t%lu", seq, (unsigned long long)e->ino, rel, 0600UL);
            describe(what, sizeof what, "mkstemp", rel, NULL);
        }
    }
    event_end(seq, what);
    errno = err;
    return fd;
}

static int call_mkostemps(char *t, int suffix, int flags)
{
    LOAD_REAL(mkostemps);
    return REAL(mkostemps)(t, suffix, flags);
}

int mkstemp(char *t) { return do_mkstemp(t, call_mkostemps, 0, 0); }
int mkstemp64(char *t) { return do_mkstemp(t, call_mkostemps, 0, O_LARGEFILE); }
int mkostemp(char *t, int flags) { return do_mkstemp(t, call_mkostemps, 0, flags); }
int mkostemp64(char *t, int flags) { return do_mkstemp(t, call_mkostemps, 0, flags | O_LARGEFILE); }
int mkstemps(char *t, int suffix) { return do_mkstemp(t, call_mkostemps, suffix, 0); }
int mkstemps64(char *t, int suffix) { return do_mkstemp(t, call_mkostemps, suffix, O_LARGEFILE); }
int mkostemps(char *t, int suffix, int flags) { return do_mkstemp(t, call_mkostemps, suffix, flags); }
int mkostemps64(char *t, int suffix, int flags)
{
    return do_mkstemp(t, call_mkostemps, suffix, flags | O_LARGEFILE);
}

int close(int fd)
{
    LOAD_REAL(close);
    if (fd >= 0 && fd < CS_MAX_FD) cs.fds[fd].used = 0;
    return REAL(close)(fd);
}

/* ---- data --------------------------------------------------------------- */

static ssize_t do_write(int fd, const void *buf, size_t len, off_t off, int positional)
{
    cs_fd *e = tracked(fd);
    if (!e) {
        if (positional) {
            LOAD_REAL(pwrite);
            return REAL(pwrite)(fd, buf, len, off);
        }
        LOAD_REAL(write);
        return REAL(write)(fd, buf, len);
    }
    if (!positional) {
        off = lseek(fd, 0, SEEK_CUR);
        int fl = fcntl(fd, F_GETFL);
        struct stat st;
        if (fl >= 0 && (fl & O_APPEND) && fstat(fd, &st) == 0) off = st.st_size;
    }
    char what[PATH_MAX + 64];
    char range[48];
    snprintf(range, sizeof range, "%zu@%lld", len, (long long)off);
    snprintf(what, sizeof what, "%s(%s, %s)", positional ? "pwrite" : "write", e->name, range);
    unsigned long seq = event_begin(what);
    ssize_t n;
    if (cs.eio_name[0] && strcmp(e->name, cs.eio_name) == 0 && ++cs.eio_writes > cs.eio_after &&
        (!cs.eio_count || cs.eio_writes <= cs.eio_after + cs.eio_count)) {
        event_failed(seq, what, EIO);
        event_end(seq, what);
        errno = EIO;
        return -1;
    }
    if (positional) {
        LOAD_REAL(pwrite);
        n = REAL(pwrite)(fd, buf, len, off);
    } else {
        LOAD_REAL(write);
        n = REAL(write)(fd, buf, len);
    }
    int err = errno;
    if (n < 0) {
        event_failed(seq, what, err);
    } else if (n > 0) {
        raw_write_all(cs.data_fd, buf, (size_t)n);
        log_line("E\t%lu\twrite\t%llu\t%llu\t%llu\t%llu", seq, (unsigned long long)e->ino,
                 (unsigned long long)off, (unsigned long long)n, (unsigned long long)cs.data_off);
        cs.data_off += (uint64_t)n;
    }
    event_end(seq, what);
    errno = err;
    return n;
}

ssize_t write(int fd, const void *buf, size_t len) { return do_write(fd, buf, len, 0, 0); }
ssize_t pwrite(int fd, const void *buf, size_t len, off_t off) { return do_write(fd, buf, len, off, 1); }
ssize_t pwrite64(int fd, const void *buf, size_t len, off_t off)
{
    return do_write(fd, buf, len, off, 1);
}

static int do_sync(int fd, int data_only)
{
    cs_fd *e = tracked(fd);
    int r;
    if (!e) {
        LOAD_REAL(fsync);
        LOAD_REAL(fdatasync);
        return data_only ? REAL(fdatasync)(fd) : REAL(fsync)(fd);
    }
    const char *op = data_only ? "fdatasync" : "fsync";
    char name[PATH_MAX + 2];
    snprintf(name, sizeof name, "%s%s", e->name, e->dir ? "/" : "");
    char what[PATH_MAX + 32];
    describe(what, sizeof what, op, name, NULL);
    unsigned long seq = event_begin(what);
    LOAD_REAL(fsync);
    LOAD_REAL(fdatasync);
    r = data_only ? REAL(fdatasync)(fd) : REAL(fsync)(fd);
    int err = errno;
    if (r < 0) event_failed(seq, what, err);
    else log_line("E\t%lu\t%S\t%llu\t%s", seq, op, (unsigned long long)e->ino, e->name);
    event_end(seq, what);
    errno = err;
    return r;
}

int fsync(int fd) { return do_sync(fd, 0); }
int fdatasync(int fd) { return do_sync(fd, 1); }

static int do_ftruncate(int fd, off_t size)
{
    cs_fd *e = tracked(fd);
    LOAD_REAL(ftruncate);
    if (!e) return REAL(ftruncate)(fd, size);
    char what[PATH_MAX + 48];
    snprintf(what, sizeof what, "ftruncate(%s, %lld)", e->name, (long long)size);
    unsigned long seq = event_begin(what);
    int r = REAL(ftruncate)(fd, size);
    int err = errno;
    if (r < 0) event_failed(seq, what, err);
    else log_line("E\t%lu\ttrunc\t%llu\t%llu", seq, (unsigned long long)e->ino, (unsigned long long)size);
    event_end(seq, what);
    errno = err;
    return r;
}

int ftruncate(int fd, off_t size) { return do_ftruncate(fd, size); }
int ftruncate64(int fd, off_t size) { return do_ftruncate(fd, size); }

static int do_truncate(const char *path, off_t size)
{
    char rel[PATH_MAX];
    LOAD_REAL(truncate);
    if (rel_path(AT_FDCWD, path, rel) < 0) return REAL(truncate)(path, size);
    char what[PATH_MAX + 48];
    snprintf(what, sizeof what, "truncate(%s, %lld)", rel, (long long)size);
    unsigned long seq = event_begin(what);
    ino_t ino = ino_of(AT_FDCWD, path);
    int r = REAL(truncate)(path, size);
    int err = errno;
    if (r < 0) {
        event_failed(seq, what, err);
    } else {
        log_line("B\t%llu\t%s\t0", (unsigned long long)ino, rel);
        log_line("E\t%lu\ttrunc\t%llu\t%llu", seq, (unsigned long long)ino, (unsigned long long)size);
    }
    event_end(seq, what);
    errno = err;
    return r;
}

int truncate(const char *path, off_t size) { return do_truncate(path, size); }
int truncate64(const char *path, off_t size) { return do_truncate(path, size); }

/* ---- names -------------------------------------------------------------- */

static int do_rename(int olddir, const char *from, int newdir, const char *to, unsigned flags,
                     int which)
{
    char rf[PATH_MAX], rt[PATH_MAX];
    int in_from = rel_path(olddir, from, rf) == 0, in_to = rel_path(newdir, to, rt) == 0;
    LOAD_REAL(rename);
    LOAD_REAL(renameat);
    LOAD_REAL(renameat2);
#define CALL_RENAME()                                                                      \
    (which == 0 ? REAL(rename)(from, to)                                                   \
     : which == 1 ? REAL(renameat)(olddir, from, newdir, to)                               \
                  : REAL(renameat2)(olddir, from, newdir, to, flags))
    struct stat st;
    if ((!in_from && !in_to) || fstatat(olddir, from, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return CALL_RENAME(); /* outside, or fails: no event */
    if (!in_from || !in_to) {
        static const char msg[] = "crashsim: a rename across the root's edge is not modelled\n";
        raw_write_all(2, msg, sizeof msg - 1);
    }
    char what[2 * PATH_MAX + 32];
    describe(what, sizeof what, "rename", rf, rt);
    unsigned long seq = event_begin(what);
    int r = CALL_RENAME();
    int err = errno;
    if (r < 0) event_failed(seq, what, err);
    else log_line("E\t%lu\trename\t%s\t%s", seq, rf, rt);
    event_end(seq, what);
    errno = err;
    return r;
#undef CALL_RENAME
}

int rename(const char *from, const char *to) { return do_rename(AT_FDCWD, from, AT_FDCWD, to, 0, 0); }
int renameat(int od, const char *from, int nd, const char *to) { return do_rename(od, from, nd, to, 0, 1); }
int renameat2(int od, const char *from, int nd, const char *to, unsigned flags)
{
    return do_rename(od, from, nd, to, flags, 2);
}

static int do_remove(int dirfd, const char *path, int is_dir, int which)
{
    char rel[PATH_MAX];
    LOAD_REAL(unlink);
    LOAD_REAL(unlinkat);
    LOAD_REAL(rmdir);
#define CALL_REMOVE()                                                                      \
    (which == 0 ? REAL(unlink)(path)                                                       \
     : which == 1 ? REAL(unlinkat)(dirfd, path, is_dir ? AT_REMOVEDIR : 0)                 \
                  : REAL(rmdir)(path))
    struct stat st;
    if (rel_path(dirfd, path, rel) < 0 || fstatat(dirfd, path, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return CALL_REMOVE(); /* outside, or nothing to remove: no event */
    const char *op = is_dir ? "rmdir" : "unlink";
    char what[PATH_MAX + 32];
    describe(what, sizeof what, op, rel, NULL);
    unsigned long seq = event_begin(what);
    int r = CALL_REMOVE();
    int err = errno;
    if (r < 0) event_failed(seq, what, err);
    else log_line("E\t%lu\t%S\t%s", seq, op, rel);
    event_end(seq, what);
    errno = err;
    return r;
#undef CALL_REMOVE
}

int unlink(const char *path) { return do_remove(AT_FDCWD, path, 0, 0); }
int unlinkat(int dirfd, const char *path, int flags)
{
    return do_remove(dirfd, path, (flags & AT_REMOVEDIR) != 0, 1);
}
int rmdir(const char *path) { return do_remove(AT_FDCWD, path, 1, 2); }

static int do_mkdir(int dirfd, const char *path, mode_t mode, int which)
{
    char rel[PATH_MAX];
    LOAD_REAL(mkdir);
    LOAD_REAL(mkdirat);
#define CALL_MKDIR() (which == 0 ? REAL(mkdir)(path, mode) : REAL(mkdirat)(dirfd, path, mode))
    struct stat st;
    if (rel_path(dirfd, path, rel) < 0 || fstatat(dirfd, path, &st, AT_SYMLINK_NOFOLLOW) == 0)
        return CALL_MKDIR(); /* outside, or exists already: no event */
    char what[PATH_MAX + 32];
    describe(what, sizeof what, "mkdir", rel, NULL);
    unsigned long seq = event_begin(what);
    int r = CALL_MKDIR();
    int err = errno;
    if (r < 0) {
        event_failed(seq, what, err);
    } else {
        log_line("E\t%lu\tmkdir\t%llu\t%s", seq, (unsigned long long)ino_of(dirfd, path), rel);
    }
    event_end(seq, what);
    errno = err;
    return r;
#undef CALL_MKDIR
}

int mkdir(const char *path, mode_t mode) { return do_mkdir(AT_FDCWD, path, mode, 0); }
int mkdirat(int dirfd, const char *path, mode_t mode) { return do_mkdir(dirfd, path, mode, 1); }
