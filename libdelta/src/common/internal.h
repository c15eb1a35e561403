/* libdelta internal helpers: error setting, checked arithmetic, byte order. */
#ifndef LIBDELTA_INTERNAL_H
#define LIBDELTA_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "libdelta/common.h"

#if defined(__GNUC__)
#define DELTA_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define DELTA_UNUSED __attribute__((unused))
#else
#define DELTA_PRINTF(f, a)
#define DELTA_UNUSED
#endif

/* Records a message for delta_last_error() and returns status. */
delta_status delta_fail(delta_status status, const char *fmt, ...) DELTA_PRINTF(2, 3);

/* Checked arithmetic: return false on overflow, leaving *out unspecified. */
static inline bool delta_add_u64(uint64_t a, uint64_t b, uint64_t *out)
{
    return !__builtin_add_overflow(a, b, out);
}
static inline bool delta_mul_u64(uint64_t a, uint64_t b, uint64_t *out)
{
    return !__builtin_mul_overflow(a, b, out);
}
/* true when [off, off+len) lies inside [0, size). */
static inline bool delta_range_ok(uint64_t off, uint64_t len, uint64_t size)
{
    return off <= size && len <= size - off;
}

static inline uint16_t delta_le16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static inline uint32_t delta_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t delta_le64(const uint8_t *p)
{
    return (uint64_t)delta_le32(p) | (uint64_t)delta_le32(p + 4) << 32;
}
static inline void delta_put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}
static inline void delta_put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static inline void delta_put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

/* CRC-32 (zlib's polynomial) of a buffer, continuing from crc (start with 0). */
uint32_t delta_crc32(uint32_t crc, const void *data, size_t len);

struct delta_source;
/* Bounds-checked read from a source: exactly len bytes at off, or on_error
 * with a message (past the end, or the callback failed). */
delta_status delta_read_source(const struct delta_source *src, uint64_t off, void *buf, size_t len,
                               delta_status on_error);

#endif
