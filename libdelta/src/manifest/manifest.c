/*
 * The package manifest: canonical JSON writer and strict reader
 * (formats/manifest.md is the normative text).
 *
 * Both directions share one value validator (validate()), so whatever the
 * writer accepts the reader accepts, and the other way round. The reader
 * first extracts the document into the struct, checking presence, JSON
 * types, unknown keys and the caps that protect the struct itself (string
 * lengths, integer ranges, the image count before allocating); then the
 * validator checks every value rule. The writer runs only the validator,
 * with DELTA_ERR_ARG instead of DELTA_ERR_MANIFEST.
 */
#include <stdio.h>
#include <stdlib.h>

#include <jansson.h>

#include "common/internal.h"
#include "libdelta/container.h"
#include "libdelta/manifest.h"

#define CAP_SIZE DELTA_MAX_IMAGE_SIZE   /* image, slot and patch sizes */
#define CAP_COUNT (UINT64_C(1) << 40)   /* space, scratch, state, memory, counts */
#define MIN_BLOCK 512u
#define MAX_BLOCK (1024u * 1024u)
#define PATCH_FORMAT "ldpatch1"

int delta_manifest_string_ok(const char *s)
{
    if (!s) return 0;
    size_t n = 0;
    for (; s[n]; n++) {
        unsigned char c = (unsigned char)s[n];
        if (n >= DELTA_MAX_STRING || c < 0x21 || c > 0x7e || c == '"' || c == '\\') return 0;
    }
    return n >= 1;
}

int delta_manifest_image_name_ok(const char *s)
{
    if (!s) return 0;
    size_t n = 0;
    for (; s[n]; n++) {
        char c = s[n];
        int ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                 c == '.' || c == '_' || c == '-';
        if (n >= DELTA_MAX_STRING || !ok) return 0;
    }
    if (n == 0) return 0;
    return strcmp(s, ".") != 0 && strcmp(s, "..") != 0;
}

/* created_by names a tool and its version ("mkdelta 0.1.0"): like the other
 * strings, but spaces are allowed. */
static int created_by_ok(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++) {
        unsigned char c = (unsigned char)s[n];
        if (n >= DELTA_MAX_STRING || c < 0x20 || c > 0x7e || c == '"' || c == '\\') return 0;
    }
    return n >= 1;
}

/* 1 when a fixed char array holds a NUL-terminated string. */
static int terminated(const char *s, size_t cap)
{
    return memchr(s, '\0', cap) != NULL;
}

static int pow2_block(uint64_t v)
{
    return v >= MIN_BLOCK && v <= MAX_BLOCK && (v & (v - 1)) == 0;
}

/* ---- the shared value validator ---- */

#define FIELD_STR(st, path, field, rule, what)                                                 \
    do {                                                                                       \
        if (!terminated(field, sizeof(field)) || !rule(field))                                 \
            return dlt_fail(st, "manifest: %s: %s", path, what);                             \
    } while (0)

static const char STRING_RULE[] = "not 1..64 printable ASCII characters without spaces, quotes or backslashes";
static const char NAME_RULE[] = "not 1..64 characters of [A-Za-z0-9._-] (and not \".\" or \"..\")";

static delta_status check_u64(delta_status st, const char *img, const char *field, uint64_t v,
                              uint64_t cap)
{
    if (v > cap)
        return dlt_fail(st, "manifest: %s%s: %llu exceeds the limit of %llu", img, field,
                          (unsigned long long)v, (unsigned long long)cap);
    return DELTA_OK;
}

static delta_status validate_image(const delta_manifest_image *im, size_t i, delta_status st)
{
    char p[32];
    snprintf(p, sizeof p, "images[%zu].", i);
    char path[64];
    delta_status r;

    snprintf(path, sizeof path, "%sname", p);
    FIELD_STR(st, path, im->name, delta_manifest_image_name_ok, NAME_RULE);
    if ((r = check_u64(st, p, "source.size", im->source_size, CAP_SIZE))) return r;
    if ((r = check_u64(st, p, "target.size", im->target_size, CAP_SIZE))) return r;
    if ((r = check_u64(st, p, "slot_size", im->slot_size, CAP_SIZE))) return r;

    if (!terminated(im->patch_member, sizeof im->patch_member) ||
        !delta_zip_name_ok(im->patch_member, strlen(im->patch_member)))
        return dlt_fail(st, "manifest: %spatch.member: not a valid zip member name "
                              "(1..128 of [A-Za-z0-9._/-], no empty, \".\" or \"..\" components)", p);
    if (!strcmp(im->patch_member, "manifest.json") || !strcmp(im->patch_member, "manifest.sig"))
        return dlt_fail(st, "manifest: %spatch.member: \"%s\" is reserved for the package itself",
                          p, im->patch_member);
    if ((r = check_u64(st, p, "patch.size", im->patch_size, CAP_SIZE))) return r;
    if (!terminated(im->patch_format, sizeof im->patch_format) ||
        strcmp(im->patch_format, PATCH_FORMAT) != 0)
        return dlt_fail(st, "manifest: %spatch.format: must be \"" PATCH_FORMAT "\"", p);
    if (!terminated(im->compression, sizeof im->compression) ||
        (strcmp(im->compression, "lzma2") != 0 && strcmp(im->compression, "lzrc") != 0 &&
         strcmp(im->compression, "none") != 0))
        return dlt_fail(st, "manifest: %spatch.compression: must be \"lzma2\", \"lzrc\" or \"none\"", p);

    if (!pow2_block(im->block_size))
        return dlt_fail(st, "manifest: %sapply.block_size: %lu is not a power of two in 512..1048576",
                          p, (unsigned long)im->block_size);
    if ((r = check_u64(st, p, "apply.scratch_bytes", im->scratch_bytes, CAP_COUNT))) return r;
    if ((r = check_u64(st, p, "apply.state_bytes", im->state_bytes, CAP_COUNT))) return r;
    if ((r = check_u64(st, p, "apply.decoder_memory", im->decoder_memory, CAP_COUNT))) return r;
    if ((r = check_u64(st, p, "apply.operations", im->operations, CAP_COUNT))) return r;
    if ((r = check_u64(st, p, "apply.blocks_written", im->blocks_written, CAP_COUNT))) return r;
    return DELTA_OK;
}

static delta_status validate(const delta_manifest *m, delta_status st)
{
    if (m->format_version != DELTA_MANIFEST_VERSION)
        return dlt_fail(st, "manifest: format_version: %lu is not %d", (unsigned long)m->format_version,
                          DELTA_MANIFEST_VERSION);
    FIELD_STR(st, "project", m->project, delta_manifest_string_ok, STRING_RULE);
    FIELD_STR(st, "source_version", m->source_version, delta_manifest_string_ok, STRING_RULE);
    FIELD_STR(st, "target_version", m->target_version, delta_manifest_string_ok, STRING_RULE);
    FIELD_STR(st, "created_by", m->created_by, created_by_ok,
              "not 1..64 printable ASCII characters without quotes or backslashes");
    if (m->space_needed == 0) return dlt_fail(st, "manifest: space_needed: must not be 0");
    delta_status r = check_u64(st, "", "space_needed", m->space_needed, CAP_COUNT);
    if (r) return r;
    if (m->image_count < 1 || m->image_count > DELTA_MANIFEST_MAX_IMAGES || !m->images)
        return dlt_fail(st, "manifest: images: %zu images, must be 1..%d", m->image_count,
                          DELTA_MANIFEST_MAX_IMAGES);
    for (size_t i = 0; i < m->image_count; i++) {
        const delta_manifest_image *im = &m->images[i];
        if ((r = validate_image(im, i, st))) return r;
        for (size_t j = 0; j < i; j++) {
            if (!strcmp(m->images[j].name, im->name))
                return dlt_fail(st, "manifest: images[%zu].name: \"%s\" is already the name of images[%zu]",
                                  i, im->name, j);
            if (!strcmp(m->images[j].patch_member, im->patch_member))
                return dlt_fail(st, "manifest: images[%zu].patch.member: \"%s\" is already the member of images[%zu]",
                                  i, im->patch_member, j);
        }
    }
    return DELTA_OK;
}

/* ---- writer ---- */

static json_t *hex_string(const uint8_t *bytes)
{
    char hex[2 * DELTA_SHA256_LEN + 1];
    delta_hex(bytes, DELTA_SHA256_LEN, hex);
    return json_string(hex);
}

static json_t *blob(uint64_t size, const uint8_t *sha256)
{
    return json_pack("{s:I,s:o}", "size", (json_int_t)size, "sha256", hex_string(sha256));
}

static json_t *image_json(const delta_manifest_image *im)
{
    return json_pack("{s:s,s:o,s:o,s:I,s:{s:s,s:I,s:o,s:s,s:s},s:{s:I,s:I,s:I,s:I,s:I,s:I}}",
                     "name", im->name,
                     "source", blob(im->source_size, im->source_sha256),
                     "target", blob(im->target_size, im->target_sha256),
                     "slot_size", (json_int_t)im->slot_size,
                     "patch",
                     "member", im->patch_member,
                     "size", (json_int_t)im->patch_size,
                     "sha256", hex_string(im->patch_sha256),
                     "format", im->patch_format,
                     "compression", im->compression,
                     "apply",
                     "block_size", (json_int_t)im->block_size,
                     "scratch_bytes", (json_int_t)im->scratch_bytes,
                     "state_bytes", (json_int_t)im->state_bytes,
                     "decoder_memory", (json_int_t)im->decoder_memory,
                     "operations", (json_int_t)im->operations,
                     "blocks_written", (json_int_t)im->blocks_written);
}

delta_status delta_manifest_write(const delta_manifest *m, delta_buf *out)
{
    if (!m || !out) return dlt_fail(DELTA_ERR_ARG, "manifest: write: null argument");
    delta_status st = validate(m, DELTA_ERR_ARG);
    if (st) return st;

    json_t *images = json_array();
    json_t *root = json_pack("{s:s,s:i,s:s,s:s,s:s,s:s,s:I,s:o}",
                             "format", DELTA_MANIFEST_FORMAT,
                             "format_version", DELTA_MANIFEST_VERSION,
                             "project", m->project,
                             "source_version", m->source_version,
                             "target_version", m->target_version,
                             "created_by", m->created_by,
                             "space_needed", (json_int_t)m->space_needed,
                             "images", images);
    if (!root) return dlt_fail(DELTA_ERR_NOMEM, "manifest: cannot build the json document");
    for (size_t i = 0; i < m->image_count; i++) {
        json_t *im = image_json(&m->images[i]);
        if (!im || json_array_append_new(images, im) != 0) {
            json_decref(root);
            return dlt_fail(DELTA_ERR_NOMEM, "manifest: cannot build images[%zu]", i);
        }
    }

    const size_t flags = JSON_SORT_KEYS | JSON_INDENT(2);
    size_t n = json_dumpb(root, NULL, 0, flags);
    if (n == 0) {
        json_decref(root);
        return dlt_fail(DELTA_ERR_NOMEM, "manifest: cannot serialise the json document");
    }
    if (n >= SIZE_MAX - 1 || (st = delta_buf_reserve(out, n + 1))) {
        json_decref(root);
        return st ? st : dlt_fail(DELTA_ERR_NOMEM, "manifest: document too large");
    }
    size_t written = json_dumpb(root, (char *)out->data + out->len, n, flags);
    json_decref(root);
    if (written != n) return dlt_fail(DELTA_ERR_INTERNAL, "manifest: serialised size changed");
    out->len += n;
    out->data[out->len++] = '\n';
    return DELTA_OK;
}

/* ---- reader: extraction ---- */

/* A key from the document, safe to print: at most 48 bytes, non-printables as '?'. */
static void printable(const char *key, char *out, size_t cap)
{
    size_t i = 0;
    for (; key[i] && i + 4 < cap && i < 48; i++) {
        unsigned char c = (unsigned char)key[i];
        out[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    if (key[i]) {
        memcpy(out + i, "...", 3);
        i += 3;
    }
    out[i] = '\0';
}

/* path is the object's own path ("" for the top level, "images[0].patch"). */
static delta_status no_unknown_keys(json_t *obj, const char *path, const char *const *known)
{
    const char *key;
    json_t *value;
    json_object_foreach(obj, key, value) {
        int found = 0;
        for (size_t k = 0; known[k]; k++)
            if (!strcmp(known[k], key)) found = 1;
        if (!found) {
            char safe[56];
            printable(key, safe, sizeof safe);
            return dlt_fail(DELTA_ERR_MANIFEST, "manifest: %s%s%s: unknown key", path,
                              *path ? "." : "", safe);
        }
    }
    return DELTA_OK;
}

static delta_status get(json_t *obj, const char *path, const char *key, json_t **out)
{
    *out = json_object_get(obj, key);
    if (!*out)
        return dlt_fail(DELTA_ERR_MANIFEST, "manifest: %s%s%s: missing", path, *path ? "." : "", key);
    return DELTA_OK;
}

static delta_status get_object(json_t *obj, const char *path, const char *key, json_t **out)
{
    delta_status st = get(obj, path, key, out);
    if (st) return st;
    if (!json_is_object(*out))
        return dlt_fail(DELTA_ERR_MANIFEST, "manifest: %s%s%s: not an object", path, *path ? "." : "", key);
    return DELTA_OK;
}

static delta_status get_uint(json_t *obj, const char *path, const char *key, uint64_t cap, uint64_t *out)
{
    json_t *v;
    delta_status st = get(obj, path, key, &v);
    if (st) return st;
    const char *dot = *path ? "." : "";
    if (!json_is_integer(v))
        return dlt_fail(DELTA_ERR_MANIFEST, "manifest: %s%s%s: not an integer", path, dot, key);
    json_int_t n = json_integer_value(v);
    if (n < 0) return dlt_fail(DELTA_ERR_MANIFEST, "manifest: %s%s%s: negative", path, dot, key);
    if ((uint64_t)n > cap)
        return dlt_fail(DELTA_ERR_MANIFEST, "manifest: %s%s%s: %lld exceeds the limit of %llu", path, dot,
                          key, (long long)n, (unsigned long long)cap);
    *out = (uint64_t)n;
    return DELTA_OK;
}

/* A string copied into dst[cap]; longer strings are refused here, the
 * character rules are the validator's. */
static delta_status get_string(json_t *obj, const char *path, const char *key, char *dst, size_t cap)
{
    json_t *v;
    delta_status st = get(obj, path, key, &v);
    if (st) return st;
    const char *dot = *path ? "." : "";
    if (!json_is_string(v))
        return dlt_fail(DELTA_ERR_MANIFEST, "manifest: %s%s%s: not a string", path, dot, key);
    size_t n = json_string_length(v);
    if (n >= cap)
        return dlt_fail(DELTA_ERR_MANIFEST, "manifest: %s%s%s: %zu bytes, longer than %zu", path, dot,
                          key, n, cap - 1);
    memcpy(dst, json_string_value(v), n);
    dst[n] = '\0';
    if (strlen(dst) != n) /* jansson refuses \u0000 by default; belt and braces */
        return dlt_fail(DELTA_ERR_MANIFEST, "manifest: %s%s%s: contains a NUL byte", path, dot, key);
    return DELTA_OK;
}

static delta_status get_sha256(json_t *obj, const char *path, const char *key, uint8_t *out)
{
    json_t *v;
    delta_status st = get(obj, path, key, &v);
    if (st) return st;
    const char *dot = *path ? "." : "";
    if (!json_is_string(v))
        return dlt_fail(DELTA_ERR_MANIFEST, "manifest: %s%s%s: not a string", path, dot, key);
    if (json_string_length(v) != 2 * DELTA_SHA256_LEN ||
        delta_unhex(json_string_value(v), out, DELTA_SHA256_LEN) != 0)
        return dlt_fail(DELTA_ERR_MANIFEST, "manifest: %s%s%s: not 64 lowercase hex digits", path, dot, key);
    return DELTA_OK;
}

static delta_status get_blob(json_t *img, const char *path, const char *key, uint64_t *size,
                             uint8_t *sha256)
{
    static const char *const known[] = {"size", "sha256", NULL};
    json_t *o;
    char p[64];
    delta_status st = get_object(img, path, key, &o);
    if (st) return st;
    snprintf(p, sizeof p, "%s.%s", path, key);
    if ((st = no_unknown_keys(o, p, known))) return st;
    if ((st = get_uint(o, p, "size", CAP_SIZE, size))) return st;
    return get_sha256(o, p, "sha256", sha256);
}

static delta_status get_image(json_t *img, size_t i, delta_manifest_image *im)
{
    static const char *const known[] = {"name", "source", "target", "slot_size", "patch", "apply", NULL};
    static const char *const patch_known[] = {"member", "size", "sha256", "format", "compression", NULL};
    static const char *const apply_known[] = {"block_size", "scratch_bytes", "state_bytes",
                                              "decoder_memory", "operations", "blocks_written", NULL};
    char path[32], p[48];
    snprintf(path, sizeof path, "images[%zu]", i);
    if (!json_is_object(img)) return dlt_fail(DELTA_ERR_MANIFEST, "manifest: %s: not an object", path);
    delta_status st = no_unknown_keys(img, path, known);
    if (st) return st;
    if ((st = get_string(img, path, "name", im->name, sizeof im->name))) return st;
    if ((st = get_blob(img, path, "source", &im->source_size, im->source_sha256))) return st;
    if ((st = get_blob(img, path, "target", &im->target_size, im->target_sha256))) return st;
    if ((st = get_uint(img, path, "slot_size", CAP_SIZE, &im->slot_size))) return st;

    json_t *o;
    if ((st = get_object(img, path, "patch", &o))) return st;
    snprintf(p, sizeof p, "%s.patch", path);
    if ((st = no_unknown_keys(o, p, patch_known))) return st;
    if ((st = get_string(o, p, "member", im->patch_member, sizeof im->patch_member))) return st;
    if ((st = get_uint(o, p, "size", CAP_SIZE, &im->patch_size))) return st;
    if ((st = get_sha256(o, p, "sha256", im->patch_sha256))) return st;
    if ((st = get_string(o, p, "format", im->patch_format, sizeof im->patch_format))) return st;
    if ((st = get_string(o, p, "compression", im->compression, sizeof im->compression))) return st;

    if ((st = get_object(img, path, "apply", &o))) return st;
    snprintf(p, sizeof p, "%s.apply", path);
    if ((st = no_unknown_keys(o, p, apply_known))) return st;
    uint64_t block;
    if ((st = get_uint(o, p, "block_size", MAX_BLOCK, &block))) return st;
    im->block_size = (uint32_t)block;
    if ((st = get_uint(o, p, "scratch_bytes", CAP_COUNT, &im->scratch_bytes))) return st;
    if ((st = get_uint(o, p, "state_bytes", CAP_COUNT, &im->state_bytes))) return st;
    if ((st = get_uint(o, p, "decoder_memory", CAP_COUNT, &im->decoder_memory))) return st;
    if ((st = get_uint(o, p, "operations", CAP_COUNT, &im->operations))) return st;
    return get_uint(o, p, "blocks_written", CAP_COUNT, &im->blocks_written);
}

static delta_status extract(json_t *root, delta_manifest *m)
{
    static const char *const known[] = {"format", "format_version", "project", "source_version",
                                        "target_version", "created_by", "space_needed", "images", NULL};
    json_t *v;
    delta_status st;

    if (!json_is_object(root))
        return dlt_fail(DELTA_ERR_MANIFEST, "manifest: the top level is not a json object");
    if ((st = get(root, "", "format", &v))) return st;
    if (!json_is_string(v) || strcmp(json_string_value(v), DELTA_MANIFEST_FORMAT) != 0 ||
        json_string_length(v) != strlen(DELTA_MANIFEST_FORMAT))
        return dlt_fail(DELTA_ERR_MANIFEST, "manifest: format: not \"" DELTA_MANIFEST_FORMAT "\"");
    if ((st = get(root, "", "format_version", &v))) return st;
    if (!json_is_integer(v))
        return dlt_fail(DELTA_ERR_MANIFEST, "manifest: format_version: not an integer");
    if (json_integer_value(v) != DELTA_MANIFEST_VERSION)
        return dlt_fail(DELTA_ERR_FORMAT_VERSION,
                          "manifest: format_version: version %lld is not supported (this library reads %d)",
                          (long long)json_integer_value(v), DELTA_MANIFEST_VERSION);
    m->format_version = DELTA_MANIFEST_VERSION;

    if ((st = no_unknown_keys(root, "", known))) return st;
    if ((st = get_string(root, "", "project", m->project, sizeof m->project))) return st;
    if ((st = get_string(root, "", "source_version", m->source_version, sizeof m->source_version))) return st;
    if ((st = get_string(root, "", "target_version", m->target_version, sizeof m->target_version))) return st;
    if ((st = get_string(root, "", "created_by", m->created_by, sizeof m->created_by))) return st;
    if ((st = get_uint(root, "", "space_needed", CAP_COUNT, &m->space_needed))) return st;

    if ((st = get(root, "", "images", &v))) return st;
    if (!json_is_array(v)) return dlt_fail(DELTA_ERR_MANIFEST, "manifest: images: not an array");
    size_t n = json_array_size(v);
    if (n < 1 || n > DELTA_MANIFEST_MAX_IMAGES)
        return dlt_fail(DELTA_ERR_MANIFEST, "manifest: images: %zu images, must be 1..%d", n,
                          DELTA_MANIFEST_MAX_IMAGES);
    m->images = calloc(n, sizeof *m->images);
    if (!m->images) return dlt_fail(DELTA_ERR_NOMEM, "manifest: cannot allocate %zu images", n);
    m->image_count = n;
    for (size_t i = 0; i < n; i++)
        if ((st = get_image(json_array_get(v, i), i, &m->images[i]))) return st;
    return DELTA_OK;
}

delta_status delta_manifest_parse(const void *json, size_t len, delta_manifest **out)
{
    if (!out || (!json && len)) return dlt_fail(DELTA_ERR_ARG, "manifest: parse: null argument");
    *out = NULL;
    if (len > DELTA_MANIFEST_MAX_BYTES)
        return dlt_fail(DELTA_ERR_MANIFEST, "manifest: %zu bytes exceeds the limit of %d", len,
                          DELTA_MANIFEST_MAX_BYTES);
    if (len == 0) return dlt_fail(DELTA_ERR_MANIFEST, "manifest: empty");

    json_error_t err;
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &err);
    if (!root) {
        /* jansson quotes the offending bytes: keep the message printable */
        for (char *c = err.text; *c; c++)
            if ((unsigned char)*c < 0x20 || (unsigned char)*c > 0x7e) *c = '?';
        return dlt_fail(DELTA_ERR_MANIFEST, "manifest: not valid json: line %d column %d: %s", err.line,
                          err.column, err.text);
    }

    delta_manifest *m = calloc(1, sizeof *m);
    if (!m) {
        json_decref(root);
        return dlt_fail(DELTA_ERR_NOMEM, "manifest: out of memory");
    }
    delta_status st = extract(root, m);
    json_decref(root);
    if (!st) st = validate(m, DELTA_ERR_MANIFEST);
    if (st) {
        delta_manifest_free(m);
        return st;
    }
    *out = m;
    return DELTA_OK;
}

void delta_manifest_free(delta_manifest *m)
{
    if (!m) return;
    free(m->images);
    free(m);
}
