/* Walking a patch's commands across segments; resuming at any command. */
#include "patch_internal.h"

void dlt_pcursor_init(pcursor *c, const delta_source *patch, const delta_patch_info *info, void *mem,
                  size_t mem_size)
{
    memset(c, 0, sizeof *c);
    c->patch = patch;
    c->info = info;
    dlt_arena_init(&c->ar, mem, mem_size);
}

static void close_streams(pcursor *c)
{
    if (!c->open) return;
    for (int i = 0; i < 3; i++) dlt_pstream_close(&c->st[i]);
    c->ar.used = 0;
    c->open = 0;
}

void dlt_pcursor_free(pcursor *c)
{
    close_streams(c);
}

static delta_status read_varint(pcursor *c, uint64_t *v);

/*
 * With PREDICT, the control stream starts with the segment's preamble: its
 * transform id, then for ARCH_THUMB2(_ABS32) the base address (ABS32 only)
 * and the reference map (formats/patch.md).
 * The map goes to the arena, after the streams' buffers and decoders.
 */
static delta_status read_preamble(pcursor *c, uint32_t i)
{
    c->arch = ARCH_NONE;
    memset(&c->map, 0, sizeof c->map);
    if (!(c->info->flags & DELTA_PATCH_PREDICT)) return DELTA_OK;
    uint64_t arch, count, base = 0;
    delta_status st = read_varint(c, &arch);
    if (st) return st;
    if (arch == ARCH_NONE) return DELTA_OK;
    if (arch != ARCH_THUMB2 && arch != ARCH_THUMB2_ABS32 && arch != ARCH_X86_64 && arch != ARCH_AARCH64)
        return dlt_fail(DELTA_ERR_PATCH, "patch: segment %u: unknown transform %llu", i, (unsigned long long)arch);
    if (arch == ARCH_THUMB2_ABS32) {
        st = read_varint(c, &base);
        if (st) return st;
        if (base > UINT32_MAX)
            return dlt_fail(DELTA_ERR_PATCH, "patch: segment %u: base address %llu over 32 bits", i,
                              (unsigned long long)base);
    }
    st = read_varint(c, &count);
    if (st) return st;
    if (count > c->info->map_entries)
        return dlt_fail(DELTA_ERR_PATCH, "patch: segment %u: map of %llu entries (header: %u)", i,
                          (unsigned long long)count, c->info->map_entries);
    arch_entry *e = dlt_arena_take(&c->ar, (size_t)count * sizeof *e);
    if (!e) return dlt_fail(DELTA_ERR_NOMEM, "patch: workspace too small for the reference map");
    int64_t old = 0, shift = 0;
    for (uint64_t k = 0; k < count; k++) {
        uint64_t gap, z;
        st = read_varint(c, &gap);
        if (!st) st = read_varint(c, &z);
        if (st) return st;
        /* gap >= 1 after the first entry: offsets strictly increase; |shift| < 2^31. */
        int64_t d = (int64_t)(z >> 1) ^ -(int64_t)(z & 1);
        if ((k > 0 && gap == 0) || gap >= c->info->source_size - (uint64_t)old || d <= -(INT64_C(1) << 32) ||
            d >= (INT64_C(1) << 32) || shift + d <= -(INT64_C(1) << 31) || shift + d >= (INT64_C(1) << 31))
            return dlt_fail(DELTA_ERR_PATCH, "patch: segment %u: map entry %llu out of range", i,
                              (unsigned long long)k);
        old += (int64_t)gap;
        shift += d;
        e[k].old = (uint32_t)old;
        e[k].shift = (int32_t)shift;
    }
    c->arch = (uint32_t)arch;
    c->map.e = e;
    c->map.count = (uint32_t)count;
    c->map.base = (uint32_t)base;
    return DELTA_OK;
}

/* Opens segment i: checks its CRC, then starts its three streams. */
static delta_status open_segment(pcursor *c, uint32_t i)
{
    /* The next segment in order is found from the current one; any other by a scan. */
    int next = c->open && i == c->seg_index + 1;
    close_streams(c);
    seg_entry prev = c->seg;
    delta_status st = next ? dlt_patch_segment_after(c->patch, c->info, c->seg_index, &prev, &c->seg)
                           : dlt_patch_segment(c->patch, c->info, i, &c->seg);
    if (st) return st;
    /* CRC of the stored bytes, read through the first stream buffer. */
    size_t cap = dlt_patch_inbuf(c->info);
    uint8_t *tmp = dlt_arena_take(&c->ar, cap);
    if (!tmp) return dlt_fail(DELTA_ERR_NOMEM, "patch: workspace too small");
    uint64_t total = (uint64_t)c->seg.size[0] + c->seg.size[1] + c->seg.size[2], done = 0;
    uint32_t crc = 0;
    while (done < total) {
        size_t n = total - done < cap ? (size_t)(total - done) : cap;
        st = dlt_read_source(c->patch, c->seg.data_offset + done, tmp, n, DELTA_ERR_PACKAGE_READ);
        if (st) return st;
        crc = dlt_crc32(crc, tmp, n);
        done += n;
    }
    c->ar.used = 0;
    if (crc != c->seg.crc) return dlt_fail(DELTA_ERR_PATCH, "patch: segment %u CRC mismatch", i);
    uint64_t off = c->seg.data_offset;
    for (int s = 0; s < 3; s++) {
        st = dlt_pstream_open(&c->st[s], c->patch, c->info, off, c->seg.size[s], c->seg.raw[s], &c->ar);
        if (st) return st;
        off += c->seg.size[s];
    }
    c->open = 1;
    c->seg_index = i;
    c->op = c->seg.first_op;
    c->shift = 0;
    c->block_len = c->block_done = 0;
    return read_preamble(c, i);
}

delta_status dlt_pcursor_close_segment(pcursor *c)
{
    for (int s = 0; s < 3; s++) {
        delta_status st = dlt_pstream_finish(&c->st[s]);
        if (st) return st;
    }
    return DELTA_OK;
}

static delta_status read_varint(pcursor *c, uint64_t *v)
{
    uint64_t x = 0;
    for (int shift = 0; shift < 63; shift += 7) {
        uint8_t b;
        delta_status st = dlt_pstream_read(&c->st[0], &b, 1);
        if (st) return st;
        x |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            if (x >> 63) break;
            *v = x;
            return DELTA_OK;
        }
    }
    return dlt_fail(DELTA_ERR_PATCH, "patch: command %llu: varint too long", (unsigned long long)c->op);
}

delta_status dlt_pcursor_next(pcursor *c, pcmd *cmd)
{
    if (c->block_done != c->block_len)
        return dlt_fail(DELTA_ERR_INTERNAL, "patch: next command before the block's pieces");
    if (c->op >= c->info->op_count) return dlt_fail(DELTA_ERR_INTERNAL, "patch: read past the last command");
    if (!c->open || c->op >= c->seg.end_op) {
        uint32_t next = c->open ? c->seg_index + 1 : 0;
        if (c->open) {
            delta_status st = dlt_pcursor_close_segment(c);
            if (st) return st;
        }
        delta_status st = open_segment(c, next);
        if (st) return st;
    }
    uint8_t type;
    delta_status st = dlt_pstream_read(&c->st[0], &type, 1);
    if (st) return st;
    memset(cmd, 0, sizeof *cmd);
    cmd->type = type;
    switch (type) {
    case CMD_BLOCK:
        st = read_varint(c, &cmd->a);
        if (st) return st;
        if (cmd->a >= dlt_patch_block_count(c->info->target_size, c->info->block_size))
            return dlt_fail(DELTA_ERR_PATCH, "patch: command %llu: block %llu is past the target",
                              (unsigned long long)c->op, (unsigned long long)cmd->a);
        c->block = cmd->a;
        c->block_len = dlt_patch_block_len(c->info, cmd->a);
        c->block_done = 0;
        break;
    case CMD_STASH:
        st = read_varint(c, &cmd->a);
        if (!st) st = read_varint(c, &cmd->b);
        if (st) return st;
        if (cmd->a >= dlt_patch_block_count(c->info->source_size, c->info->block_size))
            return dlt_fail(DELTA_ERR_PATCH, "patch: command %llu: stash of block %llu outside the source",
                              (unsigned long long)c->op, (unsigned long long)cmd->a);
        if (cmd->b >= c->info->stash_slots)
            return dlt_fail(DELTA_ERR_PATCH, "patch: command %llu: stash slot %llu of %u",
                              (unsigned long long)c->op, (unsigned long long)cmd->b, c->info->stash_slots);
        break;
    case CMD_FREE:
        st = read_varint(c, &cmd->a);
        if (st) return st;
        if (cmd->a >= c->info->stash_slots)
            return dlt_fail(DELTA_ERR_PATCH, "patch: command %llu: free of slot %llu of %u",
                              (unsigned long long)c->op, (unsigned long long)cmd->a, c->info->stash_slots);
        break;
    case CMD_COMMIT:
        break;
    default:
        return dlt_fail(DELTA_ERR_PATCH, "patch: command %llu: unknown command byte 0x%02x",
                          (unsigned long long)c->op, type);
    }
    c->op++;
    return DELTA_OK;
}

delta_status dlt_pcursor_piece(pcursor *c, piece *p, int *more)
{
    if (c->block_done == c->block_len) {
        *more = 0;
        return DELTA_OK;
    }
    uint64_t tag;
    delta_status st = read_varint(c, &tag);
    if (st) return st;
    p->kind = (uint32_t)(tag & 1);
    p->len = tag >> 1;
    p->src = 0;
    p->dst = c->block * c->info->block_size + c->block_done;
    if (p->len == 0 || p->len > c->block_len - c->block_done)
        return dlt_fail(DELTA_ERR_PATCH, "patch: block %llu: piece of %llu bytes does not fit",
                          (unsigned long long)c->block, (unsigned long long)p->len);
    if (p->kind == PIECE_COPY) {
        uint64_t z;
        st = read_varint(c, &z);
        if (st) return st;
        /* |d| < 2^62 and |dst|, |shift| < 2^32: no overflow in int64. */
        int64_t d = (int64_t)(z >> 1) ^ -(int64_t)(z & 1);
        int64_t dst = (int64_t)(c->block * c->info->block_size + c->block_done);
        int64_t src = dst + c->shift + d;
        if (src < 0 || !dlt_range_ok((uint64_t)src, p->len, c->info->source_size))
            return dlt_fail(DELTA_ERR_PATCH, "patch: block %llu: copy from outside the source",
                              (unsigned long long)c->block);
        p->src = (uint64_t)src;
        c->shift = src - dst;
    }
    c->block_done += p->len;
    *more = 1;
    return DELTA_OK;
}

delta_status dlt_pcursor_data(pcursor *c, const piece *p, void *buf, size_t len)
{
    if (len != p->len) return dlt_fail(DELTA_ERR_INTERNAL, "patch: a piece's data is read whole");
    delta_status st = dlt_pstream_read(&c->st[p->kind == PIECE_COPY ? 1 : 2], buf, len);
    /* Under THUMB2 a literal's branches are stored with absolute targets. */
    if (!st && p->kind == PIECE_LITERAL) dlt_arch_literal_load(c->arch, p->dst, buf, len);
    return st;
}

delta_status dlt_pcursor_copy(pcursor *c, const piece *p, uint8_t *buf, uint8_t *tmp)
{
    delta_status st = dlt_pstream_read(&c->st[1], tmp, (size_t)p->len);
    if (st) return st;
    dlt_arch_predict(c->arch, &c->map, c->info->source_size, p->dst, p->src, buf, (size_t)p->len);
    for (size_t i = 0; i < p->len; i++) buf[i] = (uint8_t)(buf[i] + tmp[i]);
    return DELTA_OK;
}

delta_status dlt_pcursor_seek(pcursor *c, uint64_t op)
{
    if (op > c->info->op_count) return dlt_fail(DELTA_ERR_STATE_CORRUPT, "journal: command %llu is past the patch",
                                                  (unsigned long long)op);
    if (op == c->info->op_count) { /* at the end: nothing more to read */
        close_streams(c);
        c->op = op;
        return DELTA_OK;
    }
    /* Find the segment holding op (segments are few; a linear scan is fine). */
    uint32_t lo = 0;
    for (uint32_t i = 1; i < c->info->segment_count; i++) {
        uint64_t first;
        delta_status st = dlt_patch_segment_first_op(c->patch, i, &first);
        if (st) return st;
        if (first > op) break;
        lo = i;
    }
    delta_status st = open_segment(c, lo);
    if (st) return st;
    uint8_t tmp[256];
    while (c->op < op) {
        pcmd cmd;
        st = dlt_pcursor_next(c, &cmd);
        if (st) return st;
        if (cmd.type != CMD_BLOCK) continue;
        piece p;
        int more;
        for (;;) {
            st = dlt_pcursor_piece(c, &p, &more);
            if (st) return st;
            if (!more) break;
            st = dlt_pstream_skip(&c->st[p.kind == PIECE_COPY ? 1 : 2], p.len, tmp, sizeof tmp);
            if (st) return st;
        }
    }
    return DELTA_OK;
}
