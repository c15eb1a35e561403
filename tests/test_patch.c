/*
 * ldpatch1: make -> prove -> apply out of place and in place, on images
 * built to stress the in-place planner (swaps, shifts, cycles), with power
 * cut at every write event and failures injected, and every byte of a patch
 * flipped.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "libdelta/encode.h"
#include "patch/arch.h"
#include "simflash.h"
#include "testutil.h"

#define BS 4096

typedef struct pair {
    uint8_t *src, *tgt;
    size_t src_len, tgt_len;
    delta_op *ops;
    size_t nops;
} pair;

static void pair_free(pair *p)
{
    free(p->src);
    free(p->tgt);
    free(p->ops);
}

static void push_op(pair *p, size_t *cap, uint64_t dst, uint64_t src, uint64_t copy, uint64_t extra)
{
    if (p->nops == *cap) {
        *cap = *cap ? *cap * 2 : 16;
        p->ops = realloc(p->ops, *cap * sizeof *p->ops);
    }
    p->ops[p->nops++] = (delta_op){dst, src, copy, extra};
}

/* Ops for a target assembled from (src, len) chunks and literal runs:
 * chunks[i] = {src, len} with src == UINT64_MAX meaning literal. */
typedef struct chunk { uint64_t src, len; } chunk;

static void build(pair *p, const chunk *c, size_t n)
{
    size_t cap = 0;
    p->tgt_len = 0;
    for (size_t i = 0; i < n; i++) p->tgt_len += c[i].len;
    p->tgt = malloc(p->tgt_len + 1);
    uint64_t dst = 0;
    for (size_t i = 0; i < n; i++) {
        if (c[i].src == UINT64_MAX) {
            tu_fill_random(p->tgt + dst, c[i].len, 1000 + i);
            push_op(p, &cap, dst, 0, 0, c[i].len);
        } else {
            memcpy(p->tgt + dst, p->src + c[i].src, c[i].len);
            /* A few edits inside copies exercise the diff stream. */
            if (c[i].len > 100) p->tgt[dst + c[i].len / 2] ^= 0x5a;
            push_op(p, &cap, dst, c[i].src, c[i].len, 0);
        }
        dst += c[i].len;
    }
}

static void make_src(pair *p, size_t len, uint64_t seed)
{
    memset(p, 0, sizeof *p);
    p->src = malloc(len + 1);
    p->src_len = len;
    tu_fill_random(p->src, len, seed);
}

static delta_buf make_patch(const pair *p, const delta_patch_options *opt, delta_patch_stats *stats)
{
    delta_patch_options small = DELTA_PATCH_OPTIONS_INIT;
    small.batch_blocks = 2; /* small images still commit many times: cuts land everywhere */
    if (!opt) opt = &small;
    delta_buf out = DELTA_BUF_INIT;
    delta_status st = delta_patch_make(p->src, p->src_len, p->tgt, p->tgt_len, p->ops, p->nops, opt, &out, stats);
    cr_assert_eq(st, DELTA_OK, "make: %s", delta_last_error());
    return out;
}

static void check_out_of_place(const pair *p, const delta_buf *patch)
{
    delta_source ps, ss;
    delta_source_from_memory(&ps, patch->data, patch->len);
    delta_source_from_memory(&ss, p->src, p->src_len);
    tu_memsink m = {calloc(p->tgt_len + BS, 1), p->tgt_len + BS, 0};
    delta_sink sink = {DELTA_SINK_VERSION, &m, tu_memsink_write};
    delta_status st = delta_apply_out_of_place(&ps, &ss, &sink, NULL, 0);
    cr_assert_eq(st, DELTA_OK, "out of place: %s", delta_last_error());
    cr_assert_eq(m.len, p->tgt_len);
    cr_assert(memcmp(m.data, p->tgt, p->tgt_len) == 0, "out-of-place target differs");
    free(m.data);
}

/* One in-place run from the sim's durable state; returns the status. */
static delta_status run_in_place(sim *s, const delta_buf *patch, const uint8_t *sha)
{
    delta_flash f;
    delta_store store;
    sim_flash(s, &f);
    sim_store(s, &store);
    delta_journal j;
    memset(&j, 0, sizeof j);
    if (s->journal_len) {
        delta_status st = delta_journal_decode(s->journal, s->journal_len, &j);
        cr_assert_eq(st, DELTA_OK, "journal: %s", delta_last_error());
    }
    delta_source ps;
    delta_source_from_memory(&ps, patch->data, patch->len);
    delta_apply_params ap = {DELTA_APPLY_PARAMS_VERSION, &ps, &f, &store, &j, sha, NULL, 0, NULL, NULL, 0, DELTA_NO_BACKUP};
    return delta_apply_in_place(&ap);
}

static void check_in_place(const pair *p, const delta_buf *patch, uint64_t *events_out)
{
    uint8_t sha[32];
    delta_sha256(p->tgt, p->tgt_len, sha);
    size_t cap = (p->src_len > p->tgt_len ? p->src_len : p->tgt_len) + BS;
    sim s;
    sim_init(&s, p->src, p->src_len, cap);
    delta_status st = run_in_place(&s, patch, sha);
    cr_assert_eq(st, DELTA_OK, "in place: %s", delta_last_error());
    cr_assert_eq(s.flash.size, p->tgt_len);
    cr_assert(memcmp(s.flash.live, p->tgt, p->tgt_len) == 0, "in-place target differs");
    if (events_out) *events_out = s.events;
    sim_free(&s);
}

/* Cuts power at every event (or every step-th), resumes, and demands the exact target. */
static uint64_t check_power_cuts(const pair *p, const delta_buf *patch, uint64_t total, uint64_t step)
{
    uint8_t sha[32];
    delta_sha256(p->tgt, p->tgt_len, sha);
    size_t cap = (p->src_len > p->tgt_len ? p->src_len : p->tgt_len) + BS;
    uint64_t cuts = 0;
    for (uint64_t n = 1; n <= total; n += step) {
        sim s;
        sim_init(&s, p->src, p->src_len, cap);
        s.cut_at = n;
        delta_status st = run_in_place(&s, patch, sha);
        cr_assert_neq(st, DELTA_OK, "cut at event %llu was not hit", (unsigned long long)n);
        sim_reboot(&s);
        /* A second cut during the resume, a little later. */
        s.cut_at = s.events + 1 + n % 5;
        run_in_place(&s, patch, sha);
        sim_reboot(&s);
        st = run_in_place(&s, patch, sha);
        cr_assert_eq(st, DELTA_OK, "resume after cut %llu: %s", (unsigned long long)n, delta_last_error());
        cr_assert_eq(s.flash.size, p->tgt_len);
        cr_assert(memcmp(s.flash.live, p->tgt, p->tgt_len) == 0, "target differs after cut at %llu",
                  (unsigned long long)n);
        sim_free(&s);
        cuts++;
    }
    return cuts;
}

static void full_check(const pair *p, const delta_patch_options *opt, delta_patch_stats *stats)
{
    delta_buf patch = make_patch(p, opt, stats);
    delta_source ps;
    delta_source_from_memory(&ps, patch.data, patch.len);
    delta_plan_report rep;
    cr_assert_eq(delta_patch_prove(&ps, &rep), DELTA_OK, "prove: %s", delta_last_error());
    check_out_of_place(p, &patch);
    uint64_t events;
    check_in_place(p, &patch, &events);
    uint64_t cuts = check_power_cuts(p, &patch, events, events > 400 ? events / 200 : 1);
    cr_log_info("%llu write events, %llu power-cut points (each with a second cut during the resume)",
                (unsigned long long)events, (unsigned long long)cuts);
    delta_buf_free(&patch);
}

#define LIT UINT64_MAX

Test(patch, swapped_blocks_need_stash)
{
    pair p;
    make_src(&p, 8 * BS, 1);
    /* Blocks swap in pairs: 0<->1, 2<->3, and a 3-cycle 4->5->6->4; 7 stays. */
    chunk c[] = {{1 * BS, BS}, {0, BS}, {3 * BS, BS}, {2 * BS, BS},
                 {5 * BS, BS}, {6 * BS, BS}, {4 * BS, BS}, {7 * BS, BS}};
    build(&p, c, 8);
    delta_patch_options opt = DELTA_PATCH_OPTIONS_INIT;
    delta_patch_stats stats;
    /* One block per batch: every cycle needs a stash. */
    opt.batch_blocks = 1;
    full_check(&p, &opt, &stats);
    cr_assert_eq(stats.stashes, 3, "one stash per cycle, got %llu", (unsigned long long)stats.stashes);
    cr_assert_eq(stats.literal_conversions, 0);
    /* Two: the swapped pairs share a batch, the 3-cycle still needs a stash. */
    opt.batch_blocks = 2;
    full_check(&p, &opt, &stats);
    cr_assert_eq(stats.stashes, 1, "got %llu stashes", (unsigned long long)stats.stashes);
    /* Four or more: every cycle shares a batch, nothing is stashed or lost. */
    for (uint32_t batch = 4; batch <= 16; batch *= 2) {
        opt.batch_blocks = batch;
        full_check(&p, &opt, &stats);
        cr_assert_eq(stats.stashes, 0);
        cr_assert_eq(stats.literal_conversions, 0);
    }
    pair_free(&p);
}

Test(patch, cycles_without_scratch_become_literals)
{
    pair p;
    make_src(&p, 8 * BS, 2);
    chunk c[] = {{1 * BS, BS}, {0, BS}, {3 * BS, BS}, {2 * BS, BS},
                 {5 * BS, BS}, {6 * BS, BS}, {4 * BS, BS}, {7 * BS, BS}};
    build(&p, c, 8);
    delta_patch_options opt = DELTA_PATCH_OPTIONS_INIT;
    opt.max_stash = 0;
    opt.batch_blocks = 1; /* no batch to share: cycles must be broken */
    delta_patch_stats stats;
    full_check(&p, &opt, &stats);
    cr_assert_eq(stats.stashes, 0);
    cr_assert_eq(stats.literal_conversions, 3);
    pair_free(&p);
}

Test(patch, content_shifted_forward_and_back)
{
    pair p;
    make_src(&p, 20 * BS + 123, 3);
    /* Insert 1000 bytes at 5000 (content moves up), delete 3000 at 50000 (moves down). */
    chunk c[] = {{0, 5000}, {LIT, 1000}, {5000, 45000}, {48000, p.src_len - 48000}};
    build(&p, c, 4);
    delta_patch_options opt = DELTA_PATCH_OPTIONS_INIT;
    full_check(&p, &opt, NULL);
    pair_free(&p);
}

Test(patch, growing_and_shrinking)
{
    pair p;
    make_src(&p, 10 * BS, 4);
    chunk grow[] = {{0, 10 * BS}, {LIT, 5 * BS + 17}, {BS, 3 * BS}};
    build(&p, grow, 3);
    full_check(&p, NULL, NULL);
    pair_free(&p);

    make_src(&p, 10 * BS, 5);
    chunk shrink[] = {{2 * BS, 3 * BS + 5}, {LIT, 100}};
    build(&p, shrink, 2);
    full_check(&p, NULL, NULL);
    pair_free(&p);
}

Test(patch, zero_and_ff_regions)
{
    pair p;
    make_src(&p, 12 * BS, 6);
    memset(p.src + 2 * BS, 0, 3 * BS);
    memset(p.src + 7 * BS, 0xff, 2 * BS);
    chunk c[] = {{7 * BS, 2 * BS}, {2 * BS, 3 * BS}, {0, 2 * BS}, {LIT, 4 * BS}};
    build(&p, c, 4);
    memset(p.tgt + 8 * BS, 0, 2 * BS); /* literal zeros too */
    full_check(&p, NULL, NULL);
    pair_free(&p);
}

Test(patch, identical_images_have_no_commands)
{
    pair p;
    make_src(&p, 9 * BS + 1, 7);
    chunk c[] = {{0, p.src_len}};
    build(&p, c, 1);
    memcpy(p.tgt, p.src, p.src_len); /* undo build's edit */
    delta_patch_stats stats;
    delta_buf patch = make_patch(&p, NULL, &stats);
    cr_assert_eq(stats.commands, 0);
    cr_assert_eq(patch.len, DELTA_PATCH_HEADER_SIZE);
    check_out_of_place(&p, &patch);
    uint64_t events;
    check_in_place(&p, &patch, &events);
    delta_buf_free(&patch);
    pair_free(&p);
}

Test(patch, empty_images)
{
    pair p;
    make_src(&p, 0, 8);
    chunk c[] = {{LIT, 3 * BS + 9}};
    build(&p, c, 1);
    full_check(&p, NULL, NULL);
    pair_free(&p);

    make_src(&p, 5 * BS, 9);
    p.tgt = malloc(1);
    p.tgt_len = 0;
    full_check(&p, NULL, NULL);
    pair_free(&p);
}

Test(patch, random_tilings_many_cycles)
{
    for (uint64_t seed = 0; seed < 6; seed++) {
        pair p;
        make_src(&p, 40 * BS + seed * 777, 100 + seed);
        chunk c[64];
        size_t n = 0;
        uint8_t r[256];
        tu_fill_random(r, sizeof r, seed);
        uint64_t total = 0;
        while (n < 60 && total < 45 * BS) {
            uint64_t len = 100 + (uint64_t)r[n] * 40 + r[n + 64];
            if (r[n + 128] < 40) {
                c[n] = (chunk){LIT, len};
            } else {
                uint64_t src = ((uint64_t)r[n + 192] * 997 * (seed + 1)) % (p.src_len - len);
                c[n] = (chunk){src, len};
            }
            total += len;
            n++;
        }
        build(&p, c, n);
        delta_patch_options opt = DELTA_PATCH_OPTIONS_INIT;
        opt.max_stash = (uint32_t)(seed % 3) * 2; /* 0, 2, 4 slots: conversions and stashes */
        opt.segment_size = 8 * BS;                /* several segments: resume across them */
        opt.compression = seed % 2 ? DELTA_COMPRESSION_NONE : DELTA_COMPRESSION_LZMA2;
        opt.batch_blocks = (uint32_t[]){1, 3, 32}[seed % 3]; /* commit every block, a few, many */
        full_check(&p, &opt, NULL);
        pair_free(&p);
    }
}

Test(patch, caller_workspace_without_malloc)
{
    pair p;
    make_src(&p, 6 * BS, 10);
    chunk c[] = {{3 * BS, 3 * BS}, {0, 3 * BS}};
    build(&p, c, 2);
    delta_buf patch = make_patch(&p, NULL, NULL);
    delta_source ps, ss;
    delta_source_from_memory(&ps, patch.data, patch.len);
    delta_source_from_memory(&ss, p.src, p.src_len);
    delta_patch_info info;
    cr_assert_eq(delta_patch_read_info(&ps, &info), DELTA_OK);
    size_t need = delta_apply_workspace_size(&info);
    cr_assert_lt(need, 4u << 20, "workspace %zu bytes", need);
    void *ws = malloc(need);
    tu_memsink m = {calloc(p.tgt_len, 1), p.tgt_len, 0};
    delta_sink sink = {DELTA_SINK_VERSION, &m, tu_memsink_write};
    cr_assert_eq(delta_apply_out_of_place(&ps, &ss, &sink, ws, need), DELTA_OK, "%s", delta_last_error());
    cr_assert(memcmp(m.data, p.tgt, p.tgt_len) == 0);
    cr_assert_eq(delta_apply_out_of_place(&ps, &ss, &sink, ws, need - 1), DELTA_ERR_ARG);
    free(ws);
    free(m.data);
    delta_buf_free(&patch);
    pair_free(&p);
}

Test(patch, every_flipped_byte_is_refused)
{
    pair p;
    make_src(&p, 6 * BS, 11);
    chunk c[] = {{3 * BS, 3 * BS}, {LIT, 500}, {0, 3 * BS}};
    build(&p, c, 3);
    delta_buf patch = make_patch(&p, NULL, NULL);
    for (size_t i = 0; i < patch.len; i++) {
        patch.data[i] ^= 0x01;
        delta_source ps;
        delta_source_from_memory(&ps, patch.data, patch.len);
        delta_status st = delta_patch_prove(&ps, NULL);
        cr_assert(st == DELTA_ERR_PATCH || st == DELTA_ERR_PLAN, "flip at %zu gave %d", i, st);
        patch.data[i] ^= 0x01;
    }
    /* Truncations too. */
    for (size_t len = 0; len < patch.len; len += 7) {
        delta_source ps;
        delta_source_from_memory(&ps, patch.data, len);
        cr_assert_eq(delta_patch_prove(&ps, NULL), DELTA_ERR_PATCH, "truncated to %zu", len);
    }
    delta_buf_free(&patch);
    pair_free(&p);
}

/* Recomputes the header CRC after a test edits the header. */
static void fix_crc(delta_buf *patch)
{
    uint32_t segs = patch->data[36] | patch->data[37] << 8;
    extern uint32_t dlt_crc32(uint32_t, const void *, size_t);
    uint32_t crc = dlt_crc32(0, patch->data, 60);
    crc = dlt_crc32(crc, patch->data + 64, (size_t)segs * DELTA_PATCH_SEGMENT_ENTRY);
    for (int i = 0; i < 4; i++) patch->data[60 + i] = (uint8_t)(crc >> (8 * i));
}

Test(patch, unsafe_order_fails_the_proof)
{
    pair p;
    make_src(&p, 4 * BS, 12);
    chunk c[] = {{BS, BS}, {0, BS}, {2 * BS, 2 * BS}};
    build(&p, c, 3);
    delta_patch_options opt = DELTA_PATCH_OPTIONS_INIT;
    opt.inplace = 0; /* target order: block 0 is written before block 1 reads it */
    delta_buf patch = make_patch(&p, &opt, NULL);
    delta_source ps;
    delta_source_from_memory(&ps, patch.data, patch.len);
    cr_assert_eq(delta_patch_prove(&ps, NULL), DELTA_OK, "out-of-place patches prove without INPLACE");
    check_out_of_place(&p, &patch);
    /* Claiming INPLACE for it is caught. */
    patch.data[29] = DELTA_PATCH_INPLACE;
    fix_crc(&patch);
    cr_assert_eq(delta_patch_prove(&ps, NULL), DELTA_ERR_PLAN);
    cr_assert(strstr(delta_last_error(), "after it was overwritten") != NULL, "%s", delta_last_error());
    delta_buf_free(&patch);
    pair_free(&p);
}

Test(patch, oversized_batch_fails_the_proof)
{
    pair p;
    make_src(&p, 8 * BS, 14);
    chunk c[] = {{BS, BS}, {0, BS}, {3 * BS, BS}, {2 * BS, BS}, {LIT, 4 * BS}};
    build(&p, c, 5);
    delta_patch_options opt = DELTA_PATCH_OPTIONS_INIT;
    opt.batch_blocks = 8; /* all eight blocks in one batch */
    delta_buf patch = make_patch(&p, &opt, NULL);
    delta_source ps;
    delta_source_from_memory(&ps, patch.data, patch.len);
    cr_assert_eq(delta_patch_prove(&ps, NULL), DELTA_OK, "%s", delta_last_error());
    /* A header claiming a 4-block pending area for that plan is refused: the
     * applier could not hold the batch. */
    patch.data[56] = 4;
    fix_crc(&patch);
    cr_assert_eq(delta_patch_prove(&ps, NULL), DELTA_ERR_PLAN);
    cr_assert(strstr(delta_last_error(), "more than 4 blocks in one batch") != NULL, "%s", delta_last_error());
    delta_buf_free(&patch);
    pair_free(&p);
}

Test(patch, injected_write_failures_end_the_try_and_resume)
{
    pair p;
    make_src(&p, 8 * BS, 13);
    chunk c[] = {{1 * BS, BS}, {0, BS}, {3 * BS, 5 * BS}};
    build(&p, c, 3);
    delta_buf patch = make_patch(&p, NULL, NULL);
    uint8_t sha[32];
    delta_sha256(p.tgt, p.tgt_len, sha);
    uint64_t events;
    check_in_place(&p, &patch, &events);
    for (uint64_t n = 1; n <= events; n++) {
        sim s;
        sim_init(&s, p.src, p.src_len, p.src_len + BS);
        s.fail_at = n;
        s.fail_count = 1;
        delta_status st = run_in_place(&s, &patch, sha);
        int code = delta_dfota_code(st);
        cr_assert((code >= 520 && code <= 530) || (code >= 540 && code <= 546), "failure %llu gave %d (%d)",
                  (unsigned long long)n, code, st);
        s.fail_at = 0;
        sim_reboot(&s); /* the device reboots and retries */
        st = run_in_place(&s, &patch, sha);
        cr_assert_eq(st, DELTA_OK, "retry after failure %llu: %s", (unsigned long long)n, delta_last_error());
        cr_assert(memcmp(s.flash.live, p.tgt, p.tgt_len) == 0);
        sim_free(&s);
    }
    delta_buf_free(&patch);
    pair_free(&p);
}

Test(patch, journal_round_trip_and_corruption)
{
    delta_journal j, k;
    memset(&j, 0, sizeof j);
    for (int i = 0; i < 32; i++) j.package_id[i] = (uint8_t)i;
    j.image_index = 2;
    j.state = DELTA_JOURNAL_APPLYING;
    j.flags = DELTA_JOURNAL_PENDING | DELTA_JOURNAL_WRITTEN;
    j.next_op = 123456789;
    j.pending_count = 2;
    j.pending_block[1] = 77;
    j.pending_crc[1] = 0xdeadbeef;
    j.tries = 3;
    j.stash_count = 3;
    j.stash[1] = 9;
    uint8_t buf[256];
    size_t len;
    cr_assert_eq(delta_journal_encode(&j, buf, sizeof buf, &len), DELTA_OK);
    cr_assert_eq(len, delta_journal_size(3, 2));
    cr_assert_eq(delta_journal_decode(buf, len, &k), DELTA_OK);
    cr_assert_eq(k.next_op, 123456789);
    cr_assert_eq(k.pending_count, 2);
    cr_assert_eq(k.pending_block[1], 77);
    cr_assert_eq(k.pending_crc[1], 0xdeadbeef);
    cr_assert_eq(k.stash[1], 9);
    cr_assert_eq(k.tries, 3);
    cr_assert(memcmp(k.package_id, j.package_id, 32) == 0);
    for (size_t i = 0; i < len; i++) {
        buf[i] ^= 0x80;
        cr_assert_eq(delta_journal_decode(buf, len, &k), DELTA_ERR_STATE_CORRUPT, "flip at %zu", i);
        buf[i] ^= 0x80;
    }
    cr_assert_eq(delta_journal_decode(buf, len - 1, &k), DELTA_ERR_STATE_CORRUPT);
}

/* ---- the op_count cap (formats/patch.md: at most 4 commands per target block) ---- */

static void put_bytes(delta_buf *b, const void *p, size_t n)
{
    cr_assert_eq(delta_buf_append(b, p, n), DELTA_OK);
}

/* An in-place ldpatch1 with no compression over `blocks` 512-byte blocks
 * (source = target): per block, its own batch STASH k 0, BLOCK k (a COPY
 * of source block k, zero diff), FREE 0, COMMIT, the writer's worst case of
 * 4 commands per block; then `extra_commits` more (empty) COMMITs. */
static void craft_four_per_block(delta_buf *out, uint32_t blocks, uint32_t extra_commits)
{
    extern uint32_t dlt_crc32(uint32_t, const void *, size_t);
    const uint32_t bs = 512;
    delta_buf ctrl = DELTA_BUF_INIT;
    for (uint32_t k = 0; k < blocks; k++) {
        cr_assert_lt(k, 128u, "one-byte varints only");
        uint8_t cmds[] = {0x02, (uint8_t)k, 0x00,              /* STASH k 0 */
                          0x01, (uint8_t)k, 0x80, 0x08, 0x00, /* BLOCK k: COPY 512, d 0 */
                          0x03, 0x00,                          /* FREE 0 */
                          0x04};                               /* COMMIT */
        put_bytes(&ctrl, cmds, sizeof cmds);
    }
    for (uint32_t i = 0; i < extra_commits; i++) put_bytes(&ctrl, "\x04", 1);
    size_t diff_len = (size_t)blocks * bs;
    uint8_t *diff = calloc(diff_len, 1);
    uint8_t h[64] = {0}, seg[DELTA_PATCH_SEGMENT_ENTRY] = {0};
    memcpy(h, "LDPATCH1", 8);
    uint64_t size = (uint64_t)blocks * bs, ops = 4ull * blocks + extra_commits;
    for (int i = 0; i < 8; i++) {
        h[8 + i] = h[16 + i] = (uint8_t)(size >> (8 * i));
        h[48 + i] = (uint8_t)(ops >> (8 * i));
    }
    h[25] = bs >> 8;                 /* block_size 512 */
    h[29] = DELTA_PATCH_INPLACE;     /* flags */
    h[36] = 1;                       /* segment_count */
    h[40] = 1;                       /* stash_slots */
    uint32_t max_stream = (uint32_t)(diff_len > ctrl.len ? diff_len : ctrl.len);
    for (int i = 0; i < 4; i++) h[44 + i] = (uint8_t)(max_stream >> (8 * i));
    h[56] = 1; /* batch_blocks */
    uint32_t sizes[3] = {(uint32_t)ctrl.len, (uint32_t)diff_len, 0};
    for (int s = 0; s < 3; s++)
        for (int i = 0; i < 4; i++) seg[8 + 4 * s + i] = seg[20 + 4 * s + i] = (uint8_t)(sizes[s] >> (8 * i));
    uint32_t scrc = dlt_crc32(dlt_crc32(0, ctrl.data, ctrl.len), diff, diff_len);
    for (int i = 0; i < 4; i++) seg[32 + i] = (uint8_t)(scrc >> (8 * i));
    uint32_t crc = dlt_crc32(dlt_crc32(0, h, 60), seg, sizeof seg);
    for (int i = 0; i < 4; i++) h[60 + i] = (uint8_t)(crc >> (8 * i));
    put_bytes(out, h, sizeof h);
    put_bytes(out, seg, sizeof seg);
    put_bytes(out, ctrl.data, ctrl.len);
    put_bytes(out, diff, diff_len);
    free(diff);
    delta_buf_free(&ctrl);
}

Test(patch, op_count_cap_is_four_per_target_block)
{
    delta_buf at = DELTA_BUF_INIT, over = DELTA_BUF_INIT;
    craft_four_per_block(&at, 8, 0);
    craft_four_per_block(&over, 8, 1);
    delta_source ps;
    delta_patch_info info;
    delta_plan_report rep;

    /* 32 commands for 8 blocks: the limit, a valid plan that proves */
    delta_source_from_memory(&ps, at.data, at.len);
    cr_assert_eq(delta_patch_read_info(&ps, &info), DELTA_OK, "%s", delta_last_error());
    cr_assert_eq(info.op_count, 32);
    cr_assert_eq(delta_patch_prove(&ps, &rep), DELTA_OK, "%s", delta_last_error());
    cr_assert_eq(rep.blocks_written, 8);
    cr_assert_eq(rep.stashes, 8);

    /* 33 (one more, an empty COMMIT the proof alone would let through): refused by the header check */
    delta_source_from_memory(&ps, over.data, over.len);
    cr_assert_eq(delta_patch_read_info(&ps, &info), DELTA_ERR_PATCH);
    cr_assert_str_eq(delta_last_error(), "patch: 33 commands for 8 target blocks (at most 4 per block)");
    cr_assert_eq(delta_patch_prove(&ps, NULL), DELTA_ERR_PATCH);
    delta_buf_free(&at);
    delta_buf_free(&over);
}

Test(patch, empty_target_takes_no_commands)
{
    /* 0 target blocks: op_count must be 0 (and so must segment_count) */
    delta_buf p = DELTA_BUF_INIT;
    craft_four_per_block(&p, 0, 1);
    delta_source ps;
    delta_source_from_memory(&ps, p.data, p.len);
    delta_patch_info info;
    cr_assert_eq(delta_patch_read_info(&ps, &info), DELTA_ERR_PATCH);
    cr_assert_str_eq(delta_last_error(), "patch: 1 commands for 0 target blocks (at most 4 per block)");
    delta_buf_free(&p);
}

/*
 * A synthetic Thumb-2 image "relinked": 96 functions of 256 bytes, a BL every
 * 16 bytes to some function, filler halfwords that are never branches. The
 * target inserts a new function after the 20th, drops the 60th (its callers
 * now call function 0) and edits a byte of the 10th; every BL is re-encoded
 * for the new layout, so the calls across the insertion all change.
 */
#define FN 96
#define FLEN 256
static void thumb2_layout(uint8_t *img, const int *order, size_t n, const uint32_t *callee, uint64_t seed)
{
    size_t addr[FN + 1] = {0};
    for (size_t k = 0; k < n; k++) addr[order[k]] = k * FLEN;
    for (size_t k = 0; k < n; k++) {
        uint8_t *f = img + k * FLEN;
        tu_fill_random(f, FLEN, seed + (uint64_t)order[k]);
        for (size_t i = 1; i < FLEN; i += 2) f[i] &= 0x7f; /* filler: bit 15 clear, never a prefix */
        for (size_t i = 0; i < FLEN; i += 16) {
            uint32_t to = callee[order[k] * (FLEN / 16) + i / 16];
            if (to == FN - 36) to = 0; /* the dropped function's callers call 0 */
            int32_t imm = (int32_t)addr[to] - (int32_t)(k * FLEN + i + 4);
            uint16_t h1 = 0xF000, h2 = 0xD000;
            dlt_arch_thumb2_encode(&h1, &h2, imm);
            f[i] = (uint8_t)h1;
            f[i + 1] = (uint8_t)(h1 >> 8);
            f[i + 2] = (uint8_t)h2;
            f[i + 3] = (uint8_t)(h2 >> 8);
        }
    }
}

Test(patch, thumb2_prediction_round_trip)
{
    uint32_t callee[(FN + 1) * (FLEN / 16)];
    uint8_t r[sizeof callee];
    tu_fill_random(r, sizeof r, 77);
    for (size_t i = 0; i < sizeof callee / sizeof callee[0]; i++) callee[i] = r[i] % FN;
    int old_order[FN], new_order[FN];
    for (int k = 0; k < FN; k++) old_order[k] = k;
    size_t nn = 0;
    for (int k = 0; k < FN; k++) {
        if (k == FN - 36) continue; /* dropped */
        new_order[nn++] = k;
        if (k == 20) new_order[nn++] = FN; /* the new function */
    }
    pair p;
    memset(&p, 0, sizeof p);
    p.src_len = FN * FLEN;
    p.tgt_len = nn * FLEN;
    p.src = malloc(p.src_len);
    p.tgt = malloc(p.tgt_len);
    /* the source's functions never call the new one */
    for (size_t i = 0; i < FN * (FLEN / 16); i++)
        if (callee[i] == FN) callee[i] = 1;
    thumb2_layout(p.src, old_order, FN, callee, 5);
    thumb2_layout(p.tgt, new_order, nn, callee, 5);
    p.tgt[10 * FLEN + 7] ^= 0x11;
    delta_diff_options dopt = DELTA_DIFF_OPTIONS_INIT;
    cr_assert_eq(delta_diff(p.src, p.src_len, p.tgt, p.tgt_len, &dopt, &p.ops, &p.nops), DELTA_OK);

    delta_patch_options opt = DELTA_PATCH_OPTIONS_INIT;
    opt.block_size = 1024;
    opt.batch_blocks = 2;
    delta_patch_stats plain, auto_, forced;
    opt.arch = DELTA_ARCH_NONE;
    delta_buf a = make_patch(&p, &opt, &plain);
    opt.arch = DELTA_ARCH_AUTO;
    delta_buf b = make_patch(&p, &opt, &auto_);
    cr_assert_eq(plain.predicted_segments, 0);
    cr_assert_eq(auto_.predicted_segments, 1, "AUTO finds the Thumb-2 code and keeps prediction");
    cr_assert_lt(b.len, a.len * 3 / 4, "prediction: %zu bytes, without: %zu", b.len, a.len);
    cr_log_info("thumb2: %zu bytes with prediction, %zu without", b.len, a.len);
    opt.segment_size = 4096; /* several segments, each with its map */
    full_check(&p, &opt, &auto_);
    opt.arch = DELTA_ARCH_THUMB2;
    full_check(&p, &opt, &forced);
    cr_assert_eq(forced.predicted_segments, (p.tgt_len + 4095) / 4096);
    delta_buf_free(&a);
    delta_buf_free(&b);
    pair_free(&p);
}

/* Data that is not Thumb-2 code: AUTO finds nothing to predict and the
 * patch is byte for byte the one made without prediction. */
Test(patch, auto_leaves_data_images_alone)
{
    pair p;
    make_src(&p, 12 * BS, 9);
    chunk c[] = {{0, 5000}, {LIT, 300}, {5000, 20000}, {26000, p.src_len - 26000}};
    build(&p, c, 4);
    delta_patch_options opt = DELTA_PATCH_OPTIONS_INIT;
    delta_patch_stats st;
    opt.arch = DELTA_ARCH_NONE;
    delta_buf a = make_patch(&p, &opt, NULL);
    opt.arch = DELTA_ARCH_AUTO;
    delta_buf b = make_patch(&p, &opt, &st);
    cr_assert_eq(st.predicted_segments, 0);
    cr_assert_eq(a.len, b.len);
    cr_assert(memcmp(a.data, b.data, a.len) == 0);
    delta_buf_free(&a);
    delta_buf_free(&b);
    pair_free(&p);
}

/* The same relinking for x86-64 (machine 62) and AArch64 (183): an ELF
 * header (so AUTO picks the transform), then functions of 256 bytes with a
 * call every 16 bytes (CALL rel32 / BL) and one address of another function
 * in each (REX.W LEA [RIP + disp32] / ADRP + ADD). */
static void put_le32(uint8_t *p, uint32_t v)
{
    for (int b = 0; b < 4; b++) p[b] = (uint8_t)(v >> (8 * b));
}

static void elf_layout(uint16_t machine, uint8_t *img, const int *order, size_t n, const uint32_t *callee,
                       uint64_t seed)
{
    size_t addr[FN + 1] = {0};
    for (size_t k = 0; k < n; k++) addr[order[k]] = 64 + k * FLEN;
    memset(img, 0, 64);
    memcpy(img, "\x7f" "ELF\x02\x01\x01", 7);
    img[18] = (uint8_t)machine;
    for (size_t k = 0; k < n; k++) {
        uint8_t *f = img + 64 + k * FLEN;
        int64_t at = (int64_t)(64 + k * FLEN);
        tu_fill_random(f, FLEN, seed + (uint64_t)order[k]);
        for (size_t i = 0; i < FLEN; i++) f[i] &= machine == 62 ? 0x3f : 0x0f; /* filler: no references */
        for (size_t i = 0; i < FLEN; i += 16) {
            uint32_t to = callee[order[k] * (FLEN / 16) + i / 16];
            if (to == FN - 36) to = 0;
            int64_t here = at + (int64_t)i, dest = (int64_t)addr[to];
            if (machine == 62) {
                f[i] = 0xE8;
                put_le32(f + i + 1, (uint32_t)(int32_t)(dest - (here + 5)));
                if (i == 32) {
                    f[i + 5] = 0x48;
                    f[i + 6] = 0x8D;
                    f[i + 7] = 0x05;
                    put_le32(f + i + 8, (uint32_t)(int32_t)(dest - (here + 12)));
                }
            } else {
                put_le32(f + i, 0x94000000 | ((uint32_t)((dest - here) / 4) & 0x3FFFFFF));
                if (i == 32) {
                    uint32_t pg = (uint32_t)((dest >> 12) - ((here + 4) >> 12)) & 0x1FFFFF;
                    put_le32(f + i + 4, 0x90000000 | (pg & 3) << 29 | (pg >> 2) << 5);
                    put_le32(f + i + 8, 0x91000000 | (uint32_t)(dest & 0xFFF) << 10);
                }
            }
        }
    }
}

static void elf_round_trip(uint16_t machine, uint32_t arch)
{
    uint32_t callee[(FN + 1) * (FLEN / 16)];
    uint8_t r[sizeof callee];
    tu_fill_random(r, sizeof r, 78);
    for (size_t i = 0; i < sizeof callee / sizeof callee[0]; i++) callee[i] = r[i] % FN;
    int old_order[FN], new_order[FN];
    for (int k = 0; k < FN; k++) old_order[k] = k;
    size_t nn = 0;
    for (int k = 0; k < FN; k++) {
        if (k == FN - 36) continue;
        new_order[nn++] = k;
        if (k == 20) new_order[nn++] = FN;
    }
    pair p;
    memset(&p, 0, sizeof p);
    p.src_len = 64 + FN * FLEN;
    p.tgt_len = 64 + nn * FLEN;
    p.src = malloc(p.src_len);
    p.tgt = malloc(p.tgt_len);
    elf_layout(machine, p.src, old_order, FN, callee, 6);
    elf_layout(machine, p.tgt, new_order, nn, callee, 6);
    delta_diff_options dopt = DELTA_DIFF_OPTIONS_INIT;
    cr_assert_eq(delta_diff(p.src, p.src_len, p.tgt, p.tgt_len, &dopt, &p.ops, &p.nops), DELTA_OK);
    delta_patch_options opt = DELTA_PATCH_OPTIONS_INIT;
    opt.block_size = 1024;
    opt.batch_blocks = 2;
    delta_patch_stats plain, auto_;
    opt.arch = DELTA_ARCH_NONE;
    delta_buf a = make_patch(&p, &opt, &plain);
    opt.arch = DELTA_ARCH_AUTO;
    delta_buf b = make_patch(&p, &opt, &auto_);
    cr_assert_eq(auto_.predicted_segments, 1, "AUTO finds the ELF file's machine and keeps prediction");
    cr_assert_lt(b.len, a.len * 3 / 4, "prediction: %zu bytes, without: %zu", b.len, a.len);
    cr_log_info("machine %u: %zu bytes with prediction, %zu without", machine, b.len, a.len);
    opt.segment_size = 4096;
    opt.arch = arch;
    full_check(&p, &opt, &auto_);
    delta_buf_free(&a);
    delta_buf_free(&b);
    pair_free(&p);
}

Test(patch, x86_64_prediction_round_trip)
{
    elf_round_trip(62, DELTA_ARCH_X86_64);
}

Test(patch, aarch64_prediction_round_trip)
{
    elf_round_trip(183, DELTA_ARCH_AARCH64);
}

/* The device codec: the same plans through LZRC, every cut point resumed; then
 * every byte of the streams flipped is refused or rebuilds the exact target. */
Test(patch, lzrc_device_codec)
{
    pair p;
    make_src(&p, 8 * BS, 21);
    chunk c[] = {{1 * BS, BS}, {0, BS}, {3 * BS, BS}, {2 * BS, BS}, {LIT, BS}, {6 * BS, BS}, {4 * BS, BS}, {7 * BS, BS}};
    build(&p, c, 8);
    delta_patch_options opt = DELTA_PATCH_OPTIONS_INIT;
    opt.compression = DELTA_COMPRESSION_LZRC;
    for (uint32_t w = DELTA_LZRC_MIN_WINDOW; w <= DELTA_LZRC_MAX_WINDOW; w *= 16) {
        opt.dict_size = w;
        opt.batch_blocks = 2;
        full_check(&p, &opt, NULL);
    }
    opt.dict_size = 1024;
    delta_buf patch = make_patch(&p, &opt, NULL);
    delta_source ps;
    delta_source_from_memory(&ps, patch.data, patch.len);
    delta_patch_info info;
    cr_assert_eq(delta_patch_read_info(&ps, &info), DELTA_OK);
    cr_assert_eq(info.compression, DELTA_COMPRESSION_LZRC);
    cr_assert_eq(info.dict_size, 1024);
    cr_assert_eq(info.segment_count, 1);
    size_t table = DELTA_PATCH_HEADER_SIZE + DELTA_PATCH_SEGMENT_ENTRY;
    extern uint32_t dlt_crc32(uint32_t, const void *, size_t);
    int refused = 0;
    for (size_t i = table; i < patch.len; i++) {
        /* The segment's CRC would catch the flip: refix it, so the decoder meets it. */
        for (int flip = 0; flip < 2; flip++) {
            patch.data[i] ^= 0x5a;
            uint32_t crc = dlt_crc32(0, patch.data + table, patch.len - table);
            for (int b = 0; b < 4; b++) patch.data[DELTA_PATCH_HEADER_SIZE + 32 + b] = (uint8_t)(crc >> (8 * b));
            fix_crc(&patch);
            if (flip) break;
            delta_status st = delta_patch_prove(&ps, NULL);
            cr_assert(st == DELTA_OK || st == DELTA_ERR_PATCH || st == DELTA_ERR_PLAN, "byte %zu: status %d", i, st);
            refused += st != DELTA_OK;
        }
    }
    cr_assert_gt(refused, 0);
    cr_assert_eq(delta_patch_prove(&ps, NULL), DELTA_OK, "restored: %s", delta_last_error());
    /* A window that is not a power of two is refused on the header. */
    patch.data[32] = 0x01;
    patch.data[33] = 0x03;
    fix_crc(&patch);
    cr_assert_eq(delta_patch_read_info(&ps, &info), DELTA_ERR_PATCH);
    delta_buf_free(&patch);
    pair_free(&p);
}
