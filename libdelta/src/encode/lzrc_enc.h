/* The LZRC encoder (formats/lzrc.md). */
#ifndef LIBDELTA_ENCODE_LZRC_ENC_H
#define LIBDELTA_ENCODE_LZRC_ENC_H

#include "common/internal.h"

/* Appends the LZRC stream of data[0..n) under the header's window to out;
 * *stored: its bytes (0 for an empty stream, which stores nothing). */
delta_status dlt_lzrc_encode(const uint8_t *data, size_t n, uint32_t header_window, delta_buf *out, uint32_t *stored);

#endif
