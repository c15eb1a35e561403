/* The device header (formats/device-header.md): made with mbedTLS on the
 * host, checked by the core with the signature behind a callback, which here
 * is delta_verify (mbedTLS) with the package's public key. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libdelta/delta.h"
#include "testutil.h"

typedef struct key {
    uint8_t *pem;
    size_t len;
} key;

static key load_key(const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/keys/%s", DELTA_TEST_DATA, name);
    key k;
    k.pem = tu_read_file(path, &k.len);
    cr_assert(k.pem, "cannot read %s", path);
    return k;
}

static int calls;

static int verify_mbedtls(void *ctx, const uint8_t *msg, size_t msg_len, const uint8_t digest[32], const uint8_t *sig,
                          size_t sig_len)
{
    const key *k = ctx;
    uint8_t again[32];
    delta_sha256(msg, msg_len, again);
    cr_assert(memcmp(again, digest, 32) == 0, "the digest is the SHA-256 of the signed bytes");
    calls++;
    return delta_verify((const char *)k->pem, k->len, msg, msg_len, sig, sig_len) == DELTA_OK ? 0 : 1;
}

static uint8_t patch_bytes[5000];

static delta_buf make(const char *project, const char *from, const char *priv)
{
    for (size_t i = 0; i < sizeof patch_bytes; i++) patch_bytes[i] = (uint8_t)(i * 31 + 7);
    delta_device_header h;
    memset(&h, 0, sizeof h);
    strcpy(h.project, project);
    strcpy(h.from, from);
    strcpy(h.to, "v2");
    h.patch_size = sizeof patch_bytes;
    delta_sha256(patch_bytes, sizeof patch_bytes, h.patch_sha256);
    memset(h.source_sha256, 0x11, 32);
    memset(h.target_sha256, 0x22, 32);
    h.target_size = 12345;
    key k = load_key(priv);
    delta_buf out = DELTA_BUF_INIT;
    cr_assert_eq(delta_device_header_make(&h, (const char *)k.pem, k.len, &out), DELTA_OK, "%s", delta_last_error());
    free(k.pem);
    return out;
}

static delta_status check(const delta_buf *hdr, const char *project, const char *from, const key *pub,
                          delta_device_header *out)
{
    delta_source ps;
    delta_source_from_memory(&ps, patch_bytes, sizeof patch_bytes);
    uint8_t buf[64];
    return delta_device_header_check(hdr->data, hdr->len, project, from, &ps, verify_mbedtls, (void *)pub, buf,
                                     sizeof buf, out);
}

Test(devheader, signed_header_passes_and_every_fault_has_its_code)
{
    key pub = load_key("ec-p256.pub.pem");
    delta_buf hdr = make("PYBRICKS-CITYHUB", "v1", "ec-p256.pem");
    cr_assert_eq(hdr.len, DELTA_DEVHDR_SIGNED + 2 + hdr.data[DELTA_DEVHDR_SIGNED]);
    delta_device_header got;
    calls = 0;
    cr_assert_eq(check(&hdr, "PYBRICKS-CITYHUB", "v1", &pub, &got), DELTA_OK, "%s", delta_last_error());
    cr_assert_eq(calls, 1);
    cr_assert_str_eq(got.to, "v2");
    cr_assert_eq(got.target_size, 12345);
    cr_assert_eq(got.target_sha256[0], 0x22);
    /* 505: another project or source version, after the signature. */
    cr_assert_eq(check(&hdr, "OTHER", "v1", &pub, NULL), DELTA_ERR_PROJECT);
    cr_assert_eq(check(&hdr, "PYBRICKS-CITYHUB", "v0", &pub, NULL), DELTA_ERR_VERSION);
    cr_assert_eq(check(&hdr, "PYBRICKS-CITYHUB", "v", &pub, NULL), DELTA_ERR_VERSION, "a prefix is not the version");
    /* 504: a patch that is not the one signed. */
    patch_bytes[100] ^= 1;
    cr_assert_eq(check(&hdr, "PYBRICKS-CITYHUB", "v1", &pub, NULL), DELTA_ERR_MEMBER_DATA);
    patch_bytes[100] ^= 1;
    {
        delta_source ps;
        delta_source_from_memory(&ps, patch_bytes, sizeof patch_bytes - 1);
        uint8_t buf[64];
        cr_assert_eq(delta_device_header_check(hdr.data, hdr.len, "PYBRICKS-CITYHUB", "v1", &ps, verify_mbedtls, &pub,
                                               buf, sizeof buf, NULL),
                     DELTA_ERR_MEMBER_DATA);
    }
    /* 504: every signed byte flipped breaks the signature (or the form first). */
    for (size_t i = 0; i < DELTA_DEVHDR_SIGNED; i++) {
        hdr.data[i] ^= 0x40;
        delta_status st = check(&hdr, "PYBRICKS-CITYHUB", "v1", &pub, NULL);
        cr_assert(st == DELTA_ERR_SIGNATURE || st == DELTA_ERR_MANIFEST, "byte %zu: %d", i, st);
        hdr.data[i] ^= 0x40;
    }
    /* A signature by another key. */
    delta_buf rsa = make("PYBRICKS-CITYHUB", "v1", "rsa2048.pem");
    cr_assert_eq(check(&rsa, "PYBRICKS-CITYHUB", "v1", &pub, NULL), DELTA_ERR_SIGNATURE);
    /* Truncated, or with bytes after the signature. */
    hdr.len--;
    cr_assert_eq(check(&hdr, "PYBRICKS-CITYHUB", "v1", &pub, NULL), DELTA_ERR_MANIFEST);
    hdr.len++;
    delta_buf_append(&hdr, "x", 1);
    cr_assert_eq(check(&hdr, "PYBRICKS-CITYHUB", "v1", &pub, NULL), DELTA_ERR_MANIFEST);
    delta_buf_free(&hdr);
    delta_buf_free(&rsa);
    free(pub.pem);
}
