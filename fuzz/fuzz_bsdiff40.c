/* Fuzz target: the input is a BSDIFF40 patch, applied to a fixed 4 KiB
 * pseudo-random old image into a sink that discards (but checks that writes
 * arrive in order, in chunks of at most 64 KiB, within the declared size).
 *
 * Inputs that do not start with "BSDIFF40" are taken as a patch's
 * *decompressed* contents and compressed here first, so that the fuzzer can
 * reach the control-entry checks without having to forge bzip2 streams:
 *   u16 control length, u16 diff length, 8 bytes new size (as in the header),
 *   control bytes, diff bytes, extra bytes (the rest), lengths clipped. */
#include <bzlib.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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

/* Appends the bzip2 compression of data to out at *at; false if it fails. */
static int compress_into(uint8_t *out, size_t cap, size_t *at, const uint8_t *data, size_t len)
{
    unsigned n = (unsigned)(cap - *at);
    if (BZ2_bzBuffToBuffCompress((char *)out + *at, &n, (char *)(uintptr_t)data, (unsigned)len, 1, 0, 0) != BZ_OK)
        return 0;
    *at += n;
    return 1;
}

static void put_len(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

/* Builds a patch from the raw layout described above; NULL if too short. */
static uint8_t *raw_to_patch(const uint8_t *data, size_t size, size_t *len)
{
    if (size < 12) return NULL;
    size_t cl = (size_t)(data[0] | data[1] << 8), dl = (size_t)(data[2] | data[3] << 8);
    const uint8_t *body = data + 12;
    size_t rest = size - 12;
    if (cl > rest) cl = rest;
    if (dl > rest - cl) dl = rest - cl;
    size_t el = rest - cl - dl;
    size_t cap = 32 + 3 * 700 + 2 * size;
    uint8_t *p = malloc(cap);
    if (!p) return NULL;
    size_t at = 32, c0, d0;
    memcpy(p, "BSDIFF40", 8);
    memcpy(p + 24, data + 4, 8);
    c0 = at;
    if (!compress_into(p, cap, &at, body, cl)) goto fail;
    d0 = at;
    if (!compress_into(p, cap, &at, body + cl, dl)) goto fail;
    if (!compress_into(p, cap, &at, body + cl + dl, el)) goto fail;
    put_len(p + 8, d0 - c0);
    put_len(p + 16, at - d0);
    *len = at;
    return p;
fail:
    free(p);
    return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    if (!ready) {
        fill_old();
        ready = 1;
    }
    uint8_t *built = NULL;
    if (size < 8 || memcmp(data, "BSDIFF40", 8) != 0) {
        built = raw_to_patch(data, size, &size);
        if (!built) return 0;
        data = built;
    }
    delta_source old, patch;
    delta_source_from_memory(&old, old_image, OLD_LEN);
    delta_source_from_memory(&patch, data, size);
    discard d = {0};
    delta_sink sink = {DELTA_SINK_VERSION, &d, discard_write};
    uint64_t n = 0;
    if (delta_bsdiff40_apply(&old, &patch, &sink, &n) == DELTA_OK && n != d.next) abort();
    free(built);
    return 0;
}
