/* The in-place planner: target blocks, their pieces, and a safe order. */
#ifndef LIBDELTA_PLAN_H
#define LIBDELTA_PLAN_H

#include "common/internal.h"
#include "libdelta/diff.h"

typedef struct plan_piece {
    uint8_t kind;   /* 0 copy (+diff), 1 literal */
    uint32_t lit_head, lit_tail; /* copy only: leading / trailing bytes turned into literals */
    uint64_t dst, src, len;
} plan_piece;

enum { PLAN_BLOCK = 1, PLAN_STASH = 2, PLAN_FREE = 3, PLAN_COMMIT = 4 };

typedef struct plan_cmd {
    uint8_t type;
    uint64_t a, b; /* BLOCK: a = block; STASH: a = block, b = slot; FREE: a = slot */
} plan_cmd;

typedef struct plan {
    uint32_t block_size;
    uint64_t blocks;        /* target blocks */
    plan_piece *pieces;     /* all pieces, in target order */
    uint64_t *first;        /* pieces of block k: [first[k], first[k+1]) */
    plan_cmd *cmds;
    size_t cmd_count;
    uint32_t stash_slots;   /* most slots held at once */
    uint64_t stashes, conversions;  /* stashed blocks; edges broken by literals */
    uint64_t batches, absorbed;      /* COMMITs; cycles absorbed whole into a batch */
    uint64_t converted_bytes;        /* copy bytes turned into literals */
} plan;

/* Cuts ops into per-block pieces and orders the changed blocks. With
 * inplace, orders them so no block is read after it is overwritten, breaking
 * cycles with at most max_stash stashed blocks, then by turning copies into
 * literals. */
delta_status dlt_plan_build(const uint8_t *src, size_t src_len, const uint8_t *tgt, size_t tgt_len,
                        const delta_op *ops, size_t op_count, uint32_t block_size, int inplace,
                        uint32_t max_stash, uint32_t batch_blocks, plan *out);
void dlt_plan_free(plan *p);

/* The pieces block k is encoded with: heads and tails turned into literals
 * split off, adjacent literals merged. out has room for 3 * (first[k+1] -
 * first[k]) pieces; returns how many it holds. */
size_t dlt_plan_block_pieces(const plan *p, uint64_t k, plan_piece *out);

#endif
