/*
 * The in-place planner (after Burns, Stockmeyer & Long, "In-place
 * reconstruction of version differences", IEEE TKDE 2003).
 *
 * Nodes are the target blocks that change. Block j must be written before
 * block k when j copies from source block k (writing k destroys what j
 * needs): an edge j -> k. Blocks are emitted in topological order, smallest
 * block first among those ready (Kahn). When no block is ready, the rest
 * hold cycles: one is found by walking back along readers, and the node of
 * that cycle with the fewest waiting readers is released, by stashing its
 * source block when a scratch slot is free, else by turning its readers'
 * copies from it into literals. A block reading its own source block is no
 * edge: the applier protects it with a pending copy in scratch.
 */
#include <stdlib.h>

#include "plan.h"

void plan_free(plan *p)
{
    if (!p) return;
    free(p->pieces);
    free(p->first);
    free(p->cmds);
    memset(p, 0, sizeof *p);
}

/* ---- pieces ---- */

static delta_status push_piece(plan *p, size_t *cap, size_t *n, uint8_t kind, uint64_t dst, uint64_t src,
                               uint64_t len)
{
    if (*n > 0) { /* merge with the previous piece when contiguous in the same block */
        plan_piece *q = &p->pieces[*n - 1];
        if (q->kind == kind && q->dst + q->len == dst && q->dst / p->block_size == dst / p->block_size &&
            (kind == 1 || q->src + q->len == src)) {
            q->len += len;
            return DELTA_OK;
        }
    }
    if (*n == *cap) {
        size_t c = *cap ? *cap * 2 : 1024;
        plan_piece *np = realloc(p->pieces, c * sizeof *np);
        if (!np) return delta_fail(DELTA_ERR_NOMEM, "plan: out of memory");
        p->pieces = np;
        *cap = c;
    }
    p->pieces[(*n)++] = (plan_piece){kind, dst, src, len};
    return DELTA_OK;
}

/* Splits [dst, dst+len) at block boundaries. */
static delta_status add_range(plan *p, size_t *cap, size_t *n, uint8_t kind, uint64_t dst, uint64_t src,
                              uint64_t len)
{
    while (len > 0) {
        uint64_t room = p->block_size - dst % p->block_size;
        uint64_t m = len < room ? len : room;
        delta_status st = push_piece(p, cap, n, kind, dst, src, m);
        if (st) return st;
        dst += m;
        src += m;
        len -= m;
    }
    return DELTA_OK;
}

static delta_status cut_pieces(plan *p, const delta_op *ops, size_t op_count, size_t src_len, size_t tgt_len)
{
    size_t cap = 0, n = 0;
    uint64_t pos = 0;
    for (size_t i = 0; i < op_count; i++) {
        const delta_op *o = &ops[i];
        if (o->dst != pos || !delta_range_ok(o->src, o->copy, src_len) || o->copy > tgt_len - pos ||
            o->extra > tgt_len - pos - o->copy)
            return delta_fail(DELTA_ERR_ARG, "plan: diff op %zu does not tile the target", i);
        delta_status st = add_range(p, &cap, &n, 0, o->dst, o->src, o->copy);
        if (!st) st = add_range(p, &cap, &n, 1, o->dst + o->copy, 0, o->extra);
        if (st) return st;
        pos += o->copy + o->extra;
    }
    if (pos != tgt_len) return delta_fail(DELTA_ERR_ARG, "plan: diff ops cover %llu of %zu target bytes",
                                          (unsigned long long)pos, tgt_len);
    p->first = calloc(p->blocks + 1, sizeof *p->first);
    if (!p->first) return delta_fail(DELTA_ERR_NOMEM, "plan: out of memory");
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t b = p->pieces[i].dst / p->block_size;
        while (k < b) p->first[++k] = i;
    }
    while (k < p->blocks) p->first[++k] = n;
    return DELTA_OK;
}

/* ---- ordering ---- */

typedef struct graph {
    uint64_t n;            /* blocks */
    uint8_t *changed;
    uint64_t *succ_at, *succ; /* j -> blocks k it reads (CSR) */
    uint64_t *pred_at, *pred; /* k -> blocks j reading it (CSR) */
    uint64_t *indeg;          /* readers not yet emitted */
    uint8_t *emitted, *released;
    int32_t *slot_of;         /* stash slot held for block k, -1 */
    uint64_t *stash_wait;     /* readers still to come for a stashed block */
} graph;

static void graph_free(graph *g)
{
    free(g->changed); free(g->succ_at); free(g->succ); free(g->pred_at); free(g->pred);
    free(g->indeg); free(g->emitted); free(g->released); free(g->slot_of); free(g->stash_wait);
}

/* Calls fn for each distinct changed source block k != j that block j copies from. */
#define FOR_EACH_READ(p, g, j, mark, BODY)                                                   \
    for (uint64_t _i = (p)->first[j]; _i < (p)->first[(j) + 1]; _i++) {                     \
        const plan_piece *_q = &(p)->pieces[_i];                                            \
        if (_q->kind != 0) continue;                                                        \
        for (uint64_t k = _q->src / (p)->block_size; k <= (_q->src + _q->len - 1) / (p)->block_size; k++) { \
            if (k == (j) || k >= (g)->n || !(g)->changed[k] || (mark)[k] == (j) + 1) continue; \
            (mark)[k] = (j) + 1;                                                           \
            BODY                                                                            \
        }                                                                                   \
    }

static delta_status graph_build(plan *p, graph *g, const uint8_t *src, size_t src_len, const uint8_t *tgt,
                                size_t tgt_len)
{
    uint64_t n = p->blocks, bs = p->block_size;
    g->n = n;
    g->changed = calloc(n + 1, 1);
    g->succ_at = calloc(n + 2, sizeof *g->succ_at);
    g->pred_at = calloc(n + 2, sizeof *g->pred_at);
    g->indeg = calloc(n + 1, sizeof *g->indeg);
    g->emitted = calloc(n + 1, 1);
    g->released = calloc(n + 1, 1);
    g->slot_of = malloc((n + 1) * sizeof *g->slot_of);
    g->stash_wait = calloc(n + 1, sizeof *g->stash_wait);
    uint64_t *mark = calloc(n + 1, sizeof *mark);
    if (!g->changed || !g->succ_at || !g->pred_at || !g->indeg || !g->emitted || !g->released || !g->slot_of ||
        !g->stash_wait || !mark) {
        free(mark);
        return delta_fail(DELTA_ERR_NOMEM, "plan: out of memory for %llu blocks", (unsigned long long)n);
    }
    for (uint64_t k = 0; k < n; k++) {
        uint64_t off = k * bs, len = tgt_len - off < bs ? tgt_len - off : bs;
        g->changed[k] = !(off + len <= src_len && memcmp(src + off, tgt + off, len) == 0);
        g->slot_of[k] = -1;
    }
    /* Count, then fill, both adjacency lists. */
    for (uint64_t j = 0; j < n; j++) {
        if (!g->changed[j]) continue;
        FOR_EACH_READ(p, g, j, mark, { g->succ_at[j + 1]++; g->pred_at[k + 1]++; })
    }
    for (uint64_t i = 0; i < n; i++) {
        g->succ_at[i + 1] += g->succ_at[i];
        g->pred_at[i + 1] += g->pred_at[i];
    }
    uint64_t edges = g->succ_at[n];
    g->succ = malloc((edges + 1) * sizeof *g->succ);
    g->pred = malloc((edges + 1) * sizeof *g->pred);
    uint64_t *fill = calloc(n + 1, sizeof *fill);
    if (!g->succ || !g->pred || !fill) {
        free(mark);
        free(fill);
        return delta_fail(DELTA_ERR_NOMEM, "plan: out of memory for %llu edges", (unsigned long long)edges);
    }
    memset(mark, 0, (n + 1) * sizeof *mark);
    for (uint64_t j = 0; j < n; j++) {
        if (!g->changed[j]) continue;
        uint64_t s = g->succ_at[j];
        FOR_EACH_READ(p, g, j, mark, {
            g->succ[s++] = k;
            g->pred[g->pred_at[k] + fill[k]++] = j;
            g->indeg[k]++;
        })
    }
    free(mark);
    free(fill);
    return DELTA_OK;
}

/* A binary min-heap of ready blocks. */
typedef struct heap { uint64_t *v; size_t n; } heap;

static void heap_push(heap *h, uint64_t x)
{
    size_t i = h->n++;
    while (i > 0 && h->v[(i - 1) / 2] > x) { h->v[i] = h->v[(i - 1) / 2]; i = (i - 1) / 2; }
    h->v[i] = x;
}

static uint64_t heap_pop(heap *h)
{
    uint64_t top = h->v[0], x = h->v[--h->n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n) break;
        if (c + 1 < h->n && h->v[c + 1] < h->v[c]) c++;
        if (h->v[c] >= x) break;
        h->v[i] = h->v[c];
        i = c;
    }
    h->v[i] = x;
    return top;
}

static delta_status push_cmd(plan *p, size_t *cap, uint8_t type, uint64_t a, uint64_t b)
{
    if (p->cmd_count == *cap) {
        size_t c = *cap ? *cap * 2 : 256;
        plan_cmd *nc = realloc(p->cmds, c * sizeof *nc);
        if (!nc) return delta_fail(DELTA_ERR_NOMEM, "plan: out of memory");
        p->cmds = nc;
        *cap = c;
    }
    p->cmds[p->cmd_count++] = (plan_cmd){type, a, b};
    return DELTA_OK;
}

/* Finds a cycle among the blocks not yet emitted, walking back along readers
 * from start, and returns its node with the fewest waiting readers. */
static uint64_t pick_victim(const graph *g, uint64_t start, uint64_t *seen, uint64_t stamp)
{
    uint64_t v = start;
    while (seen[v] != stamp) {
        seen[v] = stamp;
        uint64_t next = v;
        for (uint64_t e = g->pred_at[v]; e < g->pred_at[v + 1]; e++)
            if (!g->emitted[g->pred[e]]) { next = g->pred[e]; break; }
        v = next; /* stuck nodes always have a waiting reader */
    }
    /* v is on the cycle: walk it once more to choose. */
    uint64_t best = v, u = v;
    do {
        if (g->indeg[u] < g->indeg[best] || (g->indeg[u] == g->indeg[best] && u < best)) best = u;
        for (uint64_t e = g->pred_at[u]; e < g->pred_at[u + 1]; e++)
            if (!g->emitted[g->pred[e]]) { u = g->pred[e]; break; }
    } while (u != v);
    return best;
}

/* Turns the copies of block j that read source block k into literals. */
static void make_literal(plan *p, uint64_t j, uint64_t k)
{
    uint64_t bs = p->block_size;
    for (uint64_t i = p->first[j]; i < p->first[j + 1]; i++) {
        plan_piece *q = &p->pieces[i];
        if (q->kind == 0 && q->src / bs <= k && (q->src + q->len - 1) / bs >= k) q->kind = 1;
    }
}

static delta_status order_inplace(plan *p, graph *g, uint32_t max_stash)
{
    uint64_t n = g->n;
    size_t cap = 0;
    heap h = {malloc((n + 1) * sizeof(uint64_t)), 0};
    uint64_t *seen = calloc(n + 1, sizeof *seen);
    int32_t *free_slots = malloc((max_stash + 1) * sizeof *free_slots);
    delta_status st = DELTA_OK;
    if (!h.v || !seen || !free_slots) { st = delta_fail(DELTA_ERR_NOMEM, "plan: out of memory"); goto out; }
    uint32_t nfree = max_stash, live = 0;
    for (uint32_t s = 0; s < max_stash; s++) free_slots[s] = (int32_t)(max_stash - 1 - s);
    uint64_t remaining = 0, scan = 0, stamp = 0;
    for (uint64_t k = 0; k < n; k++) {
        if (!g->changed[k]) continue;
        remaining++;
        if (g->indeg[k] == 0) heap_push(&h, k);
    }
    while (remaining > 0) {
        if (h.n == 0) {
            while (!g->changed[scan] || g->emitted[scan]) scan++;
            uint64_t v = pick_victim(g, scan, seen, ++stamp);
            if (nfree > 0) {
                int32_t s = free_slots[--nfree];
                st = push_cmd(p, &cap, PLAN_STASH, v, (uint64_t)s);
                if (st) goto out;
                g->slot_of[v] = s;
                g->stash_wait[v] = g->indeg[v];
                p->stashes++;
                if (++live > p->stash_slots) p->stash_slots = live;
            } else {
                for (uint64_t e = g->pred_at[v]; e < g->pred_at[v + 1]; e++)
                    if (!g->emitted[g->pred[e]]) make_literal(p, g->pred[e], v);
                p->conversions++;
            }
            g->released[v] = 1;
            g->indeg[v] = 0;
            heap_push(&h, v);
            continue;
        }
        uint64_t j = heap_pop(&h);
        st = push_cmd(p, &cap, PLAN_BLOCK, j, 0);
        if (st) goto out;
        g->emitted[j] = 1;
        remaining--;
        for (uint64_t e = g->succ_at[j]; e < g->succ_at[j + 1]; e++) {
            uint64_t k = g->succ[e];
            if (g->slot_of[k] >= 0 && --g->stash_wait[k] == 0) { /* last reader of a stash */
                st = push_cmd(p, &cap, PLAN_FREE, (uint64_t)g->slot_of[k], 0);
                if (st) goto out;
                free_slots[nfree++] = g->slot_of[k];
                g->slot_of[k] = -1;
                live--;
            }
            if (g->released[k]) continue;
            if (--g->indeg[k] == 0) heap_push(&h, k);
        }
    }
out:
    free(h.v);
    free(seen);
    free(free_slots);
    return st;
}

delta_status plan_build(const uint8_t *src, size_t src_len, const uint8_t *tgt, size_t tgt_len,
                        const delta_op *ops, size_t op_count, uint32_t block_size, int inplace,
                        uint32_t max_stash, plan *out)
{
    memset(out, 0, sizeof *out);
    out->block_size = block_size;
    out->blocks = tgt_len / block_size + (tgt_len % block_size != 0);
    delta_status st = cut_pieces(out, ops, op_count, src_len, tgt_len);
    graph g;
    memset(&g, 0, sizeof g);
    if (!st) st = graph_build(out, &g, src, src_len, tgt, tgt_len);
    if (!st && inplace) {
        st = order_inplace(out, &g, max_stash);
    } else if (!st) {
        size_t cap = 0;
        for (uint64_t k = 0; k < out->blocks && !st; k++)
            if (g.changed[k]) st = push_cmd(out, &cap, PLAN_BLOCK, k, 0);
    }
    graph_free(&g);
    if (st) plan_free(out);
    return st;
}
