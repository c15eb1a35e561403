/*
 * The zip container (formats/container.md): round trips, determinism, the
 * exact bytes of the layout, and one test per refusal. Every hostile archive
 * is made by patching a valid one and is also committed as
 * formats/vectors/invalid/zip-<case>.zip; zip-README.md names the status.
 * DELTA_REGEN_VECTORS=1 rewrites those files from the crafting code below.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/internal.h"
#include "libdelta/container.h"
#include "testutil.h"

#define INVALID_DIR DELTA_VECTORS "/invalid"
#define VALID_ZIP DELTA_VECTORS "/valid/zip-three-members.zip"

/* ---- building archives -------------------------------------------------- */

typedef struct member_in {
    const char *name;
    size_t name_len; /* 0: strlen(name) */
    const void *data;
    size_t len;
} member_in;

static size_t name_len_of(const member_in *m)
{
    return m->name_len ? m->name_len : strlen(m->name);
}

/* Writes members with delta_zip_writer; asserts success. */
static void write_zip(const member_in *ms, size_t n, delta_buf *out)
{
    delta_zip_writer *w = NULL;
    cr_assert_eq(delta_zip_writer_new(&w), DELTA_OK);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(delta_zip_writer_add(w, ms[i].name, ms[i].data, ms[i].len), DELTA_OK, "%s: %s",
                     ms[i].name, delta_last_error());
    cr_assert_eq(delta_zip_writer_finish(w, out), DELTA_OK, "%s", delta_last_error());
    delta_zip_writer_free(w);
}

/* An independent encoder of the layout of formats/container.md, byte for
 * byte what the writer produces. It takes any name (hostile ones too). A
 * member with header_at != UINT32_MAX gets no local header of its own: its
 * central entry points at header_at. */
typedef struct raw_member {
    member_in in;
    uint32_t header_at;
} raw_member;

static void put(delta_buf *b, const void *p, size_t n)
{
    cr_assert_eq(delta_buf_append(b, p, n), DELTA_OK);
}
static void put16(delta_buf *b, uint16_t v)
{
    uint8_t t[2];
    dlt_put16(t, v);
    put(b, t, 2);
}
static void put32(delta_buf *b, uint32_t v)
{
    uint8_t t[4];
    dlt_put32(t, v);
    put(b, t, 4);
}

static void put_local(delta_buf *b, const member_in *m)
{
    uint32_t crc = dlt_crc32(0, m->data, m->len);
    put32(b, 0x04034b50);
    put16(b, 10); /* version needed */
    put16(b, 0);  /* flags */
    put16(b, 0);  /* method: stored */
    put16(b, 0x0000);
    put16(b, 0x0021); /* 1980-01-01 00:00 */
    put32(b, crc);
    put32(b, (uint32_t)m->len);
    put32(b, (uint32_t)m->len);
    put16(b, (uint16_t)name_len_of(m));
    put16(b, 0);
    put(b, m->name, name_len_of(m));
    put(b, m->data, m->len);
}

static void raw_zip(const raw_member *ms, size_t n, delta_buf *out)
{
    uint32_t *at = calloc(n ? n : 1, sizeof *at);
    for (size_t i = 0; i < n; i++) {
        if (ms[i].header_at != UINT32_MAX) {
            at[i] = ms[i].header_at;
            continue;
        }
        at[i] = (uint32_t)out->len;
        put_local(out, &ms[i].in);
    }
    uint32_t cd_off = (uint32_t)out->len;
    for (size_t i = 0; i < n; i++) {
        const member_in *m = &ms[i].in;
        put32(out, 0x02014b50);
        put16(out, 0x033f); /* made by UNIX, 6.3 */
        put16(out, 10);
        put16(out, 0);
        put16(out, 0);
        put16(out, 0x0000);
        put16(out, 0x0021);
        put32(out, dlt_crc32(0, m->data, m->len));
        put32(out, (uint32_t)m->len);
        put32(out, (uint32_t)m->len);
        put16(out, (uint16_t)name_len_of(m));
        put16(out, 0); /* extra */
        put16(out, 0); /* comment */
        put16(out, 0); /* disk */
        put16(out, 0); /* internal attributes */
        put32(out, 0x81b60000); /* regular file, 0666 */
        put32(out, at[i]);
        put(out, m->name, name_len_of(m));
    }
    uint32_t cd_size = (uint32_t)out->len - cd_off;
    put32(out, 0x06054b50);
    put16(out, 0);
    put16(out, 0);
    put16(out, (uint16_t)n);
    put16(out, (uint16_t)n);
    put32(out, cd_size);
    put32(out, cd_off);
    put16(out, 0);
    free(at);
}

/* The base archive every hostile one is patched from. */
static uint8_t patch_bytes[300];
static const char manifest_json[] = "{\"format\":1,\"images\":[\"modem\"]}";
static const char readme_txt[] = "delta package for tests\n";

static void base_members(member_in ms[3])
{
    tu_fill_random(patch_bytes, sizeof patch_bytes, 7);
    ms[0] = (member_in){"manifest.json", 0, manifest_json, strlen(manifest_json)};
    ms[1] = (member_in){"images/modem.patch", 0, patch_bytes, sizeof patch_bytes};
    ms[2] = (member_in){"readme.txt", 0, readme_txt, strlen(readme_txt)};
}

static void base_zip(delta_buf *out)
{
    member_in ms[3];
    base_members(ms);
    write_zip(ms, 3, out);
}

static void base_raw(raw_member rs[3])
{
    member_in ms[3];
    base_members(ms);
    for (int i = 0; i < 3; i++) rs[i] = (raw_member){ms[i], UINT32_MAX};
}

/* ---- locating and patching records -------------------------------------- */

static size_t eocd_of(const delta_buf *a)
{
    return a->len - 22;
}
static size_t cd_of(const delta_buf *a)
{
    return dlt_le32(a->data + eocd_of(a) + 16);
}
/* Offset of central entry i (walks the directory). */
static size_t central_of(const delta_buf *a, size_t i)
{
    size_t p = cd_of(a);
    for (size_t k = 0; k < i; k++)
        p += 46 + dlt_le16(a->data + p + 28) + dlt_le16(a->data + p + 30) + dlt_le16(a->data + p + 32);
    return p;
}
static size_t local_of(const delta_buf *a, size_t i)
{
    return dlt_le32(a->data + central_of(a, i) + 42);
}
static void set16(delta_buf *a, size_t off, uint16_t v)
{
    dlt_put16(a->data + off, v);
}
static void set32(delta_buf *a, size_t off, uint32_t v)
{
    dlt_put32(a->data + off, v);
}
static void add32(delta_buf *a, size_t off, uint32_t d)
{
    set32(a, off, dlt_le32(a->data + off) + d);
}
static void insert(delta_buf *a, size_t off, const void *p, size_t n)
{
    cr_assert_eq(delta_buf_reserve(a, n), DELTA_OK);
    memmove(a->data + off + n, a->data + off, a->len - off);
    memcpy(a->data + off, p, n);
    a->len += n;
}
/* Patches the same field in member i's central entry and local header
 * (coff/loff are the field's offsets in each record). */
static void set32_both(delta_buf *a, size_t i, size_t coff, size_t loff, uint32_t v)
{
    size_t c = central_of(a, i), l = local_of(a, i);
    set32(a, c + coff, v);
    set32(a, l + loff, v);
}
static void set16_both(delta_buf *a, size_t i, size_t coff, size_t loff, uint16_t v)
{
    size_t c = central_of(a, i), l = local_of(a, i);
    set16(a, c + coff, v);
    set16(a, l + loff, v);
}

/* ---- the hostile archives ----------------------------------------------- */

static void craft_no_eocd(delta_buf *a)
{
    base_zip(a);
    a->data[eocd_of(a)] = 'X';
}
static void craft_truncated(delta_buf *a)
{
    base_zip(a);
    a->len -= 40;
}
static void craft_trailing_data(delta_buf *a)
{
    base_zip(a);
    put(a, "junk", 4);
}
static void craft_comment(delta_buf *a)
{
    base_zip(a);
    set16(a, eocd_of(a) + 20, 7);
    put(a, "comment", 7);
}
/* The real end record's comment holds a second, fake end record. */
static void craft_fake_eocd(delta_buf *a)
{
    base_zip(a);
    uint8_t fake[22];
    size_t e = eocd_of(a);
    memcpy(fake, a->data + e, 22);
    set16(a, e + 20, 22);
    dlt_put16(fake + 8, 1);
    dlt_put16(fake + 10, 1);
    put(a, fake, 22);
}
static void craft_multi_disk(delta_buf *a)
{
    base_zip(a);
    set16(a, eocd_of(a) + 4, 1);
}
static void craft_zip64_eocd(delta_buf *a)
{
    base_zip(a);
    set32(a, eocd_of(a) + 16, 0xffffffff);
}
/* A ZIP64 end record and locator between the directory and the end record. */
static void craft_zip64_locator(delta_buf *a)
{
    base_zip(a);
    size_t e = eocd_of(a);
    uint8_t rec[56 + 20] = {0};
    dlt_put32(rec, 0x06064b50);
    dlt_put64(rec + 4, 44);
    dlt_put16(rec + 12, 45);
    dlt_put16(rec + 14, 45);
    dlt_put64(rec + 24, 3);
    dlt_put64(rec + 32, 3);
    dlt_put64(rec + 40, dlt_le32(a->data + e + 12));
    dlt_put64(rec + 48, dlt_le32(a->data + e + 16));
    dlt_put32(rec + 56, 0x07064b50);
    dlt_put64(rec + 64, e);
    dlt_put32(rec + 72, 1);
    insert(a, e, rec, sizeof rec);
}
/* Entry 0 announces its sizes in a ZIP64 extra field. */
static void craft_zip64_extra(delta_buf *a)
{
    base_zip(a);
    size_t c = central_of(a, 0);
    uint64_t size = dlt_le32(a->data + c + 24);
    uint8_t extra[20];
    dlt_put16(extra, 0x0001);
    dlt_put16(extra + 2, 16);
    dlt_put64(extra + 4, size);
    dlt_put64(extra + 12, size);
    insert(a, c + 46 + dlt_le16(a->data + c + 28), extra, sizeof extra);
    set16(a, c + 30, sizeof extra);
    set32(a, c + 20, 0xffffffff);
    set32(a, c + 24, 0xffffffff);
    add32(a, eocd_of(a) + 12, sizeof extra);
}
static void craft_cd_out_of_bounds(delta_buf *a)
{
    base_zip(a);
    add32(a, eocd_of(a) + 12, 1);
}
static void craft_count_low(delta_buf *a)
{
    base_zip(a);
    set16(a, eocd_of(a) + 8, 2);
    set16(a, eocd_of(a) + 10, 2);
}
static void craft_count_high(delta_buf *a)
{
    base_zip(a);
    set16(a, eocd_of(a) + 8, 4);
    set16(a, eocd_of(a) + 10, 4);
}
static void craft_too_many_members(delta_buf *a)
{
    static char names[DELTA_ZIP_MAX_MEMBERS + 1][8];
    raw_member rs[DELTA_ZIP_MAX_MEMBERS + 1];
    for (int i = 0; i <= DELTA_ZIP_MAX_MEMBERS; i++) {
        snprintf(names[i], sizeof names[i], "m%02d", i);
        rs[i] = (raw_member){{names[i], 0, names[i], 3}, UINT32_MAX};
    }
    raw_zip(rs, DELTA_ZIP_MAX_MEMBERS + 1, a);
}
static void craft_no_members(delta_buf *a)
{
    raw_zip(NULL, 0, a);
}
/* 16 bytes before the first member; every offset shifted to match. */
static void craft_prepended(delta_buf *a)
{
    base_zip(a);
    for (size_t i = 0; i < 3; i++) add32(a, central_of(a, i) + 42, 16);
    add32(a, eocd_of(a) + 16, 16);
    insert(a, 0, "MZ-self-extract-", 16);
}
static void craft_gap_before_cd(delta_buf *a)
{
    base_zip(a);
    size_t cd = cd_of(a);
    add32(a, eocd_of(a) + 16, 8);
    insert(a, cd, "hidden!!", 8);
}
static void craft_gap_between(delta_buf *a)
{
    base_zip(a);
    size_t l1 = local_of(a, 1);
    for (size_t i = 1; i < 3; i++) add32(a, central_of(a, i) + 42, 8);
    add32(a, eocd_of(a) + 16, 8);
    insert(a, l1, "hidden!!", 8);
}
static void craft_method_deflate(delta_buf *a)
{
    base_zip(a);
    set16_both(a, 1, 10, 8, 8);
}
static void craft_size_mismatch(delta_buf *a)
{
    base_zip(a);
    set32_both(a, 1, 20, 18, 200); /* compressed size 200, size 300 */
}
static void craft_encrypted(delta_buf *a)
{
    base_zip(a);
    set16_both(a, 1, 8, 6, 0x0001);
}
static void craft_data_descriptor(delta_buf *a)
{
    base_zip(a);
    set16_both(a, 1, 8, 6, 0x0008);
}
static void craft_member_too_large(delta_buf *a)
{
    base_zip(a);
    set32_both(a, 1, 20, 18, 0x80000001);
    set32_both(a, 1, 24, 22, 0x80000001);
}
static void craft_named(delta_buf *a, const char *name, size_t len)
{
    raw_member rs[3];
    base_raw(rs);
    rs[1].in.name = name;
    rs[1].in.name_len = len;
    raw_zip(rs, 3, a);
}
static void craft_name_slash(delta_buf *a)
{
    craft_named(a, "/images/modem.patch", 0);
}
static void craft_name_dotdot(delta_buf *a)
{
    craft_named(a, "images/../../modem.patch", 0);
}
static void craft_name_backslash(delta_buf *a)
{
    craft_named(a, "images\\modem.patch", 0);
}
static void craft_name_nul(delta_buf *a)
{
    craft_named(a, "images\0modem.patch", 18);
}
static void craft_name_empty(delta_buf *a)
{
    raw_member rs[3];
    base_raw(rs);
    rs[1].in.name = "";
    rs[1].in.name_len = 0;
    /* name_len 0 means strlen: "" gives an empty name */
    raw_zip(rs, 3, a);
}
static void craft_name_long(delta_buf *a)
{
    static char name[DELTA_ZIP_MAX_NAME + 2];
    memset(name, 'a', DELTA_ZIP_MAX_NAME + 1);
    craft_named(a, name, 0);
}
static void craft_duplicate(delta_buf *a)
{
    raw_member rs[3];
    base_raw(rs);
    rs[2].in.name = "manifest.json";
    raw_zip(rs, 3, a);
}
static void craft_local_signature(delta_buf *a)
{
    base_zip(a);
    a->data[local_of(a, 1) + 3] = 0x05;
}
static void craft_local_name(delta_buf *a)
{
    base_zip(a);
    a->data[local_of(a, 1) + 30] = 'I';
}
static void craft_local_method(delta_buf *a)
{
    base_zip(a);
    set16(a, local_of(a, 1) + 8, 8);
}
static void craft_local_sizes(delta_buf *a)
{
    base_zip(a);
    set32(a, local_of(a, 1) + 22, 301);
}
static void craft_local_version(delta_buf *a)
{
    base_zip(a);
    set16(a, local_of(a, 1) + 4, 20);
}
static void craft_local_time(delta_buf *a)
{
    base_zip(a);
    set16(a, central_of(a, 1) + 12, 0x6a00);
}
static void craft_local_crc(delta_buf *a)
{
    base_zip(a);
    add32(a, local_of(a, 1) + 14, 1);
}
/* Member b.bin's local header and data lie inside member a.bin's data. */
static void craft_overlap(delta_buf *a)
{
    static const char b_data[] = "inner member";
    member_in b = {"b.bin", 0, b_data, strlen(b_data)};
    delta_buf inner = DELTA_BUF_INIT;
    put_local(&inner, &b);
    raw_member rs[2] = {{{"a.bin", 0, NULL, 0}, UINT32_MAX}, {b, 30 + 5}};
    rs[0].in.data = inner.data;
    rs[0].in.len = inner.len;
    raw_zip(rs, 2, a);
    delta_buf_free(&inner);
}
/* The last member's sizes grow into the central directory. */
static void craft_overlap_cd(delta_buf *a)
{
    base_zip(a);
    set32_both(a, 2, 20, 18, (uint32_t)strlen(readme_txt) + 10);
    set32_both(a, 2, 24, 22, (uint32_t)strlen(readme_txt) + 10);
}
static void craft_extra_field(delta_buf *a)
{
    base_zip(a);
    size_t c = central_of(a, 0);
    static const uint8_t extra[4] = {0x55, 0x54, 0, 0}; /* "UT", empty */
    insert(a, c + 46 + dlt_le16(a->data + c + 28), extra, sizeof extra);
    set16(a, c + 30, sizeof extra);
    add32(a, eocd_of(a) + 12, sizeof extra);
}
static void craft_entry_comment(delta_buf *a)
{
    base_zip(a);
    size_t c = central_of(a, 0);
    insert(a, c + 46 + dlt_le16(a->data + c + 28), "hey", 3);
    set16(a, c + 32, 3);
    add32(a, eocd_of(a) + 12, 3);
}
static void craft_central_signature(delta_buf *a)
{
    base_zip(a);
    a->data[central_of(a, 1) + 2] = 0x03;
}
/* Central entries 0 and 1 swapped: every entry still matches its local
 * header and the members still tile the archive, but the directory no
 * longer lists them in the order of their local headers. */
static void craft_central_order(delta_buf *a)
{
    base_zip(a);
    size_t c0 = central_of(a, 0), c1 = central_of(a, 1), c2 = central_of(a, 2);
    size_t len0 = c1 - c0, len1 = c2 - c1;
    uint8_t *tmp = malloc(len0 + len1);
    cr_assert_not_null(tmp);
    memcpy(tmp, a->data + c1, len1);
    memcpy(tmp + len1, a->data + c0, len0);
    memcpy(a->data + c0, tmp, len0 + len1);
    free(tmp);
}
static void craft_bad_crc(delta_buf *a)
{
    base_zip(a);
    a->data[local_of(a, 1) + 30 + strlen("images/modem.patch") + 100] ^= 0x40;
}

typedef enum stage { AT_OPEN, AT_HASH } stage;

typedef struct zip_case {
    const char *name;
    void (*craft)(delta_buf *);
    delta_status status;
    stage when;
    const char *why; /* a fragment of the refusal's message: the reason, not just the status */
} zip_case;

static const zip_case cases[] = {
    {"no-eocd", craft_no_eocd, DELTA_ERR_ZIP, AT_OPEN, "no end of central directory record"},
    {"truncated", craft_truncated, DELTA_ERR_ZIP, AT_OPEN, "no end of central directory record"},
    {"trailing-data", craft_trailing_data, DELTA_ERR_ZIP, AT_OPEN, "no end of central directory record"},
    {"comment", craft_comment, DELTA_ERR_ZIP, AT_OPEN, "archive comment"},
    {"fake-eocd-in-comment", craft_fake_eocd, DELTA_ERR_ZIP, AT_OPEN, "two end records"},
    {"multi-disk", craft_multi_disk, DELTA_ERR_ZIP, AT_OPEN, "multi-disk"},
    {"zip64-eocd", craft_zip64_eocd, DELTA_ERR_ZIP, AT_OPEN, "zip64 markers"},
    {"zip64-locator", craft_zip64_locator, DELTA_ERR_ZIP, AT_OPEN, "zip64 end record locator"},
    {"zip64-extra", craft_zip64_extra, DELTA_ERR_ZIP, AT_OPEN, "zip64 marker"},
    {"cd-out-of-bounds", craft_cd_out_of_bounds, DELTA_ERR_ZIP, AT_OPEN, "runs past the end record"},
    {"count-low", craft_count_low, DELTA_ERR_ZIP, AT_OPEN, "more bytes than the 2 entries"},
    {"count-high", craft_count_high, DELTA_ERR_ZIP, AT_OPEN, "holds 3 entries, the end record counts 4"},
    {"too-many-members", craft_too_many_members, DELTA_ERR_MEMBERS, AT_OPEN, "65 members"},
    {"no-members", craft_no_members, DELTA_ERR_MEMBERS, AT_OPEN, "no members"},
    {"prepended-data", craft_prepended, DELTA_ERR_ZIP, AT_OPEN, "prepended data"},
    {"gap-before-cd", craft_gap_before_cd, DELTA_ERR_ZIP, AT_OPEN, "between the last member and the central directory"},
    {"gap-between-members", craft_gap_between, DELTA_ERR_ZIP, AT_OPEN, "unaccounted bytes before member images/modem.patch"},
    {"method-deflate", craft_method_deflate, DELTA_ERR_ZIP, AT_OPEN, "compression method 8"},
    {"size-mismatch", craft_size_mismatch, DELTA_ERR_ZIP, AT_OPEN, "compressed size 200 differs"},
    {"encrypted", craft_encrypted, DELTA_ERR_ZIP, AT_OPEN, "encrypted"},
    {"data-descriptor", craft_data_descriptor, DELTA_ERR_ZIP, AT_OPEN, "data descriptor"},
    {"member-too-large", craft_member_too_large, DELTA_ERR_ZIP, AT_OPEN, "2 GiB limit"},
    {"name-leading-slash", craft_name_slash, DELTA_ERR_MEMBER_NAME, AT_OPEN, "\"/images/modem.patch\""},
    {"name-dotdot", craft_name_dotdot, DELTA_ERR_MEMBER_NAME, AT_OPEN, "\"images/../../modem.patch\""},
    {"name-backslash", craft_name_backslash, DELTA_ERR_MEMBER_NAME, AT_OPEN, "\"images\\modem.patch\""},
    {"name-nul", craft_name_nul, DELTA_ERR_MEMBER_NAME, AT_OPEN, "\"images?modem.patch\""},
    {"name-empty", craft_name_empty, DELTA_ERR_MEMBER_NAME, AT_OPEN, "(0 bytes)"},
    {"name-too-long", craft_name_long, DELTA_ERR_MEMBER_NAME, AT_OPEN, "(129 bytes)"},
    {"duplicate-name", craft_duplicate, DELTA_ERR_MEMBERS, AT_OPEN, "both named manifest.json"},
    {"local-signature", craft_local_signature, DELTA_ERR_ZIP, AT_OPEN, "no local header signature"},
    {"local-name", craft_local_name, DELTA_ERR_ZIP, AT_OPEN, "local header name differs"},
    {"local-method", craft_local_method, DELTA_ERR_ZIP, AT_OPEN, "local header method differs"},
    {"local-sizes", craft_local_sizes, DELTA_ERR_ZIP, AT_OPEN, "local header sizes differ"},
    {"local-version", craft_local_version, DELTA_ERR_ZIP, AT_OPEN, "version needed differs"},
    {"local-time", craft_local_time, DELTA_ERR_ZIP, AT_OPEN, "time or date differs"},
    {"local-crc", craft_local_crc, DELTA_ERR_ZIP, AT_OPEN, "local header crc differs"},
    {"overlap", craft_overlap, DELTA_ERR_ZIP, AT_OPEN, "a.bin and b.bin overlap"},
    {"overlap-cd", craft_overlap_cd, DELTA_ERR_ZIP, AT_OPEN, "overlaps the central directory"},
    {"extra-field", craft_extra_field, DELTA_ERR_ZIP, AT_OPEN, "extra fields"},
    {"entry-comment", craft_entry_comment, DELTA_ERR_ZIP, AT_OPEN, "byte comment"},
    {"central-signature", craft_central_signature, DELTA_ERR_ZIP, AT_OPEN, "bad signature"},
    {"central-order", craft_central_order, DELTA_ERR_ZIP, AT_OPEN,
     "entries 0 (images/modem.patch, local header at 74) and 1 (manifest.json, local header at 0) are out of order"},
    {"bad-crc", craft_bad_crc, DELTA_ERR_MEMBER_DATA, AT_HASH, "CRC error"},
};
#define NCASES (sizeof cases / sizeof cases[0])

static const zip_case *case_named(const char *name)
{
    for (size_t i = 0; i < NCASES; i++)
        if (strcmp(cases[i].name, name) == 0) return &cases[i];
    return NULL;
}

/* Opens an archive and, for AT_HASH cases, hashes every member; returns the
 * first failure's status. */
static delta_status open_and_hash(const uint8_t *data, size_t len)
{
    delta_source src;
    delta_source_from_memory(&src, data, len);
    delta_zip *zip = (delta_zip *)0x1;
    delta_status st = delta_zip_open(&src, &zip);
    if (st) {
        cr_assert_null(zip, "a failed open leaves *out NULL");
        cr_assert_neq(delta_last_error()[0], '\0', "a refusal says why");
        return st;
    }
    for (size_t i = 0; !st && i < delta_zip_count(zip); i++) {
        uint8_t sha[DELTA_SHA256_LEN];
        st = delta_zip_hash_member(zip, delta_zip_member_at(zip, i), sha);
    }
    delta_zip_free(zip);
    return st;
}

/* Crafts a case, checks the exact status at the exact stage, and checks (or,
 * with DELTA_REGEN_VECTORS, writes) the committed vector. */
static void check_case(const char *name)
{
    const zip_case *c = case_named(name);
    cr_assert_not_null(c, "no case %s", name);
    delta_buf a = DELTA_BUF_INIT;
    c->craft(&a);
    delta_source src;
    delta_source_from_memory(&src, a.data, a.len);
    delta_zip *zip = NULL;
    delta_status st = delta_zip_open(&src, &zip);
    if (c->when == AT_OPEN) {
        cr_assert_eq(st, c->status, "%s: open gives %d (%s), expected %d", name, st, delta_last_error(),
                     c->status);
        cr_assert_eq(delta_dfota_code(st), 504);
    } else {
        cr_assert_eq(st, DELTA_OK, "%s: open fails: %s", name, delta_last_error());
        delta_zip_free(zip);
        cr_assert_eq(open_and_hash(a.data, a.len), c->status, "%s: %s", name, delta_last_error());
    }
    cr_assert(strstr(delta_last_error(), c->why) != NULL, "%s: refused for another reason: %s", name,
              delta_last_error());
    char path[512];
    snprintf(path, sizeof path, "%s/zip-%s.zip", INVALID_DIR, name);
    const char *regen = getenv("DELTA_REGEN_VECTORS");
    if (regen && *regen == '1') {
        tu_write_file(path, a.data, a.len);
    } else {
        size_t len = 0;
        uint8_t *want = tu_read_file(path, &len);
        cr_assert(len == a.len && memcmp(want, a.data, len) == 0, "%s differs from what the test crafts", path);
        free(want);
    }
    delta_buf_free(&a);
}

#define CASE(id, name)                                                                                     \
    Test(refuse, id)                                                                                       \
    {                                                                                                      \
        check_case(name);                                                                                  \
    }
CASE(no_eocd, "no-eocd")
CASE(truncated, "truncated")
CASE(trailing_data, "trailing-data")
CASE(comment, "comment")
CASE(fake_eocd_in_comment, "fake-eocd-in-comment")
CASE(multi_disk, "multi-disk")
CASE(zip64_eocd, "zip64-eocd")
CASE(zip64_locator, "zip64-locator")
CASE(zip64_extra, "zip64-extra")
CASE(cd_out_of_bounds, "cd-out-of-bounds")
CASE(count_low, "count-low")
CASE(count_high, "count-high")
CASE(too_many_members, "too-many-members")
CASE(no_members, "no-members")
CASE(prepended_data, "prepended-data")
CASE(gap_before_cd, "gap-before-cd")
CASE(gap_between_members, "gap-between-members")
CASE(method_deflate, "method-deflate")
CASE(size_mismatch, "size-mismatch")
CASE(encrypted, "encrypted")
CASE(data_descriptor, "data-descriptor")
CASE(member_too_large, "member-too-large")
CASE(name_leading_slash, "name-leading-slash")
CASE(name_dotdot, "name-dotdot")
CASE(name_backslash, "name-backslash")
CASE(name_nul, "name-nul")
CASE(name_empty, "name-empty")
CASE(name_too_long, "name-too-long")
CASE(duplicate_name, "duplicate-name")
CASE(local_signature, "local-signature")
CASE(local_name, "local-name")
CASE(local_method, "local-method")
CASE(local_sizes, "local-sizes")
CASE(local_version, "local-version")
CASE(local_time, "local-time")
CASE(local_crc, "local-crc")
CASE(overlap, "overlap")
CASE(overlap_cd, "overlap-cd")
CASE(extra_field, "extra-field")
CASE(entry_comment, "entry-comment")
CASE(central_signature, "central-signature")
CASE(central_order, "central-order")
CASE(bad_crc, "bad-crc")

static delta_status status_named(const char *s)
{
    static const struct {
        const char *name;
        delta_status st;
    } map[] = {{"DELTA_ERR_ZIP", DELTA_ERR_ZIP},
               {"DELTA_ERR_MEMBER_NAME", DELTA_ERR_MEMBER_NAME},
               {"DELTA_ERR_MEMBERS", DELTA_ERR_MEMBERS},
               {"DELTA_ERR_MEMBER_DATA", DELTA_ERR_MEMBER_DATA}};
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strcmp(map[i].name, s) == 0) return map[i].st;
    cr_assert_fail("unknown status %s", s);
    return DELTA_OK;
}

/* zip-README.md is the oracle for other implementations: every line names a
 * file, the stage and the status; each file must give exactly that, and the
 * README must cover every case of this suite and no other. */
Test(vectors, readme_statuses)
{
    size_t len = 0;
    uint8_t *text = tu_read_file(INVALID_DIR "/zip-README.md", &len);
    char *copy = strndup((const char *)text, len);
    free(text);
    size_t seen = 0;
    for (char *line = strtok(copy, "\n"); line; line = strtok(NULL, "\n")) {
        char file[128], when[16], status[64];
        if (sscanf(line, "%127s %15s %63[A-Z_]", file, when, status) != 3 || strncmp(file, "zip-", 4) != 0 ||
            !strstr(file, ".zip"))
            continue;
        char name[128];
        snprintf(name, sizeof name, "%.*s", (int)(strlen(file) - 8), file + 4);
        const zip_case *c = case_named(name);
        cr_assert_not_null(c, "%s is not crafted by this suite", file);
        cr_assert_eq(status_named(status), c->status, "%s: README and suite disagree", file);
        cr_assert_str_eq(when, c->when == AT_OPEN ? "open" : "hash", "%s: stage", file);
        char path[512];
        snprintf(path, sizeof path, "%s/%s", INVALID_DIR, file);
        size_t n = 0;
        uint8_t *data = tu_read_file(path, &n);
        cr_assert_eq(open_and_hash(data, n), c->status, "%s: %s", file, delta_last_error());
        free(data);
        seen++;
    }
    free(copy);
    cr_assert_eq(seen, NCASES, "zip-README.md lists %zu files, the suite crafts %zu", seen, NCASES);
}

/* ---- what the writer produces ------------------------------------------- */

Test(writer, layout_is_the_specified_bytes)
{
    delta_buf w = DELTA_BUF_INIT, r = DELTA_BUF_INIT;
    base_zip(&w);
    raw_member rs[3];
    base_raw(rs);
    raw_zip(rs, 3, &r);
    cr_assert_eq(w.len, r.len);
    cr_assert(memcmp(w.data, r.data, w.len) == 0, "the writer's bytes differ from formats/container.md");
    delta_buf_free(&w);
    delta_buf_free(&r);
}

Test(writer, golden_vector)
{
    delta_buf w = DELTA_BUF_INIT;
    base_zip(&w);
    const char *regen = getenv("DELTA_REGEN_VECTORS");
    if (regen && *regen == '1') tu_write_file(VALID_ZIP, w.data, w.len);
    size_t len = 0;
    uint8_t *want = tu_read_file(VALID_ZIP, &len);
    cr_assert(len == w.len && memcmp(want, w.data, len) == 0, "writer output differs from %s", VALID_ZIP);
    cr_assert_eq(open_and_hash(want, len), DELTA_OK, "%s", delta_last_error());
    free(want);
    delta_buf_free(&w);
}

Test(writer, deterministic)
{
    uint8_t *big = malloc(100000);
    tu_fill_random(big, 100000, 3);
    member_in ms[] = {{"a", 0, "x", 1}, {"dir/b.bin", 0, big, 100000}, {"empty", 0, NULL, 0}};
    delta_buf one = DELTA_BUF_INIT, two = DELTA_BUF_INIT;
    write_zip(ms, 3, &one);
    write_zip(ms, 3, &two);
    cr_assert_eq(one.len, two.len);
    cr_assert(memcmp(one.data, two.data, one.len) == 0);
    /* Stored: the archive is the data plus headers, nothing compressed. */
    cr_assert_eq(one.len, 3 * (30 + 46) + 2 * (1 + 9 + 5) + 1 + 100000 + 22);
    delta_buf_free(&one);
    delta_buf_free(&two);
    free(big);
}

Test(writer, appends_to_the_buffer)
{
    delta_buf out = DELTA_BUF_INIT;
    cr_assert_eq(delta_buf_append(&out, "prefix", 6), DELTA_OK);
    member_in ms[] = {{"m", 0, "abc", 3}};
    write_zip(ms, 1, &out);
    cr_assert(memcmp(out.data, "prefix", 6) == 0);
    cr_assert_eq(dlt_le32(out.data + 6), 0x04034b50);
    cr_assert_eq(out.len, 6 + 30 + 46 + 2 + 3 + 22);
    delta_buf_free(&out);
}

Test(writer, refusals)
{
    delta_zip_writer *w = NULL;
    delta_buf out = DELTA_BUF_INIT;
    cr_assert_eq(delta_zip_writer_new(&w), DELTA_OK);
    cr_assert_eq(delta_zip_writer_finish(w, &out), DELTA_ERR_ARG, "no members");
    cr_assert_eq(delta_zip_writer_add(w, "../x", "a", 1), DELTA_ERR_ARG);
    cr_assert_eq(delta_zip_writer_add(w, "a//b", "a", 1), DELTA_ERR_ARG);
    cr_assert_eq(delta_zip_writer_add(w, "ok", NULL, 1), DELTA_ERR_ARG);
    cr_assert_eq(delta_zip_writer_add(w, "ok", "a", 1), DELTA_OK);
    cr_assert_eq(delta_zip_writer_add(w, "ok", "b", 1), DELTA_ERR_ARG, "duplicate");
    char name[8];
    for (int i = 1; i < DELTA_ZIP_MAX_MEMBERS; i++) {
        snprintf(name, sizeof name, "m%d", i);
        cr_assert_eq(delta_zip_writer_add(w, name, name, 2), DELTA_OK);
    }
    cr_assert_eq(delta_zip_writer_add(w, "one-more", "x", 1), DELTA_ERR_LIMIT);
    cr_assert_eq(delta_zip_writer_finish(w, &out), DELTA_OK, "%s", delta_last_error());
    cr_assert_eq(delta_zip_writer_add(w, "late", "x", 1), DELTA_ERR_ARG);
    cr_assert_eq(delta_zip_writer_finish(w, &out), DELTA_ERR_ARG);
    delta_zip_writer_free(w);
    delta_zip_writer_free(NULL);

    delta_source src;
    delta_source_from_memory(&src, out.data, out.len);
    delta_zip *zip = NULL;
    cr_assert_eq(delta_zip_open(&src, &zip), DELTA_OK, "%s", delta_last_error());
    cr_assert_eq(delta_zip_count(zip), DELTA_ZIP_MAX_MEMBERS);
    cr_assert_str_eq(delta_zip_member_at(zip, 63)->name, "m63");
    delta_zip_free(zip);
    delta_buf_free(&out);
}

/* ---- reading ------------------------------------------------------------ */

Test(reader, round_trip)
{
    const size_t mib = 1 << 20;
    uint8_t *big = malloc(mib);
    tu_fill_random(big, mib, 11);
    member_in ms[] = {{"manifest.json", 0, manifest_json, strlen(manifest_json)},
                      {"empty.bin", 0, NULL, 0},
                      {"images/big.patch", 0, big, mib},
                      {"images/sub-dir/x_1.2-3", 0, "tiny", 4}};
    delta_buf a = DELTA_BUF_INIT;
    write_zip(ms, 4, &a);

    delta_source src;
    delta_source_from_memory(&src, a.data, a.len);
    delta_zip *zip = NULL;
    cr_assert_eq(delta_zip_open(&src, &zip), DELTA_OK, "%s", delta_last_error());
    cr_assert_eq(delta_zip_count(zip), 4);
    cr_assert_null(delta_zip_member_at(zip, 4));
    cr_assert_null(delta_zip_find(zip, "images"));
    cr_assert_null(delta_zip_find(zip, "IMAGES/big.patch"));
    uint64_t expect_off = 0;
    for (size_t i = 0; i < 4; i++) {
        const delta_zip_member *m = delta_zip_member_at(zip, i);
        cr_assert_str_eq(m->name, ms[i].name, "members keep the order they were added in");
        cr_assert_eq(delta_zip_find(zip, ms[i].name), m);
        cr_assert_eq(m->size, ms[i].len);
        cr_assert_eq(m->crc32, dlt_crc32(0, ms[i].data, ms[i].len));
        cr_assert_eq(m->data_offset, expect_off + 30 + strlen(ms[i].name));
        expect_off = m->data_offset + m->size;

        uint8_t got[DELTA_SHA256_LEN], want[DELTA_SHA256_LEN];
        cr_assert_eq(delta_zip_hash_member(zip, m, got), DELTA_OK, "%s", delta_last_error());
        delta_sha256(ms[i].data, ms[i].len, want);
        cr_assert(memcmp(got, want, sizeof got) == 0, "sha-256 of %s", m->name);

        uint8_t *copy = malloc(ms[i].len + 1);
        cr_assert_eq(delta_zip_read(zip, m, 0, copy, ms[i].len), DELTA_OK);
        cr_assert(ms[i].len == 0 || memcmp(copy, ms[i].data, ms[i].len) == 0);
        free(copy);
    }
    /* The empty member's SHA-256 is the well-known one. */
    uint8_t sha[DELTA_SHA256_LEN];
    char hex[2 * DELTA_SHA256_LEN + 1];
    cr_assert_eq(delta_zip_hash_member(zip, delta_zip_find(zip, "empty.bin"), sha), DELTA_OK);
    delta_hex(sha, sizeof sha, hex);
    cr_assert_str_eq(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");

    /* Random access inside the big member, and its edges. */
    const delta_zip_member *m = delta_zip_find(zip, "images/big.patch");
    uint8_t buf[4096];
    cr_assert_eq(delta_zip_read(zip, m, 123457, buf, 4000), DELTA_OK);
    cr_assert(memcmp(buf, big + 123457, 4000) == 0);
    cr_assert_eq(delta_zip_read(zip, m, mib - 10, buf, 10), DELTA_OK);
    cr_assert(memcmp(buf, big + mib - 10, 10) == 0);
    cr_assert_eq(delta_zip_read(zip, m, mib, buf, 0), DELTA_OK);
    cr_assert_eq(delta_zip_read(zip, m, mib - 10, buf, 11), DELTA_ERR_ARG);
    cr_assert_eq(delta_zip_read(zip, m, UINT64_MAX, buf, 2), DELTA_ERR_ARG);

    /* The member as a source. */
    delta_source ms_src;
    delta_zip_member_source(zip, m, &ms_src);
    cr_assert_eq(ms_src.size, mib);
    cr_assert_eq(ms_src.read(ms_src.ctx, 999, buf, 100), DELTA_IO_OK);
    cr_assert(memcmp(buf, big + 999, 100) == 0);
    cr_assert_eq(ms_src.read(ms_src.ctx, mib - 1, buf, 2), DELTA_IO_SHORT);
    cr_assert_eq(ms_src.read(ms_src.ctx, UINT64_MAX, buf, 1), DELTA_IO_SHORT);
    cr_assert_eq(dlt_read_source(&ms_src, 5, buf, 7, DELTA_ERR_PATCH), DELTA_OK);
    cr_assert(memcmp(buf, big + 5, 7) == 0);
    delta_zip_free(zip);
    delta_zip_free(NULL);
    delta_buf_free(&a);
    free(big);
}

Test(reader, foreign_member_is_refused)
{
    delta_buf a = DELTA_BUF_INIT;
    base_zip(&a);
    delta_source src;
    delta_source_from_memory(&src, a.data, a.len);
    delta_zip *one = NULL, *two = NULL;
    cr_assert_eq(delta_zip_open(&src, &one), DELTA_OK);
    cr_assert_eq(delta_zip_open(&src, &two), DELTA_OK);
    const delta_zip_member *foreign = delta_zip_member_at(two, 0);
    uint8_t buf[4], sha[DELTA_SHA256_LEN];
    cr_assert_eq(delta_zip_read(one, foreign, 0, buf, 1), DELTA_ERR_ARG);
    cr_assert_eq(delta_zip_hash_member(one, foreign, sha), DELTA_ERR_ARG);
    delta_source view;
    delta_zip_member_source(one, foreign, &view);
    cr_assert_eq(view.size, 0);
    cr_assert_eq(view.read(view.ctx, 0, buf, 1), DELTA_IO_SHORT);
    delta_zip_free(one);
    delta_zip_free(two);
    delta_buf_free(&a);
}

/* A source whose reads fail from a chosen moment on. */
typedef struct failing {
    const uint8_t *data;
    bool fail;
} failing;
static int failing_read(void *ctx, uint64_t off, void *buf, size_t len)
{
    failing *f = ctx;
    if (f->fail) return DELTA_IO_ERROR;
    memcpy(buf, f->data + off, len);
    return DELTA_IO_OK;
}

Test(reader, source_failures_are_input_errors)
{
    delta_buf a = DELTA_BUF_INIT;
    base_zip(&a);
    failing f = {a.data, true};
    delta_source src = {DELTA_SOURCE_VERSION, &f, a.len, failing_read};
    delta_zip *zip = NULL;
    cr_assert_eq(delta_zip_open(&src, &zip), DELTA_ERR_INPUT);
    cr_assert_null(zip);
    f.fail = false;
    cr_assert_eq(delta_zip_open(&src, &zip), DELTA_OK, "%s", delta_last_error());
    f.fail = true;
    const delta_zip_member *m = delta_zip_member_at(zip, 1);
    uint8_t buf[8], sha[DELTA_SHA256_LEN];
    cr_assert_eq(delta_zip_read(zip, m, 0, buf, 8), DELTA_ERR_INPUT);
    cr_assert_eq(delta_zip_hash_member(zip, m, sha), DELTA_ERR_INPUT, "%s", delta_last_error());
    delta_source view;
    delta_zip_member_source(zip, m, &view);
    cr_assert_eq(view.read(view.ctx, 0, buf, 8), DELTA_IO_ERROR);
    f.fail = false;
    cr_assert_eq(delta_zip_hash_member(zip, m, sha), DELTA_OK, "%s", delta_last_error());
    delta_zip_free(zip);
    delta_buf_free(&a);
}

Test(reader, bad_arguments)
{
    delta_zip *zip = NULL;
    cr_assert_eq(delta_zip_open(NULL, &zip), DELTA_ERR_ARG);
    delta_source src;
    delta_source_from_memory(&src, "PK", 2);
    cr_assert_eq(delta_zip_open(&src, NULL), DELTA_ERR_ARG);
    cr_assert_eq(delta_zip_open(&src, &zip), DELTA_ERR_ZIP, "too short");
    delta_source_from_memory(&src, "", 0);
    cr_assert_eq(delta_zip_open(&src, &zip), DELTA_ERR_ZIP);
    cr_assert_eq(delta_zip_count(NULL), 0);
    cr_assert_null(delta_zip_find(NULL, "x"));
}

Test(reader, member_data_changed_after_open)
{
    /* The CRC catches bytes that change between open and hashing. */
    delta_buf a = DELTA_BUF_INIT;
    base_zip(&a);
    delta_source src;
    delta_source_from_memory(&src, a.data, a.len);
    delta_zip *zip = NULL;
    cr_assert_eq(delta_zip_open(&src, &zip), DELTA_OK);
    const delta_zip_member *m = delta_zip_find(zip, "readme.txt");
    a.data[m->data_offset] ^= 1;
    uint8_t sha[DELTA_SHA256_LEN];
    cr_assert_eq(delta_zip_hash_member(zip, m, sha), DELTA_ERR_MEMBER_DATA);
    a.data[m->data_offset] ^= 1;
    cr_assert_eq(delta_zip_hash_member(zip, m, sha), DELTA_OK);
    delta_zip_free(zip);
    delta_buf_free(&a);
}

/* ---- names -------------------------------------------------------------- */

Test(names, accepted_and_refused)
{
    static const char *ok[] = {"a", "manifest.json", "images/modem.patch", "a/b/c", "x.y.z", ".hidden",
                               "a/.b", "..a", "a..", "A-Z_0.9"};
    static const char *bad[] = {"/a", "a/", "a//b", "..", ".", "a/../b", "a/./b", "./a", "a/..", "a\\b",
                                "a b", "a:b", "caf\xc3\xa9", "a*", "a~"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        cr_assert_eq(delta_zip_name_ok(ok[i], strlen(ok[i])), 1, "%s", ok[i]);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_eq(delta_zip_name_ok(bad[i], strlen(bad[i])), 0, "%s", bad[i]);
    cr_assert_eq(delta_zip_name_ok("", 0), 0);
    cr_assert_eq(delta_zip_name_ok(NULL, 3), 0);
    cr_assert_eq(delta_zip_name_ok("a\0b", 3), 0);
    char name[DELTA_ZIP_MAX_NAME + 1];
    memset(name, 'n', sizeof name);
    cr_assert_eq(delta_zip_name_ok(name, DELTA_ZIP_MAX_NAME), 1);
    cr_assert_eq(delta_zip_name_ok(name, DELTA_ZIP_MAX_NAME + 1), 0);
}

/* ---- limits that need no vector file ------------------------------------ */

static int zeros_read(void *ctx, uint64_t off, void *buf, size_t len)
{
    (void)ctx;
    (void)off;
    memset(buf, 0, len);
    return DELTA_IO_OK;
}

Test(limits, archive_over_4_gib)
{
    delta_source src = {DELTA_SOURCE_VERSION, NULL, UINT64_C(5) << 30, zeros_read};
    delta_zip *zip = NULL;
    cr_assert_eq(delta_zip_open(&src, &zip), DELTA_ERR_ZIP);
    cr_assert(strstr(delta_last_error(), "zip64") != NULL, "%s", delta_last_error());
}

Test(limits, central_directory_over_1_mib)
{
    /* A 2 MiB "central directory" that exactly fills the space before a
     * consistent end record: refused by size before it is loaded. */
    size_t cd = (size_t)2 << 20;
    uint8_t *a = calloc(cd + 22, 1);
    dlt_put32(a + cd, 0x06054b50);
    dlt_put16(a + cd + 8, 1);
    dlt_put16(a + cd + 10, 1);
    dlt_put32(a + cd + 12, (uint32_t)cd);
    dlt_put32(a + cd + 16, 0);
    delta_source src;
    delta_source_from_memory(&src, a, cd + 22);
    delta_zip *zip = NULL;
    cr_assert_eq(delta_zip_open(&src, &zip), DELTA_ERR_ZIP);
    cr_assert(strstr(delta_last_error(), "1 MiB") != NULL, "%s", delta_last_error());
    free(a);
}

Test(limits, member_of_exactly_2_gib_is_not_refused_for_size)
{
    /* Central entry and local header claim 2^31 bytes: the size limit
     * allows it, the layout then refuses it (it overlaps the directory). */
    delta_buf a = DELTA_BUF_INIT;
    base_zip(&a);
    set32_both(&a, 1, 20, 18, 0x80000000u);
    set32_both(&a, 1, 24, 22, 0x80000000u);
    delta_source src;
    delta_source_from_memory(&src, a.data, a.len);
    delta_zip *zip = NULL;
    cr_assert_eq(delta_zip_open(&src, &zip), DELTA_ERR_ZIP);
    cr_assert(strstr(delta_last_error(), "overlaps the central directory") != NULL, "%s", delta_last_error());
    delta_buf_free(&a);
}
