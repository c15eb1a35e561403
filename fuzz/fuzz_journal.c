/* Fuzz target: the journal decoder (delta_journal_decode, formats/journal.md).
 *
 * The input is a stored journal. A refusal must be DELTA_ERR_STATE_CORRUPT.
 * A journal that decodes must re-encode to exactly the input bytes: the
 * decoder accepts one encoding per state, so nothing the encoder would not
 * write (a reserved byte set, trailing bytes, ...) is read as a valid state.
 * Only the public decode/encode pair is used, so the target keeps working
 * when the record changes.
 *
 * Each input runs twice: as it is, then with its last 4 bytes replaced by
 * the CRC-32 of the rest (the record's trailer), so that mutations reach
 * the checks behind the CRC. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/internal.h"
#include "libdelta/patch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void round_trip(const uint8_t *in, size_t size, uint8_t *out, delta_journal *j)
{
    delta_status st = delta_journal_decode(in, size, j);
    if (st != DELTA_OK) {
        if (st != DELTA_ERR_STATE_CORRUPT) abort();
        return;
    }
    size_t len = 0;
    if (delta_journal_encode(j, out, size, &len) != DELTA_OK) abort(); /* fits the bytes it came from */
    if (len != size || memcmp(out, in, size) != 0) abort();              /* and is those bytes */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* copies of exact length, so a read past either end is caught by ASan */
    uint8_t *in = malloc(size ? size : 1), *out = malloc(size ? size : 1);
    delta_journal *j = malloc(sizeof *j);
    if (!in || !out || !j) abort();
    memcpy(in, data, size);
    round_trip(in, size, out, j);
    if (size >= 4) {
        uint32_t crc = dlt_crc32(0, in, size - 4);
        if (crc != dlt_le32(in + size - 4)) {
            dlt_put32(in + size - 4, crc);
            round_trip(in, size, out, j);
        }
    }
    free(j);
    free(in);
    free(out);
    return 0;
}
