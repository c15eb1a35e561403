/*
 * libdelta: making ldpatch1 patches (host side, libdelta).
 *
 * delta_patch_make turns the diff's operations (libdelta/diff.h) into a
 * patch (formats/patch.md): the in-place plan (block order, stashes, FREEs,
 * batches), reference prediction per segment, and the compressed streams.
 * The device half that reads and applies what this writes is
 * libdelta/patch.h.
 *
 * Ownership. The patch is appended to the caller's out. On failure out may
 * hold part of a patch appended (only when an append fails: DELTA_ERR_NOMEM);
 * otherwise it is as it was. *stats is written on success only.
 *
 * Lifetimes. The images, ops and options are read only during the call;
 * nothing is kept.
 *
 * Thread safety. No shared state: calls may run at once in distinct threads.
 * delta_patch_make starts its own compression threads (opt->threads; 0: one
 * per online CPU, at most 16, never more than the streams to compress) and
 * joins them before it returns, on success and on failure. They read only
 * the streams built from the images and call no callback. A failure inside
 * one of them (out of memory, the compressor) is recorded with its message
 * and raised again on the caller's thread: delta_last_error() describes it.
 */
#ifndef LIBDELTA_ENCODE_H
#define LIBDELTA_ENCODE_H

#include "libdelta/diff.h"
#include "libdelta/patch.h"

#ifdef __cplusplus
extern "C" {
#endif

#define DELTA_PATCH_OPTIONS_VERSION 1
typedef struct delta_patch_options {
    unsigned int version;   /* DELTA_PATCH_OPTIONS_VERSION */
    uint32_t block_size;    /* erase block; power of two, 512..1 MiB (4096) */
    uint32_t segment_size;  /* target bytes per compressed segment (8 MiB) */
    uint32_t compression;   /* enum delta_compression (LZMA2) */
    uint32_t dict_size;     /* LZMA2 dictionary cap (1 MiB); bounds apply memory */
    uint32_t max_stash;     /* stash slots the plan may use (256; the header declares those used) */
    uint32_t batch_blocks;  /* blocks per journal commit in place (128: 64 MiB image in 4.7 s; 32: 17 s) */
    int inplace;            /* 1: in-place plan (default); 0: target order, out-of-place only */
    int threads;            /* compression threads; 0: one per core */
    uint32_t arch;          /* enum delta_arch: reference prediction (AUTO) */
} delta_patch_options;

/* Segments of 8 MiB: a resume decodes at most one segment again; smaller
 * segments cost payload (4 MiB: +0.9% against 16 MiB on esbuild 0.24.0->0.24.1)
 * but let more cores compress at once. */
#define DELTA_PATCH_OPTIONS_INIT {DELTA_PATCH_OPTIONS_VERSION, 4096, 8u << 20, DELTA_COMPRESSION_LZMA2, 1u << 20, 256, 128, 1, 0, DELTA_ARCH_AUTO}

/* *opt = DELTA_PATCH_OPTIONS_INIT with this version.
 * Returns: DELTA_OK; DELTA_ERR_ARG for a NULL opt, or version 0 or newer than DELTA_PATCH_OPTIONS_VERSION. */
DELTA_API delta_status delta_patch_options_init(delta_patch_options *opt, unsigned int version);

/* Statistics of a made patch. */
typedef struct delta_patch_stats {
    uint64_t commands, blocks, stashes;
    uint64_t literal_conversions, converted_bytes; /* plan edges broken by literals, and their bytes */
    uint64_t copy_bytes, extra_bytes;
    uint64_t ctrl_bytes, diff_bytes, extra_stream_bytes; /* compressed */
    uint64_t predicted_segments, map_entries; /* segments with reference prediction; their map entries */
} delta_patch_stats;

/* Builds an ldpatch1 patch from diff ops; appends it to out. opt may be NULL (the _INIT defaults);
 * stats may be NULL.
 * Returns: DELTA_OK; DELTA_ERR_ARG for an opt of version 0 or newer, an option out of its range
 * (block size, segment size, compression, dictionary or window, batch, stash slots, arch), or ops
 * that do not tile the target; DELTA_ERR_LIMIT for an image over 2 GiB or a compressed stream over
 * 4 GiB; DELTA_ERR_NOMEM; DELTA_ERR_INTERNAL when the compressor fails. */
DELTA_API delta_status delta_patch_make(const uint8_t *source, size_t source_len,
                                        const uint8_t *target, size_t target_len,
                                        const delta_op *ops, size_t op_count,
                                        const delta_patch_options *opt, delta_buf *out,
                                        delta_patch_stats *stats);

#ifdef __cplusplus
}
#endif
#endif
