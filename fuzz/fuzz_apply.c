/* Fuzz target: the input is a package, opened WITHOUT a key (so forged
 * packages reach the appliers), then applied in place (the update session) to memory-only flash
 * regions that each hold the fixed source (the first 32 KiB of
 * cityhub-7.27.0), and out of place to a discarding sink. An in-place apply
 * that succeeds must leave every image at its target's SHA-256. */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_REGION (4u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > FZ_MAX_INPUT) return 0;
    const uint8_t *source = fz_source();
    delta_source file;
    delta_source_from_memory(&file, data, size);
    delta_package *p = NULL;
    if (delta_package_open(&file, NULL, &p) != DELTA_OK) return 0;
    const delta_manifest *m = delta_package_manifest(p);

    /* Out of place, per image, from the fixed source. */
    delta_source src;
    delta_source_from_memory(&src, source, FZ_SOURCE_LEN);
    for (size_t i = 0; i < m->image_count; i++) {
        if (m->images[i].target_size > MAX_REGION) continue;
        fz_discard d = {m->images[i].target_size, 0};
        delta_sink sink = {DELTA_SINK_VERSION, &d, fz_discard_write};
        delta_status st = delta_package_apply_out_of_place(p, i, &src, &sink);
        if (st == DELTA_OK && m->images[i].source_size != FZ_SOURCE_LEN) abort();
    }

    /* In place, every image's region holding the fixed source. */
    fz_mem mem[DELTA_MANIFEST_MAX_IMAGES];
    delta_flash fl[DELTA_MANIFEST_MAX_IMAGES];
    delta_update_region regions[DELTA_MANIFEST_MAX_IMAGES];
    size_t ready = 0;
    int small = 1;
    for (size_t i = 0; i < m->image_count; i++)
        if (m->images[i].slot_size > MAX_REGION || m->space_needed > MAX_REGION) small = 0;
    for (size_t i = 0; i < m->image_count && small; i++) {
        uint64_t cap = m->images[i].slot_size > FZ_SOURCE_LEN ? m->images[i].slot_size : FZ_SOURCE_LEN;
        if (!fz_mem_init(&mem[i], source, FZ_SOURCE_LEN, cap, m->space_needed)) break;
        fz_mem_flash(&mem[i], &fl[i]);
        regions[i] = (delta_update_region){m->images[i].name, &fl[i]};
        ready++;
    }
    if (small && ready == m->image_count) {
        delta_store store;
        fz_mem_store(&mem[0], &store);
        delta_update_params up = DELTA_UPDATE_PARAMS_INIT;
        up.package = &file;
        up.regions = regions;
        up.region_count = m->image_count;
        up.store = &store;
        delta_update_result res;
        delta_status st = delta_update_run(&up, &res);
        if (res.before != DELTA_UPDATE_NONE) abort();
        if (st != DELTA_OK && res.after == DELTA_UPDATE_NONE)
            for (size_t i = 0; i < m->image_count; i++) /* a refusal wrote nothing */
                if (mem[i].size != FZ_SOURCE_LEN || memcmp(mem[i].flash, source, FZ_SOURCE_LEN) != 0) abort();
        if (st == DELTA_OK) {
            for (size_t i = 0; i < m->image_count; i++) {
                uint8_t sha[DELTA_SHA256_LEN];
                if (mem[i].size != m->images[i].target_size) abort();
                delta_sha256(mem[i].flash, (size_t)mem[i].size, sha);
                if (memcmp(sha, m->images[i].target_sha256, DELTA_SHA256_LEN) != 0) abort();
            }
            if (mem[0].journal_len != 0) abort(); /* the state is removed on success */
        }
    }
    for (size_t i = 0; i < ready; i++) fz_mem_free(&mem[i]);
    delta_package_free(p);
    return 0;
}
