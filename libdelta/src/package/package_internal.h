/* Shared between the package checks and the package applier. */
#ifndef LIBDELTA_PACKAGE_INTERNAL_H
#define LIBDELTA_PACKAGE_INTERNAL_H

#include "common/internal.h"
#include "libdelta/container.h"
#include "libdelta/package.h"

struct delta_package {
    const delta_source *file;
    delta_zip *zip;
    delta_buf manifest_bytes; /* as signed: the update session keeps a copy */
    delta_manifest *manifest;
    uint8_t id[DELTA_SHA256_LEN];
    delta_signature_state signature_state;
    const delta_zip_member *patch[DELTA_MANIFEST_MAX_IMAGES];
    delta_patch_info info[DELTA_MANIFEST_MAX_IMAGES];
    delta_plan_report report[DELTA_MANIFEST_MAX_IMAGES];
};

/* SHA-256 of [0, size) read through a read callback in chunks of buf_len. */
typedef int (*read_fn)(void *ctx, uint64_t off, void *buf, size_t len);
delta_status dlt_hash_reader(read_fn read, void *ctx, uint64_t size, uint8_t *buf, size_t buf_len,
                         uint8_t out[DELTA_SHA256_LEN], delta_status on_error);

/* fault unless [0, size) read through read has want_size bytes and SHA-256
 * want_sha; what names the bytes in the message ("the source"). */
delta_status dlt_check_bytes(read_fn read, void *ctx, uint64_t size, uint64_t want_size, const uint8_t *want_sha,
                         delta_status fault, const char *name, const char *what);

/* 504 unless the patch of image i, read through ps, has a valid header that
 * agrees with the manifest and an in-place plan that passes the proof;
 * fills pkg->info[i] and pkg->report[i]. */
delta_status dlt_package_check_patch(delta_package *pkg, size_t i, const delta_source *ps, int require_inplace);

#endif
