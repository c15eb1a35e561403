/* fotamodem: a bench model of a cellular module's DFOTA side. It answers AT
 * commands on a pseudo-terminal (or stdin/stdout) as one of the vendor's
 * module families (--profile), downloads the package with libcurl, and
 * applies it in place on the flash image(s) through libdelta's update
 * session, reporting the module's +QIND: "FOTA" URCs. Faults can be injected
 * (--inject, --scenario) and every line can be recorded (--transcript). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "cli.h"
#include "libdelta/manifest.h"

enum {
    OPT_PROJECT = 1, OPT_VERSION_SEED, OPT_IMAGE, OPT_PUBKEY, OPT_STATE_DIR, OPT_STDIO, OPT_PTY,
    OPT_MAX_SIZE, OPT_REBOOT_PAUSE, OPT_DOWNLOAD_DIR, OPT_TIMEOUT, OPT_CACERT, OPT_FLASH_DELAY,
    OPT_PROFILE, OPT_UFS, OPT_INJECT, OPT_SCENARIO, OPT_TRANSCRIPT, OPT_LINK, OPT_HOLD_URCS
};

static const cli_option options[] = {
    {OPT_PROFILE, 0, "profile", "FAMILY",
     "the module family: EC2X (default), EG9X, BC20 or RG50XQ (limits, URCs, codes)"},
    {OPT_PROJECT, 0, "project", "ID", "the device's project ID (ATI; 505 when a package differs)"},
    /* --firmware seeds the device's firmware version; --version stays the
     * tools' common "print my version" (house convention). */
    {OPT_VERSION_SEED, 0, "firmware", "VERSION",
     "the firmware version when IMAGE.version does not exist yet (then kept there)"},
    {OPT_IMAGE, 0, "image", "[NAME=]FILE",
     "the flash image the module updates in place (RG50XQ: NAME=FILE per partition, repeated)"},
    {OPT_PUBKEY, 0, "pubkey", "PEM", "require packages signed by this public key (504)"},
    {OPT_STATE_DIR, 0, "state-dir", "DIR", "journal and scratch of an update (default IMAGE.fota)"},
    {OPT_UFS, 0, "ufs", "DIR",
     "the module's file system: /data/ufs/ (/cache/ufs/ on RG50XQ) (default IMAGE.ufs)"},
    {OPT_STDIO, 0, "stdio", NULL, "speak on stdin and stdout (the default)"},
    {OPT_PTY, 0, "pty", NULL,
     "open a pseudo-terminal, print its path on stdout and speak on it; each reboot hangs it up and "
     "opens a new one (its path printed too)"},
    {OPT_LINK, 0, "link", "PATH", "keep a symbolic link PATH to the current pseudo-terminal"},
    {OPT_HOLD_URCS, 0, "hold-urcs", NULL,
     "keep the lines sent while no host has the pty open (default: they are lost, as on a USB port)"},
    {OPT_MAX_SIZE, 0, "max-size", "BYTES", "the largest package the module accepts (550)"},
    {OPT_REBOOT_PAUSE, 0, "reboot-pause", "SECONDS",
     "each simulated reboot: after the download, after a failed try (default 1)"},
    {OPT_DOWNLOAD_DIR, 0, "download-dir", "DIR", "where the package is downloaded (default: IMAGE.download)"},
    {OPT_TIMEOUT, 0, "timeout", "SECONDS",
     "connect timeout, and the longest stall of a download (default 60)"},
    {OPT_CACERT, 0, "cacert", "PEM", "trust these CA certificates for https:// (default: the system's)"},
    {OPT_FLASH_DELAY, 0, "flash-delay", "MS", "pause MS milliseconds per percent updated (a slow flash)"},
    {OPT_INJECT, 0, "inject", "SPEC",
     "inject a fault, repeatable: write-fail:N[@W], silent-boot[:N], hang:SECONDS[@PERCENT], "
     "disk-full[:BYTES], busy[:N] (README: Bench module)"},
    {OPT_SCENARIO, 0, "scenario", "FILE", "inject the faults listed in FILE, one per line, with 'seed N'"},
    {OPT_TRANSCRIPT, 0, "transcript", "FILE",
     "append each line that crosses the port to FILE, timestamped, when it is delivered"},
    CLI_COMMON_OPTIONS
};

static const char exit_help[] =
    "  0      stdin ended (--stdio) and no update was running\n"
    "  1      the image, the state or the pseudo-terminal cannot be used\n"
    "  64     usage error\n"
    "With --pty it runs until it is killed; a kill during an update is a power cut:\n"
    "started again with the same options, it resumes the update on its own.\n";

/* ---- the module families (the vendor's notes, /work/shared/seeds) ---------------- */

enum { T_FTP = 1, T_HTTP = 2, T_HTTPS = 4, T_LOCAL = 8 };

/*
 * One row per family: everything in which the families differ. A code field
 * of 0 keeps the DFOTA code; any other value replaces it.
 */
typedef struct fota_profile {
    const char *name;           /* --profile */
    const char *note;           /* the vendor note it follows */
    unsigned transports;        /* what AT+QFOTADL takes */
    unsigned https_unsupported; /* https:// answers +CME ERROR: 4 (BC20: "not supported currently") */
    size_t url_max;             /* bytes of a URL */
    size_t ftp_field_max;       /* user, password, host, path of an ftp:// URL; 0: not limited */
    const char *ufs, *ufs_alias;/* local paths start with this (alias: as the note's text spells it) */
    size_t local_max;           /* bytes of a local path */
    int downloading;            /* DOWNLOADING,<n>% while downloading, UPDATING,<n>% (BC20) */
    int reboot_after_download;  /* reboots into recovery before START */
    int recheck;                /* a failed package check reboots and checks again (five tries in total) */
    int multi_image;            /* partitions: --image NAME=FILE, repeated */
    int busy_cme;               /* a busy module answers +CME ERROR: <busy_cme>; 0: ERROR */
    int ftp_fail, http_fail;    /* FTPEND / HTTPEND code of a failed download */
    int c504, c505, c510, c511, c550, cwrite; /* END codes */
    const char *cesq;           /* AT+CESQ of a registered module */
    int act;                    /* AT+COPS? access technology */
} fota_profile;

static const fota_profile profiles[] = {
    {"EC2X", "000 EC2x/EG9x/EM05", T_FTP | T_HTTP | T_HTTPS | T_LOCAL, 0, 255, 50, "/data/ufs/", NULL, 90,
     0, 1, 1, 0, 0, 601, 701, 0, 0, 0, 0, 511, 0, "+CESQ: 99,99,255,255,20,55", 7},
    {"EG9X", "001 EG9x", T_FTP | T_HTTP | T_HTTPS | T_LOCAL, 0, 255, 50, "/data/ufs/", NULL, 128,
     0, 1, 1, 0, 0, 601, 701, 505, 0, 0, 0, 511, 0, "+CESQ: 99,99,255,255,20,55", 7},
    {"BC20", "002 BC20 NB-IoT", T_HTTP | T_HTTPS, 1, 255, 0, NULL, NULL, 0,
     1, 0, 0, 0, 2, 601, 12, 255, 254, 254, 1, 255, 1, "+CESQ: 47,6,255,255,0,54", 9},
    {"RG50XQ", "003 RG50xQ/RM5xxQ 5G", T_FTP | T_HTTP | T_HTTPS | T_LOCAL, 0, 512, 0, "/cache/ufs/",
     "cache/ufs/", 512, 0, 1, 1, 1, 0, 601, 701, 0, 0, 0, 0, 0, 0, "+CESQ: 99,99,255,255,20,55", 13},
};

static const fota_profile *find_profile(const char *name)
{
    for (size_t i = 0; i < sizeof profiles / sizeof profiles[0]; i++)
        if (strcasecmp(profiles[i].name, name) == 0) return &profiles[i];
    return NULL;
}

/* The END code this family reports for a status. */
static int profile_code(const fota_profile *p, delta_status st)
{
    int c = delta_dfota_code(st);
    int pick = 0;
    if (c < 0) c = 502;
    if (c == 504) pick = p->c504;
    else if (c == 505) pick = p->c505;
    else if (c == 510) pick = p->c510;
    else if (c == 511) pick = p->c511;
    else if (c == 550) pick = p->c550;
    else if (c != 0) pick = p->cwrite;
    return pick ? pick : c;
}

/* ---- injected faults ---------------------------------------------------------- */

typedef struct inject {
    unsigned write_fail;        /* image writes fail in the first N tries */
    unsigned write_fail_at;     /* ... at this image write of each (0: seeded, else 3) */
    unsigned silent_boots;      /* boots after the download that send no URC */
    double hang_seconds;        /* stop answering this long ... */
    int hang_percent;           /* ... at this UPDATING percent of the first try (0: seeded, else 50) */
    int disk_full;              /* storing the package fails with ENOSPC ... */
    uint64_t disk_full_at;      /* ... after this many bytes */
    unsigned busy;              /* the next N AT+QFOTADL answer the busy error */
    uint64_t seed;
    int seeded;
} inject;

static uint64_t seeded_next(uint64_t *s)
{
    uint64_t x = *s ? *s : 0x9e3779b97f4a7c15u;   /* xorshift64 */
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *s = x;
    return x;
}

/* Parses "N" within lo..hi; 0 or -1. */
static int parse_uint(const char *s, unsigned long long lo, unsigned long long hi, unsigned long long *out)
{
    char *end;
    if (!*s || *s == '-' || *s == '+') return -1;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

/* One SPEC of --inject or of a scenario line; 0 or -1. */
static int inject_add(inject *in, const char *spec)
{
    char name[32], arg[64] = "", at[32] = "";
    const char *colon = strchr(spec, ':');
    size_t n = colon ? (size_t)(colon - spec) : strlen(spec);
    if (n == 0 || n >= sizeof name) return -1;
    memcpy(name, spec, n);
    name[n] = '\0';
    if (colon) {
        const char *a = colon + 1, *amp = strchr(a, '@');
        size_t an = amp ? (size_t)(amp - a) : strlen(a);
        if (an == 0 || an >= sizeof arg || (amp && (!amp[1] || strlen(amp + 1) >= sizeof at))) return -1;
        memcpy(arg, a, an);
        arg[an] = '\0';
        if (amp) snprintf(at, sizeof at, "%s", amp + 1);
    }
    unsigned long long v = 0, w = 0;
    if (strcmp(name, "write-fail") == 0) {
        if (parse_uint(arg, 1, 1000, &v) || (at[0] && parse_uint(at, 1, 1u << 30, &w))) return -1;
        in->write_fail = (unsigned)v;
        in->write_fail_at = (unsigned)w;
    } else if (strcmp(name, "silent-boot") == 0) {
        if (at[0] || (arg[0] && parse_uint(arg, 1, 1000, &v))) return -1;
        in->silent_boots = arg[0] ? (unsigned)v : 1;
    } else if (strcmp(name, "hang") == 0) {
        char *end;
        errno = 0;
        double s = strtod(arg, &end);
        if (!arg[0] || errno || *end || !(s > 0 && s <= 3600) || (at[0] && parse_uint(at, 1, 100, &w)))
            return -1;
        in->hang_seconds = s;
        in->hang_percent = (int)w;
    } else if (strcmp(name, "disk-full") == 0) {
        uint64_t b = 0;
        if (at[0] || (arg[0] && cli_parse_size(arg, &b))) return -1;
        in->disk_full = 1;
        in->disk_full_at = b;
    } else if (strcmp(name, "busy") == 0) {
        if (at[0] || (arg[0] && parse_uint(arg, 1, 1000, &v))) return -1;
        in->busy = arg[0] ? (unsigned)v : 1;
    } else {
        return -1;
    }
    return 0;
}

/* A scenario file: "seed N" and inject SPECs, one per line, '#' comments; 0 or -1 (reported). */
static int scenario_load(const cli *c, inject *in, const char *path)
{
    delta_buf b = DELTA_BUF_INIT;
    if (delta_file_read_all(path, 1 << 20, &b)) {
        cli_usage_error(c, "--scenario: %s", delta_last_error());
        return -1;
    }
    int rc = 0, lineno = 0;
    char *text = strndup(b.data ? (const char *)b.data : "", b.len);
    delta_buf_free(&b);
    if (!text) return -1;
    for (char *save = NULL, *l = strtok_r(text, "\n", &save); l && !rc; l = strtok_r(NULL, "\n", &save)) {
        lineno++;
        char *hash = strchr(l, '#');
        if (hash) *hash = '\0';
        while (*l == ' ' || *l == '\t') l++;
        size_t n = strlen(l);
        while (n && (l[n - 1] == ' ' || l[n - 1] == '\t' || l[n - 1] == '\r')) l[--n] = '\0';
        if (!n) continue;
        unsigned long long v;
        if (strncmp(l, "seed ", 5) == 0 && parse_uint(l + 5, 0, UINT64_MAX, &v) == 0) {
            in->seed = v;
            in->seeded = 1;
        } else if (inject_add(in, l)) {
            cli_usage_error(c, "--scenario: %s: line %d: '%s' is not a fault", path, lineno, l);
            rc = -1;
        }
    }
    free(text);
    return rc;
}

/* Fills what the specs left to the seed (or to the defaults). */
static void inject_settle(inject *in)
{
    uint64_t s = in->seed;
    if (in->write_fail && !in->write_fail_at)
        in->write_fail_at = in->seeded ? 1 + (unsigned)(seeded_next(&s) % 8) : 3;
    if (in->hang_seconds > 0 && !in->hang_percent)
        in->hang_percent = in->seeded ? 1 + (int)(seeded_next(&s) % 99) : 50;
}

/* ---- the module ----------------------------------------------------------- */

/* A line (or raw bytes) waiting for the host. */
typedef struct outline {
    struct outline *next;
    size_t len, sent;
    int is_line;                /* a framed response or URC (recorded in the transcript) */
    char bytes[];               /* CR LF <line> CR LF, or raw bytes (an echo) */
} outline;

typedef struct upload {         /* AT+QFUPL in progress: raw bytes follow CONNECT */
    int active;
    int fd;
    char *tmp, *path;
    uint64_t need, got;
    uint16_t sum;
    double deadline;
    int failed;
} upload;

typedef struct modem {
    cli *c;
    const fota_profile *prof;
    const char *project, *pubkey, *cacert, *seed;
    const char *state_dir_opt, *download_dir_opt, *ufs_opt, *transcript_path, *link;
    cli_named_list images;
    char *state_dir, *download_dir, *package, *version_file, *ufs;
    uint64_t max_size;
    double reboot_pause;
    long timeout;
    unsigned flash_delay_ms;
    int pty, hold_urcs;
    inject inj;
    FILE *transcript;

    int in_fd, out_fd, master;
    int wake[2];                /* the job thread wakes the line loop */
    pthread_mutex_t lock;       /* guards what follows */
    outline *head, **tail;      /* what waits for the line */
    char version[128];
    int busy;                   /* a download or an update is running */
    unsigned busy_injected;     /* AT+QFOTADL still to answer busy (--inject busy) */
    char final[64];             /* the session's last URC, sent when the job is done */
    int port_req;               /* PORT_DOWN / PORT_UP asked of the line loop by a reboot */
    pthread_cond_t port_done;   /* the line loop did it (port_req back to 0) */

    /* The job thread's own (no lock needed). */
    unsigned tries;             /* session runs (tries) in this process */
    unsigned silent_left;       /* silent boots still to come */
    int hang_done;
    atomic_int mute;            /* this boot sends no URC (--inject silent-boot) */
    atomic_int hung;            /* the module answers nothing (--inject hang) */

    /* The line loop's own. */
    int echo, cmee;
    upload upl;
} modem;

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One transcript line: "2026-12-01T20:00:00.123Z > AT" (non-printable bytes as \xNN). */
static void transcript(modem *m, char dir, const char *text, size_t len)
{
    if (!m->transcript) return;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char stamp[32];
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
    fprintf(m->transcript, "%s.%03ldZ %c ", stamp, ts.tv_nsec / 1000000, dir);
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)text[i];
        if (ch < 0x20 || ch > 0x7e || ch == '\\') fprintf(m->transcript, "\\x%02x", ch);
        else fputc(ch, m->transcript);
    }
    fputc('\n', m->transcript);
    fflush(m->transcript);
}

/* Queues bytes for the host; the caller holds m->lock. */
static void queue_locked(modem *m, const char *data, size_t n, int is_line)
{
    size_t len = is_line ? n + 4 : n;
    outline *o = malloc(sizeof *o + len);
    if (!o) return;
    o->next = NULL;
    o->len = len;
    o->sent = 0;
    o->is_line = is_line;
    if (is_line) {
        memcpy(o->bytes, "\r\n", 2);
        memcpy(o->bytes + 2, data, n);
        memcpy(o->bytes + 2 + n, "\r\n", 2);
    } else {
        memcpy(o->bytes, data, n);
    }
    *m->tail = o;
    m->tail = &o->next;
}

static void wake_line(modem *m)
{
    ssize_t w;
    do w = write(m->wake[1], "", 1); while (w < 0 && errno == EINTR);
}

/* Queues one response line for the host: <CR><LF><line><CR><LF>. */
static void say(modem *m, const char *line)
{
    pthread_mutex_lock(&m->lock);
    queue_locked(m, line, strlen(line), 1);
    pthread_mutex_unlock(&m->lock);
    cli_info(m->c, "< %s", line);
    wake_line(m);
}

static void sayf(modem *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sayf(modem *m, const char *fmt, ...)
{
    char line[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    say(m, line);
}

/* A URC of the job thread (dropped while the boot is silent). */
static void urc(modem *m, const char *line)
{
    if (atomic_load(&m->mute)) {
        cli_info(m->c, "(silent) %s", line);
        return;
    }
    say(m, line);
}

static void urcf(modem *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void urcf(modem *m, const char *fmt, ...)
{
    char line[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    urc(m, line);
}

/*
 * The last URC of a session: sent by job_main together with the end of
 * "busy", so that a host that sends AT+QFOTADL at once after it is answered.
 */
static void urc_last(modem *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void urc_last(modem *m, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m->final, sizeof m->final, fmt, ap);
    va_end(ap);
    if (atomic_load(&m->mute)) {
        cli_info(m->c, "(silent) %s", m->final);
        m->final[0] = '\0';
    }
}

/* The library's START and UPDATING lines (cli_urc), in this family's spelling. */
static void emit_urc(void *ctx, const char *line)
{
    modem *m = ctx;
    if (m->prof->downloading && strstr(line, "\"UPDATING\",")) urcf(m, "%s%%", line);
    else urc(m, line);
}

static void pause_seconds(double s)
{
    if (s <= 0) return;
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {}
}

enum { PORT_DOWN = 1, PORT_UP = 2 };

/* Asks the line loop to hang up the pty or open a new one, and waits. */
static void port_request(modem *m, int req)
{
    pthread_mutex_lock(&m->lock);
    m->port_req = req;
    pthread_mutex_unlock(&m->lock);
    wake_line(m);
    pthread_mutex_lock(&m->lock);
    while (m->port_req) pthread_cond_wait(&m->port_done, &m->lock);
    pthread_mutex_unlock(&m->lock);
}

/*
 * The module reboots (into recovery, or after a failed try). On a pty the
 * port goes away as a USB port does: what is queued is sent, the host's side
 * is hung up (its reads give EOF/EIO), and half-way through the reboot a new
 * pty appears (its path on stdout, --link updated); the first URC comes at
 * the end of the pause.
 */
static void reboot(modem *m, const char *why, int hangup)
{
    cli_info(m->c, "rebooting (%s)", why);
    if (m->pty && hangup) {
        port_request(m, PORT_DOWN);
        pause_seconds(m->reboot_pause / 2);
        port_request(m, PORT_UP);
        pause_seconds(m->reboot_pause / 2);
    } else {
        pause_seconds(m->reboot_pause);
    }
    int silent = m->silent_left > 0;
    if (silent) m->silent_left--;
    atomic_store(&m->mute, silent);
    if (silent) cli_note(m->c, "injected: this boot sends no URC");
}

static int file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* ---- the firmware version (IMAGE.version) ---------------------------------- */

static int version_ok(const char *v)
{
    size_t n = strlen(v);
    if (n == 0 || n >= sizeof ((modem *)0)->version) return 0;
    for (; *v; v++)
        if ((unsigned char)*v < 0x21 || (unsigned char)*v > 0x7e) return 0;
    return 1;
}

/* Records the device's version, atomically; 0 or -1 (reported). */
static int set_version(modem *m, const char *v)
{
    char text[sizeof m->version + 1];
    int n = snprintf(text, sizeof text, "%s\n", v);
    if (cli_write_file_atomic(m->c, m->version_file, text, (size_t)n)) return -1;
    pthread_mutex_lock(&m->lock);
    snprintf(m->version, sizeof m->version, "%s", v);
    pthread_mutex_unlock(&m->lock);
    return 0;
}

static void get_version(modem *m, char *out, size_t n)
{
    pthread_mutex_lock(&m->lock);
    snprintf(out, n, "%s", m->version);
    pthread_mutex_unlock(&m->lock);
}

/* Reads IMAGE.version, or seeds it with --firmware; 0 or an exit status. */
static int load_version(modem *m)
{
    delta_buf b = DELTA_BUF_INIT;
    if (file_exists(m->version_file)) {
        if (delta_file_read_all(m->version_file, sizeof m->version, &b)) {
            cli_error(m->c, "%s: cannot read the version: %s", m->version_file, delta_last_error());
            delta_buf_free(&b);
            return CLI_EXIT_FAILURE;
        }
        size_t n = b.len;
        while (n && (b.data[n - 1] == '\n' || b.data[n - 1] == '\r')) n--;
        snprintf(m->version, sizeof m->version, "%.*s", (int)n, (const char *)b.data);
        delta_buf_free(&b);
        if (!version_ok(m->version)) {
            cli_error(m->c, "%s: not a version", m->version_file);
            return CLI_EXIT_FAILURE;
        }
        if (m->seed && strcmp(m->seed, m->version))
            cli_note(m->c, "%s says %s: --firmware %s is only for a new image", m->version_file,
                     m->version, m->seed);
        return 0;
    }
    if (!m->seed) return cli_usage_error(m->c, "no %s yet: give --firmware VERSION", m->version_file);
    if (!version_ok(m->seed)) return cli_usage_error(m->c, "--firmware: '%s' is not a version", m->seed);
    return set_version(m, m->seed) ? CLI_EXIT_FAILURE : 0;
}

/* ---- AT+QFOTADL arguments ------------------------------------------------------ */

enum { URL_MAX = 512 };
enum { SRC_LOCAL, SRC_FTP, SRC_HTTP, SRC_HTTPS };
enum { ARG_OK = 0, ARG_ERROR = -1, ARG_UNSUPPORTED = -2 };

typedef struct fota_source {
    int kind;
    char url[URL_MAX + 32];     /* for curl: scheme://host:port/path, no user info */
    char user[URL_MAX + 1], pass[URL_MAX + 1];
    int has_user;
    char path[URL_MAX + 1];     /* SRC_LOCAL: the file in --ufs */
} fota_source;

/* A UFS file name (what follows /data/ufs/): one component, no dot files. */
static int ufs_name_ok(const char *name)
{
    if (!name[0] || name[0] == '.' || strlen(name) > 255) return 0;
    for (const char *p = name; *p; p++)
        if (*p == '/' || (unsigned char)*p < 0x21 || (unsigned char)*p > 0x7e) return 0;
    return 1;
}

/* Parses the quoted argument of AT+QFOTADL= for this family: ARG_OK, ARG_ERROR, ARG_UNSUPPORTED. */
static int parse_source(const modem *m, const char *arg, fota_source *s)
{
    const fota_profile *pf = m->prof;
    memset(s, 0, sizeof *s);
    size_t n = strlen(arg);
    if (n < 3 || arg[0] != '"' || arg[n - 1] != '"') return ARG_ERROR;
    const char *u = arg + 1;
    size_t len = n - 2;
    if (len > URL_MAX || memchr(u, '"', len)) return ARG_ERROR;
    char buf[URL_MAX + 1];
    memcpy(buf, u, len);
    buf[len] = '\0';

    char *sep = strstr(buf, "://");
    if (!sep) {
        if (!(pf->transports & T_LOCAL) || len > pf->local_max) return ARG_ERROR;
        const char *name = NULL;
        if (strncmp(buf, pf->ufs, strlen(pf->ufs)) == 0) name = buf + strlen(pf->ufs);
        else if (pf->ufs_alias && strncmp(buf, pf->ufs_alias, strlen(pf->ufs_alias)) == 0)
            name = buf + strlen(pf->ufs_alias);
        if (!name || !ufs_name_ok(name)) return ARG_ERROR;
        s->kind = SRC_LOCAL;
        snprintf(s->path, sizeof s->path, "%s", name);
        return ARG_OK;
    }
    if (len > pf->url_max) return ARG_ERROR;
    *sep = '\0';
    const char *scheme = buf;
    int port = 0;
    if (strcasecmp(scheme, "ftp") == 0) s->kind = SRC_FTP, port = 21;
    else if (strcasecmp(scheme, "http") == 0) s->kind = SRC_HTTP, port = 80;
    else if (strcasecmp(scheme, "https") == 0) s->kind = SRC_HTTPS, port = 443;
    else return ARG_ERROR;
    unsigned need = s->kind == SRC_FTP ? T_FTP : s->kind == SRC_HTTP ? T_HTTP : T_HTTPS;
    if (!(pf->transports & need)) return ARG_ERROR;

    char *auth = sep + 3;
    char *slash = strchr(auth, '/');
    if (!slash || !slash[1]) return ARG_ERROR;      /* no path, or an empty one */
    *slash = '\0';
    const char *path = slash + 1;
    char *at = strrchr(auth, '@');
    char *hostport = auth;
    if (at) {
        *at = '\0';
        hostport = at + 1;
        char *colon = strchr(auth, ':');
        if (colon) *colon = '\0';
        snprintf(s->user, sizeof s->user, "%s", auth);
        snprintf(s->pass, sizeof s->pass, "%s", colon ? colon + 1 : "");
        s->has_user = 1;
    }
    char *host = hostport, *portstr = NULL;
    if (host[0] == '[') {                           /* [IPv6] */
        char *close = strchr(host, ']');
        if (!close) return ARG_ERROR;
        if (close[1] == ':') portstr = close + 2;
        else if (close[1]) return ARG_ERROR;
        close[1] = '\0';
    } else {
        char *colon = strchr(host, ':');
        if (colon) {
            *colon = '\0';
            portstr = colon + 1;
        }
    }
    if (!host[0] || strchr(host, ' ')) return ARG_ERROR;
    if (portstr) {
        unsigned long long v;
        if (strlen(portstr) > 5 || parse_uint(portstr, 1, 65535, &v)) return ARG_ERROR;
        port = (int)v;
    }
    size_t fm = pf->ftp_field_max;
    if (s->kind == SRC_FTP && fm &&
        (strlen(s->user) > fm || strlen(s->pass) > fm || strlen(host) > fm || strlen(path) > fm))
        return ARG_ERROR;
    if (s->kind == SRC_HTTPS && pf->https_unsupported) return ARG_UNSUPPORTED;
    snprintf(s->url, sizeof s->url, "%s://%s:%d/%s", s->kind == SRC_FTP ? "ftp" :
             s->kind == SRC_HTTP ? "http" : "https", host, port, path);
    return ARG_OK;
}

/* ---- storing the package (download or local file) ------------------------------- */

enum { DL_OK, DL_FAILED, DL_TOO_LARGE, DL_NOSPACE };

/* Writes all of buf to fd, honouring --inject disk-full; 0 or an errno. */
static int store_write(modem *m, int fd, uint64_t at, const void *buf, size_t n)
{
    const uint8_t *p = buf;
    if (m->inj.disk_full) {
        uint64_t room = at < m->inj.disk_full_at ? m->inj.disk_full_at - at : 0;
        if (n > room) {
            int e = room ? store_write(m, fd, at, buf, (size_t)room) : 0;
            return e ? e : ENOSPC;
        }
    }
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) return errno;
        if (w == 0) return EIO;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

typedef struct download {
    modem *m;
    int fd;
    uint64_t got;
    int too_large, error;       /* error: the errno of a failed write */
    int tenths;                 /* DOWNLOADING,<10 * tenths>% emitted so far */
} download;

static size_t on_data(char *data, size_t size, size_t nmemb, void *ctx)
{
    download *d = ctx;
    size_t n = size * nmemb;
    if (n > d->m->max_size - d->got) {          /* the size was not stated: stop here */
        d->too_large = 1;
        return 0;
    }
    int e = store_write(d->m, d->fd, d->got, data, n);
    if (e) {
        d->error = e;
        return 0;
    }
    d->got += n;
    return n;
}

static void downloading(download *d)
{
    d->tenths++;
    if (d->m->prof->downloading) urcf(d->m, "+QIND: \"FOTA\",\"DOWNLOADING\",%d%%", d->tenths * 10);
}

/* DOWNLOADING,10% .. 100%, each once, when the server stated the size (BC20). */
static int on_transfer(void *ctx, curl_off_t total, curl_off_t now, curl_off_t ut, curl_off_t un)
{
    download *d = ctx;
    (void)ut;
    (void)un;
    while (total > 0 && d->tenths < 10 && now * 10 >= total * (d->tenths + 1)) downloading(d);
    return 0;
}

/* Whether the file ends in a zip's end-of-central-directory record: a body
 * whose length the server did not state and that lacks it was cut. */
static int zip_complete(const char *path)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0) return 0;
    struct stat st;
    int ok = 0;
    if (fstat(fd, &st) == 0 && st.st_size >= 22) {
        size_t n = st.st_size < 22 + 65535 ? (size_t)st.st_size : 22 + 65535;
        uint8_t *b = malloc(n);
        if (b && pread(fd, b, n, st.st_size - (off_t)n) == (ssize_t)n) {
            for (size_t i = n - 22 + 1; i-- > 0 && !ok;)
                if (b[i] == 'P' && b[i + 1] == 'K' && b[i + 2] == 5 && b[i + 3] == 6 &&
                    i + 22 + (size_t)(b[i + 20] | b[i + 21] << 8) == n)
                    ok = 1;
        }
        free(b);
    }
    close(fd);
    return ok;
}

/* Makes path's temporary and opens it; the path, or NULL (reported). */
static char *store_open(modem *m, int *fd)
{
    char *tmp = cli_temp_beside(m->package, fd);
    if (!tmp) cli_error(m->c, "%s: cannot create a temporary file: %s", m->package, strerror(errno));
    return tmp;
}

/* Syncs, closes and renames the temporary over path; 0 or an errno. */
static int store_finish(modem *m, int fd, const char *tmp, const char *path, int error)
{
    if (!error && (fchmod(fd, 0600) < 0 || fsync(fd) < 0)) error = errno;
    if (close(fd) < 0 && !error) error = errno;
    if (!error && delta_file_replace(tmp, path) != DELTA_OK) {
        cli_error(m->c, "%s", delta_last_error());
        error = EIO;
    }
    if (error) unlink(tmp);
    return error;
}

/* Downloads s into m->package. */
static int fetch(modem *m, const fota_source *s)
{
    download d = {.m = m};
    char *tmp = store_open(m, &d.fd);
    if (!tmp) return DL_FAILED;
    char err[CURL_ERROR_SIZE] = "";
    CURL *h = curl_easy_init();
    CURLcode rc = CURLE_FAILED_INIT;
    curl_off_t stated = -1;
    if (h) {
        curl_easy_setopt(h, CURLOPT_URL, s->url);
        curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "ftp,http,https");
        if (s->has_user) {
            curl_easy_setopt(h, CURLOPT_USERNAME, s->user);
            curl_easy_setopt(h, CURLOPT_PASSWORD, s->pass);
        }
        if (m->cacert) curl_easy_setopt(h, CURLOPT_CAINFO, m->cacert);
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(h, CURLOPT_FAILONERROR, 1L);
        curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, m->timeout);
        curl_easy_setopt(h, CURLOPT_SERVER_RESPONSE_TIMEOUT, m->timeout);
        curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
        curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, m->timeout);
        if (m->max_size < (uint64_t)INT64_MAX)
            curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)m->max_size);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, &d);
        curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_transfer);
        curl_easy_setopt(h, CURLOPT_XFERINFODATA, &d);
        curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(h, CURLOPT_ERRORBUFFER, err);
        rc = curl_easy_perform(h);
        curl_easy_getinfo(h, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &stated);
        curl_easy_cleanup(h);
    }
    int result = DL_OK;
    int e = store_finish(m, d.fd, tmp, m->package, rc != CURLE_OK ? ECANCELED : d.error);
    if (rc == CURLE_OK && e) d.error = e;
    if (rc == CURLE_FILESIZE_EXCEEDED || (rc == CURLE_WRITE_ERROR && d.too_large)) {
        cli_error(m->c, "error 550: %s: the package is larger than --max-size (%llu bytes)", s->url,
                  (unsigned long long)m->max_size);
        result = DL_TOO_LARGE;
    } else if (d.error == ENOSPC) {
        cli_error(m->c, "error 511: %s: no space left to store the package (%llu bytes stored)", s->url,
                  (unsigned long long)d.got);
        result = DL_NOSPACE;
    } else if (rc != CURLE_OK || d.error) {
        cli_error(m->c, "%s: download failed: %s", s->url,
                  rc != CURLE_OK ? (err[0] ? err : curl_easy_strerror(rc)) : strerror(d.error));
        result = DL_FAILED;
    } else if (stated < 0 && !zip_complete(m->package)) {
        cli_error(m->c, "%s: download failed: no length stated and the body ends before the zip does "
                  "(%llu bytes): the transfer was cut", s->url, (unsigned long long)d.got);
        unlink(m->package);
        result = DL_FAILED;
    }
    if (result == DL_OK) {
        while (d.tenths > 0 && d.tenths < 10) downloading(&d);  /* the last callback may not have run */
    }
    free(tmp);
    return result;
}

/* A local file: the package in the module's file system (--ufs), copied into
 * place with a 64 KiB buffer; DL_OK, DL_TOO_LARGE, DL_NOSPACE or DL_FAILED
 * (cannot be read: 504). */
static int take_local(modem *m, const char *name)
{
    size_t n = strlen(m->ufs) + strlen(name) + 2;
    char *path = malloc(n);
    if (!path) return DL_FAILED;
    snprintf(path, n, "%s/%s", m->ufs, name);
    int result = DL_OK, in = open(path, O_RDONLY | O_NOFOLLOW), out = -1;
    struct stat st;
    char *tmp = NULL;
    uint8_t *buf = NULL;
    if (in < 0 || fstat(in, &st) < 0 || !S_ISREG(st.st_mode)) {
        cli_error(m->c, "error 504: %s: cannot read the package: %s", path,
                  in < 0 ? strerror(errno) : "not a file");
        result = DL_FAILED;
    } else if ((uint64_t)st.st_size > m->max_size) {
        cli_error(m->c, "error 550: %s: %llu bytes, larger than --max-size (%llu bytes)", path,
                  (unsigned long long)st.st_size, (unsigned long long)m->max_size);
        result = DL_TOO_LARGE;
    } else if (!(buf = malloc(64 * 1024)) || !(tmp = store_open(m, &out))) {
        result = DL_FAILED;
    } else {
        uint64_t at = 0;
        int e = 0;
        for (;;) {
            ssize_t r = read(in, buf, 64 * 1024);
            if (r < 0 && errno == EINTR) continue;
            if (r < 0) e = errno;
            if (r <= 0) break;
            if ((e = store_write(m, out, at, buf, (size_t)r)) != 0) break;
            at += (uint64_t)r;
        }
        e = store_finish(m, out, tmp, m->package, e);
        if (e == ENOSPC) {
            cli_error(m->c, "error 511: %s: no space left to store the package", path);
            result = DL_NOSPACE;
        } else if (e) {
            cli_error(m->c, "error 504: %s: cannot copy the package: %s", path, strerror(e));
            result = DL_FAILED;
        }
    }
    if (in >= 0) close(in);
    free(buf);
    free(tmp);
    free(path);
    return result;
}

/* ---- the update session ----------------------------------------------------- */

static void remove_package(modem *m)
{
    unlink(m->package);
    rmdir(m->download_dir);     /* when empty */
    rmdir(m->state_dir);
}

/* A flash region around the file's: --inject write-fail makes one write of a try fail. */
typedef struct fault_flash {
    delta_flash inner;
    unsigned *writes, fail_at;  /* fail the fail_at-th write of the try (0: never) */
} fault_flash;

/* The try's images behind fault_flash (delta_file_update's flash_hook). */
typedef struct faults {
    fault_flash f[DELTA_MANIFEST_MAX_IMAGES];
    unsigned writes, fail_at;
} faults;

static int ff_read(void *ctx, uint64_t off, void *buf, size_t len)
{
    fault_flash *f = ctx;
    return f->inner.read(f->inner.ctx, off, buf, len);
}

static int ff_write(void *ctx, uint64_t off, const void *buf, size_t len)
{
    fault_flash *f = ctx;
    if (f->fail_at && ++*f->writes == f->fail_at) {
        delta_error_set("write %u of this try failed on purpose (--inject write-fail)", f->fail_at);
        return DELTA_IO_ERROR;
    }
    return f->inner.write(f->inner.ctx, off, buf, len);
}

static int ff_sync(void *ctx)
{
    fault_flash *f = ctx;
    return f->inner.sync(f->inner.ctx);
}

static int ff_resize(void *ctx, uint64_t size)
{
    fault_flash *f = ctx;
    return f->inner.resize(f->inner.ctx, size);
}

static void wrap_flash(void *ctx, size_t image, delta_flash *flash)
{
    faults *fl = ctx;
    fault_flash *f = &fl->f[image];
    f->inner = *flash;
    f->writes = &fl->writes;
    f->fail_at = fl->fail_at;
    flash->ctx = f;
    flash->read = ff_read;
    flash->write = ff_write;
    flash->sync = ff_sync;
    flash->resize = f->inner.resize ? ff_resize : NULL;
}

typedef struct session {
    modem *m;
    cli_urc *rep;
} session;

/* UPDATING URCs; --inject hang stops the module at its percent of the first try. */
static int on_progress(void *ctx, uint64_t done, uint64_t total)
{
    session *s = ctx;
    modem *m = s->m;
    cli_urc_progress(s->rep, done, total);
    if (m->inj.hang_seconds > 0 && !m->hang_done && s->rep->percent >= m->inj.hang_percent) {
        m->hang_done = 1;
        cli_note(m->c, "injected: not answering for %g s", m->inj.hang_seconds);
        atomic_store(&m->hung, 1);
        pause_seconds(m->inj.hang_seconds);
        atomic_store(&m->hung, 0);
        wake_line(m);
    }
    return 0;
}

/*
 * One try: the library's update session on this module's images, state and
 * package (delta_file_update, each image behind a fault_flash).
 */
static delta_status run_update(modem *m, cli_urc *rep, delta_update_result *res)
{
    char version[sizeof m->version];
    get_version(m, version, sizeof version);
    memset(res, 0, sizeof *res);
    m->tries++;
    delta_check_options check = DELTA_CHECK_OPTIONS_INIT;
    check.project = m->project;
    check.firmware_version = version;
    check.max_package = m->max_size;
    delta_buf key = DELTA_BUF_INIT;
    delta_status st = m->pubkey ? cli_read_key(m->pubkey, &key, &check) : DELTA_OK;

    size_t n = m->images.count;
    delta_file_image images[DELTA_MANIFEST_MAX_IMAGES];
    for (size_t i = 0; i < n; i++)
        images[i] = (delta_file_image){m->images.items[i].name, m->images.items[i].value, UINT64_MAX};
    faults fl = {.fail_at = m->tries <= m->inj.write_fail ? m->inj.write_fail_at : 0};
    if (fl.fail_at) cli_note(m->c, "injected: image write %u of try %u fails", fl.fail_at, m->tries);
    session s = {m, rep};
    if (!st) {
        delta_file_update_params fp = DELTA_FILE_UPDATE_PARAMS_INIT;
        fp.package = m->package;
        fp.images = images;
        fp.image_count = n;
        fp.state_dir = m->state_dir;
        fp.check = check;
        fp.progress = on_progress;
        fp.progress_ctx = &s;
        fp.flash_hook = wrap_flash;
        fp.flash_hook_ctx = &fl;
        st = delta_file_update(&fp, res);
        /* A package that cannot be read, with no update in progress: the package is bad. */
        if (st == DELTA_ERR_INPUT && res->before == DELTA_UPDATE_NONE && access(m->package, R_OK) != 0)
            st = DELTA_ERR_ZIP;
    }
    delta_buf_free(&key);
    if (res->before != DELTA_UPDATE_NONE)
        cli_info(m->c, "resumed the update to %s (%u failed tries before)", res->target_version, res->tries);
    return st;
}

/* The END URC of a try: START first for success and write failures (cli_urc_end's rule). */
static void end_of_try(modem *m, cli_urc *rep, delta_status st, int last)
{
    if (st == DELTA_OK || delta_status_is_write_failure(st)) cli_urc_start(rep);
    if (st == DELTA_OK) cli_urc_percent(rep, 100);
    int code = profile_code(m->prof, st);
    if (last) urc_last(m, "+QIND: \"FOTA\",\"END\",%d", code);
    else urcf(m, "+QIND: \"FOTA\",\"END\",%d", code);
}

/*
 * In recovery: the library's session, try after try. A try that fails while
 * the update stays in progress (the journal: APPLYING) reboots and runs
 * again; the library counts those and the fifth writes the source back (545)
 * or gives up (546). A package that fails its checks before any write leaves
 * no journal: this module counts those itself, in RAM across its simulated
 * reboots (a power cut forgets them), and with `recheck` reboots and checks
 * again, five tries in total; then it boots normally on the untouched image.
 */
static void recovery(modem *m)
{
    unsigned checks = 0;
    for (;;) {
        cli_urc rep = {.emit = emit_urc, .ctx = m, .pause_ms = m->flash_delay_ms};
        delta_update_result res;
        delta_status st = run_update(m, &rep, &res);
        if (!st && set_version(m, res.target_version)) st = DELTA_ERR_STATE_WRITE;
        if (st) cli_fail(m->c, st, "update failed");
        int again = 0;
        if (st && res.after == DELTA_UPDATE_APPLYING) again = 1;
        else if (st && res.after == DELTA_UPDATE_NONE && !delta_status_is_write_failure(st) && m->prof->recheck &&
                 ++checks < 5)
            again = 1;
        end_of_try(m, &rep, st, !again);
        if (!again) {
            if (res.after == DELTA_UPDATE_NONE) remove_package(m);
            atomic_store(&m->mute, 0);
            return;
        }
        cli_note(m->c, "try failed (%d): rebooting to try again", delta_dfota_code(st));
        reboot(m, "after a failed try", 1);
    }
}

/* AT+QFOTADL: download (or take the local file), reboot, update. */
static void fota(modem *m, const fota_source *s)
{
    const fota_profile *pf = m->prof;
    const char *proto = s->kind == SRC_FTP ? "FTP" : "HTTP";
    int fail = s->kind == SRC_FTP ? pf->ftp_fail : pf->http_fail;
    m->tries = 0;
    m->hang_done = 0;
    m->silent_left = m->inj.silent_boots;
    if (mkdir(m->download_dir, 0700) < 0 && errno != EEXIST) {
        cli_error(m->c, "%s: cannot create: %s", m->download_dir, strerror(errno));
        if (s->kind == SRC_LOCAL) urc_last(m, "+QIND: \"FOTA\",\"END\",%d", profile_code(pf, DELTA_ERR_INTERNAL));
        else urc_last(m, "+QIND: \"FOTA\",\"%sEND\",%d", proto, fail);
        return;
    }
    int r;
    if (s->kind == SRC_LOCAL) {
        r = take_local(m, s->path);
    } else {
        urcf(m, "+QIND: \"FOTA\",\"%sSTART\"", proto);
        r = fetch(m, s);
        if (r == DL_FAILED) {
            urc_last(m, "+QIND: \"FOTA\",\"%sEND\",%d", proto, fail);
            remove_package(m);
            return;
        }
        urcf(m, "+QIND: \"FOTA\",\"%sEND\",0", proto);
    }
    if (r != DL_OK) {           /* refused while storing it: 504 (unreadable), 550, 511 */
        delta_status st = r == DL_TOO_LARGE ? DELTA_ERR_TOO_LARGE : r == DL_NOSPACE ? DELTA_ERR_SPACE
                                                                                    : DELTA_ERR_ZIP;
        urc_last(m, "+QIND: \"FOTA\",\"END\",%d", profile_code(pf, st));
        remove_package(m);
        return;
    }
    if (pf->reboot_after_download) reboot(m, "into recovery", 1);
    recovery(m);
}

/* At start: a package left in the download dir, or a journal, is an update
 * to finish (a power cut): after the boot the session resumes it, starts it
 * when the cut came before the first write, or finds it done. */
static void boot(modem *m)
{
    m->silent_left = 0;
    reboot(m, "power on", 0);     /* the port appeared when the process started */
    recovery(m);
}

/* ---- the job thread ------------------------------------------------------------ */

typedef struct job {
    modem *m;
    int boot;
    fota_source src;
} job;

static void *job_main(void *arg)
{
    job *j = arg;
    modem *m = j->m;
    m->final[0] = '\0';
    if (j->boot) boot(m);
    else fota(m, &j->src);
    free(j);
    pthread_mutex_lock(&m->lock);
    if (m->final[0]) queue_locked(m, m->final, strlen(m->final), 1);
    m->busy = 0;
    pthread_mutex_unlock(&m->lock);
    if (m->final[0]) cli_info(m->c, "< %s", m->final);
    wake_line(m);
    return NULL;
}

/* Starts a job unless one runs; 0 or -1. */
static int start_job(modem *m, const fota_source *s)
{
    pthread_mutex_lock(&m->lock);
    int busy = m->busy;
    if (!busy) m->busy = 1;
    pthread_mutex_unlock(&m->lock);
    if (busy) return -1;
    job *j = calloc(1, sizeof *j);
    pthread_t t;
    if (j) {
        j->m = m;
        j->boot = s == NULL;
        if (s) j->src = *s;
    }
    if (!j || pthread_create(&t, NULL, job_main, j) != 0) {
        free(j);
        pthread_mutex_lock(&m->lock);
        m->busy = 0;
        pthread_mutex_unlock(&m->lock);
        return -1;
    }
    pthread_detach(t);
    return 0;
}

/* ---- AT commands ---------------------------------------------------------------- */

enum { AT_OK, AT_ERROR, AT_DONE };     /* OK follows; ERROR follows; the command answered itself */

/* +CME ERROR: <code> (AT+CMEE=1), its text (=2) or ERROR (=0); AT_DONE. */
static int cme(modem *m, int code, const char *text)
{
    if (m->cmee == 0) say(m, "ERROR");
    else if (m->cmee == 2) sayf(m, "+CME ERROR: %s", text);
    else sayf(m, "+CME ERROR: %d", code);
    return AT_DONE;
}

static int busy_error(modem *m)
{
    if (m->prof->busy_cme) return cme(m, m->prof->busy_cme, "FOTA is busy");
    return AT_ERROR;
}

static int cmd_qfotadl(modem *m, const char *rest)
{
    if (strcmp(rest, "=?") == 0) return AT_OK;
    if (rest[0] != '=') return AT_ERROR;
    fota_source s;
    int a = parse_source(m, rest + 1, &s);
    if (a == ARG_UNSUPPORTED) return cme(m, 4, "operation not supported");
    if (a != ARG_OK) return AT_ERROR;
    pthread_mutex_lock(&m->lock);
    int busy = m->busy;
    pthread_mutex_unlock(&m->lock);
    if (busy) return busy_error(m);
    if (m->busy_injected) {
        m->busy_injected--;
        cli_note(m->c, "injected: busy");
        return busy_error(m);
    }
    say(m, "OK");               /* OK goes out before the job's first URC */
    if (start_job(m, &s)) cli_error(m->c, "cannot start the download");
    return AT_DONE;
}

/* AT+QFUPL="[UFS:]name",<size>[,<timeout>[,<ackmode>]]: CONNECT, then size raw bytes. */
static int cmd_qfupl(modem *m, const char *rest)
{
    if (!m->prof->ufs) return AT_ERROR;
    if (strcmp(rest, "=?") == 0) {
        say(m, "+QFUPL: <filename>[,<file_size>[,<timeout>[,<ackmode>]]]");
        return AT_OK;
    }
    if (rest[0] != '=' || rest[1] != '"') return AT_ERROR;
    const char *name = rest + 2, *close = strchr(name, '"');
    if (!close) return AT_ERROR;
    char fname[256];
    size_t n = (size_t)(close - name);
    if (n >= sizeof fname) return cme(m, 406, "invalid file name");
    memcpy(fname, name, n);
    fname[n] = '\0';
    const char *base = strncasecmp(fname, "UFS:", 4) == 0 ? fname + 4 : fname;
    unsigned long long size = 0, timeout = 5, ack = 0;
    const char *p = close + 1;
    char num[32];
    for (int field = 0; *p == ','; field++) {
        const char *e = strchr(p + 1, ',');
        size_t k = e ? (size_t)(e - p - 1) : strlen(p + 1);
        if (field > 2 || k == 0 || k >= sizeof num) return cme(m, 400, "invalid input value");
        memcpy(num, p + 1, k);
        num[k] = '\0';
        unsigned long long *dst = field == 0 ? &size : field == 1 ? &timeout : &ack;
        if (parse_uint(num, field == 0 ? 1 : 0, UINT64_MAX, dst)) return cme(m, 400, "invalid input value");
        p += 1 + k;
    }
    if (*p || size == 0 || ack != 0) return cme(m, 400, "invalid input value");
    if (!ufs_name_ok(base) || strlen(m->prof->ufs) + strlen(base) > m->prof->local_max)
        return cme(m, 406, "invalid file name");
    if (size > m->max_size) return cme(m, 423, "file too large");
    if (mkdir(m->ufs, 0700) < 0 && errno != EEXIST) return cme(m, 409, "fail to write the file");
    size_t pn = strlen(m->ufs) + strlen(base) + 2;
    char *path = malloc(pn);
    if (!path) return cme(m, 409, "fail to write the file");
    snprintf(path, pn, "%s/%s", m->ufs, base);
    if (file_exists(path)) {
        free(path);
        return cme(m, 407, "file already exists");
    }
    upload *u = &m->upl;
    memset(u, 0, sizeof *u);
    u->tmp = cli_temp_beside(path, &u->fd);
    if (!u->tmp) {
        free(path);
        return cme(m, 409, "fail to write the file");
    }
    u->active = 1;
    u->path = path;
    u->need = size;
    u->deadline = now_seconds() + (double)(timeout ? timeout : 5);
    say(m, "CONNECT");
    return AT_DONE;
}

/* Takes raw upload bytes; returns how many of buf it used. */
static size_t upload_take(modem *m, const char *buf, size_t n)
{
    upload *u = &m->upl;
    size_t k = n < u->need - u->got ? n : (size_t)(u->need - u->got);
    for (size_t i = 0; i < k; i++)       /* XOR of every 16-bit word (big-endian pairs) */
        u->sum ^= (uint16_t)((uint8_t)buf[i] << ((u->got + i) % 2 ? 0 : 8));
    if (!u->failed && store_write(m, u->fd, u->got, buf, k)) u->failed = 1;
    u->got += k;
    return k;
}

/* Ends an upload: complete, or cut by its timeout. */
static void upload_end(modem *m, int timed_out)
{
    upload *u = &m->upl;
    char what[48];
    snprintf(what, sizeof what, "<%llu bytes of data>", (unsigned long long)u->got);
    transcript(m, '>', what, strlen(what));
    int e = u->failed ? ENOSPC : 0;
    if (timed_out) {
        close(u->fd);
        unlink(u->tmp);
        cme(m, 421, "time out");
    } else if (store_finish(m, u->fd, u->tmp, u->path, e) != 0) {
        cme(m, 409, "fail to write the file");
    } else {
        sayf(m, "+QFUPL: %llu,%x", (unsigned long long)u->got, u->sum);
        say(m, "OK");
    }
    free(u->tmp);
    free(u->path);
    memset(u, 0, sizeof *u);
}

/* One command of a line (what follows AT, or a ';'-separated +CMD). */
static int one_command(modem *m, const char *cmd)
{
    if (!cmd[0]) return AT_OK;
    if (strcasecmp(cmd, "I") == 0) {
        char version[sizeof m->version];
        get_version(m, version, sizeof version);
        say(m, "fotamodem");
        say(m, m->project);
        sayf(m, "Revision: %s", version);
        return AT_OK;
    }
    if (strcasecmp(cmd, "E0") == 0 || strcasecmp(cmd, "E") == 0) return m->echo = 0, AT_OK;
    if (strcasecmp(cmd, "E1") == 0) return m->echo = 1, AT_OK;
    if (strncasecmp(cmd, "+CMEE", 5) == 0) {
        const char *r = cmd + 5;
        if (strcmp(r, "?") == 0) return sayf(m, "+CMEE: %d", m->cmee), AT_OK;
        if (strcmp(r, "=?") == 0) return say(m, "+CMEE: (0-2)"), AT_OK;
        if (r[0] == '=' && r[1] >= '0' && r[1] <= '2' && !r[2]) return m->cmee = r[1] - '0', AT_OK;
        return AT_ERROR;
    }
    if (strcasecmp(cmd, "+CESQ") == 0) return say(m, m->prof->cesq), AT_OK;
    if (strcasecmp(cmd, "+CEREG?") == 0) return say(m, "+CEREG: 0,1"), AT_OK;
    if (strcasecmp(cmd, "+CGPADDR=1") == 0 || strcasecmp(cmd, "+CGPADDR") == 0)
        return say(m, "+CGPADDR: 1,10.64.0.2"), AT_OK;
    if (strcasecmp(cmd, "+CPIN?") == 0) return say(m, "+CPIN: READY"), AT_OK;
    if (strcasecmp(cmd, "+COPS?") == 0) return sayf(m, "+COPS: 0,0,\"fotamodem\",%d", m->prof->act), AT_OK;
    if (strncasecmp(cmd, "+QFOTADL", 8) == 0) return cmd_qfotadl(m, cmd + 8);
    if (strncasecmp(cmd, "+QFUPL", 6) == 0) return cmd_qfupl(m, cmd + 6);
    return AT_ERROR;
}

/* A command line (without its CR): AT, then commands joined by ';'. */
static void command(modem *m, const char *line, size_t len)
{
    transcript(m, '>', line, len);
    if (m->echo) {
        pthread_mutex_lock(&m->lock);
        queue_locked(m, line, len, 0);
        queue_locked(m, "\r", 1, 0);
        pthread_mutex_unlock(&m->lock);
    }
    if (memchr(line, '\0', len) || len < 2 || strncasecmp(line, "AT", 2) != 0) {
        cli_info(m->c, "> (%zu bytes, not a command)", len);
        say(m, "ERROR");
        return;
    }
    cli_info(m->c, "> %s", line);
    char *copy = strndup(line + 2, len - 2);
    if (!copy) {
        say(m, "ERROR");
        return;
    }
    int r = AT_OK;
    char *p = copy;
    while (r == AT_OK) {
        char *q = p;
        int quoted = 0;
        for (; *q && (quoted || *q != ';'); q++)
            if (*q == '"') quoted = !quoted;
        int more = *q == ';';
        *q = '\0';
        r = one_command(m, p);
        if (!more) break;
        p = q + 1;
        if (*p != '+') r = r == AT_OK ? AT_ERROR : r;      /* ";" joins extended commands only */
    }
    free(copy);
    if (r == AT_OK) say(m, "OK");
    else if (r == AT_ERROR) say(m, "ERROR");
}

/* ---- the line --------------------------------------------------------------------- */

static int open_pty(modem *m);

/* An event in the transcript: "# what". */
static void transcript_note(modem *m, const char *what)
{
    transcript(m, '#', what, strlen(what));
}

enum { AT_LINE_MAX = 1024 };

/* Whether a host holds the pty's slave open (the master reports POLLHUP when none does). */
static int host_present(const modem *m)
{
    if (!m->pty) return 1;
    if (m->master < 0) return 0;
    struct pollfd p = {m->master, POLLIN, 0};
    return !(poll(&p, 1, 0) == 1 && (p.revents & POLLHUP));
}

/* Writes what is queued; 0, or -1 when the line went away (the rest stays queued). */
static int flush_out(modem *m)
{
    for (;;) {
        pthread_mutex_lock(&m->lock);
        outline *o = m->head;
        pthread_mutex_unlock(&m->lock);
        if (!o) return 0;
        ssize_t w = write(m->out_fd, o->bytes + o->sent, o->len - o->sent);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        o->sent += (size_t)w;
        if (o->sent < o->len) continue;
        if (o->is_line) transcript(m, '<', o->bytes + 2, o->len - 4);
        pthread_mutex_lock(&m->lock);
        m->head = o->next;
        if (!m->head) m->tail = &m->head;
        pthread_mutex_unlock(&m->lock);
        free(o);
    }
}

/* Waits (up to 2 s) until the host has read what was written: a hang-up
 * discards what waits in the slave's input. */
static void drain(modem *m)
{
    const char *name = ptsname(m->master);
    int fd = name ? open(name, O_RDWR | O_NOCTTY | O_NONBLOCK) : -1;
    if (fd < 0) return;
    /* Written bytes reach the slave's queue a moment later: empty three times running. */
    for (int i = 0, empty = 0; i < 200 && empty < 3 && host_present(m); i++) {
        int n = 0;
        if (ioctl(fd, FIONREAD, &n) < 0) break;
        empty = n ? 0 : empty + 1;
        pause_seconds(0.01);
    }
    close(fd);
}

/* No host has the pty open: what is queued is lost (a USB port that nobody opened). */
static void drop_out(modem *m)
{
    for (;;) {
        pthread_mutex_lock(&m->lock);
        outline *o = m->head;
        if (o) {
            m->head = o->next;
            if (!m->head) m->tail = &m->head;
        }
        pthread_mutex_unlock(&m->lock);
        if (!o) return;
        if (o->is_line) {
            cli_info(m->c, "lost (no host has the port open): %.*s", (int)(o->len - 4), o->bytes + 2);
            transcript(m, '!', o->bytes + 2, o->len - 4);
        }
        free(o);
    }
}

/*
 * Serves the line until stdin ends (--stdio) or forever (--pty). With --pty,
 * output waits while no host holds the line open, and for a moment after one
 * opens it (a host's open flushes its input), like a module's USB port.
 */
static int serve(modem *m)
{
    char line[AT_LINE_MAX + 1];
    size_t len = 0;
    int overflow = 0, eof = 0, present = 0;
    double present_since = 0;
    const double settle = 0.2;
    for (;;) {
        pthread_mutex_lock(&m->lock);
        int req = m->port_req;
        pthread_mutex_unlock(&m->lock);
        if (req) {
            if (req == PORT_DOWN && m->master >= 0) {
                if (host_present(m) && flush_out(m) == 0) drain(m);
                /* The link goes first: the pty's number is free once the master
                 * closes, and another process's new pty may take it. */
                if (m->link) unlink(m->link);
                close(m->master);
                m->master = m->in_fd = m->out_fd = -1;
                present = 0;
                len = 0;
                overflow = 0;
                if (m->upl.active) upload_end(m, 1);
                transcript_note(m, "the port is hung up (reboot)");
            } else if (req == PORT_UP && m->master < 0 && open_pty(m)) {
                return CLI_EXIT_FAILURE;
            }
            pthread_mutex_lock(&m->lock);
            m->port_req = 0;
            pthread_cond_broadcast(&m->port_done);
            pthread_mutex_unlock(&m->lock);
        }
        int hung = atomic_load(&m->hung);
        int now_present = host_present(m);
        if (now_present && !present) present_since = now_seconds();
        present = now_present;
        int settled = present && now_seconds() - present_since >= settle;
        if (settled && !hung && flush_out(m) < 0) present = 0;
        if (m->pty && !present && !m->hold_urcs) drop_out(m);
        if (m->upl.active && now_seconds() >= m->upl.deadline) upload_end(m, 1);

        pthread_mutex_lock(&m->lock);
        int idle = !m->busy && !m->head;
        pthread_mutex_unlock(&m->lock);
        if (eof && idle) return CLI_EXIT_OK;

        struct pollfd p[2] = {{m->wake[0], POLLIN, 0}, {m->in_fd, POLLIN, 0}};
        int nfds = present && !eof ? 2 : 1;
        int timeout = -1;
        if ((m->pty && !present) || hung) timeout = 50;
        if (m->master < 0 && m->pty) nfds = 1;
        else if (present && !settled) timeout = (int)((settle - (now_seconds() - present_since)) * 1000) + 1;
        if (m->upl.active && (timeout < 0 || timeout > 50)) timeout = 50;
        if (poll(p, (nfds_t)nfds, timeout) < 0 && errno != EINTR) {
            cli_error(m->c, "poll: %s", strerror(errno));
            return CLI_EXIT_FAILURE;
        }
        if (p[0].revents & POLLIN) {
            char drain[64];
            ssize_t r = read(m->wake[0], drain, sizeof drain);
            (void)r;
        }
        if (nfds < 2 || !(p[1].revents & (POLLIN | POLLHUP | POLLERR))) continue;
        char buf[512];
        ssize_t r = read(m->in_fd, buf, sizeof buf);
        if (r < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (r <= 0) {
            if (!m->pty) eof = 1;   /* a pty's host went away: wait for the next one */
            len = 0;
            overflow = 0;
            continue;
        }
        if (atomic_load(&m->hung)) continue;        /* a hung module hears nothing */
        size_t i = 0;
        while (i < (size_t)r) {
            if (m->upl.active) {
                i += upload_take(m, buf + i, (size_t)r - i);
                if (m->upl.got == m->upl.need) upload_end(m, 0);
                continue;
            }
            char ch = buf[i++];
            if (ch == '\r' || ch == '\n') {
                line[len] = '\0';
                if (overflow) say(m, "ERROR");
                else if (len) command(m, line, len);
                len = 0;
                overflow = 0;
            } else if (len < AT_LINE_MAX) {
                line[len++] = ch;
            } else {
                overflow = 1;
            }
        }
    }
}

/* Opens a pseudo-terminal in raw mode and prints its slave's path; 0 or -1. */
static int open_pty(modem *m)
{
    int fd = posix_openpt(O_RDWR | O_NOCTTY);
    if (fd < 0 || grantpt(fd) < 0 || unlockpt(fd) < 0) {
        cli_error(m->c, "cannot open a pseudo-terminal: %s", strerror(errno));
        if (fd >= 0) close(fd);
        return -1;
    }
    const char *name = ptsname(fd);
    struct termios t;
    if (!name || tcgetattr(fd, &t) < 0) {
        cli_error(m->c, "cannot set up the pseudo-terminal: %s", strerror(errno));
        close(fd);
        return -1;
    }
    cfmakeraw(&t);
    tcsetattr(fd, TCSANOW, &t);
    /* Opened and closed once, the slave reports POLLHUP on the master until a host opens it. */
    int slave = open(name, O_RDWR | O_NOCTTY);
    if (slave >= 0) close(slave);
    m->master = m->in_fd = m->out_fd = fd;
    if (m->link) {              /* a symbolic link beside it, renamed over --link */
        size_t n = strlen(m->link) + 8;
        char *tmp = malloc(n);
        int ok = tmp != NULL;
        if (ok) {
            snprintf(tmp, n, "%s.new", m->link);
            unlink(tmp);
            ok = symlink(name, tmp) == 0 && rename(tmp, m->link) == 0;
        }
        if (!ok) cli_error(m->c, "%s: cannot link to %s: %s", m->link, name, strerror(errno));
        free(tmp);
    }
    char what[64];
    snprintf(what, sizeof what, "the port is %s", name);
    transcript_note(m, what);
    printf("%s\n", name);
    fflush(stdout);
    return 0;
}

/* ---- options and main ------------------------------------------------------------ */

static int handle(void *ctx, int id, const char *value)
{
    modem *m = ctx;
    char *end;
    switch (id) {
    case OPT_PROFILE:
        if ((m->prof = find_profile(value)) != NULL) return 0;
        cli_usage_error(m->c, "--profile: '%s' is not EC2X, EG9X, BC20 or RG50XQ", value);
        return -1;
    case OPT_PROJECT: m->project = value; return 0;
    case OPT_VERSION_SEED: m->seed = value; return 0;
    case OPT_IMAGE:
        if (cli_named_add(&m->images, value) == 0) return 0;
        cli_usage_error(m->c, "--image: out of memory");
        return -1;
    case OPT_PUBKEY: m->pubkey = value; return 0;
    case OPT_STATE_DIR: m->state_dir_opt = value; return 0;
    case OPT_DOWNLOAD_DIR: m->download_dir_opt = value; return 0;
    case OPT_UFS: m->ufs_opt = value; return 0;
    case OPT_CACERT: m->cacert = value; return 0;
    case OPT_TRANSCRIPT: m->transcript_path = value; return 0;
    case OPT_LINK: m->link = value; return 0;
    case OPT_HOLD_URCS: m->hold_urcs = 1; return 0;
    case OPT_STDIO: m->pty = 0; return 0;
    case OPT_PTY: m->pty = 1; return 0;
    case OPT_INJECT:
        if (inject_add(&m->inj, value) == 0) return 0;
        cli_usage_error(m->c, "--inject: '%s' is not write-fail:N[@W], silent-boot[:N], hang:SECONDS[@PERCENT], "
                        "disk-full[:BYTES] or busy[:N]", value);
        return -1;
    case OPT_SCENARIO: return scenario_load(m->c, &m->inj, value);
    case OPT_MAX_SIZE:
        if (cli_parse_size(value, &m->max_size) == 0) return 0;
        cli_usage_error(m->c, "--max-size: '%s' is not a valid size", value);
        return -1;
    case OPT_REBOOT_PAUSE:
        errno = 0;
        m->reboot_pause = strtod(value, &end);
        if (!errno && end != value && !*end && m->reboot_pause >= 0 && m->reboot_pause <= 3600) return 0;
        cli_usage_error(m->c, "--reboot-pause: '%s' is not 0..3600 seconds", value);
        return -1;
    case OPT_TIMEOUT:
        errno = 0;
        m->timeout = strtol(value, &end, 10);
        if (!errno && end != value && !*end && m->timeout >= 1 && m->timeout <= 86400) return 0;
        cli_usage_error(m->c, "--timeout: '%s' is not 1..86400 seconds", value);
        return -1;
    case OPT_FLASH_DELAY: {
        errno = 0;
        long v = strtol(value, &end, 10);
        if (!errno && end != value && !*end && v >= 0 && v <= 60000) {
            m->flash_delay_ms = (unsigned)v;
            return 0;
        }
        cli_usage_error(m->c, "--flash-delay: '%s' is not 0..60000 milliseconds", value);
        return -1;
    }
    }
    return -1;
}

/* "<a><b>" in a new string, or NULL. */
static char *concat(const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 1;
    char *s = malloc(n);
    if (s) snprintf(s, n, "%s%s", a, b);
    return s;
}

/* The images fit the family: one bare image, or named partitions (multi_image); 0 or 64. */
static int check_images(modem *m)
{
    cli_named_list *l = &m->images;
    if (l->count == 0) return cli_usage_error(m->c, "--project and --image are required");
    if (!m->prof->multi_image && (l->count > 1 || l->items[0].name))
        return cli_usage_error(m->c, "%s is a single-image module: give one --image FILE (partitions are RG50XQ's)",
                               m->prof->name);
    if (l->count > DELTA_MANIFEST_MAX_IMAGES)
        return cli_usage_error(m->c, "at most %d images", DELTA_MANIFEST_MAX_IMAGES);
    for (size_t i = 0; i < l->count; i++) {
        if (l->count > 1 && !l->items[i].name)
            return cli_usage_error(m->c, "--image %s: name each partition (NAME=FILE)", l->items[i].value);
        for (size_t k = 0; k < i; k++)
            if (l->items[i].name && strcmp(l->items[i].name, l->items[k].name) == 0)
                return cli_usage_error(m->c, "--image %s: named twice", l->items[i].name);
    }
    return 0;
}

int main(int argc, char **argv)
{
    cli c = {.tool = "fotamodem",
             .usage = "--project ID --firmware VERSION --image FILE [--pty] [OPTION]...",
             .description =
                 "A bench model of a cellular module's DFOTA side, as one of the vendor's\n"
                 "families (--profile). It speaks AT on stdin/stdout or a pseudo-terminal (AT,\n"
                 "ATI, ATE0, AT+CMEE, AT+CESQ, AT+CEREG?, AT+CGPADDR=1, AT+CPIN?, AT+COPS?,\n"
                 "AT+QFUPL, AT+QFOTADL=?, AT+QFOTADL=\"<url or path>\"), downloads the package\n"
                 "(ftp://, http://, https:// with libcurl, or a file in --ufs), reboots, checks it\n"
                 "and applies it in place through libdelta's update session, reporting the\n"
                 "+QIND: \"FOTA\" URCs of its family. A package that fails its checks is checked\n"
                 "again after each reboot, five tries in total with failed writes; then the\n"
                 "module boots on the untouched or restored image. Killed while updating, it\n"
                 "resumes when started again (START, UPDATING, END).",
             .exit_help = exit_help,
             .options = options};
    modem m = {.c = &c, .prof = &profiles[0], .max_size = UINT64_MAX, .reboot_pause = 1, .timeout = 60,
               .in_fd = 0, .out_fd = 1, .master = -1, .wake = {-1, -1}, .cmee = 1};
    m.tail = &m.head;
    pthread_mutex_init(&m.lock, NULL);
    pthread_cond_init(&m.port_done, NULL);
    int rc = cli_parse(&c, argc, argv, handle, &m);
    if (rc >= 0) goto done;
    rc = CLI_EXIT_USAGE;
    if (c.npos) {
        cli_usage_error(&c, "unexpected argument '%s'", c.pos[0]);
        goto done;
    }
    if (!m.project) {
        cli_usage_error(&c, "--project and --image are required");
        goto done;
    }
    if ((rc = check_images(&m)) != 0) goto done;
    inject_settle(&m.inj);
    m.busy_injected = m.inj.busy;
    rc = CLI_EXIT_FAILURE;
    const char *image = m.images.items[0].value;
    m.state_dir = m.state_dir_opt ? strdup(m.state_dir_opt) : concat(image, ".fota");
    m.download_dir = m.download_dir_opt ? strdup(m.download_dir_opt) : concat(image, ".download");
    m.package = m.download_dir ? concat(m.download_dir, "/update.zip") : NULL;
    m.version_file = concat(image, ".version");
    m.ufs = m.ufs_opt ? strdup(m.ufs_opt) : concat(image, ".ufs");
    if (!m.state_dir || !m.download_dir || !m.package || !m.version_file || !m.ufs) {
        cli_error(&c, "out of memory");
        goto done;
    }
    struct stat seen[DELTA_MANIFEST_MAX_IMAGES];
    for (size_t i = 0; i < m.images.count; i++) {
        if (stat(m.images.items[i].value, &seen[i]) < 0) {
            cli_error(&c, "%s: %s", m.images.items[i].value, strerror(errno));
            goto done;
        }
        for (size_t k = 0; k < i; k++)
            if (seen[k].st_dev == seen[i].st_dev && seen[k].st_ino == seen[i].st_ino) {
                rc = cli_usage_error(&c, "--image %s and %s are the same file: each partition needs its own",
                                     m.images.items[k].value, m.images.items[i].value);
                goto done;
            }
    }
    rc = load_version(&m);
    if (rc) goto done;
    rc = CLI_EXIT_FAILURE;
    if (m.transcript_path && !(m.transcript = fopen(m.transcript_path, "a"))) {
        cli_error(&c, "%s: cannot create the transcript: %s", m.transcript_path, strerror(errno));
        goto done;
    }
    signal(SIGPIPE, SIG_IGN);
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        cli_error(&c, "cannot initialise libcurl");
        goto done;
    }
    if (pipe(m.wake) < 0) {
        cli_error(&c, "pipe: %s", strerror(errno));
        goto done;
    }
    fcntl(m.wake[0], F_SETFL, O_NONBLOCK);
    if (m.pty && open_pty(&m)) goto done;
    if (file_exists(m.package) || delta_dir_store_has_journal(m.state_dir)) {
        cli_note(&c, "%s: an update to finish", file_exists(m.package) ? m.package : m.state_dir);
        start_job(&m, NULL);
    }
    rc = serve(&m);
done:
    if (m.transcript) fclose(m.transcript);
    free(m.state_dir);
    free(m.download_dir);
    free(m.package);
    free(m.version_file);
    free(m.ufs);
    for (outline *o = m.head, *next; o; o = next) {
        next = o->next;
        free(o);
    }
    cli_named_free(&m.images);
    free(c.pos);
    return rc;
}
