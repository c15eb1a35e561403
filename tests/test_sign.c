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

/* ---- strict encodings (formats/signature.md) ------------------------------
 *
 * Each hostile signature is the committed valid one (manifest-1.sig,
 * manifest-1.rsa.sig) re-encoded; the ECDSA ones keep r and s (or change
 * only their encoding), so mbedTLS alone verifies several of them. They are
 * also committed as formats/vectors/invalid/sig-<case>.sig, listed with
 * their status in sig-README.md; DELTA_REGEN_VECTORS=1 rewrites them. */

#define INVALID_DIR DELTA_VECTORS "/invalid"

static void put(delta_buf *b, const void *p, size_t n)
{
    cr_assert_eq(delta_buf_append(b, p, n), DELTA_OK);
}
#define PUT(b, ...)                                                                                        \
    do {                                                                                                   \
        static const uint8_t bytes_[] = {__VA_ARGS__};                                                     \
        put(b, bytes_, sizeof bytes_);                                                                     \
    } while (0)

/* manifest-1.sig: 30 45 | 02 20 r (32 bytes, top bit clear) | 02 21 00 s (32 bytes, top bit set). */
static blob ec_base(void)
{
    blob b = VEC("manifest-1.sig");
    cr_assert_eq(b.len, 71);
    static const uint8_t head[] = {0x30, 0x45, 0x02, 0x20};
    cr_assert_arr_eq(b.data, head, sizeof head, "manifest-1.sig no longer has the layout the cases assume");
    cr_assert(b.data[4] < 0x80 && b.data[36] == 0x02 && b.data[37] == 0x21 && b.data[38] == 0 &&
              b.data[39] >= 0x80);
    return b;
}
#define EC_R (base.data + 2)  /* 02 20 r ... to the end */
#define EC_S (base.data + 36) /* 02 21 00 s */

static void ec_seq_length_long_form(delta_buf *o, blob base)
{
    PUT(o, 0x30, 0x81, 0x45);
    put(o, EC_R, 69);
}
static void ec_seq_length_leading_zero(delta_buf *o, blob base)
{
    PUT(o, 0x30, 0x82, 0x00, 0x45);
    put(o, EC_R, 69);
}
static void ec_r_length_long_form(delta_buf *o, blob base)
{
    PUT(o, 0x30, 0x46, 0x02, 0x81, 0x20);
    put(o, base.data + 4, 67);
}
static void ec_r_padded_zero(delta_buf *o, blob base)
{
    PUT(o, 0x30, 0x46, 0x02, 0x21, 0x00);
    put(o, base.data + 4, 67);
}
static void ec_r_padded_ff(delta_buf *o, blob base)
{
    PUT(o, 0x30, 0x46, 0x02, 0x21, 0xff);
    put(o, base.data + 4, 67);
}
static void ec_s_padded_zero(delta_buf *o, blob base)
{
    PUT(o, 0x30, 0x46);
    put(o, EC_R, 34);
    PUT(o, 0x02, 0x22, 0x00);
    put(o, base.data + 38, 33);
}
/* s without the 0x00 its top bit needs: negative in DER, but mbedTLS
 * reads the magnitude and verifies it. */
static void ec_s_negative(delta_buf *o, blob base)
{
    PUT(o, 0x30, 0x44);
    put(o, EC_R, 34);
    PUT(o, 0x02, 0x20);
    put(o, base.data + 39, 32);
}
static void ec_r_too_long(delta_buf *o, blob base)
{
    PUT(o, 0x30, 0x46, 0x02, 0x21, 0x01);
    put(o, base.data + 4, 67);
}
static void ec_r_zero(delta_buf *o, blob base)
{
    PUT(o, 0x30, 0x26, 0x02, 0x01, 0x00);
    put(o, EC_S, 35);
}
static void ec_r_tag(delta_buf *o, blob base)
{
    put(o, base.data, base.len);
    o->data[2] = 0x03; /* BIT STRING */
}
static void ec_indefinite(delta_buf *o, blob base)
{
    PUT(o, 0x30, 0x80);
    put(o, EC_R, 69);
    PUT(o, 0x00, 0x00);
}
static void ec_trailing_byte(delta_buf *o, blob base)
{
    put(o, base.data, base.len);
    PUT(o, 0x00);
}
static void ec_byte_after_s(delta_buf *o, blob base)
{
    PUT(o, 0x30, 0x46);
    put(o, EC_R, 69);
    PUT(o, 0x00);
}
static void rsa_leading_zero(delta_buf *o, blob base)
{
    PUT(o, 0x00);
    put(o, base.data, base.len);
}
static void rsa_trailing_byte(delta_buf *o, blob base)
{
    put(o, base.data, base.len);
    PUT(o, 0x00);
}
static void rsa_short(delta_buf *o, blob base)
{
    put(o, base.data, base.len - 1);
}

typedef struct sig_case {
    const char *name;
    void (*craft)(delta_buf *, blob);
    int rsa;         /* 0: manifest-1.sig with ec-p256.pub.pem; 1: manifest-1.rsa.sig with rsa2048.pub.pem */
    const char *why; /* the exact tail of the message */
} sig_case;

#define DER "verify: ECDSA signature is not strict DER: "
static const sig_case sig_cases[] = {
    {"ec-seq-length-long-form", ec_seq_length_long_form, 0,
     DER "the length 69 of the SEQUENCE is in long form (0x81 0x45): DER takes the short form below 128"},
    {"ec-seq-length-leading-zero", ec_seq_length_leading_zero, 0,
     DER "the length of the SEQUENCE has a leading zero octet (0x82 0x00 ...): not minimal"},
    {"ec-r-length-long-form", ec_r_length_long_form, 0,
     DER "the length 32 of r is in long form (0x81 0x20): DER takes the short form below 128"},
    {"ec-r-padded-zero", ec_r_padded_zero, 0, DER "r has a leading 0x00 octet not needed for the sign bit: not minimal"},
    {"ec-r-padded-ff", ec_r_padded_ff, 0, DER "r is negative (leading octet 0xff); r and s are positive"},
    {"ec-s-padded-zero", ec_s_padded_zero, 0, DER "s has a leading 0x00 octet not needed for the sign bit: not minimal"},
    {"ec-s-negative", ec_s_negative, 0, DER "s is negative (leading octet 0x8f); r and s are positive"},
    {"ec-r-too-long", ec_r_too_long, 0, DER "r of 33 bytes is longer than the 32-byte group order"},
    {"ec-r-zero", ec_r_zero, 0, DER "r is zero"},
    {"ec-r-tag", ec_r_tag, 0, DER "r has tag 0x03, not INTEGER (0x02)"},
    {"ec-indefinite-length", ec_indefinite, 0, DER "the SEQUENCE has an indefinite length (0x80)"},
    {"ec-trailing-byte", ec_trailing_byte, 0, DER "1 byte after the SEQUENCE"},
    {"ec-byte-after-s", ec_byte_after_s, 0, DER "1 byte after s inside the SEQUENCE"},
    {"rsa-leading-zero", rsa_leading_zero, 1, "verify: RSA signature of 257 bytes; a 2048-bit key takes exactly 256"},
    {"rsa-trailing-byte", rsa_trailing_byte, 1, "verify: RSA signature of 257 bytes; a 2048-bit key takes exactly 256"},
    {"rsa-short", rsa_short, 1, "verify: RSA signature of 255 bytes; a 2048-bit key takes exactly 256"},
};
#define NSIG_CASES (sizeof sig_cases / sizeof sig_cases[0])

static const sig_case *sig_case_named(const char *name)
{
    for (size_t i = 0; i < NSIG_CASES; i++)
        if (strcmp(sig_cases[i].name, name) == 0) return &sig_cases[i];
    return NULL;
}

static void check_sig_case(const sig_case *c)
{
    blob base = c->rsa ? VEC("manifest-1.rsa.sig") : ec_base();
    blob pub = KEY(c->rsa ? "rsa2048.pub.pem" : "ec-p256.pub.pem"), msg = VEC("manifest-1.json");
    cr_assert_eq(verify(pub, msg, base.data, base.len), DELTA_OK, "the base signature verifies");
    delta_buf sig = DELTA_BUF_INIT;
    c->craft(&sig, base);
    delta_status st = verify(pub, msg, sig.data, sig.len);
    cr_assert_eq(st, DELTA_ERR_SIGNATURE, "%s: status %d (%s)", c->name, st, delta_last_error());
    cr_assert_str_eq(delta_last_error(), c->why, "%s", c->name);

    char path[512];
    snprintf(path, sizeof path, "%s/sig-%s.sig", INVALID_DIR, c->name);
    const char *regen = getenv("DELTA_REGEN_VECTORS");
    if (regen && *regen == '1') {
        tu_write_file(path, sig.data, sig.len);
    } else {
        blob want = load(INVALID_DIR, path + strlen(INVALID_DIR) + 1);
        cr_assert(want.len == sig.len && memcmp(want.data, sig.data, sig.len) == 0,
                  "%s differs from what the test crafts", path);
        free(want.data);
    }
    delta_buf_free(&sig);
    free(base.data);
    free(pub.data);
    free(msg.data);
}

Test(strict, every_case)
{
    for (size_t i = 0; i < NSIG_CASES; i++) check_sig_case(&sig_cases[i]);
}

/* The boundaries: the shortest and the longest strict encodings get past
 * the encoding check to the verification proper. */
Test(strict, smallest_and_largest_encodings_reach_verification)
{
    blob pub = KEY("ec-p256.pub.pem"), msg = VEC("manifest-1.json");
    static const uint8_t tiny[] = {0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01};
    cr_assert_eq(verify(pub, msg, tiny, sizeof tiny), DELTA_ERR_SIGNATURE);
    cr_assert(strncmp(delta_last_error(), "verify: signature does not verify with the given key", 52) == 0, "%s",
              delta_last_error());
    uint8_t big[72] = {0x30, 0x46, 0x02, 0x21, 0x00};
    memset(big + 5, 0xff, 32);
    big[37] = 0x02;
    big[38] = 0x21;
    big[39] = 0x00;
    memset(big + 40, 0xff, 32);
    cr_assert_eq(verify(pub, msg, big, sizeof big), DELTA_ERR_SIGNATURE);
    cr_assert(strncmp(delta_last_error(), "verify: signature does not verify with the given key", 52) == 0, "%s",
              delta_last_error());
    free(pub.data);
    free(msg.data);
}

/* sig-README.md is the oracle for other implementations: each line names a
 * file, its key and its status; the files give exactly that, and the README
 * covers every case of this suite and no other. */
Test(strict, readme_lists_every_vector)
{
    blob text = load(INVALID_DIR, "sig-README.md");
    char *copy = strndup((const char *)text.data, text.len);
    size_t seen = 0;
    for (char *line = strtok(copy, "\n"); line; line = strtok(NULL, "\n")) {
        char file[128], key[64], status[64];
        if (sscanf(line, "%127s %63s %63[A-Z_]", file, key, status) != 3 || strncmp(file, "sig-", 4) != 0) continue;
        size_t n = strlen(file);
        cr_assert(n > 8 && strcmp(file + n - 4, ".sig") == 0, "%s", file);
        file[n - 4] = '\0';
        const sig_case *c = sig_case_named(file + 4);
        cr_assert_not_null(c, "%s.sig is not crafted by this suite", file);
        cr_assert_str_eq(key, c->rsa ? "rsa2048.pub.pem" : "ec-p256.pub.pem", "%s", file);
        cr_assert_str_eq(status, "DELTA_ERR_SIGNATURE", "%s", file);
        file[n - 4] = '.';
        blob sig = load(INVALID_DIR, file), pub = KEY(key), msg = VEC("manifest-1.json");
        cr_assert_eq(verify(pub, msg, sig.data, sig.len), DELTA_ERR_SIGNATURE, "%s: %s", file, delta_last_error());
        cr_assert_str_eq(delta_last_error(), c->why, "%s", file);
        free(sig.data);
        free(pub.data);
        free(msg.data);
        seen++;
    }
    free(copy);
    free(text.data);
    cr_assert_eq(seen, NSIG_CASES, "sig-README.md lists %zu files, the suite crafts %zu", seen, NSIG_CASES);
}
