/* The writer's side of reference prediction: the map from the matches, the
 * Thumb-2 detector, and the source with its branches moved for matching. */
#include <stdlib.h>

#include "predict.h"

typedef struct copy_span {
    uint64_t src, len;
    int64_t shift; /* dst - src */
} copy_span;

static int cmp_span(const void *a, const void *b)
{
    const copy_span *x = a, *y = b;
    if (x->src != y->src) return x->src < y->src ? -1 : 1;
    if (x->len != y->len) return x->len > y->len ? -1 : 1; /* the longer first */
    return (x->shift > y->shift) - (x->shift < y->shift);
}

/*
 * The reference map, old offset -> new offset, from the diff's matches: each
 * copy moves its source range by dst - src. Sorted by source offset, a copy
 * takes over from where it starts (the longest of those starting at the same
 * offset); an old range no copy covers keeps the previous shift. Consecutive
 * entries with the same shift merge.
 */
delta_status dlt_predict_build_map(const delta_op *ops, size_t n, arch_entry **out, uint32_t *count)
{
    *out = NULL;
    *count = 0;
    copy_span *sp = malloc((n ? n : 1) * sizeof *sp);
    if (!sp) return dlt_fail(DELTA_ERR_NOMEM, "encode: out of memory");
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (ops[i].copy > 0) sp[m++] = (copy_span){ops[i].src, ops[i].copy, (int64_t)ops[i].dst - (int64_t)ops[i].src};
    qsort(sp, m, sizeof *sp, cmp_span);
    arch_entry *e = malloc((m ? m : 1) * sizeof *e);
    if (!e) {
        free(sp);
        return dlt_fail(DELTA_ERR_NOMEM, "encode: out of memory");
    }
    size_t k = 0;
    for (size_t i = 0; i < m; i++) {
        if (i > 0 && sp[i].src == sp[i - 1].src) continue;
        if (k > 0 && e[k - 1].shift == sp[i].shift) continue;
        e[k].old = (uint32_t)sp[i].src;
        e[k].shift = (int32_t)sp[i].shift;
        k++;
    }
    free(sp);
    *out = e;
    *count = (uint32_t)k;
    return DELTA_OK;
}

/* A 64-bit little-endian ELF file of this e_machine. */
int dlt_predict_looks_elf64(const uint8_t *b, size_t len, uint16_t machine)
{
    return len >= 64 && memcmp(b, "\x7f" "ELF", 4) == 0 && b[4] == 2 && b[5] == 1 && dlt_le16(b + 18) == machine;
}

/* A cheap look for Thumb-2 code: BL / B.W words, at halfword steps, whose
 * target lands inside the image. Thumb-2 firmware has about one in 50
 * halfwords (Pybricks: ~2.5%); other data, by chance, under 1 in 256 times
 * the fraction of the +-16 MiB reach that the image covers. */
int dlt_predict_looks_thumb2(const uint8_t *b, size_t len)
{
    uint64_t hits = 0, words = 0;
    for (size_t i = 0; i + 4 <= len; words++) {
        int32_t imm;
        if (dlt_arch_thumb2_decode(dlt_le16(b + i), dlt_le16(b + i + 2), &imm)) {
            int64_t t = (int64_t)i + 4 + imm;
            if (t >= 0 && (uint64_t)t < len) hits++;
            i += 4;
            continue;
        }
        i += 2;
    }
    return words > 0 && hits * 200 > words;
}

/*
 * The source as the target would hold it if every reference had moved with
 * the map: the branch at s, which the map moves by m(s), to target t, moved
 * by m(t), gets offset t + m(t) - (s + m(s)) - 4 (in a COPY whose shift
 * dst - src is m(s) that is exactly the decoder's prediction); with a base,
 * an address base + t becomes base + t + m(t). Matching against this source
 * finds the matches prediction makes cheap.
 */
static void relocate_x86(const arch_map *m, uint8_t *b, size_t len)
{
    for (size_t i = 0; i < len;) {
        int64_t t, ms, mt;
        size_t n, d;
        if (!dlt_arch_x86_ref(b + i, len - i, i, len, &t, &n, &d)) {
            i++;
            continue;
        }
        if (dlt_arch_map_find(m, (int64_t)i, &ms) && dlt_arch_map_find(m, t, &mt)) {
            int64_t rel = t + mt - ((int64_t)(i + n) + ms);
            if (rel >= INT32_MIN && rel <= INT32_MAX) dlt_put32(b + i + d, (uint32_t)(int32_t)rel);
        }
        i += n;
    }
}

static void relocate_a64(const arch_map *m, uint8_t *b, size_t len)
{
    for (size_t i = 0; i + 4 <= len;) {
        int64_t t, ms, mt;
        size_t n;
        int have2 = i + 8 <= len;
        if (!dlt_arch_a64_ref(dlt_le32(b + i), have2 ? dlt_le32(b + i + 4) : 0, have2, i, &t, &n)) {
            i += 4;
            continue;
        }
        if (dlt_arch_map_find(m, (int64_t)i, &ms) && dlt_arch_map_find(m, t, &mt)) {
            uint8_t keep[8];
            memcpy(keep, b + i, n);
            if (!dlt_arch_a64_aim(b + i, n, (uint64_t)((int64_t)i + ms), t + mt)) memcpy(b + i, keep, n);
        }
        i += n;
    }
}

void dlt_predict_relocate(const arch_map *m, uint32_t arch, uint8_t *b, size_t len)
{
    if (arch == ARCH_X86_64) {
        relocate_x86(m, b, len);
        return;
    }
    if (arch == ARCH_AARCH64) {
        relocate_a64(m, b, len);
        return;
    }
    int abs32 = arch == ARCH_THUMB2_ABS32;
    for (size_t i = 0; i + 4 <= len;) {
        uint16_t h1 = dlt_le16(b + i), h2 = dlt_le16(b + i + 2);
        int32_t imm;
        if (!dlt_arch_thumb2_decode(h1, h2, &imm)) {
            uint32_t nv;
            if (abs32 && (i & 3) == 0 && dlt_arch_abs32_predict(m, len, dlt_le32(b + i), &nv)) {
                dlt_put32(b + i, nv);
                i += 4;
            } else {
                i += 2;
            }
            continue;
        }
        int64_t t = (int64_t)i + 4 + imm, ms, mt;
        if (dlt_arch_map_find(m, (int64_t)i, &ms) && dlt_arch_map_find(m, t, &mt)) {
            int64_t nimm = t + mt - ((int64_t)i + ms) - 4;
            if (!(nimm & 1) && nimm >= -(INT64_C(1) << 24) && nimm < (INT64_C(1) << 24)) {
                dlt_arch_thumb2_encode(&h1, &h2, (int32_t)nimm);
                dlt_put16(b + i, h1);
                dlt_put16(b + i + 2, h2);
            }
        }
        i += 4;
    }
}

/*
 * The load address of a raw Cortex-M image, for its absolute addresses. Word
 * 1 of the vector table is the reset handler, base + offset + 1 (Thumb); the
 * base is a multiple of 256 at most the image's size below it. Among those,
 * the one where the most odd words (function pointers) land on a PUSH {..,
 * lr} (0xB5xx) or PUSH.W (0xE92D) wins, when at least 16 do. Images over
 * 4 MiB are not searched (flash of that size is rare, and the search is
 * candidates x pointers).
 */
int dlt_predict_find_base(const uint8_t *b, size_t len, uint32_t *base)
{
    if (len < 8 || len > ((size_t)4 << 20)) return 0;
    uint32_t reset = dlt_le32(b + 4);
    if (!(reset & 1)) return 0;
    uint32_t r = reset & ~1u, lo = r > len ? (r - (uint32_t)len + 255) & ~255u : 0;
    /* the odd words within reach */
    size_t n = 0;
    uint32_t *ptr = malloc((len / 4 + 1) * sizeof *ptr);
    if (!ptr) return 0;
    for (size_t i = 0; i + 4 <= len; i += 4) {
        uint32_t v = dlt_le32(b + i);
        if ((v & 1) && v - 1 >= lo && (uint64_t)(v - 1) < (uint64_t)r + len) ptr[n++] = v - 1;
    }
    uint32_t best = 0, best_b = 0;
    for (uint64_t c = lo; c <= r; c += 256) {
        uint32_t hits = 0;
        for (size_t k = 0; k < n; k++) {
            if (ptr[k] < c || ptr[k] - c + 2 > len) continue;
            const uint8_t *h = b + (ptr[k] - c);
            if (h[1] == 0xB5 || (h[1] == 0xE9 && h[0] == 0x2D)) hits++;
        }
        if (hits > best) {
            best = hits;
            best_b = (uint32_t)c;
        }
    }
    free(ptr);
    if (best < 16) return 0;
    *base = best_b;
    return 1;
}

typedef struct vote {
    int64_t t, shift; /* an old branch target, and where the target's branch went: new - old */
} vote;

static int cmp_vote(const void *a, const void *b)
{
    const vote *x = a, *y = b;
    if (x->t != y->t) return x->t < y->t ? -1 : 1;
    return (x->shift > y->shift) - (x->shift < y->shift);
}

/* A run of consecutive distinct targets that share a shift. */
typedef struct run {
    int64_t first, shift;
    uint64_t votes;
} run;

/*
 * The map fitted to the branches themselves. Every BL / B.W the decoder will
 * see in a copy (source bytes at src + i, target bytes at dst + i, both
 * branches) votes for "old target t moved by new target - t". Per distinct
 * target the most voted shift wins; consecutive targets with the same shift
 * form runs; a run of fewer than MIN_VOTES votes costs more as map entries
 * (about 3 bytes each, and one more to switch back) than its mispredicted
 * branches do in the diff stream, so it is dropped and its neighbours merge.
 * Each run left is one entry, starting at its first target.
 */
#define MIN_VOTES 2
static int push_vote(vote **v, size_t *nv, size_t *cap, int64_t t, int64_t shift)
{
    if (*nv == *cap) {
        size_t nc = *cap ? 2 * *cap : 1024;
        vote *p = realloc(*v, nc * sizeof *p);
        if (!p) return 0;
        *v = p;
        *cap = nc;
    }
    (*v)[*nv].t = t;
    (*v)[*nv].shift = shift;
    (*nv)++;
    return 1;
}

delta_status dlt_predict_fit_map(const uint8_t *source, size_t source_len, const uint8_t *target, size_t target_len,
                             const delta_op *ops, size_t n, uint32_t arch, uint32_t base, arch_entry **out,
                             uint32_t *count)
{
    *out = NULL;
    *count = 0;
    vote *v = NULL;
    size_t nv = 0, cap = 0;
    int abs32 = arch == ARCH_THUMB2_ABS32;
    for (size_t k = 0; k < n; k++) {
        const delta_op *op = &ops[k];
        if (op->copy == 0 || op->src + op->copy > source_len || op->dst + op->copy > target_len) continue;
        if (arch == ARCH_AARCH64) {
            /* A reference in the copy, and the same instruction(s) but for the offset in the target. */
            for (size_t i = (size_t)((4 - (op->src & 3)) & 3); i + 4 <= op->copy;) {
                const uint8_t *o = source + op->src + i, *w = target + op->dst + i;
                int64_t t, nt;
                size_t len, nlen;
                int have2 = i + 8 <= op->copy;
                uint32_t o1 = dlt_le32(o), o2 = have2 ? dlt_le32(o + 4) : 0;
                if (!dlt_arch_a64_ref(o1, o2, have2, op->src + i, &t, &len)) {
                    i += 4;
                    continue;
                }
                uint32_t w1 = dlt_le32(w), w2 = have2 ? dlt_le32(w + 4) : 0;
                if (dlt_arch_a64_ref(w1, w2, have2, op->dst + i, &nt, &nlen) && nlen == len &&
                    (len == 4 ? (o1 ^ w1) >> 26 == 0
                              : ((o1 ^ w1) & 0x9F00001F) == 0 && ((o2 ^ w2) & ~(0xFFFu << 10)) == 0) &&
                    !push_vote(&v, &nv, &cap, t, nt - t))
                    goto nomem;
                i += len;
            }
            continue;
        }
        if (arch == ARCH_X86_64) {
            /* A call in the copy, and the same opcode in the target: the target's rel32 votes. */
            for (size_t i = 0; i < op->copy;) {
                const uint8_t *o = source + op->src + i, *w = target + op->dst + i;
                int64_t t;
                size_t len, d;
                if (!dlt_arch_x86_ref(o, op->copy - i, op->src + i, source_len, &t, &len, &d)) {
                    i++;
                    continue;
                }
                /* the same instruction (all but its offset): its new target votes */
                if (memcmp(w, o, d) == 0 && memcmp(w + d + 4, o + d + 4, len - d - 4) == 0) {
                    int64_t nt = (int64_t)(op->dst + i + len) + (int32_t)dlt_le32(w + d);
                    if (!push_vote(&v, &nv, &cap, t, nt - t)) goto nomem;
                }
                i += len;
            }
            continue;
        }
        for (size_t i = (size_t)(op->src & 1); i + 4 <= op->copy;) {
            const uint8_t *o = source + op->src + i, *w = target + op->dst + i;
            int32_t imm, nimm;
            if (!dlt_arch_thumb2_decode(dlt_le16(o), dlt_le16(o + 2), &imm)) {
                /* An address into the source, and the word the target holds there. */
                uint32_t ov = dlt_le32(o), nw = dlt_le32(w);
                if (abs32 && ((op->src + i) & 3) == 0 && ov >= base && ov - base < source_len) {
                    if (nw >= base && nw - base < target_len &&
                        !push_vote(&v, &nv, &cap, (int64_t)(ov - base), (int64_t)nw - (int64_t)ov))
                        goto nomem;
                    i += 4;
                } else {
                    i += 2;
                }
                continue;
            }
            if (dlt_arch_thumb2_decode(dlt_le16(w), dlt_le16(w + 2), &nimm)) {
                int64_t t = (int64_t)(op->src + i) + 4 + imm, nt = (int64_t)(op->dst + i) + 4 + nimm;
                if (!push_vote(&v, &nv, &cap, t, nt - t)) goto nomem;
            }
            i += 4;
        }
    }
    if (nv) qsort(v, nv, sizeof *v, cmp_vote);
    run *r = malloc((nv ? nv : 1) * sizeof *r);
    if (!r) {
        free(v);
        return dlt_fail(DELTA_ERR_NOMEM, "encode: out of memory");
    }
    size_t nr = 0;
    for (size_t a = 0; a < nv;) {
        /* target v[a].t: its votes are [a, b), sorted by shift; the longest equal stretch wins */
        size_t b = a, best = a, best_n = 0;
        while (b < nv && v[b].t == v[a].t) {
            size_t c = b;
            while (c < nv && v[c].t == v[a].t && v[c].shift == v[b].shift) c++;
            if (c - b > best_n) {
                best_n = c - b;
                best = b;
            }
            b = c;
        }
        if (v[a].t >= 0 && (uint64_t)v[a].t < source_len) {
            if (nr > 0 && r[nr - 1].shift == v[best].shift)
                r[nr - 1].votes += best_n;
            else
                r[nr++] = (run){v[a].t, v[best].shift, best_n};
        }
        a = b;
    }
    free(v);
    /* Drop the weak runs, merging what becomes adjacent with the same shift. */
    size_t m = 0;
    for (size_t k = 0; k < nr; k++) {
        if (r[k].votes < MIN_VOTES) continue;
        if (m > 0 && r[m - 1].shift == r[k].shift) {
            r[m - 1].votes += r[k].votes;
            continue;
        }
        r[m++] = r[k];
    }
    arch_entry *e = malloc((m ? m : 1) * sizeof *e);
    if (!e) {
        free(r);
        return dlt_fail(DELTA_ERR_NOMEM, "encode: out of memory");
    }
    size_t k2 = 0;
    for (size_t k = 0; k < m; k++) {
        if (r[k].shift <= -(INT64_C(1) << 31) || r[k].shift >= (INT64_C(1) << 31)) continue;
        e[k2].old = (uint32_t)r[k].first;
        e[k2].shift = (int32_t)r[k].shift;
        k2++;
    }
    free(r);
    *out = e;
    *count = (uint32_t)k2;
    return DELTA_OK;
nomem:
    free(v);
    return dlt_fail(DELTA_ERR_NOMEM, "encode: out of memory");
}
