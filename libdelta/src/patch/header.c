/* ldpatch1 header and segment table: parse, validate, derive the needs. */
#include "patch_internal.h"

/* op_count <= 4 x target blocks: BLOCK, STASH, FREE and COMMIT, each at most
 * once per target block (formats/patch.md, formats/limits.md). */
#define PATCH_MAX_OPS_PER_BLOCK 4u

/* Block sizes are powers of two (checked on the header): shifts, no 64-bit division. */
uint64_t dlt_patch_block_count(uint64_t size, uint32_t block_size)
{
    return (size >> dlt_log2(block_size)) + ((size & (block_size - 1)) != 0);
}

uint64_t dlt_patch_block_len(const delta_patch_info *info, uint64_t k)
{
    uint64_t start = k << dlt_log2(info->block_size);
    uint64_t left = info->target_size - start;
    return left < info->block_size ? left : info->block_size;
}

static int is_pow2(uint32_t v)
{
    return v && !(v & (v - 1));
}

delta_status delta_patch_read_info(const delta_source *patch, delta_patch_info *info)
{
    uint8_t h[DELTA_PATCH_HEADER_SIZE];
    if (!info) return dlt_fail(DELTA_ERR_ARG, "patch: no info");
    memset(info, 0, sizeof *info);
    delta_status st0 = dlt_check_source(patch, "the patch");
    if (st0) return st0;
    if (patch->size < DELTA_PATCH_HEADER_SIZE)
        return dlt_fail(DELTA_ERR_PATCH, "patch: %llu bytes is shorter than the 64-byte header",
                          (unsigned long long)patch->size);
    delta_status st = dlt_read_source(patch, 0, h, sizeof h, DELTA_ERR_PACKAGE_READ);
    if (st) return st;
    if (memcmp(h, DELTA_PATCH_MAGIC, 8) != 0) return dlt_fail(DELTA_ERR_PATCH, "patch: bad magic");
    info->source_size = dlt_le64(h + 8);
    info->target_size = dlt_le64(h + 16);
    info->block_size = dlt_le32(h + 24);
    info->compression = h[28];
    info->flags = h[29];
    info->dict_size = dlt_le32(h + 32);
    info->segment_count = dlt_le32(h + 36);
    info->stash_slots = dlt_le32(h + 40);
    info->max_stream = dlt_le32(h + 44);
    info->op_count = dlt_le64(h + 48);
    if (info->source_size > DELTA_PATCH_MAX_IMAGE || info->target_size > DELTA_PATCH_MAX_IMAGE)
        return dlt_fail(DELTA_ERR_PATCH, "patch: image size over the 2 GiB limit");
    if (!is_pow2(info->block_size) || info->block_size < 512 || info->block_size > (1u << 20))
        return dlt_fail(DELTA_ERR_PATCH, "patch: block size %u is not a power of two in 512..1048576",
                          info->block_size);
    if (info->compression > DELTA_COMPRESSION_LZRC)
        return dlt_fail(DELTA_ERR_PATCH, "patch: unknown compression %u", info->compression);
    if (info->flags & ~(uint32_t)(DELTA_PATCH_INPLACE | DELTA_PATCH_PREDICT))
        return dlt_fail(DELTA_ERR_PATCH, "patch: unknown flags 0x%x", info->flags);
    info->batch_blocks = dlt_le32(h + 56);
    if (info->batch_blocks < 1 || info->batch_blocks > DELTA_PATCH_MAX_BATCH)
        return dlt_fail(DELTA_ERR_PATCH, "patch: batch of %u blocks outside 1..%u", info->batch_blocks,
                          DELTA_PATCH_MAX_BATCH);
    info->map_entries = dlt_le16(h + 30);
    if (!(info->flags & DELTA_PATCH_PREDICT) && info->map_entries != 0)
        return dlt_fail(DELTA_ERR_PATCH, "patch: reserved header fields are not zero");
    if (info->compression == DELTA_COMPRESSION_LZMA2) {
        if (info->dict_size < 4096 || info->dict_size > DELTA_PATCH_MAX_DICT)
            return dlt_fail(DELTA_ERR_PATCH, "patch: dictionary size %u outside 4096..8 MiB", info->dict_size);
    } else if (info->compression == DELTA_COMPRESSION_LZRC) {
        if (!is_pow2(info->dict_size) || info->dict_size < DELTA_LZRC_MIN_WINDOW || info->dict_size > DELTA_LZRC_MAX_WINDOW)
            return dlt_fail(DELTA_ERR_PATCH, "patch: LZRC window %u is not a power of two in 256..65536", info->dict_size);
    } else if (info->dict_size != 0) {
        return dlt_fail(DELTA_ERR_PATCH, "patch: dictionary size set without compression");
    }
    if (info->segment_count > DELTA_PATCH_MAX_SEGMENTS)
        return dlt_fail(DELTA_ERR_PATCH, "patch: %u segments (limit %u)", info->segment_count,
                          DELTA_PATCH_MAX_SEGMENTS);
    if (info->stash_slots > DELTA_PATCH_MAX_STASH)
        return dlt_fail(DELTA_ERR_PATCH, "patch: %u stash slots (limit %u)", info->stash_slots,
                          DELTA_PATCH_MAX_STASH);
    if (info->max_stream > DELTA_PATCH_MAX_SEGMENT)
        return dlt_fail(DELTA_ERR_PATCH, "patch: stream of %u bytes (limit 64 MiB)", info->max_stream);
    uint64_t blocks = dlt_patch_block_count(info->target_size, info->block_size);
    /* A BLOCK per target block at most, a STASH per block at most, a FREE per
     * STASH, a COMMIT per batch and a batch holds a block (formats/patch.md). */
    if (info->op_count > PATCH_MAX_OPS_PER_BLOCK * blocks)
        return dlt_fail(DELTA_ERR_PATCH, "patch: %llu commands for %llu target blocks (at most %u per block)",
                          (unsigned long long)info->op_count, (unsigned long long)blocks,
                          PATCH_MAX_OPS_PER_BLOCK);
    if ((info->op_count == 0) != (info->segment_count == 0))
        return dlt_fail(DELTA_ERR_PATCH, "patch: segments and commands disagree");

    /* The table: CRC over header[0..60) + table, entries consistent, data sums to the patch end. */
    uint64_t table_end = DELTA_PATCH_HEADER_SIZE + (uint64_t)info->segment_count * DELTA_PATCH_SEGMENT_ENTRY;
    if (table_end > patch->size)
        return dlt_fail(DELTA_ERR_PATCH, "patch: segment table runs past the end");
    uint32_t crc = dlt_crc32(0, h, 60);
    uint64_t data = table_end, prev_first = 0;
    for (uint32_t i = 0; i < info->segment_count; i++) {
        uint8_t e[DELTA_PATCH_SEGMENT_ENTRY];
        st = dlt_read_source(patch, DELTA_PATCH_HEADER_SIZE + (uint64_t)i * sizeof e, e, sizeof e,
                               DELTA_ERR_PACKAGE_READ);
        if (st) return st;
        crc = dlt_crc32(crc, e, sizeof e);
        uint64_t first = dlt_le64(e);
        if ((i == 0 && first != 0) || (i > 0 && first <= prev_first) || first >= info->op_count)
            return dlt_fail(DELTA_ERR_PATCH, "patch: segment %u starts at command %llu", i,
                              (unsigned long long)first);
        prev_first = first;
        for (int s = 0; s < 3; s++) {
            uint32_t stored = dlt_le32(e + 8 + 4 * s), raw = dlt_le32(e + 20 + 4 * s);
            if (raw > info->max_stream)
                return dlt_fail(DELTA_ERR_PATCH, "patch: segment %u stream %d is larger than declared", i, s);
            if (info->compression == DELTA_COMPRESSION_NONE && stored != raw)
                return dlt_fail(DELTA_ERR_PATCH, "patch: segment %u stream %d: stored size != raw size", i, s);
            if (!dlt_add_u64(data, stored, &data))
                return dlt_fail(DELTA_ERR_PATCH, "patch: segment sizes overflow");
        }
    }
    if (crc != dlt_le32(h + 60)) return dlt_fail(DELTA_ERR_PATCH, "patch: header CRC mismatch");
    if (data != patch->size)
        return dlt_fail(DELTA_ERR_PATCH, "patch: segments end at %llu but the patch has %llu bytes",
                          (unsigned long long)data, (unsigned long long)patch->size);

    info->scratch_bytes = (uint64_t)(2 * info->batch_blocks + info->stash_slots) * info->block_size;
    uint64_t jsize = delta_journal_size(info->stash_slots, info->batch_blocks);
    info->state_bytes = (2 * jsize + 4095) / 4096 * 4096;
    info->decoder_memory = delta_apply_workspace_size(info);
    return DELTA_OK;
}

delta_status dlt_patch_segment(const delta_source *patch, const delta_patch_info *info, uint32_t i,
                           seg_entry *seg)
{
    uint8_t e[DELTA_PATCH_SEGMENT_ENTRY];
    uint64_t data = DELTA_PATCH_HEADER_SIZE + (uint64_t)info->segment_count * DELTA_PATCH_SEGMENT_ENTRY;
    for (uint32_t j = 0; j <= i; j++) {
        delta_status st = dlt_read_source(patch, DELTA_PATCH_HEADER_SIZE + (uint64_t)j * sizeof e, e,
                                            sizeof e, DELTA_ERR_PACKAGE_READ);
        if (st) return st;
        if (j < i)
            for (int s = 0; s < 3; s++) data += dlt_le32(e + 8 + 4 * s);
    }
    seg->first_op = dlt_le64(e);
    for (int s = 0; s < 3; s++) {
        seg->size[s] = dlt_le32(e + 8 + 4 * s);
        seg->raw[s] = dlt_le32(e + 20 + 4 * s);
    }
    seg->crc = dlt_le32(e + 32);
    seg->data_offset = data;
    if (i + 1 < info->segment_count) {
        delta_status st = dlt_read_source(patch, DELTA_PATCH_HEADER_SIZE + (uint64_t)(i + 1) * sizeof e,
                                            e, sizeof e, DELTA_ERR_PACKAGE_READ);
        if (st) return st;
        seg->end_op = dlt_le64(e);
    } else {
        seg->end_op = info->op_count;
    }
    return DELTA_OK;
}

delta_status dlt_patch_segment_after(const delta_source *patch, const delta_patch_info *info, uint32_t prev_index,
                                 const seg_entry *prev, seg_entry *seg)
{
    uint32_t i = prev_index + 1;
    uint8_t e[DELTA_PATCH_SEGMENT_ENTRY];
    delta_status st = dlt_read_source(patch, DELTA_PATCH_HEADER_SIZE + (uint64_t)i * sizeof e, e, sizeof e,
                                        DELTA_ERR_PACKAGE_READ);
    if (st) return st;
    seg->first_op = dlt_le64(e);
    for (int s = 0; s < 3; s++) {
        seg->size[s] = dlt_le32(e + 8 + 4 * s);
        seg->raw[s] = dlt_le32(e + 20 + 4 * s);
    }
    seg->crc = dlt_le32(e + 32);
    /* The sizes were summed without overflow to the patch's end by delta_patch_read_info. */
    seg->data_offset = prev->data_offset + prev->size[0] + prev->size[1] + prev->size[2];
    if (i + 1 < info->segment_count) {
        uint64_t next;
        st = dlt_patch_segment_first_op(patch, i + 1, &next);
        if (st) return st;
        seg->end_op = next;
    } else {
        seg->end_op = info->op_count;
    }
    return DELTA_OK;
}

delta_status dlt_patch_segment_first_op(const delta_source *patch, uint32_t i, uint64_t *first_op)
{
    uint8_t e[8];
    delta_status st = dlt_read_source(patch, DELTA_PATCH_HEADER_SIZE + (uint64_t)i * DELTA_PATCH_SEGMENT_ENTRY, e,
                                        sizeof e, DELTA_ERR_PACKAGE_READ);
    if (!st) *first_op = dlt_le64(e);
    return st;
}

#if DELTA_HAVE_LZMA
static uint64_t lzma_need(uint32_t dict)
{
    lzma_options_lzma opt;
    memset(&opt, 0, sizeof opt);
    opt.dict_size = dict;
    lzma_filter f[2] = {{LZMA_FILTER_LZMA2, &opt}, {LZMA_VLI_UNKNOWN, NULL}};
    uint64_t m = lzma_raw_decoder_memusage(f);
    return m == UINT64_MAX ? (uint64_t)dict + (1u << 20) : m;
}
#else
static uint64_t lzma_need(uint32_t dict)
{
    return (uint64_t)dict + (1u << 20); /* not decodable here: refused when a stream opens */
}
#endif

size_t dlt_patch_decoder_memory(const delta_patch_info *info)
{
    size_t in = dlt_patch_inbuf(info);
    size_t need = 3 * (in + 64) + in; /* the streams' buffers; the CRC pass's */
    if (info->compression == DELTA_COMPRESSION_LZMA2) {
        uint32_t dict = info->dict_size;
        if (info->max_stream < dict) dict = info->max_stream < 4096 ? 4096 : info->max_stream;
        /* Slack per decoder covers the allocator's alignment and liblzma's small allocations. */
        need += 3 * (size_t)(lzma_need(dict) + 16384);
    } else if (info->compression == DELTA_COMPRESSION_LZRC) {
        /* Each stream's decoder and window, 16-aligned in the arena. */
        need += 3 * (dlt_lzrc_decoder_size(dlt_lzrc_window(info->dict_size, info->max_stream)) + 32);
    }
    /* The segment's reference map, after the stream buffers. */
    if (info->flags & DELTA_PATCH_PREDICT) need += (size_t)info->map_entries * sizeof(arch_entry) + 16;
    return need;
}

size_t dlt_patch_inbuf(const delta_patch_info *info)
{
    return info->compression == DELTA_COMPRESSION_LZRC ? LZRC_INBUF : STREAM_INBUF;
}

size_t delta_apply_workspace_size(const delta_patch_info *info)
{
    /* Two block buffers (the new block, and reading old content) plus the decoders. */
    return 2 * (size_t)info->block_size + dlt_patch_decoder_memory(info);
}
