/*
 * The update session (formats/update.md) under faults that tell the truth:
 * every event of a real update (image and scratch reads, writes and syncs,
 * resizes, journal reads, replacements and removals) fails once, or loses
 * power, one at a time, on fixtures with stashes, FREEs and many batches,
 * and plain reruns must end at the exact target; five failed tries must end
 * at the exact source, whatever else fails or loses power while the source
 * is written back.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "libdelta/update.h"
#include "simflash.h"
#include "testutil.h"

#define BS 1024

typedef struct fixture {
    const char *name;
    uint8_t *src, *tgt;
    size_t src_len, tgt_len, cap;
    delta_buf pkg;
} fixture;

static fixture FX[2];

/* Source blocks permuted in 2- and 3-cycles, a few bytes changed in each, cut
 * to `blocks` (+ a part): with batches of 1 the cycles need stashes. */
static void synthetic(fixture *f, size_t src_blocks, size_t tgt_len, uint64_t seed)
{
    f->src_len = src_blocks * BS;
    f->tgt_len = tgt_len;
    f->src = malloc(f->src_len);
    f->tgt = malloc(f->tgt_len);
    tu_fill_random(f->src, f->src_len, seed);
    for (size_t k = 0; k * BS < f->tgt_len; k++) {
        size_t from = k;
        if (k % 5 == 0 && k + 1 < src_blocks) from = k + 1;      /* 2-cycle k <-> k+1 */
        else if (k % 5 == 1) from = k - 1;
        else if (k % 5 == 2 && k + 2 < src_blocks) from = k + 2; /* 3-cycle k -> k+2 -> k+1 */
        else if (k % 5 == 3) from = k - 1;
        else if (k % 5 == 4 && k >= 2) from = k - 2;
        if (from >= src_blocks) from = k % src_blocks;
        size_t n = f->tgt_len - k * BS < BS ? f->tgt_len - k * BS : BS;
        memcpy(f->tgt + k * BS, f->src + from * BS, n);
        f->tgt[k * BS + (k * 37) % n] ^= 0x5a;
    }
    f->cap = (f->src_len > f->tgt_len ? f->src_len : f->tgt_len) + 4 * BS;
}

static void make(fixture *f, uint32_t compression, int inplace, uint32_t batch)
{
    delta_make_options opt = DELTA_MAKE_OPTIONS_INIT;
    opt.project = "P";
    opt.source_version = "1";
    opt.target_version = "2";
    opt.patch.block_size = BS;
    opt.patch.batch_blocks = batch;
    opt.patch.max_stash = 8;
    opt.patch.compression = compression;
    opt.patch.inplace = inplace;
    opt.diff.threads = 1;
    delta_make_image im = {"firmware", f->src, f->src_len, f->tgt, f->tgt_len, 0};
    f->pkg = (delta_buf)DELTA_BUF_INIT;
    cr_assert_eq(delta_package_make(&opt, &im, 1, &f->pkg, NULL), DELTA_OK, "make: %s", delta_last_error());
}

static void setup(void)
{
    FX[0].name = "swaps, shrinking (tail saved)";
    synthetic(&FX[0], 24, 20 * BS + 300, 11);
    make(&FX[0], DELTA_COMPRESSION_NONE, 1, 1);
    FX[1].name = "real firmware, growing";
    size_t a, b;
    uint8_t *old = tu_read_file(DELTA_TEST_DATA "/firmware/cityhub-7.22.0.bin", &a);
    uint8_t *new = tu_read_file(DELTA_TEST_DATA "/firmware/cityhub-7.28.0.bin", &b);
    FX[1].src_len = 40 * 1024;
    FX[1].tgt_len = 46 * 1024 + 123;
    cr_assert(a >= FX[1].src_len && b >= FX[1].tgt_len);
    FX[1].src = old;
    FX[1].tgt = new;
    FX[1].cap = FX[1].tgt_len + 4 * BS;
    make(&FX[1], DELTA_COMPRESSION_LZMA2, 1, 2);
}

static void teardown(void)
{
    for (int i = 0; i < 2; i++) {
        free(FX[i].src);
        free(FX[i].tgt);
        delta_buf_free(&FX[i].pkg);
    }
}

TestSuite(update, .init = setup, .fini = teardown, .timeout = 900);

static delta_check_options device(void)
{
    delta_check_options o = DELTA_CHECK_OPTIONS_INIT;
    o.project = "P";
    o.firmware_version = "1";
    return o;
}

static delta_status run(const fixture *f, sim *s, delta_update_result *res)
{
    delta_check_options o = device();
    return sim_update(f->pkg.data, f->pkg.len, &o, s, 1, res);
}

static int is_target(const fixture *f, const sim *s)
{
    return s->flash.size == f->tgt_len && memcmp(s->flash.live, f->tgt, f->tgt_len) == 0;
}

static int is_source(const fixture *f, const sim *s)
{
    return s->flash.size == f->src_len && memcmp(s->flash.live, f->src, f->src_len) == 0;
}

static void fresh(const fixture *f, sim *s) { sim_init(s, f->src, f->src_len, f->cap); }

/* Plain reruns (after a reboot) until the session is stable; returns the last status. */
static delta_status settle(const fixture *f, sim *s, delta_update_result *res)
{
    delta_status st = DELTA_ERR_INTERNAL;
    for (int i = 0; i < 8; i++) {
        sim_reboot(s);
        st = run(f, s, res);
        if (res->after == DELTA_UPDATE_NONE) break;
    }
    return st;
}

Test(update, fixtures_have_stashes_frees_and_many_batches)
{
    for (int i = 0; i < 2; i++) {
        delta_source file;
        delta_source_from_memory(&file, FX[i].pkg.data, FX[i].pkg.len);
        delta_package *p;
        cr_assert_eq(delta_package_open(&file, NULL, &p), DELTA_OK, "%s", delta_last_error());
        const delta_plan_report *r = delta_package_report(p, 0);
        cr_log_info("%s: %llu blocks written, %llu stashes", FX[i].name,
                    (unsigned long long)r->blocks_written, (unsigned long long)r->stashes);
        cr_assert_gt(r->blocks_written, 8, "%s: several batches", FX[i].name);
        if (i == 0) cr_assert_gt(r->stashes, 2, "%s: stashes (each freed later)", FX[i].name);
        delta_package_free(p);
    }
}

/* Every event fails once (EIO, power stays); plain reruns end at the exact target. */
Test(update, every_event_fails_once_and_reruns_end_at_the_target)
{
    for (int i = 0; i < 2; i++) {
        const fixture *f = &FX[i];
        sim s;
        delta_update_result res;
        fresh(f, &s);
        cr_assert_eq(run(f, &s, &res), DELTA_OK, "%s: %s", f->name, delta_last_error());
        cr_assert(is_target(f, &s));
        uint64_t events = s.events;
        sim_free(&s);
        uint64_t refused = 0, counted = 0;
        for (uint64_t n = 1; n <= events; n++) {
            fresh(f, &s);
            s.fail_at = n;
            delta_status st = run(f, &s, &res);
            int kind = s.last_kind;
            s.fail_at = 0;
            if (st != DELTA_OK && res.after == DELTA_UPDATE_NONE) {
                refused++;
                cr_assert(is_source(f, &s), "%s: event %llu (%s) refused the update but changed the image", f->name,
                          (unsigned long long)n, sim_event_name(kind));
                cr_assert_eq(s.journal_len, 0);
            } else if (st != DELTA_OK) {
                counted++;
                cr_assert(delta_status_is_write_failure(st), "%s: event %llu: %s", f->name, (unsigned long long)n,
                          delta_last_error());
                /* One failure is one try; a journal that cannot be read is not counted (it cannot be),
                 * nor a state that cannot be removed after the update completed (the next run does it). */
                int uncounted = kind == SIM_JOURNAL_READ || kind == SIM_JOURNAL_REMOVE;
                cr_assert_eq(res.tries, uncounted ? 0u : 1u, "%s: event %llu (%s): one failure, one try",
                             f->name, (unsigned long long)n, sim_event_name(kind));
            }
            st = settle(f, &s, &res);
            cr_assert_eq(st, DELTA_OK, "%s: after event %llu (%s) failed: %s", f->name, (unsigned long long)n,
                         sim_event_name(kind), delta_last_error());
            cr_assert(is_target(f, &s), "%s: after event %llu failed: not the target", f->name, (unsigned long long)n);
            cr_assert_eq(s.journal_len, 0);
            sim_free(&s);
        }
        cr_log_info("%s: %llu fault points (%llu refused before writing, %llu counted tries), each then exact",
                    f->name, (unsigned long long)events, (unsigned long long)refused, (unsigned long long)counted);
        cr_assert_gt(counted, events / 2);
    }
}

/* Power is cut at every event, and once more inside the resume; reruns end exact. */
Test(update, power_cut_at_every_event_and_again_in_the_resume)
{
    for (int i = 0; i < 2; i++) {
        const fixture *f = &FX[i];
        sim s;
        delta_update_result res;
        fresh(f, &s);
        cr_assert_eq(run(f, &s, &res), DELTA_OK);
        uint64_t events = s.events;
        sim_free(&s);
        uint64_t second = 0;
        for (uint64_t n = 1; n <= events; n++) {
            fresh(f, &s);
            s.cut_at = n;
            cr_assert_neq(run(f, &s, &res), DELTA_OK, "%s: cut %llu not hit", f->name, (unsigned long long)n);
            int kind = s.cut_kind;
            sim_reboot(&s);
            s.cut_at = s.events + 1 + (n * 7919) % events;
            delta_status st = run(f, &s, &res);
            if (s.dead) second++;
            st = settle(f, &s, &res);
            cr_assert_eq(st, DELTA_OK, "%s: cut %llu (%s): %s", f->name, (unsigned long long)n, sim_event_name(kind),
                         delta_last_error());
            cr_assert(is_target(f, &s), "%s: cut %llu (%s): not the target", f->name, (unsigned long long)n,
                      sim_event_name(kind));
            cr_assert_eq(s.journal_len, 0);
            cr_assert_eq(res.tries, 0, "%s: cut %llu: a power cut is not a failed try", f->name, (unsigned long long)n);
            sim_free(&s);
        }
        cr_log_info("%s: %llu cut points (%llu with a second cut in the resume), each then exact", f->name,
                    (unsigned long long)events, (unsigned long long)second);
    }
}

/* Four tries that fail while writing (each getting further). */
static void four_failures(const fixture *f, sim *s)
{
    delta_update_result res;
    for (int t = 1; t < DELTA_MAX_TRIES; t++) {
        sim_run(s);
        s->broken_kind = SIM_FLASH_WRITE;
        s->broken_after = (uint64_t)t;
        s->broken_limit = 0;
        delta_status st = run(f, s, &res);
        cr_assert_eq(st, DELTA_ERR_WRITE, "try %d: %s", t, delta_last_error());
        cr_assert_eq(res.tries, (uint32_t)t);
        cr_assert_eq(res.after, DELTA_UPDATE_APPLYING);
        s->broken_kind = -1;
        sim_reboot(s);
    }
}

/* The fifth try fails once: the source is written back in the same run. */
static void arm_fifth(sim *s)
{
    s->broken_kind = SIM_FLASH_WRITE;
    s->broken_after = 5;
    s->broken_limit = 1;
}

Test(update, five_failed_tries_restore_the_exact_source)
{
    for (int i = 0; i < 2; i++) {
        const fixture *f = &FX[i];
        sim s;
        delta_update_result res;
        fresh(f, &s);
        four_failures(f, &s);
        cr_assert_not(is_source(f, &s), "%s: the tries wrote part of the image", f->name);
        arm_fifth(&s);
        uint64_t start = s.events;
        delta_status st = run(f, &s, &res);
        cr_assert_eq(st, DELTA_ERR_ABANDONED, "%s: %s", f->name, delta_last_error());
        cr_assert_eq(delta_dfota_code(st), 545);
        cr_assert_eq(res.after, DELTA_UPDATE_NONE);
        cr_assert(is_source(f, &s), "%s: not the exact source", f->name);
        cr_assert_eq(s.journal_len, 0, "state removed");
        uint64_t fifth = s.events - start;
        /* The next package is accepted. */
        s.broken_kind = -1;
        cr_assert_eq(run(f, &s, &res), DELTA_OK, "%s", delta_last_error());
        cr_assert(is_target(f, &s));
        sim_free(&s);

        /* Every event of the fifth try (the failure, the rollback) fails once, or loses power:
         * the end is the exact source (or, when the cut came before the try was counted, the
         * exact target of a try that then succeeded). Never anything else. */
        uint64_t to_source = 0, to_target = 0;
        for (int mode = 0; mode < 2; mode++) {
            for (uint64_t n = 1; n <= fifth; n++) {
                fresh(f, &s);
                four_failures(f, &s);
                arm_fifth(&s);
                if (mode == 0) s.cut_at = s.events + n;
                else s.fail_at = s.events + n;
                st = run(f, &s, &res);
                s.broken_kind = -1;
                s.fail_at = 0;
                if (mode == 0 || res.after != DELTA_UPDATE_NONE) st = settle(f, &s, &res);
                if (st == DELTA_ERR_ABANDONED) {
                    to_source++;
                    cr_assert(is_source(f, &s), "%s: %s %llu of the fifth try: 545 but not the source", f->name,
                              mode ? "failure" : "cut", (unsigned long long)n);
                } else {
                    to_target++;
                    cr_assert_eq(st, DELTA_OK, "%s: %s %llu of the fifth try (%s): %s", f->name,
                                 mode ? "failure" : "cut", (unsigned long long)n, sim_event_name(s.last_kind),
                                 delta_last_error());
                    cr_assert(is_target(f, &s));
                }
                cr_assert_eq(s.journal_len, 0);
                sim_free(&s);
            }
        }
        cr_log_info("%s: fifth try of %llu events, each cut and each failed once: %llu ended at the source, "
                    "%llu at the target", f->name, (unsigned long long)fifth, (unsigned long long)to_source,
                    (unsigned long long)to_target);
        cr_assert_gt(to_source, fifth);
    }
}

Test(update, a_rollback_that_cannot_write_is_546_until_it_can)
{
    const fixture *f = &FX[0];
    sim s;
    delta_update_result res;
    fresh(f, &s);
    four_failures(f, &s);
    s.flash_broken = 1;
    delta_status st = run(f, &s, &res);
    cr_assert_eq(st, DELTA_ERR_UNRECOVERABLE, "%s", delta_last_error());
    cr_assert_eq(res.after, DELTA_UPDATE_ROLLBACK);
    sim_reboot(&s);
    cr_assert_eq(run(f, &s, &res), DELTA_ERR_UNRECOVERABLE, "the same code while the medium fails");
    cr_assert_eq(res.before, DELTA_UPDATE_ROLLBACK);
    s.flash_broken = 0;
    sim_reboot(&s);
    cr_assert_eq(run(f, &s, &res), DELTA_ERR_ABANDONED, "%s", delta_last_error());
    cr_assert(is_source(f, &s));
    cr_assert_eq(s.journal_len, 0);
    sim_free(&s);
}

/* Cuts power at the middle event of an update: the journal holds it, part written. */
static void cut_midway(const fixture *f, sim *s)
{
    delta_update_result res;
    fresh(f, s);
    cr_assert_eq(run(f, s, &res), DELTA_OK);
    uint64_t events = s->events;
    sim_free(s);
    fresh(f, s);
    s->cut_at = events / 2;
    cr_assert_neq(run(f, s, &res), DELTA_OK);
    sim_reboot(s);
    cr_assert_neq(s->journal_len, 0, "the cut left an update in progress");
    cr_assert_not(is_source(f, s));
}

/* A package that fails its checks while an update is in progress counts a try;
 * five, and the source is back. */
Test(update, check_failures_during_an_update_count_tries)
{
    const fixture *f = &FX[1];
    sim s;
    delta_update_result res;
    cut_midway(f, &s);
    delta_buf bad = DELTA_BUF_INIT;
    delta_buf_append(&bad, f->pkg.data, f->pkg.len);
    bad.data[bad.len - 30] ^= 0x40; /* the central directory: 504 */
    delta_check_options o = device();
    delta_status st = DELTA_OK;
    for (int t = 1; t <= DELTA_MAX_TRIES; t++) {
        st = sim_update(bad.data, bad.len, &o, &s, 1, &res);
        cr_assert_eq(res.tries, (uint32_t)t, "try %d: %s", t, delta_last_error());
        if (t < DELTA_MAX_TRIES) cr_assert_eq(delta_dfota_code(st), 504, "try %d", t);
        sim_reboot(&s);
    }
    cr_assert_eq(st, DELTA_ERR_ABANDONED, "%s", delta_last_error());
    cr_assert(is_source(f, &s));
    cr_assert_eq(s.journal_len, 0);
    delta_buf_free(&bad);
    sim_free(&s);
}

Test(update, resumes_from_its_state_without_the_package)
{
    const fixture *f = &FX[0];
    sim s;
    delta_update_result res;
    cut_midway(f, &s);
    cr_assert_eq(sim_update(NULL, 0, NULL, &s, 1, &res), DELTA_OK, "%s", delta_last_error());
    cr_assert_eq(res.before, DELTA_UPDATE_APPLYING);
    cr_assert(is_target(f, &s));
    cr_assert_str_eq(res.target_version, "2");
    sim_free(&s);
}

Test(update, a_target_order_package_is_refused_before_any_write)
{
    fixture f = FX[0];
    make(&f, DELTA_COMPRESSION_NONE, 0, 2);
    sim s;
    delta_update_result res;
    fresh(&f, &s);
    delta_status st = run(&f, &s, &res);
    cr_assert_eq(st, DELTA_ERR_PLAN, "%s", delta_last_error());
    cr_assert_eq(delta_dfota_code(st), 504);
    cr_assert(strstr(delta_last_error(), "no in-place plan") != NULL, "%s", delta_last_error());
    cr_assert_eq(s.flash_writes + s.scratch_writes + s.journal_writes, 0, "nothing written");
    cr_assert_eq(res.after, DELTA_UPDATE_NONE);
    cr_assert(is_source(&f, &s));
    sim_free(&s);
    delta_buf_free(&f.pkg);
}

Test(update, an_image_already_at_the_target_is_success_without_a_write)
{
    const fixture *f = &FX[1];
    sim s;
    delta_update_result res;
    sim_init(&s, f->tgt, f->tgt_len, f->cap);
    cr_assert_eq(run(f, &s, &res), DELTA_OK, "%s", delta_last_error());
    cr_assert_eq(res.already, 1);
    cr_assert_eq(s.flash_writes + s.scratch_writes + s.journal_writes, 0);
    sim_free(&s);
    /* Neither source nor target: 510. */
    uint8_t *junk = malloc(f->src_len);
    tu_fill_random(junk, f->src_len, 3);
    sim_init(&s, junk, f->src_len, f->cap);
    cr_assert_eq(run(f, &s, &res), DELTA_ERR_SOURCE);
    cr_assert_eq(s.flash_writes + s.scratch_writes + s.journal_writes, 0);
    sim_free(&s);
    free(junk);
}

/* A journal is trusted only for what it can prove: one forged to say "done"
 * on a half-written image is not success. */
Test(update, a_forged_done_journal_is_not_success)
{
    const fixture *f = &FX[0];
    sim s;
    delta_update_result res;
    cut_midway(f, &s);
    delta_journal j;
    cr_assert_eq(delta_journal_decode(s.journal, s.journal_len, &j), DELTA_OK);
    j.image_index = 1;
    j.flags = DELTA_JOURNAL_WRITTEN;
    j.pending_count = 0;
    size_t len;
    cr_assert_eq(delta_journal_encode(&j, s.journal, sizeof s.journal, &len), DELTA_OK);
    s.journal_len = len;
    delta_status st = run(f, &s, &res);
    cr_assert_eq(st, DELTA_ERR_TARGET, "%s", delta_last_error());
    cr_assert_eq(res.after, DELTA_UPDATE_APPLYING);
    cr_assert_not(is_target(f, &s));
    sim_free(&s);
}

/* The package file changes under the session at every read: what reaches the
 * flash is the signed bytes or nothing. */
typedef struct shifty {
    const uint8_t *data;
    size_t len;
    uint64_t reads, flip_after;
    uint8_t *copy;
} shifty;

static int shifty_read(void *ctx, uint64_t off, void *buf, size_t len)
{
    shifty *s = ctx;
    if (off > s->len || len > s->len - off) return DELTA_IO_SHORT;
    memcpy(buf, ++s->reads > s->flip_after ? s->copy + off : s->data + off, len);
    return DELTA_IO_OK;
}

Test(update, package_bytes_changed_after_the_checks_never_reach_the_flash)
{
    const fixture *f = &FX[0];
    uint8_t *changed = malloc(f->pkg.len);
    memcpy(changed, f->pkg.data, f->pkg.len);
    for (size_t k = 200; k + 200 < f->pkg.len; k += 97) changed[k] ^= 0x01; /* patch bytes, CRCs untouched */
    delta_check_options o = device();
    uint64_t refused = 0, applied = 0;
    for (uint64_t flip = 0;; flip++) {
        shifty sh = {f->pkg.data, f->pkg.len, 0, flip, changed};
        delta_source file = {DELTA_SOURCE_VERSION, &sh, f->pkg.len, shifty_read};
        sim s;
        fresh(f, &s);
        delta_flash fl;
        sim_flash(&s, &fl);
        delta_update_region region = {NULL, &fl};
        delta_store store;
        sim_store(&s, &store);
        delta_update_params up = DELTA_UPDATE_PARAMS_INIT;
        up.package = &file;
        up.check = o;
        up.regions = &region;
        up.region_count = 1;
        up.store = &store;
        delta_update_result res;
        delta_status st = delta_update_run(&up, &res);
        if (st == DELTA_OK) {
            applied++;
            cr_assert(is_target(f, &s), "flip after read %llu: success but not the target", (unsigned long long)flip);
        } else {
            refused++;
            cr_assert_eq(res.after, DELTA_UPDATE_NONE, "flip after read %llu: %s", (unsigned long long)flip,
                         delta_last_error());
            cr_assert(is_source(f, &s), "flip after read %llu: refused but the image changed", (unsigned long long)flip);
            cr_assert_eq(s.flash_writes, 0);
        }
        sim_free(&s);
        if (sh.reads <= flip) break; /* the flip came after the last read: all later flips are the same */
    }
    cr_log_info("package changed after each of its reads: %llu refused, %llu applied exactly", (unsigned long long)refused,
                (unsigned long long)applied);
    cr_assert_gt(refused, 0);
    cr_assert_gt(applied, 0);
    free(changed);
}
