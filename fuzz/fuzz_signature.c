/* Fuzz target: signature verification with fixed, valid public keys.
 *
 * Input layout: byte 0 picks the key (bit 0: 0 = EC P-256, 1 = RSA 2048);
 * bytes 1..2 are the signature length (little-endian, clipped to what is
 * left); then the signature, then the message. The only acceptable answers
 * are DELTA_OK and DELTA_ERR_SIGNATURE (the keys are the committed test keys
 * of tests/data/keys, public halves, which are always usable). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "libdelta/sign.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char ec_pub[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEo9ANksIyOzlIiMSyUe8MbXX7IuZe\n"
    "wVh9qOqXjaTuXLVAYajyB1AJBV4ej1xOeK2/xk0dXBhxcVqERqF84xkLbA==\n"
    "-----END PUBLIC KEY-----\n";

static const char rsa_pub[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA3JVXKiZHA4GUJifx9fuZ\n"
    "5xx9Iuk1GplPJ+FVSRnavv2msuMRplkrU4fpT1UXDyvJHBGLjONEV8VPmksdN/ZI\n"
    "zhXbP9MwbWsfDnBKFg3LDYMw01VdZ1OxJEYaZMy0WqJv48aqZs4QKxIvwvWVU318\n"
    "JZQxipOu2snAlE5Zdq2ju68CcEbrrHI1ujKT480ta+o67ZNMFwCMa143qUkmxP46\n"
    "kxjeN5JSIhWlp7UKDOmJpBvc1eDIwXCeUWPzUgf3hkvveSymg/QZO7paIhCDrgFE\n"
    "c9jYqX1oZq6KV1S33uHb7g4nMV+gaevH3KCNWL8jKC/ip4xkF+wzJYLttPEzFg1s\n"
    "SwIDAQAB\n"
    "-----END PUBLIC KEY-----\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3) return 0;
    const char *key = (data[0] & 1) ? rsa_pub : ec_pub;
    size_t key_len = (data[0] & 1) ? sizeof rsa_pub - 1 : sizeof ec_pub - 1;
    size_t sig_len = (size_t)data[1] | (size_t)data[2] << 8;
    size_t rest = size - 3;
    if (sig_len > rest) sig_len = rest;
    const uint8_t *sig = data + 3;
    const uint8_t *msg = sig + sig_len;
    size_t msg_len = rest - sig_len;

    /* copies of exact length, so a read past either end is caught by ASan */
    uint8_t *s = malloc(sig_len ? sig_len : 1), *m = malloc(msg_len ? msg_len : 1);
    if (!s || !m) abort();
    memcpy(s, sig, sig_len);
    memcpy(m, msg, msg_len);
    delta_status st = delta_verify(key, key_len, m, msg_len, s, sig_len);
    if (st != DELTA_OK && st != DELTA_ERR_SIGNATURE) abort();
    free(s);
    free(m);
    return 0;
}
