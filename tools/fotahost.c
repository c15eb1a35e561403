/* fotahost: a reference host for DFOTA. It sends AT+QFOTADL on a serial port
 * (a module, or fotamodem --pty --link), follows the URCs with the host state
 * machine of fotahost.h, reopens the port when the module's reboot takes it
 * away, and reports what the module runs in the end. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "fotahost.h"

enum { OPT_PORT = 1, OPT_URL, OPT_TARGET, OPT_FIRST_URC, OPT_SILENCE };

static const cli_option options[] = {
    {OPT_PORT, 0, "port", "PATH", "the module's serial port (fotamodem: its --link)"},
    {OPT_URL, 0, "url", "URL", "what AT+QFOTADL gets: ftp://, http(s):// or a local path"},
    {OPT_TARGET, 0, "target", "VERSION", "the version the package installs (ATI decides when no END,0 came)"},
    {OPT_FIRST_URC, 0, "first-urc", "SECONDS", "the first URC after a reboot comes within this (default 90)"},
    {OPT_SILENCE, 0, "silence", "SECONDS",
     "no URC this long while working: the module should be rebooted (default 240)"},
    CLI_COMMON_OPTIONS
};

static const char exit_help[] =
    "  0      updated (END,0, or ATI shows --target)\n"
    "  1      the command was refused, the download failed, or the port cannot be used\n"
    "  2-50   the module's END code - 500 (5: 505, 10: 510, 45: 545, ...)\n"
    "  64     usage error\n";

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int port_open(const char *path)
{
    int fd = open(path, O_RDWR | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) return -1;
    struct termios t;
    if (tcgetattr(fd, &t) == 0) {
        cfmakeraw(&t);
        tcsetattr(fd, TCSANOW, &t);
    }
    return fd;
}

static int port_write(int fd, const char *s)
{
    size_t n = strlen(s);
    while (n) {
        ssize_t w = write(fd, s, n);
        if (w < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (w <= 0) return -1;
        s += w;
        n -= (size_t)w;
    }
    return 0;
}

typedef struct host {
    cli *c;
    const char *port, *url, *target;
    fotahost_config cfg;
    fotahost h;
    int fd;
    char line[1100];
    size_t len;
    char revision[128];
} host;

static int num_option(const cli *c, const char *name, const char *v, double *out)
{
    char *end;
    errno = 0;
    double d = strtod(v, &end);
    if (errno || end == v || *end || !(d > 0 && d <= 86400)) {
        cli_usage_error(c, "--%s: '%s' is not 0..86400 seconds", name, v);
        return -1;
    }
    *out = d;
    return 0;
}

static int handle(void *ctx, int id, const char *value)
{
    host *o = ctx;
    switch (id) {
    case OPT_PORT: o->port = value; return 0;
    case OPT_URL: o->url = value; return 0;
    case OPT_TARGET: o->target = value; return 0;
    case OPT_FIRST_URC: return num_option(o->c, "first-urc", value, &o->cfg.first_urc_s);
    case OPT_SILENCE: return num_option(o->c, "silence", value, &o->cfg.silence_s);
    }
    return -1;
}

/* Acts on what the state machine asks; 1 when the session is finished. */
static int act(host *o, fotahost_action a)
{
    const char *st = fotahost_state_name(o->h.state);
    switch (a) {
    case FOTAHOST_WAIT:
        return 0;
    case FOTAHOST_SEND_ATI:
        cli_note(o->c, "%s (%s)", o->h.why, st);
        o->revision[0] = '\0';
        if (o->fd >= 0) port_write(o->fd, "ATI\r");
        return 0;
    case FOTAHOST_REBOOT_MODULE:
        cli_note(o->c, "%s: power-cycle the module now (no URC for %g s)", o->h.why, o->cfg.silence_s);
        return 0;
    case FOTAHOST_FINISHED:
        cli_info(o->c, "%s", o->h.why);
        return 1;
    }
    return 0;
}

static int on_line(host *o, const char *line)
{
    cli_info(o->c, "< %s", line);
    fotahost_state before = o->h.state;
    if (before == FOTAHOST_VERIFY) {
        if (strncmp(line, "Revision: ", 10) == 0) snprintf(o->revision, sizeof o->revision, "%.127s", line + 10);
        if (strcmp(line, "OK") == 0 || strcmp(line, "ERROR") == 0)
            return act(o, fotahost_version(&o->h, o->revision[0] ? o->revision : NULL, o->target));
        return 0;
    }
    int done = act(o, fotahost_line(&o->h, line, now_s()));
    if (o->h.state != before) cli_info(o->c, "-> %s: %s", fotahost_state_name(o->h.state), o->h.why);
    return done;
}

int main(int argc, char **argv)
{
    cli c = {.tool = "fotahost",
             .usage = "--port PATH --url URL [--target VERSION] [OPTION]...",
             .description =
                 "A reference host for a module's DFOTA (the state machine of the vendor notes):\n"
                 "sends AT+QFOTADL=\"URL\", follows the URCs, closes and reopens the port when the\n"
                 "module's reboot hangs it up, waits first-urc seconds for the first URC after a\n"
                 "reboot, asks for a reboot after silence seconds without one, and asks ATI\n"
                 "what runs when the session ends without END,0. The outcome goes to stdout.",
             .exit_help = exit_help,
             .options = options};
    host o = {.c = &c, .cfg = FOTAHOST_CONFIG_INIT, .fd = -1};
    int rc = cli_parse(&c, argc, argv, handle, &o);
    if (rc >= 0) return rc;
    if (c.npos) {
        rc = cli_usage_error(&c, "unexpected argument '%s'", c.pos[0]);
        free(c.pos);
        return rc;
    }
    if (!o.port || !o.url) return cli_usage_error(&c, "--port and --url are required");
    if (strchr(o.url, '"') || strlen(o.url) > 1000) return cli_usage_error(&c, "--url: not a URL or path");
    double t0 = now_s();
    while ((o.fd = port_open(o.port)) < 0) {
        if (now_s() - t0 > 10) {
            cli_error(&c, "%s: %s", o.port, strerror(errno));
            return CLI_EXIT_FAILURE;
        }
        struct timespec ts = {0, 20000000};
        nanosleep(&ts, NULL);
    }
    fotahost_init(&o.h, &o.cfg);
    char cmd[1100];
    snprintf(cmd, sizeof cmd, "AT+QFOTADL=\"%s\"\r", o.url);
    if (port_write(o.fd, cmd)) {
        cli_error(&c, "%s: cannot write: %s", o.port, strerror(errno));
        return CLI_EXIT_FAILURE;
    }
    fotahost_sent(&o.h, strstr(o.url, "://") == NULL, now_s());
    int done = 0, reopened = 0;
    while (!done) {
        double left = o.h.deadline - now_s();
        int ms = left <= 0 ? 0 : left > 0.1 ? 100 : (int)(left * 1000) + 1;
        if (o.fd < 0) {                             /* the module rebooted: its port comes back */
            o.fd = port_open(o.port);
            if (o.fd >= 0) {
                reopened++;
                cli_info(&c, "port reopened");
            }
        }
        if (o.fd >= 0) {
            struct pollfd p = {o.fd, POLLIN, 0};
            if (poll(&p, 1, ms) > 0) {
                char buf[512];
                ssize_t r = read(o.fd, buf, sizeof buf);
                if (r < 0 && (errno == EINTR || errno == EAGAIN)) continue;
                if (r <= 0) {                       /* hung up: EOF or EIO */
                    cli_info(&c, "port hung up (%s)", r < 0 ? strerror(errno) : "EOF");
                    close(o.fd);
                    o.fd = -1;
                    o.len = 0;
                    continue;
                }
                for (ssize_t i = 0; i < r && !done; i++) {
                    if (buf[i] == '\r' || buf[i] == '\n') {
                        o.line[o.len] = '\0';
                        if (o.len) done = on_line(&o, o.line);
                        o.len = 0;
                    } else if (o.len < sizeof o.line - 1) {
                        o.line[o.len++] = buf[i];
                    }
                }
                if (done) break;
            }
        } else {
            struct timespec ts = {0, 20000000};
            nanosleep(&ts, NULL);
        }
        if (!done) done = act(&o, fotahost_tick(&o.h, now_s()));
    }
    if (o.fd >= 0) close(o.fd);
    int r = o.h.result;
    if (r == 0) printf("updated%s%s after %d END line(s), %d reboot(s) seen\n", o.target ? " to " : "",
                       o.target ? o.target : "", o.h.tries, reopened);
    else if (r < 0) printf("refused: %s\n", o.h.why);
    else printf("failed: %d (%s) after %d END line(s)%s%s\n", r, o.h.why, o.h.tries,
                o.revision[0] ? "; the module runs " : "", o.revision);
    free(c.pos);
    return r == 0 ? 0 : r >= 502 && r <= 550 ? r - 500 : CLI_EXIT_FAILURE;
}
