/* The update session on files and a state directory (libdelta/fileio.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/internal.h"
#include "libdelta/fileio.h"

/* DELTA_ERR_ARG when two images name one file. */
static delta_status distinct(const delta_file_update_params *p)
{
    struct stat st[DELTA_MANIFEST_MAX_IMAGES];
    for (size_t i = 0; i < p->image_count; i++) {
        if (stat(p->images[i].path, &st[i]) < 0)
            return dlt_fail(DELTA_ERR_INPUT, "%s: cannot stat: %s", p->images[i].path, strerror(errno));
        for (size_t k = 0; k < i; k++)
            if (st[k].st_dev == st[i].st_dev && st[k].st_ino == st[i].st_ino)
                return dlt_fail(DELTA_ERR_ARG, "%s and %s are the same file: each image needs its own",
                                  p->images[k].path, p->images[i].path);
    }
    return DELTA_OK;
}

/* A dry run: the same session, without the durability it does not need. */
typedef struct rehearsal {
    delta_store *files;
    uint8_t journal[DELTA_JOURNAL_MAX_SIZE];
    size_t journal_len;
} rehearsal;

static int no_sync(void *ctx)
{
    (void)ctx;
    return DELTA_IO_OK;
}

static int r_journal_read(void *ctx, void *buf, size_t cap, size_t *len)
{
    rehearsal *r = ctx;
    if (r->journal_len > cap) return DELTA_IO_ERROR;
    memcpy(buf, r->journal, r->journal_len);
    *len = r->journal_len;
    return DELTA_IO_OK;
}

static int r_journal_write(void *ctx, const void *buf, size_t len)
{
    rehearsal *r = ctx;
    if (len > sizeof r->journal) return DELTA_IO_NOSPACE;
    memcpy(r->journal, buf, len);
    r->journal_len = len;
    return DELTA_IO_OK;
}

static int r_journal_remove(void *ctx)
{
    rehearsal *r = ctx;
    r->journal_len = 0;
    return r->files->journal_remove(r->files->ctx);
}

static int r_scratch_read(void *ctx, uint64_t off, void *buf, size_t len)
{
    rehearsal *r = ctx;
    return r->files->scratch_read(r->files->ctx, off, buf, len);
}

static int r_scratch_write(void *ctx, uint64_t off, const void *buf, size_t len)
{
    rehearsal *r = ctx;
    return r->files->scratch_write(r->files->ctx, off, buf, len);
}

DLT_DEFINE_INIT(delta_file_update_params, DELTA_FILE_UPDATE_PARAMS_INIT, DELTA_FILE_UPDATE_PARAMS_VERSION)

delta_status delta_file_update(const delta_file_update_params *p, delta_update_result *result)
{
    if (result) memset(result, 0, sizeof *result);
    if (!p) return dlt_fail(DELTA_ERR_ARG, "update: no parameters");
    delta_status st0 = dlt_check_version("delta_file_update_params", p->version, DELTA_FILE_UPDATE_PARAMS_VERSION);
    if (!st0) st0 = dlt_check_version("delta_check_options", p->check.version, DELTA_CHECK_OPTIONS_VERSION);
    if (st0) return st0;
    if (!p->images || p->image_count == 0 || p->image_count > DELTA_MANIFEST_MAX_IMAGES)
        return dlt_fail(DELTA_ERR_ARG, "update: give 1..%d images", DELTA_MANIFEST_MAX_IMAGES);
    if (p->state_dir && !*p->state_dir) return dlt_fail(DELTA_ERR_ARG, "update: the state directory has no name");
    delta_status st = distinct(p);
    if (st) return st;

    char *state_dir = NULL;
    if (p->state_dir) {
        state_dir = strdup(p->state_dir);
    } else {
        size_t n = strlen(p->images[0].path) + 6;
        state_dir = malloc(n);
        if (state_dir) snprintf(state_dir, n, "%s.fota", p->images[0].path);
    }
    if (!state_dir) return dlt_fail(DELTA_ERR_NOMEM, "out of memory");
    /* A rehearsal keeps its journal in memory but clears the directory it is
     * given: never one that holds a real update in progress. */
    if (p->dry_run && delta_dir_store_has_journal(state_dir)) {
        st = dlt_fail(DELTA_ERR_ARG, "%s holds an update in progress: a dry run needs a state directory of its own",
                      state_dir);
        free(state_dir);
        return st;
    }

    delta_file *pf = NULL, *ff[DELTA_MANIFEST_MAX_IMAGES] = {0};
    delta_flash flash[DELTA_MANIFEST_MAX_IMAGES];
    delta_update_region regions[DELTA_MANIFEST_MAX_IMAGES];
    delta_source pkg;
    delta_store store;
    delta_dir_store *ds = NULL;
    /* A package that cannot be opened does not stop an update in progress:
     * the state holds its own copy. */
    int use_package = p->package != NULL;
    if (use_package) {
        st = delta_file_source_open(p->package, &pkg, &pf);
        if (st && delta_dir_store_has_journal(state_dir)) {
            use_package = 0;
            st = DELTA_OK;
        }
    }
    for (size_t i = 0; i < p->image_count && !st; i++) {
        st = delta_file_flash_open(p->images[i].path, p->images[i].capacity, &flash[i], &ff[i]);
        if (!st && p->flash_hook) p->flash_hook(p->flash_hook_ctx, i, &flash[i]);
        regions[i].name = p->images[i].name;
        regions[i].flash = &flash[i];
    }
    if (!st) st = delta_dir_store_open(state_dir, &store, &ds);
    rehearsal *rh = NULL;
    if (!st && p->dry_run) {
        rh = calloc(1, sizeof *rh);
        if (!rh) st = dlt_fail(DELTA_ERR_NOMEM, "out of memory");
    }
    delta_store files = store;
    if (rh) {
        rh->files = &files;
        store = (delta_store){DELTA_STORE_VERSION, rh, files.free_bytes, r_journal_read, r_journal_write, r_journal_remove, r_scratch_read,
                              r_scratch_write, no_sync};
        for (size_t i = 0; i < p->image_count; i++) flash[i].sync = no_sync;
    }
    if (!st) {
        if (p->free_space != UINT64_MAX) store.free_bytes = p->free_space;
        delta_update_params up = DELTA_UPDATE_PARAMS_INIT;
        up.package = use_package ? &pkg : NULL;
        up.check = p->check;
        up.regions = regions;
        up.region_count = p->image_count;
        up.all_regions = p->all_regions;
        up.check_only = p->check_only;
        up.store = &store;
        up.progress = p->progress;
        up.progress_ctx = p->progress_ctx;
        st = delta_update_run(&up, result);
    }
    free(rh);
    delta_dir_store_close(ds);
    for (size_t i = 0; i < p->image_count; i++) delta_file_close(ff[i]);
    delta_file_close(pf);
    free(state_dir);
    return st;
}
