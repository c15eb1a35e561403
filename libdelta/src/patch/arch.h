/*
 * Reference prediction in COPY pieces (formats/patch.md, "Reference
 * prediction"). Shared by the writer (libdelta/src/encode/) and the decoder:
 * both turn a piece's source bytes into the *predicted* target bytes the
 * same way, and the diff stream holds target - predicted.
 */
#ifndef LIBDELTA_PATCH_ARCH_H
#define LIBDELTA_PATCH_ARCH_H

#include "common/internal.h"

/* Per-segment transform ids (the segment preamble's first varint). */
enum { ARCH_NONE = 0, ARCH_THUMB2 = 1, ARCH_THUMB2_ABS32 = 2, ARCH_X86_64 = 3, ARCH_AARCH64 = 4 };
/* Entries of one segment's map, at most (the header's u16 map_entries). */
#define ARCH_MAP_MAX 65535u

/* The map: source offset old (strictly increasing) -> new = old + shift, for
 * every source offset from old up to the next entry's. */
typedef struct arch_entry {
    uint32_t old;
    int32_t shift;
} arch_entry;

typedef struct arch_map {
    const arch_entry *e;
    uint32_t count;
    uint32_t base; /* ARCH_THUMB2_ABS32: the address source offset 0 is loaded at */
} arch_map;

/* The shift of the entry covering source offset t; 0 when none does. */
int dlt_arch_map_find(const arch_map *m, int64_t t, int64_t *shift);

/* Thumb-2 BL (T1) / B.W (T4): 1 and the branch offset when (h1, h2) is one. */
int dlt_arch_thumb2_decode(uint16_t h1, uint16_t h2, int32_t *imm);
/* Re-encodes (h1, h2) with offset imm: even, in [-2^24, 2^24). */
void dlt_arch_thumb2_encode(uint16_t *h1, uint16_t *h2, int32_t imm);

/* x86-64 references (formats/patch.md): CALL / JMP rel32, and instructions
 * with a [RIP + disp32] operand, at b[0..avail) of source offset at: 1, the
 * target, the instruction's length and its offset field's position when the
 * target lands in the source (source_size bytes). */
int dlt_arch_x86_ref(const uint8_t *b, size_t avail, uint64_t at, uint64_t source_size, int64_t *target, size_t *len,
                 size_t *disp);

/* AArch64 references at the word w (and the next word w2, when have2) of
 * source offset at: B / BL imm26 (*len 4), or ADRP followed by ADD (imm) or
 * LDR / STR (unsigned offset) on the same register (*len 8). 1 and the
 * target when it is one. */
int dlt_arch_a64_ref(uint32_t w, uint32_t w2, int have2, uint64_t at, int64_t *target, size_t *len);
/* Rewrites the reference at b (as dlt_arch_a64_ref found it, *len bytes) at
 * offset at to target t; 0 when t is out of its reach or alignment. */
int dlt_arch_a64_aim(uint8_t *b, size_t len, uint64_t at, int64_t t);

/* ARCH_THUMB2_ABS32: 1 when v points into the source (base <= v < base +
 * source_size); *out is then v moved by the map where it covers v's offset,
 * else v. */
int dlt_arch_abs32_predict(const arch_map *m, uint64_t source_size, uint32_t v, uint32_t *out);

/* Turns the source bytes b[0..len) of a COPY piece from source offset src to
 * target offset dst into the predicted target bytes, in place. */
void dlt_arch_predict(uint32_t arch, const arch_map *m, uint64_t source_size, uint64_t dst, uint64_t src, uint8_t *b,
                  size_t len);

/* LITERAL pieces at target offset dst: the extra stream stores every branch
 * with its absolute target in place of its offset (store), and the decoder
 * turns it back (load). Both in place. */
void dlt_arch_literal_store(uint32_t arch, uint64_t dst, uint8_t *b, size_t len);
void dlt_arch_literal_load(uint32_t arch, uint64_t dst, uint8_t *b, size_t len);

#endif
