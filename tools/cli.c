/* The tools' shared helper (cli.h). */
#define _GNU_SOURCE /* renameat2 */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "libdelta/manifest.h"
#include "libdelta/sign.h"

/* ---- messages ---------------------------------------------------------- */

static void vmessage(const cli *c, const char *fmt, va_list ap)
{
    fprintf(stderr, "%s: ", c->tool);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

int cli_usage_error(const cli *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmessage(c, fmt, ap);
    va_end(ap);
    fprintf(stderr, "Try '%s --help' for more information.\n", c->tool);
    return CLI_EXIT_USAGE;
}

/* The last message cli_error printed: a JSON report's "message". */
static char last_message[512];

void cli_message_clear(void) { last_message[0] = '\0'; }

void cli_error(const cli *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmessage(c, fmt, ap);
    va_end(ap);
    va_start(ap, fmt);
    vsnprintf(last_message, sizeof last_message, fmt, ap);
    va_end(ap);
}

void cli_note(const cli *c, const char *fmt, ...)
{
    if (c->quiet) return;
    va_list ap;
    va_start(ap, fmt);
    vmessage(c, fmt, ap);
    va_end(ap);
}

void cli_info(const cli *c, const char *fmt, ...)
{
    if (!c->verbose || c->quiet) return;
    va_list ap;
    va_start(ap, fmt);
    vmessage(c, fmt, ap);
    va_end(ap);
}

/* ---- exit statuses ------------------------------------------------------- */

int cli_exit_status(delta_status status) { return delta_exit_status(status); }

/* What to do about a refusal, when the tools know better than the message:
 * each tool names only its own options (fotamodem has no --space). */
static const char *hint_of(const cli *c, delta_status status)
{
    int device_options = strcmp(c->tool, "verifydelta") == 0 || strcmp(c->tool, "applydelta") == 0;
    if (status == DELTA_ERR_SPACE && device_options)
        return "give the device more room for the update state (a larger --space), or make the "
               "package with a smaller --batch-blocks or --max-stash (mkdelta)";
    if (status == DELTA_ERR_SPACE && strcmp(c->tool, "mkdelta") != 0)
        return "make the package with a smaller --batch-blocks or --max-stash (mkdelta)";
    if (status == DELTA_ERR_SLOT && strcmp(c->tool, "applydelta") == 0)
        return "check --slot-size, or make the package for a larger region (mkdelta --slot-size)";
    if (status == DELTA_ERR_SLOT && strcmp(c->tool, "mkdelta") != 0)
        return "make the package for a larger region (mkdelta --slot-size)";
    return NULL;
}

int cli_fail(const cli *c, delta_status status, const char *what)
{
    int code = delta_dfota_code(status);
    const char *why = delta_last_error();
    if (!why[0]) why = delta_strerror(status);
    const char *hint = hint_of(c, status);
    /* The library's words, then what to do; the JSON message is the same text. */
    if (code > 0)
        cli_error(c, "error %d: %s%s%s", code, why, hint ? "; " : "", hint ? hint : "");
    else
        cli_error(c, "%s: %s", what, why);
    if (code > 0) snprintf(last_message, sizeof last_message, "%s%s%s", why, hint ? "; " : "", hint ? hint : "");
    else snprintf(last_message, sizeof last_message, "%s: %s", what, why);
    return cli_exit_status(status);
}

/* ---- JSON ---------------------------------------------------------------- */

const char *cli_last_message(void) { return last_message; }

const char *cli_signature_word(int state)
{
    switch (state) {
    case 2: return "verified";
    case 1: return "signed";
    default: return "unsigned";
    }
}

int cli_report_print(const cli *c, delta_status written, delta_buf *json)
{
    int r = 0;
    if (written) {
        cli_error(c, "cannot write the JSON report: %s", delta_last_error());
        r = -1;
    } else if (fwrite(json->data, 1, json->len, stdout) != json->len) {
        r = -1;
    }
    delta_buf_free(json);
    return r;
}

/* ---- option parsing ------------------------------------------------------ */

/* Prints text from column indent, wrapped at width, continuing lines at indent. */
static void print_wrapped(const char *text, int indent, int width)
{
    int col = indent;
    while (*text) {
        const char *sp = strchr(text, ' ');
        int n = sp ? (int)(sp - text) : (int)strlen(text);
        if (col > indent && col + 1 + n > width) {
            printf("\n%*s", indent, "");
            col = indent;
        } else if (col > indent) {
            putchar(' ');
            col++;
        }
        printf("%.*s", n, text);
        col += n;
        text += n;
        while (*text == ' ') text++;
    }
    putchar('\n');
}

static void print_help(const cli *c)
{
    printf("Usage:\n");
    const char *u = c->usage;
    while (*u) {
        const char *nl = strchr(u, '\n');
        size_t n = nl ? (size_t)(nl - u) : strlen(u);
        printf("  %s %.*s\n", c->tool, (int)n, u);
        u += n + (nl ? 1 : 0);
    }
    printf("\n%s\n\nOptions:\n", c->description);
    for (const cli_option *o = c->options; o->id; o++) {
        char left[64];
        int n = 0;
        if (o->short_name)
            n = snprintf(left, sizeof left, "-%c, --%s", o->short_name, o->name);
        else
            n = snprintf(left, sizeof left, "    --%s", o->name);
        if (o->arg && n >= 0 && (size_t)n < sizeof left)
            snprintf(left + n, sizeof left - (size_t)n, " %s", o->arg);
        if (strlen(left) > 28)
            printf("  %s\n  %-28s ", left, "");
        else
            printf("  %-28s ", left);
        print_wrapped(o->help, 31, 79);
    }
    printf("\nBYTES accept a K, M or G suffix (powers of 1024).\n");
    printf("\nExit status:\n%s", c->exit_help);
}

static void print_version(const cli *c)
{
    printf("%s %s (libdelta %s)\n", c->tool, DELTA_VERSION_STRING, delta_version());
}

static const cli_option *find_long(const cli *c, const char *name, size_t len)
{
    for (const cli_option *o = c->options; o->id; o++)
        if (strlen(o->name) == len && memcmp(o->name, name, len) == 0) return o;
    return NULL;
}

static const cli_option *find_short(const cli *c, char ch)
{
    for (const cli_option *o = c->options; o->id; o++)
        if (o->short_name == ch) return o;
    return NULL;
}

/* Runs one option; returns -1 to go on or an exit status. */
static int run_option(cli *c, const cli_option *o, const char *value, cli_handler handler,
                      void *ctx)
{
    switch (o->id) {
    case CLI_OPT_HELP: print_help(c); return CLI_EXIT_OK;
    case CLI_OPT_VERSION: print_version(c); return CLI_EXIT_OK;
    case CLI_OPT_QUIET: c->quiet = 1; return -1;
    case CLI_OPT_VERBOSE: c->verbose = 1; return -1;
    default: return handler(ctx, o->id, value) ? CLI_EXIT_USAGE : -1;
    }
}

int cli_parse(cli *c, int argc, char **argv, cli_handler handler, void *ctx)
{
    c->pos = calloc((size_t)argc + 1, sizeof *c->pos);
    c->npos = 0;
    if (!c->pos) {
        cli_error(c, "out of memory");
        return CLI_EXIT_FAILURE;
    }
    int only_pos = 0;
    for (int i = 1; i < argc; i++) {
        char *a = argv[i];
        if (only_pos || a[0] != '-' || a[1] == '\0') {
            c->pos[c->npos++] = a;
            continue;
        }
        if (strcmp(a, "--") == 0) {
            only_pos = 1;
            continue;
        }
        const cli_option *o;
        const char *value = NULL;
        if (a[1] == '-') {
            const char *name = a + 2;
            const char *eq = strchr(name, '=');
            size_t len = eq ? (size_t)(eq - name) : strlen(name);
            o = find_long(c, name, len);
            if (!o) return cli_usage_error(c, "unknown option '--%.*s'", (int)len, name);
            if (eq) {
                if (!o->arg) return cli_usage_error(c, "option '--%s' takes no value", o->name);
                value = eq + 1;
            } else if (o->arg) {
                if (i + 1 >= argc)
                    return cli_usage_error(c, "option '--%s' needs a value (%s)", o->name, o->arg);
                value = argv[++i];
            }
            int r = run_option(c, o, value, handler, ctx);
            if (r >= 0) return r;
            continue;
        }
        /* Short options, possibly bundled: -qv, -oFILE, -o FILE. */
        for (const char *s = a + 1; *s; s++) {
            o = find_short(c, *s);
            if (!o) return cli_usage_error(c, "unknown option '-%c'", *s);
            value = NULL;
            if (o->arg) {
                if (s[1]) {
                    value = s + 1;
                } else {
                    if (i + 1 >= argc)
                        return cli_usage_error(c, "option '-%c' needs a value (%s)", *s, o->arg);
                    value = argv[++i];
                }
            }
            int r = run_option(c, o, value, handler, ctx);
            if (r >= 0) return r;
            if (value) break;
        }
    }
    return -1;
}

/* ---- values -------------------------------------------------------------- */

int cli_parse_size(const char *s, uint64_t *out)
{
    if (!s || *s < '0' || *s > '9') return -1;
    uint64_t v = 0;
    const char *p = s;
    for (; *p >= '0' && *p <= '9'; p++) {
        unsigned d = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - d) / 10) return -1;
        v = v * 10 + d;
    }
    unsigned shift = 0;
    switch (*p) {
    case '\0': break;
    case 'k': case 'K': shift = 10; p++; break;
    case 'm': case 'M': shift = 20; p++; break;
    case 'g': case 'G': shift = 30; p++; break;
    default: return -1;
    }
    if (*p) return -1;
    if (shift && v > (UINT64_MAX >> shift)) return -1;
    *out = v << shift;
    return 0;
}

int cli_size_option(const cli *c, const char *name, const char *value, uint64_t max, uint64_t *out)
{
    if (cli_parse_size(value, out) || *out > max) {
        cli_usage_error(c, "--%s: '%s' is not a valid size", name, value);
        return -1;
    }
    return 0;
}

int cli_named_add(cli_named_list *list, const char *arg)
{
    cli_named *items = realloc(list->items, (list->count + 1) * sizeof *items);
    if (!items) return -1;
    list->items = items;
    cli_named *n = &items[list->count];
    n->name = NULL;
    n->value = NULL;
    const char *eq = strchr(arg, '=');
    if (eq && eq > arg) {
        char *name = strndup(arg, (size_t)(eq - arg));
        if (!name) return -1;
        if (delta_manifest_image_name_ok(name)) {
            n->name = name;
            arg = eq + 1;
        } else {
            free(name);
        }
    }
    n->value = strdup(arg);
    if (!n->value) {
        free(n->name);
        return -1;
    }
    list->count++;
    return 0;
}

void cli_named_free(cli_named_list *list)
{
    for (size_t i = 0; i < list->count; i++) {
        free(list->items[i].name);
        free(list->items[i].value);
    }
    free(list->items);
    list->items = NULL;
    list->count = 0;
}

const char *cli_named_find(const cli_named_list *list, const char *name, size_t image_count)
{
    for (size_t i = 0; i < list->count; i++)
        if (list->items[i].name && strcmp(list->items[i].name, name) == 0)
            return list->items[i].value;
    if (image_count == 1)
        for (size_t i = 0; i < list->count; i++)
            if (!list->items[i].name) return list->items[i].value;
    return NULL;
}

const cli_named *cli_named_unknown(const cli_named_list *list, const char *const *names, size_t n)
{
    for (size_t i = 0; i < list->count; i++) {
        const cli_named *e = &list->items[i];
        if (!e->name) {
            if (n != 1) return e;
            continue;
        }
        size_t k = 0;
        while (k < n && strcmp(names[k], e->name) != 0) k++;
        if (k == n) return e;
    }
    return NULL;
}

/* ---- progress bar -------------------------------------------------------- */

void cli_progress_init(cli_progress *p, const cli *c, const char *label, int forced)
{
    memset(p, 0, sizeof *p);
    p->label = label;
    p->c = c;
    if (c->quiet)
        p->mode = CLI_PROGRESS_OFF;
    else if (isatty(2))
        p->mode = CLI_PROGRESS_BAR;
    else
        p->mode = forced ? CLI_PROGRESS_LINES : CLI_PROGRESS_OFF;
}

static void progress_line(const cli_progress *p, const char *what, int percent)
{
    if (p->c) fprintf(stderr, "%s: ", p->c->tool);
    if (percent >= 0) fprintf(stderr, "%s: %d%%\n", what ? what : "", percent);
    else fprintf(stderr, "%s\n", what ? what : "");
    fflush(stderr);
}

int cli_progress_fn(void *ctx, uint64_t done, uint64_t total)
{
    cli_progress *p = ctx;
    if (p->mode == CLI_PROGRESS_OFF) return 0;
    int permille = total ? (int)(done >= total ? 1000 : done * 1000 / total) : 1000;
    if (p->mode == CLI_PROGRESS_LINES) {
        /* One line per tenth reached, each once. */
        int tenth = permille / 100;
        if (p->drawn && tenth <= p->last_permille / 100) return 0;
        p->last_permille = permille;
        p->drawn = 1;
        progress_line(p, p->label, tenth * 10);
        return 0;
    }
    if (p->drawn && permille == p->last_permille) return 0;
    p->last_permille = permille;
    p->drawn = 1;
    enum { WIDTH = 40 };
    char bar[WIDTH + 1];
    int fill = permille * WIDTH / 1000;
    for (int i = 0; i < WIDTH; i++) bar[i] = i < fill ? '#' : '.';
    bar[WIDTH] = '\0';
    /* Clear to the end of the line: a step's label may be shorter than the last. */
    fprintf(stderr, "\r%s [%s] %3d.%d%%\033[K", p->label ? p->label : "", bar, permille / 10,
            permille % 10);
    fflush(stderr);
    return 0;
}

void cli_progress_step(cli_progress *p, const char *what, uint64_t done, uint64_t total)
{
    if (p->mode == CLI_PROGRESS_OFF) return;
    if (p->mode == CLI_PROGRESS_LINES) {
        if (what) progress_line(p, what, -1);
        return;
    }
    p->label = what ? what : "done";
    p->drawn = 0; /* redraw even at the same fraction: the label changed */
    cli_progress_fn(p, done, total);
}

void cli_progress_end(cli_progress *p)
{
    if (p->drawn && p->mode == CLI_PROGRESS_BAR) fputc('\n', stderr);
    p->drawn = 0;
}

/* ---- files --------------------------------------------------------------- */

int cli_may_overwrite(const cli *c, const char *path, int force)
{
    struct stat st;
    if (force || lstat(path, &st) != 0) return 0;
    cli_error(c, "%s exists: give -f (--force) to overwrite it", path);
    return -1;
}

int cli_write_stdout(const cli *c, const void *data, size_t len, int force)
{
    if (!force && isatty(1)) {
        cli_error(c, "refusing to write a package to a terminal: redirect stdout, or give -o FILE "
                     "(-f writes it anyway)");
        return -1;
    }
    if (fflush(stdout) == EOF) return -1;
    const uint8_t *p = data;
    while (len) {
        ssize_t n = write(1, p, len);
        if (n < 0) {
            if (errno == EINTR) continue;
            cli_error(c, "cannot write to stdout: %s", strerror(errno));
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

delta_status cli_read_stdin(const cli *c, uint64_t max, const char *option, delta_buf *buf)
{
    delta_status st = delta_file_read_all("/dev/stdin", max, buf);
    if (st == DELTA_ERR_LIMIT) {
        cli_error(c, "error 550: the package on stdin is larger than %llu bytes (%s)",
                  (unsigned long long)max, option);
        snprintf(last_message, sizeof last_message, "the package on stdin is larger than %llu bytes (%s)",
                 (unsigned long long)max, option);
        return DELTA_ERR_TOO_LARGE;
    }
    if (st) cli_error(c, "cannot read the package from stdin: %s", delta_last_error());
    return st;
}

delta_status cli_key_kind(const cli *c, const char *option, const char *path, const delta_buf *key,
                          int want_private)
{
    /* Only the PEM labels are looked at; the library parses the key itself. */
    if (!key->data || !key->len) return DELTA_OK;
    char *text = strndup((const char *)key->data, key->len);
    if (!text) return DELTA_ERR_NOMEM;
    int is_private = strstr(text, "PRIVATE KEY-----") != NULL;
    int is_public = !is_private && strstr(text, "PUBLIC KEY-----") != NULL;
    free(text);
    if (want_private && is_public) {
        cli_error(c, "--%s %s: this is a public key; --%s takes the private signing key", option, path, option);
        return DELTA_ERR_KEY;
    }
    if (!want_private && is_private) {
        cli_error(c, "--%s %s: this is a private key; --%s takes the public key "
                     "(openssl pkey -in KEY -pubout)", option, path, option);
        return DELTA_ERR_KEY;
    }
    return DELTA_OK;
}

delta_status cli_sign_command(const cli *c, const char *cmd, const void *msg, size_t len, delta_buf *sig)
{
    int in[2], out[2];
    if (pipe(in) < 0) {
        cli_error(c, "--sign-command: cannot make a pipe: %s", strerror(errno));
        return DELTA_ERR_KEY;
    }
    if (pipe(out) < 0) {
        cli_error(c, "--sign-command: cannot make a pipe: %s", strerror(errno));
        close(in[0]);
        close(in[1]);
        return DELTA_ERR_KEY;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        cli_error(c, "--sign-command: cannot start it: %s", strerror(errno));
        close(in[0]); close(in[1]); close(out[0]); close(out[1]);
        return DELTA_ERR_KEY;
    }
    if (pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        close(in[0]); close(in[1]); close(out[0]); close(out[1]);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    /* Feed the manifest and collect the signature at once: a command may
     * answer before it has read everything. A command that stops reading
     * early gives EPIPE here, not SIGPIPE. */
    struct sigaction ign = {.sa_handler = SIG_IGN}, old;
    sigaction(SIGPIPE, &ign, &old);
    const uint8_t *p = msg;
    size_t left = len;
    int wfd = in[1], too_big = 0, err = 0;
    if (!left) {
        close(wfd);
        wfd = -1;
    }
    size_t start = sig->len;
    for (;;) {
        struct pollfd fds[2] = {{out[0], POLLIN, 0}, {wfd, POLLOUT, 0}};
        if (poll(fds, wfd >= 0 ? 2 : 1, -1) < 0) {
            if (errno == EINTR) continue;
            err = errno;
            break;
        }
        if (wfd >= 0 && fds[1].revents) {
            ssize_t n = write(wfd, p, left);
            if (n < 0 && errno != EINTR && errno != EAGAIN) left = 0; /* EPIPE: the exit status tells */
            else if (n > 0) { p += n; left -= (size_t)n; }
            if (!left) { close(wfd); wfd = -1; }
        }
        if (fds[0].revents) {
            uint8_t buf[4096];
            ssize_t n = read(out[0], buf, sizeof buf);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) break;
            if (sig->len - start + (size_t)n > DELTA_SIG_MAX_BYTES) too_big = 1;
            else if (delta_buf_append(sig, buf, (size_t)n)) err = ENOMEM;
        }
    }
    if (wfd >= 0) close(wfd);
    close(out[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    sigaction(SIGPIPE, &old, NULL);
    size_t got = sig->len - start;
    delta_status st = DELTA_ERR_KEY;
    if (err)
        cli_error(c, "--sign-command: %s", strerror(err));
    else if (WIFSIGNALED(status))
        cli_error(c, "--sign-command '%s' was killed by signal %d", cmd, WTERMSIG(status));
    else if (WEXITSTATUS(status) == 127)
        cli_error(c, "--sign-command '%s' exited with status 127 (command not found?)", cmd);
    else if (WEXITSTATUS(status) != 0)
        cli_error(c, "--sign-command '%s' exited with status %d", cmd, WEXITSTATUS(status));
    else if (too_big)
        cli_error(c, "--sign-command '%s' printed more than %d bytes: not a signature (it must print the "
                     "DER signature alone)", cmd, DELTA_SIG_MAX_BYTES);
    else if (got == 0)
        cli_error(c, "--sign-command '%s' printed no signature (it must print the DER signature of its "
                     "standard input on its standard output)", cmd);
    else
        st = DELTA_OK;
    if (st) sig->len = start;
    return st;
}

char *cli_temp_beside(const char *path, int *fd)
{
    const char *slash = strrchr(path, '/');
    size_t dirlen = slash ? (size_t)(slash - path + 1) : 0;
    const char *base = slash ? slash + 1 : path;
    size_t n = dirlen + 1 + strlen(base) + 8;
    char *tmp = malloc(n);
    if (!tmp) {
        errno = ENOMEM;
        return NULL;
    }
    snprintf(tmp, n, "%.*s.%s.XXXXXX", (int)dirlen, path, base);
    *fd = mkstemp(tmp);
    if (*fd < 0) {
        free(tmp);
        return NULL;
    }
    return tmp;
}

/* fsync of the directory holding path. */
static int sync_dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
    if (!dir) return -1;
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    free(dir);
    if (fd < 0) return -1;
    int r = fsync(fd);
    close(fd);
    return r;
}

delta_status cli_install(const cli *c, const char *tmp, const char *path, int force)
{
    if (force) {
        delta_status st = delta_file_replace(tmp, path);
        if (st) cli_error(c, "%s", delta_last_error());
        return st;
    }
    /* Never over a file that appeared since cli_may_overwrite looked. */
    int r = renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE);
    if (r < 0 && (errno == EINVAL || errno == ENOSYS)) { /* a file system without it */
        struct stat st;
        if (lstat(path, &st) == 0) errno = EEXIST;
        else r = rename(tmp, path);
    }
    if (r < 0) {
        if (errno == EEXIST) cli_error(c, "%s exists: give -f (--force) to overwrite it", path);
        else cli_error(c, "%s: cannot rename into place: %s", path, strerror(errno));
        return DELTA_ERR_OUTPUT;
    }
    if (sync_dir_of(path) < 0) {
        cli_error(c, "%s: cannot sync its directory: %s", path, strerror(errno));
        return DELTA_ERR_OUTPUT;
    }
    return DELTA_OK;
}

/* Writes a whole file through a temporary beside it, fsync, and a durable
 * rename (cli_install), so no reader ever sees a partial file and a power cut
 * leaves the old file or the new one. */
int cli_write_file_atomic(const cli *c, const char *path, const void *data, size_t len)
{
    return cli_write_file_new(c, path, data, len, 1);
}

int cli_write_file_new(const cli *c, const char *path, const void *data, size_t len, int force)
{
    int fd;
    char *tmp = cli_temp_beside(path, &fd);
    if (!tmp) {
        cli_error(c, "%s: cannot create a temporary file: %s", path, strerror(errno));
        return -1;
    }
    const uint8_t *p = data;
    size_t left = len;
    int err = 0;
    while (left && !err) {
        ssize_t n = write(fd, p, left);
        if (n < 0) {
            if (errno != EINTR) err = errno;
            continue;
        }
        p += n;
        left -= (size_t)n;
    }
    if (!err && fchmod(fd, 0644) < 0) err = errno;
    if (!err && fsync(fd) < 0) err = errno;
    if (close(fd) < 0 && !err && errno != EINTR) err = errno;
    if (err) {
        unlink(tmp);
        cli_error(c, "%s: cannot write: %s", path, strerror(err));
        free(tmp);
        return -1;
    }
    delta_status st = cli_install(c, tmp, path, force);
    if (st) unlink(tmp);
    free(tmp);
    return st ? -1 : 0;
}

/* ---- packages ------------------------------------------------------------ */

delta_status cli_read_key(const char *path, delta_buf *key, delta_check_options *opt)
{
    delta_status st = delta_file_read_all(path, 64 * 1024, key);
    if (st) return st;
    opt->pubkey_pem = (const char *)key->data;
    opt->pubkey_len = key->len;
    return DELTA_OK;
}

delta_status cli_package_open(cli_package *p, const char *path, const char *pubkey_path,
                              delta_check_options *opt)
{
    memset(p, 0, sizeof *p);
    p->path = path;
    delta_buf key = DELTA_BUF_INIT;
    delta_status st = DELTA_OK;
    if (pubkey_path) {
        st = cli_read_key(pubkey_path, &key, opt);
        if (st) return st;
    }
    st = delta_file_source_open(path, &p->src, &p->file);
    if (!st) st = delta_package_open(&p->src, opt, &p->pkg);
    if (pubkey_path) {
        opt->pubkey_pem = NULL;
        opt->pubkey_len = 0;
    }
    delta_buf_free(&key);
    return st;
}

void cli_package_close(cli_package *p)
{
    delta_package_free(p->pkg);
    delta_file_close(p->file);
    p->pkg = NULL;
    p->file = NULL;
}

const char *cli_signature_text(int state)
{
    switch (state) {
    case 2: return "verified";
    case 1: return "signed, not verified";
    default: return "unsigned";
    }
}

/* ---- in place and URCs ------------------------------------------------------ */

static void urc_emit(cli_urc *r, const char *line)
{
    if (r->emit) r->emit(r->ctx, line);
}

void cli_urc_start(cli_urc *r)
{
    if (r->started) return;
    r->started = 1;
    urc_emit(r, "+QIND: \"FOTA\",\"START\"");
}

void cli_urc_percent(cli_urc *r, int percent)
{
    if (percent <= r->percent || percent < 1) return;
    cli_urc_start(r);
    r->percent = percent;
    char line[48];
    snprintf(line, sizeof line, "+QIND: \"FOTA\",\"UPDATING\",%d", percent);
    urc_emit(r, line);
    if (r->pause_ms && r->emit) {
        struct timespec ts = {r->pause_ms / 1000, (long)(r->pause_ms % 1000) * 1000000L};
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {}
    }
}

int cli_urc_progress(void *ctx, uint64_t done, uint64_t total)
{
    cli_urc *r = ctx;
    cli_urc_start(r);
    int percent = total ? (int)(done >= total ? 100 : done * 100 / total) : 100;
    cli_urc_percent(r, percent);
    if (r->bar) cli_progress_fn(r->bar, done, total);
    return 0;
}

void cli_urc_end(cli_urc *r, delta_status status)
{
    int code = delta_dfota_code(status);
    /* START comes before success and before a failure while writing, never
     * before a refusal: nothing was under way (cli_update says so). */
    int writing = delta_status_is_write_failure(status) && !r->refused;
    if (status == DELTA_OK || writing) cli_urc_start(r);
    if (status == DELTA_OK) cli_urc_percent(r, 100);
    char line[48];
    snprintf(line, sizeof line, "+QIND: \"FOTA\",\"END\",%d", code < 0 ? 502 : code);
    urc_emit(r, line);
}

delta_status cli_check_source_file(const delta_package *pkg, size_t image, const char *path)
{
    delta_source src;
    delta_file *f = NULL;
    delta_status st = delta_file_source_open(path, &src, &f);
    if (!st) st = delta_package_check_source(pkg, image, &src);
    delta_file_close(f);
    return st;
}

delta_status cli_update(const cli *c, delta_file_update_params *p, cli_urc *rep, delta_update_result *res)
{
    p->progress = cli_urc_progress;
    p->progress_ctx = rep;
    delta_status st = delta_file_update(p, res);
    if (rep->bar) cli_progress_end(rep->bar);
    rep->refused = st != DELTA_OK && res->before == DELTA_UPDATE_NONE && res->after == DELTA_UPDATE_NONE;
    if (res->before != DELTA_UPDATE_NONE)
        cli_info(c, "resuming the update to %s found in the state directory (%u failed tries before)",
                 res->target_version, res->tries);
    if (!st && res->already) cli_info(c, "the images already hold version %s: nothing to do", res->target_version);
    else if (!st) cli_info(c, "updated to %s", res->target_version);
    return st;
}
