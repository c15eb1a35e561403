/* applydelta: applies a delta package in place (resumably) or out of place,
 * or a BSDIFF40 patch. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

enum {
    OPT_PUBKEY = 1, OPT_PROJECT, OPT_FROM, OPT_SOURCE, OPT_OUTPUT, OPT_IMAGE, OPT_STATE_DIR,
    OPT_SPACE, OPT_SLOT_SIZE, OPT_MAX_SIZE, OPT_URC, OPT_PROGRESS, OPT_FORMAT, OPT_FORCE, OPT_JSON
};

static const cli_option options[] = {
    {OPT_PUBKEY, 0, "pubkey", "PEM", "require a signature by this public key"},
    {OPT_PROJECT, 0, "project", "ID", "the device's project ID (505 when it differs)"},
    {OPT_FROM, 0, "from", "VERSION", "the device's firmware version (505 when it differs)"},
    {OPT_IMAGE, 0, "image", "[NAME=]FILE", "in place: the image to update (repeat per image)"},
    {OPT_SOURCE, 0, "source", "[NAME=]FILE", "out of place: the source image (repeat per image)"},
    {OPT_OUTPUT, 'o', "output", "[NAME=]FILE", "out of place: where the target goes (repeat)"},
    {OPT_FORCE, 'f', "force", NULL, "out of place: overwrite an existing --output"},
    {OPT_STATE_DIR, 0, "state-dir", "DIR", "in place: journal and scratch (<first image>.fota)"},
    {OPT_SPACE, 0, "space", "BYTES",
     "free space for state and scratch (default: the state dir's file system; 511)"},
    {OPT_SLOT_SIZE, 0, "slot-size", "[NAME=]BYTES", "the region's capacity (default: no limit; 511)"},
    {OPT_MAX_SIZE, 0, "max-size", "BYTES", "the largest package the device accepts (550)"},
    {OPT_URC, 0, "urc", NULL,
     "print the module's +QIND: \"FOTA\" URCs on stdout (END,502 for a failure outside "
     "the DFOTA codes)"},
    {OPT_PROGRESS, 0, "progress", NULL,
     "report progress on stderr even when it is not a terminal (a line per tenth)"},
    {OPT_JSON, 0, "json", NULL, "print a JSON report on stdout (schema libdelta-applydelta/1)"},
    {OPT_FORMAT, 0, "format", "FORMAT", "package (default) or bsdiff40: --source OLD --output NEW PATCH"},
    CLI_COMMON_OPTIONS
};

static const char exit_help[] =
    "  0      the target was written and its SHA-256 checked\n"
    "  4      504: the package (or patch) is malformed, corrupt or badly signed\n"
    "  5      505: the package is for another project or version\n"
    "  10     510: the delta does not match the source image, or another\n"
    "         package's update is in progress in the state directory\n"
    "  11     511: not enough space, or a target does not fit its region\n"
    "  50     550: the package is too large\n"
    "  2      502: an unknown error while writing (run again to resume)\n"
    "  20-30  520-530: writing failed (run again to resume)\n"
    "  40-46  540-546: the state is corrupt or the update was abandoned\n"
    "  1      any other failure (a file cannot be read, a key cannot be used, ...)\n"
    "  64     usage error\n"
    "Nothing is written before every check has passed. In place, a run that was\n"
    "interrupted (power cut, kill) resumes where it stopped when run again.\n";

typedef struct args {
    cli *c;
    const char *pubkey, *project, *from, *state_dir, *format;
    cli_named_list sources, outputs, images, slots;
    uint64_t space, max_size;
    int urc, progress, force;
} args;

static int handle(void *ctx, int id, const char *value)
{
    args *a = ctx;
    switch (id) {
    case OPT_PUBKEY: a->pubkey = value; return 0;
    case OPT_PROJECT: a->project = value; return 0;
    case OPT_FROM: a->from = value; return 0;
    case OPT_SOURCE: return cli_named_add(&a->sources, value);
    case OPT_OUTPUT: return cli_named_add(&a->outputs, value);
    case OPT_IMAGE: return cli_named_add(&a->images, value);
    case OPT_STATE_DIR: a->state_dir = value; return 0;
    case OPT_SPACE: return cli_size_option(a->c, "space", value, UINT64_MAX, &a->space);
    case OPT_MAX_SIZE: return cli_size_option(a->c, "max-size", value, UINT64_MAX, &a->max_size);
    case OPT_SLOT_SIZE: {
        uint64_t v;
        if (cli_named_add(&a->slots, value)) return -1;
        if (cli_parse_size(a->slots.items[a->slots.count - 1].value, &v) == 0) return 0;
        cli_usage_error(a->c, "--slot-size: '%s' is not [NAME=]BYTES", value);
        return -1;
    }
    case OPT_URC: a->urc = 1; return 0;
    case OPT_PROGRESS: a->progress = 1; return 0;
    case OPT_FORCE: a->force = 1; return 0;
    case OPT_JSON: a->c->json = 1; return 0;
    case OPT_FORMAT:
        if (strcmp(value, "package") && strcmp(value, "bsdiff40")) {
            cli_usage_error(a->c, "--format: '%s' is not package or bsdiff40", value);
            return -1;
        }
        a->format = value;
        return 0;
    }
    return -1;
}

/* ---- the JSON report (--json) ------------------------------------------------ */

/* What the run found out for the report (libdelta/report.h), gathered as it
 * goes; the library writes it with --json. */
static delta_applydelta_report report = DELTA_APPLYDELTA_REPORT_INIT;
static delta_file_image report_files[DELTA_MANIFEST_MAX_IMAGES];
static delta_update_result report_result;

/* Records the run's status; returns its exit status. */
static int finish(delta_status st)
{
    report.status = st;
    return cli_exit_status(st);
}

/* The files the run writes, for the report. */
static void report_files_are(const delta_file_image *files, size_t n)
{
    for (size_t i = 0; i < n; i++) report_files[i] = files[i];
    report.files = report_files;
    report.file_count = n;
}

/* ---- URCs ------------------------------------------------------------------ */

/* applydelta's URCs: one per line on stdout, flushed at once. */
static void print_urc(void *ctx, const char *line)
{
    printf("%s\n", line);
    fflush(stdout);
}

/* ---- helpers --------------------------------------------------------------- */

/* Capacity of image name's region from --slot-size, UINT64_MAX when not given. */
static uint64_t slot_of(const args *a, const char *name, size_t n)
{
    uint64_t v = UINT64_MAX;
    const char *s = cli_named_find(&a->slots, name ? name : "", n);
    if (s) cli_parse_size(s, &v);
    return v;
}

/* Resolves one [NAME=]FILE list against the package's images; 0 or a usage exit. */
static int resolve(cli *c, const delta_manifest *m, const cli_named_list *list, const char *opt,
                   const char **files)
{
    const char *names[DELTA_MANIFEST_MAX_IMAGES];
    for (size_t i = 0; i < m->image_count; i++) {
        names[i] = m->images[i].name;
        files[i] = cli_named_find(list, names[i], m->image_count);
        if (!files[i]) return cli_usage_error(c, "no --%s for image %s", opt, names[i]);
    }
    const cli_named *bad = cli_named_unknown(list, names, m->image_count);
    if (bad) {
        if (bad->name) return cli_usage_error(c, "--%s: the package has no image %s", opt, bad->name);
        return cli_usage_error(c, "--%s: name the image (NAME=FILE): the package has %zu", opt,
                               m->image_count);
    }
    return 0;
}

/* ---- in place --------------------------------------------------------------- */

/* The update session on the --image files; every check is the library's. */
static int apply_in_place(cli *c, const args *a, const char *package, delta_check_options *opt, cli_urc *rep)
{
    delta_file_image images[DELTA_MANIFEST_MAX_IMAGES];
    size_t n = a->images.count;
    if (n > DELTA_MANIFEST_MAX_IMAGES) return cli_usage_error(c, "at most %d --image", DELTA_MANIFEST_MAX_IMAGES);
    for (size_t i = 0; i < n; i++) {
        const cli_named *im = &a->images.items[i];
        if (!im->name && n > 1) return cli_usage_error(c, "--image: name each image (NAME=FILE)");
        for (size_t k = 0; k < i; k++)
            if (im->name && a->images.items[k].name && !strcmp(im->name, a->images.items[k].name))
                return cli_usage_error(c, "--image: image %s given twice", im->name);
        images[i] = (delta_file_image){im->name, im->value, slot_of(a, im->name, n)};
    }
    const char *names[DELTA_MANIFEST_MAX_IMAGES];
    for (size_t i = 0; i < n; i++) names[i] = a->images.items[i].name ? a->images.items[i].name : "";
    const cli_named *bad = cli_named_unknown(&a->slots, names, n);
    if (bad && bad->name) return cli_usage_error(c, "--slot-size: no --image %s", bad->name);
    if (a->state_dir && !*a->state_dir) return cli_usage_error(c, "--state-dir: the name is empty");

    delta_file_update_params up = DELTA_FILE_UPDATE_PARAMS_INIT;
    up.package = package;
    up.images = images;
    up.image_count = n;
    up.state_dir = a->state_dir;
    up.free_space = a->space;
    up.check = *opt;
    up.all_regions = 1;
    delta_update_result res;
    memset(&res, 0, sizeof res);
    delta_status st = cli_update(c, &up, rep, &res);
    cli_urc_end(rep, st);
    if (st) cli_fail(c, st, "update failed");
    report_files_are(images, n);
    report_result = res;
    report.result = &report_result;
    return finish(st);
}

/* ---- out of place ------------------------------------------------------------ */

/* Writes image i's target to a temporary beside out, checks it, renames it into place. */
static delta_status write_target(cli *c, const delta_package *pkg, size_t i, const char *source,
                                 const char *out, int force, const char **what, cli_urc *rep)
{
    int fd;
    char *tmp = cli_temp_beside(out, &fd);
    if (!tmp) {
        cli_error(c, "%s: cannot create a temporary file: %s", out, strerror(errno));
        *what = NULL;
        return DELTA_ERR_OUTPUT;
    }
    close(fd);
    delta_source src, written;
    delta_sink sink;
    delta_file *sf = NULL, *of = NULL, *wf = NULL;
    *what = "cannot read the source image";
    delta_status st = delta_file_source_open(source, &src, &sf);
    if (!st) {
        *what = "cannot write the target";
        st = delta_file_sink_open(tmp, &sink, &of);
    }
    if (!st) {
        cli_urc_start(rep);
        st = delta_package_apply_out_of_place(pkg, i, &src, &sink);
    }
    if (!st) st = delta_file_sync(of);
    delta_file_close(of);
    delta_file_close(sf);
    if (!st) st = delta_file_source_open(tmp, &written, &wf);
    if (!st) st = delta_package_check_target(pkg, i, &written);
    delta_file_close(wf);
    if (!st && chmod(tmp, 0644) < 0) {
        cli_error(c, "%s: cannot set the mode: %s", tmp, strerror(errno));
        *what = NULL;
        st = DELTA_ERR_OUTPUT;
    }
    if (!st && (st = cli_install(c, tmp, out, force)) != DELTA_OK) *what = NULL; /* reported */
    if (st) unlink(tmp);
    free(tmp);
    return st;
}

static int apply_out_of_place(cli *c, const args *a, cli_package *p, cli_urc *rep)
{
    const delta_manifest *m = delta_package_manifest(p->pkg);
    size_t n = m->image_count;
    const char *sources[DELTA_MANIFEST_MAX_IMAGES], *outputs[DELTA_MANIFEST_MAX_IMAGES];
    int rc = resolve(c, m, &a->sources, "source", sources);
    if (!rc) rc = resolve(c, m, &a->outputs, "output", outputs);
    if (rc) return rc;
    delta_file_image files[DELTA_MANIFEST_MAX_IMAGES];
    for (size_t i = 0; i < n; i++) files[i] = (delta_file_image){m->images[i].name, outputs[i], UINT64_MAX};
    report_files_are(files, n);
    report.package = p->pkg;

    const char *names[DELTA_MANIFEST_MAX_IMAGES];
    for (size_t i = 0; i < n; i++) names[i] = m->images[i].name;
    const cli_named *bad = cli_named_unknown(&a->slots, names, n);
    if (bad && bad->name) return cli_usage_error(c, "--slot-size: the package has no image %s", bad->name);
    delta_status st = DELTA_OK;
    for (size_t i = 0; i < n && !st; i++)
        if (cli_may_overwrite(c, outputs[i], a->force)) st = DELTA_ERR_OUTPUT;
    if (st) {
        cli_urc_end(rep, st);
        return finish(st);
    }
    const char *what = "cannot read the source image";
    /* Every check first: slots (511), then every source (510). */
    for (size_t i = 0; i < n && !st; i++) {
        st = delta_package_check_slot(p->pkg, i, slot_of(a, m->images[i].name, n));
        what = "cannot apply";
    }
    for (size_t i = 0; i < n && !st; i++) st = cli_check_source_file(p->pkg, i, sources[i]);
    for (size_t i = 0; i < n && !st; i++) {
        st = write_target(c, p->pkg, i, sources[i], outputs[i], a->force, &what, rep);
        if (!st) cli_urc_progress(rep, i + 1, n);
    }
    if (rep->bar) cli_progress_end(rep->bar);
    cli_urc_end(rep, st);
    if (st && what) cli_fail(c, st, what);
    return finish(st);
}

/* ---- BSDIFF40 ------------------------------------------------------------------ */

static int apply_bsdiff40(cli *c, const args *a, const char *patch_path)
{
    if (a->sources.count != 1 || a->outputs.count != 1 || a->sources.items[0].name ||
        a->outputs.items[0].name || a->images.count)
        return cli_usage_error(c, "--format bsdiff40 takes --source OLD --output NEW PATCH");
    const char *out = a->outputs.items[0].value;
    report_files_are(&(delta_file_image){NULL, out, UINT64_MAX}, 1);
    if (cli_may_overwrite(c, out, a->force)) return finish(DELTA_ERR_OUTPUT);
    delta_source src, patch;
    delta_sink sink;
    delta_file *sf = NULL, *pf = NULL, *of = NULL;
    const char *what = "cannot read the source";
    delta_status st = delta_file_source_open(a->sources.items[0].value, &src, &sf);
    if (!st) {
        what = "cannot read the patch";
        st = delta_file_source_open(patch_path, &patch, &pf);
    }
    int fd = -1;
    char *tmp = NULL;
    if (!st) {
        tmp = cli_temp_beside(out, &fd);
        if (!tmp) {
            cli_error(c, "%s: cannot create a temporary file: %s", out, strerror(errno));
            what = NULL;
            st = DELTA_ERR_OUTPUT;
        } else {
            close(fd);
        }
    }
    if (!st) {
        what = "cannot write the target";
        st = delta_file_sink_open(tmp, &sink, &of);
    }
    uint64_t len = 0;
    if (!st) {
        what = "cannot apply the patch";
        st = delta_bsdiff40_apply(&src, &patch, &sink, &len);
    }
    if (!st) st = delta_file_sync(of);
    delta_file_close(of);
    delta_file_close(sf);
    delta_file_close(pf);
    if (!st && chmod(tmp, 0644) < 0) {
        cli_error(c, "%s: cannot set the mode: %s", tmp, strerror(errno));
        what = NULL;
        st = DELTA_ERR_OUTPUT;
    }
    if (!st && (st = cli_install(c, tmp, out, a->force)) != DELTA_OK) what = NULL; /* reported */
    if (st && tmp) unlink(tmp);
    free(tmp);
    if (st && what) cli_fail(c, st, what);
    if (!st) cli_info(c, "%s: %llu bytes written", out, (unsigned long long)len);
    if (!st) report.target_size = len;
    return finish(st);
}

int main(int argc, char **argv)
{
    cli c = {.tool = "applydelta",
             .usage = "--pubkey PEM --project ID --from VERSION --image [NAME=]FILE... PKG.zip\n"
                      "--pubkey PEM --project ID --from VERSION --source [NAME=]OLD... --output [NAME=]NEW... PKG.zip\n"
                      "--format bsdiff40 --source OLD --output NEW PATCH",
             .description = "Applies a delta package after every check of verifydelta has passed.\n"
                            "In place (--image): resumable after a power cut or kill at any instant;\n"
                            "journal and scratch live in the state directory, which is created only\n"
                            "after the checks pass and removed on success. Out of place (--source,\n"
                            "--output): each target is written to a temporary file beside the output,\n"
                            "its SHA-256 checked, then renamed into place.",
             .exit_help = exit_help,
             .options = options};
    args a = {.c = &c, .format = "package", .space = UINT64_MAX, .max_size = UINT64_MAX};
    cli_package p;
    memset(&p, 0, sizeof p);
    cli_progress bar;
    int rc = cli_parse(&c, argc, argv, handle, &a);
    if (rc >= 0) goto done;
    rc = CLI_EXIT_USAGE;
    if (c.npos != 1) {
        cli_usage_error(&c, "expected one package, got %d", c.npos);
        goto done;
    }
    if (c.json && a.urc) {
        cli_usage_error(&c, "--json and --urc both print on stdout: give one");
        goto done;
    }
    int bsdiff = strcmp(a.format, "bsdiff40") == 0;
    int inplace = a.images.count > 0;
    report.mode = bsdiff ? DELTA_REPORT_MODE_BSDIFF40 : inplace ? DELTA_REPORT_MODE_IN_PLACE
                                                                : DELTA_REPORT_MODE_OUT_OF_PLACE;
    report.path = c.pos[0];
    report.status = DELTA_ERR_ARG;
    if (bsdiff) {
        rc = apply_bsdiff40(&c, &a, c.pos[0]);
        goto done;
    }
    if (inplace && (a.sources.count || a.outputs.count)) {
        cli_usage_error(&c, "give either --image (in place) or --source and --output");
        goto done;
    }
    if (!inplace && (!a.sources.count || !a.outputs.count)) {
        cli_usage_error(&c, "give --image (in place) or --source and --output (out of place)");
        goto done;
    }
    if (!a.pubkey) cli_note(&c, "no --pubkey: the signature is not checked");

    cli_urc rep = {.emit = a.urc ? print_urc : NULL};
    cli_progress_init(&bar, &c, "applying", a.progress);
    if (!a.urc && bar.mode != CLI_PROGRESS_OFF) rep.bar = &bar;

    delta_check_options opt = DELTA_CHECK_OPTIONS_INIT;
    opt.project = a.project;
    opt.firmware_version = a.from;
    opt.max_package = a.max_size;
    opt.free_space = a.space;
    if (inplace) {
        delta_buf key = DELTA_BUF_INIT;
        delta_status st = a.pubkey ? cli_read_key(a.pubkey, &key, &opt) : DELTA_OK;
        if (st) {
            cli_urc_end(&rep, st);
            rc = cli_fail(&c, st, "cannot read the public key");
            report.status = st;
        } else if (a.pubkey && (st = cli_key_kind(&c, "pubkey", a.pubkey, &key, 0)) != DELTA_OK) {
            cli_urc_end(&rep, st);
            rc = finish(st);
        } else {
            rc = apply_in_place(&c, &a, c.pos[0], &opt, &rep);
        }
        delta_buf_free(&key);
        goto done;
    }
    delta_buf key = DELTA_BUF_INIT;
    delta_status st = DELTA_OK;
    if (a.pubkey) {
        st = cli_read_key(a.pubkey, &key, &opt);
        if (st) rc = cli_fail(&c, st, "cannot read the public key");
        else if ((st = cli_key_kind(&c, "pubkey", a.pubkey, &key, 0)) != DELTA_OK) rc = cli_exit_status(st);
    }
    if (!st) {
        st = cli_package_open(&p, c.pos[0], NULL, &opt);
        if (st) rc = cli_fail(&c, st, "cannot open the package");
    }
    delta_buf_free(&key);
    if (st) {
        cli_urc_end(&rep, st);
        report.status = st;
        goto done;
    }
    rc = apply_out_of_place(&c, &a, &p, &rep);
done:
    if (c.json && rc != CLI_EXIT_USAGE) {
        report.message = cli_last_message();
        delta_buf json = DELTA_BUF_INIT;
        if (cli_report_print(&c, delta_applydelta_report_write(&report, &json), &json) && !rc) rc = CLI_EXIT_FAILURE;
    }
    cli_package_close(&p);
    cli_named_free(&a.sources);
    cli_named_free(&a.outputs);
    cli_named_free(&a.images);
    cli_named_free(&a.slots);
    free(c.pos);
    return rc;
}
