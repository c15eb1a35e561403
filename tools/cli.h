/*
 * The tools' shared helper: one option table that drives both parsing and
 * --help, the messages every tool prints the same way, printing the
 * library's JSON reports (libdelta/report.h) and the progress bar. Only the
 * tools print; the library never does.
 */
#ifndef DELTA_TOOLS_CLI_H
#define DELTA_TOOLS_CLI_H

#include <stdint.h>
#include <stdio.h>

#include "libdelta/fileio.h"
#include "libdelta/package.h"
#include "libdelta/report.h"

/* Exit statuses outside the DFOTA map (DFOTA codes exit with code - 500). */
#define CLI_EXIT_OK 0
#define CLI_EXIT_FAILURE 1
#define CLI_EXIT_USAGE 64

/* One row of a tool's option table. */
typedef struct cli_option {
    int id;               /* handed to the tool's handler; 0 ends the table */
    char short_name;      /* 'o' for -o, 0 for none */
    const char *name;     /* long name without "--" */
    const char *arg;      /* metavariable ("FILE") when the option takes a value, else NULL */
    const char *help;
} cli_option;

/* The options every tool has; tools put CLI_COMMON_OPTIONS at the end of their table. */
enum { CLI_OPT_HELP = 1000, CLI_OPT_VERSION, CLI_OPT_QUIET, CLI_OPT_VERBOSE };
#define CLI_COMMON_OPTIONS                                                   \
    {CLI_OPT_QUIET, 'q', "quiet", NULL, "print nothing but errors"},         \
    {CLI_OPT_VERBOSE, 'v', "verbose", NULL, "say more on stderr"},           \
    {CLI_OPT_HELP, 'h', "help", NULL, "show this help and exit"},            \
    {CLI_OPT_VERSION, 0, "version", NULL, "show the version and exit"},      \
    {0, 0, NULL, NULL, NULL}

typedef struct cli {
    const char *tool;         /* "mkdelta" */
    const char *usage;        /* usage lines, without the tool name prefix */
    const char *description;  /* one paragraph */
    const char *exit_help;    /* the tool's exit status text for --help */
    const cli_option *options;
    int quiet;
    int verbose;
    int json;                 /* set by the tool when it was asked for --json */
    /* positionals collected by cli_parse */
    int npos;
    char **pos;
} cli;

/* Handles one option; returns 0, or nonzero for a usage error (already reported). */
typedef int (*cli_handler)(void *ctx, int id, const char *value);

/*
 * Parses argv with c->options: --name, --name=VALUE, --name VALUE, -x, -x VALUE,
 * -xVALUE, "--" ending the options; options and positionals may mix.
 * --help and --version are answered here. Returns -1 to go on, or the exit
 * status the tool must return at once (0 after --help/--version, 64 on a
 * usage error).
 */
int cli_parse(cli *c, int argc, char **argv, cli_handler handler, void *ctx);

/* "tool: message" on stderr; returns CLI_EXIT_USAGE. */
int cli_usage_error(const cli *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "tool: message" on stderr (always, even with -q). */
void cli_error(const cli *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "tool: message" on stderr unless -q. */
void cli_note(const cli *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "tool: message" on stderr with -v only. */
void cli_info(const cli *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The exit status of a library status: 0, code - 500 for a DFOTA code, else 1
 * (the library's rule, delta_exit_status). */
int cli_exit_status(delta_status status);

/*
 * Reports a failed library call on stderr and returns its exit status:
 * "tool: error 510: <delta_last_error()>" for a contract status,
 * "tool: <what>: <delta_last_error()>" otherwise.
 */
int cli_fail(const cli *c, delta_status status, const char *what);

/* ---- JSON reports (libdelta/report.h) ------------------------------------ */

/* The message a JSON report gives for a failure: the last one cli_error
 * reported since the last cli_message_clear ("" when none: the library then
 * takes delta_last_error). */
const char *cli_last_message(void);
/* Forgets the message cli_error recorded. */
void cli_message_clear(void);
/* The signature state in the reports' words, for the text output: "unsigned",
 * "signed" (not checked: no key given) or "verified". */
const char *cli_signature_word(int state);
/*
 * Prints on stdout the report the library wrote into json (written: the
 * status of its _write call; a failure is reported) and frees json. 0 or -1.
 */
int cli_report_print(const cli *c, delta_status written, delta_buf *json);

/* Parses BYTES: a decimal integer with an optional K, M or G suffix (powers of 1024). */
int cli_parse_size(const char *s, uint64_t *out);
/* An option's size value, at most max: 0, or -1 after a usage error naming --name. */
int cli_size_option(const cli *c, const char *name, const char *value, uint64_t max, uint64_t *out);

/* "NAME=VALUE" when NAME is a valid image name, else a bare VALUE (*name NULL). */
typedef struct cli_named {
    char *name;   /* NULL: bare */
    char *value;
} cli_named;
typedef struct cli_named_list {
    cli_named *items;
    size_t count;
} cli_named_list;

int cli_named_add(cli_named_list *list, const char *arg);
void cli_named_free(cli_named_list *list);
/*
 * The value given for image `name` of a package with `image_count` images:
 * the NAME= entry, or a bare entry when the package has one image. NULL
 * when none applies.
 */
const char *cli_named_find(const cli_named_list *list, const char *name, size_t image_count);
/* Returns the first entry whose NAME is not among names[0..n), or NULL. */
const cli_named *cli_named_unknown(const cli_named_list *list, const char *const *names, size_t n);

/*
 * Progress on stderr (a delta_progress_fn); ctx is a cli_progress. A bar
 * (mode CLI_PROGRESS_BAR, the zero value) redrawn in place; lines
 * (CLI_PROGRESS_LINES) print "tool: label: N%" at every tenth; OFF nothing.
 */
enum { CLI_PROGRESS_BAR = 0, CLI_PROGRESS_LINES = 1, CLI_PROGRESS_OFF = 2 };
typedef struct cli_progress {
    const char *label;
    int last_permille;
    int drawn;
    int mode;
    const cli *c;  /* the tool's name for lines; NULL: none */
} cli_progress;
/* STYLE.md's rule: nothing with -q; a bar when stderr is a terminal; one
 * line per step when it is not, only when forced (--progress). */
void cli_progress_init(cli_progress *p, const cli *c, const char *label, int forced);
int cli_progress_fn(void *ctx, uint64_t done, uint64_t total);
/* A named step of a job of total steps (done of them finished): the bar
 * shows its name, lines print "tool: what"; what NULL: the end (bar only). */
void cli_progress_step(cli_progress *p, const char *what, uint64_t done, uint64_t total);
/* Ends the bar's line if one was drawn. */
void cli_progress_end(cli_progress *p);

/* Writes data to path atomically and durably: a temporary beside it, fsync,
 * rename, fsync of the directory; mode 0644. */
int cli_write_file_atomic(const cli *c, const char *path, const void *data, size_t len);
/* The same, but unless force never over an existing path (reported, -1). */
int cli_write_file_new(const cli *c, const char *path, const void *data, size_t len, int force);
/* Renames the finished temporary tmp to path durably (fsync of the
 * directory); unless force only when path does not exist, atomically
 * (RENAME_NOREPLACE). Reports a failure; DELTA_ERR_OUTPUT. */
delta_status cli_install(const cli *c, const char *tmp, const char *path, int force);

/*
 * 0 when the tool may write path: it does not exist, or force (-f). Else
 * reports "PATH exists: give -f (--force) to overwrite it" and returns -1.
 */
int cli_may_overwrite(const cli *c, const char *path, int force);
/* Writes data to stdout whole; refuses (unless force) when it is a terminal. 0 or -1 (reported). */
int cli_write_stdout(const cli *c, const void *data, size_t len, int force);
/* Reads stdin whole into buf, at most max bytes: DELTA_ERR_TOO_LARGE beyond
 * (reported), DELTA_ERR_INPUT when it cannot be read (reported). */
delta_status cli_read_stdin(const cli *c, uint64_t max, const char *option, delta_buf *buf);

/*
 * Checks that the PEM text in key is the kind of key option takes: a
 * private key (want_private) or a public one. A mismatch is reported
 * ("this is a public key; --key takes the private signing key") and
 * gives DELTA_ERR_KEY; anything else is left to the library.
 */
delta_status cli_key_kind(const cli *c, const char *option, const char *path, const delta_buf *key,
                          int want_private);

/*
 * Runs `/bin/sh -c cmd` with msg on its standard input and appends what it
 * prints on its standard output (a DER signature) to sig. A command that
 * cannot run, exits non-zero, is killed, prints nothing or more than
 * DELTA_SIG_MAX_BYTES is reported and gives DELTA_ERR_KEY.
 */
delta_status cli_sign_command(const cli *c, const char *cmd, const void *msg, size_t len, delta_buf *sig);

/* A temporary path beside path ("dir/.name.XXXXXX"), created with mkstemp; *fd open. */
char *cli_temp_beside(const char *path, int *fd);

/* ---- packages (verifydelta, applydelta) ---------------------------------- */

/* An open package file and its checked package. */
typedef struct cli_package {
    const char *path;
    delta_file *file;
    delta_source src;
    delta_package *pkg;
} cli_package;

/* Reads the PEM public key at path into key and points opt's key at it. */
delta_status cli_read_key(const char *path, delta_buf *key, delta_check_options *opt);

/*
 * Reads the public key (when pubkey_path is not NULL) into opt and runs
 * delta_package_open on the file at path. Returns the library's status;
 * the caller reports it with cli_fail.
 */
delta_status cli_package_open(cli_package *p, const char *path, const char *pubkey_path,
                              delta_check_options *opt);
void cli_package_close(cli_package *p);

/* "verified", "signed, not verified" or "unsigned". */
const char *cli_signature_text(int state);

/* ---- in place and URCs (applydelta, fotamodem) ---------------------------- */

/*
 * The module's +QIND: "FOTA" URCs of an update: START once before the first
 * UPDATING, UPDATING,<percent> only when the percent rises, END,<code> last.
 * emit receives each line without its line end; NULL emits nothing.
 */
typedef struct cli_urc {
    void (*emit)(void *ctx, const char *line);
    void *ctx;
    int started;          /* START emitted */
    int percent;          /* last UPDATING percent emitted */
    unsigned pause_ms;    /* sleep after each UPDATING: a slow flash (fotamodem --flash-delay) */
    cli_progress *bar;    /* NULL: no progress bar */
    int refused;          /* set by cli_update: no update was under way and none is now */
} cli_urc;

void cli_urc_start(cli_urc *r);
void cli_urc_percent(cli_urc *r, int percent);
/* A delta_progress_fn (ctx is a cli_urc): UPDATING URCs and the bar. */
int cli_urc_progress(void *ctx, uint64_t done, uint64_t total);
/*
 * The END URC of status (502 for a failure outside the DFOTA codes). Success
 * and write failures come after START (and success after UPDATING,100); a
 * refusal before any write is END alone unless START was already emitted.
 */
void cli_urc_end(cli_urc *r, delta_status status);

/* Checks the file at path as image i's source (510). */
delta_status cli_check_source_file(const delta_package *pkg, size_t image, const char *path);

/*
 * In place through the library's update session (delta_file_update), with
 * the UPDATING URCs and the bar of rep as its progress; says with -v what
 * the session found. The caller reports a failure (cli_fail) and the END URC.
 */
delta_status cli_update(const cli *c, delta_file_update_params *p, cli_urc *rep, delta_update_result *res);
#endif
