/* The device header (formats/device-header.md): the device's check. */
#include "libdelta/devheader.h"

#include "common/internal.h"

enum { H_PROJECT = 8, H_FROM = 40, H_TO = 72, H_PATCH_SIZE = 104, H_PATCH_SHA = 112, H_SOURCE_SHA = 144,
       H_TARGET_SIZE = 176, H_TARGET_SHA = 184 };

/* A field: NUL-padded, at least one NUL, nothing after the first. */
static int field_ok(const uint8_t *f)
{
    size_t n = 0;
    while (n < DELTA_DEVHDR_FIELD && f[n]) n++;
    if (n == DELTA_DEVHDR_FIELD) return 0;
    for (size_t i = n; i < DELTA_DEVHDR_FIELD; i++)
        if (f[i]) return 0;
    return 1;
}

static int field_is(const uint8_t *f, const char *s)
{
    size_t n = strlen(s);
    return n < DELTA_DEVHDR_FIELD && memcmp(f, s, n) == 0 && f[n] == 0;
}

delta_status delta_device_header_check(const uint8_t *hdr, size_t len, const char *project, const char *version,
                                       const delta_source *patch, delta_verify_fn verify, void *verify_ctx,
                                       uint8_t *buf, size_t buf_len, delta_device_header *out)
{
    if (!hdr || !project || !version || !verify || !buf || buf_len < 64)
        return dlt_fail(DELTA_ERR_ARG, "device header: missing parameter");
    delta_status st0 = dlt_check_source(patch, "device header: the patch");
    if (st0) return st0;
    if (len < DELTA_DEVHDR_SIGNED + 2 || memcmp(hdr, DELTA_DEVHDR_MAGIC, 8) != 0)
        return dlt_fail(DELTA_ERR_MANIFEST, "device header: not a libdelta device header");
    size_t sig_len = dlt_le16(hdr + DELTA_DEVHDR_SIGNED);
    if (sig_len == 0 || sig_len > DELTA_DEVHDR_MAX_SIG || len != DELTA_DEVHDR_SIGNED + 2 + sig_len ||
        !field_ok(hdr + H_PROJECT) || !field_ok(hdr + H_FROM) || !field_ok(hdr + H_TO))
        return dlt_fail(DELTA_ERR_MANIFEST, "device header: malformed");
    uint8_t digest[DELTA_SHA256_LEN];
    delta_sha256(hdr, DELTA_DEVHDR_SIGNED, digest);
    if (verify(verify_ctx, hdr, DELTA_DEVHDR_SIGNED, digest, hdr + DELTA_DEVHDR_SIGNED + 2, sig_len) != 0)
        return dlt_fail(DELTA_ERR_SIGNATURE, "device header: the signature does not verify");
    if (!field_is(hdr + H_PROJECT, project))
        return dlt_fail(DELTA_ERR_PROJECT, "device header: the package is for another project");
    if (!field_is(hdr + H_FROM, version))
        return dlt_fail(DELTA_ERR_VERSION, "device header: the package is for another source version");
    uint64_t size = dlt_le64(hdr + H_PATCH_SIZE);
    if (size != patch->size)
        return dlt_fail(DELTA_ERR_MEMBER_DATA, "device header: the patch has %llu bytes, the header says %llu",
                          (unsigned long long)patch->size, (unsigned long long)size);
    dlt_sha256_ctx h;
    if (dlt_sha256_begin(&h)) return dlt_fail(DELTA_ERR_INTERNAL, "device header: SHA-256 failed");
    delta_status st = DELTA_OK;
    for (uint64_t off = 0; off < size && !st; off += buf_len) {
        size_t n = size - off < buf_len ? (size_t)(size - off) : buf_len;
        st = dlt_read_source(patch, off, buf, n, DELTA_ERR_PACKAGE_READ);
        if (!st && dlt_sha256_step(&h, buf, n)) st = dlt_fail(DELTA_ERR_INTERNAL, "device header: SHA-256 failed");
    }
    uint8_t got[DELTA_SHA256_LEN];
    if (dlt_sha256_end(&h, got) && !st) st = dlt_fail(DELTA_ERR_INTERNAL, "device header: SHA-256 failed");
    if (st) return st;
    if (memcmp(got, hdr + H_PATCH_SHA, DELTA_SHA256_LEN) != 0)
        return dlt_fail(DELTA_ERR_MEMBER_DATA, "device header: the patch does not match its SHA-256");
    if (out) {
        memset(out, 0, sizeof *out);
        memcpy(out->project, hdr + H_PROJECT, DELTA_DEVHDR_FIELD);
        memcpy(out->from, hdr + H_FROM, DELTA_DEVHDR_FIELD);
        memcpy(out->to, hdr + H_TO, DELTA_DEVHDR_FIELD);
        out->patch_size = size;
        out->target_size = dlt_le64(hdr + H_TARGET_SIZE);
        memcpy(out->patch_sha256, hdr + H_PATCH_SHA, DELTA_SHA256_LEN);
        memcpy(out->source_sha256, hdr + H_SOURCE_SHA, DELTA_SHA256_LEN);
        memcpy(out->target_sha256, hdr + H_TARGET_SHA, DELTA_SHA256_LEN);
    }
    return DELTA_OK;
}
