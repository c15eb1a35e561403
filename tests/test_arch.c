/*
 * Reference prediction (formats/patch.md, "Reference prediction"): the
 * Thumb-2 branch codec on handcrafted words, the exact predicted bytes of a
 * COPY piece, and the valid vector formats/vectors/valid/patch-thumb2.ldp.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "libdelta/encode.h"
#include "patch/arch.h"
#include "patch/patch_internal.h"
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
    cr_assert(dlt_arch_thumb2_decode(0xF7FF, 0xFFFE, &imm)); /* bl . */
    cr_assert_eq(imm, -4);
    cr_assert(dlt_arch_thumb2_decode(0xF001, 0xF800, &imm)); /* bl +0x1000 */
    cr_assert_eq(imm, 0x1000);
    cr_assert(dlt_arch_thumb2_decode(0xF7FF, 0xBFFE, &imm)); /* b.w . */
    cr_assert_eq(imm, -4);
    cr_assert(dlt_arch_thumb2_decode(0xF3FF, 0xD7FF, &imm)); /* the farthest forward */
    cr_assert_eq(imm, 0xFFFFFE);
    cr_assert(dlt_arch_thumb2_decode(0xF400, 0xD000, &imm)); /* the farthest back */
    cr_assert_eq(imm, -0x1000000);
    cr_assert(!dlt_arch_thumb2_decode(0xF7FF, 0xEFFE, &imm), "BLX (h2 bit 12 clear) is not predicted");
    cr_assert(!dlt_arch_thumb2_decode(0xE7FF, 0xFFFE, &imm), "not a 32-bit branch prefix");
    cr_assert(!dlt_arch_thumb2_decode(0xF7FF, 0x7FFE, &imm), "h2 bit 15 clear");
}

Test(arch, thumb2_encodes_handcrafted_branches)
{
    static const struct { uint16_t h1, h2; int32_t imm; } cases[] = {
        {0xF7FF, 0xFFFE, -4}, {0xF001, 0xF800, 0x1000}, {0xF001, 0xFF7E, 0x1EFC},
        {0xF700, 0xF800, -0x100000}, {0xF3FF, 0xD7FF, 0xFFFFFE}, {0xF400, 0xD000, -0x1000000},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint16_t h1 = 0xF000, h2 = 0xD000;
        dlt_arch_thumb2_encode(&h1, &h2, cases[i].imm);
        cr_assert_eq(h1, cases[i].h1, "case %zu: h1 %04x", i, h1);
        cr_assert_eq(h2, cases[i].h2, "case %zu: h2 %04x", i, h2);
        int32_t back;
        cr_assert(dlt_arch_thumb2_decode(h1, h2, &back));
        cr_assert_eq(back, cases[i].imm);
    }
    /* B.W keeps its kind (h2 bit 14 clear). */
    uint16_t h1 = 0xF000, h2 = 0x9000;
    dlt_arch_thumb2_encode(&h1, &h2, -4);
    cr_assert_eq(h1, 0xF7FF);
    cr_assert_eq(h2, 0xBFFE);
}

Test(arch, map_lookup)
{
    arch_entry e[] = {{0x100, 8}, {0x200, -16}, {0x300, 0}};
    arch_map m = {e, 3, 0};
    int64_t s;
    cr_assert(!dlt_arch_map_find(&m, 0xFF, &s), "before the first entry: undefined");
    cr_assert(dlt_arch_map_find(&m, 0x100, &s) && s == 8);
    cr_assert(dlt_arch_map_find(&m, 0x1FF, &s) && s == 8);
    cr_assert(dlt_arch_map_find(&m, 0x200, &s) && s == -16);
    cr_assert(dlt_arch_map_find(&m, 0x7FFFFFFF, &s) && s == 0, "the last entry runs on");
    arch_map empty = {NULL, 0, 0};
    cr_assert(!dlt_arch_map_find(&empty, 0, &s));
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
    arch_map m = {e, 2, 0};
    uint8_t b[14];
    put_branch(b, 0xF001, 0xFF7E);     /* at 0x100: imm 0x1EFC -> 0x2000 */
    put_branch(b + 4, 0xF000, 0xF810); /* at 0x104: imm 0x20 -> 0x128, inside the copy */
    put_branch(b + 8, 0xF6FF, 0xFFFE); /* at 0x108: imm -0x100004 -> before 0 */
    b[12] = 0x01;
    b[13] = 0xF0;
    uint8_t want[14];
    memcpy(want, b, sizeof b);
    put_branch(want, 0xF001, 0xFF5E);
    dlt_arch_predict(ARCH_THUMB2, &m, 1u << 20, 0x180, 0x100, b, sizeof b);
    cr_assert(memcmp(b, want, sizeof b) == 0, "predicted %02x %02x %02x %02x", b[0], b[1], b[2], b[3]);

    /* An odd source offset: the scan starts at i = 1 (even source addresses). */
    uint8_t c[5] = {0xAA};
    put_branch(c + 1, 0xF001, 0xFF7E); /* at 0x100 as well */
    dlt_arch_predict(ARCH_THUMB2, &m, 1u << 20, 0x17F, 0xFF, c, sizeof c);
    cr_assert_eq(c[0], 0xAA);
    cr_assert(memcmp(c + 1, want, 4) == 0);

    /* ARCH_NONE predicts nothing. */
    uint8_t d[4];
    put_branch(d, 0xF001, 0xFF7E);
    dlt_arch_predict(ARCH_NONE, &m, 1u << 20, 0x180, 0x100, d, 4);
    cr_assert_eq(d[2], 0x7E);
}

/* An offset out of reach is not predicted: the branch stays. */
Test(arch, thumb2_out_of_reach_stays)
{
    arch_entry e[] = {{0, 0x01000000}};
    arch_map m = {e, 1, 0};
    uint8_t b[4];
    put_branch(b, 0xF3FF, 0xD7FF); /* the farthest forward: +0x1000000 more is out of reach */
    dlt_arch_predict(ARCH_THUMB2, &m, 1u << 20, 0, 0, b, 4);
    int32_t imm;
    cr_assert(dlt_arch_thumb2_decode(dlt_le16(b), dlt_le16(b + 2), &imm));
    cr_assert_eq(imm, 0xFFFFFE);
}

static void put_word(uint8_t *b, uint32_t v)
{
    for (int i = 0; i < 4; i++) b[i] = (uint8_t)(v >> (8 * i));
}

/*
 * THUMB2_ABS32, base 0x08000000: at source 0x200 (a word boundary) an
 * address of source offset 0x150, which the map moves by +0x40, becomes
 * 0x08000190; one below the map (0x50) and one outside the image stay; one
 * at a source offset that is not a word boundary is no address.
 */
Test(arch, abs32_predicts_exact_bytes)
{
    arch_entry e[] = {{0x100, 0x40}};
    arch_map m = {e, 1, 0x08000000};
    uint8_t b[12], want[12];
    put_word(b, 0x08000150);
    put_word(b + 4, 0x08000050);
    put_word(b + 8, 0x20000150);
    memcpy(want, b, sizeof b);
    put_word(want, 0x08000190);
    dlt_arch_predict(ARCH_THUMB2_ABS32, &m, 0x1000, 0x280, 0x200, b, sizeof b);
    cr_assert(memcmp(b, want, sizeof b) == 0);
    /* Past the source's end (source_size 0x150): not an address. */
    put_word(b, 0x08000150);
    dlt_arch_predict(ARCH_THUMB2_ABS32, &m, 0x150, 0x280, 0x200, b, 4);
    cr_assert_eq(dlt_le32(b), 0x08000150);
    /* THUMB2 alone predicts no addresses. */
    dlt_arch_predict(ARCH_THUMB2, &m, 0x1000, 0x280, 0x200, b, 4);
    cr_assert_eq(dlt_le32(b), 0x08000150);
    /* At source 0x202 the word at i = 0 is no address; the one at i = 2 is. */
    uint8_t c[8] = {0x11, 0x22};
    put_word(c + 2, 0x08000150);
    dlt_arch_predict(ARCH_THUMB2_ABS32, &m, 0x1000, 0x282, 0x202, c, sizeof c);
    cr_assert_eq(c[0], 0x11);
    cr_assert_eq(dlt_le32(c + 2), 0x08000190);
}

/* A literal at target 0x1000 holding bl +0x100 is stored with the absolute
 * target 0x1104; near the top of the 2^25 reach the target wraps. */
Test(arch, literal_branches_store_absolute_targets)
{
    uint8_t b[6] = {0};
    put_branch(b, 0xF000, 0xF880); /* bl +0x100 */
    b[4] = 0x70;
    b[5] = 0x47; /* bx lr */
    dlt_arch_literal_store(ARCH_THUMB2, 0x1000, b, sizeof b);
    cr_assert_eq(dlt_le16(b), 0xF001);
    cr_assert_eq(dlt_le16(b + 2), 0xF882);
    cr_assert_eq(b[4], 0x70);
    dlt_arch_literal_load(ARCH_THUMB2_ABS32, 0x1000, b, sizeof b);
    cr_assert_eq(dlt_le16(b), 0xF000);
    cr_assert_eq(dlt_le16(b + 2), 0xF880);

    put_branch(b, 0xF002, 0xF800); /* bl +0x2000 at 0x1FFF000: target 0x2001004, stored 0x1004 */
    dlt_arch_literal_store(ARCH_THUMB2, 0x1FFF000, b, 4);
    cr_assert_eq(dlt_le16(b), 0xF001);
    cr_assert_eq(dlt_le16(b + 2), 0xF802);
    dlt_arch_literal_load(ARCH_THUMB2, 0x1FFF000, b, 4);
    cr_assert_eq(dlt_le16(b), 0xF002);
    cr_assert_eq(dlt_le16(b + 2), 0xF800);

    /* At an odd target offset the scan starts at 1; ARCH_NONE stores as is. */
    uint8_t c[5] = {0xF0};
    put_branch(c + 1, 0xF000, 0xF880);
    dlt_arch_literal_store(ARCH_THUMB2, 0xFFF, c, sizeof c);
    cr_assert_eq(c[0], 0xF0);
    cr_assert_eq(dlt_le16(c + 1), 0xF001);
    cr_assert_eq(dlt_le16(c + 3), 0xF882);
    dlt_arch_literal_store(ARCH_NONE, 0xFFF, c, sizeof c);
    cr_assert_eq(dlt_le16(c + 1), 0xF001);
}

/*
 * X86_64 on handcrafted instructions, a copy from source 0x1000 to target
 * 0x1100 of a 0x2000-byte source whose map moves [0x1400, ..) by +0x20:
 *   0x1000 call 0x1505        E8 00 05 00 00       -> rel 0x420 (call 0x1525 from 0x1100)
 *   0x1005 lea rax, [0x1600]  48 8D 05 F4 05 00 00 -> disp 0x514
 *   0x100C cmp byte [0x1700], 0   80 3D ED 06 00 00 00 -> disp 0x60D, the imm8 stays
 *   0x1013 call 0x3018        E8 00 20 00 00       outside the source: stays
 */
Test(arch, x86_64_predicts_exact_bytes)
{
    static const uint8_t in[] = {0xE8, 0x00, 0x05, 0x00, 0x00, 0x48, 0x8D, 0x05, 0xF4, 0x05, 0x00, 0x00,
                                 0x80, 0x3D, 0xED, 0x06, 0x00, 0x00, 0x00, 0xE8, 0x00, 0x20, 0x00, 0x00};
    static const uint8_t want[] = {0xE8, 0x20, 0x04, 0x00, 0x00, 0x48, 0x8D, 0x05, 0x14, 0x05, 0x00, 0x00,
                                   0x80, 0x3D, 0x0D, 0x06, 0x00, 0x00, 0x00, 0xE8, 0x00, 0x20, 0x00, 0x00};
    arch_entry e[] = {{0x1400, 0x20}};
    arch_map m = {e, 1, 0};
    uint8_t b[sizeof in];
    memcpy(b, in, sizeof in);
    dlt_arch_predict(ARCH_X86_64, &m, 0x2000, 0x1100, 0x1000, b, sizeof b);
    for (size_t i = 0; i < sizeof b; i++) cr_assert_eq(b[i], want[i], "byte %zu: %02x, want %02x", i, b[i], want[i]);
    /* Cut short, the LEA is no reference (i + n > len): it and what follows stay. */
    memcpy(b, in, sizeof in);
    dlt_arch_predict(ARCH_X86_64, &m, 0x2000, 0x1100, 0x1000, b, 11);
    cr_assert_eq(b[1], 0x20);
    cr_assert_eq(b[8], 0xF4);
    int64_t t;
    size_t n, d;
    cr_assert(dlt_arch_x86_ref(in + 5, 7, 0x1005, 0x2000, &t, &n, &d));
    cr_assert(t == 0x1600 && n == 7 && d == 3);
    static const uint8_t sse[] = {0xF2, 0x44, 0x0F, 0x10, 0x05, 0x00, 0x01, 0x00, 0x00}; /* movsd xmm8, [rip+0x100] */
    cr_assert(dlt_arch_x86_ref(sse, sizeof sse, 0, 0x2000, &t, &n, &d));
    cr_assert(t == 0x109 && n == 9 && d == 5);
    static const uint8_t jmpind[] = {0xFF, 0x25, 0x10, 0x00, 0x00, 0x00}; /* jmp [rip+0x10] */
    cr_assert(dlt_arch_x86_ref(jmpind, sizeof jmpind, 0, 0x2000, &t, &n, &d));
    cr_assert(t == 0x16 && n == 6 && d == 2);
    static const uint8_t inc[] = {0xFF, 0x05, 0x10, 0x00, 0x00, 0x00}; /* inc dword [rip+0x10]: not predicted */
    cr_assert(!dlt_arch_x86_ref(inc, sizeof inc, 0, 0x2000, &t, &n, &d));
}

/*
 * AARCH64, a copy from source 0x1000 to target 0x2000; the map moves
 * [0x1400, 0x3000) by +0x20 and [0x3000, ..) by +0x1008:
 *   0x1000 bl 0x1400                 94000100 -> bl 0x1420 from 0x2000: 97FFFD08
 *   0x1004 adrp x0, 0x3000; add x0, x0, #0x10   D0000000 91004000 -> 0x4018: D0000000 91006000
 *   0x100C adrp x0, 0x3000; ldr x1, [x0, #0x18] D0000000 F9400C01 -> 0x4020: D0000000 F9401001
 *   0x1014 adrp x0, 0x3000; ldr x1, [x0, #0x8]  -> 0x4010 fine; a 4-byte str at 0x3004 -> 0x400C
 * and an ADRP whose next word uses another register is no reference.
 */
Test(arch, aarch64_predicts_exact_bytes)
{
    static const uint32_t in[] = {0x94000100, 0xD0000000, 0x91004000, 0xD0000000, 0xF9400C01,
                                  0xD0000000, 0xB9000401, 0xD0000000, 0x91004021};
    static const uint32_t want[] = {0x97FFFD08, 0xD0000000, 0x91006000, 0xD0000000, 0xF9401001,
                                    0xD0000000, 0xB9000C01, 0xD0000000, 0x91004021};
    arch_entry e[] = {{0x1400, 0x20}, {0x3000, 0x1008}};
    arch_map m = {e, 2, 0};
    uint8_t b[sizeof in];
    for (size_t i = 0; i < sizeof in / 4; i++) put_word(b + 4 * i, in[i]);
    dlt_arch_predict(ARCH_AARCH64, &m, 0x10000, 0x2000, 0x1000, b, sizeof b);
    for (size_t i = 0; i < sizeof in / 4; i++)
        cr_assert_eq(dlt_le32(b + 4 * i), want[i], "word %zu: %08x, want %08x", i, dlt_le32(b + 4 * i), want[i]);
    /* Out of reach (the 8-byte load's offset would not be a multiple of 8): it stays. */
    arch_entry odd[] = {{0x3000, 0x1004}};
    arch_map mo = {odd, 1, 0};
    put_word(b, 0xD0000000);
    put_word(b + 4, 0xF9400C01);
    dlt_arch_predict(ARCH_AARCH64, &mo, 0x10000, 0x2004, 0x1004, b, 8);
    cr_assert_eq(dlt_le32(b + 4), 0xF9400C01);
    /* The ADRP pair cut by the piece's end is no reference. */
    int64_t t;
    size_t n;
    cr_assert(!dlt_arch_a64_ref(0xD0000000, 0, 0, 0x1004, &t, &n));
    cr_assert(dlt_arch_a64_ref(0x97FFFFFF, 0, 0, 0x1000, &t, &n) && t == 0xFFC && n == 4); /* bl .-4 */
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
    delta_sink sink = {DELTA_SINK_VERSION, &m, tu_memsink_write};
    cr_assert_eq(delta_apply_out_of_place(&ps, &ss, &sink, NULL, 0), DELTA_OK, "%s", delta_last_error());
    cr_assert_eq(m.len, tl);
    cr_assert(memcmp(m.data, tgt, tl) == 0);
    free(m.data);
    free(patch);
    free(src);
    free(tgt);
}

/* The whole-image vector: the load address is found, and its segments use
 * THUMB2_ABS32; it yields cityhub 7.28.0 from 7.27.0 out of place. */
Test(arch, abs32_vector_applies)
{
    size_t pl, sl, tl;
    uint8_t *patch = tu_read_file(DELTA_VECTORS "/valid/patch-thumb2-abs32.ldp", &pl);
    uint8_t *src = tu_read_file(DELTA_TEST_DATA "/firmware/cityhub-7.27.0.bin", &sl);
    uint8_t *tgt = tu_read_file(DELTA_TEST_DATA "/firmware/cityhub-7.28.0.bin", &tl);
    delta_source ps, ss;
    delta_source_from_memory(&ps, patch, pl);
    delta_source_from_memory(&ss, src, sl);
    delta_patch_info info;
    cr_assert_eq(delta_patch_read_info(&ps, &info), DELTA_OK, "%s", delta_last_error());
    cr_assert(info.flags & DELTA_PATCH_PREDICT);
    /* The first segment's preamble, through the decoder. */
    size_t ws = dlt_patch_decoder_memory(&info);
    void *mem = malloc(ws);
    pcursor c;
    dlt_pcursor_init(&c, &ps, &info, mem, ws);
    pcmd cmd;
    cr_assert_eq(dlt_pcursor_next(&c, &cmd), DELTA_OK, "%s", delta_last_error());
    cr_assert_eq(c.arch, ARCH_THUMB2_ABS32);
    cr_assert_eq(c.map.base, 0x08005000, "Pybricks City Hub firmware loads at 0x08005000, got %#x", c.map.base);
    cr_assert_gt(c.map.count, 0);
    dlt_pcursor_free(&c);
    free(mem);
    tu_memsink m = {calloc(tl + 4096, 1), tl + 4096, 0};
    delta_sink sink = {DELTA_SINK_VERSION, &m, tu_memsink_write};
    cr_assert_eq(delta_apply_out_of_place(&ps, &ss, &sink, NULL, 0), DELTA_OK, "%s", delta_last_error());
    cr_assert_eq(m.len, tl);
    cr_assert(memcmp(m.data, tgt, tl) == 0);
    free(m.data);
    free(patch);
    free(src);
    free(tgt);
}

/* The x86-64 vector (a synthetic relinked image, see fuzz/make_seeds.c):
 * X86_64 with a map, and it yields its target out of place. */
Test(arch, x86_64_vector_applies)
{
    size_t pl, sl, tl;
    uint8_t *patch = tu_read_file(DELTA_VECTORS "/valid/patch-x86-64.ldp", &pl);
    uint8_t *src = tu_read_file(DELTA_VECTORS "/valid/patch-x86-64.source.bin", &sl);
    uint8_t *tgt = tu_read_file(DELTA_VECTORS "/valid/patch-x86-64.target.bin", &tl);
    delta_source ps, ss;
    delta_source_from_memory(&ps, patch, pl);
    delta_source_from_memory(&ss, src, sl);
    delta_patch_info info;
    cr_assert_eq(delta_patch_read_info(&ps, &info), DELTA_OK, "%s", delta_last_error());
    cr_assert(info.flags & DELTA_PATCH_PREDICT);
    cr_assert_gt(info.map_entries, 0);
    cr_assert_eq(patch[DELTA_PATCH_HEADER_SIZE + (size_t)info.segment_count * DELTA_PATCH_SEGMENT_ENTRY], ARCH_X86_64);
    tu_memsink m = {calloc(tl + 4096, 1), tl + 4096, 0};
    delta_sink sink = {DELTA_SINK_VERSION, &m, tu_memsink_write};
    cr_assert_eq(delta_apply_out_of_place(&ps, &ss, &sink, NULL, 0), DELTA_OK, "%s", delta_last_error());
    cr_assert_eq(m.len, tl);
    cr_assert(memcmp(m.data, tgt, tl) == 0);
    free(m.data);
    free(patch);
    free(src);
    free(tgt);
}

/* The AArch64 vector (a synthetic relinked image, see fuzz/make_seeds.c):
 * AARCH64 with a map, and it yields its target out of place. */
Test(arch, aarch64_vector_applies)
{
    size_t pl, sl, tl;
    uint8_t *patch = tu_read_file(DELTA_VECTORS "/valid/patch-aarch64.ldp", &pl);
    uint8_t *src = tu_read_file(DELTA_VECTORS "/valid/patch-aarch64.source.bin", &sl);
    uint8_t *tgt = tu_read_file(DELTA_VECTORS "/valid/patch-aarch64.target.bin", &tl);
    delta_source ps, ss;
    delta_source_from_memory(&ps, patch, pl);
    delta_source_from_memory(&ss, src, sl);
    delta_patch_info info;
    cr_assert_eq(delta_patch_read_info(&ps, &info), DELTA_OK, "%s", delta_last_error());
    cr_assert(info.flags & DELTA_PATCH_PREDICT);
    cr_assert_gt(info.map_entries, 0);
    cr_assert_eq(patch[DELTA_PATCH_HEADER_SIZE + (size_t)info.segment_count * DELTA_PATCH_SEGMENT_ENTRY], ARCH_AARCH64);
    tu_memsink m = {calloc(tl + 4096, 1), tl + 4096, 0};
    delta_sink sink = {DELTA_SINK_VERSION, &m, tu_memsink_write};
    cr_assert_eq(delta_apply_out_of_place(&ps, &ss, &sink, NULL, 0), DELTA_OK, "%s", delta_last_error());
    cr_assert_eq(m.len, tl);
    cr_assert(memcmp(m.data, tgt, tl) == 0);
    free(m.data);
    free(patch);
    free(src);
    free(tgt);
}
