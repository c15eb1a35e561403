/*
 * Writes the seed corpora of fuzz_patch, fuzz_verify, fuzz_apply and
 * fuzz_journal (journals an in-place apply really wrote), and the
 * valid packages the hostile package vectors start from, all made through the
 * library from the committed firmware (tests/data/firmware/, slices of the
 * Pybricks City Hub images). Deterministic: running it again gives the same
 * bytes (ECDSA signatures are RFC 6979 deterministic).
 *
 *   build/fuzz/make_seeds <repository root>
 *
 * writes fuzz/corpus/{patch,verify,apply,journal,resume}/seed-* and
 * formats/vectors/valid/package-*.{zip,bin} (see formats/vectors/invalid/pkg-README.md)
 * and formats/vectors/valid/patch-*.ldp (formats/patch.md, "Reference prediction").
 */
#include <errno.h>
#include <sys/stat.h>

#include "fuzz_common.h"

static const char *root;
/* The seeds predate reference prediction and keep their bytes without it;
 * the thumb2 seeds and vector set this to DELTA_ARCH_THUMB2. */
static uint32_t seed_arch = DELTA_ARCH_NONE;
static uint8_t *fw22, *fw27, *fw28, *key;
static size_t fw22_len, fw27_len, fw28_len, key_len;

static void put(const char *dir, const char *name, const void *data, size_t len)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", root, dir);
    if (mkdir(path, 0777) != 0 && errno != EEXIST) { perror(path); exit(1); }
    snprintf(path, sizeof path, "%s/%s/%s", root, dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0) { perror(path); exit(1); }
    printf("%s/%s: %zu bytes\n", dir, name, len);
}

static void check(delta_status st, const char *what)
{
    if (st) { fprintf(stderr, "make_seeds: %s: %s\n", what, delta_last_error()); exit(1); }
}

/* A bare ldpatch1 patch between two slices. */
static void patch_seed_in(const char *dir, const char *name, const uint8_t *s, size_t slen, const uint8_t *t, size_t tlen,
                       uint32_t block, uint32_t compression, int inplace)
{
    delta_op *ops = NULL;
    size_t n = 0;
    delta_diff_options dopt = DELTA_DIFF_OPTIONS_INIT;
    dopt.threads = 1;
    dopt.arch = seed_arch;
    check(delta_diff(s, slen, t, tlen, &dopt, &ops, &n), name);
    delta_patch_options po = DELTA_PATCH_OPTIONS_INIT;
    po.block_size = block;
    po.compression = compression;
    po.dict_size = compression == DELTA_COMPRESSION_LZMA2 ? 65536 : 0;
    po.segment_size = 8192; /* several segments */
    po.inplace = inplace;
    po.arch = seed_arch;
    delta_buf out = DELTA_BUF_INIT;
    check(delta_patch_make(s, slen, t, tlen, ops, n, &po, &out, NULL), name);
    delta_ops_free(ops);
    put(dir, name, out.data, out.len);
    delta_buf_free(&out);
}

static void patch_seed(const char *name, const uint8_t *s, size_t slen, const uint8_t *t, size_t tlen,
                       uint32_t block, uint32_t compression, int inplace)
{
    patch_seed_in("fuzz/corpus/patch", name, s, slen, t, tlen, block, compression, inplace);
}

/*
 * A synthetic image, "relinked": 48 functions of 128 bytes after a 64-byte
 * ELF header of the machine (62 x86-64, 183 AArch64). x86-64: a CALL rel32
 * every 16 bytes and one REX.W LEA [RIP + disp32], filler bytes below 0x40.
 * AArch64: a BL every 16 bytes and one ADRP + ADD (the filler holds a few
 * B by chance, predicted like the rest). The new version (v = 1) inserts a function after the 10th and
 * drops the 30th (its callers call function 0), so the references across
 * the insertion all change.
 */
static void put32le(uint8_t *p, uint32_t v)
{
    for (int b = 0; b < 4; b++) p[b] = (uint8_t)(v >> (8 * b));
}

static uint8_t *relinked_image(uint16_t machine, int v, size_t *len)
{
    enum { N = 48, L = 128 };
    int order[N + 1], n = 0;
    for (int k = 0; k < N; k++) {
        if (v && k == 30) continue;
        order[n++] = k;
        if (v && k == 10) order[n++] = N;
    }
    size_t addr[N + 1] = {0};
    for (int k = 0; k < n; k++) addr[order[k]] = 64 + (size_t)k * L;
    *len = 64 + (size_t)n * L;
    uint8_t *img = calloc(*len, 1);
    if (!img) { perror("make_seeds"); exit(1); }
    memcpy(img, "\x7f" "ELF\x02\x01\x01", 7);
    img[18] = (uint8_t)machine;
    for (int k = 0; k < n; k++) {
        size_t at = addr[order[k]];
        uint8_t *f = img + at;
        uint32_t x = 2654435761u * (uint32_t)(order[k] + 1);
        for (int i = 0; i < L; i++) {
            x ^= x << 13; x ^= x >> 17; x ^= x << 5;
            f[i] = (uint8_t)(x & 0x3f);
        }
        for (int i = 0; i < L; i += 16) {
            int to = (int)((uint32_t)(order[k] * 7 + i * 5) % N);
            if (to == 30 && v) to = 0;
            int64_t here = (int64_t)(at + (size_t)i);
            if (machine == 62) {
                f[i] = 0xE8;
                put32le(f + i + 1, (uint32_t)(int32_t)((int64_t)addr[to] - (here + 5)));
                if (i == 32) { /* lea rax, [rip + function] */
                    f[i + 5] = 0x48;
                    f[i + 6] = 0x8D;
                    f[i + 7] = 0x05;
                    put32le(f + i + 8, (uint32_t)(int32_t)((int64_t)addr[to] - (here + 12)));
                }
            } else {
                put32le(f + i, 0x94000000 | ((uint32_t)(((int64_t)addr[to] - here) / 4) & 0x3FFFFFF)); /* bl */
                if (i == 32) { /* adrp x0, function; add x0, x0, :lo12:function */
                    uint32_t p = (uint32_t)(((int64_t)addr[to] >> 12) - ((here + 4) >> 12)) & 0x1FFFFF;
                    put32le(f + i + 4, 0x90000000 | (p & 3) << 29 | (p >> 2) << 5);
                    put32le(f + i + 8, 0x91000000 | (uint32_t)(addr[to] & 0xFFF) << 10);
                }
            }
        }
    }
    return img;
}

typedef struct pkg_spec {
    const char *project, *source_version;
    int sign;
    uint32_t block, compression;
    size_t count;
    delta_make_image images[2];
} pkg_spec;

static void make_pkg(const pkg_spec *sp, delta_buf *out)
{
    delta_make_options opt = DELTA_MAKE_OPTIONS_INIT;
    opt.project = sp->project ? sp->project : FZ_PROJECT;
    opt.source_version = sp->source_version ? sp->source_version : FZ_SOURCE_VERSION;
    opt.target_version = FZ_TARGET_VERSION;
    if (sp->sign) {
        opt.key_pem = (const char *)key;
        opt.key_len = key_len;
    }
    opt.patch.block_size = sp->block;
    opt.patch.compression = sp->compression;
    opt.patch.dict_size = sp->compression == DELTA_COMPRESSION_LZMA2 ? 65536 : 0;
    opt.patch.segment_size = 16384;
    opt.diff.threads = 1;
    opt.diff.arch = opt.patch.arch = seed_arch;
    check(delta_package_make(&opt, sp->images, sp->count, out, NULL), "package");
}

static void pkg_seed(const char *dir, const char *name, const pkg_spec *sp)
{
    delta_buf out = DELTA_BUF_INIT;
    make_pkg(sp, &out);
    put(dir, name, out.data, out.len);
    delta_buf_free(&out);
}

/* fuzz_journal: an in-place apply in memory whose store keeps the first
 * journal of each kind it writes (image, flags, stash slots in use). */
#define JOURNAL_KINDS 32
typedef struct journal_capture {
    fz_mem mem; /* first: the fz_ callbacks take the capture as their fz_mem */
    uint32_t kinds[JOURNAL_KINDS];
    size_t nkinds;
    size_t written;
} journal_capture;

static int capture_write(void *ctx, const void *buf, size_t len)
{
    journal_capture *c = ctx;
    delta_journal j;
    check(delta_journal_decode(buf, len, &j), "journal written by the applier");
    uint32_t live = 0;
    for (uint32_t i = 0; i < j.stash_count; i++) live += j.stash[i] != 0;
    uint32_t kind = j.image_index << 8 | j.flags << 1 | (live != 0);
    int seen = 0;
    for (size_t i = 0; i < c->nkinds; i++) seen |= c->kinds[i] == kind;
    if (!seen && c->nkinds < JOURNAL_KINDS) {
        c->kinds[c->nkinds++] = kind;
        char name[96];
        snprintf(name, sizeof name, "seed-image%u-%s%s%s%s-%zu", j.image_index,
                 j.flags & DELTA_JOURNAL_PENDING ? "pending-" : "", j.flags & DELTA_JOURNAL_WRITTEN ? "written-" : "",
                 j.flags & DELTA_JOURNAL_IMAGE_DONE ? "done-" : "", live ? "stash" : "nostash", c->written);
        put("fuzz/corpus/journal", name, buf, len);
    }
    c->written++;
    return fz_j_write(&c->mem, buf, len);
}

static void journal_seeds(const delta_make_image *images, size_t count)
{
    delta_make_options opt = DELTA_MAKE_OPTIONS_INIT;
    opt.project = FZ_PROJECT;
    opt.source_version = FZ_SOURCE_VERSION;
    opt.target_version = FZ_TARGET_VERSION;
    opt.patch.block_size = 1024;
    opt.patch.compression = DELTA_COMPRESSION_NONE;
    opt.patch.batch_blocks = 2; /* many commits, and cycles too long for a batch: stashes */
    opt.diff.threads = 1;
    delta_buf pkg = DELTA_BUF_INIT;
    check(delta_package_make(&opt, images, count, &pkg, NULL), "journal package");
    delta_source file;
    delta_source_from_memory(&file, pkg.data, pkg.len);
    delta_package *p = NULL;
    check(delta_package_open(&file, NULL, &p), "journal package open");
    const delta_manifest *m = delta_package_manifest(p);
    static journal_capture cap[2];
    delta_flash fl[2];
    delta_update_region regions[2];
    for (size_t i = 0; i < count; i++) {
        if (!fz_mem_init(&cap[i].mem, images[i].source, images[i].source_len, 65536, m->space_needed)) exit(1);
        fz_mem_flash(&cap[i].mem, &fl[i]);
        regions[i] = (delta_update_region){m->images[i].name, &fl[i]};
    }
    delta_store store;
    fz_mem_store(&cap[0].mem, &store);
    store.ctx = &cap[0];
    store.journal_write = capture_write;
    delta_update_params up = DELTA_UPDATE_PARAMS_INIT;
    up.package = &file;
    up.regions = regions;
    up.region_count = count;
    up.store = &store;
    check(delta_update_run(&up, NULL), "journal apply");
    for (size_t i = 0; i < count; i++) fz_mem_free(&cap[i].mem);
    delta_package_free(p);
    delta_buf_free(&pkg);
}

/* fuzz_resume: every journal a real update of the resume fixture writes. */
static void resume_seed(const void *buf, size_t len)
{
    static unsigned n;
    char name[32];
    snprintf(name, sizeof name, "seed-%03u", n++);
    put("fuzz/corpus/resume", name, buf, len);
}

int main(int argc, char **argv)
{
    if (argc != 2) { fprintf(stderr, "usage: make_seeds <repository root>\n"); return 2; }
    root = argv[1];
    fw22 = fz_read_file(DELTA_FUZZ_DATA "/firmware/cityhub-7.22.0.bin", &fw22_len);
    fw27 = fz_read_file(DELTA_FUZZ_DATA "/firmware/cityhub-7.27.0.bin", &fw27_len);
    fw28 = fz_read_file(DELTA_FUZZ_DATA "/firmware/cityhub-7.28.0.bin", &fw28_len);
    key = fz_read_file(DELTA_FUZZ_DATA "/keys/ec-p256.pem", &key_len);
    const size_t S = FZ_SOURCE_LEN;

    /* fuzz_patch: the source is pseudo-random there; the patches are real. */
    patch_seed("seed-lzma2-inplace-4k", fw27, S, fw28, S, 4096, DELTA_COMPRESSION_LZMA2, 1);
    patch_seed("seed-none-inplace-1k", fw27, 16384, fw28, 16384, 1024, DELTA_COMPRESSION_NONE, 1);
    patch_seed("seed-none-targetorder-512", fw27, 8192, fw22, 8192, 512, DELTA_COMPRESSION_NONE, 0);
    patch_seed("seed-lzma2-grow", fw27, 16384, fw28, 20000, 4096, DELTA_COMPRESSION_LZMA2, 1);
    patch_seed("seed-lzma2-shrink", fw22, 20000, fw28, 12000, 2048, DELTA_COMPRESSION_LZMA2, 1);
    patch_seed("seed-none-identical", fw27, 8192, fw27, 8192, 1024, DELTA_COMPRESSION_NONE, 1);
    patch_seed("seed-none-empty-target", fw27, 4096, fw27, 0, 512, DELTA_COMPRESSION_NONE, 1);

    /* fuzz_verify and fuzz_apply: packages from the fixed source (first 32 KiB of 7.27.0). */
    pkg_spec one = {NULL, NULL, 1, 4096, DELTA_COMPRESSION_LZMA2, 1, {{"firmware", fw27, S, fw28, S, 0}}};
    pkg_seed("fuzz/corpus/verify", "seed-signed.zip", &one);
    pkg_spec none = {NULL, NULL, 1, 1024, DELTA_COMPRESSION_NONE, 1, {{"firmware", fw27, S, fw22, 24576, 0}}};
    pkg_seed("fuzz/corpus/verify", "seed-signed-none.zip", &none);
    pkg_spec two = {NULL, NULL, 1, 2048, DELTA_COMPRESSION_LZMA2, 2,
                    {{"boot", fw27, S, fw22, S, 0}, {"firmware", fw27, S, fw28, 36000, 0}}};
    pkg_seed("fuzz/corpus/verify", "seed-two-images.zip", &two);
    pkg_spec unsigned_one = one;
    unsigned_one.sign = 0;
    pkg_seed("fuzz/corpus/verify", "seed-unsigned.zip", &unsigned_one);
    pkg_spec other = one;
    other.project = "OTHER-PROJECT";
    pkg_seed("fuzz/corpus/verify", "seed-other-project.zip", &other);

    unsigned_one.block = 1024;
    pkg_seed("fuzz/corpus/apply", "seed-one-image.zip", &unsigned_one);
    pkg_spec apply_none = none;
    apply_none.sign = 0;
    pkg_seed("fuzz/corpus/apply", "seed-none.zip", &apply_none);
    pkg_spec apply_two = two;
    apply_two.sign = 0;
    pkg_seed("fuzz/corpus/apply", "seed-two-images.zip", &apply_two);
    pkg_spec shrink = {NULL, NULL, 0, 512, DELTA_COMPRESSION_LZMA2, 1, {{"firmware", fw27, S, fw28, 20000, 0}}};
    pkg_seed("fuzz/corpus/apply", "seed-shrink-512.zip", &shrink);

    /* fuzz_journal: image 0 is the fixed source's first 8 KiB with its blocks rotated by one (a
     * cycle through every block: stashes), image 1 a real 16 KiB update. */
    static uint8_t rotated[8192];
    memcpy(rotated, fw27 + 1024, sizeof rotated - 1024);
    memcpy(rotated + sizeof rotated - 1024, fw27, 1024);
    delta_make_image jimages[2] = {{"boot", fw27, sizeof rotated, rotated, sizeof rotated, 0},
                                   {"firmware", fw27, 16384, fw28, 16384, 0}};
    journal_seeds(jimages, 2);
    fz_resume_fixture(resume_seed);

    /* The valid packages the hostile vectors (formats/vectors/gen/package_invalid.py) edit:
     * 8 KiB slices, 1 KiB blocks, signed with ec-p256; one with LZMA2, one with no compression. */
    const size_t V = 8192;
    pkg_spec vec = {"PYBRICKS-CITYHUB", "v7.27.0", 1, 1024, DELTA_COMPRESSION_LZMA2, 1, {{"firmware", fw27, V, fw28, V, 0}}};
    pkg_seed("formats/vectors/valid", "package-lzma2.zip", &vec);
    vec.compression = DELTA_COMPRESSION_NONE;
    pkg_seed("formats/vectors/valid", "package-none.zip", &vec);
    put("formats/vectors/valid", "package-source.bin", fw27, V);
    put("formats/vectors/valid", "package-target.bin", fw28, V);

    /* Reference prediction (formats/patch.md): seeds that reach the THUMB2
     * decoder, and the valid vector patch-thumb2.ldp, uncompressed so that its
     * preamble reads by eye: 16 KiB at 96 KiB of 7.27.0 -> 7.28.0, 1 KiB blocks. */
    seed_arch = DELTA_ARCH_THUMB2;
    patch_seed("seed-thumb2-lzma2-4k", fw27, S, fw28, S, 4096, DELTA_COMPRESSION_LZMA2, 1);
    patch_seed("seed-thumb2-none-512", fw22, 16384, fw28, 16384, 512, DELTA_COMPRESSION_NONE, 1);
    pkg_spec thumb = {NULL, NULL, 0, 1024, DELTA_COMPRESSION_LZMA2, 1, {{"firmware", fw27, S, fw28, S, 0}}};
    pkg_seed("fuzz/corpus/apply", "seed-thumb2.zip", &thumb);
    const size_t T = 16384, X = 0x18000; /* a stretch where code moved: five map entries */
    patch_seed_in("formats/vectors/valid", "patch-thumb2.ldp", fw27 + X, T, fw28 + X, T, 1024, DELTA_COMPRESSION_NONE, 1);
    put("formats/vectors/valid", "patch-thumb2.source.bin", fw27 + X, T);
    put("formats/vectors/valid", "patch-thumb2.target.bin", fw28 + X, T);
    /* Whole images (tests/data/firmware/cityhub-7.27.0.bin -> 7.28.0.bin): the
     * vector table gives the load address, so THUMB2_ABS32 is used. */
    patch_seed_in("formats/vectors/valid", "patch-thumb2-abs32.ldp", fw27, fw27_len, fw28, fw28_len, 4096,
                  DELTA_COMPRESSION_LZMA2, 1);
    patch_seed("seed-thumb2-abs32-2k", fw27, fw27_len, fw28, fw28_len, 2048, DELTA_COMPRESSION_LZMA2, 1);
    /* X86_64: a synthetic relinked x86-64 image (x86_image) and, forced, firmware bytes
     * (the rule applies to whatever matches its patterns). */
    seed_arch = DELTA_ARCH_X86_64;
    size_t xl_old, xl_new;
    uint8_t *x_old = relinked_image(62, 0, &xl_old), *x_new = relinked_image(62, 1, &xl_new);
    patch_seed_in("formats/vectors/valid", "patch-x86-64.ldp", x_old, xl_old, x_new, xl_new, 1024,
                  DELTA_COMPRESSION_NONE, 1);
    put("formats/vectors/valid", "patch-x86-64.source.bin", x_old, xl_old);
    put("formats/vectors/valid", "patch-x86-64.target.bin", x_new, xl_new);
    free(x_old);
    free(x_new);
    seed_arch = DELTA_ARCH_AARCH64;
    x_old = relinked_image(183, 0, &xl_old);
    x_new = relinked_image(183, 1, &xl_new);
    patch_seed_in("formats/vectors/valid", "patch-aarch64.ldp", x_old, xl_old, x_new, xl_new, 1024,
                  DELTA_COMPRESSION_NONE, 1);
    put("formats/vectors/valid", "patch-aarch64.source.bin", x_old, xl_old);
    put("formats/vectors/valid", "patch-aarch64.target.bin", x_new, xl_new);
    patch_seed("seed-aarch64-lzma2-1k", x_old, xl_old, x_new, xl_new, 1024, DELTA_COMPRESSION_LZMA2, 1);
    free(x_old);
    free(x_new);
    seed_arch = DELTA_ARCH_X86_64;
    patch_seed("seed-x86-64-lzma2-2k", fw22, 20000, fw28, 20000, 2048, DELTA_COMPRESSION_LZMA2, 1);
    free(fw22); free(fw27); free(fw28); free(key);
    return 0;
}
