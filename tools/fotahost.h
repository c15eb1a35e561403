/*
 * fotahost: the host MCU's side of a DFOTA session, as the vendor notes
 * describe it, as a state machine that does no I/O (a firmware port feeds it
 * the lines its UART driver reads and the time). tools/fotahost.c drives it
 * over a serial port against a module or fotamodem.
 *
 *   AT+QFOTADL sent  -> OK (ERROR / +CME ERROR: refused, done)
 *   FTPSTART/HTTPSTART, DOWNLOADING   downloading (silence rule)
 *   FTPEND/HTTPEND,0 -> the module reboots: the port goes away and comes
 *                       back; the first URC within first_urc_s (5G note)
 *   FTPEND/HTTPEND,<err>              the download failed: done
 *   START, UPDATING  -> do not cut power until END,0 (EC2x note, 4.2)
 *   END,0            -> done: updated (the host's flag is cleared)
 *   END,<err>        -> the module reboots and tries again, or (after its
 *                       fifth try) boots normally: a URC within first_urc_s,
 *                       or none, and the host asks ATI what runs
 *   no URC for silence_s while downloading or updating -> reboot the module
 */
#ifndef DELTA_TOOLS_FOTAHOST_H
#define DELTA_TOOLS_FOTAHOST_H

typedef enum fotahost_state {
    FOTAHOST_IDLE = 0,
    FOTAHOST_COMMAND,     /* AT+QFOTADL sent: waiting for OK */
    FOTAHOST_DOWNLOADING, /* FTPSTART / HTTPSTART seen (or OK for a URL) */
    FOTAHOST_REBOOTING,   /* downloaded (or OK for a local file): the first URC is due */
    FOTAHOST_UPDATING,    /* START seen: never cut power now */
    FOTAHOST_RETRYING,    /* END,<err> seen: another try, or a normal boot */
    FOTAHOST_VERIFY,      /* the session is over: ATI tells what runs */
    FOTAHOST_DONE
} fotahost_state;

typedef enum fotahost_action {
    FOTAHOST_WAIT = 0,        /* keep reading until fotahost_deadline */
    FOTAHOST_SEND_ATI,        /* send ATI, then call fotahost_version with its Revision */
    FOTAHOST_REBOOT_MODULE,   /* the silence rule: power-cycle the module, then keep reading */
    FOTAHOST_FINISHED         /* fotahost.result holds the outcome */
} fotahost_action;

typedef struct fotahost_config {
    double first_urc_s;  /* after a reboot the first URC comes within this (90) */
    double silence_s;    /* no URC this long while working: reboot the module (240) */
} fotahost_config;

#define FOTAHOST_CONFIG_INIT {90, 240}

typedef struct fotahost {
    fotahost_config cfg;
    fotahost_state state;
    int local;           /* a local file: no download URCs */
    int download_code;   /* FTPEND / HTTPEND code; -1 before */
    int last_end;        /* the last END code; -1 before */
    int tries;           /* END lines seen */
    int started;         /* START seen in this session */
    int flag;            /* the host's own "update in progress" flag (EC2x note, 4.2) */
    int reboots;         /* module reboots the silence rule asked for */
    int result;          /* when FINISHED: 0 updated; a DFOTA / download code; -1 refused */
    double deadline;     /* when the current wait ends (same clock as `now`) */
    const char *why;     /* the last transition, in words */
} fotahost;

void fotahost_init(fotahost *h, const fotahost_config *cfg);
/* AT+QFOTADL was sent (local: a path, not a URL). */
void fotahost_sent(fotahost *h, int local, double now);
/* One line from the module (without CR LF). */
fotahost_action fotahost_line(fotahost *h, const char *line, double now);
/* Time passed without a line (call at fotahost.deadline). */
fotahost_action fotahost_tick(fotahost *h, double now);
/* ATI's answer: the version that runs (NULL: no answer) against the target (NULL: unknown). */
fotahost_action fotahost_version(fotahost *h, const char *running, const char *target);
const char *fotahost_state_name(fotahost_state s);
#endif
