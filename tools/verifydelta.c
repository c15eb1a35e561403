/* verifydelta: checks a package against a device before anything is written. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

enum {
    OPT_PUBKEY = 1, OPT_PROJECT, OPT_FROM, OPT_SOURCE, OPT_NO_SOURCE, OPT_SPACE, OPT_MAX_SIZE,
    OPT_JSON, OPT_DRY_RUN, OPT_PROGRESS
};

static const cli_option options[] = {
    {OPT_PUBKEY, 0, "pubkey", "PEM", "require a signature by this public key"},
    {OPT_PROJECT, 0, "project", "ID", "the device's project ID (505 when it differs)"},
    {OPT_FROM, 0, "from", "VERSION", "the device's firmware version (505 when it differs)"},
    {OPT_SOURCE, 0, "source", "[NAME=]FILE", "the device's current image (repeat per image; 510)"},
    {OPT_NO_SOURCE, 0, "no-source", NULL, "check no source image (510 is not tested)"},
    {OPT_SPACE, 0, "space", "BYTES", "the device's free space for state and scratch (511)"},
    {OPT_MAX_SIZE, 0, "max-size", "BYTES",
     "the largest package the device accepts (550; also the cap on a package read from stdin, 2G)"},
    {OPT_JSON, 0, "json", NULL,
     "print the report as one JSON object on stdout (schema libdelta-verifydelta/1)"},
    {OPT_DRY_RUN, 0, "dry-run", NULL,
     "also rebuild every target in place on a temporary copy of its source"},
    {OPT_PROGRESS, 0, "progress", NULL,
     "report the dry run's progress on stderr even when it is not a terminal"},
    CLI_COMMON_OPTIONS
};

static const char exit_help[] =
    "  0      the package passed every check\n"
    "  4      504: the package file is malformed, corrupt or badly signed\n"
    "  5      505: the package is for another project or version\n"
    "  10     510: the delta does not match the source image\n"
    "  11     511: not enough space, or a target does not fit its region\n"
    "  50     550: the package is too large\n"
    "  2, 20-30, 40-46   502, 520-530, 540-546: the dry run failed while writing\n"
    "  1      any other failure (a file cannot be read, a key cannot be used, ...)\n"
    "  64     usage error\n";

typedef struct args {
    cli *c;
    const char *pubkey, *project, *from;
    cli_named_list sources;
    int no_source, dry_run, progress;
    uint64_t space, max_size;
} args;

static int handle(void *ctx, int id, const char *value)
{
    args *a = ctx;
    switch (id) {
    case OPT_PUBKEY: a->pubkey = value; return 0;
    case OPT_PROJECT: a->project = value; return 0;
    case OPT_FROM: a->from = value; return 0;
    case OPT_SOURCE: return cli_named_add(&a->sources, value);
    case OPT_NO_SOURCE: a->no_source = 1; return 0;
    case OPT_SPACE: return cli_size_option(a->c, "space", value, UINT64_MAX, &a->space);
    case OPT_MAX_SIZE: return cli_size_option(a->c, "max-size", value, UINT64_MAX, &a->max_size);
    case OPT_JSON: a->c->json = 1; return 0;
    case OPT_DRY_RUN: a->dry_run = 1; return 0;
    case OPT_PROGRESS: a->progress = 1; return 0;
    }
    return -1;
}

/* Rebuilds every target in place on temporary copies of the sources (the
 * library's dry run), with the bar as its progress. */
static delta_status dry_run(cli *c, const args *a, const char *package, const delta_buf *bytes,
                            const delta_package *pkg, const delta_check_options *opt, const char *const *sources)
{
    const delta_manifest *m = delta_package_manifest(pkg);
    delta_file_image images[DELTA_MANIFEST_MAX_IMAGES];
    for (size_t i = 0; i < m->image_count; i++)
        images[i] = (delta_file_image){m->images[i].name, sources[i], UINT64_MAX};
    cli_progress bar;
    cli_progress_init(&bar, c, "dry run", a->progress);
    delta_file_dry_run_params dp = DELTA_FILE_DRY_RUN_PARAMS_INIT;
    if (bytes) {
        dp.package_data = bytes->data;
        dp.package_len = bytes->len;
    } else {
        dp.package = package;
    }
    dp.sources = images;
    dp.source_count = m->image_count;
    dp.check = opt;
    dp.progress = cli_progress_fn;
    dp.progress_ctx = &bar;
    delta_status st = delta_file_dry_run(&dp, NULL);
    cli_progress_end(&bar);
    return st;
}

static void print_report(const args *a, const cli_package *p, const char *dry)
{
    const delta_manifest *m = delta_package_manifest(p->pkg);
    printf("package:   %s (%llu bytes)\n", p->path, (unsigned long long)p->src.size);
    printf("project:   %s\n", m->project);
    printf("versions:  %s -> %s\n", m->source_version, m->target_version);
    printf("signature: %s\n", cli_signature_text(delta_package_signature_state(p->pkg)));
    printf("space:     %llu bytes needed\n", (unsigned long long)m->space_needed);
    delta_update_layout l;
    delta_update_layout_of(m, &l);
    printf("state:     manifest copy %llu, work %llu, patch copies %llu, rollback backup %llu, "
           "journal %llu bytes\n", (unsigned long long)(l.work_offset - l.manifest_offset),
           (unsigned long long)(l.patch_offset[0] - l.work_offset), (unsigned long long)l.patch_bytes,
           (unsigned long long)l.backup_bytes, (unsigned long long)l.state_bytes);
    for (size_t i = 0; i < m->image_count; i++) {
        const delta_manifest_image *im = &m->images[i];
        const delta_plan_report *r = delta_package_report(p->pkg, i);
        printf("image %s: %llu -> %llu bytes, slot %llu, patch %llu bytes (%s), block %u\n",
               im->name, (unsigned long long)im->source_size, (unsigned long long)im->target_size,
               (unsigned long long)im->slot_size, (unsigned long long)im->patch_size,
               im->compression, im->block_size);
        printf("  proof: %llu blocks written, %llu stashes, max %u stashes live, "
               "%llu scratch bytes, %llu RAM bytes\n",
               (unsigned long long)r->blocks_written, (unsigned long long)r->stashes,
               r->max_stash_live, (unsigned long long)r->scratch_bytes,
               (unsigned long long)r->ram_bytes);
    }
    printf("source:    %s\n", a->no_source ? "not checked" : "matches");
    if (dry) printf("dry run:   %s\n", dry);
}

/* The package from stdin ("-"), whole in memory: at most --max-size or 2 GiB. */
static delta_status open_stdin(cli *c, const args *a, delta_buf *bytes, cli_package *p,
                               const delta_check_options *opt, int *reported)
{
    uint64_t cap = a->max_size != UINT64_MAX ? a->max_size : DELTA_MAX_IMAGE_SIZE;
    delta_status st = cli_read_stdin(c, cap, a->max_size != UINT64_MAX ? "--max-size" : "the 2G cap of -",
                                     bytes);
    *reported = st != DELTA_OK;
    if (st) return st;
    delta_source_from_memory(&p->src, bytes->data, bytes->len);
    return delta_package_open(&p->src, opt, &p->pkg);
}

int main(int argc, char **argv)
{
    cli c = {.tool = "verifydelta",
             .usage = "[--pubkey PEM] [--project ID] [--from VERSION] --source [NAME=]FILE...\n"
                      "    [--space BYTES] [--max-size BYTES] [--json] [--dry-run] PKG.zip|-",
             .description = "Checks a delta package as the device would before writing anything:\n"
                            "size (550), zip, signature, manifest, members and in-place proof (504),\n"
                            "project and version (505), space (511), then each source image (510).\n"
                            "Every image needs a --source unless --no-source. Nothing is written\n"
                            "(--dry-run works on temporary copies in $TMPDIR). A package of - is\n"
                            "read from stdin into memory, at most --max-size (default 2G) bytes.",
             .exit_help = exit_help,
             .options = options};
    args a = {.c = &c, .space = UINT64_MAX, .max_size = UINT64_MAX};
    cli_package p;
    memset(&p, 0, sizeof p);
    delta_verifydelta_report report = DELTA_VERIFYDELTA_REPORT_INIT;
    delta_buf bytes = DELTA_BUF_INIT, key = DELTA_BUF_INIT;
    int rc = cli_parse(&c, argc, argv, handle, &a);
    if (rc >= 0) goto done;
    rc = CLI_EXIT_USAGE;
    if (c.npos != 1) {
        cli_usage_error(&c, "expected one package, got %d", c.npos);
        goto done;
    }
    if (a.no_source && a.sources.count) {
        cli_usage_error(&c, "--no-source and --source exclude each other");
        goto done;
    }
    if (a.no_source && a.dry_run) {
        cli_usage_error(&c, "--dry-run needs the source images (--source)");
        goto done;
    }
    int from_stdin = strcmp(c.pos[0], "-") == 0;
    for (size_t i = 0; i < a.sources.count; i++)
        if (from_stdin && strcmp(a.sources.items[i].value, "-") == 0) {
            cli_usage_error(&c, "the package is read from stdin: a --source cannot be - too");
            goto done;
        }
    if (!a.pubkey) cli_note(&c, "no --pubkey: the signature is not checked");
    if (a.no_source) cli_note(&c, "--no-source: the source images are not checked (510)");

    report.path = c.pos[0];
    delta_check_options opt = DELTA_CHECK_OPTIONS_INIT;
    opt.project = a.project;
    opt.firmware_version = a.from;
    opt.free_space = a.space;
    opt.max_package = a.max_size;
    const char *what = "cannot open the package";
    delta_status st = DELTA_OK;
    if (a.pubkey) {
        st = cli_read_key(a.pubkey, &key, &opt);
        if (st) what = "cannot read the public key";
        else if ((st = cli_key_kind(&c, "pubkey", a.pubkey, &key, 0)) != DELTA_OK) what = NULL;
    }
    if (!st && from_stdin) {
        p.path = "-";
        int reported;
        st = open_stdin(&c, &a, &bytes, &p, &opt, &reported);
        if (reported) what = NULL;
    } else if (!st) {
        st = cli_package_open(&p, c.pos[0], NULL, &opt);
    }
    const char *dry = NULL;
    if (!st) {
        const delta_manifest *m = delta_package_manifest(p.pkg);
        const char *names[DELTA_MANIFEST_MAX_IMAGES];
        const char *sources[DELTA_MANIFEST_MAX_IMAGES];
        for (size_t i = 0; i < m->image_count; i++) {
            names[i] = m->images[i].name;
            sources[i] = cli_named_find(&a.sources, names[i], m->image_count);
            if (!sources[i] && !a.no_source) {
                cli_usage_error(&c, "no --source for image %s", names[i]);
                goto done;
            }
            if (sources[i] && strcmp(sources[i], "-") == 0) sources[i] = "/dev/stdin";
        }
        const cli_named *bad = cli_named_unknown(&a.sources, names, m->image_count);
        if (bad) {
            if (bad->name)
                cli_usage_error(&c, "--source: the package has no image %s", bad->name);
            else
                cli_usage_error(&c, "--source: name the image (NAME=FILE): the package has %zu",
                                m->image_count);
            goto done;
        }
        report.package = p.pkg;
        report.package_bytes = p.src.size;
        report.source_checked = !a.no_source;
        for (size_t i = 0; i < m->image_count && !st && !a.no_source; i++) {
            st = cli_check_source_file(p.pkg, i, sources[i]);
            what = "cannot read the source image";
        }
        if (!st && a.dry_run) {
            st = dry_run(&c, &a, c.pos[0], from_stdin ? &bytes : NULL, p.pkg, &opt, sources);
            what = "dry run";
            dry = st ? "failed" : "every target rebuilt and its SHA-256 checked";
            report.dry_run = 1;
        }
    }
    rc = cli_exit_status(st);
    if (st && what) cli_fail(&c, st, what);
    if (c.json) {
        report.status = st;
        report.message = cli_last_message();
        delta_buf json = DELTA_BUF_INIT;
        if (cli_report_print(&c, delta_verifydelta_report_write(&report, &json), &json) && !rc) rc = CLI_EXIT_FAILURE;
    } else if (!st && !c.quiet) {
        print_report(&a, &p, dry);
    }
done:
    delta_buf_free(&key);
    delta_package_free(p.pkg);
    p.pkg = NULL;
    cli_package_close(&p);
    delta_buf_free(&bytes);
    cli_named_free(&a.sources);
    free(c.pos);
    return rc;
}
