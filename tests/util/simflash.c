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
    area_init(&s->flash, image, len, cap);
    area_init(&s->scratch, NULL, 0, 8u << 20);
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
}

/* Counts an event; returns 1 when this event is the power cut. */
static int event(sim *s, int *fail)
{
    s->events++;
    *fail = s->fail_at && s->events >= s->fail_at && s->events < s->fail_at + s->fail_count;
    if (s->cut_at && s->events == s->cut_at) {
        s->dead = 1;
        return 1;
    }
    return 0;
}

static int area_write(sim *s, sim_area *a, uint64_t off, const void *buf, size_t len)
{
    if (s->dead) return DELTA_IO_ERROR;
    if (off > a->cap || len > a->cap - off) return DELTA_IO_NOSPACE;
    int fail;
    if (event(s, &fail)) {
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

static int area_read(sim *s, sim_area *a, uint64_t off, void *buf, size_t len)
{
    if (s->dead) return DELTA_IO_ERROR;
    if (off > a->size || len > a->size - off) return DELTA_IO_SHORT;
    memcpy(buf, a->live + off, len);
    return DELTA_IO_OK;
}

static int area_sync(sim *s, sim_area *a)
{
    if (s->dead) return DELTA_IO_ERROR;
    size_t n = a->size > a->durable_size ? a->size : a->durable_size;
    memcpy(a->durable, a->live, n);
    a->durable_size = a->size;
    return DELTA_IO_OK;
}

static int f_read(void *ctx, uint64_t off, void *buf, size_t len) { sim *s = ctx; return area_read(s, &s->flash, off, buf, len); }
static int f_write(void *ctx, uint64_t off, const void *buf, size_t len)
{
    sim *s = ctx;
    s->flash_writes++;
    if (s->flash_broken && !s->dead) return DELTA_IO_ERROR;
    return area_write(s, &s->flash, off, buf, len);
}
static int f_sync(void *ctx) { sim *s = ctx; return area_sync(s, &s->flash); }
static int f_resize(void *ctx, uint64_t size)
{
    sim *s = ctx;
    if (s->dead) return DELTA_IO_ERROR;
    if (size > s->flash.cap) return DELTA_IO_NOSPACE;
    if (size > s->flash.size) memset(s->flash.live + s->flash.size, 0, size - s->flash.size);
    s->flash.size = size;
    return DELTA_IO_OK;
}

static int j_read(void *ctx, void *buf, size_t cap, size_t *len)
{
    sim *s = ctx;
    if (s->dead) return DELTA_IO_ERROR;
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
    if (event(s, &fail)) return DELTA_IO_ERROR; /* atomic: the old journal stays */
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
    s->journal_len = 0;
    return DELTA_IO_OK;
}

static int s_read(void *ctx, uint64_t off, void *buf, size_t len) { sim *s = ctx; return area_read(s, &s->scratch, off, buf, len); }
static int s_write(void *ctx, uint64_t off, const void *buf, size_t len)
{
    sim *s = ctx;
    s->scratch_writes++;
    if (s->scratch_broken && !s->dead) return DELTA_IO_ERROR;
    return area_write(s, &s->scratch, off, buf, len);
}
static int s_sync(void *ctx) { sim *s = ctx; return area_sync(s, &s->scratch); }

void sim_flash(sim *s, delta_flash *f)
{
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
    st->ctx = s;
    st->free_bytes = s->scratch.cap;
    st->journal_read = j_read;
    st->journal_write = j_write;
    st->journal_remove = j_remove;
    st->scratch_read = s_read;
    st->scratch_write = s_write;
    st->scratch_sync = s_sync;
}
