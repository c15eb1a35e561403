/*
 * The tools' JSON reports (libdelta/report.h): every key of the schemas in
 * formats/schema/ is written here and nowhere else.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/internal.h"
#include "libdelta/report.h"

int delta_exit_status(delta_status status)
{
    if (status == DELTA_OK) return 0;
    int code = delta_dfota_code(status);
    return code > 500 && code <= 599 ? code - 500 : 1;
}

/* ---- building a document ------------------------------------------------- */

/* A document being built: the first failure stops every later step. */
typedef struct doc {
    json_t *root;
    delta_status st;
} doc;

static void nomem(doc *d)
{
    if (!d->st) d->st = dlt_fail(DELTA_ERR_NOMEM, "report: out of memory");
}

/* Sets obj[key] = value (taking value); NULL value: out of memory. */
static void put(doc *d, json_t *obj, const char *key, json_t *value)
{
    if (d->st || !obj) {
        json_decref(value);
        return;
    }
    if (!value || json_object_set_new(obj, key, value)) nomem(d);
}

static void put_uint(doc *d, json_t *obj, const char *key, uint64_t v)
{
    if (v > (uint64_t)INT64_MAX) {
        if (!d->st) d->st = dlt_fail(DELTA_ERR_ARG, "report: %s %llu is beyond INT64_MAX", key, (unsigned long long)v);
        return;
    }
    put(d, obj, key, json_integer((json_int_t)v));
}

static void put_bool(doc *d, json_t *obj, const char *key, int v) { put(d, obj, key, json_boolean(v)); }

/* Length of the valid UTF-8 sequence at s, 0 when it is not one. */
static size_t utf8_seq(const unsigned char *s)
{
    unsigned c = s[0];
    if (c < 0x80) return 1;
    size_t n;
    uint32_t cp, min;
    if (c >= 0xC2 && c <= 0xDF) n = 2, cp = c & 0x1F, min = 0x80;
    else if ((c & 0xF0) == 0xE0) n = 3, cp = c & 0x0F, min = 0x800;
    else if (c >= 0xF0 && c <= 0xF4) n = 4, cp = c & 0x07, min = 0x10000;
    else return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0; /* the NUL too */
        cp = cp << 6 | (s[i] & 0x3F);
    }
    return cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF) ? 0 : n;
}

/* A JSON string of s; bytes that are not UTF-8 (a path) become U+FFFD. */
static json_t *string_of(const char *s)
{
    json_t *j = json_string(s);
    if (j) return j;
    size_t len = strlen(s);
    char *clean = len < SIZE_MAX / 3 ? malloc(3 * len + 1) : NULL;
    if (!clean) return NULL;
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        size_t n = utf8_seq(p);
        if (n) {
            memcpy(clean + o, p, n);
            o += n;
            p += n;
        } else {
            memcpy(clean + o, "\xEF\xBF\xBD", 3);
            o += 3;
            p++;
        }
    }
    clean[o] = '\0';
    j = json_string(clean);
    free(clean);
    return j;
}

static void put_str(doc *d, json_t *obj, const char *key, const char *s) { put(d, obj, key, string_of(s)); }

/* A new object, added to arr (NULL after a failure). */
static json_t *append_object(doc *d, json_t *arr)
{
    if (d->st) return NULL;
    json_t *o = json_object();
    if (!o || json_array_append_new(arr, o)) {
        nomem(d);
        return NULL;
    }
    return o;
}

/* {"schema": "libdelta-<tool>/<major>"}: the one place the value is made. */
static void start(doc *d, const char *tool)
{
    d->st = DELTA_OK;
    d->root = json_object();
    if (!d->root) {
        nomem(d);
        return;
    }
    char schema[48];
    snprintf(schema, sizeof schema, "libdelta-%s/%d", tool, DELTA_REPORT_SCHEMA_VERSION);
    put_str(d, d->root, "schema", schema);
}

/* "code", "exit", "status" and, on failure, "message". */
static void put_status(doc *d, delta_status status, const char *message)
{
    put(d, d->root, "code", json_integer(delta_dfota_code(status)));
    put(d, d->root, "exit", json_integer(delta_exit_status(status)));
    if (status == DELTA_OK) {
        put_str(d, d->root, "status", "ok");
        return;
    }
    put_str(d, d->root, "status", delta_strerror(status));
    if (!message || !*message) message = delta_last_error();
    put_str(d, d->root, "message", *message ? message : delta_strerror(status));
}

/* Appends the text of the finished document, a newline and a NUL (not counted). */
static delta_status finish(doc *d, delta_buf *out)
{
    char *text = d->st ? NULL : json_dumps(d->root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(d->root);
    d->root = NULL;
    if (d->st) return d->st;
    if (!text) return dlt_fail(DELTA_ERR_NOMEM, "report: out of memory");
    size_t len = strlen(text);
    delta_status st = delta_buf_reserve(out, len + 2); /* then the appends cannot fail */
    if (!st) {
        delta_buf_append(out, text, len);
        delta_buf_append(out, "\n", 1);
        out->data[out->len] = '\0';
    }
    free(text);
    return st;
}

/* ---- the package --------------------------------------------------------- */

/* No default case: a new state without a word is a compiler warning. */
static const char *signature_word(delta_signature_state state)
{
    switch (state) {
    case DELTA_SIGNATURE_VERIFIED: return "verified";
    case DELTA_SIGNATURE_UNCHECKED: return "signed";
    case DELTA_SIGNATURE_NONE: break;
    }
    return "unsigned";
}

static void put_image(doc *d, json_t *o, const delta_package *pkg, size_t i)
{
    const delta_manifest_image *im = &delta_package_manifest(pkg)->images[i];
    const delta_plan_report *r = delta_package_report(pkg, i);
    delta_source ps;
    delta_patch_info info;
    delta_package_patch(pkg, i, &ps);
    int inplace = delta_patch_read_info(&ps, &info) == DELTA_OK && (info.flags & DELTA_PATCH_INPLACE);
    put_str(d, o, "name", im->name);
    put_uint(d, o, "source_size", im->source_size);
    put_uint(d, o, "target_size", im->target_size);
    put_uint(d, o, "slot_size", im->slot_size);
    put_uint(d, o, "patch_bytes", im->patch_size);
    put_str(d, o, "compression", im->compression);
    put_uint(d, o, "block_size", im->block_size);
    put_bool(d, o, "inplace", inplace);
    put_uint(d, o, "blocks_written", r->blocks_written);
    put_uint(d, o, "stashes", r->stashes);
    put_uint(d, o, "max_stash_live", r->max_stash_live);
    put_uint(d, o, "scratch_bytes", r->scratch_bytes);
    put_uint(d, o, "ram_bytes", r->ram_bytes);
}

/* The package's keys, shared by the three reports; returns "images" (NULL after a failure). */
static json_t *put_package(doc *d, const delta_package *pkg, uint64_t *bytes)
{
    const delta_manifest *m = delta_package_manifest(pkg);
    if (bytes) put_uint(d, d->root, "package_bytes", *bytes);
    put_str(d, d->root, "project", m->project);
    put_str(d, d->root, "source_version", m->source_version);
    put_str(d, d->root, "target_version", m->target_version);
    put_str(d, d->root, "created_by", m->created_by);
    put_str(d, d->root, "signature", signature_word(delta_package_signature_state(pkg)));
    put_uint(d, d->root, "space_needed", m->space_needed);
    json_t *images = json_array();
    put(d, d->root, "images", images);
    if (d->st) return NULL;
    for (size_t i = 0; i < m->image_count && !d->st; i++) put_image(d, append_object(d, images), pkg, i);
    return d->st ? NULL : images;
}

static void put_state_area(doc *d, const delta_manifest *m)
{
    delta_update_layout l;
    delta_update_layout_of(m, &l);
    json_t *o = json_object();
    put(d, d->root, "state_area", o);
    if (d->st) return;
    put_uint(d, o, "manifest_copy_bytes", l.work_offset - l.manifest_offset);
    put_uint(d, o, "work_bytes", l.patch_offset[0] - l.work_offset);
    put_uint(d, o, "patch_copy_bytes", l.patch_bytes);
    put_uint(d, o, "rollback_backup_bytes", l.backup_bytes);
    put_uint(d, o, "scratch_bytes", l.scratch_bytes);
    put_uint(d, o, "journal_bytes", l.state_bytes);
    put_uint(d, o, "total_bytes", l.space_needed);
}

/* ---- mkdelta --------------------------------------------------------------- */

DLT_DEFINE_INIT(delta_mkdelta_report, DELTA_MKDELTA_REPORT_INIT, DELTA_MKDELTA_REPORT_VERSION)

static delta_status mkdelta_check(const delta_mkdelta_report *r)
{
    if (!r->output) return dlt_fail(DELTA_ERR_ARG, "mkdelta report: no output");
    int package = r->format == DELTA_REPORT_FORMAT_PACKAGE;
    if (!package && r->format != DELTA_REPORT_FORMAT_BSDIFF40)
        return dlt_fail(DELTA_ERR_ARG, "mkdelta report: unknown format %d", (int)r->format);
    if (!package && (r->package || r->make))
        return dlt_fail(DELTA_ERR_ARG, "mkdelta report: a BSDIFF40 patch has no package");
    if (package && (r->source_size || r->target_size || r->patch_bytes))
        return dlt_fail(DELTA_ERR_ARG, "mkdelta report: source_size, target_size and patch_bytes are a "
                          "BSDIFF40 patch's");
    if (r->status || !package) return DELTA_OK;
    if (!r->package) return dlt_fail(DELTA_ERR_ARG, "mkdelta report: a package made needs its package");
    size_t n = delta_package_manifest(r->package)->image_count;
    if (r->make && r->make->image_count != n)
        return dlt_fail(DELTA_ERR_ARG, "mkdelta report: statistics of %zu images for a package of %zu",
                          r->make->image_count, n);
    return DELTA_OK;
}

delta_status delta_mkdelta_report_write(const delta_mkdelta_report *r, delta_buf *out)
{
    if (!r || !out) return dlt_fail(DELTA_ERR_ARG, "mkdelta report: no report or no buffer");
    delta_status st = dlt_check_version("delta_mkdelta_report", r->version, DELTA_MKDELTA_REPORT_VERSION);
    if (!st) st = mkdelta_check(r);
    if (st) return st;
    int package = r->format == DELTA_REPORT_FORMAT_PACKAGE;
    doc d;
    start(&d, "mkdelta");
    put_str(&d, d.root, "output", r->output);
    put_str(&d, d.root, "format", package ? "package" : "bsdiff40");
    /* On failure the schema has the status alone. */
    if (!r->status && package) {
        uint64_t bytes = r->package_bytes;
        json_t *images = put_package(&d, r->package, &bytes);
        for (size_t i = 0; r->make && images && i < r->make->image_count; i++) {
            const delta_patch_stats *s = &r->make->stats[i];
            json_t *im = json_array_get(images, i);
            put_uint(&d, im, "commands", s->commands);
            put_uint(&d, im, "literal_conversions", s->literal_conversions);
            put_uint(&d, im, "copy_bytes", s->copy_bytes);
            put_uint(&d, im, "extra_bytes", s->extra_bytes);
            put_uint(&d, im, "ctrl_bytes", s->ctrl_bytes);
            put_uint(&d, im, "diff_bytes", s->diff_bytes);
            put_uint(&d, im, "extra_stream_bytes", s->extra_stream_bytes);
            put_uint(&d, im, "predicted_segments", s->predicted_segments);
            put_uint(&d, im, "map_entries", s->map_entries);
        }
    } else if (!r->status) {
        put_uint(&d, d.root, "source_size", r->source_size);
        put_uint(&d, d.root, "target_size", r->target_size);
        put_uint(&d, d.root, "patch_bytes", r->patch_bytes);
    }
    put_status(&d, r->status, r->message);
    return finish(&d, out);
}

/* ---- verifydelta ------------------------------------------------------------ */

DLT_DEFINE_INIT(delta_verifydelta_report, DELTA_VERIFYDELTA_REPORT_INIT, DELTA_VERIFYDELTA_REPORT_VERSION)

delta_status delta_verifydelta_report_write(const delta_verifydelta_report *r, delta_buf *out)
{
    if (!r || !out) return dlt_fail(DELTA_ERR_ARG, "verifydelta report: no report or no buffer");
    delta_status st = dlt_check_version("delta_verifydelta_report", r->version, DELTA_VERIFYDELTA_REPORT_VERSION);
    if (st) return st;
    if (!r->path) return dlt_fail(DELTA_ERR_ARG, "verifydelta report: no package path");
    doc d;
    start(&d, "verifydelta");
    put_str(&d, d.root, "package", r->path);
    if (r->package) {
        uint64_t bytes = r->package_bytes;
        put_package(&d, r->package, &bytes);
        put_state_area(&d, delta_package_manifest(r->package));
        put_bool(&d, d.root, "source_checked", r->source_checked);
    }
    if (r->dry_run)
        put_str(&d, d.root, "dry_run", r->status ? "failed" : "every target rebuilt and its SHA-256 checked");
    put_status(&d, r->status, r->message);
    return finish(&d, out);
}

/* ---- applydelta ---------------------------------------------------------------- */

DLT_DEFINE_INIT(delta_applydelta_report, DELTA_APPLYDELTA_REPORT_INIT, DELTA_APPLYDELTA_REPORT_VERSION)

static delta_status applydelta_check(const delta_applydelta_report *r)
{
    if (r->mode != DELTA_REPORT_MODE_IN_PLACE && r->mode != DELTA_REPORT_MODE_OUT_OF_PLACE &&
        r->mode != DELTA_REPORT_MODE_BSDIFF40)
        return dlt_fail(DELTA_ERR_ARG, "applydelta report: unknown mode %d", (int)r->mode);
    if (!r->path) return dlt_fail(DELTA_ERR_ARG, "applydelta report: no package or patch path");
    if (r->file_count && !r->files) return dlt_fail(DELTA_ERR_ARG, "applydelta report: %zu files, none given",
                                                      r->file_count);
    for (size_t i = 0; i < r->file_count; i++)
        if (!r->files[i].path) return dlt_fail(DELTA_ERR_ARG, "applydelta report: file %zu has no path", i);
    if (r->package && r->mode != DELTA_REPORT_MODE_OUT_OF_PLACE)
        return dlt_fail(DELTA_ERR_ARG, "applydelta report: only out of place reports the package");
    if (r->package && delta_package_manifest(r->package)->image_count != r->file_count)
        return dlt_fail(DELTA_ERR_ARG, "applydelta report: %zu outputs for a package of %zu images",
                          r->file_count, delta_package_manifest(r->package)->image_count);
    if (r->result && r->mode != DELTA_REPORT_MODE_IN_PLACE)
        return dlt_fail(DELTA_ERR_ARG, "applydelta report: only in place has an update session");
    if (r->mode == DELTA_REPORT_MODE_BSDIFF40 && r->file_count > 1)
        return dlt_fail(DELTA_ERR_ARG, "applydelta report: a BSDIFF40 patch writes one file, not %zu",
                          r->file_count);
    if (r->mode != DELTA_REPORT_MODE_BSDIFF40 && r->target_size)
        return dlt_fail(DELTA_ERR_ARG, "applydelta report: target_size is a BSDIFF40 patch's");
    if (r->status == DELTA_OK && r->mode == DELTA_REPORT_MODE_IN_PLACE &&
        (!r->result || !r->file_count || !r->result->source_version[0] || !r->result->target_version[0]))
        return dlt_fail(DELTA_ERR_ARG, "applydelta report: an update made needs its images and the "
                          "session's result");
    return DELTA_OK;
}

delta_status delta_applydelta_report_write(const delta_applydelta_report *r, delta_buf *out)
{
    if (!r || !out) return dlt_fail(DELTA_ERR_ARG, "applydelta report: no report or no buffer");
    delta_status st = dlt_check_version("delta_applydelta_report", r->version, DELTA_APPLYDELTA_REPORT_VERSION);
    if (!st) st = applydelta_check(r);
    if (st) return st;
    static const char *const modes[] = {"in_place", "out_of_place", "bsdiff40"};
    int bsdiff = r->mode == DELTA_REPORT_MODE_BSDIFF40;
    doc d;
    start(&d, "applydelta");
    put_str(&d, d.root, "mode", modes[r->mode]);
    put_str(&d, d.root, bsdiff ? "patch" : "package", r->path);
    if (r->mode == DELTA_REPORT_MODE_OUT_OF_PLACE && r->package) {
        json_t *images = put_package(&d, r->package, NULL);
        for (size_t i = 0; images && i < r->file_count; i++)
            put_str(&d, json_array_get(images, i), "file", r->files[i].path);
    } else if (r->file_count && !d.st) { /* in place, bsdiff40: {"name": NAME or null, "file": FILE} */
        json_t *files = json_array();
        put(&d, d.root, "images", files);
        for (size_t i = 0; i < r->file_count && !d.st; i++) {
            json_t *f = append_object(&d, files);
            const char *name = bsdiff ? NULL : r->files[i].name;
            put(&d, f, "name", name ? string_of(name) : json_null());
            put_str(&d, f, "file", r->files[i].path);
            if (bsdiff && !r->status) put_uint(&d, f, "target_size", r->target_size);
        }
    }
    const delta_update_result *res = r->result;
    if (res) {
        if (res->source_version[0]) put_str(&d, d.root, "source_version", res->source_version);
        if (res->target_version[0]) put_str(&d, d.root, "target_version", res->target_version);
        put_bool(&d, d.root, "resumed", res->before != DELTA_UPDATE_NONE);
        put_bool(&d, d.root, "already_current", !r->status && res->already);
        put_uint(&d, d.root, "tries", res->tries);
    }
    put_status(&d, r->status, r->message);
    return finish(&d, out);
}
