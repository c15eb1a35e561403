/*
 * libdelta internal: SHA-256 through mbedTLS 2.28 (Debian 12) and 3.x alike.
 *
 * mbedTLS 2.7..2.28 name the int-returning functions mbedtls_sha256_*_ret
 * (the plain names return void and are deprecated); 3.0 removed the _ret
 * names and gave the plain names the int return. These wrappers have one
 * name for both. Each returns 0 or an mbedTLS error code (a hardware or
 * alternative implementation may fail): check it. init and free are the same
 * in both and are called directly.
 */
#ifndef LIBDELTA_SHA256_COMPAT_H
#define LIBDELTA_SHA256_COMPAT_H

#include <stddef.h>

#include <mbedtls/version.h> /* 3.x: includes mbedtls/build_info.h */
#include <mbedtls/sha256.h>

#if !defined(MBEDTLS_VERSION_MAJOR)
#error "mbedtls/version.h does not define MBEDTLS_VERSION_MAJOR"
#elif MBEDTLS_VERSION_MAJOR >= 3
#define DELTA_MBEDTLS_SHA256_STARTS mbedtls_sha256_starts
#define DELTA_MBEDTLS_SHA256_UPDATE mbedtls_sha256_update
#define DELTA_MBEDTLS_SHA256_FINISH mbedtls_sha256_finish
#define DELTA_MBEDTLS_SHA256 mbedtls_sha256
#elif MBEDTLS_VERSION_MAJOR == 2 && MBEDTLS_VERSION_MINOR >= 7
#define DELTA_MBEDTLS_SHA256_STARTS mbedtls_sha256_starts_ret
#define DELTA_MBEDTLS_SHA256_UPDATE mbedtls_sha256_update_ret
#define DELTA_MBEDTLS_SHA256_FINISH mbedtls_sha256_finish_ret
#define DELTA_MBEDTLS_SHA256 mbedtls_sha256_ret
#else
#error "libdelta needs mbedTLS 2.7 or later"
#endif

/* Starts a SHA-256 (not SHA-224) computation on an initialised context. */
static inline int dlt_sha256_ctx_starts(mbedtls_sha256_context *ctx)
{
    return DELTA_MBEDTLS_SHA256_STARTS(ctx, 0);
}

static inline int dlt_sha256_ctx_update(mbedtls_sha256_context *ctx, const void *data, size_t len)
{
    return DELTA_MBEDTLS_SHA256_UPDATE(ctx, (const unsigned char *)data, len);
}

static inline int dlt_sha256_ctx_finish(mbedtls_sha256_context *ctx, unsigned char out[32])
{
    return DELTA_MBEDTLS_SHA256_FINISH(ctx, out);
}

/* One call: the SHA-256 of len bytes at data (data may be NULL when len is 0). */
static inline int dlt_sha256_once(const void *data, size_t len, unsigned char out[32])
{
    return DELTA_MBEDTLS_SHA256(len ? (const unsigned char *)data : (const unsigned char *)"", len,
                                out, 0);
}

#endif
