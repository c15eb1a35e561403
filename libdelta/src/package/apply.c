/* Applying a whole package: out of place per image, or in place across all
 * images with one journal, retries and the abandon rule (formats/journal.md). */
#include <stdio.h>
#include <stdlib.h>

#include "package_internal.h"

delta_status delta_package_apply_out_of_place(const delta_package *pkg, size_t i, const delta_source *src,
                                              const delta_sink *out)
{
    delta_status st = delta_package_check_source(pkg, i, src);
    if (st) return st;
    delta_source ps;
    delta_package_patch(pkg, i, &ps);
    return delta_apply_out_of_place(&ps, src, out, NULL, 0);
}

typedef struct run {
    const delta_package *pkg;
    delta_flash *const *flashes;
    delta_store *store;
    const delta_package_progress *progress;
    delta_journal j;
    uint64_t done_before, total; /* blocks of earlier images, of all images */
} run;

static delta_status save(run *r)
{
    uint8_t buf[DELTA_JOURNAL_FIXED + 8 * DELTA_PATCH_MAX_STASH + 12 * DELTA_PATCH_MAX_BATCH + 4];
    size_t len;
    delta_status st = delta_journal_encode(&r->j, buf, sizeof buf, &len);
    if (st) return st;
    if (r->store->journal_write(r->store->ctx, buf, len) != DELTA_IO_OK)
        return delta_fail(DELTA_ERR_STATE_WRITE, "writing the journal failed");
    return DELTA_OK;
}

static int flash_read(void *ctx, uint64_t off, void *buf, size_t len)
{
    delta_flash *f = ctx;
    return f->read(f->ctx, off, buf, len);
}

/* Before the first write: every image is the source, and fits its region. */
static delta_status check_fresh(run *r)
{
    const delta_manifest *m = r->pkg->manifest;
    for (size_t i = 0; i < m->image_count; i++) {
        const delta_manifest_image *im = &m->images[i];
        delta_flash *f = r->flashes[i];
        if (im->target_size > f->capacity)
            return delta_fail(DELTA_ERR_SLOT, "image %s: target of %llu bytes does not fit the %llu-byte region",
                              im->name, (unsigned long long)im->target_size, (unsigned long long)f->capacity);
        delta_status st = check_bytes(flash_read, f, f->size, im->source_size, im->source_sha256, DELTA_ERR_SOURCE,
                                      im->name, "the image (the source)");
        if (st) return st;
    }
    return DELTA_OK;
}

/* The core counts commands of one image; the package counts blocks of all. */
static int on_progress(void *ctx, uint64_t done, uint64_t total)
{
    run *r = ctx;
    if (!r->progress || !r->progress->fn) return 0;
    uint64_t blocks = r->pkg->report[r->j.image_index].blocks_written;
    uint64_t part = total ? blocks * done / total : blocks;
    return r->progress->fn(r->progress->ctx, r->done_before + part, r->total);
}

/* A failure while writing ends this try; the fifth in a row abandons. */
static delta_status count_failure(run *r, delta_status failure)
{
    char why[512];
    snprintf(why, sizeof why, "%s", delta_last_error());
    r->j.tries++;
    if (save(r) != DELTA_OK) return delta_fail(failure, "%s (and the try could not be recorded)", why);
    if (r->j.tries < DELTA_MAX_TRIES)
        return delta_fail(failure, "%s (try %u of %u; run again to resume)", why, r->j.tries, DELTA_MAX_TRIES);
    if (!(r->j.flags & DELTA_JOURNAL_WRITTEN)) {
        r->store->journal_remove(r->store->ctx);
        return delta_fail(DELTA_ERR_ABANDONED, "%s: abandoned after %u failed tries; no byte was written, the images "
                          "are the source version", why, DELTA_MAX_TRIES);
    }
    return delta_fail(DELTA_ERR_UNRECOVERABLE, "%s: abandoned after %u failed tries; the image is partly written and "
                      "cannot be restored", why, DELTA_MAX_TRIES);
}

static int is_write_failure(delta_status st)
{
    int code = delta_dfota_code(st);
    return code == 502 || (code >= 520 && code <= 530) || (code >= 540 && code <= 546);
}

delta_status delta_package_apply_in_place(const delta_package *pkg, delta_flash *const *flashes, delta_store *store,
                                          const delta_package_progress *progress, int *resumed)
{
    run r;
    memset(&r, 0, sizeof r);
    r.pkg = pkg;
    r.flashes = flashes;
    r.store = store;
    r.progress = progress;
    const delta_manifest *m = pkg->manifest;
    if (resumed) *resumed = 0;

    uint8_t buf[DELTA_JOURNAL_FIXED + 8 * DELTA_PATCH_MAX_STASH + 12 * DELTA_PATCH_MAX_BATCH + 4];
    size_t len = 0;
    if (store->journal_read(store->ctx, buf, sizeof buf, &len) != DELTA_IO_OK)
        return delta_fail(DELTA_ERR_STATE_CORRUPT, "the update state cannot be read");
    delta_status st;
    if (len > 0) {
        st = delta_journal_decode(buf, len, &r.j);
        if (st) return st;
        if (memcmp(r.j.package_id, pkg->id, DELTA_SHA256_LEN) != 0)
            return delta_fail(DELTA_ERR_OTHER_UPDATE, "an update with another package is in progress; finish it first");
        if (r.j.image_index > m->image_count)
            return delta_fail(DELTA_ERR_STATE_CORRUPT, "journal: image %u of %zu", r.j.image_index, m->image_count);
        if (resumed) *resumed = 1;
        if (r.j.tries >= DELTA_MAX_TRIES) /* abandoned before, and partly written */
            return delta_fail(DELTA_ERR_UNRECOVERABLE, "the update was abandoned after %u failed tries; the image is "
                              "partly written and cannot be restored", r.j.tries);
    } else {
        if (store->free_bytes != UINT64_MAX && store->free_bytes < m->space_needed)
            return delta_fail(DELTA_ERR_SPACE, "the update needs %llu bytes of state and scratch, %llu are free",
                              (unsigned long long)m->space_needed, (unsigned long long)store->free_bytes);
        st = check_fresh(&r);
        if (st) return st;
        memcpy(r.j.package_id, pkg->id, DELTA_SHA256_LEN);
        st = save(&r); /* the upgrade flag: set before the first write */
        if (st) return st;
    }

    for (size_t i = 0; i < m->image_count; i++) r.total += pkg->report[i].blocks_written;
    for (size_t i = 0; i < r.j.image_index && i < m->image_count; i++) r.done_before += pkg->report[i].blocks_written;
    while (r.j.image_index < m->image_count) {
        size_t i = r.j.image_index;
        if (!(r.j.flags & DELTA_JOURNAL_IMAGE_DONE)) {
            delta_source ps;
            delta_package_patch(pkg, i, &ps);
            delta_apply_params ap = {&ps, flashes[i], store, &r.j, m->images[i].target_sha256, NULL, 0, on_progress, &r};
            st = delta_apply_in_place(&ap);
            if (st) return is_write_failure(st) ? count_failure(&r, st) : st;
        }
        r.done_before += pkg->report[i].blocks_written;
        r.j.image_index++;
        r.j.next_op = 0;
        r.j.flags &= DELTA_JOURNAL_WRITTEN;
        r.j.tries = 0;
        r.j.pending_count = 0;
        memset(r.j.stash, 0, sizeof r.j.stash);
        if (r.j.image_index < m->image_count) {
            st = save(&r);
            if (st) return count_failure(&r, st);
        }
    }
    if (store->journal_remove(store->ctx) != DELTA_IO_OK)
        return delta_fail(DELTA_ERR_STATE_WRITE, "the update is complete but its state could not be removed");
    return DELTA_OK;
}
