/* The built-in CRC-32 and SHA-256 of the device build (common/hash.c) against
 * zlib's and mbedTLS's, which the host build uses. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <zlib.h>

#include "common/internal.h"
#include "testutil.h"

Test(hash, builtin_crc32_is_zlibs)
{
    uint8_t buf[3000];
    uint32_t x = 12345;
    for (size_t i = 0; i < sizeof buf; i++) buf[i] = (uint8_t)((x = x * 1103515245u + 12345u) >> 16);
    for (size_t n = 0; n <= sizeof buf; n += n < 70 ? 1 : 97) {
        uint32_t want = (uint32_t)crc32(0, buf, (uInt)n);
        cr_assert_eq(dlt_crc32_builtin(0, buf, n), want, "n=%zu", n);
        cr_assert_eq(dlt_crc32_builtin(dlt_crc32_builtin(0, buf, n / 3), buf + n / 3, n - n / 3), want);
    }
}

Test(hash, builtin_sha256_is_mbedtls)
{
    uint8_t buf[1000];
    for (size_t i = 0; i < sizeof buf; i++) buf[i] = (uint8_t)(i * 7 + 3);
    for (size_t n = 0; n <= sizeof buf; n += n < 130 ? 1 : 61) {
        uint8_t want[32], got[32];
        delta_sha256(buf, n, want);
        dlt_sha256_builtin c;
        dlt_sha256_builtin_begin(&c);
        dlt_sha256_builtin_step(&c, buf, n / 2);
        dlt_sha256_builtin_step(&c, buf + n / 2, n - n / 2);
        dlt_sha256_builtin_end(&c, got);
        cr_assert(memcmp(want, got, 32) == 0, "n=%zu", n);
    }
    /* FIPS 180-4's "abc". */
    uint8_t got[32];
    char hex[65];
    dlt_sha256_builtin c;
    dlt_sha256_builtin_begin(&c);
    dlt_sha256_builtin_step(&c, "abc", 3);
    dlt_sha256_builtin_end(&c, got);
    delta_hex(got, 32, hex);
    cr_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}
