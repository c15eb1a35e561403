/* Making a package: diff, plan and encode each image, write the manifest,
 * sign it, zip it all (formats/package.md). */
#include <stdio.h>
#include <stdlib.h>

#include "libdelta/sign.h"
#include "libdelta/update.h"
#include "package_internal.h"

/* Tells the caller's progress callback that a stage begins. */
static delta_status stage(const delta_make_options *opt, delta_make_stage s, size_t image, size_t count)
{
    if (opt->progress && opt->progress(opt->progress_ctx, s, image, count))
        return dlt_fail(DELTA_ERR_CANCELLED, "stopped by the progress callback");
    return DELTA_OK;
}

static delta_status make_image(const delta_make_options *opt, const delta_make_image *in, size_t index,
                               size_t count, delta_manifest_image *im, delta_buf *patch, delta_patch_stats *stats)
{
    if (!delta_manifest_image_name_ok(in->name))
        return dlt_fail(DELTA_ERR_ARG, "image name '%s' is not 1..64 of [A-Za-z0-9._-]", in->name);
    if (in->source_len > DELTA_MAX_IMAGE_SIZE || in->target_len > DELTA_MAX_IMAGE_SIZE)
        return dlt_fail(DELTA_ERR_LIMIT, "image %s: images over 2 GiB are not supported", in->name);
    delta_op *ops = NULL;
    size_t nops = 0;
    delta_status st = stage(opt, DELTA_MAKE_DIFF, index, count);
    if (!st) st = delta_diff(in->source, in->source_len, in->target, in->target_len, &opt->diff, &ops, &nops);
    if (!st) st = stage(opt, DELTA_MAKE_ENCODE, index, count);
    if (!st) st = delta_patch_make(in->source, in->source_len, in->target, in->target_len, ops, nops, &opt->patch,
                                   patch, stats);
    delta_ops_free(ops);
    if (st) return st;

    /* Prove our own output before anyone ships it. */
    delta_source ps;
    delta_source_from_memory(&ps, patch->data, patch->len);
    delta_patch_info info;
    delta_plan_report rep;
    st = stage(opt, DELTA_MAKE_PROVE, index, count);
    if (st) return st;
    st = delta_patch_read_info(&ps, &info);
    if (!st) st = delta_patch_prove(&ps, &rep);
    if (st == DELTA_ERR_NOMEM) return st;
    if (st) return dlt_fail(DELTA_ERR_INTERNAL, "image %s: the new patch fails its own proof: %s", in->name,
                              delta_last_error());

    memset(im, 0, sizeof *im);
    snprintf(im->name, sizeof im->name, "%s", in->name);
    im->source_size = in->source_len;
    delta_sha256(in->source, in->source_len, im->source_sha256);
    im->target_size = in->target_len;
    delta_sha256(in->target, in->target_len, im->target_sha256);
    uint64_t bs = info.block_size, big = in->source_len > in->target_len ? in->source_len : in->target_len;
    im->slot_size = in->slot_size ? in->slot_size : (big + bs - 1) / bs * bs;
    snprintf(im->patch_member, sizeof im->patch_member, "%s.ldp", in->name);
    im->patch_size = patch->len;
    delta_sha256(patch->data, patch->len, im->patch_sha256);
    snprintf(im->patch_format, sizeof im->patch_format, "ldpatch1");
    snprintf(im->compression, sizeof im->compression, "%s",
             info.compression == DELTA_COMPRESSION_LZMA2  ? "lzma2"
             : info.compression == DELTA_COMPRESSION_LZRC ? "lzrc"
                                                          : "none");
    im->block_size = info.block_size;
    im->scratch_bytes = info.scratch_bytes;
    im->state_bytes = info.state_bytes;
    im->decoder_memory = info.decoder_memory;
    im->operations = info.op_count;
    im->blocks_written = rep.blocks_written;
    return DELTA_OK;
}

DLT_DEFINE_INIT(delta_make_options, DELTA_MAKE_OPTIONS_INIT, DELTA_MAKE_OPTIONS_VERSION)

delta_status delta_package_make(const delta_make_options *opt, const delta_make_image *images, size_t count,
                                delta_buf *out, delta_make_report *report)
{
    if (!opt) return dlt_fail(DELTA_ERR_ARG, "delta_package_make: no options");
    delta_status st0 = dlt_check_version("delta_make_options", opt->version, DELTA_MAKE_OPTIONS_VERSION);
    if (!st0) st0 = dlt_check_version("delta_patch_options", opt->patch.version, DELTA_PATCH_OPTIONS_VERSION);
    if (!st0) st0 = dlt_check_version("delta_diff_options", opt->diff.version, DELTA_DIFF_OPTIONS_VERSION);
    if (st0) return st0;
    if (!images || count == 0 || count > DELTA_MANIFEST_MAX_IMAGES)
        return dlt_fail(DELTA_ERR_ARG, "a package holds 1..%d images", DELTA_MANIFEST_MAX_IMAGES);
    if (!opt->project || !delta_manifest_string_ok(opt->project))
        return dlt_fail(DELTA_ERR_ARG, "project ID must be 1..64 printable characters without spaces or quotes");
    if (!opt->source_version || !delta_manifest_string_ok(opt->source_version) || !opt->target_version ||
        !delta_manifest_string_ok(opt->target_version))
        return dlt_fail(DELTA_ERR_ARG, "versions must be 1..64 printable characters without spaces or quotes");

    delta_manifest m;
    memset(&m, 0, sizeof m);
    m.format_version = DELTA_MANIFEST_VERSION;
    snprintf(m.project, sizeof m.project, "%s", opt->project);
    snprintf(m.source_version, sizeof m.source_version, "%s", opt->source_version);
    snprintf(m.target_version, sizeof m.target_version, "%s", opt->target_version);
    snprintf(m.created_by, sizeof m.created_by, "libdelta-%s", DELTA_VERSION_STRING);
    m.image_count = count;
    m.images = calloc(count, sizeof *m.images);
    delta_buf patches[DELTA_MANIFEST_MAX_IMAGES];
    memset(patches, 0, sizeof patches);
    delta_make_report rep;
    memset(&rep, 0, sizeof rep);
    rep.image_count = count;
    delta_status st = m.images ? DELTA_OK : dlt_fail(DELTA_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < count && !st; i++) {
        if (!images[i].name) st = dlt_fail(DELTA_ERR_ARG, "image %zu has no name", i);
        for (size_t k = 0; k < i && !st; k++)
            if (strcmp(images[k].name, images[i].name) == 0) st = dlt_fail(DELTA_ERR_ARG, "image %s given twice", images[i].name);
        if (!st) st = make_image(opt, &images[i], i, count, &m.images[i], &patches[i], &rep.stats[i]);
        if (st) break;
        rep.patch_bytes[i] = patches[i].len;
    }
    if (!st) {
        delta_update_layout layout;
        delta_update_layout_of(&m, &layout);
        m.space_needed = layout.space_needed;
    }

    delta_buf manifest = DELTA_BUF_INIT, sig = DELTA_BUF_INIT;
    delta_zip_writer *zw = NULL;
    size_t start = out->len;
    if (!st) st = delta_manifest_write(&m, &manifest);
    if (!st && opt->key_pem) st = stage(opt, DELTA_MAKE_SIGN, 0, count);
    if (!st && opt->key_pem) st = delta_sign(opt->key_pem, opt->key_len, manifest.data, manifest.len, &sig);
    if (!st) st = stage(opt, DELTA_MAKE_ZIP, 0, count);
    if (!st) st = delta_zip_writer_new(&zw);
    if (!st) st = delta_zip_writer_add(zw, DELTA_MEMBER_MANIFEST, manifest.data, manifest.len);
    if (!st && opt->key_pem) st = delta_zip_writer_add(zw, DELTA_MEMBER_SIGNATURE, sig.data, sig.len);
    for (size_t i = 0; i < count && !st; i++)
        st = delta_zip_writer_add(zw, m.images[i].patch_member, patches[i].data, patches[i].len);
    if (!st) st = delta_zip_writer_finish(zw, out);
    if (!st) rep.package_bytes = out->len - start;
    delta_zip_writer_free(zw);
    delta_buf_free(&manifest);
    delta_buf_free(&sig);
    for (size_t i = 0; i < count; i++) delta_buf_free(&patches[i]);
    free(m.images);
    if (!st && report) *report = rep;
    return st;
}

/* ---- signing an unsigned package ---------------------------------------- */

void delta_package_manifest_bytes(const delta_package *pkg, const uint8_t **data, size_t *len)
{
    *data = pkg->manifest_bytes.data;
    *len = pkg->manifest_bytes.len;
}

delta_status delta_package_add_signature(const delta_package *pkg, const void *sig, size_t sig_len, delta_buf *out)
{
    if (!pkg || !out || (!sig && sig_len)) return dlt_fail(DELTA_ERR_ARG, "add_signature: null argument");
    if (delta_zip_find(pkg->zip, DELTA_MEMBER_SIGNATURE))
        return dlt_fail(DELTA_ERR_ARG, "the package is signed already (it has a %s)", DELTA_MEMBER_SIGNATURE);
    if (sig_len == 0) return dlt_fail(DELTA_ERR_ARG, "the signature is empty");
    if (sig_len > DELTA_SIG_MAX_BYTES)
        return dlt_fail(DELTA_ERR_ARG, "a signature of %zu bytes exceeds the limit of %d", sig_len,
                          DELTA_SIG_MAX_BYTES);
    const delta_manifest *m = pkg->manifest;
    delta_buf patch = DELTA_BUF_INIT;
    delta_zip_writer *zw = NULL;
    size_t start = out->len;
    /* The order of delta_package_make: manifest, signature, patches. */
    delta_status st = delta_zip_writer_new(&zw);
    if (!st) st = delta_zip_writer_add(zw, DELTA_MEMBER_MANIFEST, pkg->manifest_bytes.data, pkg->manifest_bytes.len);
    if (!st) st = delta_zip_writer_add(zw, DELTA_MEMBER_SIGNATURE, sig, sig_len);
    for (size_t i = 0; i < m->image_count && !st; i++) {
        const delta_zip_member *zm = pkg->patch[i];
        patch.len = 0;
        st = delta_buf_reserve(&patch, (size_t)zm->size);
        if (!st) st = delta_zip_read(pkg->zip, zm, 0, patch.data, (size_t)zm->size);
        if (!st) st = delta_zip_writer_add(zw, zm->name, patch.data, (size_t)zm->size);
    }
    if (!st) st = delta_zip_writer_finish(zw, out);
    if (st) out->len = start;
    delta_zip_writer_free(zw);
    delta_buf_free(&patch);
    return st;
}
