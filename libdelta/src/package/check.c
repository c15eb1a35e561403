/* Opening a package: every check that needs no device image, in the contract's order. */
#include <stdio.h>
#include <stdlib.h>

#include <mbedtls/sha256.h>

#include "libdelta/sign.h"
#include "libdelta/update.h"
#include "package_internal.h"

delta_status dlt_hash_reader(read_fn read, void *ctx, uint64_t size, uint8_t *buf, size_t buf_len,
                         uint8_t out[DELTA_SHA256_LEN], delta_status on_error)
{
    dlt_sha256_ctx h;
    int bad = dlt_sha256_begin(&h);
    delta_status st = DELTA_OK;
    for (uint64_t off = 0; off < size; off += buf_len) {
        size_t n = size - off < buf_len ? (size_t)(size - off) : buf_len;
        if (read(ctx, off, buf, n) != DELTA_IO_OK) {
            st = dlt_fail(on_error, "reading %zu bytes at %llu failed", n, (unsigned long long)off);
            break;
        }
        bad |= dlt_sha256_step(&h, buf, n);
    }
    bad |= dlt_sha256_end(&h, out);
    if (!st && bad) st = dlt_fail(DELTA_ERR_INTERNAL, "SHA-256 failed");
    return st;
}

void delta_package_free(delta_package *pkg)
{
    if (!pkg) return;
    delta_zip_free(pkg->zip);
    delta_buf_free(&pkg->manifest_bytes);
    delta_manifest_free(pkg->manifest);
    free(pkg);
}

const delta_manifest *delta_package_manifest(const delta_package *pkg) { return pkg->manifest; }
const uint8_t *delta_package_id(const delta_package *pkg) { return pkg->id; }
delta_signature_state delta_package_signature_state(const delta_package *pkg) { return pkg->signature_state; }
/* DELTA_ERR_ARG unless i names one of pkg's images. */
static delta_status image_ok(const delta_package *pkg, size_t i, const char *what)
{
    if (!pkg) return dlt_fail(DELTA_ERR_ARG, "%s: no package", what);
    if (i >= pkg->manifest->image_count)
        return dlt_fail(DELTA_ERR_ARG, "%s: image %zu of a package of %zu", what, i, pkg->manifest->image_count);
    return DELTA_OK;
}

const delta_plan_report *delta_package_report(const delta_package *pkg, size_t i)
{
    return image_ok(pkg, i, "delta_package_report") ? NULL : &pkg->report[i];
}

void delta_package_patch(const delta_package *pkg, size_t i, delta_source *out)
{
    /* Out of range: an empty source (every read of a byte fails), as for a missing member. */
    int bad = image_ok(pkg, i, "delta_package_patch") != DELTA_OK;
    delta_zip_member_source(bad ? NULL : pkg->zip, bad ? NULL : pkg->patch[i], out);
}

int delta_package_find_image(const delta_package *pkg, const char *name)
{
    for (size_t i = 0; i < pkg->manifest->image_count; i++)
        if (strcmp(pkg->manifest->images[i].name, name) == 0) return (int)i;
    return -1;
}

/* Reads a small member whole, CRC- and size-checked. */
static delta_status read_member(delta_package *pkg, const delta_zip_member *m, size_t max, delta_status too_big,
                                delta_buf *out, uint8_t sha[DELTA_SHA256_LEN])
{
    if (m->size > max)
        return dlt_fail(too_big, "%s: %llu bytes (limit %zu)", m->name, (unsigned long long)m->size, max);
    delta_status st = delta_zip_hash_member(pkg->zip, m, sha);
    if (!st) st = delta_buf_reserve(out, (size_t)m->size + 1);
    if (!st) st = delta_zip_read(pkg->zip, m, 0, out->data, (size_t)m->size);
    if (!st) out->len = (size_t)m->size;
    return st;
}

/* 504: the signature over the raw manifest bytes, before they are parsed. */
static delta_status check_signature(delta_package *pkg, const delta_check_options *opt, const delta_buf *manifest)
{
    const delta_zip_member *sm = delta_zip_find(pkg->zip, DELTA_MEMBER_SIGNATURE);
    if (!sm) {
        if (opt->pubkey_pem) return dlt_fail(DELTA_ERR_SIGNATURE, "package is not signed (no %s) but a key is required",
                                               DELTA_MEMBER_SIGNATURE);
        pkg->signature_state = DELTA_SIGNATURE_NONE;
        return DELTA_OK;
    }
    pkg->signature_state = DELTA_SIGNATURE_UNCHECKED;
    delta_buf sig = DELTA_BUF_INIT;
    uint8_t sha[DELTA_SHA256_LEN];
    delta_status st = read_member(pkg, sm, DELTA_SIG_MAX_BYTES, DELTA_ERR_SIGNATURE, &sig, sha);
    if (!st && opt->pubkey_pem) {
        st = delta_verify(opt->pubkey_pem, opt->pubkey_len, manifest->data, manifest->len, sig.data, sig.len);
        if (st == DELTA_ERR_SIGNATURE) {
            /* Keep an encoding fault's own words ("ECDSA signature is not
             * strict DER: ..."); a mismatch needs no more than this. */
            char why[256];
            const char *e = delta_last_error();
            if (strncmp(e, "verify: ", 8) == 0) e += 8;
            snprintf(why, sizeof why, "%s", strncmp(e, "signature does not verify", 25) == 0 ? "" : e);
            st = dlt_fail(DELTA_ERR_SIGNATURE, "the manifest signature does not verify with the given key%s%s",
                            why[0] ? ": " : "", why);
        }
        if (!st) pkg->signature_state = DELTA_SIGNATURE_VERIFIED;
    }
    delta_buf_free(&sig);
    return st;
}

/* 504: exactly the members the manifest names, and nothing else. */
static delta_status check_members(delta_package *pkg)
{
    const delta_manifest *m = pkg->manifest;
    size_t expected = 1 + m->image_count + (delta_zip_find(pkg->zip, DELTA_MEMBER_SIGNATURE) != NULL);
    for (size_t i = 0; i < m->image_count; i++) {
        pkg->patch[i] = delta_zip_find(pkg->zip, m->images[i].patch_member);
        if (!pkg->patch[i])
            return dlt_fail(DELTA_ERR_MEMBERS, "member %s named by image %s is missing", m->images[i].patch_member,
                              m->images[i].name);
    }
    if (delta_zip_count(pkg->zip) != expected) {
        for (size_t z = 0; z < delta_zip_count(pkg->zip); z++) {
            const char *name = delta_zip_member_at(pkg->zip, z)->name;
            int known = !strcmp(name, DELTA_MEMBER_MANIFEST) || !strcmp(name, DELTA_MEMBER_SIGNATURE);
            for (size_t i = 0; i < m->image_count && !known; i++) known = !strcmp(name, m->images[i].patch_member);
            if (!known) return dlt_fail(DELTA_ERR_MEMBERS, "member %s is not listed in the manifest", name);
        }
        return dlt_fail(DELTA_ERR_MEMBERS, "%zu members, the manifest accounts for %zu", delta_zip_count(pkg->zip),
                          expected);
    }
    return DELTA_OK;
}

#define SAME(field, a, b)                                                                                   \
    if ((uint64_t)(a) != (uint64_t)(b))                                                                     \
        return dlt_fail(DELTA_ERR_MANIFEST, "images[%zu].%s: the manifest says %llu, the patch %llu", i, field, \
                          (unsigned long long)(a), (unsigned long long)(b));

/* The patch readers say DELTA_ERR_PACKAGE_READ (526) when the package cannot
 * be read: right while applying, but while it is being checked, a package file
 * that cannot be read is a local input failure (DELTA_ERR_INPUT), as it is for
 * the zip reader: nothing is known to be wrong with the package. */
static delta_status unreadable(delta_status st)
{
    return st == DELTA_ERR_PACKAGE_READ ? DELTA_ERR_INPUT : st;
}

/* 504: each patch's bytes, header and plan against the manifest. */
static delta_status check_patch(delta_package *pkg, size_t i, int require_inplace)
{
    const delta_manifest_image *im = &pkg->manifest->images[i];
    const delta_zip_member *zm = pkg->patch[i];
    if (zm->size != im->patch_size)
        return dlt_fail(DELTA_ERR_MEMBER_DATA, "%s: %llu bytes, the manifest says %llu", zm->name,
                          (unsigned long long)zm->size, (unsigned long long)im->patch_size);
    uint8_t sha[DELTA_SHA256_LEN];
    delta_status st = delta_zip_hash_member(pkg->zip, zm, sha);
    if (st) return st;
    if (memcmp(sha, im->patch_sha256, DELTA_SHA256_LEN) != 0)
        return dlt_fail(DELTA_ERR_MEMBER_DATA, "%s: SHA-256 differs from the manifest", zm->name);
    delta_source ps;
    delta_package_patch(pkg, i, &ps);
    return dlt_package_check_patch(pkg, i, &ps, require_inplace);
}

delta_status dlt_package_check_patch(delta_package *pkg, size_t i, const delta_source *ps, int require_inplace)
{
    const delta_manifest_image *im = &pkg->manifest->images[i];
    delta_patch_info *info = &pkg->info[i];
    delta_status st = delta_patch_read_info(ps, info);
    if (st) return unreadable(st);
    SAME("source.size", im->source_size, info->source_size);
    SAME("target.size", im->target_size, info->target_size);
    SAME("apply.block_size", im->block_size, info->block_size);
    SAME("apply.scratch_bytes", im->scratch_bytes, info->scratch_bytes);
    SAME("apply.state_bytes", im->state_bytes, info->state_bytes);
    SAME("apply.operations", im->operations, info->op_count);
    uint32_t comp = strcmp(im->compression, "lzma2") == 0  ? DELTA_COMPRESSION_LZMA2
                    : strcmp(im->compression, "lzrc") == 0 ? DELTA_COMPRESSION_LZRC
                                                           : DELTA_COMPRESSION_NONE;
    SAME("patch.compression", comp, info->compression);
    if (require_inplace && !(info->flags & DELTA_PATCH_INPLACE))
        return dlt_fail(DELTA_ERR_PLAN, "image %s: the patch has no in-place plan (made with --no-inplace): it "
                          "applies only out of place", im->name);
    st = delta_patch_prove(ps, &pkg->report[i]);
    if (st) return unreadable(st);
    SAME("apply.blocks_written", im->blocks_written, pkg->report[i].blocks_written);
    return DELTA_OK;
}

static delta_status open_checked(delta_package *pkg, const delta_check_options *opt)
{
    /* 1. Size: 550. */
    if (opt->max_package != UINT64_MAX && pkg->file->size > opt->max_package)
        return dlt_fail(DELTA_ERR_TOO_LARGE, "package of %llu bytes exceeds the device's limit of %llu",
                          (unsigned long long)pkg->file->size, (unsigned long long)opt->max_package);
    /* 2. Structure, signature, manifest, members: 504. */
    delta_status st = delta_zip_open(pkg->file, &pkg->zip);
    if (st) return st;
    const delta_zip_member *mm = delta_zip_find(pkg->zip, DELTA_MEMBER_MANIFEST);
    if (!mm) return dlt_fail(DELTA_ERR_MEMBERS, "package has no %s", DELTA_MEMBER_MANIFEST);
    delta_buf *manifest = &pkg->manifest_bytes;
    st = read_member(pkg, mm, DELTA_MANIFEST_MAX_BYTES, DELTA_ERR_MANIFEST, manifest, pkg->id);
    if (!st) st = check_signature(pkg, opt, manifest);
    if (!st) st = delta_manifest_parse(manifest->data, manifest->len, &pkg->manifest);
    if (st) return st;
    const delta_manifest *m = pkg->manifest;
    st = check_members(pkg);
    for (size_t i = 0; i < m->image_count && !st; i++) st = check_patch(pkg, i, opt->require_inplace);
    if (st) return st;
    delta_update_layout layout;
    delta_update_layout_of(m, &layout);
    uint64_t need = layout.space_needed;
    if (m->space_needed != need)
        return dlt_fail(DELTA_ERR_MANIFEST, "space_needed: the manifest says %llu, the patches need %llu",
                          (unsigned long long)m->space_needed, (unsigned long long)need);
    /* 3. Project and version: 505. */
    if (opt->project && strcmp(opt->project, m->project) != 0)
        return dlt_fail(DELTA_ERR_PROJECT, "package is for project %s, the device is %s", m->project, opt->project);
    if (opt->firmware_version && strcmp(opt->firmware_version, m->source_version) != 0)
        return dlt_fail(DELTA_ERR_VERSION, "package updates version %s, the device runs %s", m->source_version,
                          opt->firmware_version);
    /* 4. Space: 511. */
    if (opt->free_space != UINT64_MAX && m->space_needed > opt->free_space)
        return dlt_fail(DELTA_ERR_SPACE, "the update needs %llu bytes of state and scratch, the device has %llu",
                          (unsigned long long)m->space_needed, (unsigned long long)opt->free_space);
    for (size_t i = 0; i < m->image_count; i++)
        if (m->images[i].target_size > m->images[i].slot_size)
            return dlt_fail(DELTA_ERR_SLOT, "image %s: target of %llu bytes exceeds its %llu-byte slot",
                              m->images[i].name, (unsigned long long)m->images[i].target_size,
                              (unsigned long long)m->images[i].slot_size);
    return DELTA_OK;
}

DLT_DEFINE_INIT(delta_check_options, DELTA_CHECK_OPTIONS_INIT, DELTA_CHECK_OPTIONS_VERSION)

delta_status delta_package_open(const delta_source *file, const delta_check_options *opt_in, delta_package **out)
{
    if (!out) return dlt_fail(DELTA_ERR_ARG, "delta_package_open: out is NULL");
    *out = NULL;
    delta_check_options opt = DELTA_CHECK_OPTIONS_INIT;
    if (opt_in) opt = *opt_in;
    delta_status st0 = dlt_check_version("delta_check_options", opt.version, DELTA_CHECK_OPTIONS_VERSION);
    if (!st0) st0 = dlt_check_source(file, "delta_package_open: the package");
    if (st0) return st0;
    delta_package *pkg = calloc(1, sizeof *pkg);
    if (!pkg) return dlt_fail(DELTA_ERR_NOMEM, "out of memory");
    pkg->file = file;
    delta_status st = open_checked(pkg, &opt);
    if (st) {
        delta_package_free(pkg);
        return st;
    }
    *out = pkg;
    return DELTA_OK;
}

static int src_read(void *ctx, uint64_t off, void *buf, size_t len)
{
    const delta_source *s = ctx;
    return s->read(s->ctx, off, buf, len);
}

delta_status dlt_check_bytes(read_fn read, void *ctx, uint64_t size, uint64_t want_size, const uint8_t *want_sha,
                         delta_status fault, const char *name, const char *what)
{
    if (size != want_size)
        return dlt_fail(fault, "image %s: %s has %llu bytes, the package says %llu", name, what,
                          (unsigned long long)size, (unsigned long long)want_size);
    uint8_t buf[16384], sha[DELTA_SHA256_LEN];
    delta_status st = dlt_hash_reader(read, ctx, size, buf, sizeof buf, sha, DELTA_ERR_INPUT);
    if (st) return st;
    if (memcmp(sha, want_sha, DELTA_SHA256_LEN) != 0)
        return dlt_fail(fault, "image %s: %s SHA-256 differs from the package's", name, what);
    return DELTA_OK;
}

delta_status delta_package_check_slot(const delta_package *pkg, size_t i, uint64_t capacity)
{
    delta_status st = image_ok(pkg, i, "delta_package_check_slot");
    if (st) return st;
    const delta_manifest_image *im = &pkg->manifest->images[i];
    if (im->target_size > capacity)
        return dlt_fail(DELTA_ERR_SLOT, "image %s: target of %llu bytes does not fit the %llu-byte region", im->name,
                          (unsigned long long)im->target_size, (unsigned long long)capacity);
    return DELTA_OK;
}

delta_status delta_package_check_source(const delta_package *pkg, size_t i, const delta_source *src)
{
    delta_status st = image_ok(pkg, i, "delta_package_check_source");
    if (!st) st = dlt_check_source(src, "the source image");
    if (st) return st;
    const delta_manifest_image *im = &pkg->manifest->images[i];
    return dlt_check_bytes(src_read, (void *)src, src->size, im->source_size, im->source_sha256, DELTA_ERR_SOURCE,
                       im->name, "the source");
}

delta_status delta_package_check_target(const delta_package *pkg, size_t i, const delta_source *written)
{
    delta_status st = image_ok(pkg, i, "delta_package_check_target");
    if (!st) st = dlt_check_source(written, "the written image");
    if (st) return st;
    const delta_manifest_image *im = &pkg->manifest->images[i];
    return dlt_check_bytes(src_read, (void *)written, written->size, im->target_size, im->target_sha256,
                       DELTA_ERR_TARGET, im->name, "the written target");
}
