/*
 * LZRC: the device codec of ldpatch1 (compression 2, formats/lzrc.md).
 * A small-window LZ77 whose literals, match flags, lengths and distances go
 * through an adaptive binary range coder. The decoder holds its window and
 * its probabilities, about 1.2 KiB plus the window: a stream decodes in a few
 * KiB of RAM where LZMA2 needs its dictionary plus ~28 KiB.
 * The model's constants live here, shared by the decoder (lzrc.c) and the
 * encoder (libdelta/src/encode/lzrc_enc.c).
 */
#ifndef LIBDELTA_PATCH_LZRC_H
#define LIBDELTA_PATCH_LZRC_H

#include "common/internal.h"

#define LZRC_MIN_WINDOW 256u
#define LZRC_MAX_WINDOW 65536u
#define LZRC_PROB_BITS 11
#define LZRC_PROB_ONE (1u << LZRC_PROB_BITS)
#define LZRC_MOVE_BITS 5
#define LZRC_TOP (1u << 24)
#define LZRC_MIN_MATCH 2
#define LZRC_LEN_LOW 8    /* lengths 2..9: a 3-bit tree */
#define LZRC_LEN_MID 8    /* 10..17: a 3-bit tree */
#define LZRC_LEN_HIGH 256 /* 18..273: an 8-bit tree */
#define LZRC_MAX_MATCH (LZRC_MIN_MATCH + LZRC_LEN_LOW + LZRC_LEN_MID + LZRC_LEN_HIGH - 1)
#define LZRC_SLOTS 32     /* distance slot: bit length of distance - 1 (0..16), a 5-bit tree */

/* The adaptive model: every probability starts at LZRC_PROB_ONE / 2. */
typedef struct lzrc_model {
    uint16_t is_match[4]; /* context: were the last two symbols matches */
    uint16_t is_rep[2];   /* context: was the last symbol a match; rep = the last distance again */
    uint16_t lit[256];    /* 8-bit tree, node 1..255 */
    uint16_t len_choice[2];
    uint16_t len_low[LZRC_LEN_LOW], len_mid[LZRC_LEN_MID], len_high[LZRC_LEN_HIGH];
    uint16_t slot[LZRC_SLOTS];
} lzrc_model;

void dlt_lzrc_model_init(lzrc_model *m);
/* The window of a stream of raw bytes under a header's window size. */
uint32_t dlt_lzrc_window(uint32_t header_window, uint32_t raw);
/* Decoder state, fixed so that every build declares the same workspace. */
#define LZRC_DECODER_STATE 1216u
/* Bytes of decoder memory for window w (state and window). */
size_t dlt_lzrc_decoder_size(uint32_t w);

/* The decoder. Input comes a byte at a time from in_byte(ctx), which sets
 * *in_err (and returns 0) when the stored stream is exhausted or unreadable. */
typedef struct lzrc_dec {
    lzrc_model m;
    uint32_t range, code;
    uint8_t *win;
    uint32_t win_mask, pos, filled; /* pos: next window index; filled: bytes output, capped at the window */
    uint32_t rep0, match_left;
    uint32_t hist; /* 2 bits: was each of the last two symbols a match */
    uint8_t (*in_byte)(void *ctx);
    void *in_ctx;
    int *in_err;
} lzrc_dec;

/* win: dlt_lzrc_window() bytes. Reads the range coder's first 5 bytes. */
delta_status dlt_lzrc_dec_init(lzrc_dec *d, uint8_t *win, uint32_t window, uint8_t (*in_byte)(void *), void *ctx,
                           int *in_err);
/* Exactly len bytes; DELTA_ERR_PATCH on a distance outside the window. */
delta_status dlt_lzrc_dec_read(lzrc_dec *d, uint8_t *out, size_t len);
/* 1 when the coder ended cleanly (code 0, no match left over). */
int dlt_lzrc_dec_done(const lzrc_dec *d);

#endif
