/*
 * The LZRC encoder (formats/lzrc.md): hash-chain match finding over the
 * window, greedy with one step of lazy evaluation, the last distance tried
 * first; the symbols go through the model of patch/lzrc.h.
 */
#include <stdlib.h>

#include "lzrc_enc.h"
#include "patch/lzrc.h"

typedef struct rc_enc {
    delta_buf *out;
    uint64_t low;
    uint32_t range;
    uint8_t cache;
    uint64_t cache_size;
    delta_status st;
} rc_enc;

static void put_byte(rc_enc *e, uint8_t b)
{
    if (!e->st) e->st = delta_buf_append(e->out, &b, 1);
}

static void shift_low(rc_enc *e)
{
    if ((uint32_t)e->low < 0xFF000000u || (e->low >> 32) != 0) {
        uint8_t carry = (uint8_t)(e->low >> 32), temp = e->cache;
        do {
            put_byte(e, (uint8_t)(temp + carry));
            temp = 0xFF;
        } while (--e->cache_size != 0);
        e->cache = (uint8_t)(e->low >> 24);
    }
    e->cache_size++;
    e->low = (e->low & 0x00FFFFFFu) << 8;
}

static void enc_bit(rc_enc *e, uint16_t *p, unsigned bit)
{
    uint32_t bound = (e->range >> LZRC_PROB_BITS) * *p;
    if (!bit) {
        e->range = bound;
        *p = (uint16_t)(*p + ((LZRC_PROB_ONE - *p) >> LZRC_MOVE_BITS));
    } else {
        e->low += bound;
        e->range -= bound;
        *p = (uint16_t)(*p - (*p >> LZRC_MOVE_BITS));
    }
    while (e->range < LZRC_TOP) {
        e->range <<= 8;
        shift_low(e);
    }
}

static void enc_tree(rc_enc *e, uint16_t *probs, unsigned bits, uint32_t v)
{
    uint32_t m = 1;
    for (unsigned i = bits; i-- > 0;) {
        unsigned b = v >> i & 1;
        enc_bit(e, &probs[m], b);
        m = m << 1 | b;
    }
}

static void enc_direct(rc_enc *e, uint32_t v, unsigned bits)
{
    while (bits--) {
        e->range >>= 1;
        if (v >> bits & 1) e->low += e->range;
        while (e->range < LZRC_TOP) {
            e->range <<= 8;
            shift_low(e);
        }
    }
}

static void enc_len(rc_enc *e, lzrc_model *m, uint32_t len)
{
    len -= LZRC_MIN_MATCH;
    if (len < LZRC_LEN_LOW) {
        enc_bit(e, &m->len_choice[0], 0);
        enc_tree(e, m->len_low, 3, len);
    } else if (len < LZRC_LEN_LOW + LZRC_LEN_MID) {
        enc_bit(e, &m->len_choice[0], 1);
        enc_bit(e, &m->len_choice[1], 0);
        enc_tree(e, m->len_mid, 3, len - LZRC_LEN_LOW);
    } else {
        enc_bit(e, &m->len_choice[0], 1);
        enc_bit(e, &m->len_choice[1], 1);
        enc_tree(e, m->len_high, 8, len - LZRC_LEN_LOW - LZRC_LEN_MID);
    }
}

#define HASH_BITS 16
#define CHAIN_DEPTH 96

static uint32_t hash3(const uint8_t *p)
{
    return ((uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2]) * 2654435761u >> (32 - HASH_BITS);
}

static size_t match_len(const uint8_t *a, const uint8_t *b, size_t max)
{
    size_t n = 0;
    while (n < max && a[n] == b[n]) n++;
    return n;
}

typedef struct finder {
    const uint8_t *d;
    size_t n;
    uint32_t window;
    int32_t *head, *prev; /* prev: a ring of window entries */
    size_t inserted;      /* positions [0, inserted) are in the chains */
} finder;

static void insert_to(finder *f, size_t pos)
{
    while (f->inserted < pos && f->inserted + 3 <= f->n) {
        uint32_t h = hash3(f->d + f->inserted);
        f->prev[f->inserted & (f->window - 1)] = f->head[h];
        f->head[h] = (int32_t)f->inserted;
        f->inserted++;
    }
    if (f->inserted < pos) f->inserted = pos;
}

/* The longest match at pos (distance in 1..window): its length, 0 if none of 3+. */
static size_t find(finder *f, size_t pos, uint32_t *dist)
{
    insert_to(f, pos);
    size_t best = 0, max = f->n - pos < LZRC_MAX_MATCH ? f->n - pos : LZRC_MAX_MATCH;
    if (max < 3) return 0;
    int32_t cand = f->head[hash3(f->d + pos)];
    for (int depth = 0; cand >= 0 && depth < CHAIN_DEPTH; depth++) {
        size_t c = (size_t)cand;
        if (pos - c > f->window - 1 + 1 || c >= pos) break;
        size_t l = match_len(f->d + c, f->d + pos, max);
        if (l > best) {
            best = l;
            *dist = (uint32_t)(pos - c);
            if (l == max) break;
        }
        int32_t nx = f->prev[c & (f->window - 1)];
        if (nx >= cand) break;
        cand = nx;
    }
    return best >= 3 ? best : 0;
}

delta_status dlt_lzrc_encode(const uint8_t *data, size_t n, uint32_t header_window, delta_buf *out, uint32_t *stored)
{
    size_t start = out->len;
    if (n == 0) { /* an empty stream stores nothing */
        *stored = 0;
        return DELTA_OK;
    }
    uint32_t window = dlt_lzrc_window(header_window, n > UINT32_MAX ? UINT32_MAX : (uint32_t)n);
    lzrc_model *m = malloc(sizeof *m);
    finder f = {data, n, window, malloc(sizeof(int32_t) << HASH_BITS), malloc(sizeof(int32_t) * window), 0};
    if (!m || !f.head || !f.prev) {
        free(m);
        free(f.head);
        free(f.prev);
        return dlt_fail(DELTA_ERR_NOMEM, "encode: out of memory for LZRC");
    }
    for (size_t i = 0; i < (1u << HASH_BITS); i++) f.head[i] = -1;
    dlt_lzrc_model_init(m);
    rc_enc e = {out, 0, 0xFFFFFFFFu, 0, 1, DELTA_OK};
    uint32_t rep0 = 1, hist = 0;
    size_t pos = 0;
    while (pos < n && !e.st) {
        size_t max = n - pos < LZRC_MAX_MATCH ? n - pos : LZRC_MAX_MATCH;
        size_t rep_len = rep0 <= pos ? match_len(data + pos - rep0, data + pos, max) : 0;
        uint32_t dist = 0;
        size_t len = find(&f, pos, &dist);
        /* A match must pay for its distance: the last one is nearly free. */
        int use_rep = rep_len >= LZRC_MIN_MATCH && rep_len + 1 >= len;
        if (!use_rep && len && pos + 1 < n) { /* lazy: a longer match one byte on wins */
            uint32_t d2 = 0;
            size_t l2 = find(&f, pos + 1, &d2);
            size_t r2 = rep0 <= pos + 1 && n - pos - 1 >= 1 ?
                        match_len(data + pos + 1 - rep0, data + pos + 1, n - pos - 1 < LZRC_MAX_MATCH ? n - pos - 1 : LZRC_MAX_MATCH) : 0;
            if (l2 > len + 1 || r2 > len) len = 0;
        }
        uint32_t last = hist & 1;
        if (use_rep || len) {
            enc_bit(&e, &m->is_match[hist], 1);
            if (use_rep) {
                enc_bit(&e, &m->is_rep[last], 1);
                len = rep_len;
            } else {
                enc_bit(&e, &m->is_rep[last], 0);
                uint32_t d = dist - 1, slot = 0;
                while (slot < 17 && (d >> slot) != 0) slot++;
                /* slot = bit length of d: d = 0 is slot 0, else the top bit is implied. */
                enc_tree(&e, m->slot, 5, slot);
                if (slot > 1) enc_direct(&e, d & ((1u << (slot - 1)) - 1), slot - 1);
                rep0 = dist;
            }
            enc_len(&e, m, (uint32_t)len);
            hist = ((hist << 1) | 1) & 3;
            pos += len;
        } else {
            enc_bit(&e, &m->is_match[hist], 0);
            enc_tree(&e, m->lit, 8, data[pos]);
            hist = (hist << 1) & 3;
            pos++;
        }
    }
    for (int i = 0; i < 5; i++) shift_low(&e);
    free(m);
    free(f.head);
    free(f.prev);
    if (e.st) return e.st;
    if (out->len - start > UINT32_MAX) return dlt_fail(DELTA_ERR_LIMIT, "encode: stream too large");
    *stored = (uint32_t)(out->len - start);
    return DELTA_OK;
}
