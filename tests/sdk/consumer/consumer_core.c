/*
 * A device-side program that links only the device half, libdelta_core
 * (libdelta::core, libdelta-core.pc): prints the version and the SHA-256 of "abc".
 */
#include <libdelta/common.h>

#include <stdio.h>

int main(void)
{
    uint8_t digest[DELTA_SHA256_LEN];
    char hex[2 * DELTA_SHA256_LEN + 1];
    delta_sha256("abc", 3, digest);
    delta_hex(digest, sizeof digest, hex);
    printf("libdelta %s\nsha256(abc) %s\n", delta_version(), hex);
    return 0;
}
