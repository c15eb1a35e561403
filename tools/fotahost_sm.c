/* The host's DFOTA state machine (fotahost.h); no I/O. */
#include "fotahost.h"

#include <stdlib.h>
#include <string.h>

#define QIND "+QIND: \"FOTA\",\""

const char *fotahost_state_name(fotahost_state s)
{
    switch (s) {
    case FOTAHOST_IDLE: return "idle";
    case FOTAHOST_COMMAND: return "command";
    case FOTAHOST_DOWNLOADING: return "downloading";
    case FOTAHOST_REBOOTING: return "rebooting";
    case FOTAHOST_UPDATING: return "updating";
    case FOTAHOST_RETRYING: return "retrying";
    case FOTAHOST_VERIFY: return "verify";
    case FOTAHOST_DONE: return "done";
    }
    return "?";
}

void fotahost_init(fotahost *h, const fotahost_config *cfg)
{
    fotahost_config def = FOTAHOST_CONFIG_INIT;
    memset(h, 0, sizeof *h);
    h->cfg = cfg ? *cfg : def;
    h->download_code = -1;
    h->last_end = -1;
    h->why = "idle";
}

static void go(fotahost *h, fotahost_state s, double deadline, const char *why)
{
    h->state = s;
    h->deadline = deadline;
    h->why = why;
}

static fotahost_action finish(fotahost *h, int result, const char *why)
{
    h->result = result;
    if (result == 0 || !h->started) h->flag = 0;
    go(h, FOTAHOST_DONE, 0, why);
    return FOTAHOST_FINISHED;
}

void fotahost_sent(fotahost *h, int local, double now)
{
    h->local = local;
    go(h, FOTAHOST_COMMAND, now + 5, "AT+QFOTADL sent");
}

/* The code after `kind",` in a URC, or -1. */
static int code_of(const char *line, const char *kind)
{
    size_t n = strlen(QIND);
    if (strncmp(line, QIND, n) || strncmp(line + n, kind, strlen(kind))) return -1;
    const char *p = line + n + strlen(kind);
    if (strncmp(p, "\",", 2)) return -1;
    char *end;
    long v = strtol(p + 2, &end, 10);
    return end == p + 2 || v < 0 || v > 99999 ? -1 : (int)v;
}

static int is_urc(const char *line, const char *kind)
{
    size_t n = strlen(QIND);
    return !strncmp(line, QIND, n) && !strncmp(line + n, kind, strlen(kind)) &&
           line[n + strlen(kind)] == '"';
}

fotahost_action fotahost_line(fotahost *h, const char *line, double now)
{
    int c;
    if (h->state == FOTAHOST_DONE || h->state == FOTAHOST_IDLE) return FOTAHOST_WAIT;
    if (h->state == FOTAHOST_COMMAND) {
        if (strcmp(line, "OK") == 0) {
            h->flag = 1;
            if (h->local) go(h, FOTAHOST_REBOOTING, now + h->cfg.first_urc_s, "OK: the module reboots");
            else go(h, FOTAHOST_DOWNLOADING, now + h->cfg.silence_s, "OK: downloading");
            return FOTAHOST_WAIT;
        }
        if (strcmp(line, "ERROR") == 0 || strncmp(line, "+CME ERROR:", 11) == 0)
            return finish(h, -1, "the command was refused");
        return FOTAHOST_WAIT;
    }
    if (h->state == FOTAHOST_VERIFY) return FOTAHOST_WAIT;
    if (is_urc(line, "FTPSTART") || is_urc(line, "HTTPSTART") || is_urc(line, "DOWNLOADING")) {
        go(h, FOTAHOST_DOWNLOADING, now + h->cfg.silence_s, "downloading");
    } else if ((c = code_of(line, "FTPEND")) >= 0 || (c = code_of(line, "HTTPEND")) >= 0) {
        h->download_code = c;
        if (c != 0) return finish(h, c, "the download failed");
        go(h, FOTAHOST_REBOOTING, now + h->cfg.first_urc_s, "downloaded: the module reboots");
    } else if (is_urc(line, "START")) {
        h->started = 1;
        go(h, FOTAHOST_UPDATING, now + h->cfg.silence_s, "updating: do not cut power");
    } else if (is_urc(line, "UPDATING")) {
        go(h, FOTAHOST_UPDATING, now + h->cfg.silence_s, "updating: do not cut power");
    } else if ((c = code_of(line, "END")) >= 0) {
        h->tries++;
        h->last_end = c;
        if (c == 0) return finish(h, 0, "updated");
        go(h, FOTAHOST_RETRYING, now + h->cfg.first_urc_s, "a try failed: the module tries again or boots");
    }
    return FOTAHOST_WAIT;
}

fotahost_action fotahost_tick(fotahost *h, double now)
{
    if (h->state == FOTAHOST_DONE || h->state == FOTAHOST_IDLE || now < h->deadline) return FOTAHOST_WAIT;
    switch (h->state) {
    case FOTAHOST_COMMAND:
        return finish(h, -1, "no answer to AT+QFOTADL");
    case FOTAHOST_DOWNLOADING:
    case FOTAHOST_UPDATING:
        h->reboots++;
        go(h, FOTAHOST_REBOOTING, now + h->cfg.first_urc_s, "silence: rebooting the module");
        return FOTAHOST_REBOOT_MODULE;
    case FOTAHOST_REBOOTING:
    case FOTAHOST_RETRYING:
        go(h, FOTAHOST_VERIFY, now + 10, h->state == FOTAHOST_REBOOTING ? "no URC after the reboot: asking ATI"
                                                                        : "no more tries: asking ATI");
        return FOTAHOST_SEND_ATI;
    case FOTAHOST_VERIFY:
        return finish(h, h->last_end > 0 ? h->last_end : 502, "no answer to ATI");
    default:
        return FOTAHOST_WAIT;
    }
}

fotahost_action fotahost_version(fotahost *h, const char *running, const char *target)
{
    if (h->state != FOTAHOST_VERIFY) return FOTAHOST_WAIT;
    if (running && target && strcmp(running, target) == 0) return finish(h, 0, "ATI shows the target: updated");
    h->flag = 0;    /* the module runs its old firmware: nothing is in progress */
    return finish(h, h->last_end > 0 ? h->last_end : 502,
                  target ? "ATI shows another version: not updated" : "ATI answered: no target to compare");
}
