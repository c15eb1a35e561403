/* Signatures: ECDSA P-256 and RSA PKCS#1 v1.5 over SHA-256, keys as openssl writes them. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libdelta/sign.h"
#include "testutil.h"

typedef struct blob {
    uint8_t *data;
    size_t len;
} blob;

static blob load(const char *dir, const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    blob b;
    b.data = tu_read_file(path, &b.len);
    return b;
}
#define KEY(name) load(DELTA_TEST_DATA "/keys", name)
#define VEC(name) load(DELTA_VECTORS "/valid", name)

static delta_status verify(blob key, blob msg, const void *sig, size_t sig_len)
{
    return delta_verify((const char *)key.data, key.len, msg.data, msg.len, sig, sig_len);
}

static void round_trip(const char *priv_name, const char *pub_name, const char *golden)
{
    blob priv = KEY(priv_name), pub = KEY(pub_name), msg = VEC("manifest-1.json");
    delta_buf sig = DELTA_BUF_INIT;
    cr_assert_eq(delta_sign((const char *)priv.data, priv.len, msg.data, msg.len, &sig), DELTA_OK, "%s: %s",
                 priv_name, delta_last_error());
    cr_assert(sig.len > 0 && sig.len <= DELTA_SIG_MAX_BYTES);
    cr_assert_eq(verify(pub, msg, sig.data, sig.len), DELTA_OK, "%s", delta_last_error());
    /* both schemes are deterministic: the same key and message give the committed bytes */
    blob want = VEC(golden);
    cr_assert_eq(sig.len, want.len, "%s: %zu bytes, vector has %zu", priv_name, sig.len, want.len);
    cr_assert_arr_eq(sig.data, want.data, want.len);
    delta_buf_free(&sig);
    free(priv.data);
    free(pub.data);
    free(msg.data);
    free(want.data);
}

Test(sign, ec_p256_round_trip_is_the_vector) { round_trip("ec-p256.pem", "ec-p256.pub.pem", "manifest-1.sig"); }
Test(sign, ec_p256_pkcs8_key_signs_the_same) { round_trip("ec-p256.pk8.pem", "ec-p256.pub.pem", "manifest-1.sig"); }
Test(sign, rsa2048_round_trip_is_the_vector) { round_trip("rsa2048.pem", "rsa2048.pub.pem", "manifest-1.rsa.sig"); }

Test(sign, committed_vector_verifies)
{
    blob pub = KEY("ec-p256.pub.pem"), msg = VEC("manifest-1.json"), sig = VEC("manifest-1.sig");
    cr_assert_eq(verify(pub, msg, sig.data, sig.len), DELTA_OK, "%s", delta_last_error());
    free(pub.data);
    free(msg.data);
    free(sig.data);
}

Test(sign, openssl_signatures_verify)
{
    /* made with: openssl dgst -sha256 -sign <key> -out <sig> manifest-1.json */
    blob msg = VEC("manifest-1.json");
    blob ec = KEY("ec-p256.pub.pem"), ec_sig = VEC("manifest-1.openssl-ec.sig");
    blob rsa = KEY("rsa2048.pub.pem"), rsa_sig = VEC("manifest-1.openssl-rsa.sig");
    cr_assert_eq(verify(ec, msg, ec_sig.data, ec_sig.len), DELTA_OK, "%s", delta_last_error());
    cr_assert_eq(verify(rsa, msg, rsa_sig.data, rsa_sig.len), DELTA_OK, "%s", delta_last_error());
    /* each only with its own key */
    cr_assert_eq(verify(rsa, msg, ec_sig.data, ec_sig.len), DELTA_ERR_SIGNATURE);
    cr_assert_eq(verify(ec, msg, rsa_sig.data, rsa_sig.len), DELTA_ERR_SIGNATURE);
    free(msg.data);
    free(ec.data);
    free(ec_sig.data);
    free(rsa.data);
    free(rsa_sig.data);
}

Test(sign, pem_need_not_be_terminated)
{
    /* the key sits in a larger buffer followed by garbage: only pem_len bytes count */
    blob priv = KEY("ec-p256.pem"), pub = KEY("ec-p256.pub.pem"), msg = VEC("manifest-1.json");
    char *k = malloc(priv.len + 16);
    memcpy(k, priv.data, priv.len);
    memset(k + priv.len, 'Z', 16);
    delta_buf sig = DELTA_BUF_INIT;
    cr_assert_eq(delta_sign(k, priv.len, msg.data, msg.len, &sig), DELTA_OK, "%s", delta_last_error());
    char *p = malloc(pub.len + 16);
    memcpy(p, pub.data, pub.len);
    memset(p + pub.len, 0xff, 16);
    cr_assert_eq(delta_verify(p, pub.len, msg.data, msg.len, sig.data, sig.len), DELTA_OK, "%s",
                 delta_last_error());
    free(k);
    free(p);
    delta_buf_free(&sig);
    free(priv.data);
    free(pub.data);
    free(msg.data);
}

Test(sign, empty_message_round_trip)
{
    blob priv = KEY("ec-p256.pem"), pub = KEY("ec-p256.pub.pem");
    delta_buf sig = DELTA_BUF_INIT;
    cr_assert_eq(delta_sign((const char *)priv.data, priv.len, NULL, 0, &sig), DELTA_OK);
    cr_assert_eq(delta_verify((const char *)pub.data, pub.len, NULL, 0, sig.data, sig.len), DELTA_OK);
    cr_assert_eq(delta_verify((const char *)pub.data, pub.len, "x", 1, sig.data, sig.len), DELTA_ERR_SIGNATURE);
    delta_buf_free(&sig);
    free(priv.data);
    free(pub.data);
}

/* Every single-bit change of message or signature, every truncation, an
 * appended byte and an empty or oversized signature: DELTA_ERR_SIGNATURE. */
static void tamper(const char *pub_name, const char *sig_name)
{
    blob pub = KEY(pub_name), msg = VEC("manifest-1.json"), sig = VEC(sig_name);
    cr_assert_eq(verify(pub, msg, sig.data, sig.len), DELTA_OK);

    for (size_t bit = 0; bit < msg.len * 8; bit += 7) {
        msg.data[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        delta_status st = verify(pub, msg, sig.data, sig.len);
        msg.data[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        cr_assert_eq(st, DELTA_ERR_SIGNATURE, "message bit %zu flipped: %d", bit, st);
    }
    cr_assert(strncmp(delta_last_error(), "verify: signature does not verify with the given key", 52) == 0,
              "message: %s", delta_last_error());
    for (size_t bit = 0; bit < sig.len * 8; bit++) {
        sig.data[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        delta_status st = verify(pub, msg, sig.data, sig.len);
        sig.data[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        cr_assert_eq(st, DELTA_ERR_SIGNATURE, "signature bit %zu flipped: %d", bit, st);
    }
    for (size_t len = 0; len < sig.len; len++)
        cr_assert_eq(verify(pub, msg, sig.data, len), DELTA_ERR_SIGNATURE, "truncated to %zu", len);

    uint8_t *longer = malloc(DELTA_SIG_MAX_BYTES + 1);
    memset(longer, 0, DELTA_SIG_MAX_BYTES + 1);
    memcpy(longer, sig.data, sig.len);
    cr_assert_eq(verify(pub, msg, longer, sig.len + 1), DELTA_ERR_SIGNATURE, "one byte appended");
    cr_assert_eq(verify(pub, msg, longer, DELTA_SIG_MAX_BYTES + 1), DELTA_ERR_SIGNATURE, "oversized");
    cr_assert_eq(verify(pub, msg, NULL, 0), DELTA_ERR_SIGNATURE, "empty");
    cr_assert_str_eq(delta_last_error(), "verify: the signature is empty");
    cr_assert_eq(verify(pub, msg, sig.data, sig.len), DELTA_OK, "the originals still verify");
    free(longer);
    free(pub.data);
    free(msg.data);
    free(sig.data);
}

Test(sign, ec_tampering_is_refused) { tamper("ec-p256.pub.pem", "manifest-1.sig"); }
Test(sign, rsa_tampering_is_refused) { tamper("rsa2048.pub.pem", "manifest-1.rsa.sig"); }

Test(sign, wrong_key_is_refused)
{
    blob msg = VEC("manifest-1.json"), sig = VEC("manifest-1.sig"), rsa_sig = VEC("manifest-1.rsa.sig");
    blob other = KEY("ec-p256-other.pub.pem"), rsa = KEY("rsa2048.pub.pem");
    cr_assert_eq(verify(other, msg, sig.data, sig.len), DELTA_ERR_SIGNATURE);
    cr_assert_eq(verify(rsa, msg, sig.data, sig.len), DELTA_ERR_SIGNATURE);
    cr_assert_eq(verify(other, msg, rsa_sig.data, rsa_sig.len), DELTA_ERR_SIGNATURE);
    free(msg.data);
    free(sig.data);
    free(rsa_sig.data);
    free(other.data);
    free(rsa.data);
}

static void key_refused(int signing, const void *pem, size_t len, const char *what)
{
    blob msg = VEC("manifest-1.json"), sig = VEC("manifest-1.sig");
    delta_status st;
    if (signing) {
        delta_buf out = DELTA_BUF_INIT;
        st = delta_sign(pem, len, msg.data, msg.len, &out);
        cr_assert_eq(out.len, 0, "%s: bytes written", what);
        delta_buf_free(&out);
    } else {
        st = delta_verify(pem, len, msg.data, msg.len, sig.data, sig.len);
    }
    cr_assert_eq(st, DELTA_ERR_KEY, "%s: status %d (%s)", what, st, delta_last_error());
    free(msg.data);
    free(sig.data);
}

static void key_file_refused(int signing, const char *name)
{
    blob k = KEY(name);
    key_refused(signing, k.data, k.len, name);
    free(k.data);
}

Test(sign, unusable_keys_are_refused)
{
    static const char garbage[] = "-----BEGIN PUBLIC KEY-----\nbm90IGEga2V5\n-----END PUBLIC KEY-----\n";
    static const char garbage_priv[] = "-----BEGIN EC PRIVATE KEY-----\nbm90IGEga2V5\n-----END EC PRIVATE KEY-----\n";
    key_refused(0, garbage, strlen(garbage), "garbage public PEM");
    key_refused(1, garbage_priv, strlen(garbage_priv), "garbage private PEM");
    key_refused(0, "hello", 5, "not PEM");
    key_refused(1, "hello", 5, "not PEM");
    key_refused(0, "", 0, "empty");
    key_refused(1, NULL, 0, "null");

    key_file_refused(1, "ec-p384.pem");
    cr_assert(strstr(delta_last_error(), "secp384r1") != NULL, "%s", delta_last_error());
    key_file_refused(0, "ec-p384.pub.pem");
    key_file_refused(1, "rsa1024.pem");
    cr_assert(strstr(delta_last_error(), "1024 bits") != NULL, "%s", delta_last_error());
    key_file_refused(0, "rsa1024.pub.pem");
    key_file_refused(1, "ed25519.pem");
    key_file_refused(0, "ed25519.pub.pem");

    /* a public key cannot sign; verification takes the public key, never the private one */
    key_file_refused(1, "ec-p256.pub.pem");
    key_file_refused(0, "ec-p256.pem");
    cr_assert(strstr(delta_last_error(), "private key") != NULL, "%s", delta_last_error());
    key_file_refused(0, "rsa2048.pem");

    /* a PEM over the size cap */
    size_t big = 64 * 1024 + 1;
    char *huge = malloc(big);
    memset(huge, 'A', big);
    memcpy(huge, "-----BEGIN PUBLIC KEY-----\n", 27);
    key_refused(0, huge, big, "oversized PEM");
    free(huge);
}
