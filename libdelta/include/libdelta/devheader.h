/*
 * libdelta: the device header (formats/device-header.md).
 *
 * A device that cannot read a zip or JSON still checks, before any write,
 * that a patch belongs to a signed package for its project and version: the
 * header is a fixed 216-byte record (project, versions, the patch's size and
 * SHA-256, the source's and target's SHA-256 and size) and a detached
 * signature over it, made with the package's key. The check is in the core;
 * the signature is verified by a callback (the device's ECDSA: a hardware
 * engine, micro-ecc, mbedTLS; on the host delta_verify, tests/test_devheader.c).
 * The device half (libdelta_core); delta_device_header_make, which signs a
 * header on the host, is in libdelta/sign.h.
 *
 * Ownership: nothing is allocated (no malloc at all). hdr, buf and *out are
 * the caller's.
 *
 * Lifetimes. Every argument is used only during the call; nothing is kept.
 *
 * Thread safety. No state: calls may run at once on distinct buffers. The
 * verify callback and the patch's read are called on the caller's thread,
 * verify at most once (when the record is well formed), before the patch is
 * read.
 *
 * Strings. project and version are NUL-terminated and compared exactly with
 * the header's NUL-padded fields (at most 31 bytes: a longer string never
 * matches).
 */
#ifndef LIBDELTA_DEVHEADER_H
#define LIBDELTA_DEVHEADER_H

#include "libdelta/io.h"

#ifdef __cplusplus
extern "C" {
#endif

#define DELTA_DEVHDR_MAGIC "LDDEVH01"
#define DELTA_DEVHDR_FIELD 32     /* project and versions: NUL-padded, at most 31 bytes */
#define DELTA_DEVHDR_SIGNED 216   /* bytes the signature covers */
#define DELTA_DEVHDR_MAX_SIG 1024 /* the largest signature (RSA-4096) */

typedef struct delta_device_header {
    char project[DELTA_DEVHDR_FIELD], from[DELTA_DEVHDR_FIELD], to[DELTA_DEVHDR_FIELD];
    uint64_t patch_size, target_size;
    uint8_t patch_sha256[DELTA_SHA256_LEN], source_sha256[DELTA_SHA256_LEN], target_sha256[DELTA_SHA256_LEN];
} delta_device_header;

/*
 * The signature check: 0 when sig is a valid signature of the package's key
 * over msg (DELTA_DEVHDR_SIGNED bytes), whose SHA-256 is digest (for an
 * engine that takes the hash). Any other value refuses the header.
 */
typedef int (*delta_verify_fn)(void *ctx, const uint8_t *msg, size_t msg_len,
                               const uint8_t digest[DELTA_SHA256_LEN], const uint8_t *sig, size_t sig_len);

/*
 * Checks, in the contract's order: the record's form (DELTA_ERR_MANIFEST),
 * the signature (DELTA_ERR_SIGNATURE), the project (DELTA_ERR_PROJECT) and
 * source version (DELTA_ERR_VERSION), then the patch's size and SHA-256
 * (DELTA_ERR_MEMBER_DATA), read through the patch source in the caller's
 * buf (any size >= 64). On success *out holds the header (the source and
 * target SHA-256 to check against); out may be NULL. No malloc; about 200
 * bytes of stack.
 * Returns: DELTA_OK; DELTA_ERR_ARG for a NULL hdr, project, version, verify
 * or buf, buf_len below 64, or an unusable patch table; DELTA_ERR_MANIFEST,
 * DELTA_ERR_SIGNATURE, DELTA_ERR_PROJECT, DELTA_ERR_VERSION and
 * DELTA_ERR_MEMBER_DATA as above; DELTA_ERR_PACKAGE_READ when the patch's
 * read fails; DELTA_ERR_INTERNAL when the SHA-256 backend fails (a hardware
 * engine may).
 */
DELTA_API delta_status delta_device_header_check(const uint8_t *hdr, size_t len, const char *project,
                                                 const char *version, const delta_source *patch,
                                                 delta_verify_fn verify, void *verify_ctx, uint8_t *buf,
                                                 size_t buf_len, delta_device_header *out);

#ifdef __cplusplus
}
#endif
#endif
