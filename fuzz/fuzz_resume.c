/* Fuzz target: resuming an update from an arbitrary journal (formats/update.md).
 *
 * The input is a stored journal, put beside the state area of a real update
 * (the manifest and patch copies, every backup: fz_resume_fixture) with the
 * image at the source, and the session is run again as a device would boot,
 * up to eight times, with the real package. Whatever the journal says, the
 * session may refuse or fail, but it must never report success unless the
 * image is exactly the target, nor 545 unless it is exactly the source.
 * Each input runs twice: as it is, and with its last 4 bytes replaced by
 * the CRC-32 of the rest, so that mutations reach past the CRC. */
#include "common/internal.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void resume_once(const fz_resume *r, const uint8_t *journal, size_t size)
{
    fz_mem mem;
    if (!fz_mem_init(&mem, r->source, FZ_RESUME_LEN, 2 * FZ_RESUME_LEN, r->scratch_len)) return;
    memcpy(mem.scratch, r->scratch, r->scratch_len);
    memcpy(mem.journal, journal, size);
    mem.journal_len = size;
    delta_source file;
    delta_source_from_memory(&file, r->pkg.data, r->pkg.len);
    delta_flash fl;
    fz_mem_flash(&mem, &fl);
    delta_update_region region = {NULL, &fl};
    delta_store store;
    fz_mem_store(&mem, &store);
    delta_update_params up = DELTA_UPDATE_PARAMS_INIT;
    up.package = &file;
    up.regions = &region;
    up.region_count = 1;
    up.store = &store;
    delta_update_result res;
    delta_status st = DELTA_OK;
    for (int boot = 0; boot < 8; boot++) {
        fl.size = mem.size;
        st = delta_update_run(&up, &res);
        if (res.after == DELTA_UPDATE_NONE) break;
    }
    if (st == DELTA_OK && (mem.size != FZ_RESUME_LEN || memcmp(mem.flash, r->target, FZ_RESUME_LEN) != 0)) abort();
    if (st == DELTA_ERR_ABANDONED && (mem.size != FZ_RESUME_LEN || memcmp(mem.flash, r->source, FZ_RESUME_LEN) != 0))
        abort();
    if (res.after == DELTA_UPDATE_NONE && mem.journal_len != 0) abort();
    fz_mem_free(&mem);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0 || size > DELTA_JOURNAL_MAX_SIZE) return 0;
    const fz_resume *r = fz_resume_fixture(NULL);
    resume_once(r, data, size);
    if (size >= 4) {
        uint8_t *fixed = malloc(size);
        if (!fixed) return 0;
        memcpy(fixed, data, size);
        dlt_put32(fixed + size - 4, dlt_crc32(0, fixed, size - 4));
        resume_once(r, fixed, size);
        free(fixed);
    }
    return 0;
}
