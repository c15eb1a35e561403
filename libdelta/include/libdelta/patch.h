/*
 * libdelta: the ldpatch1 patch format (formats/patch.md) and its appliers.
 *
 * A patch rebuilds one target image from one source image. It is a list of
 * commands in *plan order*: each BLOCK command produces one erase block of
 * the target at an explicit position; STASH / FREE keep source blocks in a
 * bounded scratch area so that blocks may be written over the source in
 * place without ever reading a byte after it was overwritten. Commands are
 * grouped in independently compressed segments, so an interrupted update
 * resumes at its segment without decoding the patch from the start.
 *
 * This header is the device half (libdelta_core, libdelta/core.h): reading
 * and proving a patch, applying it out of place or in place, its journal,
 * and writing the source back. No file I/O; no malloc on the apply path
 * when given a workspace. Making patches is host-side: libdelta/encode.h.
 *
 * Ownership: nothing is allocated that outlives a call. With a NULL
 * workspace an applier mallocs one for the call and frees it before it
 * returns; delta_patch_prove does the same. The info, report, journal and
 * workspace are the caller's. A bare-metal core (no malloc) has no
 * delta_patch_prove and refuses a NULL workspace (DELTA_ERR_NOMEM).
 *
 * Lifetimes. The patch, source, sink, flash and store tables and their ctx
 * are used only during the call (libdelta/io.h); nothing is kept after it
 * returns. A workspace holds nothing of value between calls.
 *
 * Thread safety. Every function here runs on the caller's thread and starts
 * none; callbacks are called on that thread, one at a time. Calls on
 * distinct tables, journals and workspaces may run at once; one flash,
 * store, journal or workspace must not be used by two calls at once.
 *
 * Stack. delta_apply_in_place holds a journal record of DELTA_JOURNAL_CAP_SIZE
 * bytes on the stack while it saves one, delta_restore_in_place a
 * delta_journal (about as large); the rest is in the workspace.
 */
#ifndef LIBDELTA_PATCH_H
#define LIBDELTA_PATCH_H

#include "libdelta/io.h"

#ifdef __cplusplus
extern "C" {
#endif

#define DELTA_PATCH_MAGIC "LDPATCH1"
#define DELTA_PATCH_HEADER_SIZE 64
#define DELTA_PATCH_SEGMENT_ENTRY 36
#define DELTA_PATCH_MAX_IMAGE (UINT64_C(1) << 31) /* 2 GiB */
#define DELTA_PATCH_MAX_SEGMENTS 65536
#define DELTA_PATCH_MAX_STASH 1024        /* stash slots */
#define DELTA_PATCH_MAX_BATCH 256         /* blocks written per journal commit */
#define DELTA_PATCH_MAX_DICT (8u << 20)   /* LZMA2 dictionary cap: 8 MiB */
#define DELTA_PATCH_MAX_SEGMENT (64u << 20) /* raw bytes of one segment stream */

enum delta_compression {
    DELTA_COMPRESSION_NONE = 0,
    DELTA_COMPRESSION_LZMA2 = 1,
    DELTA_COMPRESSION_LZRC = 2 /* the device codec (formats/lzrc.md): small-window LZ77 + range coder */
};
/* LZRC window (the header's dict_size): a power of two in 256 .. 64 KiB. */
#define DELTA_LZRC_MIN_WINDOW 256u
#define DELTA_LZRC_MAX_WINDOW 65536u
enum delta_patch_flags {
    DELTA_PATCH_INPLACE = 1,
    DELTA_PATCH_PREDICT = 2 /* segments start with a preamble: transform id and reference map */
};


/* What a patch header declares, validated. */
typedef struct delta_patch_info {
    uint64_t source_size;
    uint64_t target_size;
    uint32_t block_size;
    uint32_t compression;    /* enum delta_compression */
    uint32_t flags;          /* enum delta_patch_flags */
    uint32_t dict_size;      /* LZMA2 dictionary (0 for none) */
    uint32_t segment_count;
    uint32_t stash_slots;    /* most source blocks stashed at once */
    uint32_t batch_blocks;   /* blocks the applier commits at once (1..256) */
    uint64_t op_count;       /* commands */
    uint32_t max_stream;     /* largest raw stream of any segment */
    uint32_t map_entries;    /* PREDICT: the largest reference map of any segment */
    /* Derived: what applying needs. */
    uint64_t scratch_bytes;  /* (2 * batch_blocks + stash_slots) * block_size: two pending areas */
    uint64_t state_bytes;    /* journal, twice (atomic replace), rounded to 4 KiB */
    uint64_t decoder_memory; /* delta_apply_workspace_size() */
} delta_patch_info;

/* Parses and validates the header and segment table (sizes, CRC, caps) into *info.
 * Returns: DELTA_OK; DELTA_ERR_ARG for a NULL info or an unusable patch table (NULL, version,
 * no read); DELTA_ERR_PATCH for a header or table that is malformed or over a cap;
 * DELTA_ERR_PACKAGE_READ when the patch's read fails. On failure *info is not meaningful. */
DELTA_API delta_status delta_patch_read_info(const delta_source *patch, delta_patch_info *info);

/* What the static proof of the plan found. */
typedef struct delta_plan_report {
    uint64_t blocks_written;   /* BLOCK commands: erase blocks written, worst case */
    uint64_t stashes;          /* STASH commands */
    uint32_t max_stash_live;   /* most stash slots in use at once */
    uint64_t self_reads;       /* blocks that read their own old content (pending copy) */
    uint64_t scratch_bytes;    /* worst-case scratch */
    uint64_t ram_bytes;        /* worst-case RAM of the applier (workspace) */
} delta_plan_report;

/*
 * Replays the whole plan without touching an image and proves: every
 * command is well formed, every target byte is produced exactly once or is
 * an unchanged source block, no source byte is read after its block was
 * overwritten unless it was stashed, stash slots are used consistently,
 * and the streams hold exactly the bytes the commands consume.
 * DELTA_ERR_PATCH for malformed streams, DELTA_ERR_PLAN for unsafe plans.
 * Memory: one bit per target block plus the decoder workspace, malloc'd for
 * the call. report may be NULL; it is written only on success.
 * Returns: DELTA_OK; every status of delta_patch_read_info; DELTA_ERR_PATCH
 * (a stream or command malformed, a segment CRC wrong); DELTA_ERR_PLAN (the
 * plan is unsafe); DELTA_ERR_PACKAGE_READ (the patch's read fails);
 * DELTA_ERR_NOMEM; DELTA_ERR_INTERNAL (an invariant of the decoder broke).
 */
DELTA_API delta_status delta_patch_prove(const delta_source *patch, delta_plan_report *report);

/* The same proof in the caller's memory, with no malloc (a device proves
 * the patch where it lies before any write): workspace of at least
 * delta_prove_workspace_size() bytes (the bitmaps, the slot tables and the
 * decoders; info from delta_patch_read_info; the size cannot fail).
 * delta_patch_prove is this with a malloc'd workspace.
 * Returns: as delta_patch_prove, but DELTA_ERR_ARG also for a NULL
 * workspace or one smaller than delta_prove_workspace_size(), and no
 * malloc (DELTA_ERR_NOMEM only if the decoders did not fit, not expected). */
DELTA_API size_t delta_prove_workspace_size(const delta_patch_info *info);
DELTA_API delta_status delta_patch_prove_static(const delta_source *patch, delta_plan_report *report,
                                                void *workspace, size_t workspace_size);

/* --- Device side: applying --- */

/* Bytes of workspace an apply (or restore) of this patch needs (decoders, buffers), for info from
 * delta_patch_read_info. Cannot fail. */
DELTA_API size_t delta_apply_workspace_size(const delta_patch_info *info);

/* Progress: done/total in commands; return nonzero to stop (DELTA_ERR_CANCELLED). Called on the
 * caller's thread. */
typedef int (*delta_progress_fn)(void *ctx, uint64_t done, uint64_t total);

/*
 * Out of place: source stays intact, target written through out (random
 * access). workspace may be NULL (malloc'd) or at least
 * delta_apply_workspace_size() bytes (no malloc). Neither the source's
 * content nor the target written is hashed here (a patch holds no SHA-256):
 * check them against the manifest (delta_package_check_source / _target). A
 * failure may leave part of the target written.
 * Returns: DELTA_OK; DELTA_ERR_ARG for an unusable source, sink or patch
 * table or a workspace that is too small; DELTA_ERR_PATCH and
 * DELTA_ERR_PACKAGE_READ as for delta_patch_read_info, and for a malformed
 * stream or command; DELTA_ERR_SOURCE when source->size is not the patch's
 * source size; DELTA_ERR_INPUT when the source's read fails;
 * DELTA_ERR_WRITE_NOSPACE (521) when out->write says DELTA_IO_NOSPACE and
 * DELTA_ERR_WRITE (520) when it fails otherwise, as for an in-place image
 * and a BSDIFF40 target; DELTA_ERR_NOMEM;
 * DELTA_ERR_INTERNAL.
 */
DELTA_API delta_status delta_apply_out_of_place(const delta_source *patch,
                                                const delta_source *source,
                                                const delta_sink *out, void *workspace,
                                                size_t workspace_size);

/*
 * The journal of an in-place update (formats/journal.md): the update
 * session's durable state (formats/update.md). The core reads and updates
 * the fields of the image being applied or restored; the session owns the
 * rest.
 */
enum delta_journal_state {
    DELTA_JOURNAL_APPLYING = 1, /* the upgrade flag: writing the target */
    DELTA_JOURNAL_ROLLBACK = 2  /* five tries failed: writing the source back */
};

/*
 * The slots a journal struct holds. The format's limits by default (11 KiB);
 * a device defines smaller caps, the same for the library and its caller
 * (like an mbedTLS config): a patch that needs more stash slots or a larger
 * batch than the caps is then refused before any write (DELTA_ERR_SPACE).
 */
#ifndef DELTA_JOURNAL_STASH_CAP
#define DELTA_JOURNAL_STASH_CAP DELTA_PATCH_MAX_STASH
#endif
#ifndef DELTA_JOURNAL_BATCH_CAP
#define DELTA_JOURNAL_BATCH_CAP DELTA_PATCH_MAX_BATCH
#endif

typedef struct delta_journal {
    uint8_t package_id[DELTA_SHA256_LEN]; /* SHA-256 of the manifest bytes */
    uint32_t state;           /* enum delta_journal_state */
    uint32_t image_index;     /* image being updated (or restored) */
    uint32_t flags;           /* DELTA_JOURNAL_* */
    uint32_t tries;           /* consecutive failed tries */
    uint64_t next_op;         /* commands < next_op are durably done, but for pending blocks */
    uint64_t next_block;      /* BLOCK commands before next_op: the next block's backup slot */
    uint32_t manifest_len;    /* bytes of the manifest copy in the state area */
    uint32_t stash_count;     /* slots in stash[] */
    uint32_t pending_count;   /* with DELTA_JOURNAL_PENDING: blocks whose new content is in scratch */
    uint64_t stash[DELTA_JOURNAL_STASH_CAP];          /* slot -> source block + 1, 0 = free */
    uint64_t pending_block[DELTA_JOURNAL_BATCH_CAP];  /* pending slot -> target block */
    uint32_t pending_crc[DELTA_JOURNAL_BATCH_CAP];    /* CRC-32 of its content */
} delta_journal;

enum delta_journal_flags {
    DELTA_JOURNAL_PENDING = 1,    /* scratch pending slots hold new blocks not yet (surely) in the image */
    DELTA_JOURNAL_WRITTEN = 2,    /* some image byte has been written */
    DELTA_JOURNAL_IMAGE_DONE = 4, /* image_index is complete and verified */
    DELTA_JOURNAL_TAIL_SAVED = 8, /* the source blocks past the target are in the backup */
    DELTA_JOURNAL_PENDING_B = 16  /* the pending blocks are in the second pending area */
};

#define DELTA_JOURNAL_MAGIC "LDJRNL03"
#define DELTA_JOURNAL_FIXED 88
/* The largest journal record (all slots used), and the largest this build's struct holds. */
#define DELTA_JOURNAL_MAX_SIZE (DELTA_JOURNAL_FIXED + 8 * DELTA_PATCH_MAX_STASH + 12 * DELTA_PATCH_MAX_BATCH + 4)
#define DELTA_JOURNAL_CAP_SIZE (DELTA_JOURNAL_FIXED + 8 * DELTA_JOURNAL_STASH_CAP + 12 * DELTA_JOURNAL_BATCH_CAP + 4)
/* Bytes of the record of a journal with these slot counts. Cannot fail. */
DELTA_API size_t delta_journal_size(uint32_t stash_count, uint32_t pending_count);
/* Writes the record of *j into buf (cap bytes) and its length to *len.
 * Returns: DELTA_OK; DELTA_ERR_ARG when j holds more slots than the caps or
 * cap is smaller than delta_journal_size() (buf and *len are then untouched). */
DELTA_API delta_status delta_journal_encode(const delta_journal *j, uint8_t *buf, size_t cap,
                                            size_t *len);
/* Reads a record into *j.
 * Returns: DELTA_OK; DELTA_ERR_STATE_CORRUPT unless buf is a whole,
 * well-formed record (and then *j is not meaningful). */
DELTA_API delta_status delta_journal_decode(const uint8_t *buf, size_t len, delta_journal *j);

/*
 * In place: turns the source image in flash into the target, resumably.
 * journal holds the state to start from (next_op 0 for a fresh image, or
 * what was loaded from the store); it is updated and written through the
 * store as batches complete. The caller has checked the source before a
 * fresh start. With a backup (backup_offset != DELTA_NO_BACKUP), the source
 * content of every block is kept in the scratch before it is overwritten
 * (formats/update.md), so that delta_restore_in_place can write the source
 * back. On success the image holds the target (SHA-256 checked against
 * target_sha256) and the journal has DELTA_JOURNAL_IMAGE_DONE. The progress
 * callback is called after each BLOCK command, and once more at the end
 * (whose return value is ignored). On failure *journal may be ahead of the
 * last record written to the store: resume from the store's record.
 */
#define DELTA_NO_BACKUP 0 /* backup_offset: no backup (offset 0 is never a backup slot) */

#define DELTA_APPLY_PARAMS_VERSION 1
typedef struct delta_apply_params {
    unsigned int version;   /* DELTA_APPLY_PARAMS_VERSION */
    const delta_source *patch;
    delta_flash *flash;
    delta_store *store;
    delta_journal *journal;
    const uint8_t *target_sha256;
    void *workspace;        /* NULL: malloc'd */
    size_t workspace_size;
    delta_progress_fn progress;
    void *progress_ctx;
    uint64_t scratch_base;  /* scratch offset of the pending and stash slots (0 alone) */
    uint64_t backup_offset; /* scratch offset of this image's backup slots; DELTA_NO_BACKUP (0): none */
} delta_apply_params;

#define DELTA_APPLY_PARAMS_INIT \
    {DELTA_APPLY_PARAMS_VERSION, NULL, NULL, NULL, NULL, NULL, NULL, 0, NULL, NULL, 0, DELTA_NO_BACKUP}
/* *p = DELTA_APPLY_PARAMS_INIT with this version.
 * Returns: DELTA_OK; DELTA_ERR_ARG for a NULL p, or version 0 or newer than DELTA_APPLY_PARAMS_VERSION. */
DELTA_API delta_status delta_apply_params_init(delta_apply_params *p, unsigned int version);

/* Applies (see above).
 * Returns: DELTA_OK;
 *   refusals before any write: DELTA_ERR_ARG (a NULL p, journal or target_sha256, a version 0 or
 *   newer, an unusable patch, flash or store table: flash needs read, write and sync, store all six
 *   callbacks; a workspace too small), DELTA_ERR_PATCH (header), DELTA_ERR_PLAN (no in-place plan),
 *   DELTA_ERR_SLOT (the target exceeds flash->capacity, or the block size is not a multiple of
 *   flash->erase_size), DELTA_ERR_SPACE (more stash slots or a larger batch than this build's
 *   DELTA_JOURNAL_*_CAP), DELTA_ERR_STATE_CORRUPT (the journal does not fit the patch),
 *   DELTA_ERR_NOMEM;
 *   while applying: DELTA_ERR_PATCH (a stream malformed), DELTA_ERR_PLAN (a batch larger than the
 *   header says), DELTA_ERR_CANCELLED (the progress callback returned nonzero), the write failures
 *   DELTA_ERR_WRITE / _WRITE_NOSPACE (flash write or resize) / _SYNC / _IMAGE_READ (flash read) /
 *   _STATE_WRITE (journal or scratch write or sync) / _PACKAGE_READ (the patch's read) /
 *   _STATE_CORRUPT (a scratch read fails, a pending block's CRC is wrong) / _INTERNAL, and
 *   DELTA_ERR_TARGET when the image written does not hash to target_sha256. */
DELTA_API delta_status delta_apply_in_place(const delta_apply_params *p);

/* Bytes of backup an image needs: a slot per source block past the target's
 * last block (the tail), then one per BLOCK command. block_size must be a
 * power of two (as every valid patch's is). Cannot fail. */
DELTA_API uint64_t delta_backup_bytes(uint64_t source_size, uint64_t target_size, uint32_t block_size,
                                      uint64_t blocks_written);

/*
 * Writes the source back over an image that delta_apply_in_place (with a
 * backup) has partly or wholly written: the backup slots of the BLOCK
 * commands before limit_op, then the saved tail when tail_saved, then the
 * image's size; then checks the source SHA-256 (DELTA_ERR_UNRECOVERABLE when
 * it differs). Idempotent: a power cut at any instant is mended by calling
 * it again. Workspace as for delta_apply_in_place. No progress callback.
 */
#define DELTA_RESTORE_PARAMS_VERSION 1
typedef struct delta_restore_params {
    unsigned int version;   /* DELTA_RESTORE_PARAMS_VERSION */
    const delta_source *patch;
    delta_flash *flash;
    delta_store *store;
    uint64_t limit_op;
    int tail_saved;
    uint64_t backup_offset;
    const uint8_t *source_sha256;
    void *workspace;
    size_t workspace_size;
} delta_restore_params;

#define DELTA_RESTORE_PARAMS_INIT {DELTA_RESTORE_PARAMS_VERSION, NULL, NULL, NULL, 0, 0, DELTA_NO_BACKUP, NULL, NULL, 0}
/* *p = DELTA_RESTORE_PARAMS_INIT with this version.
 * Returns: DELTA_OK; DELTA_ERR_ARG for a NULL p, or version 0 or newer than DELTA_RESTORE_PARAMS_VERSION. */
DELTA_API delta_status delta_restore_params_init(delta_restore_params *p, unsigned int version);

/* Restores (see above).
 * Returns: DELTA_OK (the image is the source again); DELTA_ERR_ARG (a NULL p or source_sha256,
 * backup_offset DELTA_NO_BACKUP, a version 0 or newer, an unusable patch, flash or store table, a
 * workspace too small); DELTA_ERR_PATCH and DELTA_ERR_PACKAGE_READ (the patch); DELTA_ERR_SLOT
 * (block size vs flash->erase_size); DELTA_ERR_SPACE (the journal caps); DELTA_ERR_STATE_CORRUPT
 * (limit_op past the patch, a scratch read fails); DELTA_ERR_NOMEM; DELTA_ERR_WRITE /
 * _WRITE_NOSPACE / _SYNC / _IMAGE_READ (the flash); DELTA_ERR_UNRECOVERABLE when the image
 * written back does not hash to source_sha256; DELTA_ERR_INTERNAL. */
DELTA_API delta_status delta_restore_in_place(const delta_restore_params *p);

#ifdef __cplusplus
}
#endif
#endif
