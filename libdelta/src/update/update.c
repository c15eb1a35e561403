/*
 * The update session (libdelta/update.h, formats/update.md): every rule of
 * an in-place update in one place. The core (patch/) writes batches and
 * restores blocks; this file decides what runs, counts the tries, keeps the
 * state area's copy of the package, and rolls back.
 */
#include <stdio.h>
#include <stdlib.h>

#include "libdelta/update.h"
#include "package/package_internal.h"

#define ALIGN 4096
#define COPY_CHUNK 65536

static uint64_t round_up(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

void delta_update_layout_of(const delta_manifest *m, delta_update_layout *l)
{
    memset(l, 0, sizeof *l);
    uint64_t work = 0;
    for (size_t i = 0; i < m->image_count; i++) {
        const delta_manifest_image *im = &m->images[i];
        if (im->scratch_bytes > work) work = im->scratch_bytes;
        if (im->state_bytes > l->state_bytes) l->state_bytes = im->state_bytes;
    }
    l->manifest_offset = 0;
    l->work_offset = DELTA_MANIFEST_MAX_BYTES;
    uint64_t off = round_up(l->work_offset + work, ALIGN);
    for (size_t i = 0; i < m->image_count; i++) {
        l->patch_offset[i] = off;
        off += round_up(m->images[i].patch_size, ALIGN);
    }
    l->patch_bytes = off - l->patch_offset[0];
    uint64_t backups = off;
    for (size_t i = 0; i < m->image_count; i++) {
        const delta_manifest_image *im = &m->images[i];
        l->backup_offset[i] = off;
        off += delta_backup_bytes(im->source_size, im->target_size, im->block_size, im->blocks_written);
    }
    l->backup_bytes = off - backups;
    l->scratch_bytes = off;
    l->space_needed = off + l->state_bytes;
}

/* ---- the session ---------------------------------------------------------- */

typedef struct session session;

/* A patch copy in the state area, as a source. */
typedef struct region_source {
    session *s;
    uint64_t offset;
} region_source;

struct session {
    const delta_update_params *p;
    delta_update_result *res;
    delta_store *inner;
    delta_store store; /* inner, but remembering the last journal committed */
    uint8_t committed[DELTA_JOURNAL_MAX_SIZE];
    size_t committed_len;
    delta_journal j;
    delta_package *pkg;           /* the package file, when it was opened and checked */
    delta_manifest *own_manifest; /* parsed from the state's copy */
    const delta_manifest *m;
    delta_update_layout layout;
    delta_flash *flash[DELTA_MANIFEST_MAX_IMAGES];
    region_source region[DELTA_MANIFEST_MAX_IMAGES];
    delta_source patch[DELTA_MANIFEST_MAX_IMAGES];
    int verified[DELTA_MANIFEST_MAX_IMAGES]; /* target SHA-256 checked in this run */
    uint64_t done_before, total;             /* blocks of earlier images, of all */
};

/* ---- the store, as the session sees it ---- */

static int s_journal_read(void *ctx, void *buf, size_t cap, size_t *len)
{
    session *s = ctx;
    return s->inner->journal_read(s->inner->ctx, buf, cap, len);
}

static int s_journal_write(void *ctx, const void *buf, size_t len)
{
    session *s = ctx;
    int r = s->inner->journal_write(s->inner->ctx, buf, len);
    if (r == DELTA_IO_OK && len <= sizeof s->committed) {
        memcpy(s->committed, buf, len);
        s->committed_len = len;
    }
    return r;
}

static int s_journal_remove(void *ctx)
{
    session *s = ctx;
    return s->inner->journal_remove(s->inner->ctx);
}

static int s_scratch_read(void *ctx, uint64_t off, void *buf, size_t len)
{
    session *s = ctx;
    return s->inner->scratch_read(s->inner->ctx, off, buf, len);
}

static int s_scratch_write(void *ctx, uint64_t off, const void *buf, size_t len)
{
    session *s = ctx;
    return s->inner->scratch_write(s->inner->ctx, off, buf, len);
}

static int s_scratch_sync(void *ctx)
{
    session *s = ctx;
    return s->inner->scratch_sync(s->inner->ctx);
}

static int region_read(void *ctx, uint64_t off, void *buf, size_t len)
{
    region_source *r = ctx;
    return r->s->inner->scratch_read(r->s->inner->ctx, r->offset + off, buf, len);
}

static delta_status save(session *s)
{
    uint8_t buf[DELTA_JOURNAL_MAX_SIZE];
    size_t len;
    delta_status st = delta_journal_encode(&s->j, buf, sizeof buf, &len);
    if (st) return st;
    if (s->store.journal_write(s->store.ctx, buf, len) != DELTA_IO_OK)
        return dlt_fail(DELTA_ERR_STATE_WRITE, "writing the journal failed");
    return DELTA_OK;
}

static delta_status remove_state(session *s, const char *when)
{
    if (s->inner->journal_remove(s->inner->ctx) != DELTA_IO_OK)
        return dlt_fail(DELTA_ERR_STATE_WRITE, "%s, but the update state could not be removed; run again", when);
    s->res->after = DELTA_UPDATE_NONE;
    return DELTA_OK;
}

/* ---- images and regions ---- */

static int flash_read(void *ctx, uint64_t off, void *buf, size_t len)
{
    delta_flash *f = ctx;
    return f->read(f->ctx, off, buf, len);
}

/* The flash as a source of its current bytes. */
static void flash_source(delta_flash *f, delta_source *src)
{
    *src = (delta_source){DELTA_SOURCE_VERSION, f, f->size, flash_read};
}

/* Finds each image's region by name (a lone unnamed region serves a lone image). */
static delta_status map_regions(session *s)
{
    const delta_update_params *p = s->p;
    for (size_t i = 0; i < s->m->image_count; i++) {
        const char *name = s->m->images[i].name;
        s->flash[i] = NULL;
        for (size_t r = 0; r < p->region_count && !s->flash[i]; r++) {
            const char *rn = p->regions[r].name;
            if (rn ? strcmp(rn, name) == 0 : p->region_count == 1 && s->m->image_count == 1)
                s->flash[i] = p->regions[r].flash;
        }
        if (!s->flash[i])
            return dlt_fail(DELTA_ERR_PROJECT, "the package updates image %s, which this device does not have", name);
        for (size_t k = 0; k < i; k++)
            if (s->flash[k] == s->flash[i])
                return dlt_fail(DELTA_ERR_ARG, "images %s and %s are given the same region", s->m->images[k].name,
                                  name);
    }
    for (size_t r = 0; r < p->region_count && p->all_regions; r++) {
        size_t i = 0;
        while (i < s->m->image_count && s->flash[i] != p->regions[r].flash) i++;
        if (i == s->m->image_count)
            return dlt_fail(DELTA_ERR_ARG, "the package has no image %s (it has %zu)",
                              p->regions[r].name ? p->regions[r].name : "(unnamed)", s->m->image_count);
    }
    return DELTA_OK;
}

static void bind_patches(session *s)
{
    for (size_t i = 0; i < s->m->image_count; i++) {
        s->region[i].s = s;
        s->region[i].offset = s->layout.patch_offset[i];
        s->patch[i] = (delta_source){DELTA_SOURCE_VERSION, &s->region[i], s->m->images[i].patch_size, region_read};
    }
}

/* SHA-256 of a source's first size bytes. */
static delta_status hash_source(const delta_source *src, uint64_t size, uint8_t *buf, uint8_t out[DELTA_SHA256_LEN],
                                delta_status on_error)
{
    return dlt_hash_reader(src->read, src->ctx, size, buf, COPY_CHUNK, out, on_error);
}

/* ---- tries, rollback ---- */

static delta_status rollback(session *s);

/* 1 when every image holds its source (a journal's "nothing written" is checked, not trusted). */
static int images_are_source(session *s)
{
    for (size_t i = 0; i < s->m->image_count; i++) {
        const delta_manifest_image *im = &s->m->images[i];
        if (dlt_check_bytes(flash_read, s->flash[i], s->flash[i]->size, im->source_size, im->source_sha256,
                        DELTA_ERR_SOURCE, im->name, "the image") != DELTA_OK)
            return 0;
    }
    return 1;
}

/* A failed try: the last committed journal, one more try. The fifth rolls back. */
static delta_status count_failure(session *s, delta_status failure)
{
    char why[512];
    snprintf(why, sizeof why, "%s", delta_last_error()[0] ? delta_last_error() : delta_strerror(failure));
    if (!s->committed_len || delta_journal_decode(s->committed, s->committed_len, &s->j) != DELTA_OK)
        return dlt_fail(failure, "%s", why);
    s->j.tries++;
    s->res->tries = s->j.tries;
    if (s->j.tries < DELTA_MAX_TRIES) {
        if (save(s) != DELTA_OK) return dlt_fail(failure, "%s (and the try could not be recorded)", why);
        return dlt_fail(failure, "%s (try %u of %u; run again to resume)", why, s->j.tries, DELTA_MAX_TRIES);
    }
    if (!(s->j.flags & DELTA_JOURNAL_WRITTEN) && images_are_source(s)) {
        delta_status st = remove_state(s, "abandoned after five failed tries");
        if (st) return st;
        return dlt_fail(DELTA_ERR_ABANDONED, "%s: abandoned after %u failed tries; no image byte was written, the "
                          "images are the source version", why, DELTA_MAX_TRIES);
    }
    s->j.state = DELTA_JOURNAL_ROLLBACK;
    s->j.flags &= ~(uint32_t)(DELTA_JOURNAL_PENDING | DELTA_JOURNAL_PENDING_B);
    s->j.pending_count = 0;
    if (save(s) != DELTA_OK)
        return dlt_fail(DELTA_ERR_UNRECOVERABLE, "%s: five tries failed and the rollback could not be recorded; run "
                          "again", why);
    s->res->after = DELTA_UPDATE_ROLLBACK;
    delta_status st = rollback(s);
    if (st == DELTA_ERR_ABANDONED)
        return dlt_fail(st, "%s: abandoned after %u failed tries; the source version was written back and checked",
                          why, DELTA_MAX_TRIES);
    return st;
}

/* Puts back every block written, image by image from the last one touched;
 * each image's restore is idempotent, so a cut anywhere redoes at most one. */
static delta_status rollback(session *s)
{
    const delta_manifest *m = s->m;
    s->res->after = DELTA_UPDATE_ROLLBACK;
    if (s->j.image_index >= m->image_count) {
        s->j.image_index = (uint32_t)m->image_count - 1;
        s->j.flags |= DELTA_JOURNAL_IMAGE_DONE | DELTA_JOURNAL_TAIL_SAVED;
    }
    for (;;) {
        uint32_t i = s->j.image_index;
        const delta_manifest_image *im = &m->images[i];
        uint64_t limit = s->j.flags & DELTA_JOURNAL_IMAGE_DONE ? im->operations : s->j.next_op;
        delta_restore_params rp = {DELTA_RESTORE_PARAMS_VERSION, &s->patch[i], s->flash[i], &s->store, limit,
                                   (s->j.flags & DELTA_JOURNAL_TAIL_SAVED) != 0, s->layout.backup_offset[i],
                                   im->source_sha256, NULL, 0};
        delta_status st = delta_restore_in_place(&rp);
        if (st)
            return dlt_fail(DELTA_ERR_UNRECOVERABLE, "writing the source back to image %s failed: %s; run again to "
                              "retry", im->name, delta_last_error());
        if (i == 0) break;
        s->j.image_index = i - 1;
        s->j.next_op = m->images[i - 1].operations;
        s->j.next_block = m->images[i - 1].blocks_written;
        s->j.flags = DELTA_JOURNAL_WRITTEN | DELTA_JOURNAL_IMAGE_DONE | DELTA_JOURNAL_TAIL_SAVED;
        if (save(s) != DELTA_OK)
            return dlt_fail(DELTA_ERR_UNRECOVERABLE, "recording the rollback failed; run again to retry");
    }
    if (s->inner->journal_remove(s->inner->ctx) != DELTA_IO_OK)
        return dlt_fail(DELTA_ERR_UNRECOVERABLE, "the source was written back but the update state could not be "
                          "removed; run again");
    s->res->after = DELTA_UPDATE_NONE;
    return dlt_fail(DELTA_ERR_ABANDONED, "abandoned after %u failed tries; the source version was written back",
                      DELTA_MAX_TRIES);
}

/* ---- applying ---- */

static int on_progress(void *ctx, uint64_t done, uint64_t total)
{
    session *s = ctx;
    if (!s->p->progress) return 0;
    uint64_t blocks = s->m->images[s->j.image_index].blocks_written;
    uint64_t part = total ? blocks * done / total : blocks;
    return s->p->progress(s->p->progress_ctx, s->done_before + part, s->total);
}

static delta_status check_targets(session *s)
{
    uint8_t *buf = malloc(COPY_CHUNK);
    if (!buf) return dlt_fail(DELTA_ERR_NOMEM, "out of memory");
    delta_status st = DELTA_OK;
    for (size_t i = 0; i < s->m->image_count && !st; i++) {
        if (s->verified[i]) continue;
        const delta_manifest_image *im = &s->m->images[i];
        delta_source src;
        flash_source(s->flash[i], &src);
        uint8_t sha[DELTA_SHA256_LEN];
        st = hash_source(&src, im->target_size, buf, sha, DELTA_ERR_IMAGE_READ);
        if (!st && memcmp(sha, im->target_sha256, DELTA_SHA256_LEN) != 0)
            st = dlt_fail(DELTA_ERR_TARGET, "image %s does not hold the target the journal says it does", im->name);
    }
    free(buf);
    return st;
}

static delta_status apply(session *s)
{
    const delta_manifest *m = s->m;
    s->res->after = DELTA_UPDATE_APPLYING;
    s->total = s->done_before = 0;
    for (size_t i = 0; i < m->image_count; i++) s->total += m->images[i].blocks_written;
    for (size_t i = 0; i < s->j.image_index && i < m->image_count; i++) s->done_before += m->images[i].blocks_written;
    while (s->j.image_index < m->image_count) {
        uint32_t i = s->j.image_index;
        if (!(s->j.flags & DELTA_JOURNAL_IMAGE_DONE)) {
            delta_apply_params ap = {DELTA_APPLY_PARAMS_VERSION, &s->patch[i], s->flash[i], &s->store, &s->j, m->images[i].target_sha256,
                                     NULL, 0, on_progress, s, s->layout.work_offset, s->layout.backup_offset[i]};
            delta_status st = delta_apply_in_place(&ap);
            if (st) return delta_status_is_write_failure(st) ? count_failure(s, st) : st;
            s->verified[i] = 1;
        }
        s->done_before += m->images[i].blocks_written;
        s->j.image_index++;
        s->j.next_op = s->j.next_block = 0;
        s->j.flags &= DELTA_JOURNAL_WRITTEN;
        s->j.pending_count = 0;
        memset(s->j.stash, 0, sizeof s->j.stash);
        if (s->j.image_index < m->image_count) {
            delta_status st = save(s);
            if (st) return count_failure(s, st);
        }
    }
    /* A journal is trusted only for what it can prove: images it says are done. */
    delta_status st = check_targets(s);
    if (st) return count_failure(s, st);
    return remove_state(s, "the update is complete");
}

/* ---- starting ---- */

/* The state area's copy of the package: the manifest as signed, then each
 * patch, hash-checked as it is copied and proved again where it now lies. */
static delta_status copy_package(session *s)
{
    delta_package *pkg = s->pkg;
    const delta_buf *mb = &pkg->manifest_bytes;
    if (s->store.scratch_write(s->store.ctx, s->layout.manifest_offset, mb->data, mb->len) != DELTA_IO_OK)
        return dlt_fail(DELTA_ERR_STATE_WRITE, "writing the package copy to the update state failed");
    uint8_t *buf = malloc(COPY_CHUNK);
    if (!buf) return dlt_fail(DELTA_ERR_NOMEM, "out of memory");
    delta_status st = DELTA_OK;
    for (size_t i = 0; i < s->m->image_count && !st; i++) {
        const delta_manifest_image *im = &s->m->images[i];
        delta_source from;
        delta_package_patch(pkg, i, &from);
        dlt_sha256_ctx h;
        int bad = dlt_sha256_begin(&h);
        for (uint64_t off = 0; off < im->patch_size && !st; off += COPY_CHUNK) {
            size_t n = im->patch_size - off < COPY_CHUNK ? (size_t)(im->patch_size - off) : COPY_CHUNK;
            if (from.read(from.ctx, off, buf, n) != DELTA_IO_OK)
                st = dlt_fail(DELTA_ERR_INPUT, "%s: reading the patch to copy it failed", im->patch_member);
            else if (s->store.scratch_write(s->store.ctx, s->layout.patch_offset[i] + off, buf, n) != DELTA_IO_OK)
                st = dlt_fail(DELTA_ERR_STATE_WRITE, "writing the package copy to the update state failed");
            else
                bad |= dlt_sha256_step(&h, buf, n);
        }
        uint8_t sha[DELTA_SHA256_LEN];
        bad |= dlt_sha256_end(&h, sha);
        if (!st && bad) st = dlt_fail(DELTA_ERR_INTERNAL, "SHA-256 failed");
        if (!st && memcmp(sha, im->patch_sha256, DELTA_SHA256_LEN) != 0)
            st = dlt_fail(DELTA_ERR_MEMBER_DATA, "%s: the package file changed while it was being checked",
                            im->patch_member);
    }
    free(buf);
    if (!st && s->store.scratch_sync(s->store.ctx) != DELTA_IO_OK)
        st = dlt_fail(DELTA_ERR_STATE_WRITE, "syncing the package copy failed");
    for (size_t i = 0; i < s->m->image_count && !st; i++) {
        st = dlt_package_check_patch(pkg, i, &s->patch[i], 1);
        if (st == DELTA_ERR_INPUT)
            st = dlt_fail(DELTA_ERR_STATE_WRITE, "reading back the package copy failed: %s", delta_last_error());
    }
    return st;
}

/* 510 unless every image is the source; success (already) when every one is the target. */
static delta_status check_images(session *s)
{
    delta_status first = DELTA_OK;
    for (size_t i = 0; i < s->m->image_count && !first; i++) {
        delta_source src;
        flash_source(s->flash[i], &src);
        first = delta_package_check_source(s->pkg, i, &src);
        if (first == DELTA_ERR_INPUT)
            first = dlt_fail(DELTA_ERR_IMAGE_READ, "image %s: %s", s->m->images[i].name, delta_last_error());
    }
    if (first != DELTA_ERR_SOURCE) return first;
    char why[512];
    snprintf(why, sizeof why, "%s", delta_last_error());
    for (size_t i = 0; i < s->m->image_count; i++) {
        delta_source src;
        flash_source(s->flash[i], &src);
        if (delta_package_check_target(s->pkg, i, &src) != DELTA_OK) return dlt_fail(first, "%s", why);
    }
    delta_clear_error();
    s->res->already = 1;
    return DELTA_OK;
}

static delta_status fresh(session *s)
{
    const delta_update_params *p = s->p;
    if (!p->package) return dlt_fail(DELTA_ERR_ARG, "no update is in progress and no package was given");
    delta_check_options opt = p->check;
    opt.free_space = s->inner->free_bytes;
    opt.require_inplace = 1;
    delta_status st = delta_package_open(p->package, &opt, &s->pkg);
    if (st) return st;
    s->m = delta_package_manifest(s->pkg);
    snprintf(s->res->source_version, sizeof s->res->source_version, "%s", s->m->source_version);
    snprintf(s->res->target_version, sizeof s->res->target_version, "%s", s->m->target_version);
    delta_update_layout_of(s->m, &s->layout);
    bind_patches(s);
    st = map_regions(s);
    for (size_t i = 0; i < s->m->image_count && !st; i++) {
        st = delta_package_check_slot(s->pkg, i, s->flash[i]->capacity);
        if (!st) st = dlt_check_erase(s->flash[i], s->m->images[i].block_size, s->m->images[i].name);
    }
    if (!st) st = check_images(s);
    if (st || p->check_only) return st;
    /* Already the target: what a cut inside the final clean-up may have left goes. */
    if (s->res->already) return remove_state(s, "the images already are the target");

    /* Every check passed: now, and only now, the state area is written. */
    if (s->inner->journal_remove(s->inner->ctx) != DELTA_IO_OK)
        return dlt_fail(DELTA_ERR_STATE_WRITE, "clearing the update state left by an earlier update failed");
    st = copy_package(s);
    if (!st) {
        memset(&s->j, 0, sizeof s->j);
        memcpy(s->j.package_id, s->pkg->id, DELTA_SHA256_LEN);
        s->j.state = DELTA_JOURNAL_APPLYING;
        s->j.manifest_len = (uint32_t)s->pkg->manifest_bytes.len;
        st = save(s); /* the upgrade flag: set before the first write */
    }
    if (st) {
        char why[512];
        snprintf(why, sizeof why, "%s", delta_last_error());
        s->inner->journal_remove(s->inner->ctx);
        return dlt_fail(st, "%s", why);
    }
    return apply(s);
}

/* Reads and checks the state's copy of the package the journal names. */
static delta_status load_copy(session *s)
{
    if (s->j.manifest_len == 0 || s->j.manifest_len > DELTA_MANIFEST_MAX_BYTES)
        return dlt_fail(DELTA_ERR_STATE_CORRUPT, "journal: a manifest of %u bytes", s->j.manifest_len);
    uint8_t *buf = malloc(COPY_CHUNK > s->j.manifest_len ? COPY_CHUNK : s->j.manifest_len);
    if (!buf) return dlt_fail(DELTA_ERR_NOMEM, "out of memory");
    uint8_t sha[DELTA_SHA256_LEN];
    delta_status st = DELTA_OK;
    if (s->inner->scratch_read(s->inner->ctx, 0, buf, s->j.manifest_len) != DELTA_IO_OK)
        st = dlt_fail(DELTA_ERR_STATE_CORRUPT, "the update state's copy of the manifest cannot be read");
    if (!st) {
        delta_sha256(buf, s->j.manifest_len, sha);
        if (memcmp(sha, s->j.package_id, DELTA_SHA256_LEN) != 0)
            st = dlt_fail(DELTA_ERR_STATE_CORRUPT, "the update state's copy of the manifest is not the journal's");
    }
    if (!st && delta_manifest_parse(buf, s->j.manifest_len, &s->own_manifest) != DELTA_OK)
        st = dlt_fail(DELTA_ERR_STATE_CORRUPT, "the update state's copy of the manifest: %s", delta_last_error());
    if (!st) {
        s->m = s->own_manifest;
        delta_update_layout_of(s->m, &s->layout);
        bind_patches(s);
        if (s->j.image_index > s->m->image_count ||
            (s->j.image_index < s->m->image_count && s->j.next_op > s->m->images[s->j.image_index].operations))
            st = dlt_fail(DELTA_ERR_STATE_CORRUPT, "journal: image %u, command %llu is past the package",
                            s->j.image_index, (unsigned long long)s->j.next_op);
    }
    for (size_t i = 0; !st && i < s->m->image_count; i++) {
        st = hash_source(&s->patch[i], s->m->images[i].patch_size, buf, sha, DELTA_ERR_STATE_CORRUPT);
        if (!st && memcmp(sha, s->m->images[i].patch_sha256, DELTA_SHA256_LEN) != 0)
            st = dlt_fail(DELTA_ERR_STATE_CORRUPT, "the update state's copy of %s is damaged",
                            s->m->images[i].patch_member);
    }
    free(buf);
    if (!st) {
        snprintf(s->res->source_version, sizeof s->res->source_version, "%s", s->m->source_version);
        snprintf(s->res->target_version, sizeof s->res->target_version, "%s", s->m->target_version);
    }
    return st;
}

static delta_status resume(session *s)
{
    delta_status st = load_copy(s);
    if (!st) st = map_regions(s);
    if (st) return st;
    if (s->p->package) {
        /* The package given must be the one in progress; one that fails its
         * checks now counts a try, as a device re-checking it at boot would. */
        delta_check_options opt = s->p->check;
        opt.free_space = UINT64_MAX;
        opt.require_inplace = 1;
        st = delta_package_open(s->p->package, &opt, &s->pkg);
        if (!st && memcmp(s->pkg->id, s->j.package_id, DELTA_SHA256_LEN) != 0)
            return dlt_fail(DELTA_ERR_OTHER_UPDATE, "an update with another package (to %s) is in progress; it "
                              "resumes with its own package", s->m->target_version);
        if (st && s->j.state == DELTA_JOURNAL_APPLYING && !s->p->check_only) return count_failure(s, st);
        if (st) return st;
    }
    if (s->p->check_only) return DELTA_OK;
    return s->j.state == DELTA_JOURNAL_ROLLBACK ? rollback(s) : apply(s);
}

DLT_DEFINE_INIT(delta_update_params, DELTA_UPDATE_PARAMS_INIT, DELTA_UPDATE_PARAMS_VERSION)

delta_status delta_update_run(const delta_update_params *p, delta_update_result *res)
{
    delta_update_result dummy;
    if (!res) res = &dummy;
    memset(res, 0, sizeof *res);
    if (!p || (!p->regions && p->region_count)) return dlt_fail(DELTA_ERR_ARG, "update: missing parameter");
    delta_status st0 = dlt_check_version("delta_update_params", p->version, DELTA_UPDATE_PARAMS_VERSION);
    if (!st0) st0 = dlt_check_version("delta_check_options", p->check.version, DELTA_CHECK_OPTIONS_VERSION);
    if (!st0) st0 = dlt_check_store(p->store, "update: the state store");
    if (!st0 && p->package) st0 = dlt_check_source(p->package, "update: the package");
    for (size_t r = 0; r < p->region_count && !st0; r++) st0 = dlt_check_flash(p->regions[r].flash, "update: a region");
    if (st0) return st0;
    session *s = calloc(1, sizeof *s);
    if (!s) return dlt_fail(DELTA_ERR_NOMEM, "out of memory");
    s->p = p;
    s->res = res;
    s->inner = p->store;
    s->store = (delta_store){DELTA_STORE_VERSION, s, p->store->free_bytes, s_journal_read, s_journal_write, s_journal_remove,
                             s_scratch_read, s_scratch_write, s_scratch_sync};
    delta_status st;
    size_t len = 0;
    if (s->inner->journal_read(s->inner->ctx, s->committed, sizeof s->committed, &len) != DELTA_IO_OK) {
        st = dlt_fail(DELTA_ERR_STATE_CORRUPT, "the update state cannot be read");
        res->before = res->after = DELTA_UPDATE_APPLYING;
    } else if (len == 0) {
        st = fresh(s);
    } else {
        s->committed_len = len;
        st = delta_journal_decode(s->committed, len, &s->j);
        res->before = res->after = s->j.state == DELTA_JOURNAL_ROLLBACK ? DELTA_UPDATE_ROLLBACK : DELTA_UPDATE_APPLYING;
        res->tries = s->j.tries;
        if (!st) st = resume(s);
    }
    delta_package_free(s->pkg);
    delta_manifest_free(s->own_manifest);
    free(s);
    return st;
}
