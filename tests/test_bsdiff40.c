/* BSDIFF40: round trips, interop with Debian's bsdiff/bspatch 4.3 in both
 * directions, and hostile patches refused with DELTA_ERR_PATCH. */
#include <bzlib.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "libdelta/diff.h"
#include "testutil.h"

#define BSDIFF "/usr/bin/bsdiff"
#define BSPATCH "/usr/bin/bspatch"

/* ---- sinks ---- */

typedef struct mem_sink {
    uint8_t *data;
    size_t len, cap;
    size_t writes;
} mem_sink;

/* Accepts writes in order only, each at most 64 KiB. */
static int mem_write(void *ctx, uint64_t off, const void *buf, size_t len)
{
    mem_sink *s = ctx;
    cr_assert_eq(off, s->len, "write at %llu, expected in-order %zu", (unsigned long long)off, s->len);
    cr_assert(len > 0 && len <= 65536, "write of %zu bytes", len);
    if (s->len + len > s->cap) {
        s->cap = (s->len + len) * 2;
        s->data = realloc(s->data, s->cap);
        cr_assert(s->data);
    }
    memcpy(s->data + s->len, buf, len);
    s->len += len;
    s->writes++;
    return 0;
}

static int failing_write(void *ctx, uint64_t off, const void *buf, size_t len) { return 2; }

static delta_status apply_ours(const uint8_t *old, size_t ol, const uint8_t *patch, size_t pl, mem_sink *out)
{
    delta_source src, pat;
    delta_source_from_memory(&src, old, ol);
    delta_source_from_memory(&pat, patch, pl);
    memset(out, 0, sizeof *out);
    delta_sink sink = {DELTA_SINK_VERSION, out, mem_write};
    uint64_t n = 12345;
    delta_status st = delta_bsdiff40_apply(&src, &pat, &sink, &n);
    if (st == DELTA_OK) cr_assert_eq(n, out->len);
    return st;
}

/* Our patch for (old, new): diff, then write. */
static void make_ours(const uint8_t *old, size_t ol, const uint8_t *nw, size_t nl, delta_buf *patch)
{
    delta_op *ops;
    size_t n;
    cr_assert_eq(delta_diff(old, ol, nw, nl, NULL, &ops, &n), DELTA_OK, "%s", delta_last_error());
    cr_assert_eq(delta_bsdiff40_write(old, ol, nw, nl, ops, n, patch), DELTA_OK, "%s", delta_last_error());
    delta_ops_free(ops);
}

static void roundtrip(const uint8_t *old, size_t ol, const uint8_t *nw, size_t nl)
{
    delta_buf patch = DELTA_BUF_INIT;
    make_ours(old, ol, nw, nl, &patch);
    mem_sink out;
    cr_assert_eq(apply_ours(old, ol, patch.data, patch.len, &out), DELTA_OK, "%s", delta_last_error());
    cr_assert_eq(out.len, nl);
    if (nl) cr_assert(memcmp(out.data, nw, nl) == 0);
    free(out.data);
    delta_buf_free(&patch);
}

/* Both directions against the Debian binaries, in a temporary directory.
 * Debian's bsdiff cannot read empty files (mmap fails); with debian_diff
 * false only our patch is checked, with Debian's bspatch. */
static void interop_dir(const uint8_t *old, size_t ol, const uint8_t *nw, size_t nl, bool debian_diff)
{
    char *dir = tu_tempdir();
    char po[512], pn[512], pours[512], pdeb[512], pout[512], cmd[4096];
    snprintf(po, sizeof po, "%s/old", dir);
    snprintf(pn, sizeof pn, "%s/new", dir);
    snprintf(pours, sizeof pours, "%s/ours.patch", dir);
    snprintf(pdeb, sizeof pdeb, "%s/deb.patch", dir);
    snprintf(pout, sizeof pout, "%s/out", dir);
    tu_write_file(po, old, ol);
    tu_write_file(pn, nw, nl);

    /* ours -> Debian's bspatch */
    delta_buf patch = DELTA_BUF_INIT;
    make_ours(old, ol, nw, nl, &patch);
    tu_write_file(pours, patch.data, patch.len);
    snprintf(cmd, sizeof cmd, BSPATCH " '%s' '%s' '%s' && cmp -s '%s' '%s'", po, pout, pours, pout, pn);
    cr_assert_eq(system(cmd), 0, "Debian bspatch did not rebuild the target from our patch");
    if (!debian_diff) goto done;

    /* Debian's bsdiff -> ours */
    snprintf(cmd, sizeof cmd, BSDIFF " '%s' '%s' '%s'", po, pn, pdeb);
    cr_assert_eq(system(cmd), 0, "Debian bsdiff failed");
    size_t dl;
    uint8_t *deb = tu_read_file(pdeb, &dl);
    mem_sink out;
    cr_assert_eq(apply_ours(old, ol, deb, dl, &out), DELTA_OK, "%s", delta_last_error());
    cr_assert_eq(out.len, nl);
    cr_assert(memcmp(out.data, nw, nl) == 0);
    cr_log_info("interop %zu -> %zu bytes: our patch %zu, Debian's %zu", ol, nl, patch.len, dl);
    free(out.data);
    free(deb);
done:
    delta_buf_free(&patch);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
    free(dir);
}

static void interop(const uint8_t *old, size_t ol, const uint8_t *nw, size_t nl)
{
    interop_dir(old, ol, nw, nl, true);
}

static uint8_t *random_image(size_t len, uint64_t seed)
{
    uint8_t *p = malloc(len ? len : 1);
    cr_assert(p);
    tu_fill_random(p, len, seed);
    return p;
}

/* A firmware-like pair: the new image has edits, an insertion, a moved block
 * and an erased (0xFF) tail. */
static uint8_t *edited(const uint8_t *a, size_t len, size_t *out_len)
{
    uint8_t *b = malloc(len + 2000);
    memcpy(b, a, len / 2);
    tu_fill_random(b + len / 2, 2000, 99);
    memcpy(b + len / 2 + 2000, a + len / 2, len - len / 2);
    for (size_t i = 100; i < len; i += 3001) b[i] += 4;
    memcpy(b + 1000, a + len - 5000, 3000); /* moved block */
    memset(b + len - 1000, 0xff, 3000);
    *out_len = len + 2000;
    return b;
}

/* ---- round trips and interop ---- */

Test(bsdiff40, roundtrip_synthetic)
{
    size_t len = 150000, nl;
    uint8_t *a = random_image(len, 1);
    uint8_t *b = edited(a, len, &nl);
    roundtrip(a, len, b, nl);
    roundtrip(a, len, a, len);
    roundtrip(NULL, 0, b, nl);  /* empty old: all extra */
    roundtrip(a, len, NULL, 0); /* empty new: no control entries */
    roundtrip(NULL, 0, NULL, 0);
    uint8_t *c = random_image(len, 2);
    roundtrip(a, len, c, len);
    free(a);
    free(b);
    free(c);
}

Test(bsdiff40, large_output_is_chunked)
{
    size_t len = 1 << 20, nl;
    uint8_t *a = random_image(len, 3);
    uint8_t *b = edited(a, len, &nl);
    delta_buf patch = DELTA_BUF_INIT;
    make_ours(a, len, b, nl, &patch);
    mem_sink out;
    cr_assert_eq(apply_ours(a, len, patch.data, patch.len, &out), DELTA_OK);
    cr_assert(out.writes >= nl / 65536);
    cr_assert(memcmp(out.data, b, nl) == 0);
    free(out.data);
    delta_buf_free(&patch);
    free(a);
    free(b);
}

Test(bsdiff40, interop_debian_synthetic, .timeout = 120)
{
    size_t len = 200000, nl;
    uint8_t *a = random_image(len, 4);
    uint8_t *b = edited(a, len, &nl);
    interop(a, len, b, nl);
    interop(a, len, a, len);
    uint8_t *c = random_image(len / 2, 5);
    interop(a, len, c, len / 2); /* unrelated */
    uint8_t *z = calloc(1, len);
    memset(z + 50000, 0xff, 60000);
    interop(z, len, b, nl); /* mostly erased old image */
    free(a);
    free(b);
    free(c);
    free(z);
}

Test(bsdiff40, interop_debian_bspatch_empty_files, .timeout = 60)
{
    uint8_t *a = random_image(5000, 6);
    interop_dir(NULL, 0, a, 5000, false);
    interop_dir(a, 5000, NULL, 0, false);
    free(a);
}

static void firmware_case(const char *from, const char *to)
{
    char pa[512], pb[512];
    snprintf(pa, sizeof pa, "%s/firmware/%s", DELTA_TEST_DATA, from);
    snprintf(pb, sizeof pb, "%s/firmware/%s", DELTA_TEST_DATA, to);
    if (access(pa, R_OK) != 0 || access(pb, R_OK) != 0) cr_skip("firmware %s/%s absent", from, to);
    size_t al, bl;
    uint8_t *a = tu_read_file(pa, &al), *b = tu_read_file(pb, &bl);
    interop(a, al, b, bl);
    free(a);
    free(b);
}

Test(bsdiff40, interop_debian_firmware_27_28, .timeout = 120)
{
    firmware_case("cityhub-7.27.0.bin", "cityhub-7.28.0.bin");
}

Test(bsdiff40, interop_debian_firmware_22_28, .timeout = 120)
{
    firmware_case("cityhub-7.22.0.bin", "cityhub-7.28.0.bin");
}

/* ---- hostile patches ---- */

static void enc(uint8_t *p, int64_t v)
{
    uint64_t m = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(m >> (8 * i));
    if (v < 0) p[7] |= 0x80;
}

static void bz(const void *data, size_t len, delta_buf *out)
{
    unsigned cap = (unsigned)(len + len / 100 + 700);
    uint8_t *tmp = malloc(cap);
    cr_assert_eq(BZ2_bzBuffToBuffCompress((char *)tmp, &cap, (char *)(uintptr_t)data, (unsigned)len, 9, 0, 0), BZ_OK);
    cr_assert_eq(delta_buf_append(out, tmp, cap), DELTA_OK);
    free(tmp);
}

/* Builds a patch from raw control bytes, diff and extra bytes; the header
 * holds the real block lengths and newsize. */
static delta_buf build(const uint8_t *ctrl, size_t cl, const uint8_t *diff, size_t dl,
                       const uint8_t *extra, size_t el, int64_t newsize)
{
    delta_buf c = DELTA_BUF_INIT, d = DELTA_BUF_INIT, e = DELTA_BUF_INIT, p = DELTA_BUF_INIT;
    bz(ctrl, cl, &c);
    bz(diff, dl, &d);
    bz(extra, el, &e);
    uint8_t h[32];
    memcpy(h, "BSDIFF40", 8);
    enc(h + 8, (int64_t)c.len);
    enc(h + 16, (int64_t)d.len);
    enc(h + 24, newsize);
    delta_buf_append(&p, h, 32);
    delta_buf_append(&p, c.data, c.len);
    delta_buf_append(&p, d.data, d.len);
    delta_buf_append(&p, e.data, e.len);
    delta_buf_free(&c);
    delta_buf_free(&d);
    delta_buf_free(&e);
    return p;
}

static uint8_t OLD[4096];
static uint8_t ZEROS[8192];

static void setup_old(void) { tu_fill_random(OLD, sizeof OLD, 42); }

/* Applies to OLD; expects DELTA_ERR_PATCH and, if want is set, that text in the message. */
static void expect_refused(const delta_buf *p, const char *want)
{
    mem_sink out;
    delta_status st = apply_ours(OLD, sizeof OLD, p->data, p->len, &out);
    cr_assert_eq(st, DELTA_ERR_PATCH, "status %d (%s)", st, delta_last_error());
    if (want) cr_assert(strstr(delta_last_error(), want) != NULL, "message: %s", delta_last_error());
    free(out.data);
}

/* Control triples as int64 values. */
static delta_buf with_triples(const int64_t *t, size_t n, size_t diff_len, size_t extra_len, int64_t newsize)
{
    uint8_t ctrl[24 * 8];
    cr_assert(n <= 24);
    for (size_t i = 0; i < n; i++) enc(ctrl + 8 * i, t[i]);
    return build(ctrl, 8 * n, ZEROS, diff_len, ZEROS, extra_len, newsize);
}

TestSuite(bsdiff40_hostile, .init = setup_old);

Test(bsdiff40_hostile, valid_baseline)
{
    /* add 100 from old[0], copy 10 literal, seek +50; add 20 from old[150] */
    int64_t t[] = {100, 10, 50, 20, 0, 0};
    delta_buf p = with_triples(t, 6, 120, 10, 130);
    mem_sink out;
    cr_assert_eq(apply_ours(OLD, sizeof OLD, p.data, p.len, &out), DELTA_OK, "%s", delta_last_error());
    cr_assert_eq(out.len, 130);
    cr_assert(memcmp(out.data, OLD, 100) == 0);
    cr_assert(memcmp(out.data + 100, ZEROS, 10) == 0);
    cr_assert(memcmp(out.data + 110, OLD + 150, 20) == 0);
    free(out.data);
    delta_buf_free(&p);
}

Test(bsdiff40_hostile, bad_magic)
{
    int64_t t[] = {10, 0, 0};
    delta_buf p = with_triples(t, 3, 10, 0, 10);
    p.data[7] = '9';
    expect_refused(&p, "magic");
    p.len = 20; /* shorter than a header */
    expect_refused(&p, "header");
    delta_buf_free(&p);
}

Test(bsdiff40_hostile, header_lengths)
{
    int64_t t[] = {10, 0, 0};
    delta_buf p = with_triples(t, 3, 10, 0, 10);
    uint8_t save[8];
    memcpy(save, p.data + 8, 8);
    enc(p.data + 8, -5); /* negative control length */
    expect_refused(&p, "negative");
    enc(p.data + 8, (int64_t)p.len); /* control block past the end */
    expect_refused(&p, "past the patch end");
    enc(p.data + 8, INT64_MAX); /* overflowing sum */
    expect_refused(&p, "past the patch end");
    memcpy(p.data + 8, save, 8);
    enc(p.data + 16, -1); /* negative diff length */
    expect_refused(&p, "negative");
    delta_buf_free(&p);

    /* new size over the cap */
    int64_t t2[] = {10, 0, 0};
    p = with_triples(t2, 3, 10, 0, (int64_t)1 << 31);
    expect_refused(&p, "limit");
    delta_buf_free(&p);
    p = with_triples(t2, 3, 10, 0, -10);
    expect_refused(&p, "negative");
    delta_buf_free(&p);
}

Test(bsdiff40_hostile, negative_zero_and_int64_min)
{
    int64_t t[] = {10, 0, 0};
    delta_buf p = with_triples(t, 3, 10, 0, 10);
    memset(p.data + 24, 0, 8);
    p.data[31] = 0x80; /* new size: sign-magnitude negative zero (INT64_MIN in two's complement) */
    expect_refused(&p, "negative zero");
    delta_buf_free(&p);

    /* negative zero as entry 0's seek */
    uint8_t ctrl[48] = {0};
    enc(ctrl, 10);
    ctrl[23] = 0x80;
    p = build(ctrl, 24, ZEROS, 10, ZEROS, 0, 10);
    expect_refused(&p, "control entry 0 holds a negative zero");
    delta_buf_free(&p);
    /* negative zero as entry 1's add */
    memset(ctrl, 0, sizeof ctrl);
    enc(ctrl, 10);
    ctrl[31] = 0x80;
    p = build(ctrl, 48, ZEROS, 20, ZEROS, 0, 20);
    expect_refused(&p, "control entry 1 holds a negative zero");
    delta_buf_free(&p);

    /* the most negative representable add (all bits set: -(2^63-1)) */
    memset(ctrl, 0, sizeof ctrl);
    memset(ctrl, 0xff, 8);
    p = build(ctrl, 24, ZEROS, 10, ZEROS, 0, 10);
    expect_refused(&p, "control entry 0 has a negative length");
    delta_buf_free(&p);
    memset(ctrl, 0, sizeof ctrl);
    memset(ctrl + 8, 0xff, 8); /* negative copy */
    p = build(ctrl, 24, ZEROS, 10, ZEROS, 0, 10);
    expect_refused(&p, "control entry 0 has a negative length");
    delta_buf_free(&p);
}

Test(bsdiff40_hostile, lengths_past_newsize)
{
    int64_t t[] = {10, 0, 0, 100, 0, 0}; /* second add runs past newsize 50 */
    delta_buf p = with_triples(t, 6, 110, 0, 50);
    expect_refused(&p, "control entry 1: add of 100");
    delta_buf_free(&p);
    int64_t t2[] = {10, 41, 0}; /* copy past newsize */
    p = with_triples(t2, 3, 10, 41, 50);
    expect_refused(&p, "control entry 0: copy of 41");
    delta_buf_free(&p);
    int64_t t3[] = {INT64_MAX, 0, 0};
    p = with_triples(t3, 3, 10, 0, 50);
    expect_refused(&p, "control entry 0");
    delta_buf_free(&p);
}

Test(bsdiff40_hostile, old_position_out_of_range)
{
    int64_t before[] = {10, 0, -11, 5, 0, 0}; /* seek to -1 */
    delta_buf p = with_triples(before, 6, 15, 0, 15);
    expect_refused(&p, "control entry 0: seek of -11");
    delta_buf_free(&p);
    int64_t past[] = {10, 0, 4096, 5, 0, 0}; /* seek to 4106 > 4096 */
    p = with_triples(past, 6, 15, 0, 15);
    expect_refused(&p, "control entry 0: seek of 4096");
    delta_buf_free(&p);
    int64_t huge[] = {10, 0, INT64_MAX, 5, 0, 0};
    p = with_triples(huge, 6, 15, 0, 15);
    expect_refused(&p, "control entry 0");
    delta_buf_free(&p);
    int64_t edge[] = {0, 0, 4090, 10, 0, 0}; /* seek lands inside, the add reads past old */
    p = with_triples(edge, 6, 10, 0, 10);
    expect_refused(&p, "control entry 1: add of 10 bytes reads old bytes at 4090");
    delta_buf_free(&p);
    int64_t ok[] = {0, 0, 4086, 10, 0, 0}; /* the last 10 old bytes: fine */
    p = with_triples(ok, 6, 10, 0, 10);
    mem_sink out;
    cr_assert_eq(apply_ours(OLD, sizeof OLD, p.data, p.len, &out), DELTA_OK, "%s", delta_last_error());
    cr_assert(memcmp(out.data, OLD + 4086, 10) == 0);
    free(out.data);
    delta_buf_free(&p);
}

Test(bsdiff40_hostile, truncated_and_trailing)
{
    int64_t t[] = {100, 10, 0};
    delta_buf p = with_triples(t, 3, 100, 10, 110);
    p.len -= 5; /* extra block's bzip2 stream cut short */
    expect_refused(&p, "truncated");
    delta_buf_free(&p);

    /* control stream cut mid-way: rebuild with a cut control block */
    p = with_triples(t, 3, 100, 10, 110);
    uint8_t ctrl_len = p.data[8];
    memmove(p.data + 32 + ctrl_len - 4, p.data + 32 + ctrl_len, p.len - 32 - ctrl_len);
    p.len -= 4;
    enc(p.data + 8, ctrl_len - 4);
    expect_refused(&p, "control");
    delta_buf_free(&p);

    /* a bzip2 stream that is not bzip2 */
    p = with_triples(t, 3, 100, 10, 110);
    p.data[32 + 5] ^= 0xff;
    expect_refused(&p, "control");
    delta_buf_free(&p);

    /* diff block too short for the add */
    p = with_triples(t, 3, 50, 10, 110);
    expect_refused(&p, "control entry 0: the diff block ends early");
    delta_buf_free(&p);

    /* trailing control entry after the target is complete */
    int64_t t2[] = {100, 10, 0, 0, 0, 0};
    p = with_triples(t2, 6, 100, 10, 110);
    expect_refused(&p, "control entry 1 follows a complete target");
    delta_buf_free(&p);

    /* trailing half entry */
    uint8_t ctrl[40] = {0};
    enc(ctrl, 100);
    enc(ctrl + 8, 10);
    p = build(ctrl, 40, ZEROS, 100, ZEROS, 10, 110);
    expect_refused(&p, "control entry 1 is truncated");
    delta_buf_free(&p);

    /* unused diff and extra bytes */
    p = with_triples(t, 3, 101, 10, 110);
    expect_refused(&p, "diff block has data");
    delta_buf_free(&p);
    p = with_triples(t, 3, 100, 11, 110);
    expect_refused(&p, "extra block has data");
    delta_buf_free(&p);

    /* garbage after the extra stream */
    p = with_triples(t, 3, 100, 10, 110);
    delta_buf_append(&p, "junk", 4);
    expect_refused(&p, "after its bzip2 stream");
    delta_buf_free(&p);

    /* target incomplete: control ends early */
    p = with_triples(t, 3, 100, 10, 200);
    expect_refused(&p, "control entry 1 is missing");
    delta_buf_free(&p);
}

Test(bsdiff40_hostile, too_many_entries)
{
    int64_t t[24] = {0}; /* 8 entries that move nothing, newsize 5 */
    delta_buf p = with_triples(t, 24, 0, 0, 5);
    expect_refused(&p, "more entries than target bytes");
    delta_buf_free(&p);
}

Test(bsdiff40_hostile, sink_failure)
{
    int64_t t[] = {100, 10, 0};
    delta_buf p = with_triples(t, 3, 100, 10, 110);
    delta_source src, pat;
    delta_source_from_memory(&src, OLD, sizeof OLD);
    delta_source_from_memory(&pat, p.data, p.len);
    delta_sink sink = {DELTA_SINK_VERSION, NULL, failing_write};
    uint64_t n;
    cr_assert_eq(delta_bsdiff40_apply(&src, &pat, &sink, &n), DELTA_ERR_WRITE_NOSPACE);
    delta_buf_free(&p);
}

Test(bsdiff40, writer_rejects_bad_ops)
{
    uint8_t a[100] = {0}, b[100] = {0};
    delta_buf out = DELTA_BUF_INIT;
    delta_op gap[] = {{0, 0, 10, 0}, {20, 0, 80, 0}};
    cr_assert_eq(delta_bsdiff40_write(a, 100, b, 100, gap, 2, &out), DELTA_ERR_ARG);
    delta_op oob[] = {{0, 50, 60, 40}};
    cr_assert_eq(delta_bsdiff40_write(a, 100, b, 100, oob, 1, &out), DELTA_ERR_ARG);
    delta_op shortc[] = {{0, 0, 50, 0}};
    cr_assert_eq(delta_bsdiff40_write(a, 100, b, 100, shortc, 1, &out), DELTA_ERR_ARG);
    cr_assert_eq(out.len, 0);
}
