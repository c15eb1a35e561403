/* Fuzz target: the input is a BSDIFF40 patch, applied to a fixed 4 KiB
 * pseudo-random old image into a sink that discards (but checks that writes
 * arrive in order, in chunks of at most 64 KiB, within the declared size). */
#include <stdint.h>
#include <stdlib.h>

#include "libdelta/diff.h"

#define OLD_LEN 4096

static uint8_t old_image[OLD_LEN];

/* The same xorshift as the test helpers (seed 42), so seeds can be made
 * with any tool from tests' tu_fill_random(old, 4096, 42). */
static void fill_old(void)
{
    uint64_t x = 42 * 0x9E3779B97F4A7C15ull + 1;
    for (size_t i = 0; i < OLD_LEN; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        old_image[i] = (uint8_t)(x >> 24);
    }
}

typedef struct discard {
    uint64_t next;
} discard;

static int discard_write(void *ctx, uint64_t off, const void *buf, size_t len)
{
    discard *d = ctx;
    (void)buf;
    if (off != d->next || len == 0 || len > 65536) abort(); /* contract broken */
    d->next += len;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    if (!ready) {
        fill_old();
        ready = 1;
    }
    delta_source old, patch;
    delta_source_from_memory(&old, old_image, OLD_LEN);
    delta_source_from_memory(&patch, data, size);
    discard d = {0};
    delta_sink sink = {&d, discard_write};
    uint64_t n = 0;
    if (delta_bsdiff40_apply(&old, &patch, &sink, &n) == DELTA_OK && n != d.next) abort();
    return 0;
}
