/* Fuzz target: the strict zip reader. Opens the input as an archive; for
 * each member hashes it through libzip and reads a few ranges both with
 * delta_zip_read and through the member's source view, checking that the
 * two agree. Must never crash, leak or read out of bounds. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/internal.h"
#include "libdelta/container.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A deterministic generator seeded by the input, for the ranges. */
static uint64_t next(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    delta_source src;
    delta_source_from_memory(&src, data, size);
    delta_zip *zip = NULL;
    delta_status open_st = delta_zip_open(&src, &zip);
    if (open_st != DELTA_OK) {
        if (zip) abort(); /* a failed open must leave *out NULL */
        /* The scan must refuse everything libzip refuses (formats/container.md):
         * a refusal that only libzip's cross-check makes is a finding. */
        if (open_st == DELTA_ERR_ZIP && strncmp(delta_last_error(), "libzip ", 7) == 0) abort();
        return 0;
    }
    uint64_t x = 0x9E3779B97F4A7C15ull ^ size;
    for (size_t i = 0; i < delta_zip_count(zip); i++) {
        const delta_zip_member *m = delta_zip_member_at(zip, i);
        if (!m || delta_zip_find(zip, m->name) != m) abort();
        if (!dlt_range_ok(m->data_offset, m->size, size)) abort();
        uint8_t sha[DELTA_SHA256_LEN];
        delta_status st = delta_zip_hash_member(zip, m, sha);
        if (st == DELTA_OK) {
            /* What libzip hashed must be the bytes the scan located. */
            uint8_t want[DELTA_SHA256_LEN];
            delta_sha256(data + m->data_offset, (size_t)m->size, want);
            if (memcmp(sha, want, sizeof sha) != 0) abort();
        } else if (st != DELTA_ERR_MEMBER_DATA) {
            abort();
        }
        delta_source view;
        delta_zip_member_source(zip, m, &view);
        for (int k = 0; k < 4; k++) {
            uint8_t a[64], b[64];
            uint64_t off = m->size ? next(&x) % (m->size + 8) : next(&x) % 8;
            size_t len = (size_t)(next(&x) % sizeof a);
            int in = dlt_range_ok(off, len, m->size);
            st = delta_zip_read(zip, m, off, a, len);
            if ((st == DELTA_OK) != in) abort();
            int rc = view.read(view.ctx, off, b, len);
            if ((rc == DELTA_IO_OK) != in) abort();
            if (in && len && (memcmp(a, b, len) != 0 || memcmp(a, data + m->data_offset + off, len) != 0))
                abort();
        }
    }
    delta_zip_free(zip);
    return 0;
}
