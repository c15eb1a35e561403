/*
 * libdelta: packages end to end (formats/package.md).
 *
 * A package is a zip holding manifest.json, an optional manifest.sig and
 * one ldpatch1 member per image. delta_package_open runs every check that
 * needs no device image, in the contract's order, and stops at the first
 * fault:
 *   1. package larger than the device accepts          550
 *   2. zip, member names, signature (over the raw manifest bytes, before it
 *      is parsed), manifest, member list, member sizes / CRC / SHA-256,
 *      patch headers against the manifest, the in-place proof  504
 *   3. project ID, source version                       505
 *   4. space the update needs vs the device's free space;
 *      a target larger than its slot                    511
 * delta_package_check_source then checks an image        510
 * Nothing is ever written by these checks.
 */
#ifndef LIBDELTA_PACKAGE_H
#define LIBDELTA_PACKAGE_H

#include "libdelta/encode.h"
#include "libdelta/manifest.h"

#ifdef __cplusplus
extern "C" {
#endif

#define DELTA_MEMBER_MANIFEST "manifest.json"
#define DELTA_MEMBER_SIGNATURE "manifest.sig"
#define DELTA_MAX_TRIES 5

/* What the device says about itself. NULL / UINT64_MAX: not checked. */
#define DELTA_CHECK_OPTIONS_VERSION 1
typedef struct delta_check_options {
    unsigned int version;     /* DELTA_CHECK_OPTIONS_VERSION */
    const char *pubkey_pem;   /* with a key, the package must be signed by it */
    size_t pubkey_len;
    const char *project;      /* the device's project ID */
    const char *firmware_version; /* the firmware version the device runs (the package's source version) */
    uint64_t free_space;      /* free bytes for the update's state and scratch */
    uint64_t max_package;     /* the largest package the device accepts */
    int require_inplace;      /* 1: every patch must carry an in-place plan (504) */
} delta_check_options;

#define DELTA_CHECK_OPTIONS_INIT {DELTA_CHECK_OPTIONS_VERSION, NULL, 0, NULL, NULL, UINT64_MAX, UINT64_MAX, 0}
DELTA_API delta_status delta_check_options_init(delta_check_options *opt, unsigned int version);

typedef struct delta_package delta_package;

/* Opens and checks a package (see above). The file must outlive *out. */
DELTA_API delta_status delta_package_open(const delta_source *file, const delta_check_options *opt,
                                          delta_package **out);
DELTA_API void delta_package_free(delta_package *pkg);

DELTA_API const delta_manifest *delta_package_manifest(const delta_package *pkg);
/* SHA-256 of the manifest bytes: the package's identity. */
DELTA_API const uint8_t *delta_package_id(const delta_package *pkg);
/* Whether the package is signed, and whether its signature was checked. */
typedef enum delta_signature_state {
    DELTA_SIGNATURE_NONE = 0,      /* no manifest.sig (only opened when no key was given) */
    DELTA_SIGNATURE_UNCHECKED = 1, /* a manifest.sig, not checked: no key was given */
    DELTA_SIGNATURE_VERIFIED = 2   /* a manifest.sig that verifies with the key given */
} delta_signature_state;
/* With a key (delta_check_options.pubkey_pem) an open package is always
 * VERIFIED: an unsigned or badly signed one does not open (DELTA_ERR_SIGNATURE). */
DELTA_API delta_signature_state delta_package_signature_state(const delta_package *pkg);
/* The in-place proof's findings for image i. */
DELTA_API const delta_plan_report *delta_package_report(const delta_package *pkg, size_t image);
/* The patch of image i, as a source. */
DELTA_API void delta_package_patch(const delta_package *pkg, size_t image, delta_source *out);
/* Index of the image called name, or -1. */
DELTA_API int delta_package_find_image(const delta_package *pkg, const char *name);

/* 511 unless image i's target fits a region of capacity bytes. */
DELTA_API delta_status delta_package_check_slot(const delta_package *pkg, size_t image, uint64_t capacity);

/* 510 unless src has image i's source size and SHA-256. */
DELTA_API delta_status delta_package_check_source(const delta_package *pkg, size_t image,
                                                  const delta_source *src);

/* Out of place: writes image i's target through out (random access). */
DELTA_API delta_status delta_package_apply_out_of_place(const delta_package *pkg, size_t image,
                                                        const delta_source *src,
                                                        const delta_sink *out);

/* DELTA_ERR_TARGET unless written has image i's target size and SHA-256. */
DELTA_API delta_status delta_package_check_target(const delta_package *pkg, size_t image,
                                                  const delta_source *written);

/* In place: see libdelta/update.h (delta_update_run). */

/* --- Making packages (host side) --- */

typedef struct delta_make_image {
    const char *name;
    const uint8_t *source;
    size_t source_len;
    const uint8_t *target;
    size_t target_len;
    uint64_t slot_size;       /* 0: max(source, target) rounded up to the block size */
} delta_make_image;

/* The stages of delta_package_make, reported in this order (diff, encode
 * and prove once per image). */
typedef enum delta_make_stage {
    DELTA_MAKE_DIFF = 0,   /* matching the target against the source */
    DELTA_MAKE_ENCODE = 1, /* planning the in-place order and compressing */
    DELTA_MAKE_PROVE = 2,  /* the new patch's own proof */
    DELTA_MAKE_SIGN = 3,   /* signing the manifest (signed packages only) */
    DELTA_MAKE_ZIP = 4     /* writing the zip */
} delta_make_stage;

/* Called as each stage begins; image is the image index (0 for SIGN, ZIP).
 * Return nonzero to stop (DELTA_ERR_CANCELLED). */
typedef int (*delta_make_progress_fn)(void *ctx, delta_make_stage stage, size_t image, size_t image_count);

#define DELTA_MAKE_OPTIONS_VERSION 1
typedef struct delta_make_options {
    unsigned int version;     /* DELTA_MAKE_OPTIONS_VERSION */
    const char *project;
    const char *source_version;
    const char *target_version;
    const char *key_pem;      /* NULL: unsigned package */
    size_t key_len;
    delta_patch_options patch;
    delta_diff_options diff;
    delta_make_progress_fn progress; /* NULL: none */
    void *progress_ctx;
} delta_make_options;

#define DELTA_MAKE_OPTIONS_INIT \
    {DELTA_MAKE_OPTIONS_VERSION, NULL, NULL, NULL, NULL, 0, DELTA_PATCH_OPTIONS_INIT, DELTA_DIFF_OPTIONS_INIT, NULL, NULL}
DELTA_API delta_status delta_make_options_init(delta_make_options *opt, unsigned int version);

typedef struct delta_make_report {
    size_t image_count;
    delta_patch_stats stats[DELTA_MANIFEST_MAX_IMAGES];
    uint64_t patch_bytes[DELTA_MANIFEST_MAX_IMAGES];
    uint64_t package_bytes;
} delta_make_report;

/* Diffs, plans, encodes, writes the manifest, signs, and zips; appends the package to out. */
DELTA_API delta_status delta_package_make(const delta_make_options *opt, const delta_make_image *images,
                                          size_t count, delta_buf *out, delta_make_report *report);

/* --- Signing outside the build machine (host side) --- */

/* The exact manifest bytes of pkg: what manifest.sig signs. Valid while pkg lives. */
DELTA_API void delta_package_manifest_bytes(const delta_package *pkg, const uint8_t **data, size_t *len);

/*
 * Writes pkg again with sig (sig_len bytes, 1..DELTA_SIG_MAX_BYTES) as its
 * manifest.sig, appended to out: the manifest and every patch member are
 * copied unchanged, in the member order of delta_package_make, so the result
 * is byte for byte what delta_package_make gives with that signature.
 * DELTA_ERR_ARG when pkg is signed already. The signature is not checked
 * here (no key): open the result with the public key for that.
 */
DELTA_API delta_status delta_package_add_signature(const delta_package *pkg, const void *sig, size_t sig_len,
                                                   delta_buf *out);

#ifdef __cplusplus
}
#endif
#endif
