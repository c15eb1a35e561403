/*
 * libdelta: the package manifest (formats/manifest.md).
 *
 * The manifest is canonical JSON (sorted keys, two-space indent, trailing
 * newline) written with jansson. The signature covers its exact bytes, so
 * the reader never re-serialises: it parses strictly (no duplicate keys,
 * no unknown keys, integers only where integers belong, every size and
 * string length capped) and refuses with DELTA_ERR_MANIFEST or
 * DELTA_ERR_FORMAT_VERSION.
 *
 * Ownership. delta_manifest_parse allocates *out and its images, freed
 * together with delta_manifest_free (NULL is fine); on failure *out is NULL.
 * delta_manifest_free is for parsed manifests only: a manifest the caller
 * builds for delta_manifest_write is the caller's to free. The JSON that
 * delta_manifest_write appends to out is the caller's; on failure out->len
 * is unchanged (its capacity may have grown).
 *
 * Lifetimes. A parsed manifest copies everything it needs: the JSON bytes
 * may go as soon as delta_manifest_parse returns.
 *
 * Thread safety. Each call builds and drops its own jansson objects; there
 * is no shared state, so parses and writes may run at once in distinct
 * threads, and one manifest may be written from several threads at once (it
 * is only read).
 *
 * Strings. The struct's strings are NUL-terminated char arrays. The JSON
 * given to delta_manifest_parse need not be NUL-terminated (len bytes are
 * read) and holds at most DELTA_MANIFEST_MAX_BYTES.
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
    char compression[16];               /* "lzma2", "lzrc" or "none" */
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
    char project[DELTA_MAX_STRING + 1];        /* printable ASCII, no space, quotes or backslash */
    char source_version[DELTA_MAX_STRING + 1];
    char target_version[DELTA_MAX_STRING + 1];
    char created_by[DELTA_MAX_STRING + 1];
    uint64_t space_needed;                     /* state + scratch on the device; never 0 */
    size_t image_count;                        /* 1..16 */
    delta_manifest_image *images;
} delta_manifest;

/* Canonical JSON bytes of m and a newline, appended to out. Validates m first by the reader's
 * rules (format_version must be DELTA_MANIFEST_VERSION).
 * Returns: DELTA_OK; DELTA_ERR_ARG for a NULL m or out, or a value the reader would refuse;
 * DELTA_ERR_NOMEM; DELTA_ERR_INTERNAL (jansson serialised two sizes). */
DELTA_API delta_status delta_manifest_write(const delta_manifest *m, delta_buf *out);
/* Strict parse; *out is freed with delta_manifest_free.
 * Returns: DELTA_OK; DELTA_ERR_ARG for a NULL out, or a NULL json with a nonzero len;
 * DELTA_ERR_MANIFEST for an empty or too large document, invalid JSON, a duplicate, unknown or
 * missing key, a wrong type or a value out of its range; DELTA_ERR_FORMAT_VERSION for another
 * format_version; DELTA_ERR_NOMEM. */
DELTA_API delta_status delta_manifest_parse(const void *json, size_t len, delta_manifest **out);
/* Frees a parsed manifest and its images (NULL is fine). */
DELTA_API void delta_manifest_free(delta_manifest *m);

/* 1 when s is a valid project / version string (1..64 printable ASCII, no space, '"' or '\\'), else 0
 * (also for NULL). */
DELTA_API int delta_manifest_string_ok(const char *s);
/* 1 when s is a valid image name (1..64 of [A-Za-z0-9._-], not "." or ".."), else 0 (also for NULL). */
DELTA_API int delta_manifest_image_name_ok(const char *s);

#ifdef __cplusplus
}
#endif
#endif
