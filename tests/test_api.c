/*
 * The API's contract with its callers: versioned structs (_INIT, _init(),
 * refusal of version 0 and of newer versions before anything is done), a
 * callback's own error message, a flash's erase size, a progress stop.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libdelta/delta.h"
#include "simflash.h"
#include "testutil.h"

#define BS 4096

static uint8_t *SRC, *TGT;
static size_t SRC_LEN = 12 * BS, TGT_LEN = 13 * BS + 100;
static delta_buf PKG = DELTA_BUF_INIT;

static void setup(void)
{
    SRC = malloc(SRC_LEN);
    TGT = malloc(TGT_LEN);
    cr_assert(SRC && TGT);
    tu_fill_random(SRC, SRC_LEN, 1);
    memcpy(TGT, SRC + BS, SRC_LEN - BS); /* a shift: blocks move, so the plan writes over its own source */
    tu_fill_random(TGT + SRC_LEN - BS, TGT_LEN - (SRC_LEN - BS), 2);
    delta_make_options opt = DELTA_MAKE_OPTIONS_INIT;
    opt.project = "P";
    opt.source_version = "1";
    opt.target_version = "2";
    opt.patch.batch_blocks = 2;
    opt.diff.threads = 1;
    delta_make_image im = {"firmware", SRC, SRC_LEN, TGT, TGT_LEN, 0};
    cr_assert_eq(delta_package_make(&opt, &im, 1, &PKG, NULL), DELTA_OK, "make: %s", delta_last_error());
}

static void teardown(void)
{
    free(SRC);
    free(TGT);
    delta_buf_free(&PKG);
}

TestSuite(api, .init = setup, .fini = teardown, .timeout = 120);

/* _init() gives exactly the _INIT macro's struct; 0 and newer versions are refused. */
#define CHECK_INIT(type, macro, ver)                                                          \
    do {                                                                                          \
        static const type from_macro = macro; /* static: its padding is zero */ \
        type from_init;                                                     \
        memset(&from_init, 0xA5, sizeof from_init);                                               \
        cr_assert_eq(type##_init(&from_init, ver), DELTA_OK, #type ": %s", delta_last_error()); \
        cr_assert_eq(from_init.version, ver);                                                 \
        cr_assert_eq(memcmp(&from_macro, &from_init, sizeof from_init), 0, #type "_init != " #macro); \
        cr_assert_eq(type##_init(&from_init, 0), DELTA_ERR_ARG);                                  \
        cr_assert(strstr(delta_last_error(), #type ": version 0"), "%s", delta_last_error());    \
        cr_assert_eq(type##_init(&from_init, (ver) + 1), DELTA_ERR_ARG);                      \
        cr_assert(strstr(delta_last_error(), "newer than this library"), "%s", delta_last_error()); \
        cr_assert_eq(type##_init(NULL, ver), DELTA_ERR_ARG);                                  \
    } while (0)

Test(api, every_init_function_matches_its_macro_and_refuses_unknown_versions)
{
    CHECK_INIT(delta_source, DELTA_SOURCE_INIT, DELTA_SOURCE_VERSION);
    CHECK_INIT(delta_sink, DELTA_SINK_INIT, DELTA_SINK_VERSION);
    CHECK_INIT(delta_flash, DELTA_FLASH_INIT, DELTA_FLASH_VERSION);
    CHECK_INIT(delta_store, DELTA_STORE_INIT, DELTA_STORE_VERSION);
    CHECK_INIT(delta_apply_params, DELTA_APPLY_PARAMS_INIT, DELTA_APPLY_PARAMS_VERSION);
    CHECK_INIT(delta_restore_params, DELTA_RESTORE_PARAMS_INIT, DELTA_RESTORE_PARAMS_VERSION);
    CHECK_INIT(delta_diff_options, DELTA_DIFF_OPTIONS_INIT, DELTA_DIFF_OPTIONS_VERSION);
    CHECK_INIT(delta_patch_options, DELTA_PATCH_OPTIONS_INIT, DELTA_PATCH_OPTIONS_VERSION);
    CHECK_INIT(delta_check_options, DELTA_CHECK_OPTIONS_INIT, DELTA_CHECK_OPTIONS_VERSION);
    CHECK_INIT(delta_make_options, DELTA_MAKE_OPTIONS_INIT, DELTA_MAKE_OPTIONS_VERSION);
    CHECK_INIT(delta_update_params, DELTA_UPDATE_PARAMS_INIT, DELTA_UPDATE_PARAMS_VERSION);
    CHECK_INIT(delta_file_update_params, DELTA_FILE_UPDATE_PARAMS_INIT, DELTA_FILE_UPDATE_PARAMS_VERSION);
}

Test(api, defaults_of_init_are_the_documented_ones)
{
    delta_patch_options po;
    cr_assert_eq(delta_patch_options_init(&po, DELTA_PATCH_OPTIONS_VERSION), DELTA_OK);
    cr_assert_eq(po.block_size, 4096);
    cr_assert_eq(po.compression, DELTA_COMPRESSION_LZMA2);
    cr_assert_eq(po.inplace, 1);
    cr_assert_eq(po.arch, DELTA_ARCH_AUTO);
    delta_make_options mo;
    cr_assert_eq(delta_make_options_init(&mo, DELTA_MAKE_OPTIONS_VERSION), DELTA_OK);
    cr_assert_eq(mo.patch.version, DELTA_PATCH_OPTIONS_VERSION);
    cr_assert_eq(mo.diff.version, DELTA_DIFF_OPTIONS_VERSION);
    delta_file_update_params fp;
    cr_assert_eq(delta_file_update_params_init(&fp, DELTA_FILE_UPDATE_PARAMS_VERSION), DELTA_OK);
    cr_assert_eq(fp.free_space, UINT64_MAX);
    cr_assert_eq(fp.check.max_package, UINT64_MAX);
    cr_assert_eq(fp.check.version, DELTA_CHECK_OPTIONS_VERSION);
}

/* A zeroed (never initialised) or newer struct is refused before the engine starts. */
Test(api, entry_points_refuse_uninitialised_and_newer_structs)
{
    delta_source file;
    delta_source_from_memory(&file, PKG.data, PKG.len);
    delta_package *pkg = (delta_package *)1;
    delta_check_options zero;
    memset(&zero, 0, sizeof zero);
    cr_assert_eq(delta_package_open(&file, &zero, &pkg), DELTA_ERR_ARG);
    cr_assert_null(pkg);
    cr_assert(strstr(delta_last_error(), "delta_check_options: version 0: not initialised"), "%s",
              delta_last_error());
    delta_check_options newer = DELTA_CHECK_OPTIONS_INIT;
    newer.version = DELTA_CHECK_OPTIONS_VERSION + 1;
    cr_assert_eq(delta_package_open(&file, &newer, &pkg), DELTA_ERR_ARG);

    delta_source bad_source = file;
    bad_source.version = 0;
    cr_assert_eq(delta_package_open(&bad_source, NULL, &pkg), DELTA_ERR_ARG);
    cr_assert(strstr(delta_last_error(), "delta_source: version 0"), "%s", delta_last_error());
    cr_assert_eq(delta_patch_read_info(&bad_source, &(delta_patch_info){0}), DELTA_ERR_ARG);

    delta_make_options mo = DELTA_MAKE_OPTIONS_INIT;
    mo.project = "P";
    mo.source_version = "1";
    mo.target_version = "2";
    mo.diff.version = 0;
    delta_make_image im = {"firmware", SRC, SRC_LEN, TGT, TGT_LEN, 0};
    delta_buf out = DELTA_BUF_INIT;
    cr_assert_eq(delta_package_make(&mo, &im, 1, &out, NULL), DELTA_ERR_ARG);
    cr_assert(strstr(delta_last_error(), "delta_diff_options"), "%s", delta_last_error());
    cr_assert_eq(out.len, 0);

    delta_diff_options dz;
    memset(&dz, 0, sizeof dz);
    delta_op *ops = NULL;
    size_t count = 0;
    cr_assert_eq(delta_diff(SRC, SRC_LEN, TGT, TGT_LEN, &dz, &ops, &count), DELTA_ERR_ARG);
    cr_assert_null(ops);
}

/* A package update on a simulated flash: the session's parameters over one sim. Not copyable (it points into itself). */
typedef struct rig {
    sim s;
    delta_source file;
    delta_flash fl;
    delta_store store;
    delta_update_region region;
    delta_update_params up;
} rig;

static void rig_init(rig *r)
{
    sim_init(&r->s, SRC, SRC_LEN, TGT_LEN + 4 * BS);
    delta_source_from_memory(&r->file, PKG.data, PKG.len);
    sim_flash(&r->s, &r->fl);
    sim_store(&r->s, &r->store);
    r->region = (delta_update_region){NULL, &r->fl};
    r->up = (delta_update_params)DELTA_UPDATE_PARAMS_INIT;
    r->up.package = &r->file;
    r->up.regions = &r->region;
    r->up.region_count = 1;
    r->up.store = &r->store;
}

static delta_status rig_run(rig *r, delta_update_result *res)
{
    sim_run(&r->s);
    return delta_update_run(&r->up, res);
}

Test(api, update_with_an_uninitialised_table_writes_nothing)
{
    rig r;
    rig_init(&r);
    for (int which = 0; which < 4; which++) {
        r.fl.version = which == 0 ? 0 : DELTA_FLASH_VERSION;
        r.store.version = which == 1 ? DELTA_STORE_VERSION + 1 : DELTA_STORE_VERSION;
        r.up.version = which == 2 ? 0 : DELTA_UPDATE_PARAMS_VERSION;
        r.up.check.version = which == 3 ? 0 : DELTA_CHECK_OPTIONS_VERSION;
        delta_update_result res;
        cr_assert_eq(rig_run(&r, &res), DELTA_ERR_ARG, "case %d", which);
        cr_assert_eq(res.after, DELTA_UPDATE_NONE);
        cr_assert_eq(r.s.events, 0, "case %d: %llu callbacks were called", which, (unsigned long long)r.s.events);
        cr_assert_eq(r.s.journal_len, 0);
    }
    sim_free(&r.s);
}

/* ---- a callback's own words ---- */

typedef struct failing_sink {
    int writes, fail_at;
} failing_sink;

static int failing_write(void *ctx, uint64_t off, const void *buf, size_t len)
{
    failing_sink *f = ctx;
    if (++f->writes == f->fail_at) {
        delta_error_set("bank %d is write-protected", 2);
        return DELTA_IO_ERROR;
    }
    return DELTA_IO_OK;
}

/* The test package, opened from memory (file must outlive it), and src over the source image. */
static delta_package *open_package(delta_source *file, delta_source *src)
{
    delta_source_from_memory(file, PKG.data, PKG.len);
    delta_source_from_memory(src, SRC, SRC_LEN);
    delta_package *pkg = NULL;
    cr_assert_eq(delta_package_open(file, NULL, &pkg), DELTA_OK, "%s", delta_last_error());
    return pkg;
}

Test(api, a_callback_message_ends_the_library_message_once)
{
    delta_source file, src;
    delta_package *pkg = open_package(&file, &src);
    failing_sink f = {0, 3};
    delta_sink sink = DELTA_SINK_INIT;
    sink.ctx = &f;
    sink.write = failing_write;
    cr_assert_eq(delta_package_apply_out_of_place(pkg, 0, &src, &sink), DELTA_ERR_WRITE);
    const char *msg = delta_last_error();
    size_t n = strlen(msg), tail = strlen(": bank 2 is write-protected");
    cr_assert(n > tail && strcmp(msg + n - tail, ": bank 2 is write-protected") == 0, "message: %s", msg);
    cr_assert(strstr(msg, "writing"), "the library's own words come first: %s", msg);

    /* Taken by that failure: the next one does not repeat it. */
    delta_source short_src;
    delta_source_from_memory(&short_src, SRC, SRC_LEN - 1);
    cr_assert_eq(delta_package_check_source(pkg, 0, &short_src), DELTA_ERR_SOURCE);
    cr_assert_null(strstr(delta_last_error(), "bank 2"), "%s", delta_last_error());

    /* delta_clear_error drops a message no failure took. */
    delta_error_set("stale");
    delta_clear_error();
    cr_assert_eq(delta_package_check_source(pkg, 0, &short_src), DELTA_ERR_SOURCE);
    cr_assert_null(strstr(delta_last_error(), "stale"), "%s", delta_last_error());
    delta_package_free(pkg);
}

/* In place: the callback's words survive the session's own wrapping (try counting). */
static delta_flash inner_flash;
static int words_write(void *ctx, uint64_t off, const void *buf, size_t len)
{
    static int n;
    if (++n == 2) {
        delta_error_set("NOR program error at sector %llu", (unsigned long long)(off / BS));
        return DELTA_IO_ERROR;
    }
    return inner_flash.write(ctx, off, buf, len);
}

Test(api, a_flash_callback_message_reaches_the_update_result)
{
    rig r;
    rig_init(&r);
    inner_flash = r.fl;
    r.fl.write = words_write;
    delta_update_result res;
    cr_assert_eq(rig_run(&r, &res), DELTA_ERR_WRITE, "%s", delta_last_error());
    cr_assert_eq(delta_dfota_code(DELTA_ERR_WRITE), 520);
    cr_assert(strstr(delta_last_error(), ": NOR program error at sector"), "%s", delta_last_error());
    cr_assert(strstr(delta_last_error(), "try 1 of 5"), "%s", delta_last_error());
    /* A second run resumes to the exact target. */
    sim_reboot(&r.s);
    r.fl.write = inner_flash.write;
    cr_assert_eq(rig_run(&r, &res), DELTA_OK, "%s", delta_last_error());
    cr_assert_eq(r.s.flash.size, TGT_LEN);
    cr_assert_eq(memcmp(r.s.flash.live, TGT, TGT_LEN), 0);
    sim_free(&r.s);
}

/* ---- the flash's erase size ---- */

Test(api, a_patch_whose_blocks_do_not_erase_alone_is_refused_before_any_write)
{
    rig r;
    rig_init(&r);
    r.fl.erase_size = 2 * BS;
    cr_assert_eq(rig_run(&r, NULL), DELTA_ERR_SLOT);
    cr_assert_eq(delta_dfota_code(DELTA_ERR_SLOT), 511);
    cr_assert(strstr(delta_last_error(), "not whole erase blocks of 8192 bytes"), "%s", delta_last_error());
    cr_assert_eq(r.s.flash_writes + r.s.scratch_writes + r.s.journal_writes, 0);
    cr_assert_eq(memcmp(r.s.flash.live, SRC, SRC_LEN), 0);
    sim_free(&r.s);
    for (uint32_t erase = 0; erase <= BS; erase = erase ? erase * 2 : 512) {
        rig_init(&r);
        r.fl.erase_size = erase;
        cr_assert_eq(rig_run(&r, NULL), DELTA_OK, "erase %u: %s", erase, delta_last_error());
        cr_assert_eq(memcmp(r.s.flash.live, TGT, TGT_LEN), 0);
        sim_free(&r.s);
    }
}

/* ---- a progress stop ---- */

static int stop_at_once(void *ctx, uint64_t done, uint64_t total)
{
    return done > 0;
}

Test(api, a_progress_stop_is_cancelled_not_a_failed_try)
{
    rig r;
    rig_init(&r);
    r.up.progress = stop_at_once;
    delta_update_result res;
    cr_assert_eq(rig_run(&r, &res), DELTA_ERR_CANCELLED, "%s", delta_last_error());
    cr_assert_eq(delta_dfota_code(DELTA_ERR_CANCELLED), -1);
    cr_assert_eq(delta_status_is_write_failure(DELTA_ERR_CANCELLED), 0);
    cr_assert_eq(res.after, DELTA_UPDATE_APPLYING);
    cr_assert_eq(res.tries, 0);
    r.up.progress = NULL;
    cr_assert_eq(rig_run(&r, &res), DELTA_OK, "%s", delta_last_error());
    cr_assert_eq(res.tries, 0);
    cr_assert_eq(memcmp(r.s.flash.live, TGT, TGT_LEN), 0);
    sim_free(&r.s);
}

/* ---- image indexes, names and the dry run's state directory ---- */

Test(api, an_image_index_past_the_package_is_refused)
{
    delta_source file, src;
    delta_package *pkg = open_package(&file, &src);
    cr_assert_null(delta_package_report(pkg, 1));
    cr_assert_not_null(delta_package_report(pkg, 0));
    delta_source ps;
    delta_package_patch(pkg, 1, &ps);
    uint8_t byte;
    cr_assert_eq(ps.size, 0);
    cr_assert_neq(ps.read(ps.ctx, 0, &byte, 1), DELTA_IO_OK);
    cr_assert_eq(delta_package_check_slot(pkg, 1, UINT64_MAX), DELTA_ERR_ARG);
    cr_assert_eq(delta_package_check_source(pkg, 1, &src), DELTA_ERR_ARG);
    cr_assert(strstr(delta_last_error(), "image 1 of a package of 1"), "%s", delta_last_error());
    cr_assert_eq(delta_package_check_target(pkg, 7, &src), DELTA_ERR_ARG);
    tu_memsink m = {NULL, 0, 0};
    delta_sink sink = DELTA_SINK_INIT;
    sink.ctx = &m;
    sink.write = tu_memsink_write;
    cr_assert_eq(delta_package_apply_out_of_place(pkg, 1, &src, &sink), DELTA_ERR_ARG);
    delta_package_free(pkg);
}

Test(api, an_image_without_a_name_is_refused)
{
    delta_make_options mo = DELTA_MAKE_OPTIONS_INIT;
    mo.project = "P";
    mo.source_version = "1";
    mo.target_version = "2";
    delta_make_image im[2] = {{"a", SRC, SRC_LEN, TGT, TGT_LEN, 0}, {NULL, SRC, SRC_LEN, TGT, TGT_LEN, 0}};
    delta_buf out = DELTA_BUF_INIT;
    cr_assert_eq(delta_package_make(&mo, im, 2, &out, NULL), DELTA_ERR_ARG);
    cr_assert(strstr(delta_last_error(), "image 1 has no name"), "%s", delta_last_error());
    cr_assert_eq(out.len, 0);
}

Test(api, a_dry_run_refuses_the_state_directory_of_an_update_in_progress)
{
    char *dir = tu_tempdir();
    char pkg_path[512], img_path[512], copy_path[512], state[512], journal[600];
    snprintf(pkg_path, sizeof pkg_path, "%s/update.zip", dir);
    snprintf(img_path, sizeof img_path, "%s/image.bin", dir);
    snprintf(copy_path, sizeof copy_path, "%s/copy.bin", dir);
    snprintf(state, sizeof state, "%s/state", dir);
    tu_write_file(pkg_path, PKG.data, PKG.len);
    tu_write_file(img_path, SRC, SRC_LEN);
    tu_write_file(copy_path, SRC, SRC_LEN);
    /* A real update, stopped after its first batch: a journal in state/. */
    delta_file_image im = {NULL, img_path, UINT64_MAX};
    delta_file_update_params p = DELTA_FILE_UPDATE_PARAMS_INIT;
    p.package = pkg_path;
    p.images = &im;
    p.image_count = 1;
    p.state_dir = state;
    p.progress = stop_at_once;
    cr_assert_eq(delta_file_update(&p, NULL), DELTA_ERR_CANCELLED, "%s", delta_last_error());
    snprintf(journal, sizeof journal, "%s/journal", state);
    size_t jlen;
    uint8_t *before = tu_read_file(journal, &jlen);
    /* A dry run on a copy, pointed at that directory: refused, the journal untouched. */
    delta_file_image copy = {NULL, copy_path, UINT64_MAX};
    delta_file_update_params d = DELTA_FILE_UPDATE_PARAMS_INIT;
    d.package = pkg_path;
    d.images = &copy;
    d.image_count = 1;
    d.state_dir = state;
    d.dry_run = 1;
    cr_assert_eq(delta_file_update(&d, NULL), DELTA_ERR_ARG);
    cr_assert(strstr(delta_last_error(), "holds an update in progress"), "%s", delta_last_error());
    size_t jlen2;
    uint8_t *after = tu_read_file(journal, &jlen2);
    cr_assert(jlen == jlen2 && memcmp(before, after, jlen) == 0);
    size_t clen;
    uint8_t *c = tu_read_file(copy_path, &clen);
    cr_assert(clen == SRC_LEN && memcmp(c, SRC, SRC_LEN) == 0);
    /* The real update then finishes. */
    p.progress = NULL;
    cr_assert_eq(delta_file_update(&p, NULL), DELTA_OK, "%s", delta_last_error());
    size_t ilen;
    uint8_t *img = tu_read_file(img_path, &ilen);
    cr_assert(ilen == TGT_LEN && memcmp(img, TGT, TGT_LEN) == 0);
    free(before);
    free(after);
    free(c);
    free(img);
    free(dir);
}
