/*
 * Packages end to end in the library: make on real firmware, open with the
 * device's checks (each refusal with its exact status and DFOTA code, in the
 * contract's order), apply out of place and in place across images, resume
 * after power cuts, refuse another package mid-update, abandon after five
 * failed tries.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "libdelta/package.h"
#include "libdelta/sign.h"
#include "simflash.h"
#include "testutil.h"

typedef struct fw {
    uint8_t *a, *b, *c; /* 7.22.0, 7.27.0, 7.28.0 */
    size_t alen, blen, clen;
    uint8_t *key, *pub, *other_pub;
    size_t key_len, pub_len, other_pub_len;
} fw;

static fw F;

static void load(void)
{
    F.a = tu_read_file(DELTA_TEST_DATA "/firmware/cityhub-7.22.0.bin", &F.alen);
    F.b = tu_read_file(DELTA_TEST_DATA "/firmware/cityhub-7.27.0.bin", &F.blen);
    F.c = tu_read_file(DELTA_TEST_DATA "/firmware/cityhub-7.28.0.bin", &F.clen);
    F.key = tu_read_file(DELTA_TEST_DATA "/keys/ec-p256.pem", &F.key_len);
    F.pub = tu_read_file(DELTA_TEST_DATA "/keys/ec-p256.pub.pem", &F.pub_len);
    F.other_pub = tu_read_file(DELTA_TEST_DATA "/keys/ec-p256-other.pub.pem", &F.other_pub_len);
}

static void unload(void)
{
    free(F.a); free(F.b); free(F.c); free(F.key); free(F.pub); free(F.other_pub);
}

TestSuite(package, .init = load, .fini = unload);

static delta_buf make_pkg(const delta_make_image *im, size_t n, int sign)
{
    delta_make_options opt = DELTA_MAKE_OPTIONS_INIT;
    opt.project = "PYBRICKS-CITYHUB";
    opt.source_version = "v4.0.0b4";
    opt.target_version = "v4.0.0b5";
    opt.patch.batch_blocks = 4; /* many commits per image: power cuts land between and inside them */
    if (sign) {
        opt.key_pem = (const char *)F.key;
        opt.key_len = F.key_len;
    }
    delta_buf out = DELTA_BUF_INIT;
    delta_make_report rep;
    delta_status st = delta_package_make(&opt, im, n, &out, &rep);
    cr_assert_eq(st, DELTA_OK, "make: %s", delta_last_error());
    cr_assert_eq(rep.package_bytes, out.len);
    return out;
}

static delta_check_options device(void)
{
    delta_check_options o = DELTA_CHECK_OPTIONS_INIT;
    o.pubkey_pem = (const char *)F.pub;
    o.pubkey_len = F.pub_len;
    o.project = "PYBRICKS-CITYHUB";
    o.firmware_version = "v4.0.0b4";
    return o;
}

static delta_status open_pkg(const delta_buf *pkg, const delta_check_options *o, delta_package **out)
{
    static delta_source src;
    delta_source_from_memory(&src, pkg->data, pkg->len);
    return delta_package_open(&src, o, out);
}

Test(package, real_firmware_round_trip_out_of_place)
{
    delta_make_image im = {"firmware", F.b, F.blen, F.c, F.clen, 0};
    delta_buf pkg = make_pkg(&im, 1, 1);
    delta_check_options o = device();
    delta_package *p;
    cr_assert_eq(open_pkg(&pkg, &o, &p), DELTA_OK, "%s", delta_last_error());
    cr_assert_eq(delta_package_signature_state(p), DELTA_SIGNATURE_VERIFIED);
    const delta_manifest *m = delta_package_manifest(p);
    cr_assert_str_eq(m->project, "PYBRICKS-CITYHUB");
    cr_assert_eq(m->images[0].target_size, F.clen);
    cr_assert_gt(delta_package_report(p, 0)->blocks_written, 0);
    delta_source src, written;
    delta_source_from_memory(&src, F.b, F.blen);
    tu_memsink ms = {calloc(F.clen, 1), F.clen, 0};
    delta_sink sink = {DELTA_SINK_VERSION, &ms, tu_memsink_write};
    cr_assert_eq(delta_package_apply_out_of_place(p, 0, &src, &sink), DELTA_OK, "%s", delta_last_error());
    cr_assert(memcmp(ms.data, F.c, F.clen) == 0);
    delta_source_from_memory(&written, ms.data, ms.len);
    cr_assert_eq(delta_package_check_target(p, 0, &written), DELTA_OK);
    ms.data[100] ^= 1;
    cr_assert_eq(delta_package_check_target(p, 0, &written), DELTA_ERR_TARGET);
    /* The package is far smaller than the image. */
    cr_assert_lt(pkg.len, F.clen / 4, "package %zu bytes for a %zu-byte image", pkg.len, F.clen);
    free(ms.data);
    delta_package_free(p);
    delta_buf_free(&pkg);
}

static delta_status apply_sim(const delta_buf *pkg, const delta_check_options *o, sim *sims, size_t n, int *resumed)
{
    delta_update_result res;
    delta_status st = sim_update(pkg->data, pkg->len, o, sims, n, &res);
    if (resumed) *resumed = res.before != DELTA_UPDATE_NONE;
    return st;
}

Test(package, two_images_in_place_with_power_cuts)
{
    delta_make_image im[2] = {{"modem", F.b, F.blen, F.c, F.clen, 0}, {"boot", F.c, F.clen, F.a, F.alen, 0}};
    delta_buf pkg = make_pkg(im, 2, 1);
    delta_check_options o = device();
    delta_package *p;
    cr_assert_eq(open_pkg(&pkg, &o, &p), DELTA_OK, "%s", delta_last_error());
    size_t cap = 256 * 1024;
    uint64_t e0, e1;
    {
        sim s[2];
        sim_init(&s[0], F.b, F.blen, cap);
        sim_init(&s[1], F.c, F.clen, cap);
        int resumed = -1;
        cr_assert_eq(apply_sim(&pkg, &o, s, 2, &resumed), DELTA_OK, "%s", delta_last_error());
        cr_assert_eq(resumed, 0);
        cr_assert(memcmp(s[0].flash.live, F.c, F.clen) == 0 && s[0].flash.size == F.clen);
        cr_assert(memcmp(s[1].flash.live, F.a, F.alen) == 0 && s[1].flash.size == F.alen);
        cr_assert_eq(s[0].journal_len, 0, "state removed after success");
        e0 = s[0].events;
        e1 = s[1].events;
        sim_free(&s[0]);
        sim_free(&s[1]);
    }
    /* Power cut at a spread of events over the whole update (both images), then resume. */
    uint64_t cuts = 0;
    for (uint64_t n = 1; n <= e0 + e1; n += (e0 + e1) / 60 + 1) {
        sim s[2];
        sim_init(&s[0], F.b, F.blen, cap);
        sim_init(&s[1], F.c, F.clen, cap);
        /* Events are counted per sim (image 0's also holds the state). */
        if (n <= e0) s[0].cut_at = n; else s[1].cut_at = n - e0;
        cr_assert_neq(apply_sim(&pkg, &o, s, 2, NULL), DELTA_OK, "cut %llu not hit", (unsigned long long)n);
        sim_reboot(&s[0]);
        sim_reboot(&s[1]);
        int resumed = 0;
        delta_status st = apply_sim(&pkg, &o, s, 2, &resumed);
        cr_assert_eq(st, DELTA_OK, "resume after cut %llu: %s", (unsigned long long)n, delta_last_error());
        cr_assert(memcmp(s[0].flash.live, F.c, F.clen) == 0, "image 0 after cut %llu", (unsigned long long)n);
        cr_assert(memcmp(s[1].flash.live, F.a, F.alen) == 0, "image 1 after cut %llu", (unsigned long long)n);
        sim_free(&s[0]);
        sim_free(&s[1]);
        cuts++;
    }
    cr_assert_gt(cuts, 50);
    delta_package_free(p);
    delta_buf_free(&pkg);
}

Test(package, another_package_mid_update_is_refused)
{
    delta_make_image im = {"firmware", F.b, F.blen, F.c, F.clen, 0};
    delta_make_image im2 = {"firmware", F.b, F.blen, F.a, F.alen, 0};
    delta_buf pkg = make_pkg(&im, 1, 1), pkg2 = make_pkg(&im2, 1, 1);
    delta_check_options o = device();
    delta_package *p, *p2;
    cr_assert_eq(open_pkg(&pkg, &o, &p), DELTA_OK);
    static delta_source src2;
    delta_source_from_memory(&src2, pkg2.data, pkg2.len);
    cr_assert_eq(delta_package_open(&src2, &o, &p2), DELTA_OK);
    sim s;
    sim_init(&s, F.b, F.blen, 256 * 1024);
    s.cut_at = 40;
    apply_sim(&pkg, &o, &s, 1, NULL);
    sim_reboot(&s);
    uint8_t *before = malloc(s.flash.size);
    memcpy(before, s.flash.live, s.flash.size);
    size_t before_len = s.flash.size, jlen = s.journal_len;
    uint64_t writes = s.flash_writes;
    delta_status st = apply_sim(&pkg2, &o, &s, 1, NULL);
    cr_assert_eq(st, DELTA_ERR_OTHER_UPDATE);
    cr_assert_eq(delta_dfota_code(st), 510);
    cr_assert_eq(s.flash_writes, writes, "nothing written");
    cr_assert(s.flash.size == before_len && memcmp(before, s.flash.live, before_len) == 0);
    cr_assert_eq(s.journal_len, jlen);
    /* The right package still finishes. */
    cr_assert_eq(apply_sim(&pkg, &o, &s, 1, NULL), DELTA_OK, "%s", delta_last_error());
    cr_assert(memcmp(s.flash.live, F.c, F.clen) == 0);
    free(before);
    sim_free(&s);
    delta_package_free(p);
    delta_package_free(p2);
    delta_buf_free(&pkg);
    delta_buf_free(&pkg2);
}

Test(package, five_failed_tries_restore_the_source)
{
    delta_make_image im = {"firmware", F.b, F.blen, F.c, F.clen, 0};
    delta_buf pkg = make_pkg(&im, 1, 1);
    delta_check_options o = device();

    /* The state area cannot be written: the update never starts (524 every
     * time, nothing counted, nothing written), and starts once it can. */
    sim s;
    sim_init(&s, F.b, F.blen, 256 * 1024);
    s.scratch_broken = 1;
    for (int t = 1; t <= DELTA_MAX_TRIES + 1; t++) {
        delta_update_result res;
        delta_status st = sim_update(pkg.data, pkg.len, &o, &s, 1, &res);
        cr_assert_eq(st, DELTA_ERR_STATE_WRITE, "run %d: %s", t, delta_last_error());
        cr_assert_eq(res.after, DELTA_UPDATE_NONE);
        cr_assert_eq(s.journal_len, 0);
        sim_reboot(&s);
    }
    cr_assert_eq(s.flash_writes, 0);
    cr_assert(s.flash.size == F.blen && memcmp(s.flash.live, F.b, F.blen) == 0, "image is the source");
    s.scratch_broken = 0;
    cr_assert_eq(apply_sim(&pkg, &o, &s, 1, NULL), DELTA_OK, "%s", delta_last_error());
    sim_free(&s);

    /* Image writes fail after a few per boot: four 520s, then the fifth try
     * rolls back; the rollback's own writes fail in that boot (546, ROLLBACK);
     * the next boot finishes it: 545, the exact source, no state. */
    sim_init(&s, F.b, F.blen, 256 * 1024);
    s.broken_kind = SIM_FLASH_WRITE;
    s.broken_after = 3;
    delta_status st = DELTA_OK;
    delta_update_result res;
    for (int t = 1; t <= DELTA_MAX_TRIES; t++) {
        st = sim_update(pkg.data, pkg.len, &o, &s, 1, &res);
        cr_assert_eq(res.tries, (uint32_t)t, "try %d: %s", t, delta_last_error());
        if (t < DELTA_MAX_TRIES) {
            cr_assert_eq(st, DELTA_ERR_WRITE, "try %d: %s", t, delta_last_error());
            cr_assert_eq(res.after, DELTA_UPDATE_APPLYING);
        }
        sim_reboot(&s);
    }
    cr_assert_eq(st, DELTA_ERR_UNRECOVERABLE, "%s", delta_last_error());
    cr_assert_eq(res.after, DELTA_UPDATE_ROLLBACK);
    cr_assert_neq(s.journal_len, 0);
    s.broken_kind = -1;
    st = sim_update(pkg.data, pkg.len, &o, &s, 1, &res);
    cr_assert_eq(st, DELTA_ERR_ABANDONED, "%s", delta_last_error());
    cr_assert_eq(delta_dfota_code(st), 545);
    cr_assert_eq(res.before, DELTA_UPDATE_ROLLBACK);
    cr_assert_eq(res.after, DELTA_UPDATE_NONE);
    cr_assert_eq(s.journal_len, 0, "state removed");
    cr_assert(s.flash.size == F.blen && memcmp(s.flash.live, F.b, F.blen) == 0, "the exact source is back");
    /* The next package (the same one, again) is accepted and completes. */
    cr_assert_eq(apply_sim(&pkg, &o, &s, 1, NULL), DELTA_OK, "%s", delta_last_error());
    cr_assert(s.flash.size == F.clen && memcmp(s.flash.live, F.c, F.clen) == 0);
    sim_free(&s);
    delta_buf_free(&pkg);
}

/* One refusal: exact status and code from open (or the source check), nothing else. */
static void expect_open(const delta_buf *pkg, const delta_check_options *o, delta_status want, int code)
{
    delta_package *p = (delta_package *)1;
    delta_status st = open_pkg(pkg, o, &p);
    cr_assert_eq(st, want, "want %d got %d: %s", want, st, delta_last_error());
    cr_assert_eq(delta_dfota_code(st), code);
    cr_assert_null(p);
}

Test(package, device_mismatches_in_contract_order)
{
    delta_make_image im = {"firmware", F.b, F.blen, F.c, F.clen, 0};
    delta_buf pkg = make_pkg(&im, 1, 1), unsigned_pkg = make_pkg(&im, 1, 0);
    delta_check_options o = device();

    o.max_package = pkg.len - 1;
    expect_open(&pkg, &o, DELTA_ERR_TOO_LARGE, 550);
    o = device();
    o.project = "EC25EFAR06A";
    expect_open(&pkg, &o, DELTA_ERR_PROJECT, 505);
    o = device();
    o.firmware_version = "v3.6.0b5";
    expect_open(&pkg, &o, DELTA_ERR_VERSION, 505);
    o = device();
    o.free_space = 100;
    expect_open(&pkg, &o, DELTA_ERR_SPACE, 511);
    o = device();
    expect_open(&unsigned_pkg, &o, DELTA_ERR_SIGNATURE, 504);
    o.pubkey_pem = (const char *)F.other_pub;
    o.pubkey_len = F.other_pub_len;
    expect_open(&pkg, &o, DELTA_ERR_SIGNATURE, 504);

    /* Order: a corrupt package on a device with too small a limit is 550; wrong project + bad signature is 504. */
    delta_buf bad = DELTA_BUF_INIT;
    delta_buf_append(&bad, pkg.data, pkg.len);
    bad.data[bad.len / 2] ^= 0xff;
    o = device();
    o.max_package = 10;
    expect_open(&bad, &o, DELTA_ERR_TOO_LARGE, 550);
    o = device();
    o.project = "OTHER";
    o.pubkey_pem = (const char *)F.other_pub;
    o.pubkey_len = F.other_pub_len;
    expect_open(&pkg, &o, DELTA_ERR_SIGNATURE, 504);

    /* 510: the source check. */
    o = device();
    delta_package *p;
    cr_assert_eq(open_pkg(&pkg, &o, &p), DELTA_OK);
    delta_source src;
    delta_source_from_memory(&src, F.a, F.alen);
    cr_assert_eq(delta_package_check_source(p, 0, &src), DELTA_ERR_SOURCE);
    delta_source_from_memory(&src, F.b, F.blen - 1);
    cr_assert_eq(delta_package_check_source(p, 0, &src), DELTA_ERR_SOURCE);
    delta_source_from_memory(&src, F.b, F.blen);
    cr_assert_eq(delta_package_check_source(p, 0, &src), DELTA_OK);
    /* In place: wrong source (510) and too small a region (511), nothing written. */
    sim s;
    sim_init(&s, F.a, F.alen, 256 * 1024);
    cr_assert_eq(apply_sim(&pkg, &o, &s, 1, NULL), DELTA_ERR_SOURCE);
    cr_assert_eq(s.flash_writes + s.journal_writes + s.scratch_writes, 0);
    sim_free(&s);
    sim_init(&s, F.b, F.blen, F.clen - 1);
    cr_assert_eq(apply_sim(&pkg, &o, &s, 1, NULL), DELTA_ERR_SLOT);
    cr_assert_eq(s.flash_writes + s.journal_writes + s.scratch_writes, 0);
    sim_free(&s);
    delta_package_free(p);
    delta_buf_free(&bad);
    delta_buf_free(&pkg);
    delta_buf_free(&unsigned_pkg);
}

Test(package, identical_and_empty_images)
{
    delta_make_image im[2] = {{"same", F.b, F.blen, F.b, F.blen, 0}, {"fresh", F.b, 0, F.a, F.alen, 0}};
    delta_buf pkg = make_pkg(im, 2, 0);
    delta_check_options o = device();
    o.pubkey_pem = NULL;
    delta_package *p;
    cr_assert_eq(open_pkg(&pkg, &o, &p), DELTA_OK, "%s", delta_last_error());
    cr_assert_eq(delta_package_signature_state(p), DELTA_SIGNATURE_NONE);
    cr_assert_eq(delta_package_report(p, 0)->blocks_written, 0);
    sim s[2];
    sim_init(&s[0], F.b, F.blen, 256 * 1024);
    sim_init(&s[1], NULL, 0, 256 * 1024);
    cr_assert_eq(apply_sim(&pkg, &o, s, 2, NULL), DELTA_OK, "%s", delta_last_error());
    cr_assert_eq(s[0].flash_writes, 0, "identical image: no write");
    cr_assert(memcmp(s[1].flash.live, F.a, F.alen) == 0);
    sim_free(&s[0]);
    sim_free(&s[1]);
    delta_package_free(p);
    delta_buf_free(&pkg);
}

/* A signature refused for its encoding keeps the reason in the package's
 * message; a mismatch keeps the plain one. */
Test(package, signature_encoding_fault_is_named)
{
    size_t len = 0;
    uint8_t *data = tu_read_file(DELTA_VECTORS "/invalid/pkg-signature-der-long-length.zip", &len);
    delta_source src;
    delta_source_from_memory(&src, data, len);
    delta_check_options o = DELTA_CHECK_OPTIONS_INIT;
    o.pubkey_pem = (const char *)F.pub;
    o.pubkey_len = F.pub_len;
    delta_package *p = NULL;
    cr_assert_eq(delta_package_open(&src, &o, &p), DELTA_ERR_SIGNATURE);
    cr_assert_null(p);
    cr_assert(strncmp(delta_last_error(), "the manifest signature does not verify with the given key: ECDSA "
                                          "signature is not strict DER: ", 94) == 0, "%s", delta_last_error());
    o.pubkey_pem = (const char *)F.other_pub;
    o.pubkey_len = F.other_pub_len;
    free(data);
    data = tu_read_file(DELTA_VECTORS "/valid/package-none.zip", &len);
    delta_source_from_memory(&src, data, len);
    cr_assert_eq(delta_package_open(&src, &o, &p), DELTA_ERR_SIGNATURE);
    cr_assert_str_eq(delta_last_error(), "the manifest signature does not verify with the given key");
    free(data);
}

/* delta_package_make reports its stages in order: per image diff, encode,
 * prove; then sign and zip. */
typedef struct stages {
    int seen[32][2];
    int n;
} stages;

static int record_stage(void *ctx, delta_make_stage s, size_t image, size_t count)
{
    stages *st = ctx;
    cr_assert_eq(count, 2);
    if (st->n < 32) {
        st->seen[st->n][0] = (int)s;
        st->seen[st->n][1] = (int)image;
    }
    st->n++;
    return 0;
}

Test(package, make_reports_its_stages_in_order)
{
    delta_make_image im[2] = {{"modem", F.b, F.blen, F.c, F.clen, 0}, {"boot", F.a, F.alen, F.b, F.blen, 0}};
    delta_make_options opt = DELTA_MAKE_OPTIONS_INIT;
    opt.project = "P";
    opt.source_version = "1";
    opt.target_version = "2";
    opt.key_pem = (const char *)F.key;
    opt.key_len = F.key_len;
    stages seen = {0};
    opt.progress = record_stage;
    opt.progress_ctx = &seen;
    delta_buf out = DELTA_BUF_INIT;
    cr_assert_eq(delta_package_make(&opt, im, 2, &out, NULL), DELTA_OK, "%s", delta_last_error());
    static const int want[][2] = {{DELTA_MAKE_DIFF, 0}, {DELTA_MAKE_ENCODE, 0}, {DELTA_MAKE_PROVE, 0},
                                  {DELTA_MAKE_DIFF, 1}, {DELTA_MAKE_ENCODE, 1}, {DELTA_MAKE_PROVE, 1},
                                  {DELTA_MAKE_SIGN, 0}, {DELTA_MAKE_ZIP, 0}};
    cr_assert_eq(seen.n, 8);
    for (int i = 0; i < 8; i++) {
        cr_assert_eq(seen.seen[i][0], want[i][0], "stage %d", i);
        cr_assert_eq(seen.seen[i][1], want[i][1], "stage %d", i);
    }
    delta_buf_free(&out);
}

static int stop_at_encode(void *ctx, delta_make_stage s, size_t image, size_t count)
{
    (void)ctx; (void)image; (void)count;
    return s == DELTA_MAKE_ENCODE;
}

Test(package, make_stops_when_the_progress_callback_asks)
{
    delta_make_image im = {"firmware", F.b, F.blen, F.c, F.clen, 0};
    delta_make_options opt = DELTA_MAKE_OPTIONS_INIT;
    opt.project = "P";
    opt.source_version = "1";
    opt.target_version = "2";
    opt.progress = stop_at_encode;
    delta_buf out = DELTA_BUF_INIT;
    cr_assert_eq(delta_package_make(&opt, &im, 1, &out, NULL), DELTA_ERR_CANCELLED);
    cr_assert_eq(out.len, 0);
    delta_buf_free(&out);
}

/* Signing an unsigned package afterwards gives the very bytes of a package
 * made with the key (ECDSA is deterministic), and refuses a signed one. */
Test(package, add_signature_gives_the_signed_package_bytes)
{
    delta_make_image im[2] = {{"modem", F.b, F.blen, F.c, F.clen, 0}, {"boot", F.a, F.alen, F.b, F.blen, 0}};
    delta_buf signed_pkg = make_pkg(im, 2, 1);
    delta_buf unsigned_pkg = make_pkg(im, 2, 0);
    delta_package *u = NULL;
    cr_assert_eq(open_pkg(&unsigned_pkg, NULL, &u), DELTA_OK, "%s", delta_last_error());
    cr_assert_eq(delta_package_signature_state(u), DELTA_SIGNATURE_NONE);
    const uint8_t *manifest;
    size_t mlen;
    delta_package_manifest_bytes(u, &manifest, &mlen);
    delta_buf sig = DELTA_BUF_INIT, out = DELTA_BUF_INIT;
    cr_assert_eq(delta_sign((const char *)F.key, F.key_len, manifest, mlen, &sig), DELTA_OK);
    cr_assert_eq(delta_package_add_signature(u, NULL, 0, &out), DELTA_ERR_ARG);
    cr_assert_eq(delta_package_add_signature(u, sig.data, sig.len, &out), DELTA_OK, "%s", delta_last_error());
    cr_assert_eq(out.len, signed_pkg.len);
    cr_assert(memcmp(out.data, signed_pkg.data, out.len) == 0);

    delta_package *s = NULL;
    delta_check_options dev = device();
    dev.project = "PYBRICKS-CITYHUB";
    cr_assert_eq(open_pkg(&out, &dev, &s), DELTA_OK, "%s", delta_last_error());
    cr_assert_eq(delta_package_signature_state(s), DELTA_SIGNATURE_VERIFIED);
    delta_buf again = DELTA_BUF_INIT;
    cr_assert_eq(delta_package_add_signature(s, sig.data, sig.len, &again), DELTA_ERR_ARG);
    cr_assert_eq(again.len, 0);
    delta_package_free(s);
    delta_package_free(u);
    delta_buf_free(&again);
    delta_buf_free(&out);
    delta_buf_free(&sig);
    delta_buf_free(&signed_pkg);
    delta_buf_free(&unsigned_pkg);
}
