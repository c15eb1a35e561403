/*
 * Reference prediction (formats/patch.md, "Reference prediction"): the
 * Thumb-2 branch codec on handcrafted words, the exact predicted bytes of a
 * COPY piece, and the valid vector formats/vectors/valid/patch-thumb2.ldp.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "libdelta/patch.h"
#include "patch/arch.h"
#include "testutil.h"

static void put_branch(uint8_t *b, uint16_t h1, uint16_t h2)
{
    b[0] = (uint8_t)h1;
    b[1] = (uint8_t)(h1 >> 8);
    b[2] = (uint8_t)h2;
    b[3] = (uint8_t)(h2 >> 8);
}

Test(arch, thumb2_decodes_handcrafted_branches)
{
    int32_t imm;
    cr_assert(arch_thumb2_decode(0xF7FF, 0xFFFE, &imm)); /* bl . */
    cr_assert_eq(imm, -4);
    cr_assert(arch_thumb2_decode(0xF001, 0xF800, &imm)); /* bl +0x1000 */
    cr_assert_eq(imm, 0x1000);
    cr_assert(arch_thumb2_decode(0xF7FF, 0xBFFE, &imm)); /* b.w . */
    cr_assert_eq(imm, -4);
    cr_assert(arch_thumb2_decode(0xF3FF, 0xD7FF, &imm)); /* the farthest forward */
    cr_assert_eq(imm, 0xFFFFFE);
    cr_assert(arch_thumb2_decode(0xF400, 0xD000, &imm)); /* the farthest back */
    cr_assert_eq(imm, -0x1000000);
    cr_assert(!arch_thumb2_decode(0xF7FF, 0xEFFE, &imm), "BLX (h2 bit 12 clear) is not predicted");
    cr_assert(!arch_thumb2_decode(0xE7FF, 0xFFFE, &imm), "not a 32-bit branch prefix");
    cr_assert(!arch_thumb2_decode(0xF7FF, 0x7FFE, &imm), "h2 bit 15 clear");
}

Test(arch, thumb2_encodes_handcrafted_branches)
{
    static const struct { uint16_t h1, h2; int32_t imm; } cases[] = {
        {0xF7FF, 0xFFFE, -4}, {0xF001, 0xF800, 0x1000}, {0xF001, 0xFF7E, 0x1EFC},
        {0xF700, 0xF800, -0x100000}, {0xF3FF, 0xD7FF, 0xFFFFFE}, {0xF400, 0xD000, -0x1000000},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint16_t h1 = 0xF000, h2 = 0xD000;
        arch_thumb2_encode(&h1, &h2, cases[i].imm);
        cr_assert_eq(h1, cases[i].h1, "case %zu: h1 %04x", i, h1);
        cr_assert_eq(h2, cases[i].h2, "case %zu: h2 %04x", i, h2);
        int32_t back;
        cr_assert(arch_thumb2_decode(h1, h2, &back));
        cr_assert_eq(back, cases[i].imm);
    }
    /* B.W keeps its kind (h2 bit 14 clear). */
    uint16_t h1 = 0xF000, h2 = 0x9000;
    arch_thumb2_encode(&h1, &h2, -4);
    cr_assert_eq(h1, 0xF7FF);
    cr_assert_eq(h2, 0xBFFE);
}

Test(arch, map_lookup)
{
    arch_entry e[] = {{0x100, 8}, {0x200, -16}, {0x300, 0}};
    arch_map m = {e, 3};
    int64_t s;
    cr_assert(!arch_map_find(&m, 0xFF, &s), "before the first entry: undefined");
    cr_assert(arch_map_find(&m, 0x100, &s) && s == 8);
    cr_assert(arch_map_find(&m, 0x1FF, &s) && s == 8);
    cr_assert(arch_map_find(&m, 0x200, &s) && s == -16);
    cr_assert(arch_map_find(&m, 0x7FFFFFFF, &s) && s == 0, "the last entry runs on");
    arch_map empty = {NULL, 0};
    cr_assert(!arch_map_find(&empty, 0, &s));
}

/*
 * A copy from source 0x100 to target 0x180 holding, at offset 0, a BL whose
 * old target 0x2000 lies in a region the map moves by +0x40: predicted target
 * 0x2040, so imm' = 0x2040 - (0x180 + 4) = 0x1EBC (F001 FF5E). At offset 4, a
 * BL into the copy itself (moved by its own shift 0x80) is left as it is; at
 * offset 8, one to before the map stays too (m undefined); the last two
 * bytes start a branch the piece cuts: not predicted.
 */
Test(arch, thumb2_predicts_exact_bytes)
{
    arch_entry e[] = {{0x100, 0x80}, {0x1000, 0x40}};
    arch_map m = {e, 2};
    uint8_t b[14];
    put_branch(b, 0xF001, 0xFF7E);     /* at 0x100: imm 0x1EFC -> 0x2000 */
    put_branch(b + 4, 0xF000, 0xF810); /* at 0x104: imm 0x20 -> 0x128, inside the copy */
    put_branch(b + 8, 0xF6FF, 0xFFFE); /* at 0x108: imm -0x100004 -> before 0 */
    b[12] = 0x01;
    b[13] = 0xF0;
    uint8_t want[14];
    memcpy(want, b, sizeof b);
    put_branch(want, 0xF001, 0xFF5E);
    arch_predict(ARCH_THUMB2, &m, 0x180, 0x100, b, sizeof b);
    cr_assert(memcmp(b, want, sizeof b) == 0, "predicted %02x %02x %02x %02x", b[0], b[1], b[2], b[3]);

    /* An odd source offset: the scan starts at i = 1 (even source addresses). */
    uint8_t c[5] = {0xAA};
    put_branch(c + 1, 0xF001, 0xFF7E); /* at 0x100 as well */
    arch_predict(ARCH_THUMB2, &m, 0x17F, 0xFF, c, sizeof c);
    cr_assert_eq(c[0], 0xAA);
    cr_assert(memcmp(c + 1, want, 4) == 0);

    /* ARCH_NONE predicts nothing. */
    uint8_t d[4];
    put_branch(d, 0xF001, 0xFF7E);
    arch_predict(ARCH_NONE, &m, 0x180, 0x100, d, 4);
    cr_assert_eq(d[2], 0x7E);
}

/* An offset out of reach is not predicted: the branch stays. */
Test(arch, thumb2_out_of_reach_stays)
{
    arch_entry e[] = {{0, 0x01000000}};
    arch_map m = {e, 1};
    uint8_t b[4];
    put_branch(b, 0xF3FF, 0xD7FF); /* the farthest forward: +0x1000000 more is out of reach */
    arch_predict(ARCH_THUMB2, &m, 0, 0, b, 4);
    int32_t imm;
    cr_assert(arch_thumb2_decode(delta_le16(b), delta_le16(b + 2), &imm));
    cr_assert_eq(imm, 0xFFFFFE);
}

/* The valid vector: PREDICT set, a THUMB2 map, and it yields its target
 * out of place and after a proof. */
Test(arch, valid_vector_applies)
{
    size_t pl, sl, tl;
    uint8_t *patch = tu_read_file(DELTA_VECTORS "/valid/patch-thumb2.ldp", &pl);
    uint8_t *src = tu_read_file(DELTA_VECTORS "/valid/patch-thumb2.source.bin", &sl);
    uint8_t *tgt = tu_read_file(DELTA_VECTORS "/valid/patch-thumb2.target.bin", &tl);
    delta_source ps, ss;
    delta_source_from_memory(&ps, patch, pl);
    delta_source_from_memory(&ss, src, sl);
    delta_patch_info info;
    cr_assert_eq(delta_patch_read_info(&ps, &info), DELTA_OK, "%s", delta_last_error());
    cr_assert(info.flags & DELTA_PATCH_PREDICT);
    cr_assert_gt(info.map_entries, 0);
    cr_assert_eq(info.compression, DELTA_COMPRESSION_NONE, "uncompressed: the preamble can be read by eye");
    /* The first segment's control stream starts with the preamble "1" (THUMB2). */
    uint32_t segs = info.segment_count;
    cr_assert_eq(patch[DELTA_PATCH_HEADER_SIZE + (size_t)segs * DELTA_PATCH_SEGMENT_ENTRY], ARCH_THUMB2);
    delta_plan_report rep;
    cr_assert_eq(delta_patch_prove(&ps, &rep), DELTA_OK, "%s", delta_last_error());
    tu_memsink m = {calloc(tl + 4096, 1), tl + 4096, 0};
    delta_sink sink = {&m, tu_memsink_write};
    cr_assert_eq(delta_apply_out_of_place(&ps, &ss, &sink, NULL, 0), DELTA_OK, "%s", delta_last_error());
    cr_assert_eq(m.len, tl);
    cr_assert(memcmp(m.data, tgt, tl) == 0);
    free(m.data);
    free(patch);
    free(src);
    free(tgt);
}
