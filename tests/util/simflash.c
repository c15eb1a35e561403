#include "simflash.h"

#include <stdlib.h>
#include <string.h>

static void area_init(sim_area *a, const uint8_t *data, size_t len, size_t cap)
{
    a->cap = cap;
    a->live = calloc(cap ? cap : 1, 1);
    a->durable = calloc(cap ? cap : 1, 1);
    if (len) {
        memcpy(a->live, data, len);
        memcpy(a->durable, data, len);
    }
    a->size = a->durable_size = len;
}

void sim_init(sim *s, const uint8_t *image, size_t len, size_t cap)
{
    memset(s, 0, sizeof *s);
    s->broken_kind = -1;
    s->cut_kind = -1;
    area_init(&s->flash, image, len, cap);
    area_init(&s->scratch, NULL, 0, 16u << 20);
}

void sim_free(sim *s)
{
    free(s->flash.live);
    free(s->flash.durable);
    free(s->scratch.live);
    free(s->scratch.durable);
}

void sim_reboot(sim *s)
{
    sim_area *as[2] = {&s->flash, &s->scratch};
    for (int i = 0; i < 2; i++) {
        size_t n = as[i]->size > as[i]->durable_size ? as[i]->size : as[i]->durable_size;
        memcpy(as[i]->live, as[i]->durable, n);
        as[i]->size = as[i]->durable_size;
    }
    s->dead = 0;
    s->cut_at = 0;
    sim_run(s);
}

void sim_run(sim *s) { s->run_kind_count = 0; }

const char *sim_event_name(int kind)
{
    static const char *const names[SIM_EVENT_KINDS] = {
        "flash read", "flash write", "flash sync", "flash resize", "journal read", "journal write",
        "journal remove", "scratch read", "scratch write", "scratch sync"};
    return kind >= 0 && kind < SIM_EVENT_KINDS ? names[kind] : "none";
}

/* Counts an event; returns 1 when the power is cut at it, and sets *fail
 * when it is to fail. */
static int event(sim *s, int kind, int *fail)
{
    s->events++;
    s->last_kind = kind;
    uint64_t count = s->fail_count ? s->fail_count : 1;
    *fail = s->fail_at && s->events >= s->fail_at && s->events < s->fail_at + count;
    if (kind == s->broken_kind && ++s->run_kind_count > s->broken_after &&
        (!s->broken_limit || s->run_kind_count <= s->broken_after + s->broken_limit))
        *fail = 1;
    if (s->cut_at && s->events == s->cut_at) {
        s->dead = 1;
        s->cut_kind = kind;
        return 1;
    }
    return 0;
}

static int area_write(sim *s, sim_area *a, int kind, uint64_t off, const void *buf, size_t len)
{
    if (s->dead) return DELTA_IO_ERROR;
    if (off > a->cap || len > a->cap - off) return DELTA_IO_NOSPACE;
    int fail;
    if (event(s, kind, &fail)) {
        /* Torn: a prefix of this write reaches the medium; all else unsynced is lost. */
        size_t keep = len / 2;
        memcpy(a->durable + off, buf, keep);
        if (off + keep > a->durable_size) a->durable_size = off + keep;
        return DELTA_IO_ERROR;
    }
    if (fail) return DELTA_IO_ERROR;
    memcpy(a->live + off, buf, len);
    if (off + len > a->size) a->size = off + len;
    return DELTA_IO_OK;
}

static int area_read(sim *s, sim_area *a, int kind, uint64_t off, void *buf, size_t len)
{
    if (s->dead) return DELTA_IO_ERROR;
    int fail;
    if (event(s, kind, &fail) || fail) return DELTA_IO_ERROR;
    if (off > a->size || len > a->size - off) return DELTA_IO_SHORT;
    memcpy(buf, a->live + off, len);
    return DELTA_IO_OK;
}

static int area_sync(sim *s, sim_area *a, int kind)
{
    if (s->dead) return DELTA_IO_ERROR;
    int fail;
    if (event(s, kind, &fail) || fail) return DELTA_IO_ERROR;
    size_t n = a->size > a->durable_size ? a->size : a->durable_size;
    memcpy(a->durable, a->live, n);
    a->durable_size = a->size;
    return DELTA_IO_OK;
}

static int f_read(void *ctx, uint64_t off, void *buf, size_t len)
{
    sim *s = ctx;
    return area_read(s, &s->flash, SIM_FLASH_READ, off, buf, len);
}

static int f_write(void *ctx, uint64_t off, const void *buf, size_t len)
{
    sim *s = ctx;
    s->flash_writes++;
    if (s->flash_broken && !s->dead) return DELTA_IO_ERROR;
    return area_write(s, &s->flash, SIM_FLASH_WRITE, off, buf, len);
}

static int f_sync(void *ctx)
{
    sim *s = ctx;
    return area_sync(s, &s->flash, SIM_FLASH_SYNC);
}

static int f_resize(void *ctx, uint64_t size)
{
    sim *s = ctx;
    if (s->dead) return DELTA_IO_ERROR;
    int fail;
    if (event(s, SIM_FLASH_RESIZE, &fail) || fail) return DELTA_IO_ERROR;
    if (size > s->flash.cap) return DELTA_IO_NOSPACE;
    if (size > s->flash.size) memset(s->flash.live + s->flash.size, 0, size - s->flash.size);
    s->flash.size = size;
    return DELTA_IO_OK;
}

static int j_read(void *ctx, void *buf, size_t cap, size_t *len)
{
    sim *s = ctx;
    if (s->dead) return DELTA_IO_ERROR;
    int fail;
    if (event(s, SIM_JOURNAL_READ, &fail) || fail) return DELTA_IO_ERROR;
    if (s->journal_len > cap) return DELTA_IO_ERROR;
    memcpy(buf, s->journal, s->journal_len);
    *len = s->journal_len;
    return DELTA_IO_OK;
}

static int j_write(void *ctx, const void *buf, size_t len)
{
    sim *s = ctx;
    if (s->dead) return DELTA_IO_ERROR;
    s->journal_writes++;
    int fail;
    if (event(s, SIM_JOURNAL_WRITE, &fail)) return DELTA_IO_ERROR; /* atomic: the old journal stays */
    if (fail) return DELTA_IO_ERROR;
    if (len > sizeof s->journal) return DELTA_IO_NOSPACE;
    memcpy(s->journal, buf, len);
    s->journal_len = len;
    return DELTA_IO_OK;
}

static int j_remove(void *ctx)
{
    sim *s = ctx;
    if (s->dead) return DELTA_IO_ERROR;
    int fail;
    if (event(s, SIM_JOURNAL_REMOVE, &fail) || fail) return DELTA_IO_ERROR;
    s->journal_len = 0;
    return DELTA_IO_OK;
}

static int s_read(void *ctx, uint64_t off, void *buf, size_t len)
{
    sim *s = ctx;
    return area_read(s, &s->scratch, SIM_SCRATCH_READ, off, buf, len);
}

static int s_write(void *ctx, uint64_t off, const void *buf, size_t len)
{
    sim *s = ctx;
    s->scratch_writes++;
    if (s->scratch_broken && !s->dead) return DELTA_IO_ERROR;
    return area_write(s, &s->scratch, SIM_SCRATCH_WRITE, off, buf, len);
}

static int s_sync(void *ctx)
{
    sim *s = ctx;
    return area_sync(s, &s->scratch, SIM_SCRATCH_SYNC);
}

void sim_flash(sim *s, delta_flash *f)
{
    *f = (delta_flash)DELTA_FLASH_INIT;
    f->ctx = s;
    f->size = s->flash.size;
    f->capacity = s->flash.cap;
    f->read = f_read;
    f->write = f_write;
    f->sync = f_sync;
    f->resize = f_resize;
}

void sim_store(sim *s, delta_store *st)
{
    *st = (delta_store)DELTA_STORE_INIT;
    st->ctx = s;
    st->free_bytes = s->scratch.cap;
    st->journal_read = j_read;
    st->journal_write = j_write;
    st->journal_remove = j_remove;
    st->scratch_read = s_read;
    st->scratch_write = s_write;
    st->scratch_sync = s_sync;
}

delta_status sim_update(const uint8_t *pkg, size_t len, const delta_check_options *o, sim *sims, size_t n,
                        delta_update_result *res)
{
    delta_source file;
    delta_source_from_memory(&file, pkg, len);
    /* The region names: the package's, in order (a package that does not open gets unnamed regions). */
    delta_package *p = NULL;
    const delta_manifest *m = NULL;
    if (pkg && n > 1 && delta_package_open(&file, NULL, &p) == DELTA_OK) m = delta_package_manifest(p);
    delta_flash fl[16];
    delta_update_region regions[16];
    for (size_t i = 0; i < n && i < 16; i++) {
        sim_flash(&sims[i], &fl[i]);
        regions[i].name = m && i < m->image_count ? m->images[i].name : NULL;
        regions[i].flash = &fl[i];
    }
    delta_store store;
    sim_store(&sims[0], &store);
    for (size_t i = 0; i < n; i++) sim_run(&sims[i]);
    delta_update_params up = DELTA_UPDATE_PARAMS_INIT;
    up.package = pkg ? &file : NULL;
    if (o) up.check = *o;
    up.regions = regions;
    up.region_count = n;
    up.store = &store;
    delta_clear_error();
    delta_status st = delta_update_run(&up, res);
    delta_package_free(p);
    return st;
}
