/* The journal record of an in-place update (formats/journal.md). */
#include "patch_internal.h"

enum {
    J_ID = 8, J_STATE = 40, J_IMAGE = 44, J_FLAGS = 48, J_TRIES = 52, J_NEXT_OP = 56, J_NEXT_BLOCK = 64,
    J_MANIFEST_LEN = 72, J_STASH_COUNT = 76, J_PENDING_COUNT = 80, J_RESERVED = 84
};

#define KNOWN_FLAGS \
    (DELTA_JOURNAL_PENDING | DELTA_JOURNAL_WRITTEN | DELTA_JOURNAL_IMAGE_DONE | DELTA_JOURNAL_TAIL_SAVED | \
     DELTA_JOURNAL_PENDING_B)

size_t delta_journal_size(uint32_t stash_count, uint32_t pending_count)
{
    return DELTA_JOURNAL_FIXED + 8 * (size_t)stash_count + 12 * (size_t)pending_count + 4;
}

delta_status delta_journal_encode(const delta_journal *j, uint8_t *buf, size_t cap, size_t *len)
{
    if (j->stash_count > DELTA_JOURNAL_STASH_CAP || j->pending_count > DELTA_JOURNAL_BATCH_CAP)
        return dlt_fail(DELTA_ERR_ARG, "journal: too many slots");
    size_t n = delta_journal_size(j->stash_count, j->pending_count);
    if (cap < n) return dlt_fail(DELTA_ERR_ARG, "journal: buffer of %zu bytes, need %zu", cap, n);
    memset(buf, 0, n);
    memcpy(buf, DELTA_JOURNAL_MAGIC, 8);
    memcpy(buf + J_ID, j->package_id, DELTA_SHA256_LEN);
    dlt_put32(buf + J_STATE, j->state);
    dlt_put32(buf + J_IMAGE, j->image_index);
    dlt_put32(buf + J_FLAGS, j->flags);
    dlt_put32(buf + J_TRIES, j->tries);
    dlt_put64(buf + J_NEXT_OP, j->next_op);
    dlt_put64(buf + J_NEXT_BLOCK, j->next_block);
    dlt_put32(buf + J_MANIFEST_LEN, j->manifest_len);
    dlt_put32(buf + J_STASH_COUNT, j->stash_count);
    dlt_put32(buf + J_PENDING_COUNT, j->pending_count);
    uint8_t *p = buf + DELTA_JOURNAL_FIXED;
    for (uint32_t i = 0; i < j->stash_count; i++, p += 8) dlt_put64(p, j->stash[i]);
    for (uint32_t i = 0; i < j->pending_count; i++, p += 12) {
        dlt_put64(p, j->pending_block[i]);
        dlt_put32(p + 8, j->pending_crc[i]);
    }
    dlt_put32(buf + n - 4, dlt_crc32(0, buf, n - 4));
    *len = n;
    return DELTA_OK;
}

delta_status delta_journal_decode(const uint8_t *buf, size_t len, delta_journal *j)
{
    memset(j, 0, sizeof *j);
    if (len < DELTA_JOURNAL_FIXED + 4 || memcmp(buf, DELTA_JOURNAL_MAGIC, 8) != 0)
        return dlt_fail(DELTA_ERR_STATE_CORRUPT, "journal: not a libdelta journal (version 3)");
    uint32_t stash = dlt_le32(buf + J_STASH_COUNT), pending = dlt_le32(buf + J_PENDING_COUNT);
    if (stash > DELTA_JOURNAL_STASH_CAP || pending > DELTA_JOURNAL_BATCH_CAP || len != delta_journal_size(stash, pending))
        return dlt_fail(DELTA_ERR_STATE_CORRUPT, "journal: size does not match its slot counts");
    if (dlt_crc32(0, buf, len - 4) != dlt_le32(buf + len - 4))
        return dlt_fail(DELTA_ERR_STATE_CORRUPT, "journal: CRC mismatch");
    memcpy(j->package_id, buf + J_ID, DELTA_SHA256_LEN);
    j->state = dlt_le32(buf + J_STATE);
    j->image_index = dlt_le32(buf + J_IMAGE);
    j->flags = dlt_le32(buf + J_FLAGS);
    j->tries = dlt_le32(buf + J_TRIES);
    j->next_op = dlt_le64(buf + J_NEXT_OP);
    j->next_block = dlt_le64(buf + J_NEXT_BLOCK);
    j->manifest_len = dlt_le32(buf + J_MANIFEST_LEN);
    j->stash_count = stash;
    j->pending_count = pending;
    if (j->state != DELTA_JOURNAL_APPLYING && j->state != DELTA_JOURNAL_ROLLBACK)
        return dlt_fail(DELTA_ERR_STATE_CORRUPT, "journal: unknown state %u", j->state);
    if (j->flags & ~(uint32_t)KNOWN_FLAGS)
        return dlt_fail(DELTA_ERR_STATE_CORRUPT, "journal: unknown flags 0x%x", j->flags);
    if (!(j->flags & DELTA_JOURNAL_PENDING) != !pending)
        return dlt_fail(DELTA_ERR_STATE_CORRUPT, "journal: pending flag and pending blocks disagree");
    if ((j->flags & DELTA_JOURNAL_PENDING) && !(j->flags & DELTA_JOURNAL_WRITTEN))
        return dlt_fail(DELTA_ERR_STATE_CORRUPT, "journal: pending blocks, but nothing written");
    if ((j->flags & DELTA_JOURNAL_PENDING_B) && !(j->flags & DELTA_JOURNAL_PENDING))
        return dlt_fail(DELTA_ERR_STATE_CORRUPT, "journal: a pending area but no pending blocks");
    if (dlt_le32(buf + J_RESERVED) != 0) return dlt_fail(DELTA_ERR_STATE_CORRUPT, "journal: reserved field not 0");
    if (j->next_block > j->next_op)
        return dlt_fail(DELTA_ERR_STATE_CORRUPT, "journal: %llu blocks before command %llu",
                          (unsigned long long)j->next_block, (unsigned long long)j->next_op);
    const uint8_t *p = buf + DELTA_JOURNAL_FIXED;
    for (uint32_t i = 0; i < stash; i++, p += 8) j->stash[i] = dlt_le64(p);
    for (uint32_t i = 0; i < pending; i++, p += 12) {
        j->pending_block[i] = dlt_le64(p);
        j->pending_crc[i] = dlt_le32(p + 8);
    }
    return DELTA_OK;
}
