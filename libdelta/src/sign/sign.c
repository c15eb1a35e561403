/*
 * Detached signatures over the manifest bytes (formats/signature.md).
 *
 * mbedTLS's pk layer does the work. Accepted keys: EC on P-256 (ECDSA with
 * SHA-256, DER signature; mbedTLS signs deterministically per RFC 6979) and
 * RSA of 2048..4096 bits (PKCS#1 v1.5 with SHA-256). Anything else is
 * DELTA_ERR_KEY. delta_verify wants a public key and refuses a private one:
 * a device or a CI job should never hold the signing key.
 */
#include <stdlib.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecp.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/asn1.h>
#include <mbedtls/bignum.h>
#include <mbedtls/pem.h>
#include <mbedtls/pk.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/sha256.h>

#include "common/internal.h"
#include "common/sha256_compat.h"
#include "libdelta/devheader.h"
#include "libdelta/sign.h"

/* mbedTLS 2.28 (Debian 12) and 3.x (Debian 13: 3.6): 3.0 gave the key
 * parser an RNG (for blinding), gave pk_sign the signature buffer's size and
 * made the key pair's fields private. scripts/test-mbedtls3 builds and tests
 * against 3.x. */
#if MBEDTLS_VERSION_MAJOR >= 3
#define PK_PARSE_KEY(pk, key, len, rng, rng_ctx) mbedtls_pk_parse_key(pk, key, len, NULL, 0, rng, rng_ctx)
#define PK_SIGN(pk, hash, hash_len, sig, sig_size, sig_len, rng, rng_ctx) \
    mbedtls_pk_sign(pk, MBEDTLS_MD_SHA256, hash, hash_len, sig, sig_size, sig_len, rng, rng_ctx)
#if MBEDTLS_VERSION_NUMBER >= 0x03060000
#define PK_EC_GROUP_ID(pk) mbedtls_ecp_keypair_get_group_id(mbedtls_pk_ec(*(pk)))
#else
#define PK_EC_GROUP_ID(pk) (mbedtls_pk_ec(*(pk))->MBEDTLS_PRIVATE(grp).id)
#endif
#else
#define PK_PARSE_KEY(pk, key, len, rng, rng_ctx) mbedtls_pk_parse_key(pk, key, len, NULL, 0)
#define PK_SIGN(pk, hash, hash_len, sig, sig_size, sig_len, rng, rng_ctx) \
    mbedtls_pk_sign(pk, MBEDTLS_MD_SHA256, hash, hash_len, sig, sig_len, rng, rng_ctx)
#define PK_EC_GROUP_ID(pk) (mbedtls_pk_ec(*(pk))->grp.id)
#endif

#define PEM_MAX_BYTES (64 * 1024)
#define RSA_MIN_BITS 2048
#define RSA_MAX_BITS 4096

static void mbed_text(int ret, char *buf, size_t len)
{
    mbedtls_strerror(ret, buf, len);
}

/* The status of an mbedTLS failure: DELTA_ERR_NOMEM when mbedTLS ran out of
 * memory (an error code is a high-level part plus a low-level part; either
 * may say so), else what the caller says it means. */
static delta_status mbed_status(int ret, delta_status otherwise)
{
    int high = -((-ret) & 0xFF80), low = -((-ret) & 0x007F);
    if (high == MBEDTLS_ERR_PEM_ALLOC_FAILED || high == MBEDTLS_ERR_PK_ALLOC_FAILED ||
        high == MBEDTLS_ERR_ECP_ALLOC_FAILED || low == MBEDTLS_ERR_MPI_ALLOC_FAILED ||
        low == MBEDTLS_ERR_ASN1_ALLOC_FAILED)
        return DELTA_ERR_NOMEM;
    return otherwise;
}

/* A NUL-terminated private copy of the caller's PEM (mbedTLS wants the NUL
 * counted in the length). Wipe and free with pem_drop. */
static delta_status pem_copy(const char *pem, size_t pem_len, const char *what, unsigned char **out)
{
    *out = NULL;
    if (!pem || pem_len == 0) return dlt_fail(DELTA_ERR_KEY, "%s: empty key", what);
    if (pem_len > PEM_MAX_BYTES)
        return dlt_fail(DELTA_ERR_KEY, "%s: key of %zu bytes exceeds the limit of %d", what, pem_len,
                          PEM_MAX_BYTES);
    unsigned char *buf = malloc(pem_len + 1);
    if (!buf) return dlt_fail(DELTA_ERR_NOMEM, "%s: out of memory", what);
    memcpy(buf, pem, pem_len);
    buf[pem_len] = '\0';
    if (!strstr((const char *)buf, "-----BEGIN ")) {
        mbedtls_platform_zeroize(buf, pem_len + 1);
        free(buf);
        return dlt_fail(DELTA_ERR_KEY, "%s: not a PEM key (no \"-----BEGIN\" line)", what);
    }
    *out = buf;
    return DELTA_OK;
}

static void pem_drop(unsigned char *buf, size_t pem_len)
{
    if (!buf) return;
    mbedtls_platform_zeroize(buf, pem_len + 1);
    free(buf);
}

/* DELTA_OK when the parsed key is one the format allows. */
static delta_status key_allowed(mbedtls_pk_context *pk, const char *what)
{
    mbedtls_pk_type_t type = mbedtls_pk_get_type(pk);
    if (type == MBEDTLS_PK_ECKEY || type == MBEDTLS_PK_ECDSA) {
        mbedtls_ecp_group_id id = PK_EC_GROUP_ID(pk);
        if (id != MBEDTLS_ECP_DP_SECP256R1) {
            const mbedtls_ecp_curve_info *ci = mbedtls_ecp_curve_info_from_grp_id(id);
            return dlt_fail(DELTA_ERR_KEY, "%s: EC key on curve %s; only P-256 (prime256v1) is allowed",
                              what, ci ? ci->name : "unknown");
        }
        return DELTA_OK;
    }
    if (type == MBEDTLS_PK_RSA) {
        size_t bits = mbedtls_pk_get_bitlen(pk);
        if (bits < RSA_MIN_BITS || bits > RSA_MAX_BITS)
            return dlt_fail(DELTA_ERR_KEY, "%s: RSA key of %zu bits; %d..%d bits are allowed", what, bits,
                              RSA_MIN_BITS, RSA_MAX_BITS);
        /* PKCS#1 v1.5 is the default padding of a parsed key; make it explicit. */
        mbedtls_rsa_set_padding(mbedtls_pk_rsa(*pk), MBEDTLS_RSA_PKCS_V15, MBEDTLS_MD_NONE);
        return DELTA_OK;
    }
    return dlt_fail(DELTA_ERR_KEY, "%s: %s key; only EC P-256 and RSA keys are allowed", what,
                      mbedtls_pk_get_name(pk));
}

/* ---- strict DER of an ECDSA signature ------------------------------------
 *
 * mbedTLS reads ECDSA-Sig-Value leniently: long-form or zero-padded lengths,
 * INTEGERs padded with 0x00 and negative INTEGERs (taken as magnitudes) all
 * verify, so one signature has many encodings. formats/signature.md asks
 * for strict DER (X.690 10.1, 8.3.2), checked here before mbedTLS sees the
 * bytes. */

#define DER_SEQUENCE 0x30
#define DER_INTEGER 0x02

/* A refusal; the first argument must be a string literal. */
#define DER_BAD(...) dlt_fail(DELTA_ERR_SIGNATURE, "verify: ECDSA signature is not strict DER: " __VA_ARGS__)

/* Reads the length octets of `what` at *p: the minimal form only (short
 * below 128, else long with no leading zero octet), within [*p, end). */
static delta_status der_length(const uint8_t **p, const uint8_t *end, const char *what, size_t *out)
{
    if (*p == end) return DER_BAD("the signature ends before the length of %s", what);
    uint8_t first = *(*p)++;
    size_t len = first;
    if (first == 0x80) return DER_BAD("%s has an indefinite length (0x80)", what);
    if (first > 0x80) {
        size_t n = first & 0x7fu;
        if (n > (size_t)(end - *p))
            return DER_BAD("the signature ends inside the %zu length octets of %s", n, what);
        if (**p == 0)
            return DER_BAD("the length of %s has a leading zero octet (0x%02x 0x00 ...): not minimal", what,
                           first);
        /* A signature is at most DELTA_SIG_MAX_BYTES: 3+ length octets cannot fit. */
        if (n > 2) return DER_BAD("the length of %s takes %zu octets, more than the signature holds", what, n);
        len = 0;
        for (size_t k = 0; k < n; k++) len = len << 8 | *(*p)++;
        if (len < 0x80)
            return DER_BAD("the length %zu of %s is in long form (0x%02x 0x%02zx): DER takes the short form "
                           "below 128", len, what, first, len);
        if (n == 2 && len < 0x100)
            return DER_BAD("the length %zu of %s takes 2 octets where 1 does: not minimal", len, what);
    }
    if (len > (size_t)(end - *p))
        return DER_BAD("%s of %zu bytes runs past the end of the signature (%zu bytes left)", what, len,
                       (size_t)(end - *p));
    *out = len;
    return DELTA_OK;
}

/* One INTEGER (r or s) at *p: minimal, positive, non-zero, with at most
 * order_len bytes of magnitude. */
static delta_status der_integer(const uint8_t **p, const uint8_t *end, const char *name, size_t order_len)
{
    if (*p == end) return DER_BAD("the SEQUENCE ends before %s", name);
    if (**p != DER_INTEGER) return DER_BAD("%s has tag 0x%02x, not INTEGER (0x02)", name, **p);
    (*p)++;
    size_t len = 0;
    delta_status st = der_length(p, end, name, &len);
    if (st) return st;
    const uint8_t *v = *p;
    if (len == 0) return DER_BAD("%s is an empty INTEGER", name);
    if (v[0] & 0x80) return DER_BAD("%s is negative (leading octet 0x%02x); r and s are positive", name, v[0]);
    if (len > 1 && v[0] == 0 && !(v[1] & 0x80))
        return DER_BAD("%s has a leading 0x00 octet not needed for the sign bit: not minimal", name);
    if (len == 1 && v[0] == 0) return DER_BAD("%s is zero", name);
    size_t magnitude = v[0] == 0 ? len - 1 : len;
    if (magnitude > order_len)
        return DER_BAD("%s of %zu bytes is longer than the %zu-byte group order", name, magnitude, order_len);
    *p += len;
    return DELTA_OK;
}

/* ECDSA-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER } (SEC 1 C.5,
 * RFC 3279 2.2.3) in strict DER, exactly sig_len (>= 1) bytes. */
static delta_status ecdsa_der_check(const uint8_t *sig, size_t sig_len, size_t order_len)
{
    const uint8_t *p = sig, *end = sig + sig_len;
    if (*p != DER_SEQUENCE) return DER_BAD("tag 0x%02x, not SEQUENCE (0x30)", *p);
    p++;
    size_t len = 0;
    delta_status st = der_length(&p, end, "the SEQUENCE", &len);
    if (st) return st;
    size_t left = (size_t)(end - p) - len;
    if (left) return DER_BAD("%zu byte%s after the SEQUENCE", left, left == 1 ? "" : "s");
    if ((st = der_integer(&p, end, "r", order_len))) return st;
    if ((st = der_integer(&p, end, "s", order_len))) return st;
    left = (size_t)(end - p);
    if (left) return DER_BAD("%zu byte%s after s inside the SEQUENCE", left, left == 1 ? "" : "s");
    return DELTA_OK;
}

delta_status delta_sign(const char *pem, size_t pem_len, const void *msg, size_t msg_len, delta_buf *sig)
{
    if (!sig || (!msg && msg_len)) return dlt_fail(DELTA_ERR_ARG, "sign: null argument");
    unsigned char *key;
    delta_status st = pem_copy(pem, pem_len, "sign", &key);
    if (st) return st;

    mbedtls_pk_context pk;
    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context drbg;
    mbedtls_pk_init(&pk);
    mbedtls_entropy_init(&entropy);
    mbedtls_ctr_drbg_init(&drbg);
    unsigned char hash[32];
    unsigned char out[MBEDTLS_PK_SIGNATURE_MAX_SIZE];
    size_t out_len = 0;
    char text[128];

    static const char pers[] = "libdelta sign";
    int ret = mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &entropy, (const unsigned char *)pers,
                                    sizeof pers - 1);
    if (ret != 0) {
        pem_drop(key, pem_len);
        mbed_text(ret, text, sizeof text);
        st = dlt_fail(mbed_status(ret, DELTA_ERR_INTERNAL), "sign: cannot seed the random generator: %s", text);
        goto done;
    }
    ret = PK_PARSE_KEY(&pk, key, pem_len + 1, mbedtls_ctr_drbg_random, &drbg);
    pem_drop(key, pem_len);
    if (ret != 0) {
        mbed_text(ret, text, sizeof text);
        st = dlt_fail(mbed_status(ret, DELTA_ERR_KEY), "sign: cannot parse the private key: %s", text);
        goto done;
    }
    if ((st = key_allowed(&pk, "sign"))) goto done;

    ret = dlt_sha256_once(msg, msg_len, hash);
    if (ret == 0) ret = PK_SIGN(&pk, hash, sizeof hash, out, sizeof out, &out_len, mbedtls_ctr_drbg_random, &drbg);
    if (ret != 0) {
        mbed_text(ret, text, sizeof text);
        st = dlt_fail(mbed_status(ret, DELTA_ERR_INTERNAL), "sign: signing failed: %s", text);
        goto done;
    }
    if (out_len == 0 || out_len > DELTA_SIG_MAX_BYTES) {
        st = dlt_fail(DELTA_ERR_INTERNAL, "sign: signature of %zu bytes", out_len);
        goto done;
    }
    st = delta_buf_append(sig, out, out_len);

done:
    mbedtls_ctr_drbg_free(&drbg);
    mbedtls_entropy_free(&entropy);
    mbedtls_pk_free(&pk);
    mbedtls_platform_zeroize(hash, sizeof hash);
    return st;
}

delta_status delta_verify(const char *pem, size_t pem_len, const void *msg, size_t msg_len, const void *sig,
                          size_t sig_len)
{
    if ((!msg && msg_len) || (!sig && sig_len)) return dlt_fail(DELTA_ERR_ARG, "verify: null argument");
    unsigned char *key;
    delta_status st = pem_copy(pem, pem_len, "verify", &key);
    if (st) return st;

    mbedtls_pk_context pk;
    mbedtls_pk_init(&pk);
    char text[128];
    unsigned char hash[32];

    if (strstr((const char *)key, "PRIVATE KEY-----")) {
        st = dlt_fail(DELTA_ERR_KEY, "verify: a private key was given; verification takes the public key "
                                       "(openssl ec -pubout / openssl rsa -pubout)");
        pem_drop(key, pem_len);
        goto done;
    }
    int ret = mbedtls_pk_parse_public_key(&pk, key, pem_len + 1);
    pem_drop(key, pem_len);
    if (ret != 0) {
        mbed_text(ret, text, sizeof text);
        st = dlt_fail(mbed_status(ret, DELTA_ERR_KEY), "verify: cannot parse the public key: %s", text);
        goto done;
    }
    if ((st = key_allowed(&pk, "verify"))) goto done;

    if (sig_len == 0) {
        st = dlt_fail(DELTA_ERR_SIGNATURE, "verify: the signature is empty");
        goto done;
    }
    if (sig_len > DELTA_SIG_MAX_BYTES) {
        st = dlt_fail(DELTA_ERR_SIGNATURE, "verify: signature of %zu bytes exceeds the limit of %d", sig_len,
                        DELTA_SIG_MAX_BYTES);
        goto done;
    }
    /* The encoding first: mbedTLS alone would take malleable variants. */
    if (mbedtls_pk_get_type(&pk) == MBEDTLS_PK_RSA) {
        size_t want = mbedtls_pk_get_len(&pk);
        if (sig_len != want) {
            st = dlt_fail(DELTA_ERR_SIGNATURE, "verify: RSA signature of %zu bytes; a %zu-bit key takes exactly "
                                                 "%zu", sig_len, mbedtls_pk_get_bitlen(&pk), want);
            goto done;
        }
    } else {
        /* key_allowed admits P-256 only, whose order and field have the same 256 bits. */
        size_t order_len = (mbedtls_pk_get_bitlen(&pk) + 7) / 8;
        if ((st = ecdsa_der_check(sig, sig_len, order_len))) goto done;
    }
    ret = dlt_sha256_once(msg, msg_len, hash);
    if (ret != 0) {
        st = dlt_fail(DELTA_ERR_INTERNAL, "verify: sha-256 failed");
        goto done;
    }
    ret = mbedtls_pk_verify(&pk, MBEDTLS_MD_SHA256, hash, sizeof hash, sig, sig_len);
    if (ret != 0) {
        mbed_text(ret, text, sizeof text);
        st = dlt_fail(mbed_status(ret, DELTA_ERR_SIGNATURE), "verify: signature does not verify with the given key (%s)", text);
        goto done;
    }
    st = DELTA_OK;

done:
    mbedtls_pk_free(&pk);
    return st;
}

/* The device header (formats/device-header.md): the record, then its signature. */
delta_status delta_device_header_make(const delta_device_header *h, const char *pem, size_t pem_len, delta_buf *out)
{
    if (strnlen(h->project, DELTA_DEVHDR_FIELD) >= DELTA_DEVHDR_FIELD || strnlen(h->from, DELTA_DEVHDR_FIELD) >= DELTA_DEVHDR_FIELD ||
        strnlen(h->to, DELTA_DEVHDR_FIELD) >= DELTA_DEVHDR_FIELD)
        return dlt_fail(DELTA_ERR_ARG, "device header: project and versions hold at most %d bytes", DELTA_DEVHDR_FIELD - 1);
    uint8_t r[DELTA_DEVHDR_SIGNED];
    memset(r, 0, sizeof r);
    memcpy(r, DELTA_DEVHDR_MAGIC, 8);
    memcpy(r + 8, h->project, strlen(h->project));
    memcpy(r + 40, h->from, strlen(h->from));
    memcpy(r + 72, h->to, strlen(h->to));
    dlt_put64(r + 104, h->patch_size);
    memcpy(r + 112, h->patch_sha256, DELTA_SHA256_LEN);
    memcpy(r + 144, h->source_sha256, DELTA_SHA256_LEN);
    dlt_put64(r + 176, h->target_size);
    memcpy(r + 184, h->target_sha256, DELTA_SHA256_LEN);
    delta_buf sig = DELTA_BUF_INIT;
    delta_status st = delta_sign(pem, pem_len, r, sizeof r, &sig);
    if (!st && (sig.len == 0 || sig.len > DELTA_DEVHDR_MAX_SIG)) st = dlt_fail(DELTA_ERR_KEY, "device header: signature too large");
    uint8_t n[2];
    dlt_put16(n, (uint16_t)sig.len);
    if (!st) st = delta_buf_append(out, r, sizeof r);
    if (!st) st = delta_buf_append(out, n, 2);
    if (!st) st = delta_buf_append(out, sig.data, sig.len);
    delta_buf_free(&sig);
    return st;
}
