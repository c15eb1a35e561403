/*
 * libdelta: detached signatures over the manifest bytes (formats/signature.md).
 *
 * ECDSA P-256 with SHA-256 (DER signature, deterministic per RFC 6979) or
 * RSA PKCS#1 v1.5 with SHA-256, through mbedTLS's pk layer. Keys are PEM as
 * openssl writes them (SEC1 / PKCS#8 private keys, SubjectPublicKeyInfo
 * public keys).
 */
#ifndef LIBDELTA_SIGN_H
#define LIBDELTA_SIGN_H

#include "libdelta/devheader.h"

#ifdef __cplusplus
extern "C" {
#endif

#define DELTA_SIG_MAX_BYTES 1024 /* covers RSA-4096 and ECDSA */

/* Signs msg with a PEM private key; the DER signature is appended to sig.
 * DELTA_ERR_KEY when the key cannot be parsed or is of another type. */
DELTA_API delta_status delta_sign(const char *pem, size_t pem_len, const void *msg,
                                  size_t msg_len, delta_buf *sig);

/* Verifies sig over msg with a PEM public key. DELTA_ERR_KEY when the key
 * cannot be used, DELTA_ERR_SIGNATURE when the signature does not verify or
 * is not in its one accepted encoding (ECDSA: strict DER; RSA: exactly the
 * modulus length; formats/signature.md). */
DELTA_API delta_status delta_verify(const char *pem, size_t pem_len, const void *msg,
                                    size_t msg_len, const void *sig, size_t sig_len);

/* The device header (libdelta/devheader.h) of h signed with a PEM private key, appended to out. */
DELTA_API delta_status delta_device_header_make(const delta_device_header *h, const char *pem, size_t pem_len,
                                                delta_buf *out);

#ifdef __cplusplus
}
#endif
#endif
