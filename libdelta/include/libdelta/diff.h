/*
 * libdelta: the binary diff engine (host side).
 *
 * delta_diff finds, for a target image, a cover of copies from the source
 * image (suffix array over the source built with libdivsufsort, matches
 * extended approximately as in Percival's bsdiff) and literal gaps. The
 * result is a list of operations in target order with explicit positions:
 *
 *   target[dst, dst+copy)             = source[src, src+copy) + diff bytes
 *   target[dst+copy, dst+copy+extra)  = literal bytes
 *
 * Operations tile the target exactly: op[0].dst == 0, each op starts where
 * the previous one ended, and the last ends at the target size. No op is
 * empty (copy + extra > 0); src is 0 when copy is 0. An empty target gives
 * zero ops (*ops NULL, *count 0); an empty source gives one all-extra op.
 * The list depends only on the two images, never on the thread count.
 * The patch encoders (ldpatch, BSDIFF40) consume this list.
 *
 * Ownership. delta_diff mallocs *ops, freed with delta_ops_free (NULL is
 * fine); on failure *ops is NULL and *count 0 (but for an opt of a refused
 * version, which returns before touching them). delta_bsdiff40_write appends
 * to the caller's out; on failure out->len is as it was (its capacity may
 * have grown). delta_bsdiff40_apply may leave part of the target written
 * when it fails.
 *
 * Lifetimes. The images, ops and options are read only during the call;
 * nothing is kept.
 *
 * Thread safety. No shared state: calls may run at once in distinct threads.
 * delta_diff starts its own worker threads (opt->threads; 0: one per online
 * CPU; at most 8, and one per 4 MiB slice of the target) and joins them
 * before it returns, on success and on failure. The workers only read the
 * two images and the suffix array: they call no callback and record no
 * message (failures are reported on the caller's thread), and the images
 * must not change during the call. The BSDIFF40 functions run on the
 * caller's thread alone, as do the callbacks of delta_bsdiff40_apply.
 */
#ifndef LIBDELTA_DIFF_H
#define LIBDELTA_DIFF_H

#include "libdelta/io.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct delta_op {
    uint64_t dst;   /* target offset of this operation */
    uint64_t src;   /* source offset of the copy (0 when copy == 0) */
    uint64_t copy;  /* bytes copied from the source, plus diff */
    uint64_t extra; /* literal bytes after the copy */
} delta_op;

/* Machine code whose references the diff and the patch writer model
 * (formats/patch.md, "Reference prediction"). AUTO: THUMB2 where a cheap
 * detector finds Thumb-2 code in the source, X86_64 / AARCH64 for an ELF file
 * of that machine,
 * and in the patch only in the segments it makes smaller. */
enum delta_arch {
    DELTA_ARCH_NONE = 0,
    DELTA_ARCH_THUMB2 = 1,
    DELTA_ARCH_X86_64 = 2,
    DELTA_ARCH_AARCH64 = 3,
    DELTA_ARCH_AUTO = 255
};

#define DELTA_DIFF_OPTIONS_VERSION 1
typedef struct delta_diff_options {
    unsigned int version; /* DELTA_DIFF_OPTIONS_VERSION */
    uint64_t max_memory; /* cap on the diff's working memory, inputs aside (0: no cap);
                            below the suffix array's size, matching runs in source windows */
    int threads;         /* 0: pick; 1: single-threaded */
    uint32_t arch;       /* enum delta_arch (AUTO): with THUMB2, matching runs a second
                            time against the source with its branches moved through the
                            first matches (one more source-sized buffer) */
} delta_diff_options;

#define DELTA_DIFF_OPTIONS_INIT {DELTA_DIFF_OPTIONS_VERSION, 0, 0, DELTA_ARCH_AUTO}
/* *opt = DELTA_DIFF_OPTIONS_INIT with this version.
 * Returns: DELTA_OK; DELTA_ERR_ARG for a NULL opt, or version 0 or newer than DELTA_DIFF_OPTIONS_VERSION. */
DELTA_API delta_status delta_diff_options_init(delta_diff_options *opt, unsigned int version);

/* Diffs two images held in memory. *ops is freed with delta_ops_free. opt may be NULL: no memory
 * cap, threads picked, and no reference prediction (DELTA_ARCH_NONE, where the _INIT default is
 * AUTO).
 * Returns: DELTA_OK; DELTA_ERR_ARG for an opt of version 0 or newer, a NULL ops or count, or a NULL
 * source or target with a nonzero length; DELTA_ERR_LIMIT for a source of 2 GiB or more, or a
 * max_memory that is too small (see delta_diff_memory); DELTA_ERR_NOMEM. */
DELTA_API delta_status delta_diff(const uint8_t *source, size_t source_len,
                                  const uint8_t *target, size_t target_len,
                                  const delta_diff_options *opt, delta_op **ops,
                                  size_t *count);
/* Frees what delta_diff returned (NULL is fine). */
DELTA_API void delta_ops_free(delta_op *ops);

/* Peak working memory delta_diff needs for these sizes (bytes), an upper
 * bound: 4 * source_len (int32 suffix array) + 261 KiB (sort buckets) +
 * 64 * (target_len / 9 + 2) (anchors and ops; real diffs need far fewer).
 * With opt->max_memory below the suffix array and buckets, matching runs
 * in source windows; delta_diff returns DELTA_ERR_LIMIT when the cap is too
 * small even for the smallest window (64 KiB of source: a cap under about
 * 690 KiB), or when the op list would exceed it. Sources must be under
 * 2 GiB (DELTA_ERR_LIMIT).
 * With reference prediction (opt->arch, when it applies to the source) the
 * matching runs twice and the second run also holds a copy of the source
 * with its references moved: add source_len, and count twice the time.
 * Cannot fail. */
DELTA_API uint64_t delta_diff_memory(size_t source_len, size_t target_len);

/* --- BSDIFF40 interop (Colin Percival's format, as Debian's bsdiff 4.3) --- */

/* Writes a BSDIFF40 patch for the ops (bzip2 streams) into out (appending).
 * Returns: DELTA_OK; DELTA_ERR_ARG for a NULL out, a NULL source, target or ops with a nonzero
 * length, or ops that do not tile the target or copy past the source; DELTA_ERR_LIMIT for a target
 * of 2 GiB or more; DELTA_ERR_NOMEM; DELTA_ERR_INTERNAL when bzip2 fails. */
DELTA_API delta_status delta_bsdiff40_write(const uint8_t *source, size_t source_len,
                                            const uint8_t *target, size_t target_len,
                                            const delta_op *ops, size_t count,
                                            delta_buf *out);

/* Applies a BSDIFF40 patch, streaming: source and patch by random access,
 * target written in order through out. DELTA_ERR_PATCH on a malformed or
 * hostile patch (every control value checked). *target_len receives the size (on success only).
 * Returns: DELTA_OK; DELTA_ERR_ARG for a NULL target_len, an unusable source, patch or sink table,
 * or a source over INT64_MAX bytes; DELTA_ERR_PATCH; DELTA_ERR_PACKAGE_READ when the patch's read
 * fails; DELTA_ERR_INPUT when the source's read fails; DELTA_ERR_WRITE (DELTA_ERR_WRITE_NOSPACE
 * for DELTA_IO_NOSPACE) when out->write fails, where delta_apply_out_of_place says
 * DELTA_ERR_OUTPUT; DELTA_ERR_NOMEM; DELTA_ERR_INTERNAL when bzip2 cannot start. */
DELTA_API delta_status delta_bsdiff40_apply(const delta_source *source,
                                            const delta_source *patch,
                                            const delta_sink *out, uint64_t *target_len);

#ifdef __cplusplus
}
#endif
#endif
