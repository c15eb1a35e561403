/* The writer's side of reference prediction (formats/patch.md). */
#ifndef LIBDELTA_DIFF_PREDICT_H
#define LIBDELTA_DIFF_PREDICT_H

#include "libdelta/diff.h"
#include "patch/arch.h"

/* The map old offset -> new offset the diff's matches imply; *out is malloc'd. */
delta_status dlt_predict_build_map(const delta_op *ops, size_t n, arch_entry **out, uint32_t *count);
/* The map fitted to the branches the copies of ops hold (see predict.c). */
delta_status dlt_predict_fit_map(const uint8_t *source, size_t source_len, const uint8_t *target, size_t target_len,
                             const delta_op *ops, size_t n, uint32_t arch, uint32_t base, arch_entry **out,
                             uint32_t *count);
/* 1 for a 64-bit little-endian ELF file of this e_machine (62 x86-64, 183 AArch64). */
int dlt_predict_looks_elf64(const uint8_t *b, size_t len, uint16_t machine);
/* The load address of a raw Cortex-M image (from its vector table), or 0. */
int dlt_predict_find_base(const uint8_t *b, size_t len, uint32_t *base);
/* 1 when b looks like Thumb-2 code. */
int dlt_predict_looks_thumb2(const uint8_t *b, size_t len);
/* Moves every reference of b the transform arch (ARCH_*) predicts through
 * the map, in place, as if each had moved with the map. */
void dlt_predict_relocate(const arch_map *m, uint32_t arch, uint8_t *b, size_t len);

#endif
