/* The diff engine: op lists tile the target, stay in bounds, and the copies
 * are useful (few literal bytes when the target is a lightly edited source). */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "libdelta/diff.h"
#include "testutil.h"

typedef struct diff_stats {
    uint64_t copied;  /* bytes covered by copies */
    uint64_t agree;   /* copied bytes equal to their source byte */
    uint64_t extra;   /* literal bytes */
} diff_stats;

/* Checks tiling and bounds, rebuilds the target from the source, the diff
 * (target - source over each copy) and the literals, and compares. */
static diff_stats check_ops(const uint8_t *src, size_t sl, const uint8_t *dst, size_t dl,
                            const delta_op *ops, size_t n)
{
    diff_stats s = {0, 0, 0};
    uint8_t *diff = malloc(dl ? dl : 1), *rebuilt = malloc(dl ? dl : 1);
    cr_assert(diff && rebuilt);
    uint64_t at = 0;
    for (size_t i = 0; i < n; i++) {
        cr_assert_eq(ops[i].dst, at, "op %zu starts at %llu, expected %llu", i,
                     (unsigned long long)ops[i].dst, (unsigned long long)at);
        cr_assert(ops[i].copy + ops[i].extra > 0, "op %zu is empty", i);
        cr_assert(ops[i].copy + ops[i].extra <= dl - at, "op %zu runs past the target", i);
        if (ops[i].copy)
            cr_assert(ops[i].src <= sl && ops[i].copy <= sl - ops[i].src, "op %zu reads past the source", i);
        else
            cr_assert_eq(ops[i].src, 0, "op %zu: src must be 0 without a copy", i);
        for (uint64_t k = 0; k < ops[i].copy; k++) {
            diff[at + k] = (uint8_t)(dst[at + k] - src[ops[i].src + k]);
            s.agree += dst[at + k] == src[ops[i].src + k];
        }
        s.copied += ops[i].copy;
        s.extra += ops[i].extra;
        at += ops[i].copy + ops[i].extra;
    }
    cr_assert_eq(at, dl, "ops cover %llu of %zu bytes", (unsigned long long)at, dl);
    for (size_t i = 0; i < n; i++) {
        for (uint64_t k = 0; k < ops[i].copy; k++)
            rebuilt[ops[i].dst + k] = (uint8_t)(src[ops[i].src + k] + diff[ops[i].dst + k]);
        memcpy(rebuilt + ops[i].dst + ops[i].copy, dst + ops[i].dst + ops[i].copy, ops[i].extra);
    }
    if (dl) cr_assert(memcmp(rebuilt, dst, dl) == 0, "rebuilt target differs");
    free(diff);
    free(rebuilt);
    return s;
}

static diff_stats run_diff(const uint8_t *src, size_t sl, const uint8_t *dst, size_t dl, size_t *count)
{
    delta_op *ops = NULL;
    size_t n = 0;
    delta_status st = delta_diff(src, sl, dst, dl, NULL, &ops, &n);
    cr_assert_eq(st, DELTA_OK, "delta_diff: %s", delta_last_error());
    diff_stats s = check_ops(src, sl, dst, dl, ops, n);
    if (count) *count = n;
    delta_ops_free(ops);
    return s;
}

static uint8_t *random_image(size_t len, uint64_t seed)
{
    uint8_t *p = malloc(len ? len : 1);
    cr_assert(p);
    tu_fill_random(p, len, seed);
    return p;
}

Test(diff, identical)
{
    size_t len = 100000, n;
    uint8_t *a = random_image(len, 1);
    diff_stats s = run_diff(a, len, a, len, &n);
    cr_assert_eq(n, 1);
    cr_assert_eq(s.copied, len);
    cr_assert_eq(s.agree, len);
    cr_assert_eq(s.extra, 0);
    free(a);
}

Test(diff, empty_source_is_one_literal_op)
{
    uint8_t *b = random_image(5000, 2);
    delta_op *ops = NULL;
    size_t n = 0;
    cr_assert_eq(delta_diff(NULL, 0, b, 5000, NULL, &ops, &n), DELTA_OK);
    cr_assert_eq(n, 1);
    cr_assert_eq(ops[0].dst, 0);
    cr_assert_eq(ops[0].src, 0);
    cr_assert_eq(ops[0].copy, 0);
    cr_assert_eq(ops[0].extra, 5000);
    delta_ops_free(ops);
    free(b);
}

Test(diff, empty_target_is_zero_ops)
{
    uint8_t *a = random_image(5000, 3);
    delta_op *ops = (delta_op *)1;
    size_t n = 99;
    cr_assert_eq(delta_diff(a, 5000, NULL, 0, NULL, &ops, &n), DELTA_OK);
    cr_assert_eq(n, 0);
    cr_assert_null(ops);
    cr_assert_eq(delta_diff(NULL, 0, NULL, 0, NULL, &ops, &n), DELTA_OK);
    cr_assert_eq(n, 0);
    delta_ops_free(NULL);
    free(a);
}

Test(diff, random_unrelated)
{
    size_t len = 200000;
    uint8_t *a = random_image(len, 4), *b = random_image(len, 5);
    diff_stats s = run_diff(a, len, b, len, NULL);
    /* nothing to find: almost everything is literal */
    cr_assert(s.extra > len * 9 / 10, "extra %llu", (unsigned long long)s.extra);
    free(a);
    free(b);
}

Test(diff, insertions)
{
    size_t len = 200000;
    uint8_t *a = random_image(len, 6), *b = malloc(len + 3000);
    /* three 1000-byte insertions of fresh bytes */
    size_t at[3] = {10000, 90000, 150000}, o = 0, prev = 0;
    for (int i = 0; i < 3; i++) {
        memcpy(b + o, a + prev, at[i] - prev);
        o += at[i] - prev;
        tu_fill_random(b + o, 1000, 100 + (uint64_t)i);
        o += 1000;
        prev = at[i];
    }
    memcpy(b + o, a + prev, len - prev);
    diff_stats s = run_diff(a, len, b, len + 3000, NULL);
    cr_assert(s.extra >= 2900 && s.extra < 3300, "extra %llu", (unsigned long long)s.extra);
    free(a);
    free(b);
}

Test(diff, deletions)
{
    size_t len = 200000;
    uint8_t *a = random_image(len, 7), *b = malloc(len);
    size_t o = 0;
    memcpy(b, a, 50000), o = 50000;             /* drop [50000, 52000) */
    memcpy(b + o, a + 52000, 100000), o += 100000; /* drop [152000, 160000) */
    memcpy(b + o, a + 160000, len - 160000), o += len - 160000;
    diff_stats s = run_diff(a, len, b, o, NULL);
    cr_assert(s.extra < 100, "extra %llu", (unsigned long long)s.extra);
    cr_assert(s.agree == o, "agree %llu of %zu", (unsigned long long)s.agree, o);
    free(a);
    free(b);
}

Test(diff, ten_byte_edits_under_one_percent_extra)
{
    size_t len = 1 << 16;
    uint8_t *a = random_image(len, 8), *b = malloc(len);
    memcpy(b, a, len);
    for (int i = 0; i < 10; i++) b[(size_t)i * 6007 + 13] ^= 0x5a;
    diff_stats s = run_diff(a, len, b, len, NULL);
    cr_assert(s.extra * 100 < len, "extra %llu of %zu", (unsigned long long)s.extra, len);
    cr_assert(s.agree >= len - 10 - s.extra);
    free(a);
    free(b);
}

Test(diff, moved_block)
{
    size_t len = 300000;
    uint8_t *a = random_image(len, 9), *b = malloc(len);
    /* move [200000, 250000) to the front */
    memcpy(b, a + 200000, 50000);
    memcpy(b + 50000, a, 200000);
    memcpy(b + 250000, a + 250000, 50000);
    size_t n;
    diff_stats s = run_diff(a, len, b, len, &n);
    cr_assert(s.extra < 64, "extra %llu", (unsigned long long)s.extra);
    cr_assert(n <= 4, "%zu ops", n);
    free(a);
    free(b);
}

Test(diff, aligned_block_swap)
{
    size_t len = 64 * 4096;
    uint8_t *a = random_image(len, 10), *b = malloc(len);
    memcpy(b, a, len);
    /* swap 4 KiB blocks 3 and 40, and 10 and 11 */
    memcpy(b + 3 * 4096, a + 40 * 4096, 4096);
    memcpy(b + 40 * 4096, a + 3 * 4096, 4096);
    memcpy(b + 10 * 4096, a + 11 * 4096, 4096);
    memcpy(b + 11 * 4096, a + 10 * 4096, 4096);
    diff_stats s = run_diff(a, len, b, len, NULL);
    cr_assert(s.extra < 64, "extra %llu", (unsigned long long)s.extra);
    cr_assert(s.agree == len, "agree %llu", (unsigned long long)s.agree);
    free(a);
    free(b);
}

Test(diff, zero_and_ff_regions)
{
    size_t len = 1 << 20;
    uint8_t *a = random_image(len, 11), *b = malloc(len);
    memset(a + 100000, 0, 200000);
    memset(a + 500000, 0xff, 300000);
    memcpy(b, a, len);
    /* the target shifts the erased regions and grows them */
    memset(b + 90000, 0, 250000);
    memset(b + 480000, 0xff, 350000);
    b[700000] = 1;
    diff_stats s = run_diff(a, len, b, len, NULL);
    cr_assert(s.extra * 100 < len, "extra %llu", (unsigned long long)s.extra);
    /* all-zero and all-0xFF images against each other and themselves */
    memset(a, 0, len);
    memset(b, 0xff, len);
    s = run_diff(a, len, a, len, NULL);
    cr_assert_eq(s.extra, 0);
    s = run_diff(a, len, b, len, NULL);
    cr_assert(s.copied + s.extra == len);
    free(a);
    free(b);
}

Test(diff, eight_mib_scattered_edits, .timeout = 300)
{
    size_t len = 8u << 20;
    uint8_t *a = random_image(len, 12), *b = malloc(len + 4096);
    /* 200 scattered 4-byte edits, an insertion and a deletion */
    memcpy(b, a, 3000000);
    tu_fill_random(b + 3000000, 4096, 77);
    memcpy(b + 3004096, a + 3000000, 2000000);
    memcpy(b + 5004096, a + 5001000, len - 5001000);
    size_t blen = len + 4096 - 1000;
    for (int i = 0; i < 200; i++) {
        size_t at = (size_t)i * 41941 + 7;
        b[at] ^= 1, b[at + 1] += 3, b[at + 3] = 0;
    }
    diff_stats s = run_diff(a, len, b, blen, NULL);
    cr_assert(s.extra * 100 < blen, "extra %llu", (unsigned long long)s.extra);
    cr_assert(s.extra >= 4096);

    /* the op list does not depend on the thread count */
    delta_op *o1, *o2;
    size_t n1, n2;
    delta_diff_options opt = DELTA_DIFF_OPTIONS_INIT;
    opt.threads = 1;
    cr_assert_eq(delta_diff(a, len, b, blen, &opt, &o1, &n1), DELTA_OK);
    opt.threads = 2;
    cr_assert_eq(delta_diff(a, len, b, blen, &opt, &o2, &n2), DELTA_OK);
    cr_assert_eq(n1, n2);
    cr_assert(memcmp(o1, o2, n1 * sizeof *o1) == 0);
    delta_ops_free(o1);
    delta_ops_free(o2);
    free(a);
    free(b);
}

Test(diff, memory_cap_and_formula)
{
    size_t len = 100000;
    uint8_t *a = random_image(len, 13);
    uint64_t need = delta_diff_memory(len, len);
    cr_assert(need >= 4 * (uint64_t)len);
    cr_assert(delta_diff_memory(2 * len, len) - need == 4 * (uint64_t)len);

    delta_diff_options opt = DELTA_DIFF_OPTIONS_INIT;
    opt.max_memory = 4 * (uint64_t)len / 2;
    delta_op *ops = NULL;
    size_t n = 0;
    cr_assert_eq(delta_diff(a, len, a, len, &opt, &ops, &n), DELTA_ERR_LIMIT);
    cr_assert_null(ops);
    cr_assert(strstr(delta_last_error(), "too small") != NULL, "%s", delta_last_error());
    opt.max_memory = need;
    cr_assert_eq(delta_diff(a, len, a, len, &opt, &ops, &n), DELTA_OK);
    delta_ops_free(ops);
    free(a);
}

/* Under a memory cap below the suffix array's size, matching runs in source
 * windows: still a valid cover, still few literals for a locally edited image. */
Test(diff, windowed_under_a_memory_cap, .timeout = 300)
{
    size_t len = 4u << 20;
    uint8_t *a = random_image(len, 21), *b = malloc(len + 8192);
    memcpy(b, a, 1000000);
    tu_fill_random(b + 1000000, 5000, 5);           /* an insertion */
    memcpy(b + 1005000, a + 1000000, len - 1000000 - 3000); /* a deletion at the end */
    size_t blen = len + 5000 - 3000;
    for (int i = 0; i < 300; i++) b[(size_t)i * 13331 + 5] ^= 0x40;
    delta_diff_options opt = DELTA_DIFF_OPTIONS_INIT;
    opt.max_memory = 3u << 20; /* the whole suffix array needs 16 MiB */
    delta_op *ops = NULL;
    size_t n = 0;
    cr_assert_eq(delta_diff(a, len, b, blen, &opt, &ops, &n), DELTA_OK, "%s", delta_last_error());
    diff_stats s = check_ops(a, len, b, blen, ops, n);
    cr_assert(s.extra < blen / 100, "windowed: %llu literal bytes", (unsigned long long)s.extra);
    cr_assert(s.agree > blen - blen / 50);
    delta_ops_free(ops);
    free(a);
    free(b);
}

Test(diff, bad_arguments)
{
    delta_op *ops;
    size_t n;
    cr_assert_eq(delta_diff(NULL, 10, NULL, 0, NULL, &ops, &n), DELTA_ERR_ARG);
    cr_assert_eq(delta_diff(NULL, 0, NULL, 0, NULL, NULL, &n), DELTA_ERR_ARG);
}
