/*
 * libdelta: the package manifest (formats/manifest.md).
 *
 * The manifest is canonical JSON (sorted keys, two-space indent, trailing
 * newline) written with jansson. The signature covers its exact bytes, so
 * the reader never re-serialises: it parses strictly (no duplicate keys,
 * no unknown keys, integers only where integers belong, every size and
 * string length capped) and refuses with DELTA_ERR_MANIFEST or
 * DELTA_ERR_FORMAT_VERSION.
 */
#ifndef LIBDELTA_MANIFEST_H
#define LIBDELTA_MANIFEST_H

#include "libdelta/common.h"

#ifdef __cplusplus
extern "C" {
#endif

#define DELTA_MANIFEST_FORMAT "libdelta-package"
#define DELTA_MANIFEST_VERSION 1
#define DELTA_MANIFEST_MAX_BYTES (64 * 1024)
#define DELTA_MANIFEST_MAX_IMAGES 16
#define DELTA_MAX_STRING 64                      /* project, versions, image names */
#define DELTA_MAX_IMAGE_SIZE (UINT64_C(1) << 31) /* 2 GiB: images, patches, slots */

typedef struct delta_manifest_image {
    char name[DELTA_MAX_STRING + 1];    /* [A-Za-z0-9._-], 1..64 */
    uint64_t source_size;
    uint8_t source_sha256[DELTA_SHA256_LEN];
    uint64_t target_size;
    uint8_t target_sha256[DELTA_SHA256_LEN];
    uint64_t slot_size;                 /* the region the target is written into */
    char patch_member[DELTA_MAX_STRING * 2 + 1];
    uint64_t patch_size;
    uint8_t patch_sha256[DELTA_SHA256_LEN];
    char patch_format[16];              /* "ldpatch1" */
    char compression[16];               /* "lzma2" or "none" */
    /* What applying needs (copied from the patch header, checked against it). */
    uint32_t block_size;
    uint64_t scratch_bytes;
    uint64_t state_bytes;
    uint64_t decoder_memory;
    uint64_t operations;
    uint64_t blocks_written;
} delta_manifest_image;

typedef struct delta_manifest {
    uint32_t format_version;
    char project[DELTA_MAX_STRING + 1];        /* printable ASCII, no quotes/backslash */
    char source_version[DELTA_MAX_STRING + 1];
    char target_version[DELTA_MAX_STRING + 1];
    char created_by[DELTA_MAX_STRING + 1];
    uint64_t space_needed;                     /* state + scratch on the device; never 0 */
    size_t image_count;                        /* 1..16 */
    delta_manifest_image *images;
} delta_manifest;

/* Canonical JSON bytes of m, appended to out. Validates m first (DELTA_ERR_ARG). */
DELTA_API delta_status delta_manifest_write(const delta_manifest *m, delta_buf *out);
/* Strict parse; *out is freed with delta_manifest_free. */
DELTA_API delta_status delta_manifest_parse(const void *json, size_t len, delta_manifest **out);
DELTA_API void delta_manifest_free(delta_manifest *m);

/* 1 when s is a valid project / version string (1..64 printable ASCII, no '"' or '\\'). */
DELTA_API int delta_manifest_string_ok(const char *s);
/* 1 when s is a valid image name (1..64 of [A-Za-z0-9._-], not "." or ".."). */
DELTA_API int delta_manifest_image_name_ok(const char *s);

#ifdef __cplusplus
}
#endif
#endif
