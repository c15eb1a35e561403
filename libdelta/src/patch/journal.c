/* The journal record of an in-place update (formats/journal.md). */
#include "patch_internal.h"

size_t delta_journal_size(uint32_t stash_count)
{
    return DELTA_JOURNAL_FIXED + 8 * (size_t)stash_count + 4;
}

delta_status delta_journal_encode(const delta_journal *j, uint8_t *buf, size_t cap, size_t *len)
{
    if (j->stash_count > DELTA_PATCH_MAX_STASH) return delta_fail(DELTA_ERR_ARG, "journal: too many slots");
    size_t n = delta_journal_size(j->stash_count);
    if (cap < n) return delta_fail(DELTA_ERR_ARG, "journal: buffer of %zu bytes, need %zu", cap, n);
    memset(buf, 0, n);
    memcpy(buf, DELTA_JOURNAL_MAGIC, 8);
    memcpy(buf + 8, j->package_id, DELTA_SHA256_LEN);
    delta_put32(buf + 40, j->image_index);
    delta_put32(buf + 44, j->flags);
    delta_put64(buf + 48, j->next_op);
    delta_put64(buf + 56, j->pending_block);
    delta_put32(buf + 64, j->pending_crc);
    delta_put32(buf + 68, j->tries);
    delta_put32(buf + 72, j->stash_count);
    delta_put32(buf + 76, 0);
    delta_put32(buf + 80, 0);
    for (uint32_t i = 0; i < j->stash_count; i++) delta_put64(buf + DELTA_JOURNAL_FIXED + 8 * i, j->stash[i]);
    delta_put32(buf + n - 4, delta_crc32(0, buf, n - 4));
    *len = n;
    return DELTA_OK;
}

delta_status delta_journal_decode(const uint8_t *buf, size_t len, delta_journal *j)
{
    memset(j, 0, sizeof *j);
    if (len < DELTA_JOURNAL_FIXED + 4 || memcmp(buf, DELTA_JOURNAL_MAGIC, 8) != 0)
        return delta_fail(DELTA_ERR_STATE_CORRUPT, "journal: not a libdelta journal");
    uint32_t count = delta_le32(buf + 72);
    if (count > DELTA_PATCH_MAX_STASH || len != delta_journal_size(count))
        return delta_fail(DELTA_ERR_STATE_CORRUPT, "journal: size does not match its slot count");
    if (delta_crc32(0, buf, len - 4) != delta_le32(buf + len - 4))
        return delta_fail(DELTA_ERR_STATE_CORRUPT, "journal: CRC mismatch");
    memcpy(j->package_id, buf + 8, DELTA_SHA256_LEN);
    j->image_index = delta_le32(buf + 40);
    j->flags = delta_le32(buf + 44);
    j->next_op = delta_le64(buf + 48);
    j->pending_block = delta_le64(buf + 56);
    j->pending_crc = delta_le32(buf + 64);
    j->tries = delta_le32(buf + 68);
    j->stash_count = count;
    if (j->flags & ~(uint32_t)(DELTA_JOURNAL_PENDING | DELTA_JOURNAL_WRITTEN | DELTA_JOURNAL_IMAGE_DONE))
        return delta_fail(DELTA_ERR_STATE_CORRUPT, "journal: unknown flags 0x%x", j->flags);
    for (uint32_t i = 0; i < count; i++) j->stash[i] = delta_le64(buf + DELTA_JOURNAL_FIXED + 8 * i);
    return DELTA_OK;
}
