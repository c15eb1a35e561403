/*
 * The JSON reports of the three tools (libdelta/report.h), parsed back with
 * jansson: exact keys in order, exact values, the status derived from the
 * status, contradictory facts refused; and the dry run on temporary copies
 * (delta_file_dry_run): nothing left behind on success, on a refusal, on a
 * source that does not match and on a copy that fails half-way, and the
 * sources never written.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "libdelta/report.h"
#include "testutil.h"

#define PROJECT "PYBRICKS-CITYHUB"
#define FROM "7.27.0"
#define TO "7.28.0"

typedef struct fixture {
    uint8_t *src, *tgt, *other, *key, *pub;
    size_t src_len, tgt_len, other_len, key_len, pub_len;
    delta_buf pkg;            /* src -> tgt, signed */
    delta_make_report make;
    delta_source pkg_src;
    delta_package *opened;    /* pkg, opened with the public key: "verified" */
} fixture;

static fixture F;

static delta_buf make_pkg(const delta_make_image *im, size_t n, delta_make_report *rep)
{
    delta_make_options opt = DELTA_MAKE_OPTIONS_INIT;
    opt.project = PROJECT;
    opt.source_version = FROM;
    opt.target_version = TO;
    opt.key_pem = (const char *)F.key;
    opt.key_len = F.key_len;
    delta_buf out = DELTA_BUF_INIT;
    delta_status st = delta_package_make(&opt, im, n, &out, rep);
    cr_assert_eq(st, DELTA_OK, "make: %s", delta_last_error());
    return out;
}

static void load(void)
{
    F.src = tu_read_file(DELTA_TEST_DATA "/firmware/cityhub-7.27.0.bin", &F.src_len);
    F.tgt = tu_read_file(DELTA_TEST_DATA "/firmware/cityhub-7.28.0.bin", &F.tgt_len);
    F.other = tu_read_file(DELTA_TEST_DATA "/firmware/cityhub-7.22.0.bin", &F.other_len);
    F.key = tu_read_file(DELTA_TEST_DATA "/keys/ec-p256.pem", &F.key_len);
    F.pub = tu_read_file(DELTA_TEST_DATA "/keys/ec-p256.pub.pem", &F.pub_len);
    delta_make_image im = {"firmware", F.src, F.src_len, F.tgt, F.tgt_len, 0};
    F.pkg = make_pkg(&im, 1, &F.make);
    delta_check_options opt = DELTA_CHECK_OPTIONS_INIT;
    opt.pubkey_pem = (const char *)F.pub;
    opt.pubkey_len = F.pub_len;
    delta_source_from_memory(&F.pkg_src, F.pkg.data, F.pkg.len);
    cr_assert_eq(delta_package_open(&F.pkg_src, &opt, &F.opened), DELTA_OK, "%s", delta_last_error());
}

static void unload(void)
{
    delta_package_free(F.opened);
    delta_buf_free(&F.pkg);
    free(F.src); free(F.tgt); free(F.other); free(F.key); free(F.pub);
}

TestSuite(report, .init = load, .fini = unload);
TestSuite(dry_run, .init = load, .fini = unload);

/* ---- helpers ---------------------------------------------------------------- */

/* Parses a written report: one object, the text ends in a newline and a NUL past len. */
static json_t *parse(const delta_buf *b)
{
    cr_assert(b->len > 0 && b->data[b->len - 1] == '\n', "the text ends in a newline");
    cr_assert_eq(b->data[b->len], '\0', "a NUL follows the text");
    json_error_t err;
    json_t *j = json_loadb((const char *)b->data, b->len, JSON_REJECT_DUPLICATES, &err);
    cr_assert(j != NULL, "not JSON: %s", err.text);
    cr_assert(json_is_object(j));
    return j;
}

/* obj's keys are exactly keys (a NULL-terminated list), in that order. */
static void assert_keys(json_t *obj, const char *const *keys)
{
    size_t n = 0;
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v) {
        cr_assert(keys[n] != NULL, "unexpected key %s", k);
        cr_assert_str_eq(k, keys[n], "key %zu", n);
        n++;
    }
    (void)v;
    cr_assert_null(keys[n], "missing key %s", keys[n]);
}

static const char *str_of(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    cr_assert(json_is_string(v), "%s is a string", key);
    return json_string_value(v);
}

static long long int_of(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    cr_assert(json_is_integer(v), "%s is an integer", key);
    return json_integer_value(v);
}

static int bool_of(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    cr_assert(json_is_boolean(v), "%s is a boolean", key);
    return json_is_true(v);
}

static const char *const PACKAGE_IMAGE_KEYS[] = {
    "name", "source_size", "target_size", "slot_size", "patch_bytes", "compression", "block_size", "inplace",
    "blocks_written", "stashes", "max_stash_live", "scratch_bytes", "ram_bytes", NULL};

/* An image object carries the package's image i: the manifest's and the proof's figures. */
static void assert_image(json_t *im, const delta_package *pkg, size_t i)
{
    const delta_manifest_image *m = &delta_package_manifest(pkg)->images[i];
    const delta_plan_report *r = delta_package_report(pkg, i);
    cr_assert_str_eq(str_of(im, "name"), m->name);
    cr_assert_eq(int_of(im, "source_size"), (long long)m->source_size);
    cr_assert_eq(int_of(im, "target_size"), (long long)m->target_size);
    cr_assert_eq(int_of(im, "slot_size"), (long long)m->slot_size);
    cr_assert_eq(int_of(im, "patch_bytes"), (long long)m->patch_size);
    cr_assert_str_eq(str_of(im, "compression"), "lzma2");
    cr_assert_eq(int_of(im, "block_size"), 4096);
    cr_assert(bool_of(im, "inplace"));
    cr_assert_eq(int_of(im, "blocks_written"), (long long)r->blocks_written);
    cr_assert_eq(int_of(im, "stashes"), (long long)r->stashes);
    cr_assert_eq(int_of(im, "max_stash_live"), (long long)r->max_stash_live);
    cr_assert_eq(int_of(im, "scratch_bytes"), (long long)r->scratch_bytes);
    cr_assert_eq(int_of(im, "ram_bytes"), (long long)r->ram_bytes);
    cr_assert_eq(r->ram_bytes, m->decoder_memory, "ram_bytes is the manifest's decoder_memory");
}

/* The keys every package report shares, after the first ones. */
static void assert_package(json_t *j, const delta_package *pkg, const char *signature)
{
    const delta_manifest *m = delta_package_manifest(pkg);
    cr_assert_str_eq(str_of(j, "project"), PROJECT);
    cr_assert_str_eq(str_of(j, "source_version"), FROM);
    cr_assert_str_eq(str_of(j, "target_version"), TO);
    cr_assert_str_eq(str_of(j, "created_by"), "libdelta-" DELTA_VERSION_STRING);
    cr_assert_str_eq(str_of(j, "signature"), signature);
    cr_assert_eq(int_of(j, "space_needed"), (long long)m->space_needed);
    json_t *images = json_object_get(j, "images");
    cr_assert(json_is_array(images));
    cr_assert_eq(json_array_size(images), m->image_count);
}

static void assert_ok(json_t *j)
{
    cr_assert_eq(int_of(j, "code"), 0);
    cr_assert_eq(int_of(j, "exit"), 0);
    cr_assert_str_eq(str_of(j, "status"), "ok");
    cr_assert_null(json_object_get(j, "message"));
}

/* ---- the status ------------------------------------------------------------- */

Test(report, exit_status_is_the_dfota_code_minus_500_else_1)
{
    cr_assert_eq(delta_exit_status(DELTA_OK), 0);
    cr_assert_eq(delta_exit_status(DELTA_ERR_SOURCE), 10);
    cr_assert_eq(delta_exit_status(DELTA_ERR_VERSION), 5);
    cr_assert_eq(delta_exit_status(DELTA_ERR_TOO_LARGE), 50);
    cr_assert_eq(delta_exit_status(DELTA_ERR_NOMEM), 2);
    cr_assert_eq(delta_exit_status(DELTA_ERR_UNRECOVERABLE), 46);
    cr_assert_eq(delta_exit_status(DELTA_ERR_ARG), 1);
    cr_assert_eq(delta_exit_status(DELTA_ERR_OUTPUT), 1);
}

Test(report, init_functions_fill_the_defaults_and_refuse_unknown_versions)
{
    delta_mkdelta_report m;
    memset(&m, 0xAB, sizeof m);
    cr_assert_eq(delta_mkdelta_report_init(&m, DELTA_MKDELTA_REPORT_VERSION), DELTA_OK);
    cr_assert_eq(m.version, 1);
    cr_assert_null(m.output);
    cr_assert_null(m.package);
    cr_assert_eq(m.status, DELTA_OK);
    delta_verifydelta_report v;
    cr_assert_eq(delta_verifydelta_report_init(&v, 1), DELTA_OK);
    cr_assert_eq(v.source_checked, 1);
    cr_assert_eq(v.dry_run, 0);
    delta_applydelta_report a;
    cr_assert_eq(delta_applydelta_report_init(&a, 1), DELTA_OK);
    cr_assert_eq(a.file_count, 0);
    delta_file_dry_run_params p;
    cr_assert_eq(delta_file_dry_run_params_init(&p, 1), DELTA_OK);
    cr_assert_eq(p.version, 1);
    cr_assert_null(p.temp_dir);

    cr_assert_eq(delta_mkdelta_report_init(&m, 0), DELTA_ERR_ARG);
    cr_assert_eq(delta_verifydelta_report_init(&v, 2), DELTA_ERR_ARG);
    cr_assert_eq(delta_applydelta_report_init(&a, 2), DELTA_ERR_ARG);
    cr_assert_eq(delta_file_dry_run_params_init(&p, 2), DELTA_ERR_ARG);
    cr_assert_eq(delta_mkdelta_report_init(NULL, 1), DELTA_ERR_ARG);
}

/* ---- mkdelta -------------------------------------------------------------------- */

Test(report, mkdelta_package_made_has_every_key_and_the_makers_statistics)
{
    delta_mkdelta_report r = DELTA_MKDELTA_REPORT_INIT;
    r.output = "update.zip";
    r.package = F.opened;
    r.package_bytes = F.pkg.len;
    r.make = &F.make;
    delta_buf b = DELTA_BUF_INIT;
    cr_assert_eq(delta_mkdelta_report_write(&r, &b), DELTA_OK, "%s", delta_last_error());
    json_t *j = parse(&b);
    static const char *const keys[] = {"schema", "output", "format", "package_bytes", "project", "source_version",
                                       "target_version", "created_by", "signature", "space_needed", "images",
                                       "code", "exit", "status", NULL};
    assert_keys(j, keys);
    cr_assert_str_eq(str_of(j, "schema"), "libdelta-mkdelta/1");
    cr_assert_str_eq(str_of(j, "output"), "update.zip");
    cr_assert_str_eq(str_of(j, "format"), "package");
    cr_assert_eq(int_of(j, "package_bytes"), (long long)F.pkg.len);
    assert_package(j, F.opened, "verified");
    json_t *im = json_array_get(json_object_get(j, "images"), 0);
    static const char *const image_keys[] = {
        "name", "source_size", "target_size", "slot_size", "patch_bytes", "compression", "block_size", "inplace",
        "blocks_written", "stashes", "max_stash_live", "scratch_bytes", "ram_bytes", "commands",
        "literal_conversions", "copy_bytes", "extra_bytes", "ctrl_bytes", "diff_bytes", "extra_stream_bytes",
        "predicted_segments", "map_entries", NULL};
    assert_keys(im, image_keys);
    assert_image(im, F.opened, 0);
    cr_assert_str_eq(str_of(im, "name"), "firmware");
    cr_assert_eq(int_of(im, "source_size"), (long long)F.src_len);
    cr_assert_eq(int_of(im, "target_size"), (long long)F.tgt_len);
    cr_assert_eq(int_of(im, "patch_bytes"), (long long)F.make.patch_bytes[0]);
    const delta_patch_stats *s = &F.make.stats[0];
    cr_assert_eq(int_of(im, "commands"), (long long)s->commands);
    cr_assert(s->commands > 0);
    cr_assert_eq(int_of(im, "literal_conversions"), (long long)s->literal_conversions);
    cr_assert_eq(int_of(im, "copy_bytes"), (long long)s->copy_bytes);
    cr_assert_eq(int_of(im, "extra_bytes"), (long long)s->extra_bytes);
    cr_assert_eq(int_of(im, "ctrl_bytes"), (long long)s->ctrl_bytes);
    cr_assert_eq(int_of(im, "diff_bytes"), (long long)s->diff_bytes);
    cr_assert_eq(int_of(im, "extra_stream_bytes"), (long long)s->extra_stream_bytes);
    cr_assert_eq(int_of(im, "predicted_segments"), (long long)s->predicted_segments);
    cr_assert_eq(int_of(im, "map_entries"), (long long)s->map_entries);
    assert_ok(j);
    json_decref(j);
    delta_buf_free(&b);
}

Test(report, mkdelta_signed_with_sign_has_no_statistics_and_appends_to_the_buffer)
{
    delta_mkdelta_report r = DELTA_MKDELTA_REPORT_INIT;
    r.output = "-";
    r.package = F.opened;
    r.package_bytes = F.pkg.len;
    delta_buf b = DELTA_BUF_INIT;
    cr_assert_eq(delta_buf_append(&b, "x", 1), DELTA_OK);
    cr_assert_eq(delta_mkdelta_report_write(&r, &b), DELTA_OK);
    cr_assert_eq(b.data[0], 'x', "appended after what the buffer held");
    delta_buf rest = {b.data + 1, b.len - 1, b.cap - 1};
    json_t *j = parse(&rest);
    cr_assert_str_eq(str_of(j, "output"), "-");
    assert_keys(json_array_get(json_object_get(j, "images"), 0), PACKAGE_IMAGE_KEYS);
    json_decref(j);
    delta_buf_free(&b);
}

Test(report, mkdelta_bsdiff40_has_its_three_sizes)
{
    delta_mkdelta_report r = DELTA_MKDELTA_REPORT_INIT;
    r.output = "p.bsdiff";
    r.format = DELTA_REPORT_FORMAT_BSDIFF40;
    r.source_size = 187176;
    r.target_size = 187772;
    r.patch_bytes = 4242;
    delta_buf b = DELTA_BUF_INIT;
    cr_assert_eq(delta_mkdelta_report_write(&r, &b), DELTA_OK);
    json_t *j = parse(&b);
    static const char *const keys[] = {"schema", "output", "format", "source_size", "target_size", "patch_bytes",
                                       "code", "exit", "status", NULL};
    assert_keys(j, keys);
    cr_assert_str_eq(str_of(j, "format"), "bsdiff40");
    cr_assert_eq(int_of(j, "source_size"), 187176);
    cr_assert_eq(int_of(j, "target_size"), 187772);
    cr_assert_eq(int_of(j, "patch_bytes"), 4242);
    assert_ok(j);
    json_decref(j);
    delta_buf_free(&b);
}

Test(report, mkdelta_failure_has_the_status_alone_even_with_a_package)
{
    delta_mkdelta_report r = DELTA_MKDELTA_REPORT_INIT;
    r.output = "update.zip";
    r.package = F.opened; /* the schema has no package keys on failure: left out */
    r.package_bytes = F.pkg.len;
    r.make = &F.make;
    r.status = DELTA_ERR_OUTPUT;
    r.message = "update.zip exists: give -f (--force) to overwrite it";
    delta_buf b = DELTA_BUF_INIT;
    cr_assert_eq(delta_mkdelta_report_write(&r, &b), DELTA_OK);
    json_t *j = parse(&b);
    static const char *const keys[] = {"schema", "output", "format", "code", "exit", "status", "message", NULL};
    assert_keys(j, keys);
    cr_assert_eq(int_of(j, "code"), -1);
    cr_assert_eq(int_of(j, "exit"), 1);
    cr_assert_str_eq(str_of(j, "status"), delta_strerror(DELTA_ERR_OUTPUT));
    cr_assert_str_eq(str_of(j, "message"), "update.zip exists: give -f (--force) to overwrite it");
    json_decref(j);
    delta_buf_free(&b);
}

Test(report, mkdelta_contradictions_are_refused_and_the_buffer_is_untouched)
{
    delta_buf b = DELTA_BUF_INIT;
    delta_mkdelta_report r = DELTA_MKDELTA_REPORT_INIT;
    r.output = "x.zip";
    cr_assert_eq(delta_mkdelta_report_write(&r, &b), DELTA_ERR_ARG, "a package made without its package");
    r.package = F.opened;
    delta_make_report two = F.make;
    two.image_count = 2;
    r.make = &two;
    cr_assert_eq(delta_mkdelta_report_write(&r, &b), DELTA_ERR_ARG, "statistics of another image count");
    r.make = NULL;
    r.format = DELTA_REPORT_FORMAT_BSDIFF40;
    cr_assert_eq(delta_mkdelta_report_write(&r, &b), DELTA_ERR_ARG, "a BSDIFF40 patch with a package");
    r.package = NULL;
    r.format = (delta_report_format)7;
    cr_assert_eq(delta_mkdelta_report_write(&r, &b), DELTA_ERR_ARG, "an unknown format");
    r.format = DELTA_REPORT_FORMAT_BSDIFF40;
    r.patch_bytes = UINT64_MAX;
    cr_assert_eq(delta_mkdelta_report_write(&r, &b), DELTA_ERR_ARG, "a number beyond INT64_MAX");
    r.patch_bytes = 1;
    r.output = NULL;
    cr_assert_eq(delta_mkdelta_report_write(&r, &b), DELTA_ERR_ARG, "no output");
    r.output = "x";
    r.version = 0;
    cr_assert_eq(delta_mkdelta_report_write(&r, &b), DELTA_ERR_ARG, "not initialised");
    r.version = DELTA_MKDELTA_REPORT_VERSION + 1;
    cr_assert_eq(delta_mkdelta_report_write(&r, &b), DELTA_ERR_ARG, "a newer struct");
    cr_assert_eq(delta_mkdelta_report_write(NULL, &b), DELTA_ERR_ARG);
    cr_assert_eq(b.len, 0);
    cr_assert_null(b.data);
}

/* ---- verifydelta ---------------------------------------------------------------- */

Test(report, verifydelta_refusal_505_has_the_status_and_the_librarys_message)
{
    delta_check_options opt = DELTA_CHECK_OPTIONS_INIT;
    opt.project = PROJECT;
    opt.firmware_version = "7.26.0";
    delta_package *pkg = NULL;
    delta_status st = delta_package_open(&F.pkg_src, &opt, &pkg);
    cr_assert_eq(st, DELTA_ERR_VERSION);
    char why[256];
    snprintf(why, sizeof why, "%s", delta_last_error());
    cr_assert(why[0]);

    delta_verifydelta_report r = DELTA_VERIFYDELTA_REPORT_INIT;
    r.path = "-";
    r.status = st; /* no message: the library's last error */
    delta_buf b = DELTA_BUF_INIT;
    cr_assert_eq(delta_verifydelta_report_write(&r, &b), DELTA_OK);
    json_t *j = parse(&b);
    static const char *const keys[] = {"schema", "package", "code", "exit", "status", "message", NULL};
    assert_keys(j, keys);
    cr_assert_str_eq(str_of(j, "schema"), "libdelta-verifydelta/1");
    cr_assert_str_eq(str_of(j, "package"), "-");
    cr_assert_eq(int_of(j, "code"), 505);
    cr_assert_eq(int_of(j, "exit"), 5);
    cr_assert_str_eq(str_of(j, "status"), delta_strerror(DELTA_ERR_VERSION));
    cr_assert_str_eq(str_of(j, "message"), why);
    json_decref(j);
    delta_buf_free(&b);

    /* No message of its own and none from the library: the status's fixed text. */
    delta_clear_error();
    cr_assert_eq(delta_verifydelta_report_write(&r, &b), DELTA_OK);
    j = parse(&b);
    cr_assert_str_eq(str_of(j, "message"), delta_strerror(DELTA_ERR_VERSION));
    json_decref(j);
    delta_buf_free(&b);
}

Test(report, verifydelta_510_after_the_package_checks_reports_the_package_and_its_state_area)
{
    delta_verifydelta_report r = DELTA_VERIFYDELTA_REPORT_INIT;
    r.path = "update.zip";
    r.package = F.opened;
    r.package_bytes = F.pkg.len;
    r.dry_run = 1;
    r.status = DELTA_ERR_SOURCE;
    r.message = "image firmware: the source does not match";
    delta_buf b = DELTA_BUF_INIT;
    cr_assert_eq(delta_verifydelta_report_write(&r, &b), DELTA_OK);
    json_t *j = parse(&b);
    static const char *const keys[] = {"schema", "package", "package_bytes", "project", "source_version",
                                       "target_version", "created_by", "signature", "space_needed", "images",
                                       "state_area", "source_checked", "dry_run", "code", "exit", "status",
                                       "message", NULL};
    assert_keys(j, keys);
    cr_assert_eq(int_of(j, "package_bytes"), (long long)F.pkg.len);
    assert_package(j, F.opened, "verified");
    json_t *im = json_array_get(json_object_get(j, "images"), 0);
    assert_keys(im, PACKAGE_IMAGE_KEYS);
    assert_image(im, F.opened, 0);

    json_t *sa = json_object_get(j, "state_area");
    static const char *const sa_keys[] = {"manifest_copy_bytes", "work_bytes", "patch_copy_bytes",
                                          "rollback_backup_bytes", "scratch_bytes", "journal_bytes",
                                          "total_bytes", NULL};
    assert_keys(sa, sa_keys);
    delta_update_layout l;
    delta_update_layout_of(delta_package_manifest(F.opened), &l);
    cr_assert_eq(int_of(sa, "manifest_copy_bytes"), DELTA_MANIFEST_MAX_BYTES);
    cr_assert_eq(int_of(sa, "patch_copy_bytes"), (long long)l.patch_bytes);
    cr_assert_eq(int_of(sa, "rollback_backup_bytes"), (long long)l.backup_bytes);
    cr_assert_eq(int_of(sa, "journal_bytes"), (long long)l.state_bytes);
    cr_assert_eq(int_of(sa, "manifest_copy_bytes") + int_of(sa, "work_bytes") + int_of(sa, "patch_copy_bytes") +
                     int_of(sa, "rollback_backup_bytes"),
                 int_of(sa, "scratch_bytes"), "the parts add up to the scratch");
    cr_assert_eq(int_of(sa, "scratch_bytes") + int_of(sa, "journal_bytes"), int_of(sa, "total_bytes"));
    cr_assert_eq(int_of(sa, "total_bytes"), int_of(j, "space_needed"));

    cr_assert(bool_of(j, "source_checked"));
    cr_assert_str_eq(str_of(j, "dry_run"), "failed");
    cr_assert_eq(int_of(j, "code"), 510);
    cr_assert_eq(int_of(j, "exit"), 10);
    cr_assert_str_eq(str_of(j, "status"), delta_strerror(DELTA_ERR_SOURCE));
    cr_assert_str_eq(str_of(j, "message"), "image firmware: the source does not match");
    json_decref(j);
    delta_buf_free(&b);

    /* Passed: the dry run's words, and the status without a message. */
    r.status = DELTA_OK;
    r.source_checked = 0;
    cr_assert_eq(delta_verifydelta_report_write(&r, &b), DELTA_OK);
    j = parse(&b);
    cr_assert_str_eq(str_of(j, "dry_run"), "every target rebuilt and its SHA-256 checked");
    cr_assert(!bool_of(j, "source_checked"));
    assert_ok(j);
    json_decref(j);
    delta_buf_free(&b);
}

Test(report, a_path_that_is_not_utf8_has_its_bad_bytes_replaced)
{
    delta_verifydelta_report r = DELTA_VERIFYDELTA_REPORT_INIT;
    r.path = "caf\xe9/\xc3\xa9t\xc3\xa9.zip"; /* latin-1 é, then UTF-8 é twice */
    delta_buf b = DELTA_BUF_INIT;
    cr_assert_eq(delta_verifydelta_report_write(&r, &b), DELTA_OK);
    json_t *j = parse(&b);
    cr_assert_str_eq(str_of(j, "package"), "caf\xef\xbf\xbd/\xc3\xa9t\xc3\xa9.zip");
    json_decref(j);
    delta_buf_free(&b);
}

/* ---- applydelta ------------------------------------------------------------------ */

Test(report, applydelta_in_place_reports_the_images_and_the_sessions_result)
{
    delta_update_result res;
    memset(&res, 0, sizeof res);
    snprintf(res.source_version, sizeof res.source_version, FROM);
    snprintf(res.target_version, sizeof res.target_version, TO);
    res.before = DELTA_UPDATE_APPLYING; /* resumed */
    res.tries = 2;
    const delta_file_image files[] = {{"boot", "/dev/mtd1", UINT64_MAX}, {NULL, "app.bin", 4096}};
    delta_applydelta_report r = DELTA_APPLYDELTA_REPORT_INIT;
    r.path = "update.zip";
    r.files = files;
    r.file_count = 2;
    r.result = &res;
    delta_buf b = DELTA_BUF_INIT;
    cr_assert_eq(delta_applydelta_report_write(&r, &b), DELTA_OK, "%s", delta_last_error());
    json_t *j = parse(&b);
    static const char *const keys[] = {"schema", "mode", "package", "images", "source_version", "target_version",
                                       "resumed", "already_current", "tries", "code", "exit", "status", NULL};
    assert_keys(j, keys);
    cr_assert_str_eq(str_of(j, "schema"), "libdelta-applydelta/1");
    cr_assert_str_eq(str_of(j, "mode"), "in_place");
    cr_assert_str_eq(str_of(j, "package"), "update.zip");
    json_t *images = json_object_get(j, "images");
    cr_assert_eq(json_array_size(images), 2);
    static const char *const file_keys[] = {"name", "file", NULL};
    assert_keys(json_array_get(images, 0), file_keys);
    assert_keys(json_array_get(images, 1), file_keys);
    cr_assert_str_eq(str_of(json_array_get(images, 0), "name"), "boot");
    cr_assert_str_eq(str_of(json_array_get(images, 0), "file"), "/dev/mtd1");
    cr_assert(json_is_null(json_object_get(json_array_get(images, 1), "name")), "a bare FILE has a null name");
    cr_assert_str_eq(str_of(json_array_get(images, 1), "file"), "app.bin");
    cr_assert_str_eq(str_of(j, "source_version"), FROM);
    cr_assert_str_eq(str_of(j, "target_version"), TO);
    cr_assert(bool_of(j, "resumed"));
    cr_assert(!bool_of(j, "already_current"));
    cr_assert_eq(int_of(j, "tries"), 2);
    assert_ok(j);
    json_decref(j);
    delta_buf_free(&b);

    /* A write failure (520) after the session: already_current is false whatever the result says. */
    res.already = 1;
    r.status = DELTA_ERR_WRITE;
    r.message = "writing 4096 bytes at 8192 failed";
    cr_assert_eq(delta_applydelta_report_write(&r, &b), DELTA_OK);
    j = parse(&b);
    cr_assert(!bool_of(j, "already_current"));
    cr_assert_eq(int_of(j, "code"), 520);
    cr_assert_eq(int_of(j, "exit"), 20);
    cr_assert_str_eq(str_of(j, "message"), "writing 4096 bytes at 8192 failed");
    json_decref(j);
    delta_buf_free(&b);
}

Test(report, applydelta_out_of_place_gives_each_image_its_output_and_bsdiff40_its_size)
{
    const delta_file_image out = {NULL, "new.bin", UINT64_MAX};
    delta_applydelta_report r = DELTA_APPLYDELTA_REPORT_INIT;
    r.mode = DELTA_REPORT_MODE_OUT_OF_PLACE;
    r.path = "update.zip";
    r.package = F.opened;
    r.files = &out;
    r.file_count = 1;
    delta_buf b = DELTA_BUF_INIT;
    cr_assert_eq(delta_applydelta_report_write(&r, &b), DELTA_OK, "%s", delta_last_error());
    json_t *j = parse(&b);
    static const char *const keys[] = {"schema", "mode", "package", "project", "source_version", "target_version",
                                       "created_by", "signature", "space_needed", "images", "code", "exit",
                                       "status", NULL};
    assert_keys(j, keys);
    cr_assert_str_eq(str_of(j, "mode"), "out_of_place");
    assert_package(j, F.opened, "verified");
    json_t *im = json_array_get(json_object_get(j, "images"), 0);
    static const char *const image_keys[] = {
        "name", "source_size", "target_size", "slot_size", "patch_bytes", "compression", "block_size", "inplace",
        "blocks_written", "stashes", "max_stash_live", "scratch_bytes", "ram_bytes", "file", NULL};
    assert_keys(im, image_keys);
    assert_image(im, F.opened, 0);
    cr_assert_str_eq(str_of(im, "file"), "new.bin");
    json_decref(j);
    delta_buf_free(&b);

    r.mode = DELTA_REPORT_MODE_BSDIFF40;
    r.path = "p.bsdiff";
    r.package = NULL;
    r.target_size = 187772;
    cr_assert_eq(delta_applydelta_report_write(&r, &b), DELTA_OK, "%s", delta_last_error());
    j = parse(&b);
    static const char *const bkeys[] = {"schema", "mode", "patch", "images", "code", "exit", "status", NULL};
    assert_keys(j, bkeys);
    cr_assert_str_eq(str_of(j, "patch"), "p.bsdiff");
    im = json_array_get(json_object_get(j, "images"), 0);
    static const char *const file_keys[] = {"name", "file", "target_size", NULL};
    assert_keys(im, file_keys);
    cr_assert(json_is_null(json_object_get(im, "name")));
    cr_assert_eq(int_of(im, "target_size"), 187772);
    json_decref(j);
    delta_buf_free(&b);
}

Test(report, applydelta_contradictions_are_refused)
{
    delta_update_result res;
    memset(&res, 0, sizeof res);
    const delta_file_image files[] = {{NULL, "a.bin", UINT64_MAX}, {NULL, "b.bin", UINT64_MAX}};
    delta_buf b = DELTA_BUF_INIT;
    delta_applydelta_report r = DELTA_APPLYDELTA_REPORT_INIT;
    r.path = "update.zip";
    r.files = files;
    r.file_count = 1;
    cr_assert_eq(delta_applydelta_report_write(&r, &b), DELTA_ERR_ARG, "in place, done, without the result");
    r.result = &res;
    cr_assert_eq(delta_applydelta_report_write(&r, &b), DELTA_ERR_ARG, "in place, done, without the versions");
    r.package = F.opened;
    r.status = DELTA_ERR_SOURCE;
    cr_assert_eq(delta_applydelta_report_write(&r, &b), DELTA_ERR_ARG, "a package in place");
    r.package = NULL;
    r.mode = DELTA_REPORT_MODE_OUT_OF_PLACE;
    cr_assert_eq(delta_applydelta_report_write(&r, &b), DELTA_ERR_ARG, "a session's result out of place");
    r.result = NULL;
    r.package = F.opened;
    r.file_count = 2;
    cr_assert_eq(delta_applydelta_report_write(&r, &b), DELTA_ERR_ARG, "two outputs for a one-image package");
    r.package = NULL;
    r.mode = DELTA_REPORT_MODE_BSDIFF40;
    cr_assert_eq(delta_applydelta_report_write(&r, &b), DELTA_ERR_ARG, "a BSDIFF40 patch writing two files");
    r.mode = (delta_report_mode)3;
    cr_assert_eq(delta_applydelta_report_write(&r, &b), DELTA_ERR_ARG, "an unknown mode");
    r.mode = DELTA_REPORT_MODE_IN_PLACE;
    r.file_count = 1;
    r.path = NULL;
    cr_assert_eq(delta_applydelta_report_write(&r, &b), DELTA_ERR_ARG, "no path");
    r.path = "update.zip";
    r.version = 0;
    cr_assert_eq(delta_applydelta_report_write(&r, &b), DELTA_ERR_ARG, "not initialised");
    r.version = DELTA_APPLYDELTA_REPORT_VERSION;
    cr_assert_eq(delta_applydelta_report_write(&r, NULL), DELTA_ERR_ARG, "no buffer");
    cr_assert_eq(b.len, 0);
    /* The same facts, consistent, are written. */
    cr_assert_eq(delta_applydelta_report_write(&r, &b), DELTA_OK, "%s", delta_last_error());
    delta_buf_free(&b);
}

/* ---- the dry run ---------------------------------------------------------------------- */

/* Entries in dir, but . and .. */
static int entries(const char *dir)
{
    DIR *d = opendir(dir);
    cr_assert(d != NULL, "%s", dir);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(d);
    return n;
}

static void sha_of_file(const char *path, uint8_t out[DELTA_SHA256_LEN])
{
    size_t len;
    uint8_t *data = tu_read_file(path, &len);
    delta_sha256(data, len, out);
    free(data);
}

/* The device's side of a dry run: a source file, its hash, a fresh temporary directory. */
typedef struct bench {
    char *files, *temp;
    char source[512], package[512];
    uint8_t source_sha[DELTA_SHA256_LEN];
    delta_file_image image;
    delta_check_options check;
} bench;

static void bench_init(bench *b, const uint8_t *source, size_t len)
{
    b->files = tu_tempdir();
    b->temp = tu_tempdir();
    snprintf(b->source, sizeof b->source, "%s/source.bin", b->files);
    snprintf(b->package, sizeof b->package, "%s/update.zip", b->files);
    tu_write_file(b->source, source, len);
    tu_write_file(b->package, F.pkg.data, F.pkg.len);
    sha_of_file(b->source, b->source_sha);
    b->image = (delta_file_image){"firmware", b->source, UINT64_MAX};
    b->check = (delta_check_options)DELTA_CHECK_OPTIONS_INIT;
    b->check.pubkey_pem = (const char *)F.pub;
    b->check.pubkey_len = F.pub_len;
    b->check.project = PROJECT;
    b->check.firmware_version = FROM;
    cr_assert_eq(entries(b->temp), 0);
}

/* Nothing left in the temporary directory; the source and the package as they were. */
static void bench_check(bench *b)
{
    cr_assert_eq(entries(b->temp), 0, "the dry run left something in %s", b->temp);
    uint8_t sha[DELTA_SHA256_LEN];
    sha_of_file(b->source, sha);
    cr_assert_arr_eq(sha, b->source_sha, DELTA_SHA256_LEN, "the source was written");
    size_t len;
    uint8_t *pkg = tu_read_file(b->package, &len);
    cr_assert(len == F.pkg.len && memcmp(pkg, F.pkg.data, len) == 0, "the package was written");
    free(pkg);
    cr_assert_eq(entries(b->files), 2, "nothing new beside the source");
    unlink(b->source);
    unlink(b->package);
    rmdir(b->files);
    rmdir(b->temp);
    free(b->files);
    free(b->temp);
}

static delta_file_dry_run_params bench_params(bench *b)
{
    delta_file_dry_run_params p = DELTA_FILE_DRY_RUN_PARAMS_INIT;
    p.package = b->package;
    p.sources = &b->image;
    p.source_count = 1;
    p.temp_dir = b->temp;
    p.check = &b->check;
    return p;
}

static int progress_calls;
static int count_progress(void *ctx, uint64_t done, uint64_t total)
{
    (void)ctx;
    cr_assert(done <= total);
    progress_calls++;
    return 0;
}

Test(dry_run, success_rebuilds_every_target_and_leaves_nothing_behind)
{
    bench b;
    bench_init(&b, F.src, F.src_len);
    delta_file_dry_run_params p = bench_params(&b);
    p.progress = count_progress;
    delta_update_result res;
    delta_status st = delta_file_dry_run(&p, &res);
    cr_assert_eq(st, DELTA_OK, "%s", delta_last_error());
    cr_assert_str_eq(res.source_version, FROM);
    cr_assert_str_eq(res.target_version, TO);
    cr_assert_eq(res.before, DELTA_UPDATE_NONE);
    cr_assert_eq(res.after, DELTA_UPDATE_NONE);
    cr_assert_eq(res.already, 0);
    cr_assert(progress_calls > 0, "the progress callback was called");
    bench_check(&b);
}

Test(dry_run, a_package_in_memory_goes_to_the_temporary_directory_and_is_removed)
{
    bench b;
    bench_init(&b, F.src, F.src_len);
    delta_file_dry_run_params p = bench_params(&b);
    p.package = NULL;
    p.package_data = F.pkg.data;
    p.package_len = F.pkg.len;
    cr_assert_eq(delta_file_dry_run(&p, NULL), DELTA_OK, "%s", delta_last_error());
    bench_check(&b);
}

/* The progress callback looks into the temporary directory while the dry run works there. */
static const char *watched;
static int seen_max;
static int watch_progress(void *ctx, uint64_t done, uint64_t total)
{
    (void)ctx;
    (void)done;
    (void)total;
    int n = entries(watched);
    if (n > seen_max) seen_max = n;
    return 0;
}

Test(dry_run, without_a_temp_dir_it_works_in_TMPDIR)
{
    bench b;
    bench_init(&b, F.src, F.src_len);
    delta_file_dry_run_params p = bench_params(&b);
    p.temp_dir = NULL;
    cr_assert_eq(setenv("TMPDIR", b.temp, 1), 0);
    watched = b.temp;
    p.progress = watch_progress;
    cr_assert_eq(delta_file_dry_run(&p, NULL), DELTA_OK, "%s", delta_last_error());
    cr_assert_eq(seen_max, 1, "one private directory in $TMPDIR while it runs");
    bench_check(&b);
}

Test(dry_run, a_refusal_505_leaves_nothing_and_writes_nothing)
{
    bench b;
    bench_init(&b, F.src, F.src_len);
    b.check.firmware_version = "7.26.0";
    delta_file_dry_run_params p = bench_params(&b);
    delta_update_result res;
    cr_assert_eq(delta_file_dry_run(&p, &res), DELTA_ERR_VERSION, "%s", delta_last_error());
    cr_assert_eq(delta_dfota_code(DELTA_ERR_VERSION), 505);
    cr_assert_eq(res.after, DELTA_UPDATE_NONE);
    bench_check(&b);
}

Test(dry_run, a_source_that_does_not_match_510_leaves_nothing)
{
    bench b;
    bench_init(&b, F.other, F.other_len); /* 7.22.0, not the package's 7.27.0 */
    delta_file_dry_run_params p = bench_params(&b);
    cr_assert_eq(delta_file_dry_run(&p, NULL), DELTA_ERR_SOURCE, "%s", delta_last_error());
    bench_check(&b);
}

Test(dry_run, a_copy_that_fails_half_way_leaves_nothing)
{
    /* Two images: the first is copied, the second cannot be read (a directory). */
    delta_make_image im[2] = {{"boot", F.src, F.src_len, F.tgt, F.tgt_len, 0},
                              {"app", F.tgt, F.tgt_len, F.src, F.src_len, 0}};
    delta_make_report rep;
    delta_buf two = make_pkg(im, 2, &rep);
    bench b;
    bench_init(&b, F.src, F.src_len);
    delta_file_image sources[2] = {{"boot", b.source, UINT64_MAX}, {"app", b.files, UINT64_MAX}};
    delta_file_dry_run_params p = bench_params(&b);
    p.package = NULL;
    p.package_data = two.data;
    p.package_len = two.len;
    p.sources = sources;
    p.source_count = 2;
    delta_status st = delta_file_dry_run(&p, NULL);
    cr_assert_eq(st, DELTA_ERR_INPUT, "%s", delta_last_error());
    cr_assert(strstr(delta_last_error(), b.files) != NULL, "names the source: %s", delta_last_error());
    delta_buf_free(&two);
    bench_check(&b);
}

Test(dry_run, bad_parameters_are_refused_before_anything_is_made)
{
    bench b;
    bench_init(&b, F.src, F.src_len);
    delta_file_dry_run_params p = bench_params(&b);
    p.version = 0;
    cr_assert_eq(delta_file_dry_run(&p, NULL), DELTA_ERR_ARG);
    p.version = DELTA_FILE_DRY_RUN_PARAMS_VERSION + 1;
    cr_assert_eq(delta_file_dry_run(&p, NULL), DELTA_ERR_ARG);
    p.version = DELTA_FILE_DRY_RUN_PARAMS_VERSION;
    p.package_data = F.pkg.data; /* and a path */
    cr_assert_eq(delta_file_dry_run(&p, NULL), DELTA_ERR_ARG);
    p.package_data = NULL;
    p.source_count = 0;
    cr_assert_eq(delta_file_dry_run(&p, NULL), DELTA_ERR_ARG);
    p.source_count = 1;
    /* A temporary directory whose path cannot hold the names inside. */
    size_t n = 5000;
    char *deep = malloc(n + 1);
    memset(deep, 'd', n);
    deep[n] = '\0';
    memcpy(deep, b.temp, strlen(b.temp));
    deep[strlen(b.temp)] = '/';
    p.temp_dir = deep;
    cr_assert_eq(delta_file_dry_run(&p, NULL), DELTA_ERR_ARG);
    cr_assert(strstr(delta_last_error(), "too long") != NULL, "%s", delta_last_error());
    free(deep);
    cr_assert_eq(delta_file_dry_run(NULL, NULL), DELTA_ERR_ARG);
    bench_check(&b);
}

Test(dry_run, its_result_makes_an_in_place_report)
{
    bench b;
    bench_init(&b, F.src, F.src_len);
    delta_file_dry_run_params p = bench_params(&b);
    delta_update_result res;
    cr_assert_eq(delta_file_dry_run(&p, &res), DELTA_OK, "%s", delta_last_error());
    delta_applydelta_report r = DELTA_APPLYDELTA_REPORT_INIT;
    r.path = b.package;
    r.files = &b.image;
    r.file_count = 1;
    r.result = &res;
    delta_buf out = DELTA_BUF_INIT;
    cr_assert_eq(delta_applydelta_report_write(&r, &out), DELTA_OK, "%s", delta_last_error());
    json_t *j = parse(&out);
    cr_assert_str_eq(str_of(j, "source_version"), FROM);
    cr_assert_str_eq(str_of(j, "target_version"), TO);
    cr_assert(!bool_of(j, "resumed"));
    cr_assert(!bool_of(j, "already_current"));
    cr_assert_eq(int_of(j, "tries"), 0);
    cr_assert_str_eq(str_of(json_array_get(json_object_get(j, "images"), 0), "name"), "firmware");
    assert_ok(j);
    json_decref(j);
    delta_buf_free(&out);
    bench_check(&b);
}
