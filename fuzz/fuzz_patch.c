/* Fuzz target: the input is an ldpatch1 patch. Reads its header
 * (delta_patch_read_info), replays its plan (delta_patch_prove) and, when
 * both accept it and its images are small (at most 1 MiB), applies it out of
 * place to a fixed pseudo-random source of the declared size into a sink
 * that discards but aborts on any write past the declared target.
 *
 * Each input runs twice: as it is, then with its header and segment CRC-32s
 * recomputed, so that mutations reach the decoders, the prover and the
 * applier instead of stopping at a checksum. */
#include <zlib.h>

#include "fuzz_common.h"

#define SMALL (1u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint32_t get32(const uint8_t *p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }
static void put32(uint8_t *p, uint32_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24); }

/* Recomputes the segment CRCs (as far as the table's sizes stay in the input)
 * and the header CRC; returns 1 when something changed. */
static int fix_crcs(uint8_t *p, size_t n)
{
    if (n < DELTA_PATCH_HEADER_SIZE) return 0;
    uint64_t segs = get32(p + 36), table = DELTA_PATCH_HEADER_SIZE + segs * DELTA_PATCH_SEGMENT_ENTRY;
    if (table > n) return 0;
    uint32_t before = get32(p + 60);
    int changed = 0;
    uint64_t off = table;
    for (uint64_t i = 0; i < segs; i++) {
        uint8_t *e = p + DELTA_PATCH_HEADER_SIZE + i * DELTA_PATCH_SEGMENT_ENTRY;
        uint64_t len = (uint64_t)get32(e + 8) + get32(e + 12) + get32(e + 16);
        if (len > n - off) break;
        uint32_t crc = (uint32_t)crc32(0, p + off, (uInt)len);
        if (crc != get32(e + 32)) { put32(e + 32, crc); changed = 1; }
        off += len;
    }
    uint32_t crc = (uint32_t)crc32(0, p, 60);
    crc = (uint32_t)crc32(crc, p + DELTA_PATCH_HEADER_SIZE, (uInt)(table - DELTA_PATCH_HEADER_SIZE));
    put32(p + 60, crc);
    return changed || crc != before;
}

static void run(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > FZ_MAX_INPUT) return 0;
    run(data, size);
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy) abort();
    memcpy(copy, data, size);
    if (fix_crcs(copy, size)) run(copy, size);
    free(copy);
    return 0;
}

static void run(const uint8_t *data, size_t size)
{
    static uint8_t *source;
    if (!source) {
        source = malloc(SMALL);
        if (!source) abort();
        fz_fill_random(source, SMALL, 42);
    }
    delta_source patch;
    delta_source_from_memory(&patch, data, size);
    delta_patch_info info;
    if (delta_patch_read_info(&patch, &info) != DELTA_OK) return;
    /* The header is validated: its caps must hold. */
    if (info.source_size > DELTA_PATCH_MAX_IMAGE || info.target_size > DELTA_PATCH_MAX_IMAGE ||
        info.stash_slots > DELTA_PATCH_MAX_STASH || info.segment_count > DELTA_PATCH_MAX_SEGMENTS)
        abort();
    delta_plan_report rep;
    if (delta_patch_prove(&patch, &rep) != DELTA_OK) return;
    if (rep.max_stash_live > info.stash_slots) abort();
    if (info.source_size > SMALL || info.target_size > SMALL) return;
    delta_source src;
    delta_source_from_memory(&src, source, (size_t)info.source_size);
    fz_discard d = {info.target_size, 0};
    delta_sink sink = {DELTA_SINK_VERSION, &d, fz_discard_write};
    if (delta_apply_out_of_place(&patch, &src, &sink, NULL, 0) == DELTA_OK && d.high != info.target_size &&
        info.target_size > 0)
        abort(); /* a proven patch that applies must produce the whole target */
}
