/* libdelta internal helpers: error setting, checked arithmetic, byte order. */
#ifndef LIBDELTA_INTERNAL_H
#define LIBDELTA_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "libdelta/common.h"

/*
 * Build configuration of the core (delta_core). The host defaults are the
 * full library; a bare-metal build (scripts/mcu-demo, README "Porting to a
 * device") defines DELTA_BARE_METAL=1, which turns the others off:
 *   DELTA_HAVE_LZMA        LZMA2 patches through liblzma
 *   DELTA_HAVE_MALLOC      NULL workspaces are malloc'd; delta_buf, delta_patch_prove
 *   DELTA_ERROR_MESSAGES   dlt_fail formats a message (vsnprintf, one per thread)
 *   DELTA_CRYPTO_BUILTIN   CRC-32 and SHA-256 from common/hash.c, not zlib / mbedTLS
 */
#ifndef DELTA_BARE_METAL
#define DELTA_BARE_METAL 0
#endif
#ifndef DELTA_HAVE_LZMA
#define DELTA_HAVE_LZMA (!DELTA_BARE_METAL)
#endif
#ifndef DELTA_HAVE_MALLOC
#define DELTA_HAVE_MALLOC (!DELTA_BARE_METAL)
#endif
#ifndef DELTA_ERROR_MESSAGES
#define DELTA_ERROR_MESSAGES (!DELTA_BARE_METAL)
#endif
#ifndef DELTA_CRYPTO_BUILTIN
#define DELTA_CRYPTO_BUILTIN DELTA_BARE_METAL
#endif

#if defined(__GNUC__)
#define DELTA_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define DELTA_UNUSED __attribute__((unused))
#else
#define DELTA_PRINTF(f, a)
#define DELTA_UNUSED
#endif

/* Records a message for delta_last_error() and returns status. Without
 * DELTA_ERROR_MESSAGES only the status is returned (no printf on the device). */
#if DELTA_ERROR_MESSAGES
delta_status dlt_fail(delta_status status, const char *fmt, ...) DELTA_PRINTF(2, 3);
#else
static inline delta_status dlt_fail_status(delta_status status) { return status; }
#define dlt_fail(status, ...) dlt_fail_status(status)
#endif

/* DELTA_ERR_ARG unless a versioned struct's version is 1..current: 0 is a
 * struct not started from its _INIT macro or _init() (a zeroed one), a
 * larger one was built against a newer libdelta. type names the struct. */
delta_status dlt_check_version(const char *type, unsigned int version, unsigned int current);

/* Defines type##_init (delta_diff_options_init, ...): *p = the defaults of
 * the _INIT macro, with the version asked for; DELTA_ERR_ARG for a version
 * this library does not know. One definition per versioned struct, in its module. */
#define DLT_DEFINE_INIT(type, init, current)                                  \
    delta_status type##_init(type *p, unsigned int version)                   \
    {                                                                         \
        static const type defaults = init;                                    \
        if (!p) return dlt_fail(DELTA_ERR_ARG, #type "_init: no struct");    \
        delta_status st_ = dlt_check_version(#type, version, current);        \
        if (st_) return st_;                                                  \
        memcpy(p, &defaults, sizeof *p); /* padding too: the bytes are the macro's */ \
        p->version = version;                                                 \
        return DELTA_OK;                                                      \
    }

/* DELTA_ERR_ARG unless a caller's callback table is there, of a version
 * this library knows, with the callbacks it must have (what names it in the
 * message: "the package", "region firmware"). In common/buf.c. */
struct delta_source;
struct delta_sink;
struct delta_flash;
struct delta_store;
delta_status dlt_check_source(const struct delta_source *t, const char *what);
delta_status dlt_check_sink(const struct delta_sink *t, const char *what);
delta_status dlt_check_flash(const struct delta_flash *t, const char *what);
delta_status dlt_check_store(const struct delta_store *t, const char *what);
/* The status of an image write that returned io (a delta_io_result): DELTA_OK,
 * DELTA_ERR_WRITE_NOSPACE (521) for DELTA_IO_NOSPACE, else DELTA_ERR_WRITE
 * (520); what names the writer in the message. The one rule for every applier. */
delta_status dlt_write_status(int io, const char *what, uint64_t off, size_t len);
/* DELTA_ERR_SLOT (511) unless blocks of block_size bytes erase alone on the
 * flash: a multiple of its erase_size (when it states one). */
delta_status dlt_check_erase(const struct delta_flash *t, uint32_t block_size, const char *what);

/* Checked arithmetic: return false on overflow, leaving *out unspecified. */
static inline bool dlt_add_u64(uint64_t a, uint64_t b, uint64_t *out)
{
    return !__builtin_add_overflow(a, b, out);
}
static inline bool dlt_mul_u64(uint64_t a, uint64_t b, uint64_t *out)
{
    return !__builtin_mul_overflow(a, b, out);
}
/* true when [off, off+len) lies inside [0, size). */
static inline bool dlt_range_ok(uint64_t off, uint64_t len, uint64_t size)
{
    return off <= size && len <= size - off;
}

static inline uint16_t dlt_le16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static inline uint32_t dlt_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t dlt_le64(const uint8_t *p)
{
    return (uint64_t)dlt_le32(p) | (uint64_t)dlt_le32(p + 4) << 32;
}
static inline void dlt_put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}
static inline void dlt_put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static inline void dlt_put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

/* log2 of a power of two (block sizes): a shift instead of a 64-bit division,
 * which on a 32-bit device is a call to __aeabi_uldivmod. */
static inline unsigned dlt_log2(uint32_t pow2) { return (unsigned)__builtin_ctz(pow2); }

/* CRC-32 (zlib's polynomial) of a buffer, continuing from crc (start with 0):
 * zlib's on the host, the built-in one (common/hash.c) with DELTA_CRYPTO_BUILTIN. */
uint32_t dlt_crc32(uint32_t crc, const void *data, size_t len);

/* SHA-256 in steps, through mbedTLS on the host or the built-in one. Each
 * returns 0, or nonzero when the backend failed (a hardware engine may). */
typedef struct dlt_sha256_builtin {
    uint32_t h[8];
    uint64_t bytes;
    uint8_t buf[64];
} dlt_sha256_builtin;
#if DELTA_CRYPTO_BUILTIN
typedef dlt_sha256_builtin dlt_sha256_ctx;
#else
#include <mbedtls/sha256.h>
typedef mbedtls_sha256_context dlt_sha256_ctx;
#endif
int dlt_sha256_begin(dlt_sha256_ctx *ctx);
int dlt_sha256_step(dlt_sha256_ctx *ctx, const void *data, size_t len);
int dlt_sha256_end(dlt_sha256_ctx *ctx, uint8_t out[DELTA_SHA256_LEN]);

/* The small built-in versions (common/hash.c), compiled in every build so
 * the host tests check them against zlib and mbedTLS. */
uint32_t dlt_crc32_builtin(uint32_t crc, const void *data, size_t len);
void dlt_sha256_builtin_begin(dlt_sha256_builtin *ctx);
void dlt_sha256_builtin_step(dlt_sha256_builtin *ctx, const void *data, size_t len);
void dlt_sha256_builtin_end(dlt_sha256_builtin *ctx, uint8_t out[DELTA_SHA256_LEN]);

struct delta_source;
/* Bounds-checked read from a source: exactly len bytes at off, or on_error
 * with a message (past the end, or the callback failed). */
delta_status dlt_read_source(const struct delta_source *src, uint64_t off, void *buf, size_t len,
                               delta_status on_error);

#endif
