/* The decoders' arena and the three per-segment streams. */
#include "patch_internal.h"

#if DELTA_HAVE_LZMA
static void *arena_alloc(void *opaque, size_t nmemb, size_t size)
{
    size_t n;
    if (__builtin_mul_overflow(nmemb, size, &n)) return NULL;
    return dlt_arena_take(opaque, n);
}

static void arena_free(void *opaque, void *ptr)
{
    (void)opaque;
    (void)ptr; /* released all at once when the segment's decoders end */
}
#endif

void dlt_arena_init(arena *a, void *mem, size_t size)
{
    a->base = mem;
    a->size = size;
    a->used = 0;
#if DELTA_HAVE_LZMA
    a->alloc.alloc = arena_alloc;
    a->alloc.free = arena_free;
    a->alloc.opaque = a;
#endif
}

void *dlt_arena_take(arena *a, size_t n)
{
    size_t start = (a->used + 15) & ~(size_t)15;
    if (start < a->used || start > a->size || n > a->size - start) return NULL;
    a->used = start + n;
    return a->base + start;
}

/* LZRC input: the stored bytes through the stream's buffer. */
static uint8_t lzrc_in_byte(void *ctx)
{
    pstream *s = ctx;
    if (s->in_pos == s->in_len) {
        uint64_t left = s->end - s->off;
        size_t n = left < s->in_cap ? (size_t)left : s->in_cap;
        delta_status st = n ? dlt_read_source(s->patch, s->off, s->in, n, DELTA_ERR_PACKAGE_READ) : DELTA_ERR_PATCH;
        if (st) {
            if (!s->in_err) s->in_status = st;
            s->in_err = 1;
            return 0;
        }
        s->off += n;
        s->in_pos = 0;
        s->in_len = n;
    }
    return s->in[s->in_pos++];
}

static delta_status lzrc_open(pstream *s, const delta_patch_info *info, uint32_t raw, arena *ar)
{
    uint32_t w = dlt_lzrc_window(info->dict_size, raw);
    s->lz = dlt_arena_take(ar, LZRC_DECODER_STATE);
    uint8_t *win = dlt_arena_take(ar, w);
    if (!s->lz || !win) return dlt_fail(DELTA_ERR_NOMEM, "patch: workspace too small for the decoder");
    if (raw == 0) { /* an empty stream stores nothing */
        s->lz = NULL;
        return s->end == s->off ? DELTA_OK : dlt_fail(DELTA_ERR_PATCH, "patch: an empty LZRC stream stores bytes");
    }
    delta_status st = dlt_lzrc_dec_init(s->lz, win, w, lzrc_in_byte, s, &s->in_err);
    return st && s->in_status ? s->in_status : st;
}

static delta_status lzrc_status(pstream *s, delta_status st)
{
    return st && s->in_err && s->in_status != DELTA_ERR_PATCH ? s->in_status : st;
}

delta_status dlt_pstream_open(pstream *s, const delta_source *patch, const delta_patch_info *info,
                          uint64_t off, uint32_t stored, uint32_t raw, arena *ar)
{
    memset(s, 0, sizeof *s);
    s->patch = patch;
    s->off = off;
    s->end = off + stored;
    s->raw_left = raw;
    s->in_cap = dlt_patch_inbuf(info);
    s->in = dlt_arena_take(ar, s->in_cap);
    if (!s->in) return dlt_fail(DELTA_ERR_NOMEM, "patch: workspace too small for stream buffers");
    if (info->compression == DELTA_COMPRESSION_LZRC) return lzrc_open(s, info, raw, ar);
    if (info->compression != DELTA_COMPRESSION_LZMA2) return DELTA_OK;
#if !DELTA_HAVE_LZMA
    return dlt_fail(DELTA_ERR_PATCH, "patch: LZMA2 is not built in");
#else

    lzma_options_lzma opt;
    memset(&opt, 0, sizeof opt);
    uint32_t dict = info->dict_size;
    if (raw < dict) dict = raw < 4096 ? 4096 : raw;
    opt.dict_size = dict;
    lzma_filter f[2] = {{LZMA_FILTER_LZMA2, &opt}, {LZMA_VLI_UNKNOWN, NULL}};
    lzma_stream init = LZMA_STREAM_INIT;
    s->strm = init;
    s->strm.allocator = &ar->alloc;
    lzma_ret r = lzma_raw_decoder(&s->strm, f);
    if (r == LZMA_MEM_ERROR) return dlt_fail(DELTA_ERR_NOMEM, "patch: workspace too small for the decoder");
    if (r != LZMA_OK) return dlt_fail(DELTA_ERR_PATCH, "patch: cannot start the LZMA2 decoder (%d)", (int)r);
    s->lzma = 1;
    return DELTA_OK;
#endif
}

#if DELTA_HAVE_LZMA
static delta_status refill(pstream *s)
{
    uint64_t left = s->end - s->off;
    size_t n = left < STREAM_INBUF ? (size_t)left : STREAM_INBUF;
    delta_status st = dlt_read_source(s->patch, s->off, s->in, n, DELTA_ERR_PACKAGE_READ);
    if (st) return st;
    s->off += n;
    s->strm.next_in = s->in;
    s->strm.avail_in = n;
    return DELTA_OK;
}
#endif

delta_status dlt_pstream_read(pstream *s, void *buf, size_t len)
{
    if (len > s->raw_left)
        return dlt_fail(DELTA_ERR_PATCH, "patch: a command needs %zu bytes but its stream has %llu left",
                          len, (unsigned long long)s->raw_left);
    s->raw_left -= len;
    if (s->lz) return lzrc_status(s, dlt_lzrc_dec_read(s->lz, buf, len));
    if (!s->lzma) {
        delta_status st = dlt_read_source(s->patch, s->off, buf, len, DELTA_ERR_PACKAGE_READ);
        if (st) return st;
        s->off += len;
        return DELTA_OK;
    }
#if DELTA_HAVE_LZMA
    s->strm.next_out = buf;
    s->strm.avail_out = len;
    while (s->strm.avail_out > 0) {
        if (s->strm.avail_in == 0) {
            if (s->off == s->end) return dlt_fail(DELTA_ERR_PATCH, "patch: compressed stream is truncated");
            delta_status st = refill(s);
            if (st) return st;
        }
        lzma_ret r = lzma_code(&s->strm, LZMA_RUN);
        if (r == LZMA_STREAM_END && s->strm.avail_out > 0)
            return dlt_fail(DELTA_ERR_PATCH, "patch: compressed stream ends early");
        if (r != LZMA_OK && r != LZMA_STREAM_END)
            return dlt_fail(DELTA_ERR_PATCH, "patch: compressed stream is corrupt (lzma %d)", (int)r);
    }
#endif
    return DELTA_OK;
}

delta_status dlt_pstream_skip(pstream *s, uint64_t len, uint8_t *tmp, size_t tmp_len)
{
    while (len > 0) {
        size_t n = len < tmp_len ? (size_t)len : tmp_len;
        delta_status st = dlt_pstream_read(s, tmp, n);
        if (st) return st;
        len -= n;
    }
    return DELTA_OK;
}

delta_status dlt_pstream_finish(pstream *s)
{
    if (s->raw_left != 0)
        return dlt_fail(DELTA_ERR_PATCH, "patch: %llu stream bytes are never used",
                          (unsigned long long)s->raw_left);
    if (s->lz) {
        if (!dlt_lzrc_dec_done(s->lz) || s->in_err || s->in_pos != s->in_len || s->off != s->end)
            return dlt_fail(DELTA_ERR_PATCH, "patch: LZRC stream does not end where declared");
        return DELTA_OK;
    }
    if (!s->lzma) return DELTA_OK;
#if DELTA_HAVE_LZMA
    /* The LZMA2 end marker must follow, and nothing after it. */
    uint8_t probe;
    for (;;) {
        if (s->strm.avail_in == 0 && s->off < s->end) {
            delta_status st = refill(s);
            if (st) return st;
        }
        s->strm.next_out = &probe;
        s->strm.avail_out = 1;
        lzma_ret r = lzma_code(&s->strm, LZMA_RUN);
        if (r == LZMA_STREAM_END) break;
        if (r != LZMA_OK || s->strm.avail_out == 0)
            return dlt_fail(DELTA_ERR_PATCH, "patch: compressed stream holds more than declared");
        if (s->strm.avail_in == 0 && s->off == s->end)
            return dlt_fail(DELTA_ERR_PATCH, "patch: compressed stream has no end marker");
    }
    if (s->strm.avail_in != 0 || s->off != s->end)
        return dlt_fail(DELTA_ERR_PATCH, "patch: bytes after the end of a compressed stream");
#endif
    return DELTA_OK;
}

void dlt_pstream_close(pstream *s)
{
#if DELTA_HAVE_LZMA
    if (s->lzma) lzma_end(&s->strm);
#endif
    s->lzma = 0;
    s->lz = NULL;
}
