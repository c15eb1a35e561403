/*
 * BSDIFF40 interop: Colin Percival's patch format as written by bsdiff 4.x
 * (Debian's bsdiff 4.3).
 *
 *   offset 0   "BSDIFF40"
 *   offset 8   X: length of the bzip2'd control block
 *   offset 16  Y: length of the bzip2'd diff block
 *   offset 24  N: size of the new file
 *   offset 32  control block, then diff block, then extra block (to the end)
 *
 * Integers are 8 bytes, sign-magnitude: little-endian magnitude in the low
 * 63 bits, sign in the top bit of the last byte. The control block is a
 * sequence of triples (add, copy, seek): add bytes of (diff + old) starting
 * at the current old position, then copy bytes from the extra block, then
 * move the old position by seek (relative; may be negative). The diff bytes
 * are new - old, byte-wise modulo 256.
 *
 * The applier streams: the three blocks are decompressed concurrently, each
 * fed from the patch source at its own offset in small chunks, and the
 * output goes out in order in chunks of at most CHUNK bytes, so memory is
 * bounded (three bzip2 decoders, ~11 MiB) whatever the sizes.
 *
 * Strictness (every value comes from a hostile patch):
 *  - lengths must be non-negative, "negative zero" (0x80 in the last byte
 *    with a zero magnitude) is refused as non-canonical;
 *  - N is capped at BSDIFF40_MAX_NEW;
 *  - add and copy must not run past N; an add must read old bytes inside
 *    the old file. Debian's bspatch treats old bytes outside the file as
 *    zero; Debian's bsdiff never produces such reads (its forward extension
 *    stops at the old file's end and every seek lands on a match in the old
 *    file), so we refuse them, and refuse any seek that leaves [0, old size];
 *  - each block must be exactly one complete bzip2 stream of exactly the
 *    bytes the control entries consume: a truncated stream, trailing data
 *    after the last control entry or unread diff or extra bytes are refused;
 *  - at most N + 1 control entries (bsdiff emits far fewer), which bounds
 *    the work on entries that move nothing.
 */
#include <bzlib.h>
#include <stdlib.h>

#include "common/internal.h"
#include "libdelta/diff.h"

#define BSDIFF40_MAGIC "BSDIFF40"
#define HEADER_LEN 32
#define BSDIFF40_MAX_NEW ((int64_t)1 << 31)
#define CHUNK ((size_t)64 << 10)    /* output and work chunk */
#define IN_CHUNK ((size_t)16 << 10) /* compressed input fed per refill */

/* ---- integers ---- */

static void put_offset(uint8_t *p, int64_t v)
{
    uint64_t mag = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    dlt_put64(p, mag);
    if (v < 0) p[7] |= 0x80;
}

/* Decodes a sign-magnitude integer; false for "negative zero". */
static bool get_offset(const uint8_t *p, int64_t *v)
{
    uint64_t raw = dlt_le64(p);
    uint64_t mag = raw & ~((uint64_t)1 << 63);
    bool neg = raw >> 63;
    if (neg && mag == 0) return false;
    *v = neg ? -(int64_t)mag : (int64_t)mag;
    return true;
}

/* ---- writing ---- */

/* A bzip2 compressor appending to a delta_buf. */
typedef struct bz_writer {
    bz_stream s;
    delta_buf *out;
    bool open;
} bz_writer;

static delta_status bzw_open(bz_writer *w, delta_buf *out)
{
    memset(&w->s, 0, sizeof w->s);
    w->out = out;
    w->open = false;
    int rc = BZ2_bzCompressInit(&w->s, 9, 0, 0);
    if (rc != BZ_OK)
        return dlt_fail(rc == BZ_MEM_ERROR ? DELTA_ERR_NOMEM : DELTA_ERR_INTERNAL,
                          "bzip2 compressor init failed (%d)", rc);
    w->open = true;
    return DELTA_OK;
}

/* Feeds len bytes (action BZ_RUN) or finishes the stream (BZ_FINISH). */
static delta_status bzw_feed(bz_writer *w, const void *data, size_t len, int action)
{
    w->s.next_in = (char *)(uintptr_t)data;
    w->s.avail_in = (unsigned)len;
    for (;;) {
        delta_status st = delta_buf_reserve(w->out, CHUNK);
        if (st) return st;
        w->s.next_out = (char *)w->out->data + w->out->len;
        w->s.avail_out = (unsigned)CHUNK;
        int rc = BZ2_bzCompress(&w->s, action);
        w->out->len += CHUNK - w->s.avail_out;
        if (action == BZ_RUN) {
            if (rc != BZ_RUN_OK) return dlt_fail(DELTA_ERR_INTERNAL, "bzip2 compression failed (%d)", rc);
            if (w->s.avail_in == 0) return DELTA_OK;
        } else {
            if (rc == BZ_STREAM_END) return DELTA_OK;
            if (rc != BZ_FINISH_OK) return dlt_fail(DELTA_ERR_INTERNAL, "bzip2 compression failed (%d)", rc);
        }
    }
}

static void bzw_close(bz_writer *w)
{
    if (w->open) BZ2_bzCompressEnd(&w->s);
    w->open = false;
}

/* Checks that ops tile the target and read inside the source. */
static delta_status check_ops(size_t source_len, size_t target_len, const delta_op *ops, size_t count)
{
    uint64_t at = 0;
    for (size_t i = 0; i < count; i++) {
        uint64_t end;
        if (ops[i].dst != at || !dlt_add_u64(ops[i].copy, ops[i].extra, &end) ||
            !dlt_add_u64(end, at, &end) || end > target_len)
            return dlt_fail(DELTA_ERR_ARG, "op %zu does not continue the tiling of the target", i);
        if (ops[i].copy && !dlt_range_ok(ops[i].src, ops[i].copy, source_len))
            return dlt_fail(DELTA_ERR_ARG, "op %zu copies past the end of the source", i);
        at = end;
    }
    if (at != target_len)
        return dlt_fail(DELTA_ERR_ARG, "ops cover %llu of %zu target bytes", (unsigned long long)at,
                          target_len);
    return DELTA_OK;
}

/* The control triples: one per op that copies, with its seek pointing at the
 * next copy's source; literal-only ops merge into the preceding triple. */
static delta_status write_control(const delta_op *ops, size_t count, bz_writer *w)
{
    uint8_t t[24];
    bool pending = false;
    int64_t add = 0, extra = 0;
    int64_t oldpos = 0; /* old position after the pending triple's add */
    for (size_t i = 0; i < count; i++) {
        const delta_op *op = &ops[i];
        if (op->copy == 0 && pending) {
            extra += (int64_t)op->extra;
            continue;
        }
        int64_t want = op->copy ? (int64_t)op->src : oldpos;
        if (pending || want != oldpos) {
            /* close the pending triple (or emit a pure seek at the start) */
            put_offset(t, add);
            put_offset(t + 8, extra);
            put_offset(t + 16, want - oldpos);
            delta_status st = bzw_feed(w, t, sizeof t, BZ_RUN);
            if (st) return st;
        }
        add = (int64_t)op->copy;
        extra = (int64_t)op->extra;
        oldpos = want + add;
        pending = true;
    }
    if (pending) {
        put_offset(t, add);
        put_offset(t + 8, extra);
        put_offset(t + 16, 0);
        return bzw_feed(w, t, sizeof t, BZ_RUN);
    }
    return DELTA_OK;
}

static delta_status write_diff(const uint8_t *source, const uint8_t *target, const delta_op *ops,
                               size_t count, bz_writer *w)
{
    uint8_t buf[4096];
    for (size_t i = 0; i < count; i++) {
        const uint8_t *o = source + ops[i].src, *n = target + ops[i].dst;
        for (uint64_t done = 0; done < ops[i].copy;) {
            size_t k = ops[i].copy - done < sizeof buf ? (size_t)(ops[i].copy - done) : sizeof buf;
            for (size_t j = 0; j < k; j++) buf[j] = (uint8_t)(n[done + j] - o[done + j]);
            delta_status st = bzw_feed(w, buf, k, BZ_RUN);
            if (st) return st;
            done += k;
        }
    }
    return DELTA_OK;
}

static delta_status write_extra(const uint8_t *target, const delta_op *ops, size_t count, bz_writer *w)
{
    for (size_t i = 0; i < count; i++) {
        const uint8_t *p = target + ops[i].dst + ops[i].copy;
        for (uint64_t done = 0; done < ops[i].extra;) {
            size_t k = ops[i].extra - done < CHUNK ? (size_t)(ops[i].extra - done) : CHUNK;
            delta_status st = bzw_feed(w, p + done, k, BZ_RUN);
            if (st) return st;
            done += k;
        }
    }
    return DELTA_OK;
}

delta_status delta_bsdiff40_write(const uint8_t *source, size_t source_len, const uint8_t *target,
                                  size_t target_len, const delta_op *ops, size_t count, delta_buf *out)
{
    if (!out || (!source && source_len) || (!target && target_len) || (!ops && count))
        return dlt_fail(DELTA_ERR_ARG, "delta_bsdiff40_write: null argument");
    if ((uint64_t)target_len >= (uint64_t)BSDIFF40_MAX_NEW)
        return dlt_fail(DELTA_ERR_LIMIT, "target of %zu bytes is over the BSDIFF40 limit", target_len);
    delta_status st = check_ops(source_len, target_len, ops, count);
    if (st) return st;

    size_t start = out->len;
    uint8_t header[HEADER_LEN] = {0};
    memcpy(header, BSDIFF40_MAGIC, 8);
    if ((st = delta_buf_append(out, header, sizeof header))) return st;

    size_t block_start[4];
    bz_writer w;
    for (int b = 0; b < 3; b++) {
        block_start[b] = out->len;
        if ((st = bzw_open(&w, out))) goto fail;
        if (b == 0) st = write_control(ops, count, &w);
        if (b == 1) st = write_diff(source, target, ops, count, &w);
        if (b == 2) st = write_extra(target, ops, count, &w);
        if (!st) st = bzw_feed(&w, NULL, 0, BZ_FINISH);
        bzw_close(&w);
        if (st) goto fail;
    }
    block_start[3] = out->len;
    put_offset(out->data + start + 8, (int64_t)(block_start[1] - block_start[0]));
    put_offset(out->data + start + 16, (int64_t)(block_start[2] - block_start[1]));
    put_offset(out->data + start + 24, (int64_t)target_len);
    return DELTA_OK;
fail:
    out->len = start;
    return st;
}

/* ---- applying ---- */

/* A bzip2 decoder reading one block [off, end) of the patch. */
typedef struct bz_reader {
    bz_stream s;
    bool open, ended;
    const delta_source *patch;
    uint64_t off, end; /* compressed bytes not yet fed */
    const char *name;
    uint8_t in[IN_CHUNK];
} bz_reader;

static delta_status bzr_open(bz_reader *r, const delta_source *patch, uint64_t off, uint64_t len,
                             const char *name)
{
    memset(&r->s, 0, sizeof r->s);
    r->open = r->ended = false;
    r->patch = patch;
    r->off = off;
    r->end = off + len;
    r->name = name;
    int rc = BZ2_bzDecompressInit(&r->s, 0, 0);
    if (rc != BZ_OK)
        return dlt_fail(rc == BZ_MEM_ERROR ? DELTA_ERR_NOMEM : DELTA_ERR_INTERNAL,
                          "bzip2 decoder init failed (%d)", rc);
    r->open = true;
    return DELTA_OK;
}

static void bzr_close(bz_reader *r)
{
    if (r->open) BZ2_bzDecompressEnd(&r->s);
    r->open = false;
}

/* Reads up to len bytes into buf; *got receives how many (fewer only at the
 * end of the stream). A truncated or corrupt stream is DELTA_ERR_PATCH. */
static delta_status bzr_read(bz_reader *r, void *buf, size_t len, size_t *got)
{
    r->s.next_out = buf;
    r->s.avail_out = (unsigned)len;
    while (r->s.avail_out > 0 && !r->ended) {
        if (r->s.avail_in == 0 && r->off < r->end) {
            size_t k = r->end - r->off < IN_CHUNK ? (size_t)(r->end - r->off) : IN_CHUNK;
            delta_status st = dlt_read_source(r->patch, r->off, r->in, k, DELTA_ERR_PACKAGE_READ);
            if (st) return st;
            r->off += k;
            r->s.next_in = (char *)r->in;
            r->s.avail_in = (unsigned)k;
        }
        unsigned before_in = r->s.avail_in, before_out = r->s.avail_out;
        int rc = BZ2_bzDecompress(&r->s);
        if (rc == BZ_STREAM_END) {
            r->ended = true;
        } else if (rc != BZ_OK) {
            return dlt_fail(DELTA_ERR_PATCH, "the %s block is not valid bzip2 data (%d)", r->name, rc);
        } else if (r->s.avail_in == 0 && r->off == r->end && before_in == r->s.avail_in &&
                   before_out == r->s.avail_out) {
            return dlt_fail(DELTA_ERR_PATCH, "the %s block's bzip2 stream is truncated", r->name);
        }
    }
    *got = len - r->s.avail_out;
    return DELTA_OK;
}

/* Reads exactly len bytes, or fails naming the control entry. */
static delta_status bzr_read_exact(bz_reader *r, void *buf, size_t len, uint64_t entry)
{
    size_t got;
    delta_status st = bzr_read(r, buf, len, &got);
    if (st) return st;
    if (got != len)
        return dlt_fail(DELTA_ERR_PATCH, "control entry %llu: the %s block ends early",
                          (unsigned long long)entry, r->name);
    return DELTA_OK;
}

/* After the last entry: the stream must end with nothing left over, and the
 * block must hold nothing after the stream. */
static delta_status bzr_finish(bz_reader *r)
{
    uint8_t b;
    size_t got;
    delta_status st = bzr_read(r, &b, 1, &got);
    if (st) return st;
    if (got) return dlt_fail(DELTA_ERR_PATCH, "the %s block has data the control entries do not use", r->name);
    if (r->s.avail_in != 0 || r->off != r->end)
        return dlt_fail(DELTA_ERR_PATCH, "the %s block has bytes after its bzip2 stream", r->name);
    return DELTA_OK;
}

static delta_status sink_write(const delta_sink *out, uint64_t off, const void *buf, size_t len)
{
    return dlt_write_status(out->write(out->ctx, off, buf, len), "bsdiff40: the target", off, len);
}

typedef struct apply_state {
    bz_reader ctrl, diff, extra;
    uint8_t work[CHUNK], old[CHUNK];
} apply_state;

/* Runs the control entries; blocks are open, newsize validated. */
static delta_status run_control(apply_state *a, const delta_source *source, const delta_sink *out,
                                int64_t newsize)
{
    int64_t newpos = 0, oldpos = 0;
    int64_t oldsize = (int64_t)source->size;
    for (uint64_t entry = 0;; entry++) {
        uint8_t t[24];
        size_t got;
        delta_status st = bzr_read(&a->ctrl, t, sizeof t, &got);
        if (st) return st;
        if (got == 0 && newpos == newsize) return DELTA_OK;
        if (got != sizeof t)
            return dlt_fail(DELTA_ERR_PATCH, "control entry %llu is %s", (unsigned long long)entry,
                              got ? "truncated" : "missing: the target is incomplete");
        if (newpos == newsize && entry > 0)
            return dlt_fail(DELTA_ERR_PATCH, "control entry %llu follows a complete target",
                              (unsigned long long)entry);
        if ((uint64_t)entry > (uint64_t)newsize)
            return dlt_fail(DELTA_ERR_PATCH, "control entry %llu: more entries than target bytes",
                              (unsigned long long)entry);

        int64_t add, copy, seek;
        if (!get_offset(t, &add) || !get_offset(t + 8, &copy) || !get_offset(t + 16, &seek))
            return dlt_fail(DELTA_ERR_PATCH, "control entry %llu holds a negative zero",
                              (unsigned long long)entry);
        if (add < 0 || copy < 0)
            return dlt_fail(DELTA_ERR_PATCH, "control entry %llu has a negative length",
                              (unsigned long long)entry);
        if (add > newsize - newpos)
            return dlt_fail(DELTA_ERR_PATCH,
                              "control entry %llu: add of %lld bytes at %lld runs past the new size %lld",
                              (unsigned long long)entry, (long long)add, (long long)newpos,
                              (long long)newsize);
        if (add > 0 && (oldpos < 0 || oldpos > oldsize || add > oldsize - oldpos))
            return dlt_fail(DELTA_ERR_PATCH,
                              "control entry %llu: add of %lld bytes reads old bytes at %lld, "
                              "outside the old file of %lld bytes",
                              (unsigned long long)entry, (long long)add, (long long)oldpos,
                              (long long)oldsize);

        /* add: diff block + old bytes */
        for (int64_t done = 0; done < add;) {
            size_t k = (uint64_t)(add - done) < CHUNK ? (size_t)(add - done) : CHUNK;
            if ((st = bzr_read_exact(&a->diff, a->work, k, entry))) return st;
            if ((st = dlt_read_source(source, (uint64_t)(oldpos + done), a->old, k, DELTA_ERR_INPUT)))
                return st;
            for (size_t j = 0; j < k; j++) a->work[j] = (uint8_t)(a->work[j] + a->old[j]);
            if ((st = sink_write(out, (uint64_t)newpos, a->work, k))) return st;
            newpos += (int64_t)k;
            done += (int64_t)k;
        }
        oldpos += add;

        if (copy > newsize - newpos)
            return dlt_fail(DELTA_ERR_PATCH,
                              "control entry %llu: copy of %lld bytes at %lld runs past the new size %lld",
                              (unsigned long long)entry, (long long)copy, (long long)newpos,
                              (long long)newsize);
        for (int64_t done = 0; done < copy;) {
            size_t k = (uint64_t)(copy - done) < CHUNK ? (size_t)(copy - done) : CHUNK;
            if ((st = bzr_read_exact(&a->extra, a->work, k, entry))) return st;
            if ((st = sink_write(out, (uint64_t)newpos, a->work, k))) return st;
            newpos += (int64_t)k;
            done += (int64_t)k;
        }

        /* oldpos is in [0, oldsize] here, |seek| < 2^63: no overflow */
        if (seek < -oldpos || seek > oldsize - oldpos)
            return dlt_fail(DELTA_ERR_PATCH,
                              "control entry %llu: seek of %lld from %lld leaves the old file of %lld bytes",
                              (unsigned long long)entry, (long long)seek, (long long)oldpos,
                              (long long)oldsize);
        oldpos += seek;
    }
}

delta_status delta_bsdiff40_apply(const delta_source *source, const delta_source *patch,
                                  const delta_sink *out, uint64_t *target_len)
{
    if (!target_len) return dlt_fail(DELTA_ERR_ARG, "delta_bsdiff40_apply: null argument");
    delta_status st0 = dlt_check_source(source, "delta_bsdiff40_apply: source");
    if (!st0) st0 = dlt_check_source(patch, "delta_bsdiff40_apply: patch");
    if (!st0) st0 = dlt_check_sink(out, "delta_bsdiff40_apply: output");
    if (st0) return st0;
    if (source->size > (uint64_t)INT64_MAX)
        return dlt_fail(DELTA_ERR_ARG, "source of %llu bytes is too large",
                          (unsigned long long)source->size);

    uint8_t h[HEADER_LEN];
    if (patch->size < HEADER_LEN)
        return dlt_fail(DELTA_ERR_PATCH, "patch of %llu bytes is shorter than the BSDIFF40 header",
                          (unsigned long long)patch->size);
    delta_status st = dlt_read_source(patch, 0, h, sizeof h, DELTA_ERR_PACKAGE_READ);
    if (st) return st;
    if (memcmp(h, BSDIFF40_MAGIC, 8) != 0) return dlt_fail(DELTA_ERR_PATCH, "not a BSDIFF40 patch (bad magic)");

    int64_t ctrl_len, diff_len, newsize;
    if (!get_offset(h + 8, &ctrl_len) || !get_offset(h + 16, &diff_len) || !get_offset(h + 24, &newsize))
        return dlt_fail(DELTA_ERR_PATCH, "BSDIFF40 header holds a negative zero");
    if (ctrl_len < 0 || diff_len < 0 || newsize < 0)
        return dlt_fail(DELTA_ERR_PATCH, "BSDIFF40 header has a negative length");
    if (newsize >= BSDIFF40_MAX_NEW)
        return dlt_fail(DELTA_ERR_PATCH, "BSDIFF40 new size %lld is over the limit of %lld bytes",
                          (long long)newsize, (long long)BSDIFF40_MAX_NEW - 1);
    uint64_t diff_off, extra_off;
    if (!dlt_add_u64(HEADER_LEN, (uint64_t)ctrl_len, &diff_off) ||
        !dlt_add_u64(diff_off, (uint64_t)diff_len, &extra_off) || extra_off > patch->size)
        return dlt_fail(DELTA_ERR_PATCH,
                          "BSDIFF40 blocks (control %lld, diff %lld bytes) run past the patch end (%llu bytes)",
                          (long long)ctrl_len, (long long)diff_len, (unsigned long long)patch->size);

    apply_state *a = calloc(1, sizeof *a);
    if (!a) return dlt_fail(DELTA_ERR_NOMEM, "cannot allocate the BSDIFF40 decoder");
    if (!(st = bzr_open(&a->ctrl, patch, HEADER_LEN, (uint64_t)ctrl_len, "control")) &&
        !(st = bzr_open(&a->diff, patch, diff_off, (uint64_t)diff_len, "diff")) &&
        !(st = bzr_open(&a->extra, patch, extra_off, patch->size - extra_off, "extra")) &&
        !(st = run_control(a, source, out, newsize)) && !(st = bzr_finish(&a->ctrl)) &&
        !(st = bzr_finish(&a->diff)) && !(st = bzr_finish(&a->extra)))
        *target_len = (uint64_t)newsize;
    bzr_close(&a->ctrl);
    bzr_close(&a->diff);
    bzr_close(&a->extra);
    free(a);
    return st;
}
