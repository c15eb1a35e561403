/* The LZRC decoder (formats/lzrc.md). Every byte of the input is hostile:
 * distances are checked against what the window holds. */
#include "lzrc.h"

void dlt_lzrc_model_init(lzrc_model *m)
{
    uint16_t *p = (uint16_t *)m;
    for (size_t i = 0; i < sizeof *m / sizeof *p; i++) p[i] = LZRC_PROB_ONE / 2;
}

uint32_t dlt_lzrc_window(uint32_t header_window, uint32_t raw)
{
    uint32_t w = LZRC_MIN_WINDOW;
    while (w < header_window && w < raw) w <<= 1;
    return w;
}

_Static_assert(sizeof(lzrc_dec) <= LZRC_DECODER_STATE, "LZRC_DECODER_STATE is too small");

size_t dlt_lzrc_decoder_size(uint32_t w)
{
    return LZRC_DECODER_STATE + w;
}

static void normalize(lzrc_dec *d)
{
    if (d->range < LZRC_TOP) {
        d->range <<= 8;
        d->code = d->code << 8 | d->in_byte(d->in_ctx);
    }
}

static unsigned bit(lzrc_dec *d, uint16_t *p)
{
    uint32_t bound = (d->range >> LZRC_PROB_BITS) * *p;
    unsigned b;
    if (d->code < bound) {
        d->range = bound;
        *p = (uint16_t)(*p + ((LZRC_PROB_ONE - *p) >> LZRC_MOVE_BITS));
        b = 0;
    } else {
        d->code -= bound;
        d->range -= bound;
        *p = (uint16_t)(*p - (*p >> LZRC_MOVE_BITS));
        b = 1;
    }
    normalize(d);
    return b;
}

static uint32_t tree(lzrc_dec *d, uint16_t *probs, unsigned bits)
{
    uint32_t m = 1;
    for (unsigned i = 0; i < bits; i++) m = m << 1 | bit(d, &probs[m]);
    return m - (1u << bits);
}

static uint32_t direct(lzrc_dec *d, unsigned bits)
{
    uint32_t v = 0;
    while (bits--) {
        d->range >>= 1;
        uint32_t b = d->code >= d->range;
        if (b) d->code -= d->range;
        v = v << 1 | b;
        normalize(d);
    }
    return v;
}

delta_status dlt_lzrc_dec_init(lzrc_dec *d, uint8_t *win, uint32_t window, uint8_t (*in_byte)(void *), void *ctx,
                           int *in_err)
{
    dlt_lzrc_model_init(&d->m);
    d->win = win;
    d->win_mask = window - 1;
    d->pos = d->filled = 0;
    d->rep0 = 1;
    d->match_left = 0;
    d->hist = 0;
    d->in_byte = in_byte;
    d->in_ctx = ctx;
    d->in_err = in_err;
    d->range = 0xFFFFFFFFu;
    d->code = 0;
    uint8_t first = in_byte(ctx);
    for (int i = 0; i < 4; i++) d->code = d->code << 8 | in_byte(ctx);
    if (*in_err) return dlt_fail(DELTA_ERR_PATCH, "patch: LZRC stream is truncated");
    if (first != 0 || d->code == 0xFFFFFFFFu) return dlt_fail(DELTA_ERR_PATCH, "patch: LZRC stream does not start with 0");
    return DELTA_OK;
}

static uint32_t read_len(lzrc_dec *d)
{
    if (!bit(d, &d->m.len_choice[0])) return LZRC_MIN_MATCH + tree(d, d->m.len_low, 3);
    if (!bit(d, &d->m.len_choice[1])) return LZRC_MIN_MATCH + LZRC_LEN_LOW + tree(d, d->m.len_mid, 3);
    return LZRC_MIN_MATCH + LZRC_LEN_LOW + LZRC_LEN_MID + tree(d, d->m.len_high, 8);
}

delta_status dlt_lzrc_dec_read(lzrc_dec *d, uint8_t *out, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (!d->match_left) {
            uint32_t last = d->hist & 1;
            if (!bit(d, &d->m.is_match[d->hist])) {
                uint8_t c = (uint8_t)tree(d, d->m.lit, 8);
                d->win[d->pos] = c;
                d->hist = (d->hist << 1) & 3;
                goto put;
            }
            if (!bit(d, &d->m.is_rep[last])) {
                uint32_t slot = tree(d, d->m.slot, 5);
                uint32_t dist;
                if (slot == 0) {
                    dist = 1;
                } else if (slot > 16) {
                    return dlt_fail(DELTA_ERR_PATCH, "patch: LZRC distance slot %u", (unsigned)slot);
                } else {
                    dist = ((1u << (slot - 1)) | direct(d, slot - 1)) + 1;
                }
                d->rep0 = dist;
            }
            if (d->rep0 > d->filled || d->rep0 > d->win_mask + 1)
                return dlt_fail(DELTA_ERR_PATCH, "patch: LZRC distance %u outside the window", (unsigned)d->rep0);
            d->match_left = read_len(d);
            d->hist = ((d->hist << 1) | 1) & 3;
        }
        d->win[d->pos] = d->win[(d->pos - d->rep0) & d->win_mask];
        d->match_left--;
    put:
        out[i] = d->win[d->pos];
        d->pos = (d->pos + 1) & d->win_mask;
        if (d->filled <= d->win_mask) d->filled++;
        if (*d->in_err) return dlt_fail(DELTA_ERR_PATCH, "patch: LZRC stream is truncated");
    }
    return DELTA_OK;
}

int dlt_lzrc_dec_done(const lzrc_dec *d)
{
    return d->code == 0 && d->match_left == 0;
}
