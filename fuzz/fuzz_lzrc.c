/* Fuzz target: the input is one LZRC stream (formats/lzrc.md) behind a
 * 4-byte preamble: window log2 (byte 0, taken mod 9, + 8: 256 .. 64 KiB) and
 * the raw size (bytes 1..3, little-endian, at most 16 MiB). Decodes it whole
 * with the device's decoder and checks the end rules; every outcome must be
 * DELTA_OK or DELTA_ERR_PATCH, and never a read outside the window or input.
 * When the stream decodes, it is encoded again and decoded to the same bytes. */
#include <stdlib.h>
#include <string.h>

#include "encode/lzrc_enc.h"
#include "patch/lzrc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct in {
    const uint8_t *p;
    size_t n, pos;
    int err;
} in;

static uint8_t next(void *ctx)
{
    in *s = ctx;
    if (s->pos == s->n) {
        s->err = 1;
        return 0;
    }
    return s->p[s->pos++];
}

static delta_status decode(const uint8_t *p, size_t n, uint32_t window, uint8_t *out, size_t raw)
{
    uint32_t w = dlt_lzrc_window(window, (uint32_t)raw);
    lzrc_dec *d = malloc(sizeof *d);
    uint8_t *win = malloc(w);
    in s = {p, n, 0, 0};
    delta_status st = DELTA_OK;
    if (raw == 0) { /* an empty stream stores nothing */
        st = n ? DELTA_ERR_PATCH : DELTA_OK;
        goto out;
    }
    st = dlt_lzrc_dec_init(d, win, w, next, &s, &s.err);
    for (size_t done = 0; !st && done < raw; done += 4096) st = dlt_lzrc_dec_read(d, out + done, raw - done < 4096 ? raw - done : 4096);
    if (!st && (!dlt_lzrc_dec_done(d) || s.err || s.pos != n)) st = DELTA_ERR_PATCH;
out:
    free(d);
    free(win);
    return st;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 4) return 0;
    uint32_t window = 256u << (data[0] % 9);
    size_t raw = (size_t)data[1] | (size_t)data[2] << 8 | (size_t)data[3] << 16;
    uint8_t *out = malloc(raw + 1);
    delta_status st = decode(data + 4, size - 4, window, out, raw);
    if (st != DELTA_OK && st != DELTA_ERR_PATCH) abort();
    if (st == DELTA_OK) {
        delta_buf enc = DELTA_BUF_INIT;
        uint32_t stored;
        uint8_t *again = malloc(raw + 1);
        if (dlt_lzrc_encode(out, raw, window, &enc, &stored) != DELTA_OK || stored != enc.len) abort();
        if (decode(enc.data, enc.len, window, again, raw) != DELTA_OK || memcmp(out, again, raw) != 0) abort();
        delta_buf_free(&enc);
        free(again);
    }
    free(out);
    return 0;
}
