/*
 * The in-place planner (after Burns, Stockmeyer & Long, "In-place
 * reconstruction of version differences", IEEE TKDE 2003).
 *
 * Nodes are the target blocks that change. Block j must not be written in a
 * later batch than block k when j copies from source block k (writing k
 * destroys what j needs): an edge j -> k, whose cost is the number of bytes
 * j copies from source block k. The applier computes a whole batch before
 * writing any of it, so edges inside one batch cost nothing: a block may
 * read itself, and blocks that swap places simply share a batch.
 *
 * Blocks go into batches of at most batch_blocks in topological order,
 * smallest block first among those ready (Kahn). When no block is ready, the
 * rest hold cycles: one is found by walking back along readers. If the cycle
 * and every block still waiting to read any of it (its ancestors) fit in the
 * batch, they all join it. Otherwise, in an empty batch, the cycle is broken
 * at its cheapest point: an edge costing at most CHEAP_EDGE bytes is removed
 * by turning exactly those copied bytes into literals (Burns, Stockmeyer and
 * Long's locally minimum choice); else the cycle's node with the fewest
 * waiting readers has its source block stashed, when a scratch slot is free,
 * and else the cheapest edge is turned into literals anyway.
 *
 * Each batch is written as its STASHes, its BLOCKs in ascending order (the
 * streams keep the target's locality), its FREEs and a COMMIT.
 */
#include <stdlib.h>

#include "plan.h"

void dlt_plan_free(plan *p)
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
        if (!np) return dlt_fail(DELTA_ERR_NOMEM, "plan: out of memory");
        p->pieces = np;
        *cap = c;
    }
    p->pieces[(*n)++] = (plan_piece){kind, 0, 0, dst, src, len};
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
        if (o->dst != pos || !dlt_range_ok(o->src, o->copy, src_len) || o->copy > tgt_len - pos ||
            o->extra > tgt_len - pos - o->copy)
            return dlt_fail(DELTA_ERR_ARG, "plan: diff op %zu does not tile the target", i);
        delta_status st = add_range(p, &cap, &n, 0, o->dst, o->src, o->copy);
        if (!st) st = add_range(p, &cap, &n, 1, o->dst + o->copy, 0, o->extra);
        if (st) return st;
        pos += o->copy + o->extra;
    }
    if (pos != tgt_len) return dlt_fail(DELTA_ERR_ARG, "plan: diff ops cover %llu of %zu target bytes",
                                          (unsigned long long)pos, tgt_len);
    p->first = calloc(p->blocks + 1, sizeof *p->first);
    if (!p->first) return dlt_fail(DELTA_ERR_NOMEM, "plan: out of memory");
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t b = p->pieces[i].dst / p->block_size;
        while (k < b) p->first[++k] = i;
    }
    while (k < p->blocks) p->first[++k] = n;
    return DELTA_OK;
}

/* ---- ordering ---- */

/* Edges cheaper than this many literal bytes are broken by conversion. */
#define CHEAP_EDGE 64

/* The copy range of a piece that is still a copy. */
static void copy_range(const plan_piece *q, uint64_t *src, uint64_t *len)
{
    *src = q->src + q->lit_head;
    *len = q->len - q->lit_head - q->lit_tail;
}

typedef struct graph {
    uint64_t n;               /* blocks */
    uint8_t *changed;
    uint64_t *succ_at;        /* edges of reader j: [succ_at[j], succ_at[j+1]) */
    uint64_t *to;             /* edge -> the block k it reads */
    uint64_t *from;           /* edge -> the reader j */
    uint8_t *dead;            /* edge removed (converted) */
    uint64_t *pred_at, *pred; /* k -> its edges (ids) */
    uint64_t *indeg;          /* live edges into k from readers not yet emitted */
    uint8_t *emitted, *released;
    int32_t *slot_of;         /* stash slot held for block k, -1 */
    uint64_t *stash_wait;     /* readers still to come for a stashed block */
} graph;

static void graph_free(graph *g)
{
    free(g->changed); free(g->succ_at); free(g->to); free(g->from); free(g->dead); free(g->pred_at);
    free(g->pred); free(g->indeg); free(g->emitted); free(g->released); free(g->slot_of); free(g->stash_wait);
}

/* Calls BODY for each distinct changed source block k != j that block j copies from. */
#define FOR_EACH_READ(p, g, j, mark, BODY)                                                   \
    for (uint64_t _i = (p)->first[j]; _i < (p)->first[(j) + 1]; _i++) {                     \
        const plan_piece *_q = &(p)->pieces[_i];                                            \
        uint64_t _s, _l;                                                                    \
        if (_q->kind != 0) continue;                                                        \
        copy_range(_q, &_s, &_l);                                                           \
        if (_l == 0) continue;                                                              \
        for (uint64_t k = _s / (p)->block_size; k <= (_s + _l - 1) / (p)->block_size; k++) { \
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
        return dlt_fail(DELTA_ERR_NOMEM, "plan: out of memory for %llu blocks", (unsigned long long)n);
    }
    for (uint64_t k = 0; k < n; k++) {
        uint64_t off = k * bs, len = tgt_len - off < bs ? tgt_len - off : bs;
        g->changed[k] = !(off + len <= src_len && memcmp(src + off, tgt + off, len) == 0);
        g->slot_of[k] = -1;
    }
    /* Count, then fill: edges in reader order, and per block the ids of its edges. */
    for (uint64_t j = 0; j < n; j++) {
        if (!g->changed[j]) continue;
        FOR_EACH_READ(p, g, j, mark, { g->succ_at[j + 1]++; g->pred_at[k + 1]++; })
    }
    for (uint64_t i = 0; i < n; i++) {
        g->succ_at[i + 1] += g->succ_at[i];
        g->pred_at[i + 1] += g->pred_at[i];
    }
    uint64_t edges = g->succ_at[n];
    g->to = malloc((edges + 1) * sizeof *g->to);
    g->from = malloc((edges + 1) * sizeof *g->from);
    g->dead = calloc(edges + 1, 1);
    g->pred = malloc((edges + 1) * sizeof *g->pred);
    uint64_t *fill = calloc(n + 1, sizeof *fill);
    if (!g->to || !g->from || !g->dead || !g->pred || !fill) {
        free(mark);
        free(fill);
        return dlt_fail(DELTA_ERR_NOMEM, "plan: out of memory for %llu edges", (unsigned long long)edges);
    }
    memset(mark, 0, (n + 1) * sizeof *mark);
    for (uint64_t j = 0; j < n; j++) {
        if (!g->changed[j]) continue;
        uint64_t e = g->succ_at[j];
        FOR_EACH_READ(p, g, j, mark, {
            g->to[e] = k;
            g->from[e] = j;
            g->pred[g->pred_at[k] + fill[k]++] = e;
            g->indeg[k]++;
            e++;
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
        if (!nc) return dlt_fail(DELTA_ERR_NOMEM, "plan: out of memory");
        p->cmds = nc;
        *cap = c;
    }
    p->cmds[p->cmd_count++] = (plan_cmd){type, a, b};
    return DELTA_OK;
}

/* A live edge into v from a reader not yet emitted (UINT64_MAX: none). */
static uint64_t live_pred(const graph *g, uint64_t v)
{
    for (uint64_t i = g->pred_at[v]; i < g->pred_at[v + 1]; i++) {
        uint64_t e = g->pred[i];
        if (!g->dead[e] && !g->emitted[g->from[e]]) return e;
    }
    return UINT64_MAX;
}

/* Bytes block j copies from source block k (the literal cost of edge j -> k). */
static uint64_t edge_cost(const plan *p, uint64_t j, uint64_t k)
{
    uint64_t bs = p->block_size, lo = k * bs, hi = lo + bs, cost = 0;
    for (uint64_t i = p->first[j]; i < p->first[j + 1]; i++) {
        const plan_piece *q = &p->pieces[i];
        uint64_t s, l;
        if (q->kind != 0) continue;
        copy_range(q, &s, &l);
        uint64_t a = s > lo ? s : lo, b = s + l < hi ? s + l : hi;
        if (a < b) cost += b - a;
    }
    return cost;
}

/* Turns block j's copies from source block k into literals: a piece reads at
 * most two source blocks, so the part in k is its head, its tail, or all. */
static void convert_edge(plan *p, uint64_t j, uint64_t k)
{
    uint64_t bs = p->block_size, lo = k * bs, hi = lo + bs;
    for (uint64_t i = p->first[j]; i < p->first[j + 1]; i++) {
        plan_piece *q = &p->pieces[i];
        uint64_t s, l;
        if (q->kind != 0) continue;
        copy_range(q, &s, &l);
        if (l == 0 || s + l <= lo || s >= hi) continue;
        if (s >= lo && s + l <= hi) {
            q->lit_head += (uint32_t)l; /* wholly inside: all literal */
            p->converted_bytes += l;
        } else if (s < lo) {
            q->lit_tail += (uint32_t)(s + l - lo); /* runs into k: the tail */
            p->converted_bytes += s + l - lo;
        } else {
            q->lit_head += (uint32_t)(hi - s); /* starts in k: the head */
            p->converted_bytes += hi - s;
        }
    }
}

/* The cycle through start's waiting readers: walks back until a block
 * repeats, then returns the cycle's cheapest edge and the node with the
 * fewest waiting readers. */
static void find_cycle(const plan *p, const graph *g, uint64_t start, uint64_t *seen, uint64_t stamp,
                       uint64_t *cheap_edge, uint64_t *cheap_cost, uint64_t *node)
{
    uint64_t v = start;
    while (seen[v] != stamp) {
        seen[v] = stamp;
        v = g->from[live_pred(g, v)]; /* stuck blocks always have a waiting reader */
    }
    *node = v;
    *cheap_cost = UINT64_MAX;
    uint64_t u = v;
    do {
        uint64_t e = live_pred(g, u);
        uint64_t c = edge_cost(p, g->from[e], u);
        if (c < *cheap_cost) {
            *cheap_cost = c;
            *cheap_edge = e;
        }
        if (g->indeg[u] < g->indeg[*node] || (g->indeg[u] == g->indeg[*node] && u < *node)) *node = u;
        u = g->from[e];
    } while (u != v);
}

/* The batch being built: its blocks, and the STASH / FREE commands it carries. */
typedef struct batch {
    uint64_t *blocks;
    uint32_t n, cap;
    uint64_t *stash_block;
    int32_t *stash_slot, *free_slot;
    uint32_t nstash, nfree;
} batch;

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Writes the batch out; the slots it freed become available again. */
static delta_status flush(plan *p, size_t *cap, batch *b, int32_t *pool, uint32_t *npool)
{
    delta_status st = DELTA_OK;
    if (b->n == 0 && b->nstash == 0 && b->nfree == 0) return DELTA_OK;
    qsort(b->blocks, b->n, sizeof *b->blocks, cmp_u64);
    for (uint32_t i = 0; i < b->nstash && !st; i++)
        st = push_cmd(p, cap, PLAN_STASH, b->stash_block[i], (uint64_t)b->stash_slot[i]);
    for (uint32_t i = 0; i < b->n && !st; i++) st = push_cmd(p, cap, PLAN_BLOCK, b->blocks[i], 0);
    for (uint32_t i = 0; i < b->nfree && !st; i++) {
        st = push_cmd(p, cap, PLAN_FREE, (uint64_t)b->free_slot[i], 0);
        pool[(*npool)++] = b->free_slot[i];
    }
    if (!st) st = push_cmd(p, cap, PLAN_COMMIT, 0, 0);
    p->batches++;
    b->n = b->nstash = b->nfree = 0;
    return st;
}

/* Heap keys: blocks that read a stashed block come first (writing them lets
 * the stash go), then by block number. */
#define NOT_URGENT ((uint64_t)1 << 62)
#define KEY_BLOCK(key) ((key) & (NOT_URGENT - 1))

static int reads_stash(const graph *g, uint64_t j)
{
    for (uint64_t e = g->succ_at[j]; e < g->succ_at[j + 1]; e++)
        if (!g->dead[e] && g->slot_of[g->to[e]] >= 0) return 1;
    return 0;
}

static void ready(const graph *g, heap *h, uint64_t k)
{
    heap_push(h, reads_stash(g, k) ? k : k | NOT_URGENT);
}

/* Puts block j into the batch: its reads no longer hold anything back. */
static void join(graph *g, batch *b, heap *h, uint64_t j, uint32_t *live)
{
    g->emitted[j] = 1;
    b->blocks[b->n++] = j;
    for (uint64_t e = g->succ_at[j]; e < g->succ_at[j + 1]; e++) {
        if (g->dead[e]) continue;
        uint64_t k = g->to[e];
        if (g->slot_of[k] >= 0 && --g->stash_wait[k] == 0) { /* its last reader: free at the batch's end */
            b->free_slot[b->nfree++] = g->slot_of[k];
            g->slot_of[k] = -1;
            (*live)--;
        }
        if (g->released[k]) continue;
        if (--g->indeg[k] == 0 && !g->emitted[k]) ready(g, h, k);
    }
}

/* v and every block still waiting to read it, transitively, into set; 0
 * when they are more than room. */
static uint32_t ancestors(const graph *g, uint64_t v, uint64_t *set, uint32_t room, uint64_t *seen, uint64_t stamp)
{
    uint32_t n = 0;
    set[n++] = v;
    seen[v] = stamp;
    for (uint32_t i = 0; i < n; i++) {
        uint64_t x = set[i];
        if (g->released[x]) continue; /* stashed: its readers need nothing from the image */
        for (uint64_t q = g->pred_at[x]; q < g->pred_at[x + 1]; q++) {
            uint64_t e = g->pred[q], u = g->from[e];
            if (g->dead[e] || g->emitted[u] || seen[u] == stamp) continue;
            if (n == room) return 0;
            seen[u] = stamp;
            set[n++] = u;
        }
    }
    return n;
}

static delta_status order_inplace(plan *p, graph *g, uint32_t max_stash, uint32_t batch_blocks)
{
    uint64_t n = g->n;
    size_t cap = 0;
    heap h = {malloc((n + 1) * sizeof(uint64_t)), 0};
    uint64_t *seen = calloc(n + 1, sizeof *seen), *set = malloc((batch_blocks + 1) * sizeof *set);
    int32_t *pool = malloc((max_stash + 1) * sizeof *pool);
    batch b = {malloc((batch_blocks + 1) * sizeof(uint64_t)), 0, batch_blocks,
               malloc((max_stash + 1) * sizeof(uint64_t)), malloc((max_stash + 1) * sizeof(int32_t)),
               malloc((max_stash + 1) * sizeof(int32_t)), 0, 0};
    delta_status st = DELTA_OK;
    if (!h.v || !seen || !set || !pool || !b.blocks || !b.stash_block || !b.stash_slot || !b.free_slot) {
        st = dlt_fail(DELTA_ERR_NOMEM, "plan: out of memory");
        goto out;
    }
    uint32_t npool = max_stash, live = 0;
    for (uint32_t s = 0; s < max_stash; s++) pool[s] = (int32_t)(max_stash - 1 - s);
    uint64_t remaining = 0, scan = 0, stamp = 0;
    for (uint64_t k = 0; k < n; k++) {
        if (!g->changed[k]) continue;
        remaining++;
        if (g->indeg[k] == 0) ready(g, &h, k);
    }
    while (remaining > 0) {
        if (b.n == batch_blocks) {
            st = flush(p, &cap, &b, pool, &npool);
            if (st) goto out;
        }
        if (h.n > 0) {
            uint64_t j = KEY_BLOCK(heap_pop(&h));
            if (g->emitted[j]) continue; /* joined with a cycle already */
            join(g, &b, &h, j, &live);
            remaining--;
            continue;
        }
        while (!g->changed[scan] || g->emitted[scan]) scan++;
        uint64_t e = 0, cost, v;
        find_cycle(p, g, scan, seen, ++stamp, &e, &cost, &v);
        uint32_t m = ancestors(g, v, set, batch_blocks - b.n, seen, ++stamp);
        if (m > 0) { /* the cycle and its waiting readers fit: they share this batch */
            for (uint32_t i = 0; i < m; i++) g->emitted[set[i]] = 1;
            for (uint32_t i = 0; i < m; i++) {
                g->emitted[set[i]] = 0;
                join(g, &b, &h, set[i], &live);
            }
            remaining -= m;
            p->absorbed++;
            continue;
        }
        /* Perhaps it fits an empty batch: end this one then, but only then
         * (a cycle that fits no batch is broken here, without cutting the
         * batch short: every batch costs the device its syncs). */
        if (b.n > 0 && ancestors(g, v, set, batch_blocks, seen, ++stamp) > 0) {
            st = flush(p, &cap, &b, pool, &npool);
            if (st) goto out;
            continue;
        }
        if (cost <= CHEAP_EDGE || npool == 0) {
            uint64_t k = g->to[e];
            convert_edge(p, g->from[e], k);
            g->dead[e] = 1;
            p->conversions++;
            if (--g->indeg[k] == 0) ready(g, &h, k);
            continue;
        }
        int32_t s = pool[--npool];
        b.stash_block[b.nstash] = v;
        b.stash_slot[b.nstash++] = s;
        g->slot_of[v] = s;
        g->stash_wait[v] = g->indeg[v];
        p->stashes++;
        /* Declared: the slots used, by number (a slot freed in this batch is
         * not back in the pool before the batch ends). */
        live++;
        if ((uint32_t)s + 1 > p->stash_slots) p->stash_slots = (uint32_t)s + 1;
        g->released[v] = 1;
        g->indeg[v] = 0;
        ready(g, &h, v);
    }
    st = flush(p, &cap, &b, pool, &npool);
out:
    free(h.v);
    free(seen);
    free(set);
    free(pool);
    free(b.blocks);
    free(b.stash_block);
    free(b.stash_slot);
    free(b.free_slot);
    return st;
}

size_t dlt_plan_block_pieces(const plan *p, uint64_t k, plan_piece *out)
{
    size_t n = 0;
    for (uint64_t i = p->first[k]; i < p->first[k + 1]; i++) {
        const plan_piece *q = &p->pieces[i];
        plan_piece part[3];
        size_t m = 0;
        if (q->kind == 1) {
            part[m++] = *q;
        } else {
            uint64_t s, l;
            copy_range(q, &s, &l);
            if (q->lit_head) part[m++] = (plan_piece){1, 0, 0, q->dst, 0, q->lit_head};
            if (l) part[m++] = (plan_piece){0, 0, 0, q->dst + q->lit_head, s, l};
            if (q->lit_tail) part[m++] = (plan_piece){1, 0, 0, q->dst + q->len - q->lit_tail, 0, q->lit_tail};
        }
        for (size_t x = 0; x < m; x++) {
            if (n > 0 && out[n - 1].kind == 1 && part[x].kind == 1) {
                out[n - 1].len += part[x].len; /* adjacent literals merge */
                continue;
            }
            out[n++] = part[x];
        }
    }
    return n;
}

delta_status dlt_plan_build(const uint8_t *src, size_t src_len, const uint8_t *tgt, size_t tgt_len,
                        const delta_op *ops, size_t op_count, uint32_t block_size, int inplace,
                        uint32_t max_stash, uint32_t batch_blocks, plan *out)
{
    memset(out, 0, sizeof *out);
    out->block_size = block_size;
    out->blocks = tgt_len / block_size + (tgt_len % block_size != 0);
    delta_status st = cut_pieces(out, ops, op_count, src_len, tgt_len);
    graph g;
    memset(&g, 0, sizeof g);
    if (!st) st = graph_build(out, &g, src, src_len, tgt, tgt_len);
    if (!st && inplace) {
        st = order_inplace(out, &g, max_stash, batch_blocks);
    } else if (!st) {
        size_t cap = 0;
        /* Target order, every block its own batch: claimed in place, the
         * proof checks it as such. */
        for (uint64_t k = 0; k < out->blocks && !st; k++) {
            if (!g.changed[k]) continue;
            st = push_cmd(out, &cap, PLAN_BLOCK, k, 0);
            if (!st) st = push_cmd(out, &cap, PLAN_COMMIT, 0, 0);
        }
    }
    graph_free(&g);
    if (st) dlt_plan_free(out);
    return st;
}
