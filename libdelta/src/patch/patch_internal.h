/* ldpatch1 internals shared by the reader, the prover and the appliers. */
#ifndef LIBDELTA_PATCH_INTERNAL_H
#define LIBDELTA_PATCH_INTERNAL_H

#include "common/internal.h"
#include "libdelta/patch.h"
#include "arch.h"
#include "lzrc.h"

#if DELTA_HAVE_LZMA
#include <lzma.h>
#endif

enum { CMD_BLOCK = 1, CMD_STASH = 2, CMD_FREE = 3, CMD_COMMIT = 4 };
enum { PIECE_COPY = 0, PIECE_LITERAL = 1 };
/* Stored bytes read from the patch at once, per stream (a device build may
 * make it smaller: it is workspace, three times). */
#ifndef DELTA_STREAM_INBUF
#define DELTA_STREAM_INBUF 4096
#endif
#define STREAM_INBUF DELTA_STREAM_INBUF
/* LZRC streams (the device codec) read 64 bytes at a time on every build, so
 * that the workspace a patch declares is the one a device needs. */
#define LZRC_INBUF 64
size_t dlt_patch_inbuf(const delta_patch_info *info);

/* One segment table entry, with where its streams start in the patch. */
typedef struct seg_entry {
    uint64_t first_op, end_op; /* commands [first_op, end_op) */
    uint32_t size[3], raw[3];  /* ctrl, diff, extra */
    uint32_t crc;
    uint64_t data_offset;      /* offset of the ctrl stream in the patch */
} seg_entry;

/* Reads entry i; derives data_offset by summing the earlier entries (O(i)). */
delta_status dlt_patch_segment(const delta_source *patch, const delta_patch_info *info, uint32_t i,
                           seg_entry *seg);
/* Reads entry prev_index + 1 given entry prev_index (O(1)): walking the
 * segments in order must not cost O(segments^2) reads on hostile patches. */
delta_status dlt_patch_segment_after(const delta_source *patch, const delta_patch_info *info, uint32_t prev_index,
                                 const seg_entry *prev, seg_entry *seg);
/* first_op of entry i only (O(1)). */
delta_status dlt_patch_segment_first_op(const delta_source *patch, uint32_t i, uint64_t *first_op);

/* A bump allocator over caller memory, reset per segment. */
typedef struct arena {
    uint8_t *base;
    size_t size, used;
#if DELTA_HAVE_LZMA
    lzma_allocator alloc;
#endif
} arena;
void dlt_arena_init(arena *a, void *mem, size_t size);
void *dlt_arena_take(arena *a, size_t n);

/* One of a segment's three streams, decompressed on the fly. */
typedef struct pstream {
    const delta_source *patch;
    uint64_t off, end;   /* stored bytes still to read: [off, end) */
    uint64_t raw_left;   /* raw bytes not yet returned */
    int lzma;            /* 1 when LZMA2 */
#if DELTA_HAVE_LZMA
    lzma_stream strm;
#endif
    lzrc_dec *lz;        /* LZRC: its decoder (arena), else NULL */
    size_t in_pos, in_len; /* LZRC: the bytes of in not yet used */
    int in_err;          /* LZRC: the input ran out or could not be read */
    delta_status in_status;
    size_t in_cap;       /* dlt_patch_inbuf() */
    uint8_t *in;         /* in_cap bytes (arena) */
} pstream;

delta_status dlt_pstream_open(pstream *s, const delta_source *patch, const delta_patch_info *info,
                          uint64_t off, uint32_t stored, uint32_t raw, arena *ar);
/* Exactly len bytes, or DELTA_ERR_PATCH (past the stream, corrupt data). */
delta_status dlt_pstream_read(pstream *s, void *buf, size_t len);
/* Skips len bytes. */
delta_status dlt_pstream_skip(pstream *s, uint64_t len, uint8_t *tmp, size_t tmp_len);
/* DELTA_OK when the stream is wholly consumed and its data fully used. */
delta_status dlt_pstream_finish(pstream *s);
void dlt_pstream_close(pstream *s);

/* A piece of a BLOCK command. */
typedef struct piece {
    uint32_t kind;
    uint64_t len;
    uint64_t src; /* COPY only */
    uint64_t dst; /* target offset */
} piece;

/* Decoding state across a patch: segments, streams, the current command. */
typedef struct pcursor {
    const delta_source *patch;
    const delta_patch_info *info;
    arena ar;
    size_t arena_mark;
    uint32_t seg_index;
    seg_entry seg;
    int open;
    pstream st[3];     /* ctrl, diff, extra */
    uint64_t op;       /* index of the next command */
    int64_t shift;     /* src - dst of the previous COPY */
    uint32_t arch;     /* the segment's transform (ARCH_NONE without PREDICT) */
    arch_map map;      /* its reference map (arena) */
    /* The current BLOCK: */
    uint64_t block, block_len, block_done;
} pcursor;

typedef struct pcmd {
    int type;
    uint64_t a, b; /* BLOCK: a = block; STASH: a = block, b = slot; FREE: a = slot */
} pcmd;

/* workspace: the decoders' arena (delta_apply_workspace_size minus buffers). */
void dlt_pcursor_init(pcursor *c, const delta_source *patch, const delta_patch_info *info,
                  void *mem, size_t mem_size);
/* Positions the cursor so that the next command is `op` (op <= op_count). */
delta_status dlt_pcursor_seek(pcursor *c, uint64_t op);
/* Reads the next command; for BLOCK, pieces follow through pcursor_piece. */
delta_status dlt_pcursor_next(pcursor *c, pcmd *cmd);
/* Next piece of the current BLOCK (*more = 0 when the block is covered). */
delta_status dlt_pcursor_piece(pcursor *c, piece *p, int *more);
/* Reads a piece's data whole (len == p->len) from the diff (COPY) or extra
 * (LITERAL) stream; a literal's is undone from the segment's transform. */
delta_status dlt_pcursor_data(pcursor *c, const piece *p, void *buf, size_t len);
/* COPY piece: turns its p->len source bytes in buf into its target bytes
 * (prediction, then the diff stream's bytes added); tmp holds p->len bytes. */
delta_status dlt_pcursor_copy(pcursor *c, const piece *p, uint8_t *buf, uint8_t *tmp);
/* Checks the current segment is wholly consumed (at its end). */
delta_status dlt_pcursor_close_segment(pcursor *c);
void dlt_pcursor_free(pcursor *c);

size_t dlt_patch_decoder_memory(const delta_patch_info *info);
uint64_t dlt_patch_block_len(const delta_patch_info *info, uint64_t k);
uint64_t dlt_patch_block_count(uint64_t size, uint32_t block_size);

#endif
