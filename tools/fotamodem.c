/* fotamodem: a bench model of a cellular module's DFOTA side. It answers AT,
 * ATI and AT+QFOTADL on a pseudo-terminal (or stdin/stdout), downloads the
 * package with libcurl, checks it and applies it in place on a flash image
 * with libdelta, reporting the module's +QIND: "FOTA" URCs. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "cli.h"

enum {
    OPT_PROJECT = 1, OPT_VERSION_SEED, OPT_IMAGE, OPT_PUBKEY, OPT_STATE_DIR, OPT_STDIO, OPT_PTY,
    OPT_MAX_SIZE, OPT_REBOOT_PAUSE, OPT_DOWNLOAD_DIR, OPT_TIMEOUT, OPT_CACERT, OPT_FLASH_DELAY
};

static const cli_option options[] = {
    {OPT_PROJECT, 0, "project", "ID", "the device's project ID (ATI; 505 when a package differs)"},
    /* --firmware seeds the device's firmware version; --version stays the
     * tools' common "print my version" (house convention). */
    {OPT_VERSION_SEED, 0, "firmware", "VERSION",
     "the firmware version when IMAGE.version does not exist yet (then kept there)"},
    {OPT_IMAGE, 0, "image", "FILE", "the flash image the module updates in place"},
    {OPT_PUBKEY, 0, "pubkey", "PEM", "require packages signed by this public key (504)"},
    {OPT_STATE_DIR, 0, "state-dir", "DIR", "journal and scratch of an update (default IMAGE.fota)"},
    {OPT_STDIO, 0, "stdio", NULL, "speak on stdin and stdout (the default)"},
    {OPT_PTY, 0, "pty", NULL, "open a pseudo-terminal, print its path on stdout and speak on it"},
    {OPT_MAX_SIZE, 0, "max-size", "BYTES", "the largest package the module accepts (550)"},
    {OPT_REBOOT_PAUSE, 0, "reboot-pause", "SECONDS",
     "the simulated reboot between the download and START (default 1)"},
    {OPT_DOWNLOAD_DIR, 0, "download-dir", "DIR", "where the package is downloaded (default: IMAGE.download)"},
    {OPT_TIMEOUT, 0, "timeout", "SECONDS",
     "connect timeout, and the longest stall of a download (default 60)"},
    {OPT_CACERT, 0, "cacert", "PEM", "trust these CA certificates for https:// (default: the system's)"},
    {OPT_FLASH_DELAY, 0, "flash-delay", "MS", "pause MS milliseconds per percent updated (a slow flash)"},
    CLI_COMMON_OPTIONS
};

static const char exit_help[] =
    "  0      stdin ended (--stdio) and no update was running\n"
    "  1      the image, the state or the pseudo-terminal cannot be used\n"
    "  64     usage error\n"
    "With --pty it runs until it is killed; a kill during an update is a power cut:\n"
    "started again with the same options, it resumes the update on its own.\n";

/* ---- the module ----------------------------------------------------------- */

typedef struct modem {
    cli *c;
    const char *project, *image, *pubkey, *cacert, *seed;
    const char *state_dir_opt, *download_dir_opt;
    char *state_dir, *download_dir, *package, *version_file;
    uint64_t max_size;
    double reboot_pause;
    long timeout;
    unsigned flash_delay_ms;
    int pty;

    int in_fd, out_fd, master;
    int wake[2];                /* the job thread wakes the line loop */
    pthread_mutex_t lock;       /* guards what follows */
    char *outq;                 /* bytes waiting for the line */
    size_t outq_len, outq_cap;
    char version[128];
    int busy;                   /* a download or an update is running */
    char final[64];             /* the job thread's last URC, held until the job is done */
} modem;

/* Queues one line (CR LF appended) for the host; the caller holds m->lock. */
static void queue_locked(modem *m, const char *line)
{
    size_t n = strlen(line);
    if (m->outq_len + n + 2 > m->outq_cap) {
        size_t cap = (m->outq_cap ? m->outq_cap * 2 : 1024) + n + 2;
        char *q = realloc(m->outq, cap);
        if (!q) return;
        m->outq = q;
        m->outq_cap = cap;
    }
    memcpy(m->outq + m->outq_len, line, n);
    memcpy(m->outq + m->outq_len + n, "\r\n", 2);
    m->outq_len += n + 2;
}

static void wake_line(modem *m)
{
    ssize_t w;
    do w = write(m->wake[1], "", 1); while (w < 0 && errno == EINTR);
}

/* Queues one line for the host. */
static void say(modem *m, const char *line)
{
    pthread_mutex_lock(&m->lock);
    queue_locked(m, line);
    pthread_mutex_unlock(&m->lock);
    cli_info(m->c, "< %s", line);
    wake_line(m);
}

static void sayf(modem *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sayf(modem *m, const char *fmt, ...)
{
    char line[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    say(m, line);
}

/* A line that may end a session: END,<err>, or a download's failure. */
static int is_final(const char *line)
{
    return strstr(line, "\"END\",") || strstr(line, "END\",601") || strstr(line, "END\",701");
}

/*
 * A URC of the job thread. A line that may end the session is held until
 * the next URC, or until the job has cleaned up and is no longer busy
 * (job_main): a host that sends AT+QFOTADL at once after END is answered.
 */
static void urc(modem *m, const char *line)
{
    if (m->final[0]) {
        say(m, m->final);
        m->final[0] = '\0';
    }
    if (is_final(line)) snprintf(m->final, sizeof m->final, "%s", line);
    else say(m, line);
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

static void emit_urc(void *ctx, const char *line) { urc(ctx, line); }

static void pause_seconds(double s)
{
    if (s <= 0) return;
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {}
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

enum { URL_MAX = 512, FTP_FIELD_MAX = 50 };
enum { SRC_LOCAL, SRC_FTP, SRC_HTTP, SRC_HTTPS };

typedef struct fota_source {
    int kind;
    char url[URL_MAX + 32];     /* for curl: scheme://host:port/path, no user info */
    char user[URL_MAX + 1], pass[URL_MAX + 1];
    int has_user;
    char path[URL_MAX + 1];     /* SRC_LOCAL */
} fota_source;

/* Parses the quoted argument of AT+QFOTADL=; 0 or -1 (ERROR). */
static int parse_source(const char *arg, fota_source *s)
{
    memset(s, 0, sizeof *s);
    size_t n = strlen(arg);
    if (n < 3 || arg[0] != '"' || arg[n - 1] != '"') return -1;
    const char *u = arg + 1;
    size_t len = n - 2;
    if (len > URL_MAX || memchr(u, '"', len)) return -1;
    char buf[URL_MAX + 1];
    memcpy(buf, u, len);
    buf[len] = '\0';

    char *sep = strstr(buf, "://");
    if (!sep) {
        s->kind = SRC_LOCAL;
        memcpy(s->path, buf, len + 1);
        return 0;
    }
    *sep = '\0';
    const char *scheme = buf;
    int port = 0;
    if (strcasecmp(scheme, "ftp") == 0) s->kind = SRC_FTP, port = 21;
    else if (strcasecmp(scheme, "http") == 0) s->kind = SRC_HTTP, port = 80;
    else if (strcasecmp(scheme, "https") == 0) s->kind = SRC_HTTPS, port = 443;
    else return -1;

    char *auth = sep + 3;
    char *slash = strchr(auth, '/');
    if (!slash || !slash[1]) return -1;             /* no path, or an empty one */
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
        if (!close) return -1;
        if (close[1] == ':') portstr = close + 2;
        else if (close[1]) return -1;
        close[1] = '\0';
    } else {
        char *colon = strchr(host, ':');
        if (colon) {
            *colon = '\0';
            portstr = colon + 1;
        }
    }
    if (!host[0] || strchr(host, ' ')) return -1;
    if (portstr) {
        if (!*portstr || strlen(portstr) > 5) return -1;
        port = 0;
        for (const char *p = portstr; *p; p++) {
            if (*p < '0' || *p > '9') return -1;
            port = port * 10 + (*p - '0');
        }
        if (port < 1 || port > 65535) return -1;
    }
    if (s->kind == SRC_FTP &&
        (strlen(s->user) > FTP_FIELD_MAX || strlen(s->pass) > FTP_FIELD_MAX ||
         strlen(host) > FTP_FIELD_MAX || strlen(path) > FTP_FIELD_MAX))
        return -1;
    snprintf(s->url, sizeof s->url, "%s://%s:%d/%s", s->kind == SRC_FTP ? "ftp" :
             s->kind == SRC_HTTP ? "http" : "https", host, port, path);
    return 0;
}

/* ---- download ----------------------------------------------------------------- */

enum { DL_OK, DL_FAILED, DL_TOO_LARGE };

typedef struct download {
    modem *m;
    FILE *f;
    uint64_t got;
    int too_large, write_failed;
    int tenths;                 /* DOWNLOADING,<10 * tenths> emitted so far */
} download;

static size_t on_data(char *data, size_t size, size_t nmemb, void *ctx)
{
    download *d = ctx;
    size_t n = size * nmemb;
    if (n > d->m->max_size - d->got) {          /* the size was not stated: stop here */
        d->too_large = 1;
        return 0;
    }
    if (fwrite(data, 1, n, d->f) != n) {
        d->write_failed = 1;
        return 0;
    }
    d->got += n;
    return n;
}

/* DOWNLOADING,10 .. 100, each once, when the server stated the size. */
static int on_transfer(void *ctx, curl_off_t total, curl_off_t now, curl_off_t ut, curl_off_t un)
{
    download *d = ctx;
    while (total > 0 && d->tenths < 10 && now * 10 >= total * (d->tenths + 1)) {
        d->tenths++;
        urcf(d->m, "+QIND: \"FOTA\",\"DOWNLOADING\",%d", d->tenths * 10);
    }
    return 0;
}

/* Downloads s into m->package (through a .part file). */
static int fetch(modem *m, const fota_source *s)
{
    size_t n = strlen(m->package) + 6;
    char *part = malloc(n);
    if (!part) return DL_FAILED;
    snprintf(part, n, "%s.part", m->package);
    download d = {.m = m};
    d.f = fopen(part, "wb");
    if (!d.f) {
        cli_error(m->c, "%s: cannot create: %s", part, strerror(errno));
        free(part);
        return DL_FAILED;
    }
    char err[CURL_ERROR_SIZE] = "";
    CURL *h = curl_easy_init();
    CURLcode rc = CURLE_FAILED_INIT;
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
        curl_easy_cleanup(h);
    }
    int closed = fflush(d.f) != 0 || fsync(fileno(d.f)) != 0;
    closed |= fclose(d.f);
    int result = DL_OK;
    if (rc == CURLE_FILESIZE_EXCEEDED || (rc == CURLE_WRITE_ERROR && d.too_large)) {
        cli_error(m->c, "error 550: %s: the package is larger than --max-size (%llu bytes)", s->url,
                  (unsigned long long)m->max_size);
        result = DL_TOO_LARGE;
    } else if (rc != CURLE_OK || closed != 0) {
        cli_error(m->c, "%s: download failed: %s", s->url,
                  rc != CURLE_OK ? (err[0] ? err : curl_easy_strerror(rc)) : "cannot write the file");
        result = DL_FAILED;
    } else if (delta_file_replace(part, m->package) != DELTA_OK) {
        cli_error(m->c, "%s", delta_last_error());
        result = DL_FAILED;
    }
    if (result == DL_OK) {
        while (d.tenths > 0 && d.tenths < 10) {     /* the last callback may not have run */
            d.tenths++;
            urcf(m, "+QIND: \"FOTA\",\"DOWNLOADING\",%d", d.tenths * 10);
        }
    } else {
        unlink(part);
    }
    free(part);
    return result;
}

/* A local file: copied into place, like a file put in the module's file system. */
static delta_status take_local(modem *m, const char *path)
{
    struct stat st;
    if (stat(path, &st) < 0 || !S_ISREG(st.st_mode)) {
        cli_error(m->c, "error 504: %s: cannot read the package: %s", path,
                  errno ? strerror(errno) : "not a file");
        return DELTA_ERR_ZIP;
    }
    if ((uint64_t)st.st_size > m->max_size) {
        cli_error(m->c, "error 550: %s: %llu bytes, larger than --max-size (%llu bytes)", path,
                  (unsigned long long)st.st_size, (unsigned long long)m->max_size);
        return DELTA_ERR_TOO_LARGE;
    }
    delta_buf b = DELTA_BUF_INIT;
    delta_status s = delta_file_read_all(path, (uint64_t)st.st_size, &b);
    if (s) {
        cli_error(m->c, "error 504: %s: cannot read the package: %s", path, delta_last_error());
        return DELTA_ERR_ZIP;
    }
    int w = cli_write_file_atomic(m->c, m->package, b.data, b.len);
    delta_buf_free(&b);
    return w ? DELTA_ERR_INPUT : DELTA_OK;
}

/* ---- checks and the update ----------------------------------------------------- */

static void remove_package(modem *m)
{
    unlink(m->package);
    rmdir(m->download_dir);     /* when empty */
    rmdir(m->state_dir);
}

/* The update session on this module's image, state and package. */
static delta_status run_update(modem *m, int check_only, cli_urc *rep, delta_update_result *res)
{
    char version[sizeof m->version];
    get_version(m, version, sizeof version);
    delta_file_image image = {NULL, m->image, UINT64_MAX};
    delta_file_update_params up = DELTA_FILE_UPDATE_PARAMS_INIT;
    up.package = m->package;
    up.images = &image;
    up.image_count = 1;
    up.state_dir = m->state_dir;
    up.check_only = check_only;
    up.check.project = m->project;
    up.check.version = version;
    up.check.max_package = m->max_size;
    delta_buf key = DELTA_BUF_INIT;
    delta_status st = m->pubkey ? cli_read_key(m->pubkey, &key, &up.check) : DELTA_OK;
    if (!st) st = cli_update(m->c, &up, rep, res);
    else memset(res, 0, sizeof *res);
    delta_buf_free(&key);
    return st;
}

/* Every check of a fresh update after the download, before the reboot. */
static delta_status check_downloaded(modem *m)
{
    cli_urc quiet = {0};
    delta_update_result res;
    delta_status st = run_update(m, 1, &quiet, &res);
    if (st) cli_fail(m->c, st, "cannot check the package");
    return st;
}

/* After the reboot: the update session, which resumes a journal, starts a
 * fresh update, or finds the image already updated. A failure while the
 * update stays in progress reboots and runs again; the library counts the
 * tries, and the fifth writes the source back (545) or gives up (546). */
static void update(modem *m)
{
    for (int run = 1;; run++) {
        cli_urc rep = {.emit = emit_urc, .ctx = m, .pause_ms = m->flash_delay_ms};
        delta_update_result res;
        delta_status st = run_update(m, 0, &rep, &res);
        if (!st && set_version(m, res.target_version)) st = DELTA_ERR_STATE_WRITE;
        if (st) cli_fail(m->c, st, "update failed");
        cli_urc_end(&rep, st);
        if (st == DELTA_OK || res.after != DELTA_UPDATE_APPLYING) {
            if (res.after == DELTA_UPDATE_NONE) remove_package(m);
            return;
        }
        cli_note(m->c, "try %d failed (%d): rebooting to try again", run, delta_dfota_code(st));
        pause_seconds(m->reboot_pause);
    }
}

/* AT+QFOTADL: download (or take the local file), check, reboot, update. */
static void fota(modem *m, const fota_source *s)
{
    if (mkdir(m->download_dir, 0700) < 0 && errno != EEXIST) {
        cli_error(m->c, "%s: cannot create: %s", m->download_dir, strerror(errno));
        s->kind == SRC_LOCAL ? urc(m, "+QIND: \"FOTA\",\"END\",502")
                             : urcf(m, "+QIND: \"FOTA\",\"%s\",%d", s->kind == SRC_FTP ? "FTPEND"
                                    : "HTTPEND", s->kind == SRC_FTP ? 601 : 701);
        return;
    }
    delta_status st = DELTA_OK;
    if (s->kind == SRC_LOCAL) {
        st = take_local(m, s->path);
    } else {
        const char *proto = s->kind == SRC_FTP ? "FTP" : "HTTP";
        urcf(m, "+QIND: \"FOTA\",\"%sSTART\"", proto);
        int r = fetch(m, s);
        urcf(m, "+QIND: \"FOTA\",\"%sEND\",%d", proto,
             r == DL_FAILED ? (s->kind == SRC_FTP ? 601 : 701) : 0);
        if (r == DL_FAILED) {
            remove_package(m);
            return;
        }
        if (r == DL_TOO_LARGE) st = DELTA_ERR_TOO_LARGE;
    }
    if (!st) st = check_downloaded(m);
    if (st) {
        remove_package(m);
        cli_urc rep = {.emit = emit_urc, .ctx = m};
        cli_urc_end(&rep, st);
        return;
    }
    pause_seconds(m->reboot_pause);
    update(m);
}

/* At start: a package left in the download dir, or a journal, is an update
 * to finish (a power cut): after the boot the session resumes it, starts it
 * when the cut came before the first write, or finds it done. */
static void boot(modem *m)
{
    pause_seconds(m->reboot_pause);
    update(m);
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
    if (j->boot) boot(m);
    else fota(m, &j->src);
    free(j);
    pthread_mutex_lock(&m->lock);
    if (m->final[0]) queue_locked(m, m->final);
    m->busy = 0;
    pthread_mutex_unlock(&m->lock);
    if (m->final[0]) cli_info(m->c, "< %s", m->final);
    m->final[0] = '\0';
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

static void command(modem *m, const char *line)
{
    cli_info(m->c, "> %s", line);
    if (strcasecmp(line, "AT") == 0) {
        say(m, "OK");
    } else if (strcasecmp(line, "ATI") == 0) {
        char version[sizeof m->version];
        get_version(m, version, sizeof version);
        say(m, "fotamodem");
        say(m, m->project);
        sayf(m, "Revision: %s", version);
        say(m, "OK");
    } else if (strncasecmp(line, "AT+QFOTADL", 10) == 0) {
        const char *rest = line + 10;
        fota_source s;
        if (strcmp(rest, "=?") == 0) {
            say(m, "OK");
        } else if (rest[0] == '=' && parse_source(rest + 1, &s) == 0) {
            /* OK goes out before the job's first URC. */
            pthread_mutex_lock(&m->lock);
            int busy = m->busy;
            pthread_mutex_unlock(&m->lock);
            if (busy) {
                say(m, "ERROR");
            } else {
                say(m, "OK");
                if (start_job(m, &s)) cli_error(m->c, "cannot start the download");
            }
        } else {
            say(m, "ERROR");
        }
    } else {
        say(m, "ERROR");
    }
}

/* ---- the line --------------------------------------------------------------------- */

enum { AT_LINE_MAX = 1024 };

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Whether a host holds the pty's slave open (the master reports POLLHUP when none does). */
static int host_present(const modem *m)
{
    if (!m->pty) return 1;
    struct pollfd p = {m->master, POLLIN, 0};
    return !(poll(&p, 1, 0) == 1 && (p.revents & POLLHUP));
}

/* Writes what is queued; 0, or -1 when the line went away (the rest stays queued). */
static int flush_out(modem *m)
{
    for (;;) {
        char buf[4096];
        pthread_mutex_lock(&m->lock);
        size_t n = m->outq_len < sizeof buf ? m->outq_len : sizeof buf;
        if (n) memcpy(buf, m->outq, n);
        pthread_mutex_unlock(&m->lock);
        if (n == 0) return 0;
        ssize_t w = write(m->out_fd, buf, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        pthread_mutex_lock(&m->lock);
        memmove(m->outq, m->outq + w, m->outq_len - (size_t)w);
        m->outq_len -= (size_t)w;
        pthread_mutex_unlock(&m->lock);
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
        int now_present = host_present(m);
        if (now_present && !present) present_since = now_seconds();
        present = now_present;
        int settled = present && now_seconds() - present_since >= settle;
        if (settled && flush_out(m) < 0) present = 0;

        pthread_mutex_lock(&m->lock);
        int idle = !m->busy && m->outq_len == 0;
        pthread_mutex_unlock(&m->lock);
        if (eof && idle) return CLI_EXIT_OK;

        struct pollfd p[2] = {{m->wake[0], POLLIN, 0}, {m->in_fd, POLLIN, 0}};
        int nfds = present && !eof ? 2 : 1;
        int timeout = -1;
        if (m->pty && !present) timeout = 50;
        else if (present && !settled) timeout = (int)((settle - (now_seconds() - present_since)) * 1000) + 1;
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
        for (ssize_t i = 0; i < r; i++) {
            char ch = buf[i];
            if (ch == '\r' || ch == '\n') {
                line[len] = '\0';
                if (overflow) say(m, "ERROR");
                else if (len) command(m, line);
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
    case OPT_PROJECT: m->project = value; return 0;
    case OPT_VERSION_SEED: m->seed = value; return 0;
    case OPT_IMAGE: m->image = value; return 0;
    case OPT_PUBKEY: m->pubkey = value; return 0;
    case OPT_STATE_DIR: m->state_dir_opt = value; return 0;
    case OPT_DOWNLOAD_DIR: m->download_dir_opt = value; return 0;
    case OPT_CACERT: m->cacert = value; return 0;
    case OPT_STDIO: m->pty = 0; return 0;
    case OPT_PTY: m->pty = 1; return 0;
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

int main(int argc, char **argv)
{
    cli c = {.tool = "fotamodem",
             .usage = "--project ID --firmware VERSION --image FILE [--pty] [OPTION]...",
             .description =
                 "A bench model of a cellular module's DFOTA side. It speaks AT on stdin/stdout\n"
                 "or a pseudo-terminal (AT, ATI, AT+QFOTADL=?, AT+QFOTADL=\"<url or path>\"),\n"
                 "downloads the package (ftp://, http://, https:// with libcurl, or a local\n"
                 "file), checks it and applies it in place on the image, reporting the +QIND:\n"
                 "\"FOTA\" URCs of the DFOTA contract. The version lives in IMAGE.version and\n"
                 "becomes the package's target after an update. A refused package (504, 505,\n"
                 "510, 511, 550) reports END,<code> after the download URCs and writes nothing.\n"
                 "Killed while updating, it resumes when started again (START, UPDATING, END).",
             .exit_help = exit_help,
             .options = options};
    modem m = {.c = &c, .max_size = UINT64_MAX, .reboot_pause = 1, .timeout = 60,
               .in_fd = 0, .out_fd = 1, .master = -1, .wake = {-1, -1}};
    pthread_mutex_init(&m.lock, NULL);
    int rc = cli_parse(&c, argc, argv, handle, &m);
    if (rc >= 0) goto done;
    rc = CLI_EXIT_USAGE;
    if (c.npos) {
        cli_usage_error(&c, "unexpected argument '%s'", c.pos[0]);
        goto done;
    }
    if (!m.project || !m.image) {
        cli_usage_error(&c, "--project and --image are required");
        goto done;
    }
    rc = CLI_EXIT_FAILURE;
    m.state_dir = m.state_dir_opt ? strdup(m.state_dir_opt) : concat(m.image, ".fota");
    m.download_dir = m.download_dir_opt ? strdup(m.download_dir_opt) : concat(m.image, ".download");
    m.package = m.download_dir ? concat(m.download_dir, "/update.zip") : NULL;
    m.version_file = concat(m.image, ".version");
    if (!m.state_dir || !m.download_dir || !m.package || !m.version_file) {
        cli_error(&c, "out of memory");
        goto done;
    }
    if (!file_exists(m.image)) {
        cli_error(&c, "%s: %s", m.image, strerror(errno));
        goto done;
    }
    rc = load_version(&m);
    if (rc) goto done;
    rc = CLI_EXIT_FAILURE;
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
    free(m.state_dir);
    free(m.download_dir);
    free(m.package);
    free(m.version_file);
    free(m.outq);
    free(c.pos);
    return rc;
}
