/* The appliers: out of place, and in place with a journal (formats/journal.md). */
#include <stdlib.h>

#include "patch_internal.h"

/* The caller's workspace, or one malloc'd for the call. */
typedef struct workspace {
    uint8_t *block, *old, *arena;
    size_t arena_size;
    void *owned;
} workspace;

static delta_status ws_setup(workspace *w, const delta_patch_info *info, void *mem, size_t size)
{
    size_t need = delta_apply_workspace_size(info);
    w->owned = NULL;
    if (!mem) {
#if DELTA_HAVE_MALLOC
        mem = w->owned = malloc(need);
#endif
        if (!mem) return dlt_fail(DELTA_ERR_NOMEM, "apply: cannot allocate %zu bytes of workspace", need);
        size = need;
    } else if (size < need) {
        return dlt_fail(DELTA_ERR_ARG, "apply: workspace of %zu bytes, the patch needs %zu", size, need);
    }
    w->block = mem;
    w->old = w->block + info->block_size;
    w->arena = w->old + info->block_size;
    w->arena_size = size - 2 * (size_t)info->block_size;
    return DELTA_OK;
}

static void ws_release(workspace *w)
{
#if DELTA_HAVE_MALLOC
    free(w->owned);
#endif
    w->owned = NULL;
}

/* Turns the copied source bytes into the target's (prediction + diff bytes). */
static delta_status add_diff(pcursor *c, const piece *p, uint8_t *dst, uint8_t *tmp)
{
    return dlt_pcursor_copy(c, p, dst, tmp);
}

/* ---------------------------------------------------------------- out of place */

delta_status delta_apply_out_of_place(const delta_source *patch, const delta_source *source,
                                      const delta_sink *out, void *mem, size_t mem_size)
{
    delta_status st = dlt_check_source(source, "apply: the source");
    if (!st) st = dlt_check_sink(out, "apply: the target");
    if (st) return st;
    delta_patch_info info;
    st = delta_patch_read_info(patch, &info);
    if (st) return st;
    if (source->size != info.source_size)
        return dlt_fail(DELTA_ERR_SOURCE, "apply: source has %llu bytes, the patch expects %llu",
                          (unsigned long long)source->size, (unsigned long long)info.source_size);
    workspace w;
    st = ws_setup(&w, &info, mem, mem_size);
    if (st) return st;
    uint32_t bs = info.block_size;

    /* Blocks without a command are the source's: copy the common prefix first. */
    uint64_t common = info.source_size < info.target_size ? info.source_size : info.target_size;
    for (uint64_t off = 0; off < common && !st; off += bs) {
        size_t n = common - off < bs ? (size_t)(common - off) : bs;
        st = dlt_read_source(source, off, w.block, n, DELTA_ERR_INPUT);
        if (!st) st = dlt_write_status(out->write(out->ctx, off, w.block, n), "apply", off, n);
    }

    pcursor c;
    dlt_pcursor_init(&c, patch, &info, w.arena, w.arena_size);
    for (uint64_t op = 0; op < info.op_count && !st; op++) {
        pcmd cmd;
        st = dlt_pcursor_next(&c, &cmd);
        if (st || cmd.type != CMD_BLOCK) continue;
        uint64_t pos = 0;
        piece p;
        int more;
        while (!(st = dlt_pcursor_piece(&c, &p, &more)) && more) {
            if (p.kind == PIECE_COPY) {
                st = dlt_read_source(source, p.src, w.block + pos, (size_t)p.len, DELTA_ERR_INPUT);
                if (!st) st = add_diff(&c, &p, w.block + pos, w.old);
            } else {
                st = dlt_pcursor_data(&c, &p, w.block + pos, (size_t)p.len);
            }
            if (st) break;
            pos += p.len;
        }
        if (!st) st = dlt_write_status(out->write(out->ctx, cmd.a * bs, w.block, (size_t)pos), "apply", cmd.a * bs,
                                       (size_t)pos);
    }
    if (!st && info.op_count) st = dlt_pcursor_close_segment(&c);
    dlt_pcursor_free(&c);
    ws_release(&w);
    return st;
}

/* ---------------------------------------------------------------- in place */

/*
 * Commands run in batches, each ended by a COMMIT (at most batch_blocks
 * BLOCKs, proved). First every command of the batch is computed: STASHes
 * copy source blocks into their scratch slots, BLOCKs compute their new
 * content into the scratch's pending slots.
 * Nothing of the image is written yet, so every read sees the image as it
 * was before the batch. One scratch sync, one journal write (the pending
 * list), then the blocks go to the image, one image sync, one journal write.
 * A power cut during the compute phase redoes the batch from its start; one
 * during the write phase rewrites the pending blocks from scratch.
 */

typedef struct inplace {
    const delta_apply_params *p;
    delta_patch_info info;
    workspace w;
    pcursor c;
    delta_journal *j;
    uint64_t cur_size; /* bytes the image holds now */
    int area;          /* the pending area (0 or 1) the batch being computed fills */
} inplace;

static delta_status journal_save(inplace *a)
{
    uint8_t buf[DELTA_JOURNAL_CAP_SIZE]; /* the format's largest on the host; the caps' on a device */
    size_t len;
    delta_status st = delta_journal_encode(a->j, buf, sizeof buf, &len);
    if (st) return st;
    if (a->p->store->journal_write(a->p->store->ctx, buf, len) != DELTA_IO_OK)
        return dlt_fail(DELTA_ERR_STATE_WRITE, "apply: writing the journal failed");
    return DELTA_OK;
}

static delta_status flash_write(inplace *a, uint64_t off, const uint8_t *buf, size_t len)
{
    delta_flash *f = a->p->flash;
    delta_status st = dlt_write_status(f->write(f->ctx, off, buf, len), "apply", off, len);
    if (st) return st;
    if (off + len > a->cur_size) a->cur_size = off + len;
    return DELTA_OK;
}

static delta_status flash_sync(inplace *a)
{
    if (a->p->flash->sync(a->p->flash->ctx) != DELTA_IO_OK) return dlt_fail(DELTA_ERR_SYNC, "apply: syncing the image failed");
    return DELTA_OK;
}

static delta_status flash_read(inplace *a, uint64_t off, uint8_t *buf, size_t len)
{
    delta_flash *f = a->p->flash;
    if (len && f->read(f->ctx, off, buf, len) != DELTA_IO_OK)
        return dlt_fail(DELTA_ERR_IMAGE_READ, "apply: reading %zu bytes of the image at %llu failed", len,
                          (unsigned long long)off);
    return DELTA_OK;
}

static delta_status scratch_write(inplace *a, uint64_t off, const uint8_t *buf, size_t len)
{
    delta_store *s = a->p->store;
    if (s->scratch_write(s->ctx, off, buf, len) != DELTA_IO_OK)
        return dlt_fail(DELTA_ERR_STATE_WRITE, "apply: writing %zu bytes of scratch failed", len);
    return DELTA_OK;
}

static delta_status scratch_sync(inplace *a)
{
    delta_store *s = a->p->store;
    if (s->scratch_sync(s->ctx) != DELTA_IO_OK) return dlt_fail(DELTA_ERR_STATE_WRITE, "apply: syncing scratch failed");
    return DELTA_OK;
}

static delta_status scratch_read(inplace *a, uint64_t off, uint8_t *buf, size_t len)
{
    delta_store *s = a->p->store;
    if (s->scratch_read(s->ctx, off, buf, len) != DELTA_IO_OK)
        return dlt_fail(DELTA_ERR_STATE_CORRUPT, "apply: reading %zu bytes of scratch failed", len);
    return DELTA_OK;
}

/* Work area: two pending areas of batch_blocks slots, then the stash slots. */
static uint64_t stash_offset(const inplace *a, uint64_t slot)
{
    return a->p->scratch_base + (2 * (uint64_t)a->info.batch_blocks + slot) * a->info.block_size;
}

static uint64_t pending_offset(const inplace *a, int area, uint64_t slot)
{
    return a->p->scratch_base + ((uint64_t)area * a->info.batch_blocks + slot) * a->info.block_size;
}

/* Bytes of source block k (0 past the source). */
static size_t source_block_len(const delta_patch_info *info, uint64_t k)
{
    uint64_t off = k << dlt_log2(info->block_size);
    if (off >= info->source_size) return 0;
    return info->source_size - off < info->block_size ? (size_t)(info->source_size - off) : info->block_size;
}

/* Source blocks past the target's last block: lost when the image shrinks. */
static uint64_t tail_count(uint64_t source_size, uint64_t target_size, uint32_t block_size)
{
    uint64_t s = dlt_patch_block_count(source_size, block_size), t = dlt_patch_block_count(target_size, block_size);
    return s > t ? s - t : 0;
}

static uint64_t tail_blocks(const delta_patch_info *info)
{
    return tail_count(info->source_size, info->target_size, info->block_size);
}

/* Backup layout (formats/update.md): the tail's slots, then one per BLOCK command. */
static uint64_t backup_slot_offset(uint64_t base, const delta_patch_info *info, uint64_t slot)
{
    return base + slot * info->block_size;
}

uint64_t delta_backup_bytes(uint64_t source_size, uint64_t target_size, uint32_t block_size, uint64_t blocks_written)
{
    return (tail_count(source_size, target_size, block_size) + blocks_written) * block_size;
}

static int stash_slot_of(const delta_journal *j, uint64_t block)
{
    for (uint32_t s = 0; s < j->stash_count; s++)
        if (j->stash[s] == block + 1) return (int)s;
    return -1;
}

/* Reads source bytes [src, src+len) as they were before the update: from the
 * stash where the block was stashed, otherwise from the image. */
static delta_status read_old(inplace *a, uint64_t src, uint8_t *dst, uint64_t len)
{
    uint32_t bs = a->info.block_size;
    while (len > 0) {
        uint64_t j = src >> dlt_log2(bs), in = src & (bs - 1);
        uint64_t n = bs - in < len ? bs - in : len;
        int slot = stash_slot_of(a->j, j);
        delta_status st = slot >= 0 ? scratch_read(a, stash_offset(a, (uint64_t)slot) + in, dst, (size_t)n)
                                    : flash_read(a, src, dst, (size_t)n);
        if (st) return st;
        src += n;
        dst += n;
        len -= n;
    }
    return DELTA_OK;
}

static delta_status do_stash(inplace *a, uint64_t k, uint64_t slot)
{
    uint32_t bs = a->info.block_size;
    uint64_t len = a->info.source_size - k * bs < bs ? a->info.source_size - k * bs : bs;
    delta_status st = flash_read(a, k * bs, a->w.old, (size_t)len);
    if (!st) st = scratch_write(a, stash_offset(a, slot), a->w.old, (size_t)len);
    if (!st) a->j->stash[slot] = k + 1;
    return st;
}

/* Keeps the source content of block k (not yet overwritten: a block is
 * written only by its own BLOCK command) in backup slot `ordinal`. */
static delta_status back_up(inplace *a, uint64_t k, uint64_t ordinal)
{
    size_t len = source_block_len(&a->info, k);
    if (a->p->backup_offset == DELTA_NO_BACKUP || len == 0) return DELTA_OK;
    delta_status st = flash_read(a, k * a->info.block_size, a->w.old, len);
    if (!st) st = scratch_write(a, backup_slot_offset(a->p->backup_offset, &a->info, tail_blocks(&a->info) + ordinal),
                                a->w.old, len);
    return st;
}

/* Computes block k into pending slot n; *queued = 0 when the image already holds it. */
static delta_status compute_block(inplace *a, uint64_t k, uint32_t n, uint64_t ordinal, int *queued)
{
    uint64_t pos = 0;
    int more;
    piece p;
    delta_status st = back_up(a, k, ordinal);
    if (st) return st;
    while (!(st = dlt_pcursor_piece(&a->c, &p, &more)) && more) {
        if (p.kind == PIECE_COPY) {
            st = read_old(a, p.src, a->w.block + pos, p.len);
            if (!st) st = add_diff(&a->c, &p, a->w.block + pos, a->w.old);
        } else {
            st = dlt_pcursor_data(&a->c, &p, a->w.block + pos, (size_t)p.len);
        }
        if (st) return st;
        pos += p.len;
    }
    if (st) return st;
    uint64_t off = k * a->info.block_size;
    *queued = 1;
    if (off + pos <= a->cur_size) {
        st = flash_read(a, off, a->w.old, (size_t)pos);
        if (st) return st;
        *queued = memcmp(a->w.old, a->w.block, (size_t)pos) != 0;
    }
    if (!*queued) return DELTA_OK;
    a->j->pending_block[n] = k;
    a->j->pending_crc[n] = dlt_crc32(0, a->w.block, (size_t)pos);
    return scratch_write(a, pending_offset(a, a->area, n), a->w.block, (size_t)pos);
}

/* The write phase: the journal's pending blocks from scratch to the image, CRC
 * checked. With settle, the image is synced and the list cleared in the
 * journal (a resume); without, the next batch's commit does that. */
static delta_status write_pending(inplace *a, int settle)
{
    int area = (a->j->flags & DELTA_JOURNAL_PENDING_B) != 0;
    uint64_t blocks = dlt_patch_block_count(a->info.target_size, a->info.block_size);
    for (uint32_t i = 0; i < a->j->pending_count; i++) {
        uint64_t k = a->j->pending_block[i];
        if (k >= blocks)
            return dlt_fail(DELTA_ERR_STATE_CORRUPT, "journal: pending block %llu is past the target", (unsigned long long)k);
        size_t len = (size_t)dlt_patch_block_len(&a->info, k);
        delta_status st = scratch_read(a, pending_offset(a, area, i), a->w.block, len);
        if (st) return st;
        if (dlt_crc32(0, a->w.block, len) != a->j->pending_crc[i])
            return dlt_fail(DELTA_ERR_STATE_CORRUPT, "journal: pending block %llu does not match its CRC",
                              (unsigned long long)k);
        st = flash_write(a, k * a->info.block_size, a->w.block, len);
        if (st) return st;
    }
    if (!settle) return DELTA_OK;
    delta_status st = flash_sync(a);
    if (st) return st;
    a->j->flags &= ~(uint32_t)(DELTA_JOURNAL_PENDING | DELTA_JOURNAL_PENDING_B);
    a->j->pending_count = 0;
    return journal_save(a);
}

static delta_status run_batches(inplace *a)
{
    const delta_apply_params *p = a->p;
    delta_journal *j = a->j;
    uint64_t op = j->next_op, ordinal = j->next_block;
    int backup = p->backup_offset != DELTA_NO_BACKUP;
    while (op < a->info.op_count) {
        uint32_t n = 0;
        int dirty = 0;
        delta_status st = DELTA_OK;
        /* The batch fills the pending area the previous batch's blocks are not in. */
        a->area = (j->flags & DELTA_JOURNAL_PENDING) && !(j->flags & DELTA_JOURNAL_PENDING_B);
        /* Compute phase: up to the batch's COMMIT (or the last command). */
        while (op < a->info.op_count) {
            pcmd cmd;
            st = dlt_pcursor_next(&a->c, &cmd);
            if (st) return st;
            op++;
            if (cmd.type == CMD_COMMIT) break;
            if (cmd.type == CMD_STASH) {
                st = do_stash(a, cmd.a, cmd.b);
                dirty = 1;
            } else if (cmd.type == CMD_FREE) {
                j->stash[cmd.a] = 0;
            } else {
                if (n == a->info.batch_blocks)
                    return dlt_fail(DELTA_ERR_PLAN, "apply: a batch holds more than %u blocks", a->info.batch_blocks);
                int queued;
                st = compute_block(a, cmd.a, n, ordinal++, &queued);
                n += (uint32_t)queued;
                dirty |= queued | backup;
                if (!st && p->progress && p->progress(p->progress_ctx, op, a->info.op_count))
                    return dlt_fail(DELTA_ERR_CANCELLED, "apply: stopped by the progress callback");
            }
            if (st) return st;
        }
        /* Commit: this batch's scratch, then the previous batch's image writes,
         * are durable before one journal write moves past both; then the
         * write phase, synced by the next commit. */
        if (dirty) {
            st = scratch_sync(a);
            if (st) return st;
        }
        if (j->flags & DELTA_JOURNAL_PENDING) {
            st = flash_sync(a);
            if (st) return st;
        }
        j->next_op = op;
        j->next_block = ordinal;
        j->pending_count = n;
        j->flags &= ~(uint32_t)(DELTA_JOURNAL_PENDING | DELTA_JOURNAL_PENDING_B);
        if (n) j->flags |= DELTA_JOURNAL_PENDING | DELTA_JOURNAL_WRITTEN | (a->area ? DELTA_JOURNAL_PENDING_B : 0u);
        st = journal_save(a);
        if (!st && n) st = write_pending(a, 0);
        if (st) return st;
    }
    /* The last batch's writes: synced here, the list cleared by the final commit. */
    if (j->flags & DELTA_JOURNAL_PENDING) {
        delta_status st = flash_sync(a);
        if (st) return st;
        j->flags &= ~(uint32_t)(DELTA_JOURNAL_PENDING | DELTA_JOURNAL_PENDING_B);
        j->pending_count = 0;
    }
    return DELTA_OK;
}

/* fault unless the image's first size bytes hash to sha. */
static delta_status check_image(inplace *a, uint64_t size, const uint8_t *sha, delta_status fault, const char *what)
{
    dlt_sha256_ctx h;
    delta_status st = dlt_sha256_begin(&h) ? dlt_fail(DELTA_ERR_INTERNAL, "apply: SHA-256 failed") : DELTA_OK;
    uint32_t bs = a->info.block_size;
    for (uint64_t off = 0; off < size && !st; off += bs) {
        size_t n = size - off < bs ? (size_t)(size - off) : bs;
        st = flash_read(a, off, a->w.block, n);
        if (!st && dlt_sha256_step(&h, a->w.block, n)) st = dlt_fail(DELTA_ERR_INTERNAL, "apply: SHA-256 failed");
    }
    uint8_t got[DELTA_SHA256_LEN];
    if (dlt_sha256_end(&h, got) && !st) st = dlt_fail(DELTA_ERR_INTERNAL, "apply: SHA-256 failed");
    if (st) return st;
    if (memcmp(got, sha, DELTA_SHA256_LEN) != 0) return dlt_fail(fault, "%s", what);
    return DELTA_OK;
}

static delta_status verify_target(inplace *a)
{
    return check_image(a, a->info.target_size, a->p->target_sha256, DELTA_ERR_TARGET,
                       "apply: the written image does not match the target SHA-256");
}

/* Before the first batch: the source blocks past the target go to the
 * backup, since the final resize drops them. Nothing has written them yet:
 * only a BLOCK command inside the target writes the image. */
static delta_status save_tail(inplace *a)
{
    uint64_t first = dlt_patch_block_count(a->info.target_size, a->info.block_size);
    uint64_t count = tail_blocks(&a->info);
    delta_status st = DELTA_OK;
    for (uint64_t t = 0; t < count && !st; t++) {
        size_t len = source_block_len(&a->info, first + t);
        st = flash_read(a, (first + t) * a->info.block_size, a->w.old, len);
        if (!st) st = scratch_write(a, backup_slot_offset(a->p->backup_offset, &a->info, t), a->w.old, len);
    }
    if (!st && count) st = scratch_sync(a);
    if (st) return st;
    a->j->flags |= DELTA_JOURNAL_TAIL_SAVED;
    return count ? journal_save(a) : DELTA_OK;
}

static delta_status run_in_place(inplace *a)
{
    const delta_apply_params *p = a->p;
    delta_journal *j = a->j;
    if (!(a->info.flags & DELTA_PATCH_INPLACE))
        return dlt_fail(DELTA_ERR_PLAN, "apply: the patch has no in-place plan");
    if (!j->state) j->state = DELTA_JOURNAL_APPLYING;
    if (a->info.target_size > p->flash->capacity)
        return dlt_fail(DELTA_ERR_SLOT, "apply: target of %llu bytes does not fit the %llu-byte region",
                          (unsigned long long)a->info.target_size, (unsigned long long)p->flash->capacity);
    if (j->next_op == 0 && !(j->flags & DELTA_JOURNAL_PENDING)) {
        j->stash_count = a->info.stash_slots;
        j->next_block = 0;
        memset(j->stash, 0, sizeof j->stash);
    } else if (j->stash_count != a->info.stash_slots || j->next_op > a->info.op_count ||
               j->pending_count > a->info.batch_blocks || j->next_block > j->next_op) {
        return dlt_fail(DELTA_ERR_STATE_CORRUPT, "journal: does not fit this patch");
    } else {
        for (uint32_t s = 0; s < j->stash_count; s++)
            if (j->stash[s] > dlt_patch_block_count(a->info.source_size, a->info.block_size))
                return dlt_fail(DELTA_ERR_STATE_CORRUPT, "journal: stash slot %u names a block outside the source", s);
    }
    delta_status st;
    if (p->backup_offset != DELTA_NO_BACKUP && !(j->flags & DELTA_JOURNAL_TAIL_SAVED)) {
        st = save_tail(a);
        if (st) return st;
    }
    if (j->flags & DELTA_JOURNAL_PENDING) {
        st = write_pending(a, 1);
        if (st) return st;
    }
    st = dlt_pcursor_seek(&a->c, j->next_op);
    if (!st) st = run_batches(a);
    if (st) return st;
    if (a->info.op_count) {
        st = dlt_pcursor_close_segment(&a->c);
        if (st) return st;
    }
    if (a->cur_size != a->info.target_size && p->flash->resize) {
        if (p->flash->resize(p->flash->ctx, a->info.target_size) != DELTA_IO_OK)
            return dlt_fail(DELTA_ERR_WRITE, "apply: setting the image size to %llu failed",
                              (unsigned long long)a->info.target_size);
        st = flash_sync(a);
        if (st) return st;
        a->cur_size = a->info.target_size;
    }
    st = verify_target(a);
    if (st) return st;
    j->flags |= DELTA_JOURNAL_IMAGE_DONE;
    j->next_op = a->info.op_count;
    if (p->progress) p->progress(p->progress_ctx, a->info.op_count, a->info.op_count);
    return journal_save(a);
}

/* Sets up the applier's state for p: the patch header, workspace, cursor. */
static delta_status inplace_open(inplace *a, const delta_apply_params *p)
{
    memset(a, 0, sizeof *a);
    a->p = p;
    a->j = p->journal;
    delta_status st = dlt_check_flash(p->flash, "apply: the image");
    if (!st) st = dlt_check_store(p->store, "apply: the state store");
    if (st) return st;
    a->cur_size = p->flash->size;
    st = delta_patch_read_info(p->patch, &a->info);
    if (!st) st = dlt_check_erase(p->flash, a->info.block_size, "apply");
    if (!st && (a->info.stash_slots > DELTA_JOURNAL_STASH_CAP || a->info.batch_blocks > DELTA_JOURNAL_BATCH_CAP))
        st = dlt_fail(DELTA_ERR_SPACE, "apply: the patch needs %u stash slots and batches of %u, this build's journal holds %u and %u",
                        a->info.stash_slots, a->info.batch_blocks, DELTA_JOURNAL_STASH_CAP, DELTA_JOURNAL_BATCH_CAP);
    if (!st) st = ws_setup(&a->w, &a->info, p->workspace, p->workspace_size);
    if (!st) dlt_pcursor_init(&a->c, p->patch, &a->info, a->w.arena, a->w.arena_size);
    return st;
}

static void inplace_close(inplace *a)
{
    dlt_pcursor_free(&a->c);
    ws_release(&a->w);
}

/* Writes backup slot `slot` (len bytes) back at image offset off. */
static delta_status restore_slot(inplace *a, uint64_t slot, uint64_t off, size_t len)
{
    if (!len) return DELTA_OK;
    delta_status st = scratch_read(a, backup_slot_offset(a->p->backup_offset, &a->info, slot), a->w.block, len);
    return st ? st : flash_write(a, off, a->w.block, len);
}

/* The BLOCK commands before limit_op, in plan order: the backup slots they filled. */
static delta_status restore_blocks(inplace *a, uint64_t limit_op)
{
    uint64_t tail = tail_blocks(&a->info), ordinal = 0;
    delta_status st = dlt_pcursor_seek(&a->c, 0);
    for (uint64_t op = 0; op < limit_op && !st; op++) {
        pcmd cmd;
        st = dlt_pcursor_next(&a->c, &cmd);
        if (st || cmd.type != CMD_BLOCK) continue;
        piece pc;
        int more;
        while (!(st = dlt_pcursor_piece(&a->c, &pc, &more)) && more)
            if ((st = dlt_pcursor_data(&a->c, &pc, a->w.block, (size_t)pc.len))) break;
        if (!st) st = restore_slot(a, tail + ordinal++, cmd.a * a->info.block_size, source_block_len(&a->info, cmd.a));
    }
    return st;
}

DLT_DEFINE_INIT(delta_apply_params, DELTA_APPLY_PARAMS_INIT, DELTA_APPLY_PARAMS_VERSION)
DLT_DEFINE_INIT(delta_restore_params, DELTA_RESTORE_PARAMS_INIT, DELTA_RESTORE_PARAMS_VERSION)

delta_status delta_restore_in_place(const delta_restore_params *r)
{
    if (!r) return dlt_fail(DELTA_ERR_ARG, "restore: missing parameter");
    delta_status st0 = dlt_check_version("delta_restore_params", r->version, DELTA_RESTORE_PARAMS_VERSION);
    if (st0) return st0;
    if (!r->source_sha256 || r->backup_offset == DELTA_NO_BACKUP)
        return dlt_fail(DELTA_ERR_ARG, "restore: missing parameter");
    delta_journal unused;
    delta_apply_params p = {DELTA_APPLY_PARAMS_VERSION, r->patch, r->flash, r->store, &unused, NULL, r->workspace,
                            r->workspace_size, NULL, NULL, 0, r->backup_offset};
    inplace a;
    delta_status st = inplace_open(&a, &p);
    if (!st && r->limit_op > a.info.op_count)
        st = dlt_fail(DELTA_ERR_STATE_CORRUPT, "journal: command %llu is past the patch",
                        (unsigned long long)r->limit_op);
    if (!st) st = restore_blocks(&a, r->limit_op);
    if (!st && r->tail_saved) {
        uint64_t first = dlt_patch_block_count(a.info.target_size, a.info.block_size);
        for (uint64_t t = 0; t < tail_blocks(&a.info) && !st; t++)
            st = restore_slot(&a, t, (first + t) * a.info.block_size, source_block_len(&a.info, first + t));
    }
    if (!st && r->flash->resize && r->flash->resize(r->flash->ctx, a.info.source_size) != DELTA_IO_OK)
        st = dlt_fail(DELTA_ERR_WRITE, "restore: setting the image size to %llu failed",
                        (unsigned long long)a.info.source_size);
    if (!st) st = flash_sync(&a);
    if (!st) st = check_image(&a, a.info.source_size, r->source_sha256, DELTA_ERR_UNRECOVERABLE,
                              "restore: the image written back does not match the source SHA-256");
    inplace_close(&a);
    return st;
}

delta_status delta_apply_in_place(const delta_apply_params *p)
{
    if (!p) return dlt_fail(DELTA_ERR_ARG, "apply: missing parameter");
    delta_status st0 = dlt_check_version("delta_apply_params", p->version, DELTA_APPLY_PARAMS_VERSION);
    if (st0) return st0;
    if (!p->journal || !p->target_sha256) return dlt_fail(DELTA_ERR_ARG, "apply: missing parameter");
    inplace a;
    delta_status st = inplace_open(&a, p);
    if (!st) st = run_in_place(&a);
    inplace_close(&a);
    return st;
}
