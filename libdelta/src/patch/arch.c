/* Reference prediction: Thumb-2 BL / B.W predicted through the segment's map. */
#include "arch.h"

int dlt_arch_map_find(const arch_map *m, int64_t t, int64_t *shift)
{
    if (m->count == 0 || t < (int64_t)m->e[0].old) return 0;
    uint32_t lo = 0, hi = m->count; /* e[lo].old <= t < e[hi].old (hi = count: none) */
    while (hi - lo > 1) {
        uint32_t mid = lo + (hi - lo) / 2;
        if ((int64_t)m->e[mid].old <= t)
            lo = mid;
        else
            hi = mid;
    }
    *shift = m->e[lo].shift;
    return 1;
}

int dlt_arch_thumb2_decode(uint16_t h1, uint16_t h2, int32_t *imm)
{
    /* h1 = 11110 S imm10; h2 = 1 x J1 1 J2 imm11 (x = 1 BL, 0 B.W). */
    if ((h1 & 0xF800) != 0xF000 || (h2 & 0x9000) != 0x9000) return 0;
    uint32_t s = h1 >> 10 & 1, j1 = h2 >> 13 & 1, j2 = h2 >> 11 & 1;
    uint32_t i1 = !(j1 ^ s), i2 = !(j2 ^ s);
    uint32_t v = s << 24 | i1 << 23 | i2 << 22 | (uint32_t)(h1 & 0x3FF) << 12 | (uint32_t)(h2 & 0x7FF) << 1;
    *imm = (int32_t)(v ^ 0x1000000) - 0x1000000; /* sign-extend 25 bits */
    return 1;
}

void dlt_arch_thumb2_encode(uint16_t *h1, uint16_t *h2, int32_t imm)
{
    uint32_t v = (uint32_t)imm;
    uint32_t s = v >> 24 & 1, i1 = v >> 23 & 1, i2 = v >> 22 & 1;
    uint32_t j1 = !(i1 ^ s), j2 = !(i2 ^ s);
    *h1 = (uint16_t)((*h1 & 0xF800) | s << 10 | (v >> 12 & 0x3FF));
    *h2 = (uint16_t)((*h2 & 0xD000) | j1 << 13 | j2 << 11 | (v >> 1 & 0x7FF));
}

int dlt_arch_abs32_predict(const arch_map *m, uint64_t source_size, uint32_t v, uint32_t *out)
{
    *out = v;
    if (v < m->base || v - m->base >= source_size) return 0;
    int64_t shift;
    if (dlt_arch_map_find(m, (int64_t)(v - m->base), &shift) && (int64_t)v + shift >= 0 &&
        (int64_t)v + shift <= (int64_t)UINT32_MAX)
        *out = (uint32_t)((int64_t)v + shift);
    return 1;
}

/* The scan of formats/patch.md: at each halfword, a branch; else, with
 * abs32 and at a word boundary of the source, an address into the source. */
static void predict_thumb2(const arch_map *m, int abs32, uint64_t source_size, uint64_t dst, uint64_t src, uint8_t *b,
                           size_t len)
{
    for (size_t i = (size_t)(src & 1); i + 4 <= len;) {
        uint16_t h1 = dlt_le16(b + i), h2 = dlt_le16(b + i + 2);
        int32_t imm;
        if (!dlt_arch_thumb2_decode(h1, h2, &imm)) {
            uint32_t nv;
            if (abs32 && ((src + i) & 3) == 0 && dlt_arch_abs32_predict(m, source_size, dlt_le32(b + i), &nv)) {
                dlt_put32(b + i, nv);
                i += 4;
            } else {
                i += 2;
            }
            continue;
        }
        int64_t t = (int64_t)(src + i) + 4 + imm, shift;
        if (dlt_arch_map_find(m, t, &shift)) {
            int64_t nimm = t + shift - ((int64_t)(dst + i) + 4);
            if (!(nimm & 1) && nimm >= -(INT64_C(1) << 24) && nimm < (INT64_C(1) << 24)) {
                dlt_arch_thumb2_encode(&h1, &h2, (int32_t)nimm);
                dlt_put16(b + i, h1);
                dlt_put16(b + i + 2, h2);
            }
        }
        i += 4;
    }
}

/* RIP-relative [disp32] memory operand: modrm mod 00, rm 101. */
static int rip_modrm(uint8_t m)
{
    return (m & 0xC7) == 0x05;
}

int dlt_arch_x86_ref(const uint8_t *b, size_t avail, uint64_t at, uint64_t source_size, int64_t *target, size_t *len,
                 size_t *disp)
{
    size_t n = 0, d = 0, p = 0;
    if (avail >= 5 && (b[0] == 0xE8 || b[0] == 0xE9)) { /* CALL / JMP rel32 */
        n = 5;
        d = 1;
    } else {
        /* [66 | F2 | F3] [REX] opcode modrm disp32 [imm] */
        if (avail > 0 && (b[0] == 0x66 || b[0] == 0xF2 || b[0] == 0xF3)) p++;
        if (avail > p && (b[p] & 0xF0) == 0x40) p++;
        if (avail < p + 6) return 0;
        uint8_t op = b[p];
        if (op == 0x0F) {
            uint8_t op2 = b[p + 1];
            if (avail < p + 7 || !rip_modrm(b[p + 2])) return 0;
            if (op2 == 0xB6 || op2 == 0xB7 || op2 == 0x10 || op2 == 0x11 || op2 == 0x28 || op2 == 0x29 ||
                op2 == 0x2E || op2 == 0x2F || op2 == 0x6F || op2 == 0x7F) {
                d = p + 3;
                n = p + 7;
            }
        } else if (!rip_modrm(b[p + 1])) {
            return 0;
        } else if (op == 0x8B || op == 0x8D || op == 0x89 || op == 0x3B || op == 0x39 || op == 0x03 ||
                   op == 0x2B || op == 0x85 || op == 0x88 || op == 0x8A || op == 0x38 || op == 0x3A) {
            d = p + 2;
            n = p + 6;
        } else if ((op == 0x80 || op == 0x83 || op == 0xC6) && avail >= p + 7) {
            d = p + 2; /* imm8 after the displacement */
            n = p + 7;
        } else if (op == 0xFF && ((b[p + 1] >> 3 & 7) == 2 || (b[p + 1] >> 3 & 7) == 4)) {
            d = p + 2; /* CALL / JMP [RIP + disp32] */
            n = p + 6;
        }
        if (n == 0) return 0;
    }
    int64_t t = (int64_t)at + (int64_t)n + (int32_t)dlt_le32(b + d);
    if (t < 0 || (uint64_t)t >= source_size) return 0;
    *target = t;
    *len = n;
    *disp = d;
    return 1;
}

/* x86-64: at each byte, a reference whose target lands in the source is
 * re-aimed through the map, and the scan skips the rest of its bytes. */
static void predict_x86(const arch_map *m, uint64_t source_size, uint64_t dst, uint64_t src, uint8_t *b, size_t len)
{
    for (size_t i = 0; i < len;) {
        int64_t t, shift;
        size_t n, d;
        if (!dlt_arch_x86_ref(b + i, len - i, src + i, source_size, &t, &n, &d)) {
            i++;
            continue;
        }
        if (dlt_arch_map_find(m, t, &shift)) {
            int64_t rel = t + shift - ((int64_t)(dst + i + n));
            if (rel >= INT32_MIN && rel <= INT32_MAX) dlt_put32(b + i + d, (uint32_t)(int32_t)rel);
        }
        i += n;
    }
}

/* The scale of a load / store (unsigned offset) word: log2 of its access size. */
static int a64_ldst_scale(uint32_t w)
{
    /* size:2 111 V 01 opc:2 imm12 Rn Rt, with V = 0, or V = 1 for the SIMD forms */
    if ((w & 0x3B000000) != 0x39000000) return -1;
    int size = (int)(w >> 30), v = (int)(w >> 26 & 1), opc = (int)(w >> 22 & 3);
    if (v && opc >= 2) return size == 0 ? 4 : -1; /* 128-bit SIMD */
    return size;
}

int dlt_arch_a64_ref(uint32_t w, uint32_t w2, int have2, uint64_t at, int64_t *target, size_t *len)
{
    if ((w & 0x7C000000) == 0x14000000) { /* B / BL imm26 */
        int64_t imm = (int64_t)((int32_t)(w << 6) >> 6) * 4;
        *target = (int64_t)at + imm;
        *len = 4;
        return 1;
    }
    if ((w & 0x9F000000) != 0x90000000 || !have2) return 0; /* ADRP */
    uint32_t rd = w & 31;
    int64_t page = ((int64_t)(int32_t)((w >> 5 & 0x7FFFF) << 13 | (w >> 29 & 3) << 11) >> 11) * 4096;
    int64_t lo;
    if ((w2 & 0xFFC00000) == 0x91000000 && (w2 >> 5 & 31) == rd) { /* ADD Xd, Xn, #imm12 */
        lo = w2 >> 10 & 0xFFF;
    } else {
        int scale = a64_ldst_scale(w2);
        if (scale < 0 || (w2 >> 5 & 31) != rd) return 0;
        lo = (int64_t)(w2 >> 10 & 0xFFF) << scale;
    }
    *target = ((int64_t)at & ~INT64_C(0xFFF)) + page + lo;
    *len = 8;
    return 1;
}

int dlt_arch_a64_aim(uint8_t *b, size_t len, uint64_t at, int64_t t)
{
    uint32_t w = dlt_le32(b);
    if (len == 4) {
        int64_t imm = t - (int64_t)at;
        if ((imm & 3) || imm < -(INT64_C(1) << 27) || imm >= (INT64_C(1) << 27)) return 0;
        dlt_put32(b, (w & 0xFC000000) | ((uint32_t)(imm >> 2) & 0x3FFFFFF));
        return 1;
    }
    uint32_t w2 = dlt_le32(b + 4);
    int64_t pages = (t >> 12) - ((int64_t)at >> 12), lo = t & 0xFFF;
    if (pages < -(INT64_C(1) << 20) || pages >= (INT64_C(1) << 20)) return 0;
    int scale = (w2 & 0xFFC00000) == 0x91000000 ? 0 : a64_ldst_scale(w2);
    if (lo & ((INT64_C(1) << scale) - 1)) return 0;
    uint32_t p = (uint32_t)pages & 0x1FFFFF;
    dlt_put32(b, (w & 0x9F00001F) | (p & 3) << 29 | (p >> 2) << 5);
    dlt_put32(b + 4, (w2 & ~(0xFFFu << 10)) | (uint32_t)(lo >> scale) << 10);
    return 1;
}

/* AArch64: at each word of the source, a reference is re-aimed through the
 * map (kept when the new target is out of reach), and the scan skips it. */
static void predict_a64(const arch_map *m, uint64_t dst, uint64_t src, uint8_t *b, size_t len)
{
    for (size_t i = (size_t)((4 - (src & 3)) & 3); i + 4 <= len;) {
        int64_t t, shift;
        size_t n;
        int have2 = i + 8 <= len;
        if (!dlt_arch_a64_ref(dlt_le32(b + i), have2 ? dlt_le32(b + i + 4) : 0, have2, src + i, &t, &n)) {
            i += 4;
            continue;
        }
        if (dlt_arch_map_find(m, t, &shift)) {
            uint8_t keep[8];
            memcpy(keep, b + i, n);
            if (!dlt_arch_a64_aim(b + i, n, dst + i, t + shift)) memcpy(b + i, keep, n);
        }
        i += n;
    }
}

void dlt_arch_predict(uint32_t arch, const arch_map *m, uint64_t source_size, uint64_t dst, uint64_t src, uint8_t *b,
                  size_t len)
{
    if (arch == ARCH_THUMB2 || arch == ARCH_THUMB2_ABS32)
        predict_thumb2(m, arch == ARCH_THUMB2_ABS32, source_size, dst, src, b, len);
    else if (arch == ARCH_X86_64)
        predict_x86(m, source_size, dst, src, b, len);
    else if (arch == ARCH_AARCH64)
        predict_a64(m, dst, src, b, len);
}

/* x mod 2^25, as the signed 25-bit value a branch field holds. */
static int32_t wrap25(int64_t x)
{
    return (int32_t)(((x + (INT64_C(1) << 24)) & ((INT64_C(1) << 25) - 1)) - (INT64_C(1) << 24));
}

/* The literal scan: each branch field holds, stored, the branch's absolute
 * target (to_abs) or, applied, its offset again (from abs); the opcode bits
 * stay, so both sides find the same branches. */
static void literal_scan(uint64_t dst, uint8_t *b, size_t len, int to_abs)
{
    for (size_t i = (size_t)(dst & 1); i + 4 <= len;) {
        uint16_t h1 = dlt_le16(b + i), h2 = dlt_le16(b + i + 2);
        int32_t v;
        if (!dlt_arch_thumb2_decode(h1, h2, &v)) {
            i += 2;
            continue;
        }
        int64_t here = (int64_t)(dst + i) + 4;
        dlt_arch_thumb2_encode(&h1, &h2, wrap25(to_abs ? here + v : v - here));
        dlt_put16(b + i, h1);
        dlt_put16(b + i + 2, h2);
        i += 4;
    }
}

void dlt_arch_literal_store(uint32_t arch, uint64_t dst, uint8_t *b, size_t len)
{
    if (arch == ARCH_THUMB2 || arch == ARCH_THUMB2_ABS32) literal_scan(dst, b, len, 1);
}

void dlt_arch_literal_load(uint32_t arch, uint64_t dst, uint8_t *b, size_t len)
{
    if (arch == ARCH_THUMB2 || arch == ARCH_THUMB2_ABS32) literal_scan(dst, b, len, 0);
}
