/* Growable byte buffers, hashing, hex, CRC and the memory source. */
#include <stdlib.h>

#include "internal.h"
#include "libdelta/io.h"

#if !DELTA_CRYPTO_BUILTIN
#include <zlib.h>

#include "sha256_compat.h"
#endif

#if DELTA_HAVE_MALLOC

delta_status delta_buf_reserve(delta_buf *buf, size_t extra)
{
    if (extra <= buf->cap - buf->len) return DELTA_OK;
    size_t need;
    if (__builtin_add_overflow(buf->len, extra, &need)) return dlt_fail(DELTA_ERR_NOMEM, "buffer size overflows");
    size_t cap = buf->cap ? buf->cap : 256;
    while (cap < need) {
        if (cap > SIZE_MAX / 2) { cap = need; break; }
        cap *= 2;
    }
    uint8_t *p = realloc(buf->data, cap);
    if (!p) return dlt_fail(DELTA_ERR_NOMEM, "cannot grow a buffer to %zu bytes", cap);
    buf->data = p;
    buf->cap = cap;
    return DELTA_OK;
}

delta_status delta_buf_append(delta_buf *buf, const void *data, size_t len)
{
    delta_status st = delta_buf_reserve(buf, len);
    if (st) return st;
    if (len) memcpy(buf->data + buf->len, data, len);
    buf->len += len;
    return DELTA_OK;
}

void delta_buf_free(delta_buf *buf)
{
    if (!buf) return;
    free(buf->data);
    buf->data = NULL;
    buf->len = buf->cap = 0;
}

#endif /* DELTA_HAVE_MALLOC */

#if DELTA_CRYPTO_BUILTIN
int dlt_sha256_begin(dlt_sha256_ctx *ctx)
{
    dlt_sha256_builtin_begin(ctx);
    return 0;
}

int dlt_sha256_step(dlt_sha256_ctx *ctx, const void *data, size_t len)
{
    dlt_sha256_builtin_step(ctx, data, len);
    return 0;
}

int dlt_sha256_end(dlt_sha256_ctx *ctx, uint8_t out[DELTA_SHA256_LEN])
{
    dlt_sha256_builtin_end(ctx, out);
    return 0;
}

uint32_t dlt_crc32(uint32_t crc, const void *data, size_t len)
{
    return dlt_crc32_builtin(crc, data, len);
}
#else
int dlt_sha256_begin(dlt_sha256_ctx *ctx)
{
    mbedtls_sha256_init(ctx);
    return dlt_sha256_ctx_starts(ctx);
}

int dlt_sha256_step(dlt_sha256_ctx *ctx, const void *data, size_t len)
{
    return dlt_sha256_ctx_update(ctx, data, len);
}

int dlt_sha256_end(dlt_sha256_ctx *ctx, uint8_t out[DELTA_SHA256_LEN])
{
    int r = dlt_sha256_ctx_finish(ctx, out);
    mbedtls_sha256_free(ctx);
    return r;
}

uint32_t dlt_crc32(uint32_t crc, const void *data, size_t len)
{
    const uint8_t *p = data;
    while (len > 0) {
        uInt n = len > 0x40000000u ? 0x40000000u : (uInt)len;
        crc = (uint32_t)crc32(crc, p, n);
        p += n;
        len -= n;
    }
    return crc;
}
#endif

void delta_sha256(const void *data, size_t len, uint8_t out[DELTA_SHA256_LEN])
{
#if DELTA_CRYPTO_BUILTIN
    dlt_sha256_ctx c;
    dlt_sha256_begin(&c);
    dlt_sha256_step(&c, data, len);
    dlt_sha256_end(&c, out);
#else
    dlt_sha256_once(data, len, out); /* software SHA-256: cannot fail */
#endif
}

void delta_hex(const uint8_t *bytes, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[bytes[i] >> 4];
        out[2 * i + 1] = digits[bytes[i] & 15];
    }
    out[2 * len] = '\0';
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

int delta_unhex(const char *hex, uint8_t *out, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        int hi = hexval(hex[2 * i]);
        if (hi < 0) return -1;
        int lo = hexval(hex[2 * i + 1]);
        if (lo < 0) return -1;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return hex[2 * len] == '\0' ? 0 : -1;
}

/* The memory source's ctx is the data itself; dlt_read_source bounds every
 * read against src->size before a callback runs. */
static int mem_read(void *ctx, uint64_t off, void *buf, size_t len)
{
    memcpy(buf, (const uint8_t *)ctx + off, len);
    return DELTA_IO_OK;
}

DLT_DEFINE_INIT(delta_source, DELTA_SOURCE_INIT, DELTA_SOURCE_VERSION)
DLT_DEFINE_INIT(delta_sink, DELTA_SINK_INIT, DELTA_SINK_VERSION)
DLT_DEFINE_INIT(delta_flash, DELTA_FLASH_INIT, DELTA_FLASH_VERSION)
DLT_DEFINE_INIT(delta_store, DELTA_STORE_INIT, DELTA_STORE_VERSION)

delta_status dlt_check_source(const delta_source *t, const char *what)
{
    if (!t) return dlt_fail(DELTA_ERR_ARG, "%s: no source", what);
    delta_status st = dlt_check_version("delta_source", t->version, DELTA_SOURCE_VERSION);
    if (st) return st;
    return t->read ? DELTA_OK : dlt_fail(DELTA_ERR_ARG, "%s: the source has no read callback", what);
}

delta_status dlt_check_sink(const delta_sink *t, const char *what)
{
    if (!t) return dlt_fail(DELTA_ERR_ARG, "%s: no sink", what);
    delta_status st = dlt_check_version("delta_sink", t->version, DELTA_SINK_VERSION);
    if (st) return st;
    return t->write ? DELTA_OK : dlt_fail(DELTA_ERR_ARG, "%s: the sink has no write callback", what);
}

delta_status dlt_check_flash(const delta_flash *t, const char *what)
{
    if (!t) return dlt_fail(DELTA_ERR_ARG, "%s: no flash", what);
    delta_status st = dlt_check_version("delta_flash", t->version, DELTA_FLASH_VERSION);
    if (st) return st;
    if (!t->read || !t->write || !t->sync)
        return dlt_fail(DELTA_ERR_ARG, "%s: the flash needs read, write and sync callbacks", what);
    return DELTA_OK;
}

delta_status dlt_check_store(const delta_store *t, const char *what)
{
    if (!t) return dlt_fail(DELTA_ERR_ARG, "%s: no store", what);
    delta_status st = dlt_check_version("delta_store", t->version, DELTA_STORE_VERSION);
    if (st) return st;
    if (!t->journal_read || !t->journal_write || !t->journal_remove || !t->scratch_read || !t->scratch_write ||
        !t->scratch_sync)
        return dlt_fail(DELTA_ERR_ARG, "%s: the store needs all six callbacks", what);
    return DELTA_OK;
}

delta_status dlt_write_status(int io, const char *what, uint64_t off, size_t len)
{
    if (io == DELTA_IO_OK) return DELTA_OK;
    if (io == DELTA_IO_NOSPACE)
        return dlt_fail(DELTA_ERR_WRITE_NOSPACE, "%s: no space writing %zu bytes at %llu", what, len,
                        (unsigned long long)off);
    return dlt_fail(DELTA_ERR_WRITE, "%s: writing %zu bytes at %llu failed", what, len, (unsigned long long)off);
}

delta_status dlt_check_erase(const delta_flash *t, uint32_t block_size, const char *what)
{
    if (!t->erase_size || block_size % t->erase_size == 0) return DELTA_OK;
    return dlt_fail(DELTA_ERR_SLOT, "%s: the patch's %u-byte blocks are not whole erase blocks of %u bytes "
                      "(make the package with --block-size %u or a multiple)", what, block_size, t->erase_size,
                      t->erase_size);
}

void delta_source_from_memory(delta_source *src, const void *data, size_t len)
{
    src->version = DELTA_SOURCE_VERSION;
    src->ctx = (void *)(uintptr_t)data;
    src->size = len;
    src->read = mem_read;
}

delta_status dlt_read_source(const delta_source *src, uint64_t off, void *buf, size_t len,
                               delta_status on_error)
{
    if (!dlt_range_ok(off, len, src->size))
        return dlt_fail(on_error, "read of %zu bytes at %llu is past the end (%llu bytes)", len,
                          (unsigned long long)off, (unsigned long long)src->size);
    if (len == 0) return DELTA_OK;
    if (src->read(src->ctx, off, buf, len) != DELTA_IO_OK)
        return dlt_fail(on_error, "read of %zu bytes at %llu failed", len, (unsigned long long)off);
    return DELTA_OK;
}
