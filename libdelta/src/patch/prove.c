/* The static proof of a plan: replay every command without an image. */
#include <stdlib.h>

#include "patch_internal.h"

static int bit_get(const uint8_t *bits, uint64_t i) { return bits[i >> 3] >> (i & 7) & 1; }
static void bit_set(uint8_t *bits, uint64_t i) { bits[i >> 3] |= (uint8_t)(1u << (i & 7)); }
static void bit_clear(uint8_t *bits, uint64_t i) { bits[i >> 3] &= (uint8_t)~(1u << (i & 7)); }

typedef struct prover {
    const delta_patch_info *info;
    uint8_t *written;   /* per target block: written by an earlier batch */
    uint8_t *produced;  /* per target block: has a BLOCK command */
    uint8_t *stashed;   /* per source block */
    uint64_t *slots;    /* slot -> source block + 1 */
    uint64_t *freed_in; /* slot -> 1 + the batch that freed it */
    uint64_t *batch;    /* blocks of the current batch */
    uint32_t in_batch;
    uint64_t batch_no;
    uint64_t src_blocks, tgt_blocks;
    delta_plan_report rep;
    uint32_t live;
} prover;

/* The batch is committed: its blocks now count as overwritten. */
static void commit(prover *p)
{
    for (uint32_t i = 0; i < p->in_batch; i++) bit_set(p->written, p->batch[i]);
    p->in_batch = 0;
    p->batch_no++;
}

/* Source blocks [first, last] are read while producing block k: in a batch,
 * every read sees the image as the batch found it, so only blocks written by
 * an earlier batch are gone (unless stashed). */
static delta_status check_read(prover *p, uint64_t k, uint64_t src, uint64_t len, int *self)
{
    unsigned b = dlt_log2(p->info->block_size);
    for (uint64_t j = src >> b; j <= (src + len - 1) >> b; j++) {
        if (j == k) {
            if (!bit_get(p->stashed, j)) *self = 1;
            continue;
        }
        if (j < p->tgt_blocks && bit_get(p->written, j) && !bit_get(p->stashed, j))
            return dlt_fail(DELTA_ERR_PLAN,
                              "plan: block %llu reads source block %llu after it was overwritten",
                              (unsigned long long)k, (unsigned long long)j);
    }
    return DELTA_OK;
}

static delta_status replay(pcursor *c, prover *p, uint8_t *tmp, size_t tmp_len)
{
    int inplace = p->info->flags & DELTA_PATCH_INPLACE;
    delta_status st = DELTA_OK;
    for (uint64_t op = 0; op < p->info->op_count; op++) {
        pcmd cmd;
        st = dlt_pcursor_next(c, &cmd);
        if (st) return st;
        if (cmd.type == CMD_COMMIT) {
            commit(p);
            continue;
        }
        if (cmd.type == CMD_STASH) {
            if (inplace && p->freed_in[cmd.b] == p->batch_no + 1)
                return dlt_fail(DELTA_ERR_PLAN, "plan: command %llu: slot %llu is refilled in the batch that freed it",
                                  (unsigned long long)op, (unsigned long long)cmd.b);
            if (p->slots[cmd.b]) return dlt_fail(DELTA_ERR_PLAN, "plan: command %llu: stash into slot %llu, which is in use",
                                                   (unsigned long long)op, (unsigned long long)cmd.b);
            if (bit_get(p->stashed, cmd.a))
                return dlt_fail(DELTA_ERR_PLAN, "plan: command %llu: block %llu is stashed twice",
                                  (unsigned long long)op, (unsigned long long)cmd.a);
            if (cmd.a < p->tgt_blocks && bit_get(p->written, cmd.a))
                return dlt_fail(DELTA_ERR_PLAN, "plan: command %llu: stash of block %llu after it was overwritten",
                                  (unsigned long long)op, (unsigned long long)cmd.a);
            p->slots[cmd.b] = cmd.a + 1;
            bit_set(p->stashed, cmd.a);
            p->rep.stashes++;
            if (++p->live > p->rep.max_stash_live) p->rep.max_stash_live = p->live;
            continue;
        }
        if (cmd.type == CMD_FREE) {
            if (!p->slots[cmd.a]) return dlt_fail(DELTA_ERR_PLAN, "plan: command %llu: free of unused slot %llu",
                                                    (unsigned long long)op, (unsigned long long)cmd.a);
            bit_clear(p->stashed, p->slots[cmd.a] - 1);
            p->slots[cmd.a] = 0;
            p->freed_in[cmd.a] = p->batch_no + 1;
            p->live--;
            continue;
        }
        uint64_t k = cmd.a;
        if (bit_get(p->produced, k))
            return dlt_fail(DELTA_ERR_PLAN, "plan: command %llu: block %llu is produced twice",
                              (unsigned long long)op, (unsigned long long)k);
        if (inplace && p->in_batch == p->info->batch_blocks)
            return dlt_fail(DELTA_ERR_PLAN, "plan: command %llu: more than %u blocks in one batch",
                              (unsigned long long)op, p->info->batch_blocks);
        int self = 0, more;
        piece pc;
        for (;;) {
            st = dlt_pcursor_piece(c, &pc, &more);
            if (st) return st;
            if (!more) break;
            if (pc.kind == PIECE_COPY && inplace) {
                st = check_read(p, k, pc.src, pc.len, &self);
                if (st) return st;
            }
            st = dlt_pstream_skip(&c->st[pc.kind == PIECE_COPY ? 1 : 2], pc.len, tmp, tmp_len);
            if (st) return st;
        }
        bit_set(p->produced, k);
        p->batch[p->in_batch++] = k;
        if (!inplace) commit(p); /* out of place, every block is its own batch */
        p->rep.blocks_written++;
        p->rep.self_reads += (uint64_t)self;
    }
    if (p->info->op_count) {
        st = dlt_pcursor_close_segment(c);
        if (st) return st;
    }
    commit(p);
    /* Blocks never produced must be unchanged source blocks. */
    for (uint64_t k = 0; k < p->tgt_blocks; k++) {
        if (bit_get(p->produced, k)) continue;
        uint64_t end = k * p->info->block_size + dlt_patch_block_len(p->info, k);
        if (end > p->info->source_size)
            return dlt_fail(DELTA_ERR_PLAN, "plan: target block %llu is never produced and is not in the source",
                              (unsigned long long)k);
    }
    return DELTA_OK;
}

/* The prover's memory: three bitmaps, the slot tables, the batch, a skip
 * buffer, then the decoders' arena. */
#define PROVE_TMP 256

static size_t bitmap_bytes(uint64_t bits) { return (size_t)(bits / 8 + 1 + 7) & ~(size_t)7; }

size_t delta_prove_workspace_size(const delta_patch_info *info)
{
    uint64_t src_blocks = dlt_patch_block_count(info->source_size, info->block_size);
    uint64_t tgt_blocks = dlt_patch_block_count(info->target_size, info->block_size);
    return 2 * bitmap_bytes(tgt_blocks) + bitmap_bytes(src_blocks) +
           (2 * ((size_t)info->stash_slots + 1) + (size_t)info->batch_blocks + 1) * sizeof(uint64_t) + PROVE_TMP +
           dlt_patch_decoder_memory(info) + 16;
}

delta_status delta_patch_prove_static(const delta_source *patch, delta_plan_report *report, void *workspace,
                                      size_t workspace_size)
{
    delta_patch_info info;
    delta_status st = delta_patch_read_info(patch, &info);
    if (st) return st;
    size_t need = delta_prove_workspace_size(&info);
    if (!workspace || workspace_size < need)
        return dlt_fail(DELTA_ERR_ARG, "plan: workspace of %zu bytes, the proof needs %zu", workspace_size, need);
    prover p;
    memset(&p, 0, sizeof p);
    p.info = &info;
    p.src_blocks = dlt_patch_block_count(info.source_size, info.block_size);
    p.tgt_blocks = dlt_patch_block_count(info.target_size, info.block_size);
    /* Carved in order; every part is a multiple of 8 bytes, so the tables stay aligned. */
    uint8_t *m = (uint8_t *)(((uintptr_t)workspace + 7) & ~(uintptr_t)7);
    size_t tb = bitmap_bytes(p.tgt_blocks), sb = bitmap_bytes(p.src_blocks);
    size_t fixed = 2 * tb + sb + (2 * ((size_t)info.stash_slots + 1) + (size_t)info.batch_blocks + 1) * sizeof(uint64_t);
    memset(m, 0, fixed);
    p.written = m;
    p.produced = m + tb;
    p.stashed = m + 2 * tb;
    p.slots = (uint64_t *)(void *)(m + 2 * tb + sb);
    p.freed_in = p.slots + info.stash_slots + 1;
    p.batch = p.freed_in + info.stash_slots + 1;
    uint8_t *tmp = m + fixed;
    uint8_t *ws = tmp + PROVE_TMP;
    pcursor c;
    dlt_pcursor_init(&c, patch, &info, ws, dlt_patch_decoder_memory(&info));
    st = replay(&c, &p, tmp, PROVE_TMP);
    dlt_pcursor_free(&c);
    if (st) return st;
    p.rep.scratch_bytes = info.scratch_bytes;
    p.rep.ram_bytes = delta_apply_workspace_size(&info);
    if (report) *report = p.rep;
    return DELTA_OK;
}

#if DELTA_HAVE_MALLOC
delta_status delta_patch_prove(const delta_source *patch, delta_plan_report *report)
{
    delta_patch_info info;
    delta_status st = delta_patch_read_info(patch, &info);
    if (st) return st;
    size_t need = delta_prove_workspace_size(&info);
    void *ws = malloc(need);
    if (!ws) return dlt_fail(DELTA_ERR_NOMEM, "plan: out of memory");
    st = delta_patch_prove_static(patch, report, ws, need);
    free(ws);
    return st;
}
#endif
