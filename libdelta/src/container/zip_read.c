/*
 * The strict reader: the independent scan (zip_scan.c) decides what is
 * accepted, then libzip opens the same bytes with consistency checks through
 * a source function over the caller's delta_source, and must see the same
 * members. Member bytes are read either directly (delta_zip_read, member
 * sources) or through libzip (delta_zip_hash_member).
 */
#include <errno.h>
#include <stdlib.h>

#include <mbedtls/sha256.h>

#include "common/sha256_compat.h"
#include "zip_internal.h"

#define HASH_CHUNK (64u * 1024u)

/* libzip's view of a delta_source. */
typedef struct zsrc_ctx {
    const delta_source *src;
    uint64_t pos;
    zip_error_t error;
    unsigned *read_failures; /* libzip may report a failed read as another error: count them */
} zsrc_ctx;

static zip_int64_t zsrc_cb(void *ud, void *data, zip_uint64_t len, zip_source_cmd_t cmd)
{
    zsrc_ctx *c = ud;
    switch (cmd) {
    case ZIP_SOURCE_OPEN:
        c->pos = 0;
        return 0;
    case ZIP_SOURCE_READ: {
        uint64_t left = c->src->size - c->pos;
        size_t n = len < left ? (size_t)len : (size_t)left;
        if (n > 0 && c->src->read(c->src->ctx, c->pos, data, n) != DELTA_IO_OK) {
            (*c->read_failures)++;
            zip_error_set(&c->error, ZIP_ER_READ, EIO);
            return -1;
        }
        c->pos += n;
        return (zip_int64_t)n;
    }
    case ZIP_SOURCE_CLOSE: return 0;
    case ZIP_SOURCE_STAT: {
        if (len < sizeof(zip_stat_t)) {
            zip_error_set(&c->error, ZIP_ER_INVAL, 0);
            return -1;
        }
        zip_stat_t *st = data;
        zip_stat_init(st);
        st->size = c->src->size;
        st->valid |= ZIP_STAT_SIZE;
        return sizeof(zip_stat_t);
    }
    case ZIP_SOURCE_ERROR: return zip_error_to_data(&c->error, data, len);
    case ZIP_SOURCE_FREE:
        zip_error_fini(&c->error);
        free(c);
        return 0;
    case ZIP_SOURCE_SEEK: {
        zip_int64_t pos = zip_source_seek_compute_offset(c->pos, c->src->size, data, len, &c->error);
        if (pos < 0) return -1;
        c->pos = (uint64_t)pos;
        return 0;
    }
    case ZIP_SOURCE_TELL: return (zip_int64_t)c->pos;
    case ZIP_SOURCE_SUPPORTS: return ZIP_SOURCE_SUPPORTS_SEEKABLE;
    default: zip_error_set(&c->error, ZIP_ER_OPNOTSUPP, 0); return -1;
    }
}

/* Opens the archive in libzip with ZIP_CHECKCONS. */
static delta_status open_libzip(const delta_source *archive, delta_zip *zip)
{
    zsrc_ctx *c = calloc(1, sizeof *c);
    if (!c) return dlt_fail(DELTA_ERR_NOMEM, "cannot allocate a libzip source");
    c->src = archive;
    c->read_failures = &zip->read_failures;
    zip_error_init(&c->error);
    zip_error_t err;
    zip_error_init(&err);
    zip_source_t *zs = zip_source_function_create(zsrc_cb, c, &err);
    if (!zs) {
        zip_error_fini(&c->error);
        free(c);
        zip_error_fini(&err);
        return dlt_fail(DELTA_ERR_NOMEM, "cannot create a libzip source");
    }
    zip_t *za = zip_open_from_source(zs, ZIP_RDONLY | ZIP_CHECKCONS, &err);
    if (!za) {
        delta_status st = zip_error_code_zip(&err) == ZIP_ER_READ || zip->read_failures ? DELTA_ERR_INPUT : DELTA_ERR_ZIP;
        dlt_fail(st, "libzip refuses the archive: %s", zip_error_strerror(&err));
        zip_source_free(zs); /* frees c */
        zip_error_fini(&err);
        return st;
    }
    zip_error_fini(&err);
    zip->za = za;
    return DELTA_OK;
}

/* libzip must see exactly the members the scan found, in the same order.
 * Every refusal from here or open_libzip starts with "libzip " (fuzz_zip
 * relies on it). */
static delta_status cross_check(const delta_zip *zip)
{
    zip_int64_t n = zip_get_num_entries(zip->za, 0);
    if (n < 0 || (uint64_t)n != zip->count)
        return dlt_fail(DELTA_ERR_ZIP, "libzip sees %lld members, the scan %zu", (long long)n, zip->count);
    for (size_t i = 0; i < zip->count; i++) {
        const delta_zip_member *m = &zip->members[i];
        const char *name = zip_get_name(zip->za, i, ZIP_FL_ENC_RAW);
        zip_stat_t st;
        if (!name || strcmp(name, m->name) != 0 || zip_stat_index(zip->za, i, ZIP_FL_ENC_RAW, &st) != 0)
            return dlt_fail(DELTA_ERR_ZIP, "libzip sees another name than %s for member %zu", m->name, i);
        zip_uint64_t need = ZIP_STAT_SIZE | ZIP_STAT_COMP_SIZE | ZIP_STAT_CRC | ZIP_STAT_COMP_METHOD;
        if ((st.valid & need) != need || st.size != m->size || st.comp_size != m->size || st.crc != m->crc32 ||
            st.comp_method != ZIP_CM_STORE ||
            ((st.valid & ZIP_STAT_ENCRYPTION_METHOD) && st.encryption_method != ZIP_EM_NONE))
            return dlt_fail(DELTA_ERR_ZIP, "libzip sees other sizes, crc or method for member %s", m->name);
    }
    return DELTA_OK;
}

delta_status delta_zip_open(const delta_source *archive, delta_zip **out)
{
    if (!out) return dlt_fail(DELTA_ERR_ARG, "delta_zip_open: out is NULL");
    *out = NULL;
    delta_status st0 = dlt_check_source(archive, "delta_zip_open");
    if (st0) return st0;
    delta_zip *zip = calloc(1, sizeof *zip);
    if (!zip) return dlt_fail(DELTA_ERR_NOMEM, "cannot allocate a zip reader");
    zip->archive = archive;
    delta_status st = dlt_zip_scan(archive, zip);
    if (!st) st = open_libzip(archive, zip);
    if (!st) st = cross_check(zip);
    if (st) {
        delta_zip_free(zip);
        return st;
    }
    for (size_t i = 0; i < zip->count; i++) {
        zip->views[i].archive = archive;
        zip->views[i].offset = zip->members[i].data_offset;
        zip->views[i].size = zip->members[i].size;
    }
    *out = zip;
    return DELTA_OK;
}

void delta_zip_free(delta_zip *zip)
{
    if (!zip) return;
    if (zip->za) zip_discard(zip->za);
    free(zip);
}

size_t delta_zip_count(const delta_zip *zip)
{
    return zip ? zip->count : 0;
}

const delta_zip_member *delta_zip_member_at(const delta_zip *zip, size_t index)
{
    return zip && index < zip->count ? &zip->members[index] : NULL;
}

const delta_zip_member *delta_zip_find(const delta_zip *zip, const char *name)
{
    if (!zip || !name) return NULL;
    for (size_t i = 0; i < zip->count; i++)
        if (strcmp(zip->members[i].name, name) == 0) return &zip->members[i];
    return NULL;
}

/* The index of m in zip, or SIZE_MAX when m is not one of zip's members. */
static size_t member_index(const delta_zip *zip, const delta_zip_member *m)
{
    if (!zip || !m) return SIZE_MAX;
    uintptr_t base = (uintptr_t)zip->members, p = (uintptr_t)m;
    if (p < base || (p - base) % sizeof *m != 0) return SIZE_MAX;
    size_t i = (p - base) / sizeof *m;
    return i < zip->count ? i : SIZE_MAX;
}

delta_status delta_zip_read(const delta_zip *zip, const delta_zip_member *m, uint64_t off, void *buf, size_t len)
{
    if (member_index(zip, m) == SIZE_MAX)
        return dlt_fail(DELTA_ERR_ARG, "delta_zip_read: not a member of this archive");
    if (!dlt_range_ok(off, len, m->size))
        return dlt_fail(DELTA_ERR_ARG, "read of %zu bytes at %llu is past the end of member %s (%llu bytes)", len,
                          (unsigned long long)off, m->name, (unsigned long long)m->size);
    if (len == 0) return DELTA_OK;
    if (!buf) return dlt_fail(DELTA_ERR_ARG, "delta_zip_read: buf is NULL");
    if (zip->archive->read(zip->archive->ctx, m->data_offset + off, buf, len) != DELTA_IO_OK)
        return dlt_fail(DELTA_ERR_INPUT, "member %s: read of %zu bytes at %llu failed", m->name, len,
                          (unsigned long long)off);
    return DELTA_OK;
}

delta_status delta_zip_hash_member(const delta_zip *zip, const delta_zip_member *m, uint8_t sha256[DELTA_SHA256_LEN])
{
    size_t index = member_index(zip, m);
    if (index == SIZE_MAX || !sha256)
        return dlt_fail(DELTA_ERR_ARG, "delta_zip_hash_member: not a member of this archive");
    uint8_t *chunk = malloc(HASH_CHUNK);
    if (!chunk) return dlt_fail(DELTA_ERR_NOMEM, "cannot allocate %u bytes to hash a member", HASH_CHUNK);
    unsigned failures = zip->read_failures;
    zip_file_t *zf = zip_fopen_index(zip->za, index, 0);
    if (!zf) {
        free(chunk);
        zip_error_t *err = zip_get_error(zip->za);
        return dlt_fail(zip_error_code_zip(err) == ZIP_ER_READ || zip->read_failures != failures
                              ? DELTA_ERR_INPUT : DELTA_ERR_MEMBER_DATA,
                          "member %s: libzip cannot open it: %s", m->name, zip_error_strerror(err));
    }
    mbedtls_sha256_context ctx;
    mbedtls_sha256_init(&ctx);
    delta_status st = DELTA_OK;
    uint32_t crc = 0;
    uint64_t total = 0;
    if (dlt_sha256_ctx_starts(&ctx) != 0) st = dlt_fail(DELTA_ERR_INTERNAL, "sha-256 cannot start");
    /* Reads until libzip reports the end, one chunk past the expected size
     * at most, so a member longer than announced is caught too. */
    while (!st) {
        zip_int64_t n = zip_fread(zf, chunk, HASH_CHUNK);
        if (n < 0) {
            zip_error_t *err = zip_file_get_error(zf);
            /* libzip reports a failed read of the archive as a premature end
             * of file: a failing source is a local input failure, not bad data. */
            st = dlt_fail(zip_error_code_zip(err) == ZIP_ER_READ || zip->read_failures != failures
                                ? DELTA_ERR_INPUT : DELTA_ERR_MEMBER_DATA,
                            "member %s: reading failed after %llu bytes: %s", m->name, (unsigned long long)total,
                            zip_error_strerror(err));
            break;
        }
        if (n == 0) break;
        total += (uint64_t)n;
        if (total > m->size) {
            st = dlt_fail(DELTA_ERR_MEMBER_DATA, "member %s: more than its %llu bytes", m->name,
                            (unsigned long long)m->size);
            break;
        }
        crc = dlt_crc32(crc, chunk, (size_t)n);
        if (dlt_sha256_ctx_update(&ctx, chunk, (size_t)n) != 0)
            st = dlt_fail(DELTA_ERR_INTERNAL, "sha-256 update failed");
    }
    if (!st && total != m->size)
        st = dlt_fail(DELTA_ERR_MEMBER_DATA, "member %s: short read, %llu of %llu bytes", m->name,
                        (unsigned long long)total, (unsigned long long)m->size);
    if (!st && crc != m->crc32)
        st = dlt_fail(DELTA_ERR_MEMBER_DATA, "member %s: crc-32 is %08x, the archive says %08x", m->name, crc,
                        m->crc32);
    if (!st && dlt_sha256_ctx_finish(&ctx, sha256) != 0)
        st = dlt_fail(DELTA_ERR_INTERNAL, "sha-256 cannot finish");
    mbedtls_sha256_free(&ctx);
    zip_fclose(zf);
    free(chunk);
    return st;
}

/* The member view's read: bounds-checked against the member, then the
 * archive's own callback at the member's data offset. */
static int view_read(void *ctx, uint64_t off, void *buf, size_t len)
{
    const zip_view *v = ctx;
    if (!dlt_range_ok(off, len, v->size)) return DELTA_IO_SHORT;
    if (len == 0) return DELTA_IO_OK;
    return v->archive->read(v->archive->ctx, v->offset + off, buf, len) == DELTA_IO_OK ? DELTA_IO_OK
                                                                                       : DELTA_IO_ERROR;
}

void delta_zip_member_source(const delta_zip *zip, const delta_zip_member *m, delta_source *out)
{
    if (!out) return;
    size_t i = member_index(zip, m);
    if (i == SIZE_MAX) {
        /* Not a member: an empty source, whose every non-empty read fails. */
        static const zip_view none = {NULL, 0, 0};
        *out = (delta_source){DELTA_SOURCE_VERSION, (void *)(uintptr_t)&none, 0, view_read};
        return;
    }
    *out = (delta_source){DELTA_SOURCE_VERSION, (void *)(uintptr_t)&zip->views[i], m->size, view_read};
}
