/*
 * The hostile package vectors: formats/vectors/invalid/packages.tsv names each
 * package file (pkg-*.zip, made by formats/vectors/gen/package_invalid.py, or
 * a valid package under ../valid/), the device options it is opened with, and
 * the exact status and DFOTA code expected. Each row is opened with
 * delta_package_open and, when it opens and the options name a source image,
 * checked with delta_package_check_source. (The zip-* and manifest-* vectors
 * are driven by tests/test_container.c and tests/test_manifest.c.)
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libdelta/package.h"
#include "testutil.h"

#define INVALID DELTA_VECTORS "/invalid/"

static const struct { const char *name; delta_status st; } names[] = {
#define S(x) {#x, x}
    S(DELTA_OK), S(DELTA_ERR_ARG), S(DELTA_ERR_INPUT), S(DELTA_ERR_OUTPUT), S(DELTA_ERR_LIMIT), S(DELTA_ERR_KEY),
    S(DELTA_ERR_ZIP), S(DELTA_ERR_MEMBER_NAME), S(DELTA_ERR_MEMBERS), S(DELTA_ERR_MEMBER_DATA),
    S(DELTA_ERR_SIGNATURE), S(DELTA_ERR_MANIFEST), S(DELTA_ERR_FORMAT_VERSION), S(DELTA_ERR_PATCH),
    S(DELTA_ERR_PLAN), S(DELTA_ERR_PROJECT), S(DELTA_ERR_VERSION), S(DELTA_ERR_SOURCE), S(DELTA_ERR_OTHER_UPDATE),
    S(DELTA_ERR_SPACE), S(DELTA_ERR_SLOT), S(DELTA_ERR_TOO_LARGE), S(DELTA_ERR_NOMEM), S(DELTA_ERR_INTERNAL),
#undef S
};

static delta_status status_named(const char *name)
{
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(names[i].name, name) == 0) return names[i].st;
    cr_assert_fail("unknown status %s in packages.tsv", name);
    return DELTA_ERR_INTERNAL;
}

typedef struct row {
    char file[256], status[64], options[512], what[512];
    int code;
} row;

static size_t load_rows(row **out)
{
    size_t len;
    char *text = (char *)tu_read_file(INVALID "packages.tsv", &len);
    text = realloc(text, len + 1);
    text[len] = '\0';
    size_t n = 0, cap = 128;
    row *rows = calloc(cap, sizeof *rows);
    char *save = NULL;
    int header = 1;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (header) { header = 0; continue; }
        cr_assert_lt(n, cap);
        row *r = &rows[n++];
        char *f[5];
        char *p = line;
        for (int i = 0; i < 5; i++) {
            f[i] = p;
            char *tab = i < 4 ? strchr(p, '\t') : NULL;
            cr_assert(i == 4 || tab, "packages.tsv line %zu: fewer than 5 columns", n + 1);
            if (tab) { *tab = '\0'; p = tab + 1; }
        }
        snprintf(r->file, sizeof r->file, "%s", f[0]);
        r->code = atoi(f[1]);
        snprintf(r->status, sizeof r->status, "%s", f[2]);
        snprintf(r->options, sizeof r->options, "%s", f[3]);
        snprintf(r->what, sizeof r->what, "%s", f[4]);
    }
    free(text);
    *out = rows;
    return n;
}

typedef struct device {
    delta_check_options opt;
    char project[4096], version[128], source[256];
    uint8_t *key;
} device;

/* "key=ec-p256.pub project=X version=Y free=N max=N source=valid/..." */
static void parse_options(const char *text, device *d)
{
    memset(d, 0, sizeof *d);
    delta_check_options o = DELTA_CHECK_OPTIONS_INIT;
    d->opt = o;
    char buf[512];
    snprintf(buf, sizeof buf, "%s", text);
    char *save = NULL;
    for (char *t = strtok_r(buf, " ", &save); t; t = strtok_r(NULL, " ", &save)) {
        char *eq = strchr(t, '=');
        cr_assert(eq, "option %s", t);
        *eq = '\0';
        const char *v = eq + 1;
        if (!strcmp(t, "key")) {
            char path[512];
            snprintf(path, sizeof path, DELTA_TEST_DATA "/keys/%s.pem", v);
            size_t len;
            d->key = tu_read_file(path, &len);
            d->opt.pubkey_pem = (const char *)d->key;
            d->opt.pubkey_len = len;
        } else if (!strcmp(t, "project")) {
            snprintf(d->project, sizeof d->project, "%s", v);
            d->opt.project = d->project;
        } else if (!strcmp(t, "version")) {
            snprintf(d->version, sizeof d->version, "%s", v);
            d->opt.firmware_version = d->version;
        } else if (!strcmp(t, "free")) {
            d->opt.free_space = strtoull(v, NULL, 10);
        } else if (!strcmp(t, "max")) {
            d->opt.max_package = strtoull(v, NULL, 10);
        } else if (!strcmp(t, "source")) {
            snprintf(d->source, sizeof d->source, "%s", v);
        } else {
            cr_assert_fail("unknown option %s", t);
        }
    }
}

static delta_status run_row(const row *r, device *d)
{
    char path[512];
    snprintf(path, sizeof path, INVALID "%s", r->file);
    size_t len;
    uint8_t *data = tu_read_file(path, &len);
    delta_source file;
    delta_source_from_memory(&file, data, len);
    delta_package *p = NULL;
    delta_status st = delta_package_open(&file, &d->opt, &p);
    if (!st) cr_assert_not_null(p);
    else cr_assert_null(p, "%s: refused but a package was returned", r->file);
    if (!st && d->source[0]) {
        snprintf(path, sizeof path, DELTA_VECTORS "/%s", d->source);
        size_t slen;
        uint8_t *sdata = tu_read_file(path, &slen);
        delta_source src;
        delta_source_from_memory(&src, sdata, slen);
        for (size_t i = 0; i < delta_package_manifest(p)->image_count && !st; i++)
            st = delta_package_check_source(p, i, &src);
        free(sdata);
    }
    delta_package_free(p);
    free(data);
    return st;
}

Test(vectors, packages_give_their_status_and_code)
{
    row *rows;
    size_t n = load_rows(&rows);
    size_t hostile = 0;
    for (size_t i = 0; i < n; i++) {
        const row *r = &rows[i];
        device d;
        parse_options(r->options, &d);
        delta_status want = status_named(r->status);
        cr_assert_eq(delta_dfota_code(want), r->code, "%s: the table's code %d is not %s's", r->file, r->code,
                     r->status);
        delta_status st = run_row(r, &d);
        cr_log_info("%s: %s: %s", r->file, delta_strerror(st), st ? delta_last_error() : "opens");
        cr_expect_eq(st, want, "%s (%s): got %s (%d): %s; expected %s", r->file, r->what, delta_strerror(st), st,
                     delta_last_error(), r->status);
        cr_expect_eq(delta_dfota_code(st), r->code, "%s: DFOTA code %d, expected %d", r->file, delta_dfota_code(st),
                     r->code);
        if (!strncmp(r->file, "pkg-", 4)) hostile++;
        free(d.key);
    }
    cr_assert_geq(hostile, 32, "only %zu hostile packages in the table", hostile);
    free(rows);
}

/* Every pkg-*.zip in the folder has a row (so none is forgotten by the table). */
Test(vectors, every_package_file_has_a_row)
{
    row *rows;
    size_t n = load_rows(&rows);
    DIR *dir = opendir(INVALID);
    cr_assert_not_null(dir);
    struct dirent *e;
    size_t files = 0;
    while ((e = readdir(dir))) {
        size_t l = strlen(e->d_name);
        if (strncmp(e->d_name, "pkg-", 4) != 0 || l < 4 || strcmp(e->d_name + l - 4, ".zip") != 0) continue;
        files++;
        int found = 0;
        for (size_t i = 0; i < n && !found; i++) found = !strcmp(rows[i].file, e->d_name);
        cr_expect(found, "%s has no row in packages.tsv", e->d_name);
    }
    closedir(dir);
    cr_assert_geq(files, 32);
    free(rows);
}

/* Opening the same hostile package twice gives the same status and message. */
Test(vectors, verdicts_are_deterministic)
{
    row *rows;
    size_t n = load_rows(&rows);
    for (size_t i = 0; i < n; i++) {
        device d;
        parse_options(rows[i].options, &d);
        delta_status a = run_row(&rows[i], &d);
        char first[512];
        snprintf(first, sizeof first, "%s", delta_last_error());
        delta_status b = run_row(&rows[i], &d);
        cr_expect_eq(a, b, "%s", rows[i].file);
        if (a) cr_expect_str_eq(first, delta_last_error(), "%s", rows[i].file);
        free(d.key);
    }
    free(rows);
}

/* ---- hostile patch shapes that cost time, not memory ---- */

#include <zlib.h>

static void le32(uint8_t *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i)); }
static void le64(uint8_t *p, uint64_t v) { for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i)); }

typedef struct counted { const uint8_t *data; uint64_t reads; } counted;

static int counted_read(void *ctx, uint64_t off, void *buf, size_t len)
{
    counted *c = ctx;
    c->reads++;
    memcpy(buf, c->data + off, len);
    return DELTA_IO_OK;
}

/* Regression: walking the segments re-read the whole table before each one
 * (O(segments^2) reads: 8.8 s to prove this 1 MiB patch, hours for 65536
 * segments on a device's flash). n one-command segments, in turn STASH 0 0,
 * FREE 0 and COMMIT (a slot is refilled only in a later batch), over 2 GiB
 * images with 512-byte blocks. */
Test(vectors, many_segments_prove_in_linear_reads)
{
    const uint32_t n = 26000;
    size_t stashes = (n + 2) / 3, frees = (n + 1) / 3, commits = n / 3;
    size_t table = 64 + 36 * (size_t)n, len = table + 3 * stashes + 2 * frees + commits;
    uint8_t *p = calloc(len, 1);
    memcpy(p, "LDPATCH1", 8);
    le64(p + 8, UINT64_C(1) << 31);
    le64(p + 16, UINT64_C(1) << 31);
    le32(p + 24, 512);
    p[29] = 1; /* INPLACE */
    le32(p + 36, n);
    le32(p + 40, 1); /* one stash slot */
    le32(p + 44, 3);
    le64(p + 48, n);
    le32(p + 56, 1); /* batch_blocks */
    size_t data = table;
    for (uint32_t i = 0; i < n; i++) {
        static const uint8_t stash[3] = {2, 0, 0}, fr[2] = {3, 0}, commit[1] = {4};
        const uint8_t *cmd = i % 3 == 0 ? stash : i % 3 == 1 ? fr : commit;
        uint32_t clen = 3 - i % 3;
        uint8_t *e = p + 64 + 36 * (size_t)i;
        le64(e, i);
        le32(e + 8, clen);
        le32(e + 20, clen);
        le32(e + 32, (uint32_t)crc32(0, cmd, clen));
        memcpy(p + data, cmd, clen);
        data += clen;
    }
    cr_assert_eq(data, len);
    uint32_t crc = (uint32_t)crc32(0, p, 60);
    crc = (uint32_t)crc32(crc, p + 64, (uInt)(table - 64));
    le32(p + 60, crc);
    counted c = {p, 0};
    delta_source src = {DELTA_SOURCE_VERSION, &c, len, counted_read};
    delta_patch_info info;
    cr_assert_eq(delta_patch_read_info(&src, &info), DELTA_OK, "%s", delta_last_error());
    c.reads = 0;
    delta_plan_report rep;
    cr_assert_eq(delta_patch_prove(&src, &rep), DELTA_OK, "%s", delta_last_error());
    cr_assert_eq(rep.stashes, stashes);
    cr_assert_lt(c.reads, 10 * (uint64_t)n, "%llu reads for %u segments", (unsigned long long)c.reads, n);
    free(p);
}

/* ---- the device codec (formats/lzrc.md) ---- */

static int sink_write(void *ctx, uint64_t off, const void *buf, size_t len)
{
    memcpy((uint8_t *)ctx + off, buf, len);
    return DELTA_IO_OK;
}

Test(vectors, lzrc_patch_rebuilds_its_target_and_hostile_ones_are_refused)
{
    size_t pl, sl, tl;
    uint8_t *patch = tu_read_file(DELTA_VECTORS "/valid/patch-lzrc.ldp", &pl);
    uint8_t *src = tu_read_file(DELTA_VECTORS "/valid/patch-thumb2.source.bin", &sl);
    uint8_t *tgt = tu_read_file(DELTA_VECTORS "/valid/patch-thumb2.target.bin", &tl);
    cr_assert(patch && src && tgt);
    delta_source ps, ss;
    delta_source_from_memory(&ps, patch, pl);
    delta_source_from_memory(&ss, src, sl);
    delta_patch_info info;
    cr_assert_eq(delta_patch_read_info(&ps, &info), DELTA_OK, "%s", delta_last_error());
    cr_assert_eq(info.compression, DELTA_COMPRESSION_LZRC);
    cr_assert_eq(info.dict_size, 512);
    cr_assert_eq(delta_patch_prove(&ps, NULL), DELTA_OK, "%s", delta_last_error());
    uint8_t *out = calloc(1, tl);
    delta_sink sink = {DELTA_SINK_VERSION, out, sink_write};
    cr_assert_eq(delta_apply_out_of_place(&ps, &ss, &sink, NULL, 0), DELTA_OK, "%s", delta_last_error());
    cr_assert(memcmp(out, tgt, tl) == 0);
    const char *bad[] = {"patch-lzrc-window.ldp", "patch-lzrc-first-byte.ldp"};
    for (size_t i = 0; i < 2; i++) {
        char path[512];
        snprintf(path, sizeof path, "%s/%s", INVALID, bad[i]);
        size_t bl;
        uint8_t *b = tu_read_file(path, &bl);
        cr_assert(b, "%s", path);
        delta_source bs;
        delta_source_from_memory(&bs, b, bl);
        cr_expect_eq(delta_patch_prove(&bs, NULL), DELTA_ERR_PATCH, "%s: %s", bad[i], delta_last_error());
        free(b);
    }
    free(out);
    free(patch);
    free(src);
    free(tgt);
}
