/* Fuzz target: the strict manifest reader. Whatever parses must write back
 * canonically and re-parse to an equal struct, and the canonical bytes must
 * be a fixed point (writing the re-parsed struct gives the same bytes). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "libdelta/manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok)
{
    if (!ok) abort();
}

static void same_image(const delta_manifest_image *a, const delta_manifest_image *b)
{
    check(!strcmp(a->name, b->name));
    check(a->source_size == b->source_size && !memcmp(a->source_sha256, b->source_sha256, DELTA_SHA256_LEN));
    check(a->target_size == b->target_size && !memcmp(a->target_sha256, b->target_sha256, DELTA_SHA256_LEN));
    check(a->slot_size == b->slot_size);
    check(!strcmp(a->patch_member, b->patch_member) && a->patch_size == b->patch_size);
    check(!memcmp(a->patch_sha256, b->patch_sha256, DELTA_SHA256_LEN));
    check(!strcmp(a->patch_format, b->patch_format) && !strcmp(a->compression, b->compression));
    check(a->block_size == b->block_size && a->scratch_bytes == b->scratch_bytes);
    check(a->state_bytes == b->state_bytes && a->decoder_memory == b->decoder_memory);
    check(a->operations == b->operations && a->blocks_written == b->blocks_written);
}

static void same(const delta_manifest *a, const delta_manifest *b)
{
    check(a->format_version == b->format_version && a->space_needed == b->space_needed);
    check(!strcmp(a->project, b->project) && !strcmp(a->created_by, b->created_by));
    check(!strcmp(a->source_version, b->source_version) && !strcmp(a->target_version, b->target_version));
    check(a->image_count == b->image_count);
    for (size_t i = 0; i < a->image_count; i++) same_image(&a->images[i], &b->images[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    delta_manifest *m = NULL;
    delta_status st = delta_manifest_parse(data, size, &m);
    if (st != DELTA_OK) {
        check(m == NULL);
        check(st == DELTA_ERR_MANIFEST || st == DELTA_ERR_FORMAT_VERSION || st == DELTA_ERR_NOMEM);
        return 0;
    }
    delta_buf out = DELTA_BUF_INIT;
    check(delta_manifest_write(m, &out) == DELTA_OK);
    delta_manifest *back = NULL;
    check(delta_manifest_parse(out.data, out.len, &back) == DELTA_OK);
    same(m, back);
    delta_buf again = DELTA_BUF_INIT;
    check(delta_manifest_write(back, &again) == DELTA_OK);
    check(again.len == out.len && !memcmp(again.data, out.data, out.len));
    delta_buf_free(&again);
    delta_buf_free(&out);
    delta_manifest_free(back);
    delta_manifest_free(m);
    return 0;
}
