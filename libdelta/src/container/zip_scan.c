/*
 * The reader's own scan of an archive, independent of libzip: it finds the
 * one end record, walks the central directory, checks every local header
 * against its central entry and proves that the members tile the archive
 * from offset 0 up to the central directory with no gap and no overlap.
 * Every refusal names what is wrong and where (formats/container.md).
 */
#include <stdlib.h>

#include "zip_internal.h"

/* Reads from the archive; a failing callback is a local input error. */
static delta_status read_at(const delta_source *src, uint64_t off, void *buf, size_t len)
{
    return dlt_read_source(src, off, buf, len, DELTA_ERR_INPUT);
}

/* Finds the end record: the only position in the last ZIP_EOCD_SEARCH bytes
 * holding the end signature whose comment length reaches exactly the end of
 * the archive. A second such position means an end record hides in the
 * comment of another, which readers may resolve differently: refused. */
static delta_status find_eocd(const delta_source *src, uint64_t *eocd_off, uint8_t eocd[ZIP_EOCD_LEN])
{
    uint64_t size = src->size;
    size_t tail_len = size < ZIP_EOCD_SEARCH ? (size_t)size : ZIP_EOCD_SEARCH;
    uint64_t tail_off = size - tail_len;
    uint8_t *tail = malloc(tail_len);
    if (!tail) return dlt_fail(DELTA_ERR_NOMEM, "cannot allocate %zu bytes for the end record search", tail_len);
    delta_status st = read_at(src, tail_off, tail, tail_len);
    if (st) {
        free(tail);
        return st;
    }
    size_t found = SIZE_MAX;
    for (size_t i = tail_len - ZIP_EOCD_LEN + 1; i-- > 0;) {
        if (dlt_le32(tail + i) != ZIP_SIG_EOCD) continue;
        if (i + ZIP_EOCD_LEN + dlt_le16(tail + i + 20) != tail_len) continue;
        if (found != SIZE_MAX) {
            free(tail);
            return dlt_fail(DELTA_ERR_ZIP,
                              "two end records reach the end of the archive (at %llu and %llu): "
                              "one hides in the comment of the other",
                              (unsigned long long)(tail_off + i), (unsigned long long)(tail_off + found));
        }
        found = i;
    }
    if (found == SIZE_MAX) {
        free(tail);
        return dlt_fail(DELTA_ERR_ZIP, "no end of central directory record ends the archive "
                                         "(truncated, not a zip, or bytes after the end record)");
    }
    memcpy(eocd, tail + found, ZIP_EOCD_LEN);
    *eocd_off = tail_off + found;
    free(tail);
    return DELTA_OK;
}

/* Refuses a non-empty extra field block of len bytes (we write none); a
 * ZIP64 extended information field among the first avail bytes gets its
 * own message. */
static delta_status check_extra(const uint8_t *extra, size_t avail, size_t len, const char *what, size_t index)
{
    if (len == 0) return DELTA_OK;
    for (size_t pos = 0; pos + 4 <= avail;) {
        uint16_t id = dlt_le16(extra + pos);
        if (id == 0x0001)
            return dlt_fail(DELTA_ERR_ZIP, "%s %zu: zip64 extra field (zip64 is not supported)", what, index);
        pos += 4u + dlt_le16(extra + pos + 2);
    }
    return dlt_fail(DELTA_ERR_ZIP, "%s %zu: %zu bytes of extra fields (none are allowed)", what, index, len);
}

static delta_status check_flags(uint16_t flags, const char *what, size_t index)
{
    if (flags & 0x0041u) return dlt_fail(DELTA_ERR_ZIP, "%s %zu: member is encrypted", what, index);
    if (flags & 0x0008u)
        return dlt_fail(DELTA_ERR_ZIP, "%s %zu: member uses a data descriptor", what, index);
    if (flags) return dlt_fail(DELTA_ERR_ZIP, "%s %zu: unsupported flags 0x%04x", what, index, flags);
    return DELTA_OK;
}

/* Parses central entry i at cd[pos..], filling zip->members[i] and
 * header_offset[i]; *entry_len receives the entry's size. */
static delta_status parse_central(const uint8_t *cd, size_t cd_len, size_t pos, size_t i, delta_zip *zip,
                                  size_t *entry_len)
{
    if (cd_len - pos < ZIP_CENTRAL_LEN)
        return dlt_fail(DELTA_ERR_ZIP, "central directory entry %zu is truncated", i);
    const uint8_t *e = cd + pos;
    if (dlt_le32(e) != ZIP_SIG_CENTRAL)
        return dlt_fail(DELTA_ERR_ZIP, "central directory entry %zu: bad signature 0x%08x", i, dlt_le32(e));
    uint16_t flags = dlt_le16(e + 8), method = dlt_le16(e + 10);
    uint32_t crc = dlt_le32(e + 16), csize = dlt_le32(e + 20), usize = dlt_le32(e + 24);
    uint16_t name_len = dlt_le16(e + 28), extra_len = dlt_le16(e + 30), comment_len = dlt_le16(e + 32);
    uint16_t disk = dlt_le16(e + 34);
    uint32_t header = dlt_le32(e + 42);

    size_t total = ZIP_CENTRAL_LEN + (size_t)name_len + extra_len + comment_len;
    if (cd_len - pos < total)
        return dlt_fail(DELTA_ERR_ZIP, "central directory entry %zu runs past the central directory", i);
    delta_status st = check_flags(flags, "central directory entry", i);
    if (st) return st;
    if (method != 0)
        return dlt_fail(DELTA_ERR_ZIP, "central directory entry %zu: compression method %u (only 0, stored, "
                                         "is accepted)", i, method);
    if (csize == UINT32_MAX || usize == UINT32_MAX || header == UINT32_MAX || disk == UINT16_MAX)
        return dlt_fail(DELTA_ERR_ZIP, "central directory entry %zu: zip64 marker (zip64 is not supported)", i);
    if (disk != 0)
        return dlt_fail(DELTA_ERR_ZIP, "central directory entry %zu: starts on disk %u (multi-disk archive)", i,
                          disk);
    if (csize != usize)
        return dlt_fail(DELTA_ERR_ZIP, "central directory entry %zu: compressed size %u differs from size %u "
                                         "for a stored member", i, csize, usize);
    if (usize > DELTA_ZIP_MAX_MEMBER_SIZE)
        return dlt_fail(DELTA_ERR_ZIP, "central directory entry %zu: size %u exceeds the 2 GiB limit", i, usize);
    st = check_extra(e + ZIP_CENTRAL_LEN + name_len, extra_len, extra_len, "central directory entry", i);
    if (st) return st;
    if (comment_len != 0)
        return dlt_fail(DELTA_ERR_ZIP, "central directory entry %zu: %u byte comment (none is allowed)", i,
                          comment_len);
    const char *name = (const char *)e + ZIP_CENTRAL_LEN;
    if (!delta_zip_name_ok(name, name_len)) {
        /* Quote the name with anything unprintable or odd shown as '?'. */
        char shown[DELTA_ZIP_MAX_NAME + 1];
        size_t n = name_len < DELTA_ZIP_MAX_NAME ? name_len : DELTA_ZIP_MAX_NAME;
        for (size_t k = 0; k < n; k++) shown[k] = name[k] > 0x20 && name[k] < 0x7f ? name[k] : '?';
        shown[n] = '\0';
        return dlt_fail(DELTA_ERR_MEMBER_NAME, "central directory entry %zu: unsafe or malformed name \"%s%s\" "
                                                 "(%u bytes)", i, shown, n < name_len ? "..." : "", name_len);
    }
    delta_zip_member *m = &zip->members[i];
    memcpy(m->name, name, name_len);
    m->name[name_len] = '\0';
    for (size_t j = 0; j < i; j++)
        if (strcmp(zip->members[j].name, m->name) == 0)
            return dlt_fail(DELTA_ERR_MEMBERS, "central directory entries %zu and %zu are both named %s", j, i,
                              m->name);
    m->size = usize;
    m->crc32 = crc;
    zip->header_offset[i] = header;
    *entry_len = total;
    return DELTA_OK;
}

/* Checks member i's local header against its central entry (e is the
 * central entry) and sets its data offset. */
static delta_status check_local(const delta_source *src, const uint8_t *e, size_t i, uint64_t cd_off,
                                delta_zip *zip)
{
    delta_zip_member *m = &zip->members[i];
    uint64_t header = zip->header_offset[i];
    size_t name_len = strlen(m->name);
    uint8_t lh[ZIP_LOCAL_LEN + DELTA_ZIP_MAX_NAME];
    if (header >= cd_off || cd_off - header < ZIP_LOCAL_LEN + name_len)
        return dlt_fail(DELTA_ERR_ZIP, "member %s: local header at %llu overlaps the central directory", m->name,
                          (unsigned long long)header);
    delta_status st = read_at(src, header, lh, ZIP_LOCAL_LEN + name_len);
    if (st) return st;
    if (dlt_le32(lh) != ZIP_SIG_LOCAL)
        return dlt_fail(DELTA_ERR_ZIP, "member %s: no local header signature at %llu", m->name,
                          (unsigned long long)header);
    if (dlt_le16(lh + 4) != dlt_le16(e + 6))
        return dlt_fail(DELTA_ERR_ZIP, "member %s: local header version needed differs from the central entry",
                          m->name);
    if (dlt_le16(lh + 6) != dlt_le16(e + 8))
        return dlt_fail(DELTA_ERR_ZIP, "member %s: local header flags differ from the central entry", m->name);
    if (dlt_le16(lh + 8) != dlt_le16(e + 10))
        return dlt_fail(DELTA_ERR_ZIP, "member %s: local header method differs from the central entry", m->name);
    if (dlt_le32(lh + 10) != dlt_le32(e + 12))
        return dlt_fail(DELTA_ERR_ZIP, "member %s: local header time or date differs from the central entry",
                          m->name);
    if (dlt_le32(lh + 14) != m->crc32)
        return dlt_fail(DELTA_ERR_ZIP, "member %s: local header crc differs from the central entry", m->name);
    if (dlt_le32(lh + 18) != m->size || dlt_le32(lh + 22) != m->size)
        return dlt_fail(DELTA_ERR_ZIP, "member %s: local header sizes differ from the central entry", m->name);
    if (dlt_le16(lh + 26) != name_len || memcmp(lh + ZIP_LOCAL_LEN, m->name, name_len) != 0)
        return dlt_fail(DELTA_ERR_ZIP, "member %s: local header name differs from the central entry", m->name);
    uint16_t extra_len = dlt_le16(lh + 28);
    if (extra_len != 0) {
        /* Refused either way; the first field's id only picks the message. */
        uint8_t first[4] = {0};
        size_t n = extra_len < sizeof first ? extra_len : sizeof first;
        if (cd_off - header - ZIP_LOCAL_LEN - name_len >= n) {
            st = read_at(src, header + ZIP_LOCAL_LEN + name_len, first, n);
            if (st) return st;
        }
        return check_extra(first, n, extra_len, "local header of member", i);
    }
    m->data_offset = header + ZIP_LOCAL_LEN + name_len;
    uint64_t end = m->data_offset + m->size; /* < 2^33: cannot overflow */
    if (end > cd_off)
        return dlt_fail(DELTA_ERR_ZIP, "member %s: data [%llu, %llu) overlaps the central directory at %llu",
                          m->name, (unsigned long long)m->data_offset, (unsigned long long)end,
                          (unsigned long long)cd_off);
    return DELTA_OK;
}

/* The members, sorted by local header offset, must tile [0, cd_off), and
 * that sorted order must be the central directory's. */
static delta_status check_layout(const delta_zip *zip, uint64_t cd_off)
{
    size_t order[DELTA_ZIP_MAX_MEMBERS];
    for (size_t i = 0; i < zip->count; i++) {
        size_t j = i;
        while (j > 0 && zip->header_offset[order[j - 1]] > zip->header_offset[i]) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = i;
    }
    uint64_t expect = 0;
    for (size_t k = 0; k < zip->count; k++) {
        const delta_zip_member *m = &zip->members[order[k]];
        uint64_t header = zip->header_offset[order[k]];
        if (k == 0 && header != 0)
            return dlt_fail(DELTA_ERR_ZIP, "%llu bytes of prepended data before the first member",
                              (unsigned long long)header);
        if (header < expect)
            return dlt_fail(DELTA_ERR_ZIP, "members %s and %s overlap", zip->members[order[k - 1]].name, m->name);
        if (header > expect)
            return dlt_fail(DELTA_ERR_ZIP, "%llu unaccounted bytes before member %s",
                              (unsigned long long)(header - expect), m->name);
        expect = m->data_offset + m->size;
    }
    if (expect != cd_off)
        return dlt_fail(DELTA_ERR_ZIP, "%llu unaccounted bytes between the last member and the central directory",
                          (unsigned long long)(cd_off - expect));
    /* The members tile the archive; the directory must also list them in
     * the order of their local headers (the order in which they were added). */
    for (size_t i = 1; i < zip->count; i++)
        if (zip->header_offset[i] < zip->header_offset[i - 1])
            return dlt_fail(DELTA_ERR_ZIP, "central directory entries %zu (%s, local header at %llu) and %zu (%s, "
                                             "local header at %llu) are out of order: the directory must list the "
                                             "members in the order of their local headers", i - 1,
                              zip->members[i - 1].name, (unsigned long long)zip->header_offset[i - 1], i,
                              zip->members[i].name, (unsigned long long)zip->header_offset[i]);
    return DELTA_OK;
}

delta_status dlt_zip_scan(const delta_source *src, delta_zip *zip)
{
    uint64_t size = src->size;
    if (size < ZIP_EOCD_LEN)
        return dlt_fail(DELTA_ERR_ZIP, "archive of %llu bytes is too short for an end record",
                          (unsigned long long)size);
    if (size > ZIP_ARCHIVE_MAX)
        return dlt_fail(DELTA_ERR_ZIP, "archive of %llu bytes needs zip64 (not supported)",
                          (unsigned long long)size);

    uint8_t eocd[ZIP_EOCD_LEN] = {0};
    uint64_t eocd_off = 0;
    delta_status st = find_eocd(src, &eocd_off, eocd);
    if (st) return st;
    uint16_t disk = dlt_le16(eocd + 4), cd_disk = dlt_le16(eocd + 6);
    uint16_t disk_entries = dlt_le16(eocd + 8), entries = dlt_le16(eocd + 10);
    uint32_t cd_size = dlt_le32(eocd + 12), cd_off = dlt_le32(eocd + 16);
    uint16_t comment_len = dlt_le16(eocd + 20);
    if (comment_len != 0)
        return dlt_fail(DELTA_ERR_ZIP, "archive comment of %u bytes (comments are not allowed)", comment_len);
    if (disk == UINT16_MAX || cd_disk == UINT16_MAX || disk_entries == UINT16_MAX || entries == UINT16_MAX ||
        cd_size == UINT32_MAX || cd_off == UINT32_MAX)
        return dlt_fail(DELTA_ERR_ZIP, "end record holds zip64 markers (zip64 is not supported)");
    if (disk != 0 || cd_disk != 0 || disk_entries != entries)
        return dlt_fail(DELTA_ERR_ZIP, "multi-disk archive (disk %u, central directory on disk %u, %u of %u "
                                         "entries on this disk)", disk, cd_disk, disk_entries, entries);
    if (entries == 0) return dlt_fail(DELTA_ERR_MEMBERS, "archive has no members");
    if (entries > DELTA_ZIP_MAX_MEMBERS)
        return dlt_fail(DELTA_ERR_MEMBERS, "archive has %u members (at most %d)", entries, DELTA_ZIP_MAX_MEMBERS);
    uint64_t cd_end = (uint64_t)cd_off + cd_size;
    if (cd_end > eocd_off)
        return dlt_fail(DELTA_ERR_ZIP, "central directory [%u, %llu) runs past the end record at %llu", cd_off,
                          (unsigned long long)cd_end, (unsigned long long)eocd_off);
    if (cd_end < eocd_off) {
        uint8_t sig[4];
        if (eocd_off - cd_end >= 20) {
            st = read_at(src, eocd_off - 20, sig, sizeof sig);
            if (st) return st;
            if (dlt_le32(sig) == ZIP_SIG_ZIP64_LOCATOR)
                return dlt_fail(DELTA_ERR_ZIP, "zip64 end record locator (zip64 is not supported)");
        }
        return dlt_fail(DELTA_ERR_ZIP, "%llu unaccounted bytes between the central directory and the end record",
                          (unsigned long long)(eocd_off - cd_end));
    }
    if (cd_size > ZIP_CD_MAX)
        return dlt_fail(DELTA_ERR_ZIP, "central directory of %u bytes exceeds the 1 MiB limit", cd_size);

    uint8_t *cd = malloc(cd_size ? cd_size : 1);
    if (!cd) return dlt_fail(DELTA_ERR_NOMEM, "cannot allocate %u bytes for the central directory", cd_size);
    st = read_at(src, cd_off, cd, cd_size);
    size_t pos = 0, i = 0;
    for (; !st && i < entries; i++) {
        if (pos == cd_size) {
            st = dlt_fail(DELTA_ERR_ZIP, "central directory holds %zu entries, the end record counts %u", i,
                            entries);
            break;
        }
        size_t len = 0;
        st = parse_central(cd, cd_size, pos, i, zip, &len);
        if (!st) st = check_local(src, cd + pos, i, cd_off, zip);
        pos += len;
    }
    if (!st && pos != cd_size)
        st = dlt_fail(DELTA_ERR_ZIP, "central directory holds %u more bytes than the %u entries the end record "
                                       "counts", (unsigned)(cd_size - pos), entries);
    free(cd);
    if (st) return st;
    zip->count = entries;
    return check_layout(zip, cd_off);
}
