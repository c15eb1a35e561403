/*
 * The writer: libzip builds the archive in a memory buffer source. Every
 * member is stored with the fixed time 1980-01-01 00:00 and no extra field,
 * in the order added, with no comment, so the same members always give the
 * same bytes (formats/container.md). The result is re-opened with the
 * strict reader before it is handed out.
 */
#include <stdlib.h>

#include "zip_internal.h"

struct delta_zip_writer {
    zip_source_t *buffer; /* the archive's bytes; kept alive across zip_close */
    zip_t *za;
    size_t count;
    uint64_t archive_size; /* what the archive will take, for the 4 GiB limit */
    bool done;
};

static delta_status libzip_fail(delta_status st, const char *what, zip_t *za)
{
    return dlt_fail(st, "%s: %s", what, zip_strerror(za));
}

delta_status delta_zip_writer_new(delta_zip_writer **out)
{
    if (!out) return dlt_fail(DELTA_ERR_ARG, "delta_zip_writer_new: out is NULL");
    *out = NULL;
    delta_zip_writer *w = calloc(1, sizeof *w);
    if (!w) return dlt_fail(DELTA_ERR_NOMEM, "cannot allocate a zip writer");
    zip_error_t err;
    zip_error_init(&err);
    w->buffer = zip_source_buffer_create(NULL, 0, 0, &err);
    if (w->buffer) {
        w->za = zip_open_from_source(w->buffer, ZIP_TRUNCATE, &err);
        if (w->za) zip_source_keep(w->buffer); /* the writer holds its own reference */
    }
    if (!w->buffer || !w->za) {
        dlt_fail(DELTA_ERR_NOMEM, "libzip cannot start an archive in memory: %s", zip_error_strerror(&err));
        zip_error_fini(&err);
        if (w->buffer) zip_source_free(w->buffer);
        free(w);
        return DELTA_ERR_NOMEM;
    }
    zip_error_fini(&err);
    w->archive_size = ZIP_EOCD_LEN;
    *out = w;
    return DELTA_OK;
}

delta_status delta_zip_writer_add(delta_zip_writer *w, const char *name, const void *data, size_t len)
{
    if (!w || !name || (!data && len)) return dlt_fail(DELTA_ERR_ARG, "delta_zip_writer_add: NULL argument");
    if (w->done) return dlt_fail(DELTA_ERR_ARG, "delta_zip_writer_add: the archive is already finished");
    size_t name_len = strlen(name);
    if (!delta_zip_name_ok(name, name_len))
        return dlt_fail(DELTA_ERR_ARG, "member name \"%.*s\" is not allowed (1..%d bytes of [A-Za-z0-9._/-], "
                                         "no empty, \".\" or \"..\" component)",
                          name_len > DELTA_ZIP_MAX_NAME ? DELTA_ZIP_MAX_NAME : (int)name_len, name,
                          DELTA_ZIP_MAX_NAME);
    if (w->count == DELTA_ZIP_MAX_MEMBERS)
        return dlt_fail(DELTA_ERR_LIMIT, "an archive holds at most %d members", DELTA_ZIP_MAX_MEMBERS);
    if (len > DELTA_ZIP_MAX_MEMBER_SIZE)
        return dlt_fail(DELTA_ERR_LIMIT, "member %s of %zu bytes exceeds the 2 GiB limit", name, len);
    uint64_t grown;
    if (!dlt_add_u64(w->archive_size, ZIP_LOCAL_LEN + ZIP_CENTRAL_LEN + 2 * (uint64_t)name_len + len, &grown) ||
        grown > ZIP_ARCHIVE_MAX)
        return dlt_fail(DELTA_ERR_LIMIT, "member %s would make the archive exceed 4 GiB", name);
    if (zip_name_locate(w->za, name, ZIP_FL_ENC_RAW) >= 0)
        return dlt_fail(DELTA_ERR_ARG, "member %s is added twice", name);

    void *copy = NULL;
    if (len) {
        copy = malloc(len);
        if (!copy) return dlt_fail(DELTA_ERR_NOMEM, "cannot copy %zu bytes of member %s", len, name);
        memcpy(copy, data, len);
    }
    zip_source_t *src = zip_source_buffer(w->za, copy, len, 1); /* libzip frees copy */
    if (!src) {
        free(copy);
        return libzip_fail(DELTA_ERR_NOMEM, "libzip cannot take a member's data", w->za);
    }
    zip_int64_t idx = zip_file_add(w->za, name, src, ZIP_FL_ENC_RAW);
    if (idx < 0) {
        zip_source_free(src);
        return libzip_fail(DELTA_ERR_INTERNAL, "libzip cannot add a member", w->za);
    }
    /* From here the member is in the archive; a failure leaves it there,
     * so the writer is only good for _free afterwards. */
    if (zip_set_file_compression(w->za, (zip_uint64_t)idx, ZIP_CM_STORE, 0) != 0 ||
        zip_file_set_dostime(w->za, (zip_uint64_t)idx, ZIP_DOS_TIME, ZIP_DOS_DATE, 0) != 0) {
        w->done = true;
        return libzip_fail(DELTA_ERR_INTERNAL, "libzip cannot set a member's method or time", w->za);
    }
    w->count++;
    w->archive_size = grown;
    return DELTA_OK;
}

delta_status delta_zip_writer_finish(delta_zip_writer *w, delta_buf *out)
{
    if (!w || !out) return dlt_fail(DELTA_ERR_ARG, "delta_zip_writer_finish: NULL argument");
    if (w->done) return dlt_fail(DELTA_ERR_ARG, "delta_zip_writer_finish: the archive is already finished");
    if (w->count == 0) return dlt_fail(DELTA_ERR_ARG, "an archive needs at least one member");
    w->done = true;
    if (zip_close(w->za) != 0) return libzip_fail(DELTA_ERR_NOMEM, "libzip cannot write the archive", w->za);
    w->za = NULL;

    zip_stat_t st;
    zip_stat_init(&st);
    if (zip_source_stat(w->buffer, &st) != 0 || !(st.valid & ZIP_STAT_SIZE) || st.size > ZIP_ARCHIVE_MAX)
        return dlt_fail(DELTA_ERR_INTERNAL, "the written archive has no usable size");
    size_t size = (size_t)st.size, start = out->len;
    delta_status rc = delta_buf_reserve(out, size);
    if (rc) return rc;
    if (zip_source_open(w->buffer) != 0)
        return dlt_fail(DELTA_ERR_INTERNAL, "the written archive cannot be reopened");
    zip_int64_t n = zip_source_read(w->buffer, out->data + start, size);
    zip_source_close(w->buffer);
    if (n < 0 || (size_t)n != size)
        return dlt_fail(DELTA_ERR_INTERNAL, "the written archive reads back short");

    /* What we hand out, we must accept. */
    delta_source check;
    delta_source_from_memory(&check, out->data + start, size);
    delta_zip *zip = NULL;
    rc = delta_zip_open(&check, &zip);
    size_t count = delta_zip_count(zip);
    delta_zip_free(zip);
    if (rc == DELTA_ERR_NOMEM) return rc;
    if (rc || count != w->count)
        return dlt_fail(DELTA_ERR_INTERNAL, "the written archive fails the reader: %s", delta_last_error());
    out->len = start + size;
    return DELTA_OK;
}

void delta_zip_writer_free(delta_zip_writer *w)
{
    if (!w) return;
    if (w->za) zip_discard(w->za);
    if (w->buffer) zip_source_free(w->buffer);
    free(w);
}
