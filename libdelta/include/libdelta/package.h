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
 *
 * Ownership. delta_package_open allocates *out, freed with
 * delta_package_free (NULL is fine); on failure *out is NULL.
 * delta_package_make and delta_package_add_signature append a package to
 * the caller's out; on failure out->len is as it was (its capacity may have
 * grown). *report is written on success only.
 *
 * Lifetimes. A delta_package keeps the pointer to its file source (the
 * delta_source struct and its ctx) until delta_package_free. What
 * delta_package_manifest, _id, _report and _manifest_bytes return, and the
 * sources delta_package_patch fills (which read through the file source),
 * are valid until delta_package_free. The check options (key, project,
 * version) are used only during delta_package_open, and delta_package_make
 * reads its images, strings and key only during the call: nothing of them
 * is kept (the key is copied for the signature and wiped).
 *
 * Thread safety. No shared state: distinct packages may be used from
 * distinct threads. Once delta_package_open has returned, nothing here
 * changes a package or touches its libzip handle: on one open package every
 * function but delta_package_free may run in several threads at once,
 * provided the file source's read may (a delta_file source, which uses
 * pread, and a memory source may).
 * The accessors only read memory; the patch sources, apply_out_of_place and
 * add_signature read the file source; check_source and check_target read
 * the caller's src. delta_package_make runs the threads of delta_diff and
 * delta_patch_make (libdelta/diff.h, encode.h), joined before it returns;
 * its progress callback is called on the caller's thread, never on those.
 *
 * Images. Functions that take an image index refuse one that is not below
 * the manifest's image_count: those that return a status with DELTA_ERR_ARG,
 * delta_package_report with NULL, delta_package_patch with an empty source.
 *
 * Strings and keys. pubkey_pem is (pubkey_pem, pubkey_len) as for
 * delta_verify (libdelta/sign.h): it need not be NUL-terminated. project and
 * firmware_version are NUL-terminated and compared exactly; key_pem in
 * delta_make_options is (key_pem, key_len) as for delta_sign.
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
/* *opt = DELTA_CHECK_OPTIONS_INIT with this version.
 * Returns: DELTA_OK; DELTA_ERR_ARG for a NULL opt, or version 0 or newer than DELTA_CHECK_OPTIONS_VERSION. */
DELTA_API delta_status delta_check_options_init(delta_check_options *opt, unsigned int version);

typedef struct delta_package delta_package;

/*
 * Opens and checks a package (see above). The file must outlive *out. opt
 * may be NULL (DELTA_CHECK_OPTIONS_INIT: nothing of the device is checked).
 * Returns: DELTA_OK;
 *   DELTA_ERR_ARG for a NULL out, an opt of version 0 or newer, or an
 *   unusable file table;
 *   550: DELTA_ERR_TOO_LARGE (file->size over max_package);
 *   504: DELTA_ERR_ZIP, DELTA_ERR_MEMBER_NAME, DELTA_ERR_MEMBERS (no
 *   manifest.json, members the manifest does not account for),
 *   DELTA_ERR_MEMBER_DATA (a member's size, CRC-32 or SHA-256),
 *   DELTA_ERR_SIGNATURE (unsigned while a key is given, a manifest.sig over
 *   DELTA_SIG_MAX_BYTES, one that does not verify), DELTA_ERR_MANIFEST (over
 *   64 KiB, malformed, or disagreeing with a patch header or the space the
 *   patches need), DELTA_ERR_FORMAT_VERSION, DELTA_ERR_PATCH (a patch header
 *   or stream), DELTA_ERR_PLAN (the proof fails, or require_inplace and a
 *   patch has no in-place plan);
 *   505: DELTA_ERR_PROJECT, DELTA_ERR_VERSION;
 *   511: DELTA_ERR_SPACE (space_needed over free_space), DELTA_ERR_SLOT (a
 *   target larger than its slot_size);
 *   DELTA_ERR_KEY when the key given cannot be used (checked only once a
 *   manifest.sig is found); DELTA_ERR_INPUT when the file's read fails (never
 *   DELTA_ERR_PACKAGE_READ: nothing is known to be wrong with the package);
 *   DELTA_ERR_NOMEM; DELTA_ERR_INTERNAL when SHA-256 fails.
 */
DELTA_API delta_status delta_package_open(const delta_source *file, const delta_check_options *opt,
                                          delta_package **out);
/* Frees the package (NULL is fine); its file source is the caller's. */
DELTA_API void delta_package_free(delta_package *pkg);

/* The package's parsed manifest (valid until delta_package_free). */
DELTA_API const delta_manifest *delta_package_manifest(const delta_package *pkg);
/* SHA-256 of the manifest bytes: the package's identity (DELTA_SHA256_LEN bytes, valid until
 * delta_package_free). */
DELTA_API const uint8_t *delta_package_id(const delta_package *pkg);
/* Whether the package is signed, and whether its signature was checked. */
typedef enum delta_signature_state {
    DELTA_SIGNATURE_NONE = 0,      /* no manifest.sig (only opened when no key was given) */
    DELTA_SIGNATURE_UNCHECKED = 1, /* a manifest.sig, not checked: no key was given */
    DELTA_SIGNATURE_VERIFIED = 2   /* a manifest.sig that verifies with the key given */
} delta_signature_state;
/* With a key (delta_check_options.pubkey_pem) an open package is always
 * VERIFIED: an unsigned or badly signed one does not open (DELTA_ERR_SIGNATURE). Cannot fail. */
DELTA_API delta_signature_state delta_package_signature_state(const delta_package *pkg);
/* The in-place proof's findings for image i (valid until delta_package_free); NULL for no such image. */
DELTA_API const delta_plan_report *delta_package_report(const delta_package *pkg, size_t image);
/* The patch of image i, as a source that reads the package file (valid until delta_package_free);
 * for no such image, an empty source whose every read of a byte fails. */
DELTA_API void delta_package_patch(const delta_package *pkg, size_t image, delta_source *out);
/* Index of the image called name (not NULL; compared exactly), or -1. */
DELTA_API int delta_package_find_image(const delta_package *pkg, const char *name);

/* 511 unless image i's target fits a region of capacity bytes.
 * Returns: DELTA_OK; DELTA_ERR_ARG for no such image; DELTA_ERR_SLOT. */
DELTA_API delta_status delta_package_check_slot(const delta_package *pkg, size_t image, uint64_t capacity);

/* 510 unless src has image i's source size and SHA-256 (src is read whole).
 * Returns: DELTA_OK; DELTA_ERR_ARG for no such image or an unusable src table; DELTA_ERR_SOURCE when the size or
 * SHA-256 differs; DELTA_ERR_INPUT when src's read fails; DELTA_ERR_INTERNAL when SHA-256 fails. */
DELTA_API delta_status delta_package_check_source(const delta_package *pkg, size_t image,
                                                  const delta_source *src);

/* Out of place: checks src (as delta_package_check_source), then writes image i's target through
 * out (random access). What was written is not checked here: call delta_package_check_target.
 * Returns: DELTA_OK; DELTA_ERR_ARG for an unusable sink table; every status of
 * delta_package_check_source; every status of delta_apply_out_of_place (libdelta/patch.h), among
 * them DELTA_ERR_PACKAGE_READ when the package file's read fails now and DELTA_ERR_WRITE /
 * DELTA_ERR_WRITE_NOSPACE when out->write fails. */
DELTA_API delta_status delta_package_apply_out_of_place(const delta_package *pkg, size_t image,
                                                        const delta_source *src,
                                                        const delta_sink *out);

/* DELTA_ERR_TARGET unless written has image i's target size and SHA-256.
 * Returns: DELTA_OK; DELTA_ERR_ARG for no such image or an unusable written table; DELTA_ERR_TARGET;
 * DELTA_ERR_INPUT when written's read fails; DELTA_ERR_INTERNAL when SHA-256 fails. */
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

/* Called as each stage begins, on the caller's thread; image is the image index (0 for SIGN, ZIP).
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
/* *opt = DELTA_MAKE_OPTIONS_INIT with this version (patch and diff at their current versions).
 * Returns: DELTA_OK; DELTA_ERR_ARG for a NULL opt, or version 0 or newer than DELTA_MAKE_OPTIONS_VERSION. */
DELTA_API delta_status delta_make_options_init(delta_make_options *opt, unsigned int version);

typedef struct delta_make_report {
    size_t image_count;
    delta_patch_stats stats[DELTA_MANIFEST_MAX_IMAGES];
    uint64_t patch_bytes[DELTA_MANIFEST_MAX_IMAGES];
    uint64_t package_bytes;
} delta_make_report;

/* Diffs, plans, encodes, writes the manifest, signs, and zips; appends the package to out (not
 * NULL). Every image needs a name; report may be NULL.
 * Returns: DELTA_OK; DELTA_ERR_ARG for a NULL opt, an opt, opt->patch or opt->diff of version 0 or
 * newer, NULL images, a count of 0 or over 16, a project or version that delta_manifest_string_ok
 * refuses (or NULL), an image name that delta_manifest_image_name_ok refuses or that is given
 * twice, a patch option out of its range, or a slot_size over 2 GiB; DELTA_ERR_LIMIT for an image
 * over 2 GiB, a diff max_memory too small, or a package over 4 GiB; DELTA_ERR_KEY when key_pem is
 * set and cannot be used (also for a key_len of 0); DELTA_ERR_CANCELLED when the progress callback
 * returns nonzero; DELTA_ERR_NOMEM; DELTA_ERR_INTERNAL (a new patch fails its own proof, or the
 * compressor, mbedTLS or libzip fails). */
DELTA_API delta_status delta_package_make(const delta_make_options *opt, const delta_make_image *images,
                                          size_t count, delta_buf *out, delta_make_report *report);

/* --- Signing outside the build machine (host side) --- */

/* The exact manifest bytes of pkg: what manifest.sig signs. Valid while pkg lives. Cannot fail. */
DELTA_API void delta_package_manifest_bytes(const delta_package *pkg, const uint8_t **data, size_t *len);

/*
 * Writes pkg again with sig (sig_len bytes, 1..DELTA_SIG_MAX_BYTES) as its
 * manifest.sig, appended to out: the manifest and every patch member are
 * copied unchanged, in the member order of delta_package_make, so the result
 * is byte for byte what delta_package_make gives with that signature.
 * DELTA_ERR_ARG when pkg is signed already. The signature is not checked
 * here (no key): open the result with the public key for that.
 * Returns: DELTA_OK; DELTA_ERR_ARG for a NULL pkg or out, a NULL sig with a
 * nonzero sig_len, a package signed already, or a sig_len of 0 or over
 * DELTA_SIG_MAX_BYTES; DELTA_ERR_INPUT when the package file's read fails;
 * DELTA_ERR_LIMIT (the archive would pass 4 GiB); DELTA_ERR_NOMEM;
 * DELTA_ERR_INTERNAL when libzip fails.
 */
DELTA_API delta_status delta_package_add_signature(const delta_package *pkg, const void *sig, size_t sig_len,
                                                   delta_buf *out);

#ifdef __cplusplus
}
#endif
#endif
