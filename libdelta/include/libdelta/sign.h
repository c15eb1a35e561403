/*
 * libdelta: detached signatures over the manifest bytes (formats/signature.md).
 *
 * ECDSA P-256 with SHA-256 (DER signature, deterministic per RFC 6979) or
 * RSA PKCS#1 v1.5 with SHA-256, through mbedTLS's pk layer. Keys are PEM as
 * openssl writes them (SEC1 / PKCS#8 private keys, SubjectPublicKeyInfo
 * public keys).
 *
 * Ownership. Signatures and device headers are appended to the caller's
 * delta_buf. On failure delta_sign leaves sig unchanged; delta_device_header_make
 * may leave part of the header appended to out (only when an append fails:
 * DELTA_ERR_NOMEM).
 *
 * Lifetimes. The key is copied into a private NUL-terminated buffer for the
 * call, wiped and freed before it returns; nothing is kept.
 *
 * Thread safety. Each call uses its own mbedTLS contexts (key, entropy,
 * CTR-DRBG) and shares nothing, so calls may run at once in distinct threads.
 *
 * Keys. A key is (pem, pem_len): pem_len bytes are read, and pem need not be
 * NUL-terminated (a terminating NUL counted in pem_len is fine too). At most
 * 64 KiB, holding a "-----BEGIN " line; an encrypted private key (one that
 * needs a password) is refused. Allowed: EC on P-256 and RSA of 2048..4096
 * bits; anything else is DELTA_ERR_KEY.
 */
#ifndef LIBDELTA_SIGN_H
#define LIBDELTA_SIGN_H

#include "libdelta/devheader.h"

#ifdef __cplusplus
extern "C" {
#endif

#define DELTA_SIG_MAX_BYTES 1024 /* covers RSA-4096 and ECDSA */

/* Signs msg with a PEM private key; the DER signature is appended to sig.
 * DELTA_ERR_KEY when the key cannot be parsed or is of another type.
 * Returns: DELTA_OK; DELTA_ERR_ARG for a NULL sig, or a NULL msg with a nonzero msg_len;
 * DELTA_ERR_KEY (a NULL, empty, over 64 KiB, not PEM, unparsable or not allowed key);
 * DELTA_ERR_NOMEM; DELTA_ERR_INTERNAL when mbedTLS cannot seed its generator or sign. */
DELTA_API delta_status delta_sign(const char *pem, size_t pem_len, const void *msg,
                                  size_t msg_len, delta_buf *sig);

/* Verifies sig over msg with a PEM public key. DELTA_ERR_KEY when the key
 * cannot be used, DELTA_ERR_SIGNATURE when the signature does not verify or
 * is not in its one accepted encoding (ECDSA: strict DER; RSA: exactly the
 * modulus length; formats/signature.md).
 * Returns: DELTA_OK; DELTA_ERR_ARG for a NULL msg or sig with a nonzero length; DELTA_ERR_KEY (as
 * for delta_sign, and for a private key: verification takes the public one); DELTA_ERR_SIGNATURE
 * (also for an empty signature or one over DELTA_SIG_MAX_BYTES); DELTA_ERR_NOMEM;
 * DELTA_ERR_INTERNAL when SHA-256 fails. */
DELTA_API delta_status delta_verify(const char *pem, size_t pem_len, const void *msg,
                                    size_t msg_len, const void *sig, size_t sig_len);

/* The device header (libdelta/devheader.h) of h signed with a PEM private key, appended to out:
 * the 216-byte record, the signature's length (2 bytes, little-endian), the signature. h and out
 * must not be NULL.
 * Returns: DELTA_OK; DELTA_ERR_ARG when h's project, from or to has 32 bytes or more (no NUL in
 * its field); every status of delta_sign; DELTA_ERR_NOMEM. */
DELTA_API delta_status delta_device_header_make(const delta_device_header *h, const char *pem, size_t pem_len,
                                                delta_buf *out);

#ifdef __cplusplus
}
#endif
#endif
