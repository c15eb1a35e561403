/*
 * Shared pieces of the package-level fuzz targets (fuzz_patch, fuzz_verify,
 * fuzz_apply) and of the seed generator (make_seeds.c): the fixed inputs the
 * targets run against, a discarding sink and a memory-only flash and state
 * store. Everything is deterministic: no clock, no randomness, no files but
 * the committed firmware read once at start.
 */
#ifndef DELTA_FUZZ_COMMON_H
#define DELTA_FUZZ_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libdelta/update.h"

/* The fixed source image of fuzz_verify and fuzz_apply: the first 32 KiB of
 * tests/data/firmware/cityhub-7.27.0.bin. Seeds are packages made from it. */
#define FZ_SOURCE_LEN 32768
#define FZ_PROJECT "PYBRICKS-CITYHUB"
#define FZ_SOURCE_VERSION "7.27.0"
#define FZ_TARGET_VERSION "7.28.0"
#define FZ_MAX_INPUT (1u << 20) /* inputs over 1 MiB are skipped */

#ifndef DELTA_FUZZ_DATA
#error "DELTA_FUZZ_DATA (tests/data) must be defined by the build"
#endif

static inline uint8_t *fz_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) { fprintf(stderr, "fuzz: cannot open %s\n", path); abort(); }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc(n > 0 ? (size_t)n : 1);
    if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) { fprintf(stderr, "fuzz: cannot read %s\n", path); abort(); }
    fclose(f);
    *len = (size_t)n;
    return buf;
}

/* Loaded once, kept for the life of the process (not a leak: still reachable). */
static inline const uint8_t *fz_source(void)
{
    static uint8_t *src;
    if (!src) {
        size_t len;
        src = fz_read_file(DELTA_FUZZ_DATA "/firmware/cityhub-7.27.0.bin", &len);
        if (len < FZ_SOURCE_LEN) abort();
    }
    return src;
}

/* The same xorshift as tests/util (tu_fill_random). */
static inline void fz_fill_random(uint8_t *buf, size_t len, uint64_t seed)
{
    uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
    for (size_t i = 0; i < len; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        buf[i] = (uint8_t)(x >> 24);
    }
}

/* A sink that discards, but checks what it is given against the declared size. */
typedef struct fz_discard {
    uint64_t limit, high;
} fz_discard;

static inline int fz_discard_write(void *ctx, uint64_t off, const void *buf, size_t len)
{
    fz_discard *d = ctx;
    (void)buf;
    if (off > d->limit || len > d->limit - off) abort(); /* the applier wrote past the target */
    if (off + len > d->high) d->high = off + len;
    return DELTA_IO_OK;
}

/* A memory flash region and state store: no power cuts, no failures. */
typedef struct fz_mem {
    uint8_t *flash;
    uint64_t size, cap;
    uint8_t journal[16384];
    size_t journal_len;
    uint8_t *scratch;
    uint64_t scratch_cap;
} fz_mem;

static inline int fz_f_read(void *ctx, uint64_t off, void *buf, size_t len)
{
    fz_mem *m = ctx;
    if (off > m->size || len > m->size - off) return DELTA_IO_SHORT;
    memcpy(buf, m->flash + off, len);
    return DELTA_IO_OK;
}
static inline int fz_f_write(void *ctx, uint64_t off, const void *buf, size_t len)
{
    fz_mem *m = ctx;
    if (off > m->cap || len > m->cap - off) return DELTA_IO_NOSPACE;
    memcpy(m->flash + off, buf, len);
    if (off + len > m->size) m->size = off + len;
    return DELTA_IO_OK;
}
static inline int fz_ok(void *ctx) { (void)ctx; return DELTA_IO_OK; }
static inline int fz_f_resize(void *ctx, uint64_t size)
{
    fz_mem *m = ctx;
    if (size > m->cap) return DELTA_IO_NOSPACE;
    if (size > m->size) memset(m->flash + m->size, 0, size - m->size);
    m->size = size;
    return DELTA_IO_OK;
}
static inline int fz_j_read(void *ctx, void *buf, size_t cap, size_t *len)
{
    fz_mem *m = ctx;
    if (m->journal_len > cap) return DELTA_IO_ERROR;
    memcpy(buf, m->journal, m->journal_len);
    *len = m->journal_len;
    return DELTA_IO_OK;
}
static inline int fz_j_write(void *ctx, const void *buf, size_t len)
{
    fz_mem *m = ctx;
    if (len > sizeof m->journal) return DELTA_IO_NOSPACE;
    memcpy(m->journal, buf, len);
    m->journal_len = len;
    return DELTA_IO_OK;
}
static inline int fz_j_remove(void *ctx) { fz_mem *m = ctx; m->journal_len = 0; return DELTA_IO_OK; }
static inline int fz_s_read(void *ctx, uint64_t off, void *buf, size_t len)
{
    fz_mem *m = ctx;
    if (off > m->scratch_cap || len > m->scratch_cap - off) return DELTA_IO_SHORT;
    memcpy(buf, m->scratch + off, len);
    return DELTA_IO_OK;
}
static inline int fz_s_write(void *ctx, uint64_t off, const void *buf, size_t len)
{
    fz_mem *m = ctx;
    if (off > m->scratch_cap || len > m->scratch_cap - off) return DELTA_IO_NOSPACE;
    memcpy(m->scratch + off, buf, len);
    return DELTA_IO_OK;
}

/* A region of cap bytes holding image; scratch of scratch_cap bytes. 0 on OOM. */
static inline int fz_mem_init(fz_mem *m, const uint8_t *image, size_t len, uint64_t cap, uint64_t scratch_cap)
{
    memset(m, 0, sizeof *m);
    m->flash = calloc(cap ? cap : 1, 1);
    m->scratch = calloc(scratch_cap ? scratch_cap : 1, 1);
    if (!m->flash || !m->scratch) { free(m->flash); free(m->scratch); return 0; }
    memcpy(m->flash, image, len);
    m->size = len;
    m->cap = cap;
    m->scratch_cap = scratch_cap;
    return 1;
}
static inline void fz_mem_free(fz_mem *m) { free(m->flash); free(m->scratch); }
static inline void fz_mem_flash(fz_mem *m, delta_flash *f)
{
    delta_flash x = {DELTA_FLASH_VERSION, m, m->size, m->cap, 0, fz_f_read, fz_f_write, fz_ok, fz_f_resize};
    *f = x;
}
static inline void fz_mem_store(fz_mem *m, delta_store *st)
{
    delta_store x = {DELTA_STORE_VERSION, m, UINT64_MAX, fz_j_read, fz_j_write, fz_j_remove, fz_s_read, fz_s_write, fz_ok};
    *st = x;
}


/* The resume fixture (fuzz_resume, make_seeds): a package updating 16 KiB of
 * cityhub-7.27.0 to 7.28.0 (1 KiB blocks, batches of 2, no compression), and
 * the state area a completed update of it leaves: the manifest and patch
 * copies and every block's backup. on_journal (may be NULL) sees each journal
 * the update writes. */
#define FZ_RESUME_LEN 16384
typedef struct fz_resume {
    delta_buf pkg;
    uint8_t *scratch;
    uint64_t scratch_len;
    const uint8_t *source;
    uint8_t *target;
} fz_resume;

typedef struct fz_resume_capture {
    fz_mem mem; /* first: the fz_ callbacks take the capture as their fz_mem */
    void (*on_journal)(const void *buf, size_t len);
} fz_resume_capture;

static inline int fz_resume_journal_write(void *ctx, const void *buf, size_t len)
{
    fz_resume_capture *c = ctx;
    if (c->on_journal) c->on_journal(buf, len);
    return fz_j_write(&c->mem, buf, len);
}

static inline const fz_resume *fz_resume_fixture(void (*on_journal)(const void *buf, size_t len))
{
    static fz_resume r;
    static int ready;
    if (ready) return &r;
    r.source = fz_source();
    size_t len;
    r.target = fz_read_file(DELTA_FUZZ_DATA "/firmware/cityhub-7.28.0.bin", &len);
    if (len < FZ_RESUME_LEN) abort();
    delta_make_options opt = DELTA_MAKE_OPTIONS_INIT;
    opt.project = FZ_PROJECT;
    opt.source_version = FZ_SOURCE_VERSION;
    opt.target_version = FZ_TARGET_VERSION;
    opt.patch.block_size = 1024;
    opt.patch.batch_blocks = 2;
    opt.patch.compression = DELTA_COMPRESSION_NONE;
    opt.diff.threads = 1;
    delta_make_image im = {"firmware", r.source, FZ_RESUME_LEN, r.target, FZ_RESUME_LEN, 0};
    r.pkg = (delta_buf)DELTA_BUF_INIT;
    if (delta_package_make(&opt, &im, 1, &r.pkg, NULL) != DELTA_OK) abort();
    delta_source file;
    delta_source_from_memory(&file, r.pkg.data, r.pkg.len);
    delta_package *p = NULL;
    if (delta_package_open(&file, NULL, &p) != DELTA_OK) abort();
    r.scratch_len = delta_package_manifest(p)->space_needed;
    delta_package_free(p);
    fz_resume_capture cap = {.on_journal = on_journal};
    if (!fz_mem_init(&cap.mem, r.source, FZ_RESUME_LEN, 2 * FZ_RESUME_LEN, r.scratch_len)) abort();
    delta_flash fl;
    fz_mem_flash(&cap.mem, &fl);
    delta_update_region region = {NULL, &fl};
    delta_store store;
    fz_mem_store(&cap.mem, &store);
    store.ctx = &cap;
    store.journal_write = fz_resume_journal_write;
    delta_update_params up = DELTA_UPDATE_PARAMS_INIT;
    up.package = &file;
    up.regions = &region;
    up.region_count = 1;
    up.store = &store;
    if (delta_update_run(&up, NULL) != DELTA_OK) abort();
    if (cap.mem.size != FZ_RESUME_LEN || memcmp(cap.mem.flash, r.target, FZ_RESUME_LEN) != 0) abort();
    r.scratch = cap.mem.scratch;
    free(cap.mem.flash);
    ready = 1;
    return &r;
}

#endif
