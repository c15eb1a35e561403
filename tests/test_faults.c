/*
 * Failure injection, in loops until every allocation and every I/O event
 * has failed once (SQLite's test_malloc.c, MCUboot's simulator):
 *
 *  - allocations: this suite is linked with -Wl,--wrap=malloc,--wrap=calloc,
 *    --wrap=realloc (tests/CMakeLists.txt), so the Nth allocation *made by
 *    libdelta* fails (the shared libraries it uses, libzip, jansson, liblzma,
 *    mbedTLS, allocate through their own malloc and are not counted). N runs
 *    1, 2, ... until a run completes with no failure injected. Every failing
 *    run must return DELTA_ERR_NOMEM with a message, and nothing may leak
 *    (the sanitizer build, scripts/test-sanitize, runs this suite under
 *    LeakSanitizer);
 *  - package reads: a package source whose Nth read fails; delta_package_open
 *    must say DELTA_ERR_INPUT (a local input failure, outside the DFOTA
 *    contract: the file on the host cannot be read, nothing is wrong with
 *    the package);
 *  - flash, journal and scratch: simflash's fail_at for every event of an
 *    in-place apply; each run ends in a write-phase status (502/52x/54x),
 *    and the image is then either untouched or resumes to the exact target.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "libdelta/package.h"
#include "simflash.h"
#include "testutil.h"

/* ---- the allocator wrapper ---- */

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t m);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t m);
void *__wrap_realloc(void *p, size_t n);

static unsigned long alloc_count, fail_at; /* fail_at 0: never */
static int injected;

static int should_fail(void)
{
    if (!fail_at) return 0;
    if (++alloc_count != fail_at) return 0;
    injected = 1;
    return 1;
}

void *__wrap_malloc(size_t n) { return should_fail() ? NULL : __real_malloc(n); }
void *__wrap_calloc(size_t n, size_t m) { return should_fail() ? NULL : __real_calloc(n, m); }
void *__wrap_realloc(void *p, size_t n) { return should_fail() ? NULL : __real_realloc(p, n); }

static void arm(unsigned long n)
{
    alloc_count = 0;
    injected = 0;
    fail_at = n;
}

static void disarm(void) { fail_at = 0; }

/* ---- fixtures: small synthetic images with moved blocks (so stashes) and edits ---- */

#define SRC_LEN (24 * 1024)
#define TGT_LEN (SRC_LEN + 1000)
static uint8_t source[SRC_LEN], target[TGT_LEN];
static uint8_t *key, *pub;
static size_t key_len, pub_len;

static void setup(void)
{
    tu_fill_random(source, SRC_LEN, 7);
    memcpy(target, source, SRC_LEN);
    memcpy(target, source + 8192, 4096);       /* blocks 0-3 <- 8-11 */
    memcpy(target + 8192, source, 4096);       /* blocks 8-11 <- 0-3: a swap */
    for (size_t i = 5000; i < 5200; i++) target[i] ^= 0x5a;
    tu_fill_random(target + SRC_LEN, TGT_LEN - SRC_LEN, 8);
    key = tu_read_file(DELTA_TEST_DATA "/keys/ec-p256.pem", &key_len);
    pub = tu_read_file(DELTA_TEST_DATA "/keys/ec-p256.pub.pem", &pub_len);
}

static void teardown(void)
{
    disarm();
    free(key);
    free(pub);
}

TestSuite(faults, .init = setup, .fini = teardown, .timeout = 600);

static delta_make_options make_options(void)
{
    delta_make_options o = DELTA_MAKE_OPTIONS_INIT;
    o.project = "FAULTS";
    o.source_version = "1";
    o.target_version = "2";
    o.key_pem = (const char *)key;
    o.key_len = key_len;
    o.patch.block_size = 1024;
    o.patch.dict_size = 65536;
    o.patch.segment_size = 8192;
    o.diff.threads = 1; /* the counter is not shared across threads */
    return o;
}

static delta_buf make(void)
{
    delta_make_options o = make_options();
    delta_make_image im = {"firmware", source, SRC_LEN, target, TGT_LEN, 0};
    delta_buf out = DELTA_BUF_INIT;
    cr_assert_eq(delta_package_make(&o, &im, 1, &out, NULL), DELTA_OK, "%s", delta_last_error());
    return out;
}

static delta_check_options device(void)
{
    delta_check_options o = DELTA_CHECK_OPTIONS_INIT;
    o.pubkey_pem = (const char *)pub;
    o.pubkey_len = pub_len;
    o.project = "FAULTS";
    o.firmware_version = "1";
    return o;
}

/* A failing run: not OK, DELTA_ERR_NOMEM, with a message. */
static void expect_nomem(delta_status st, const char *what, unsigned long n)
{
    cr_assert_neq(st, DELTA_OK, "%s: allocation %lu failed but the call succeeded", what, n);
    cr_assert_eq(st, DELTA_ERR_NOMEM, "%s: allocation %lu failed: status %d (%s): %s", what, n, st,
                 delta_strerror(st), delta_last_error());
    cr_assert_neq(delta_last_error()[0], '\0', "%s: no message", what);
}

/* ---- (a) allocation failures ---- */

Test(faults, alloc_package_make)
{
    delta_buf good = make();
    delta_make_options o = make_options();
    delta_make_image im = {"firmware", source, SRC_LEN, target, TGT_LEN, 0};
    unsigned long n;
    for (n = 1;; n++) {
        delta_buf out = DELTA_BUF_INIT;
        arm(n);
        delta_status st = delta_package_make(&o, &im, 1, &out, NULL);
        disarm();
        if (!injected) {
            cr_assert_eq(st, DELTA_OK, "%s", delta_last_error());
            cr_assert(out.len == good.len && memcmp(out.data, good.data, good.len) == 0, "same bytes");
            delta_buf_free(&out);
            break;
        }
        expect_nomem(st, "make", n);
        cr_assert_eq(out.len, 0, "make appended %zu bytes on failure", out.len);
        delta_buf_free(&out);
    }
    cr_log_info("delta_package_make: %lu allocations, each failed once", n - 1);
    cr_assert_gt(n, 5);
    delta_buf_free(&good);
}

Test(faults, alloc_package_open_and_check_source)
{
    delta_buf pkg = make();
    delta_source file, src;
    delta_source_from_memory(&file, pkg.data, pkg.len);
    delta_source_from_memory(&src, source, SRC_LEN);
    delta_check_options o = device();
    unsigned long n;
    for (n = 1;; n++) {
        delta_package *p = NULL;
        arm(n);
        delta_status st = delta_package_open(&file, &o, &p);
        if (!st) st = delta_package_check_source(p, 0, &src);
        disarm();
        delta_package_free(p);
        if (!injected) {
            cr_assert_eq(st, DELTA_OK, "%s", delta_last_error());
            break;
        }
        expect_nomem(st, "open", n);
    }
    cr_log_info("delta_package_open: %lu allocations, each failed once", n - 1);
    cr_assert_gt(n, 3);
    delta_buf_free(&pkg);
}

static delta_status apply_sim(const delta_buf *pkg, sim *s)
{
    return sim_update(pkg->data, pkg->len, NULL, s, 1, NULL);
}

/* After a failed run the image is the source (nothing written) or, run again
 * with no failure, becomes exactly the target. */
static void expect_recovers(const delta_buf *p, sim *s, const char *what, unsigned long n)
{
    int untouched = s->flash.size == SRC_LEN && memcmp(s->flash.live, source, SRC_LEN) == 0;
    delta_status st = apply_sim(p, s);
    cr_assert_eq(st, DELTA_OK, "%s %lu: %s the retry failed: %s", what, n,
                 untouched ? "untouched, but" : "partly written, and", delta_last_error());
    cr_assert(s->flash.size == TGT_LEN && memcmp(s->flash.live, target, TGT_LEN) == 0, "%s %lu: not the target",
              what, n);
    cr_assert_eq(s->journal_len, 0, "%s %lu: state left after success", what, n);
}

Test(faults, alloc_apply_in_place)
{
    delta_buf pkg = make();
    delta_source file;
    delta_source_from_memory(&file, pkg.data, pkg.len);
    delta_package *p;
    cr_assert_eq(delta_package_open(&file, NULL, &p), DELTA_OK, "%s", delta_last_error());
    unsigned long n;
    for (n = 1;; n++) {
        sim s;
        sim_init(&s, source, SRC_LEN, 64 * 1024);
        arm(n);
        delta_status st = apply_sim(&pkg, &s);
        disarm();
        if (!injected) {
            cr_assert_eq(st, DELTA_OK, "%s", delta_last_error());
            cr_assert(memcmp(s.flash.live, target, TGT_LEN) == 0);
            sim_free(&s);
            break;
        }
        expect_nomem(st, "apply in place", n);
        expect_recovers(&pkg, &s, "allocation", n);
        sim_free(&s);
    }
    cr_log_info("delta_update_run: %lu allocations, each failed once", n - 1);
    cr_assert_gt(n, 1);
    delta_package_free(p);
    delta_buf_free(&pkg);
}

typedef struct memsink { uint8_t *data; size_t cap, len; } memsink;

static int sink_write(void *ctx, uint64_t off, const void *buf, size_t len)
{
    memsink *m = ctx;
    if (off > m->cap || len > m->cap - off) return DELTA_IO_NOSPACE;
    memcpy(m->data + off, buf, len);
    if (off + len > m->len) m->len = off + len;
    return DELTA_IO_OK;
}

Test(faults, alloc_apply_out_of_place)
{
    delta_buf pkg = make();
    delta_source file, src, patch;
    delta_source_from_memory(&file, pkg.data, pkg.len);
    delta_source_from_memory(&src, source, SRC_LEN);
    delta_package *p;
    cr_assert_eq(delta_package_open(&file, NULL, &p), DELTA_OK, "%s", delta_last_error());
    delta_package_patch(p, 0, &patch);
    uint8_t *out = malloc(TGT_LEN);
    unsigned long n;
    for (n = 1;; n++) {
        memsink ms = {out, TGT_LEN, 0};
        delta_sink sink = {DELTA_SINK_VERSION, &ms, sink_write};
        arm(n);
        delta_status st = delta_apply_out_of_place(&patch, &src, &sink, NULL, 0);
        disarm();
        if (!injected) {
            cr_assert_eq(st, DELTA_OK, "%s", delta_last_error());
            cr_assert(ms.len == TGT_LEN && memcmp(out, target, TGT_LEN) == 0);
            break;
        }
        expect_nomem(st, "apply out of place", n);
    }
    cr_log_info("delta_apply_out_of_place: %lu allocations, each failed once", n - 1);
    cr_assert_gt(n, 1);
    free(out);
    delta_package_free(p);
    delta_buf_free(&pkg);
}

/* ---- (b) I/O failures ---- */

typedef struct failing { const uint8_t *data; uint64_t calls, fail_at; } failing;

static int failing_read(void *ctx, uint64_t off, void *buf, size_t len)
{
    failing *f = ctx;
    if (++f->calls == f->fail_at) return DELTA_IO_ERROR;
    memcpy(buf, f->data + off, len);
    return DELTA_IO_OK;
}

Test(faults, package_read_fails_at_every_call)
{
    delta_buf pkg = make();
    delta_check_options o = device();
    uint64_t n;
    for (n = 1;; n++) {
        failing f = {pkg.data, 0, n};
        delta_source file = {DELTA_SOURCE_VERSION, &f, pkg.len, failing_read};
        delta_package *p = NULL;
        delta_status st = delta_package_open(&file, &o, &p);
        delta_package_free(p);
        if (f.calls < n) { /* every read was served */
            cr_assert_eq(st, DELTA_OK, "%s", delta_last_error());
            break;
        }
        cr_assert_eq(st, DELTA_ERR_INPUT, "read %llu failed: status %d (%s): %s", (unsigned long long)n, st,
                     delta_strerror(st), delta_last_error());
        cr_assert_eq(delta_dfota_code(st), -1);
    }
    cr_log_info("delta_package_open: %llu reads, each failed once", (unsigned long long)(n - 1));
    cr_assert_gt(n, 5);
    delta_buf_free(&pkg);
}

static int write_phase(delta_status st)
{
    int code = delta_dfota_code(st);
    return code == 502 || (code >= 520 && code <= 546);
}

Test(faults, flash_journal_scratch_fail_at_every_event)
{
    delta_buf pkg = make();
    delta_source file;
    delta_source_from_memory(&file, pkg.data, pkg.len);
    delta_package *p;
    cr_assert_eq(delta_package_open(&file, NULL, &p), DELTA_OK, "%s", delta_last_error());
    uint64_t events;
    {
        sim s;
        sim_init(&s, source, SRC_LEN, 64 * 1024);
        cr_assert_eq(apply_sim(&pkg, &s), DELTA_OK, "%s", delta_last_error());
        events = s.events;
        cr_assert_gt(s.scratch_writes, 0, "the fixture must stash");
        sim_free(&s);
    }
    uint64_t untouched = 0, partial = 0;
    for (uint64_t n = 1; n <= events; n++) {
        sim s;
        sim_init(&s, source, SRC_LEN, 64 * 1024);
        s.fail_at = n;
        s.fail_count = 1;
        delta_status st = apply_sim(&pkg, &s);
        cr_assert_neq(st, DELTA_OK, "event %llu (%s) failed but the apply succeeded", (unsigned long long)n,
                      sim_event_name(s.last_kind));
        cr_assert(write_phase(st), "event %llu: status %d (%s) is not a write failure: %s", (unsigned long long)n,
                  st, delta_strerror(st), delta_last_error());
        s.fail_at = 0;
        if (s.flash.size == SRC_LEN && memcmp(s.flash.live, source, SRC_LEN) == 0) untouched++; else partial++;
        expect_recovers(&pkg, &s, "event", n);
        sim_free(&s);
    }
    cr_log_info("in-place apply: %llu events, each failed once (%llu left the image untouched)",
                (unsigned long long)events, (unsigned long long)untouched);
    cr_assert_gt(events, 10);
    cr_assert_gt(partial, 0);
    delta_package_free(p);
    delta_buf_free(&pkg);
}
