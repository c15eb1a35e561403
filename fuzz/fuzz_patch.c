/* Fuzz target: the input is an ldpatch1 patch. Reads its header
 * (delta_patch_read_info), replays its plan (delta_patch_prove) and, when
 * both accept it and its images are small (at most 1 MiB), applies it out of
 * place to a fixed pseudo-random source of the declared size into a sink
 * that discards but aborts on any write past the declared target. */
#include "fuzz_common.h"

#define SMALL (1u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t *source;
    if (!source) {
        source = malloc(SMALL);
        if (!source) abort();
        fz_fill_random(source, SMALL, 42);
    }
    if (size > FZ_MAX_INPUT) return 0;
    delta_source patch;
    delta_source_from_memory(&patch, data, size);
    delta_patch_info info;
    if (delta_patch_read_info(&patch, &info) != DELTA_OK) return 0;
    /* The header is validated: its caps must hold. */
    if (info.source_size > DELTA_PATCH_MAX_IMAGE || info.target_size > DELTA_PATCH_MAX_IMAGE ||
        info.stash_slots > DELTA_PATCH_MAX_STASH || info.segment_count > DELTA_PATCH_MAX_SEGMENTS)
        abort();
    delta_plan_report rep;
    if (delta_patch_prove(&patch, &rep) != DELTA_OK) return 0;
    if (rep.max_stash_live > info.stash_slots) abort();
    if (info.source_size > SMALL || info.target_size > SMALL) return 0;
    delta_source src;
    delta_source_from_memory(&src, source, (size_t)info.source_size);
    fz_discard d = {info.target_size, 0};
    delta_sink sink = {&d, fz_discard_write};
    if (delta_apply_out_of_place(&patch, &src, &sink, NULL, 0) == DELTA_OK && d.high != info.target_size &&
        info.target_size > 0)
        abort(); /* a proven patch that applies must produce the whole target */
    return 0;
}
