/*
 * The diff engine: Percival's matching ("Naive differences of executable
 * code", 2003), written from the paper's description.
 *
 * The idea: executable code changes mostly by small local edits (shifted
 * addresses, changed constants), so a good cover of the target is a few long
 * *approximate* matches against the source, each encoded as a copy plus a
 * byte-wise difference that is mostly zeros, with literal bytes in between.
 *
 * The work is done in two phases:
 *
 *  1. Anchors. A suffix array of the source (libdivsufsort) gives, for any
 *     target position, the longest exact match in the source by binary
 *     search. The target is scanned left to right; the scan keeps the
 *     alignment (source offset - target offset) of the last match taken, and
 *     switches to a new exact match only when it beats by more than
 *     SWITCH_MARGIN bytes what the current alignment already matches over the
 *     same stretch. Each switch records an anchor (target position, source
 *     position). This is the expensive phase; the target is cut into slices
 *     scanned independently (by several threads when asked), and the anchor
 *     lists are concatenated. Slices depend on the target size only, so the
 *     output never depends on the thread count.
 *
 *  2. Ops. Between two consecutive anchors the gap is shared out: the earlier
 *     alignment is extended forward, the later one backward, each as far as
 *     it keeps 2*matches - length at its maximum (i.e. while more than half
 *     the bytes still agree). Where the two extensions overlap, the split
 *     point that keeps the most agreeing bytes wins. What neither covers is
 *     literal "extra". Each anchor yields one op.
 *
 * Under a memory cap (delta_diff_options.max_memory) smaller than the suffix
 * array, phase 1 runs in windows: the target is cut into slices, each
 * matched against the source window around its proportional place (windows
 * overlap by half; one suffix array exists at a time, 3/4 of the cap). The
 * extensions of phase 2 still see the whole source.
 *
 * Memory: the suffix array takes 4 bytes per source byte (int32, the source
 * is limited to < 2 GiB), plus libdivsufsort's fixed buckets; the anchors
 * and the op list are small in practice and bounded by the target size
 * (anchors are at least SWITCH_MARGIN + 1 bytes apart). See
 * delta_diff_memory for the formula.
 */
#include <divsufsort.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "common/internal.h"
#include "libdelta/diff.h"
#include "predict.h"

/* A new match must beat the current alignment by more than this many bytes. */
#define SWITCH_MARGIN 8
/* Targets below this size are scanned as one slice (no stitching loss). */
#define SLICE_MIN ((size_t)4 << 20)
/* At most this many slices (and so worker threads). */
#define SLICE_MAX 8
/* libdivsufsort's bucket arrays (256 + 256*256 ints), plus slack; after the
 * sort, our two-byte bucket table (65537 ints) reuses that room. */
#define SORT_WORKSPACE ((uint64_t)(256 + 256 * 256) * 4 + 4096)
/* The smallest source window a memory cap may force (windowed matching). */
#define WINDOW_MIN ((size_t)64 << 10)
/* Sources of 2 GiB and more would need the 64-bit suffix array. */
#define SOURCE_MAX ((size_t)INT32_MAX)

typedef struct anchor {
    size_t scan; /* target position where the exact match starts */
    size_t pos;  /* its source position */
} anchor;

typedef struct anchor_list {
    anchor *items;
    size_t len, cap;
} anchor_list;

/* Everything the matching needs, shared read-only by the slice workers. */
typedef struct matcher {
    const uint8_t *src;
    size_t src_len;
    const uint8_t *dst;
    size_t dst_len;
    const saidx_t *sa; /* suffix array of src, src_len entries */
    /* bucket[k]: first suffix-array index whose suffix's first two bytes are
     * >= k (read big-endian; a one-byte suffix b counts as b,0). Suffixes
     * starting with the two bytes k lie in [bucket[k], bucket[k+1]). */
    const uint32_t *bucket; /* 65537 entries */
} matcher;

/* ---- exact matching over the suffix array ---- */

#if defined(__GNUC__)
#define PREFETCH(p) __builtin_prefetch(p)
#else
#define PREFETCH(p) ((void)0)
#endif

/* Length of the common prefix of a[0..n) and b[0..n), a word at a time. */
static size_t common_prefix(const uint8_t *a, const uint8_t *b, size_t n)
{
    size_t i = 0;
    while (i + 8 <= n) {
        uint64_t x, y;
        memcpy(&x, a + i, 8);
        memcpy(&y, b + i, 8);
        if (x != y) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
            return i + (size_t)(__builtin_ctzll(x ^ y) >> 3);
#else
            break;
#endif
        }
        i += 8;
    }
    while (i < n && a[i] == b[i]) i++;
    return i;
}

/* Common prefix of the query q (ql bytes) and the source suffix at sp,
 * knowing the first `skip` bytes agree. */
static size_t lcp_from(const matcher *m, const uint8_t *q, size_t ql, size_t sp, size_t skip)
{
    size_t sl = m->src_len - sp;
    size_t n = ql < sl ? ql : sl;
    return skip + common_prefix(q + skip, m->src + sp + skip, n - skip);
}

/* true when q (ql bytes) sorts at or before the source suffix at sp, given
 * that they share exactly l bytes. A suffix that is a proper prefix of q
 * sorts before it. */
static bool query_le(const matcher *m, const uint8_t *q, size_t ql, size_t sp, size_t l)
{
    if (l == ql) return true;
    if (l == m->src_len - sp) return false;
    return q[l] < m->src[sp + l];
}

/*
 * Longest exact match of the target at position at, anywhere in the source.
 * Binary search for where the target's suffix would sort among the source's
 * suffixes; the longest match is one of the two neighbours of that point.
 * While searching, both bounds' common prefixes with the query are known, and
 * every suffix between them shares at least the smaller one, so comparisons
 * skip it. When some source suffix starts with the query's first two bytes,
 * the best match is among those, so the search starts in that bucket (this
 * skips the first ~16 steps, the ones that miss the cache). Returns the
 * length; *pos receives the source position.
 */
/* Longest match of the target at `at`; *idx receives its suffix-array index. */
static size_t longest_match(const matcher *m, size_t at, size_t *idx)
{
    const uint8_t *q = m->dst + at;
    size_t ql = m->dst_len - at;
    *idx = 0;
    if (m->src_len == 0 || ql == 0) return 0;

    size_t lo = 0, hi = m->src_len - 1;
    if (ql >= 2) {
        unsigned k = (unsigned)q[0] << 8 | q[1];
        if (m->bucket[k + 1] > m->bucket[k]) {
            lo = m->bucket[k];
            hi = m->bucket[k + 1] - 1;
        }
    }
    size_t lo_sp = (size_t)m->sa[lo], hi_sp = (size_t)m->sa[hi];
    size_t lo_lcp = lcp_from(m, q, ql, lo_sp, 0);
    if (query_le(m, q, ql, lo_sp, lo_lcp)) {
        *idx = lo;
        return lo_lcp;
    }
    size_t hi_lcp = lcp_from(m, q, ql, hi_sp, 0);
    if (!query_le(m, q, ql, hi_sp, hi_lcp)) {
        *idx = hi;
        return hi_lcp;
    }
    /* Invariant: suffix[lo] < q <= suffix[hi]. */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        /* The search is bound by memory latency (the suffix array and the
         * source are read at random): while this step compares, fetch the
         * source bytes of both possible next steps (their suffix-array
         * entries were fetched one step ago) and the suffix-array entries of
         * the four steps after. Only the speed depends on this. */
        size_t c1 = lo + (mid - lo) / 2, c2 = mid + (hi - mid) / 2;
        size_t skip = lo_lcp < hi_lcp ? lo_lcp : hi_lcp;
        size_t s1 = (size_t)m->sa[c1], s2 = (size_t)m->sa[c2];
        if (s1 + skip < m->src_len) PREFETCH(m->src + s1 + skip);
        if (s2 + skip < m->src_len) PREFETCH(m->src + s2 + skip);
        PREFETCH(&m->sa[lo + (c1 - lo) / 2]);
        PREFETCH(&m->sa[c1 + (mid - c1) / 2]);
        PREFETCH(&m->sa[mid + (c2 - mid) / 2]);
        PREFETCH(&m->sa[c2 + (hi - c2) / 2]);
        size_t sp = (size_t)m->sa[mid];
        size_t l = lcp_from(m, q, ql, sp, skip);
        if (query_le(m, q, ql, sp, l)) {
            hi = mid;
            hi_lcp = l;
        } else {
            lo = mid;
            lo_lcp = l;
        }
    }
    *idx = lo_lcp >= hi_lcp ? lo : hi;
    return lo_lcp >= hi_lcp ? lo_lcp : hi_lcp;
}

/*
 * Equally long matches sit next to each other in the suffix array. Among a
 * few of them, take the one nearest `want` (where the current alignment
 * would read): nearby matches keep later copies aligned, and their diff
 * bytes compress better (esbuild 0.24.0->0.24.1: -1.9% payload).
 */
#define NEAR_SCAN 32
static size_t nearest_equal(const matcher *m, size_t at, size_t idx, size_t len, size_t want)
{
    const uint8_t *q = m->dst + at;
    size_t ql = m->dst_len - at;
    size_t best = (size_t)m->sa[idx];
    if (len < SWITCH_MARGIN) return best;
    size_t best_d = best > want ? best - want : want - best;
    for (int dir = -1; dir <= 1; dir += 2) {
        size_t i = idx;
        for (int n = 0; n < NEAR_SCAN; n++) {
            if (dir < 0 ? i == 0 : i + 1 >= m->src_len) break;
            i = dir < 0 ? i - 1 : i + 1;
            size_t sp = (size_t)m->sa[i];
            if (lcp_from(m, q, ql, sp, 0) < len) break;
            size_t d = sp > want ? sp - want : want - sp;
            if (d < best_d) {
                best = sp;
                best_d = d;
            }
        }
    }
    return best;
}

/* Fills the two-byte bucket table of a suffix array. */
static void build_buckets(const uint8_t *src, size_t len, const saidx_t *sa, uint32_t *bucket)
{
    size_t k = 0;
    for (size_t i = 0; i < len; i++) {
        size_t p = (size_t)sa[i];
        size_t key = (size_t)src[p] << 8 | (p + 1 < len ? src[p + 1] : 0);
        while (k <= key) bucket[k++] = (uint32_t)i;
    }
    while (k <= 65536) bucket[k++] = (uint32_t)len;
}

/* ---- phase 1: anchors ---- */

static bool anchor_push(anchor_list *l, size_t scan, size_t pos)
{
    if (l->len == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 256;
        anchor *p = realloc(l->items, cap * sizeof *p);
        if (!p) return false;
        l->items = p;
        l->cap = cap;
    }
    l->items[l->len].scan = scan;
    l->items[l->len].pos = pos;
    l->len++;
    return true;
}

/* 1 when target[t] equals the source byte under alignment `offset`
 * (source index = t + offset), 0 otherwise or when out of the source. */
static int agrees(const matcher *m, size_t t, ptrdiff_t offset)
{
    ptrdiff_t s = (ptrdiff_t)t + offset;
    return s >= 0 && (size_t)s < m->src_len && m->src[s] == m->dst[t];
}

/*
 * Scans target positions [begin, end) and records where the cover should
 * switch to a new alignment. `score` counts, over the window [scan, seen),
 * the target bytes that the current alignment already reproduces; `seen`
 * grows to cover every exact match found, so the comparison is between the
 * new match's length and what staying put gives over about the same stretch.
 *
 *  - match length == score (and > 0): the current alignment is as good as
 *    the match (typically, it *is* that match): ride along and skip it;
 *  - match length > score + SWITCH_MARGIN: switch, record an anchor, and
 *    skip the match;
 *  - otherwise slide the window one byte on.
 */
static bool find_anchors(const matcher *m, size_t begin, size_t end, anchor_list *out)
{
    ptrdiff_t offset = 0; /* alignment of the last match taken */
    size_t scan = begin, len = 0, pos = 0, idx = 0;

    while (scan < end) {
        size_t score = 0;
        scan += len;
        size_t seen = scan;
        bool take = false;
        for (; scan < end; scan++) {
            len = longest_match(m, scan, &idx);
            for (; seen < scan + len; seen++) score += (size_t)agrees(m, seen, offset);
            if (len == score && len != 0) break;
            if (len > score + SWITCH_MARGIN) {
                take = true;
                break;
            }
            /* slide: byte `scan` leaves the window (or the window is empty) */
            if (seen > scan)
                score -= (size_t)agrees(m, scan, offset);
            else
                seen = scan + 1;
        }
        if (!take) continue; /* rode along an existing match, or reached the end */
        /* Only a match taken needs its position: the nearest of the equal ones. */
        ptrdiff_t want = (ptrdiff_t)scan + offset;
        pos = nearest_equal(m, scan, idx, len, want > 0 ? (size_t)want : 0);
        if (!anchor_push(out, scan, pos)) return false;
        offset = (ptrdiff_t)pos - (ptrdiff_t)scan;
    }
    return true;
}

/* A slice of the target, scanned by whichever worker claims it. */
typedef struct slice_job {
    const matcher *m;
    size_t begin, end; /* the target range cut into slices */
    size_t nslices;
    atomic_size_t next; /* next unclaimed slice */
    anchor_list *lists; /* one per slice */
    atomic_bool failed;
} slice_job;

static size_t slice_start(const slice_job *job, size_t i)
{
    return job->begin + (size_t)((uint64_t)(job->end - job->begin) * i / job->nslices);
}

static void *slice_worker(void *arg)
{
    slice_job *job = arg;
    for (;;) {
        size_t i = atomic_fetch_add(&job->next, 1);
        if (i >= job->nslices || atomic_load(&job->failed)) break;
        size_t b = slice_start(job, i);
        size_t e = slice_start(job, i + 1);
        if (!find_anchors(job->m, b, e, &job->lists[i])) atomic_store(&job->failed, true);
    }
    return NULL;
}

static int pick_threads(const delta_diff_options *opt)
{
    int t = opt ? opt->threads : 0;
    if (t <= 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        t = n > 0 ? (int)n : 1;
    }
    return t > SLICE_MAX ? SLICE_MAX : t;
}

/* Runs phase 1 over target positions [begin, end), cut into slices; the
 * anchors found are appended to all, their source positions moved by shift. */
static delta_status collect_anchors(const matcher *m, size_t begin, size_t end, size_t shift, int threads,
                                    anchor_list *all)
{
    size_t nslices = (end - begin) / SLICE_MIN;
    if (nslices < 1) nslices = 1;
    if (nslices > SLICE_MAX) nslices = SLICE_MAX;

    slice_job job;
    job.m = m;
    job.begin = begin;
    job.end = end;
    job.nslices = nslices;
    atomic_init(&job.next, 0);
    atomic_init(&job.failed, false);
    job.lists = calloc(nslices, sizeof *job.lists);
    if (!job.lists) return dlt_fail(DELTA_ERR_NOMEM, "cannot allocate %zu anchor lists", nslices);

    size_t nthreads = (size_t)threads < nslices ? (size_t)threads : nslices;
    pthread_t tid[SLICE_MAX];
    size_t started = 0;
    for (size_t i = 1; i < nthreads; i++) {
        if (pthread_create(&tid[started], NULL, slice_worker, &job) != 0) break;
        started++;
    }
    slice_worker(&job); /* this thread works too; fewer helpers just means slower */
    for (size_t i = 0; i < started; i++) pthread_join(tid[i], NULL);

    delta_status st = DELTA_OK;
    if (atomic_load(&job.failed)) st = dlt_fail(DELTA_ERR_NOMEM, "out of memory recording matches");
    for (size_t i = 0; i < nslices && st == DELTA_OK; i++) {
        for (size_t k = 0; k < job.lists[i].len; k++) {
            if (!anchor_push(all, job.lists[i].items[k].scan, job.lists[i].items[k].pos + shift)) {
                st = dlt_fail(DELTA_ERR_NOMEM, "out of memory recording matches");
                break;
            }
        }
    }
    for (size_t i = 0; i < nslices; i++) free(job.lists[i].items);
    free(job.lists);
    return st;
}

/* ---- phase 2: ops ---- */

/* How far the alignment (t, s) extends forward, up to target position limit:
 * the length that maximises 2*agreeing - length. */
static size_t extend_forward(const matcher *m, size_t t, size_t s, size_t limit)
{
    size_t best = 0;
    ptrdiff_t score = 0, best_score = 0;
    for (size_t i = 0; t + i < limit && s + i < m->src_len;) {
        score += m->src[s + i] == m->dst[t + i] ? 1 : -1;
        i++;
        if (score > best_score) {
            best_score = score;
            best = i;
        }
    }
    return best;
}

/* How far the anchor (t, s) extends backward, not below target position
 * floor: the length that maximises 2*agreeing - length. */
static size_t extend_backward(const matcher *m, size_t t, size_t s, size_t floor)
{
    size_t best = 0;
    ptrdiff_t score = 0, best_score = 0;
    for (size_t i = 1; t - floor >= i && s >= i; i++) {
        score += m->src[s - i] == m->dst[t - i] ? 1 : -1;
        if (score > best_score) {
            best_score = score;
            best = i;
        }
    }
    return best;
}

/*
 * The forward extension of the previous alignment (from target prev_t,
 * source prev_s, *fwd bytes) overlaps the backward extension of the next
 * anchor (ending at target t, source s, *back bytes). Picks the split point
 * in the overlap that keeps the most agreeing bytes, and trims both.
 */
static void split_overlap(const matcher *m, size_t prev_t, size_t prev_s, size_t *fwd, size_t t,
                          size_t s, size_t *back)
{
    size_t overlap = (prev_t + *fwd) - (t - *back);
    size_t keep = 0; /* bytes of the overlap given to the previous alignment */
    ptrdiff_t score = 0, best_score = 0;
    size_t f0 = prev_t + *fwd - overlap, fs0 = prev_s + *fwd - overlap;
    size_t b0 = t - *back, bs0 = s - *back;
    for (size_t i = 0; i < overlap; i++) {
        if (m->dst[f0 + i] == m->src[fs0 + i]) score++;
        if (m->dst[b0 + i] == m->src[bs0 + i]) score--;
        if (score > best_score) {
            best_score = score;
            keep = i + 1;
        }
    }
    *fwd = *fwd - overlap + keep;
    *back -= keep;
}

/* Turns the anchors into ops that tile the target. ops has room for
 * anchors->len + 1 entries; empty ops are dropped. */
static size_t build_ops(const matcher *m, const anchor_list *anchors, delta_op *ops)
{
    size_t n = 0;
    size_t last_t = 0, last_s = 0; /* start of the current alignment's copy */
    for (size_t k = 0; k <= anchors->len; k++) {
        bool final = k == anchors->len;
        size_t t = final ? m->dst_len : anchors->items[k].scan;
        size_t s = final ? 0 : anchors->items[k].pos;

        size_t fwd = extend_forward(m, last_t, last_s, t);
        size_t back = final ? 0 : extend_backward(m, t, s, last_t);
        if (last_t + fwd > t - back) split_overlap(m, last_t, last_s, &fwd, t, s, &back);

        delta_op op = {last_t, fwd ? last_s : 0, fwd, (t - back) - (last_t + fwd)};
        if (op.copy + op.extra > 0) ops[n++] = op;
        last_t = t - back;
        last_s = s - back;
    }
    return n;
}

/* ---- windows ---- */

/* Builds the suffix array of source[ws, ws+wl) and collects the anchors of
 * target[tb, te) against it. */
static delta_status window_anchors(const matcher *whole, size_t ws, size_t wl, size_t tb, size_t te, int threads,
                                   anchor_list *anchors)
{
    saidx_t *sa = malloc(wl * sizeof *sa);
    if (!sa) return dlt_fail(DELTA_ERR_NOMEM, "cannot allocate a suffix array for %zu bytes", wl);
    if (divsufsort(whole->src + ws, sa, (saidx_t)wl) != 0) {
        free(sa);
        return dlt_fail(DELTA_ERR_INTERNAL, "suffix sorting of the source failed");
    }
    /* allocated after the sort, in the space its buckets used */
    uint32_t *bucket = malloc(65537 * sizeof *bucket);
    if (!bucket) {
        free(sa);
        return dlt_fail(DELTA_ERR_NOMEM, "cannot allocate the match index");
    }
    build_buckets(whole->src + ws, wl, sa, bucket);
    matcher m = {whole->src + ws, wl, whole->dst, whole->dst_len, sa, bucket};
    delta_status st = collect_anchors(&m, tb, te, ws, threads, anchors);
    free(bucket);
    free(sa);
    return st;
}

/* ---- public API ---- */

uint64_t delta_diff_memory(size_t source_len, size_t target_len)
{
    /* suffix array + sort buckets, then at most one anchor per
     * SWITCH_MARGIN + 1 target bytes: the anchor list (doubling, so twice
     * its size) and the op list. The bound is loose: real diffs have a few
     * anchors per kilobyte at most. */
    uint64_t sa = (uint64_t)source_len * sizeof(saidx_t) + SORT_WORKSPACE;
    uint64_t anchors = (uint64_t)target_len / (SWITCH_MARGIN + 1) + 2;
    return sa + anchors * (2 * sizeof(anchor) + sizeof(delta_op));
}

static delta_status diff_once(const uint8_t *source, size_t source_len, const uint8_t *target,
                              size_t target_len, const delta_diff_options *opt, delta_op **ops,
                              size_t *count)
{
    if (!ops || !count || (!source && source_len) || (!target && target_len))
        return dlt_fail(DELTA_ERR_ARG, "delta_diff: null argument");
    *ops = NULL;
    *count = 0;
    if (source_len > SOURCE_MAX)
        return dlt_fail(DELTA_ERR_LIMIT, "source of %zu bytes is too large (limit %zu)",
                          source_len, SOURCE_MAX);
    if (target_len == 0) return DELTA_OK; /* nothing to cover: zero ops */

    uint64_t cap = opt ? opt->max_memory : 0;
    uint64_t sa_bytes = (uint64_t)source_len * sizeof(saidx_t) + SORT_WORKSPACE;
    size_t window = source_len;
    if (cap && sa_bytes > cap) {
        /* Windowed matching: a quarter of the cap for anchors and ops, the rest
         * for one window's suffix array at a time. */
        uint64_t room = cap - cap / 4;
        window = room > SORT_WORKSPACE ? (size_t)((room - SORT_WORKSPACE) / sizeof(saidx_t)) : 0;
        if (window < WINDOW_MIN)
            return dlt_fail(DELTA_ERR_LIMIT, "a memory cap of %llu bytes is too small (at least %llu)",
                              (unsigned long long)cap,
                              (unsigned long long)(((uint64_t)WINDOW_MIN * sizeof(saidx_t) + SORT_WORKSPACE) * 4 / 3 + 1));
    }

    matcher m = {source, source_len, target, target_len, NULL, NULL};
    anchor_list anchors = {NULL, 0, 0};
    delta_status st = DELTA_OK;
    size_t nwin = window >= source_len ? 1 : (2 * source_len + window - 1) / window - 1;
    for (size_t w = 0; w < nwin && source_len > 0 && !st; w++) {
        size_t tb = (size_t)((uint64_t)target_len * w / nwin), te = (size_t)((uint64_t)target_len * (w + 1) / nwin);
        size_t ws = 0;
        if (nwin > 1) { /* the window around the slice's proportional place in the source */
            uint64_t center = ((uint64_t)tb + te) / 2 * source_len / target_len;
            ws = center > window / 2 ? (size_t)center - window / 2 : 0;
            if (ws > source_len - window) ws = source_len - window;
        }
        st = window_anchors(&m, ws, window < source_len ? window : source_len, tb, te, pick_threads(opt), &anchors);
    }
    if (st) goto out;

    uint64_t used = (anchors.cap * sizeof(anchor)) + (anchors.len + 1) * sizeof(delta_op);
    if (cap && used > cap) {
        st = dlt_fail(DELTA_ERR_LIMIT, "the op list needs %llu bytes, over the memory cap of %llu",
                        (unsigned long long)used, (unsigned long long)cap);
        goto out;
    }
    delta_op *list = malloc((anchors.len + 1) * sizeof *list);
    if (!list) {
        st = dlt_fail(DELTA_ERR_NOMEM, "cannot allocate %zu ops", anchors.len + 1);
        goto out;
    }
    *count = build_ops(&m, &anchors, list);
    *ops = list;
out:
    free(anchors.items);
    return st;
}

/*
 * With THUMB2 (asked for, or found by AUTO), a second matching runs against
 * the source with its branches moved through the first matches' map
 * (dlt_predict_relocate): where code moved, calls across the move then agree
 * byte for byte, the approximate matches run on through them and fewer
 * target bytes are left as literals. The patch writer predicts those
 * branches the same way, so the diff stream pays only for mispredictions.
 * The second matching is kept only when it leaves fewer literal bytes.
 */
DLT_DEFINE_INIT(delta_diff_options, DELTA_DIFF_OPTIONS_INIT, DELTA_DIFF_OPTIONS_VERSION)

delta_status delta_diff(const uint8_t *source, size_t source_len, const uint8_t *target,
                        size_t target_len, const delta_diff_options *opt, delta_op **ops,
                        size_t *count)
{
    if (opt) {
        delta_status st0 = dlt_check_version("delta_diff_options", opt->version, DELTA_DIFF_OPTIONS_VERSION);
        if (st0) {
            if (ops) *ops = NULL;
            if (count) *count = 0;
            return st0;
        }
    }
    delta_status st = diff_once(source, source_len, target, target_len, opt, ops, count);
    uint32_t arch = opt ? opt->arch : DELTA_ARCH_NONE;
    if (st || *count == 0 || arch == DELTA_ARCH_NONE) return st;
    uint32_t model = ARCH_NONE; /* the transform whose references the second matching moves */
    if (arch == DELTA_ARCH_X86_64 || (arch == DELTA_ARCH_AUTO && dlt_predict_looks_elf64(source, source_len, 62)))
        model = ARCH_X86_64;
    else if (arch == DELTA_ARCH_AARCH64 || (arch == DELTA_ARCH_AUTO && dlt_predict_looks_elf64(source, source_len, 183)))
        model = ARCH_AARCH64;
    else if (arch == DELTA_ARCH_THUMB2 || (arch == DELTA_ARCH_AUTO && dlt_predict_looks_thumb2(source, source_len)))
        model = ARCH_THUMB2;
    if (model == ARCH_NONE) return st;
    arch_entry *e;
    uint32_t n;
    uint32_t base = 0;
    if (model == ARCH_THUMB2 && dlt_predict_find_base(source, source_len, &base)) model = ARCH_THUMB2_ABS32;
    st = dlt_predict_build_map(*ops, *count, &e, &n);
    if (st) goto fail;
    uint8_t *moved = malloc(source_len);
    if (!moved) {
        free(e);
        st = dlt_fail(DELTA_ERR_NOMEM, "cannot allocate %zu bytes for the moved source", source_len);
        goto fail;
    }
    memcpy(moved, source, source_len);
    arch_map m = {e, n, base};
    dlt_predict_relocate(&m, model, moved, source_len);
    free(e);
    delta_op *ops2;
    size_t count2;
    st = diff_once(moved, source_len, target, target_len, opt, &ops2, &count2);
    free(moved);
    if (st) goto fail;
    /* Kept only when it leaves no more target bytes to literals (data the
     * transform took for references must not lose its matches). */
    uint64_t extra1 = 0, extra2 = 0;
    for (size_t i = 0; i < *count; i++) extra1 += (*ops)[i].extra;
    for (size_t i = 0; i < count2; i++) extra2 += ops2[i].extra;
    if (extra2 > extra1) {
        free(ops2);
        return DELTA_OK;
    }
    free(*ops);
    *ops = ops2;
    *count = count2;
    return DELTA_OK;
fail:
    free(*ops);
    *ops = NULL;
    *count = 0;
    return st;
}

void delta_ops_free(delta_op *ops) { free(ops); }
