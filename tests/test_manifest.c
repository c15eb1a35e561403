/* The manifest module: canonical writer, strict reader, golden vectors. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libdelta/manifest.h"
#include "testutil.h"

/* The structs behind formats/vectors/valid/manifest-{1,2}.json. */
static void fixture_image(delta_manifest_image *im, const char *name, const char *member, uint64_t salt)
{
    memset(im, 0, sizeof *im);
    snprintf(im->name, sizeof im->name, "%s", name);
    char text[96];
    snprintf(text, sizeof text, "%s source", name);
    delta_sha256(text, strlen(text), im->source_sha256);
    snprintf(text, sizeof text, "%s target", name);
    delta_sha256(text, strlen(text), im->target_sha256);
    snprintf(text, sizeof text, "%s patch", name);
    delta_sha256(text, strlen(text), im->patch_sha256);
    im->source_size = 1048576 + salt;
    im->target_size = 1050000 + salt;
    im->slot_size = 2097152;
    snprintf(im->patch_member, sizeof im->patch_member, "%s", member);
    im->patch_size = 40960 + salt;
    snprintf(im->patch_format, sizeof im->patch_format, "ldpatch1");
    snprintf(im->compression, sizeof im->compression, "%s", salt ? "none" : "lzma2");
    im->block_size = 4096;
    im->scratch_bytes = 8192;
    im->state_bytes = 4096;
    im->decoder_memory = 2200000;
    im->operations = 1234 + salt;
    im->blocks_written = 257;
}

/* count 1: manifest-1.json, count 2: manifest-2.json. images has room for 2. */
static void fixture_manifest(delta_manifest *m, delta_manifest_image *images, size_t count)
{
    memset(m, 0, sizeof *m);
    m->format_version = 1;
    snprintf(m->project, sizeof m->project, "EC25EFAR06A");
    snprintf(m->source_version, sizeof m->source_version, "EC25EFAR06A06M4G_v12");
    snprintf(m->target_version, sizeof m->target_version, "EC25EFAR06A06M4G_v13");
    snprintf(m->created_by, sizeof m->created_by, "mkdelta 0.1.0");
    m->space_needed = 12288;
    fixture_image(&images[0], "firmware", "firmware.ldp", 0);
    if (count > 1) fixture_image(&images[1], "modem.dsp", "patches/modem.dsp.ldp", 7);
    m->image_count = count;
    m->images = images;
}

static uint8_t *vector(const char *rel, size_t *len)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", DELTA_VECTORS, rel);
    return tu_read_file(path, len);
}

static void assert_image_eq(const delta_manifest_image *a, const delta_manifest_image *b)
{
    cr_assert_str_eq(a->name, b->name);
    cr_assert_eq(a->source_size, b->source_size);
    cr_assert_arr_eq(a->source_sha256, b->source_sha256, DELTA_SHA256_LEN);
    cr_assert_eq(a->target_size, b->target_size);
    cr_assert_arr_eq(a->target_sha256, b->target_sha256, DELTA_SHA256_LEN);
    cr_assert_eq(a->slot_size, b->slot_size);
    cr_assert_str_eq(a->patch_member, b->patch_member);
    cr_assert_eq(a->patch_size, b->patch_size);
    cr_assert_arr_eq(a->patch_sha256, b->patch_sha256, DELTA_SHA256_LEN);
    cr_assert_str_eq(a->patch_format, b->patch_format);
    cr_assert_str_eq(a->compression, b->compression);
    cr_assert_eq(a->block_size, b->block_size);
    cr_assert_eq(a->scratch_bytes, b->scratch_bytes);
    cr_assert_eq(a->state_bytes, b->state_bytes);
    cr_assert_eq(a->decoder_memory, b->decoder_memory);
    cr_assert_eq(a->operations, b->operations);
    cr_assert_eq(a->blocks_written, b->blocks_written);
}

static void assert_manifest_eq(const delta_manifest *a, const delta_manifest *b)
{
    cr_assert_eq(a->format_version, b->format_version);
    cr_assert_str_eq(a->project, b->project);
    cr_assert_str_eq(a->source_version, b->source_version);
    cr_assert_str_eq(a->target_version, b->target_version);
    cr_assert_str_eq(a->created_by, b->created_by);
    cr_assert_eq(a->space_needed, b->space_needed);
    cr_assert_eq(a->image_count, b->image_count);
    for (size_t i = 0; i < a->image_count; i++) assert_image_eq(&a->images[i], &b->images[i]);
}

/* write -> parse gives back every field; write of the parse gives the same bytes. */
static void round_trip(const delta_manifest *m)
{
    delta_buf out = DELTA_BUF_INIT;
    cr_assert_eq(delta_manifest_write(m, &out), DELTA_OK, "%s", delta_last_error());
    cr_assert(out.len > 0 && out.data[out.len - 1] == '\n');
    delta_manifest *back = NULL;
    cr_assert_eq(delta_manifest_parse(out.data, out.len, &back), DELTA_OK, "%s", delta_last_error());
    assert_manifest_eq(m, back);
    delta_buf again = DELTA_BUF_INIT;
    cr_assert_eq(delta_manifest_write(back, &again), DELTA_OK);
    cr_assert_eq(again.len, out.len);
    cr_assert_arr_eq(again.data, out.data, out.len);
    delta_manifest_free(back);
    delta_buf_free(&out);
    delta_buf_free(&again);
}

Test(manifest, round_trip_every_field)
{
    delta_manifest m;
    delta_manifest_image im[2];
    fixture_manifest(&m, im, 1);
    round_trip(&m);
    fixture_manifest(&m, im, 2);
    round_trip(&m);
}

Test(manifest, round_trip_at_the_limits)
{
    delta_manifest_image *im = calloc(DELTA_MANIFEST_MAX_IMAGES, sizeof *im);
    cr_assert(im != NULL);
    delta_manifest m;
    fixture_manifest(&m, im, 1);
    for (size_t i = 0; i < DELTA_MANIFEST_MAX_IMAGES; i++) {
        char name[DELTA_MAX_STRING + 1], member[DELTA_MAX_STRING * 2 + 1];
        snprintf(name, sizeof name, "%02zu%s", i, "-ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456._");
        memset(member, 'm', 128);
        member[128] = '\0';
        member[0] = (char)('a' + i);
        fixture_image(&im[i], name, member, i);
        cr_assert_eq(strlen(im[i].name), 64);
        im[i].source_size = im[i].target_size = im[i].slot_size = im[i].patch_size = DELTA_MAX_IMAGE_SIZE;
        im[i].block_size = i % 2 ? 512 : 1024 * 1024;
        im[i].scratch_bytes = im[i].state_bytes = im[i].decoder_memory = UINT64_C(1) << 40;
        im[i].operations = im[i].blocks_written = UINT64_C(1) << 40;
        im[i].source_size = 0; /* an empty source is allowed */
    }
    m.image_count = DELTA_MANIFEST_MAX_IMAGES;
    memset(m.project, '!', 64);
    m.project[64] = '\0';
    snprintf(m.source_version, sizeof m.source_version, "~v1.2.3+build/4:5");
    snprintf(m.created_by, sizeof m.created_by, "a tool with spaces 1.0 (c) 2026");
    m.space_needed = UINT64_C(1) << 40;
    round_trip(&m);
    free(im);
}

Test(manifest, canonical_bytes_equal_the_vectors)
{
    static const char *const files[] = {"valid/manifest-1.json", "valid/manifest-2.json"};
    for (size_t c = 1; c <= 2; c++) {
        delta_manifest m;
        delta_manifest_image im[2];
        fixture_manifest(&m, im, c);
        size_t len;
        uint8_t *want = vector(files[c - 1], &len);
        delta_buf out = DELTA_BUF_INIT;
        cr_assert_eq(delta_manifest_write(&m, &out), DELTA_OK);
        cr_assert_eq(out.len, len, "%s: %zu bytes written, %zu in the vector", files[c - 1], out.len, len);
        cr_assert_arr_eq(out.data, want, len);

        /* and the vector parses back to the struct */
        delta_manifest *parsed = NULL;
        cr_assert_eq(delta_manifest_parse(want, len, &parsed), DELTA_OK, "%s", delta_last_error());
        assert_manifest_eq(&m, parsed);
        delta_manifest_free(parsed);
        delta_buf_free(&out);
        free(want);
    }
}

Test(manifest, write_appends)
{
    delta_manifest m;
    delta_manifest_image im[2];
    fixture_manifest(&m, im, 1);
    delta_buf out = DELTA_BUF_INIT;
    cr_assert_eq(delta_buf_append(&out, "PREFIX", 6), DELTA_OK);
    cr_assert_eq(delta_manifest_write(&m, &out), DELTA_OK);
    size_t len;
    uint8_t *want = vector("valid/manifest-1.json", &len);
    cr_assert_eq(out.len, 6 + len);
    cr_assert_arr_eq(out.data, "PREFIX", 6);
    cr_assert_arr_eq(out.data + 6, want, len);
    free(want);
    delta_buf_free(&out);
}

Test(manifest, parses_reordered_and_compact_json)
{
    /* Key order and whitespace are free on input; only the bytes the signature covers matter. */
    static const char doc[] =
        "{\"images\":[{\"apply\":{\"blocks_written\":1,\"block_size\":512,\"decoder_memory\":0,"
        "\"operations\":0,\"scratch_bytes\":0,\"state_bytes\":0},\"name\":\"a\",\"patch\":{"
        "\"compression\":\"none\",\"format\":\"ldpatch1\",\"member\":\"a/b.ldp\",\"sha256\":"
        "\"0000000000000000000000000000000000000000000000000000000000000000\",\"size\":0},"
        "\"slot_size\":0,\"source\":{\"sha256\":"
        "\"ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff\",\"size\":0},"
        "\"target\":{\"sha256\":\"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\","
        "\"size\":1}}],\"space_needed\":1,\"created_by\":\"x\",\"target_version\":\"t\","
        "\"source_version\":\"s\",\"project\":\"p\",\"format_version\":1,\"format\":\"libdelta-package\"}";
    delta_manifest *m = NULL;
    cr_assert_eq(delta_manifest_parse(doc, strlen(doc), &m), DELTA_OK, "%s", delta_last_error());
    cr_assert_eq(m->image_count, 1);
    cr_assert_str_eq(m->images[0].patch_member, "a/b.ldp");
    cr_assert_eq(m->images[0].block_size, 512);
    cr_assert_eq(m->images[0].target_sha256[0], 0x01);
    cr_assert_eq(m->images[0].target_sha256[31], 0xef);
    cr_assert_eq(m->images[0].source_sha256[5], 0xff);
    cr_assert_eq(m->space_needed, 1);
    delta_manifest_free(m);
}

/* ---- the invalid vectors, driven by formats/vectors/invalid/manifest-README.md ---- */

static delta_status status_named(const char *name)
{
    if (!strcmp(name, "DELTA_ERR_MANIFEST")) return DELTA_ERR_MANIFEST;
    if (!strcmp(name, "DELTA_ERR_FORMAT_VERSION")) return DELTA_ERR_FORMAT_VERSION;
    cr_assert_fail("unknown status %s in the README table", name);
    return DELTA_OK;
}

#define MAX_ROWS 256
static struct row {
    char file[128];
    char status[64];
} rows[MAX_ROWS];

static size_t read_table(void)
{
    size_t len;
    uint8_t *text = vector("invalid/manifest-README.md", &len);
    char *s = malloc(len + 1);
    memcpy(s, text, len);
    s[len] = '\0';
    size_t n = 0;
    for (char *line = strtok(s, "\n"); line; line = strtok(NULL, "\n")) {
        struct row r;
        if (sscanf(line, "| `%127[^`]` | %63[A-Z_] |", r.file, r.status) == 2) {
            cr_assert(n < MAX_ROWS);
            rows[n++] = r;
        }
    }
    free(s);
    free(text);
    return n;
}

Test(manifest, invalid_vectors_give_their_status)
{
    size_t n = read_table();
    cr_assert(n >= 40, "only %zu rows in the README table", n);
    for (size_t i = 0; i < n; i++) {
        char rel[256];
        snprintf(rel, sizeof rel, "invalid/%.127s", rows[i].file);
        size_t len;
        uint8_t *data = vector(rel, &len);
        delta_manifest *m = (delta_manifest *)&m; /* must be reset to NULL */
        delta_clear_error();
        delta_status st = delta_manifest_parse(data, len, &m);
        cr_expect_eq(st, status_named(rows[i].status), "%s: status %d (%s), want %s", rows[i].file, st,
                     delta_last_error(), rows[i].status);
        cr_expect_null(m, "%s: *out not NULL after a failure", rows[i].file);
        cr_expect(strncmp(delta_last_error(), "manifest: ", 10) == 0, "%s: message \"%s\"", rows[i].file,
                  delta_last_error());
        free(data);
    }
}

Test(manifest, every_invalid_vector_is_in_the_table)
{
    size_t n = read_table();
    char dir[512];
    snprintf(dir, sizeof dir, "%s/invalid", DELTA_VECTORS);
    DIR *d = opendir(dir);
    cr_assert(d != NULL);
    struct dirent *e;
    size_t files = 0;
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (strncmp(e->d_name, "manifest-", 9) != 0 || l < 5 || strcmp(e->d_name + l - 5, ".json") != 0)
            continue;
        files++;
        int found = 0;
        for (size_t i = 0; i < n; i++)
            if (!strcmp(rows[i].file, e->d_name)) found = 1;
        cr_expect(found, "%s has no row in manifest-README.md", e->d_name);
    }
    closedir(d);
    cr_assert_eq(files, n);
}

static void expect_message(const char *rel, delta_status want, const char *message)
{
    size_t len;
    uint8_t *data = vector(rel, &len);
    delta_manifest *m = NULL;
    cr_assert_eq(delta_manifest_parse(data, len, &m), want, "%s: %s", rel, delta_last_error());
    cr_assert_str_eq(delta_last_error(), message);
    free(data);
}

Test(manifest, messages_name_the_json_path)
{
    expect_message("invalid/manifest-bad-hex-upper.json", DELTA_ERR_MANIFEST,
                   "manifest: images[0].source.sha256: not 64 lowercase hex digits");
    expect_message("invalid/manifest-unknown-key-nested.json", DELTA_ERR_MANIFEST,
                   "manifest: images[0].patch.level: unknown key");
    expect_message("invalid/manifest-missing-field.json", DELTA_ERR_MANIFEST,
                   "manifest: images[0].slot_size: missing");
    expect_message("invalid/manifest-size-real.json", DELTA_ERR_MANIFEST,
                   "manifest: images[0].source.size: not an integer");
    expect_message("invalid/manifest-size-negative.json", DELTA_ERR_MANIFEST,
                   "manifest: images[0].source.size: negative");
    expect_message("invalid/manifest-size-over-2g.json", DELTA_ERR_MANIFEST,
                   "manifest: images[0].target.size: 2147483649 exceeds the limit of 2147483648");
    expect_message("invalid/manifest-format-version-2.json", DELTA_ERR_FORMAT_VERSION,
                   "manifest: format_version: version 2 is not supported (this library reads 1)");
    expect_message("invalid/manifest-duplicate-member.json", DELTA_ERR_MANIFEST,
                   "manifest: images[1].patch.member: \"firmware.ldp\" is already the member of images[0]");
    expect_message("invalid/manifest-version-too-long.json", DELTA_ERR_MANIFEST,
                   "manifest: target_version: 65 bytes, longer than 64");
    expect_message("invalid/manifest-17-images.json", DELTA_ERR_MANIFEST,
                   "manifest: images: 17 images, must be 1..16");
}

Test(manifest, parse_rejects_null_and_oversize)
{
    delta_manifest *m = NULL;
    cr_assert_eq(delta_manifest_parse(NULL, 1, &m), DELTA_ERR_ARG);
    cr_assert_eq(delta_manifest_parse("{}", 2, NULL), DELTA_ERR_ARG);
    cr_assert_eq(delta_manifest_parse(NULL, 0, &m), DELTA_ERR_MANIFEST);
    /* the length cap is checked before any byte is read */
    cr_assert_eq(delta_manifest_parse("{", DELTA_MANIFEST_MAX_BYTES + 1, &m), DELTA_ERR_MANIFEST);
    cr_assert_null(m);
    delta_manifest_free(NULL);
}

/* ---- the writer refuses what the reader would refuse ---- */

typedef void (*mutation)(delta_manifest *m);
static void bad_version(delta_manifest *m) { m->format_version = 2; }
static void no_project(delta_manifest *m) { m->project[0] = '\0'; }
static void project_space(delta_manifest *m) { strcpy(m->project, "EC25 EFAR"); }
static void project_quote(delta_manifest *m) { strcpy(m->project, "EC25\"EFAR"); }
static void project_backslash(delta_manifest *m) { strcpy(m->project, "EC25\\EFAR"); }
static void project_unterminated(delta_manifest *m) { memset(m->project, 'A', sizeof m->project); }
static void version_ctrl(delta_manifest *m) { strcpy(m->target_version, "v13\n"); }
static void version_high(delta_manifest *m) { strcpy(m->source_version, "v\xc3\xa9"); }
static void created_empty(delta_manifest *m) { m->created_by[0] = '\0'; }
static void created_tab(delta_manifest *m) { strcpy(m->created_by, "mkdelta\t1"); }
static void space_zero(delta_manifest *m) { m->space_needed = 0; }
static void space_huge(delta_manifest *m) { m->space_needed = (UINT64_C(1) << 40) + 1; }
static void zero_images(delta_manifest *m) { m->image_count = 0; }
static void many_images(delta_manifest *m) { m->image_count = 17; }
static void null_images(delta_manifest *m) { m->images = NULL; }
static void dup_name(delta_manifest *m) { strcpy(m->images[1].name, m->images[0].name); }
static void dup_member(delta_manifest *m) { strcpy(m->images[1].patch_member, m->images[0].patch_member); }
static void name_slash(delta_manifest *m) { strcpy(m->images[0].name, "a/b"); }
static void name_dot(delta_manifest *m) { strcpy(m->images[1].name, "."); }
static void name_dotdot(delta_manifest *m) { strcpy(m->images[0].name, ".."); }
static void name_empty(delta_manifest *m) { m->images[0].name[0] = '\0'; }
static void member_dotdot(delta_manifest *m) { strcpy(m->images[0].patch_member, "a/../b"); }
static void member_dot(delta_manifest *m) { strcpy(m->images[0].patch_member, "./b"); }
static void member_lead(delta_manifest *m) { strcpy(m->images[0].patch_member, "/b"); }
static void member_trail(delta_manifest *m) { strcpy(m->images[0].patch_member, "b/"); }
static void member_dslash(delta_manifest *m) { strcpy(m->images[0].patch_member, "a//b"); }
static void member_space(delta_manifest *m) { strcpy(m->images[0].patch_member, "a b"); }
static void member_manifest(delta_manifest *m) { strcpy(m->images[1].patch_member, "manifest.json"); }
static void member_sig(delta_manifest *m) { strcpy(m->images[0].patch_member, "manifest.sig"); }
static void member_long(delta_manifest *m) { memset(m->images[0].patch_member, 'x', sizeof m->images[0].patch_member); }
static void source_big(delta_manifest *m) { m->images[0].source_size = DELTA_MAX_IMAGE_SIZE + 1; }
static void target_big(delta_manifest *m) { m->images[1].target_size = UINT64_MAX; }
static void slot_big(delta_manifest *m) { m->images[0].slot_size = DELTA_MAX_IMAGE_SIZE + 1; }
static void patch_big(delta_manifest *m) { m->images[0].patch_size = DELTA_MAX_IMAGE_SIZE + 1; }
static void block_zero(delta_manifest *m) { m->images[0].block_size = 0; }
static void block_odd(delta_manifest *m) { m->images[0].block_size = 4097; }
static void block_small(delta_manifest *m) { m->images[0].block_size = 256; }
static void block_big(delta_manifest *m) { m->images[0].block_size = 2u << 20; }
static void block_npow2(delta_manifest *m) { m->images[0].block_size = 3 * 1024; }
static void ops_big(delta_manifest *m) { m->images[0].operations = (UINT64_C(1) << 40) + 1; }
static void scratch_big(delta_manifest *m) { m->images[0].scratch_bytes = UINT64_MAX; }
static void format_other(delta_manifest *m) { strcpy(m->images[0].patch_format, "ldpatch2"); }
static void compression_other(delta_manifest *m) { strcpy(m->images[0].compression, "xz"); }

Test(manifest, writer_refuses_invalid_structs)
{
    static const mutation cases[] = {
        bad_version, no_project, project_space, project_quote, project_backslash, project_unterminated,
        version_ctrl, version_high, created_empty, created_tab, space_zero, space_huge, zero_images,
        many_images, null_images, dup_name, dup_member, name_slash, name_dot, name_dotdot, name_empty,
        member_dotdot, member_dot, member_lead, member_trail, member_dslash, member_space,
        member_manifest, member_sig, member_long, source_big, target_big, slot_big, patch_big,
        block_zero, block_odd, block_small, block_big, block_npow2, ops_big, scratch_big,
        format_other, compression_other,
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        delta_manifest m;
        delta_manifest_image im[2];
        fixture_manifest(&m, im, 2);
        cases[i](&m);
        delta_buf out = DELTA_BUF_INIT;
        delta_status st = delta_manifest_write(&m, &out);
        cr_expect_eq(st, DELTA_ERR_ARG, "case %zu: status %d", i, st);
        cr_expect_eq(out.len, 0, "case %zu wrote bytes", i);
        cr_expect(strncmp(delta_last_error(), "manifest: ", 10) == 0, "case %zu: \"%s\"", i,
                  delta_last_error());
        delta_buf_free(&out);
    }
    cr_assert_eq(delta_manifest_write(NULL, NULL), DELTA_ERR_ARG);
}

Test(manifest, string_rules)
{
    cr_assert(delta_manifest_string_ok("EC25EFAR06A06M4G"));
    cr_assert(delta_manifest_string_ok("!#$%&'()*+,-./:;<=>?@[]^_`{|}~"));
    cr_assert(delta_manifest_string_ok("0123456789012345678901234567890123456789012345678901234567890123"));
    cr_assert(!delta_manifest_string_ok("01234567890123456789012345678901234567890123456789012345678901234"));
    cr_assert(!delta_manifest_string_ok(""));
    cr_assert(!delta_manifest_string_ok(NULL));
    cr_assert(!delta_manifest_string_ok("a b"));
    cr_assert(!delta_manifest_string_ok("a\"b"));
    cr_assert(!delta_manifest_string_ok("a\\b"));
    cr_assert(!delta_manifest_string_ok("a\x7f"));
    cr_assert(!delta_manifest_string_ok("\xc3\xa9"));

    cr_assert(delta_manifest_image_name_ok("firmware"));
    cr_assert(delta_manifest_image_name_ok("modem.dsp_2-b"));
    cr_assert(delta_manifest_image_name_ok("..."));
    cr_assert(delta_manifest_image_name_ok(".hidden"));
    cr_assert(!delta_manifest_image_name_ok("."));
    cr_assert(!delta_manifest_image_name_ok(".."));
    cr_assert(!delta_manifest_image_name_ok(""));
    cr_assert(!delta_manifest_image_name_ok(NULL));
    cr_assert(!delta_manifest_image_name_ok("a/b"));
    cr_assert(!delta_manifest_image_name_ok("a:b"));
    cr_assert(!delta_manifest_image_name_ok("a b"));
    cr_assert(delta_manifest_image_name_ok("0123456789012345678901234567890123456789012345678901234567890123"));
    cr_assert(!delta_manifest_image_name_ok("01234567890123456789012345678901234567890123456789012345678901234"));
}
