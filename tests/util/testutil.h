/* Shared helpers for the Criterion suites. */
#ifndef DELTA_TESTUTIL_H
#define DELTA_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>

#include "libdelta/common.h"

/* Reads a whole file; aborts the test on failure. Caller frees. */
uint8_t *tu_read_file(const char *path, size_t *len);
/* Writes a whole file; aborts the test on failure. */
void tu_write_file(const char *path, const void *data, size_t len);
/* Deterministic pseudo-random bytes (xorshift), for synthetic images. */
void tu_fill_random(uint8_t *buf, size_t len, uint64_t seed);
/* A fresh temporary directory path (created); caller frees. */
char *tu_tempdir(void);

/* A delta_sink over caller memory of cap bytes; len is the end of what was written. */
typedef struct tu_memsink {
    uint8_t *data;
    size_t cap, len;
} tu_memsink;
int tu_memsink_write(void *ctx, uint64_t off, const void *buf, size_t len);

#endif
