/* libdelta/src/common/sha256_compat.h: the SHA-256 wrappers over mbedTLS 2.28 / 3.x
 * give the FIPS 180-2 digests and return 0, streaming or in one call. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "common/sha256_compat.h"
#include "libdelta/common.h"

static void check_hex(const unsigned char d[32], const char *want)
{
    char hex[65];
    delta_hex(d, 32, hex);
    cr_assert_str_eq(hex, want);
}

static const char *ABC = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
static const char *EMPTY = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
static const char *TWO_BLOCKS = "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1";
static const char *MILLION_A = "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0";

Test(sha256_compat, once)
{
    unsigned char d[32];
    cr_assert_eq(dlt_sha256_once("abc", 3, d), 0);
    check_hex(d, ABC);
    cr_assert_eq(dlt_sha256_once(NULL, 0, d), 0);
    check_hex(d, EMPTY);
    const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    cr_assert_eq(dlt_sha256_once(m, strlen(m), d), 0);
    check_hex(d, TWO_BLOCKS);
}

Test(sha256_compat, streaming_in_uneven_chunks)
{
    size_t n = 1000000;
    char *a = malloc(n);
    cr_assert_not_null(a);
    memset(a, 'a', n);
    mbedtls_sha256_context ctx;
    mbedtls_sha256_init(&ctx);
    cr_assert_eq(dlt_sha256_ctx_starts(&ctx), 0);
    for (size_t off = 0, step = 1; off < n; off += step, step = step * 7 % 9973 + 1) {
        size_t len = step < n - off ? step : n - off;
        cr_assert_eq(dlt_sha256_ctx_update(&ctx, a + off, len), 0);
    }
    unsigned char d[32];
    cr_assert_eq(dlt_sha256_ctx_finish(&ctx, d), 0);
    mbedtls_sha256_free(&ctx);
    check_hex(d, MILLION_A);

    unsigned char once[32];
    cr_assert_eq(dlt_sha256_once(a, n, once), 0);
    cr_assert_arr_eq(once, d, 32);
    free(a);
}

Test(sha256_compat, same_as_delta_sha256)
{
    unsigned char d[32];
    uint8_t pub[DELTA_SHA256_LEN];
    cr_assert_eq(dlt_sha256_once("abc", 3, d), 0);
    delta_sha256("abc", 3, pub);
    cr_assert_arr_eq(d, pub, 32);
}
