/*
 * libdelta: the callbacks through which every byte moves.
 *
 * The engine does no I/O of its own. A package, a source image, a flash
 * region and the update's persistent state are all reached through these
 * small callback tables with a void *ctx, so the same code runs against
 * files (libdelta/fileio.h), memory, or a simulated flash that cuts power.
 *
 * Callbacks return 0 on success or a delta_io_result; a read must fill
 * exactly len bytes or fail. A callback that fails may say why in its own
 * words with delta_error_set (libdelta/common.h) just before it returns:
 * the library's message for the failure then ends with them.
 *
 * Versions. Each table starts with a version (SQLite's iVersion): set it to
 * the table's DELTA_*_VERSION (or start from its _INIT macro, or call its
 * _init()), so that a library that grows a table knows which fields the
 * caller filled. A table with version 0 or one newer than the library's is
 * refused with DELTA_ERR_ARG before any callback is called.
 *
 * Ownership. The caller owns every table and its ctx; the library never
 * frees or copies a ctx. Nothing in this header allocates.
 *
 * Lifetimes. The library keeps a table's pointer only for the call it is
 * given to, except that a delta_zip or delta_package keeps the pointer to
 * its source (the delta_source struct itself, not a copy) for its own
 * lifetime: the caller keeps that struct, at the same address, and its ctx
 * alive until the matching _free. A callback's buf is valid only during
 * that callback.
 *
 * Thread safety. Within one call, callbacks are called from the caller's
 * thread, one at a time, never concurrently (not from the threads that
 * delta_diff and delta_patch_make start; those call no callback). They need
 * no locking unless the caller shares their ctx with other threads, or
 * shares an object that keeps a source (a delta_package, libdelta/package.h)
 * between threads: then that source's read may run in two threads at once.
 */
#ifndef LIBDELTA_IO_H
#define LIBDELTA_IO_H

#include "libdelta/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum delta_io_result {
    DELTA_IO_OK = 0,
    DELTA_IO_ERROR = 1,   /* EIO or any other failure */
    DELTA_IO_NOSPACE = 2, /* ENOSPC */
    DELTA_IO_SHORT = 3    /* fewer bytes than asked */
} delta_io_result;

/* A random-access, read-only byte source: a package or a source image. */
#define DELTA_SOURCE_VERSION 1
typedef struct delta_source {
    unsigned int version; /* DELTA_SOURCE_VERSION */
    void *ctx;
    uint64_t size;
    int (*read)(void *ctx, uint64_t off, void *buf, size_t len);
} delta_source;

/* A random-access writer: the out-of-place target. */
#define DELTA_SINK_VERSION 1
typedef struct delta_sink {
    unsigned int version; /* DELTA_SINK_VERSION */
    void *ctx;
    int (*write)(void *ctx, uint64_t off, const void *buf, size_t len);
} delta_sink;

/*
 * A flash region updated in place. Writes never cross an erase block of
 * the patch's block size. Data written is durable only after sync; a power
 * cut may drop unsynced writes and tear the write in progress.
 */
#define DELTA_FLASH_VERSION 1
typedef struct delta_flash {
    unsigned int version; /* DELTA_FLASH_VERSION */
    void *ctx;
    uint64_t size;     /* bytes the image holds now */
    uint64_t capacity; /* bytes the region can hold (UINT64_MAX: no limit) */
    /* The medium's erase block in bytes (0: not stated, as for a file). A
     * patch whose block size is not a multiple of it is refused before any
     * write (DELTA_ERR_SLOT, 511): each of its blocks must erase alone. */
    uint32_t erase_size;
    int (*read)(void *ctx, uint64_t off, void *buf, size_t len);
    int (*write)(void *ctx, uint64_t off, const void *buf, size_t len);
    int (*sync)(void *ctx);
    /* Sets the image's final size (a file's truncate); NULL for raw flash. */
    int (*resize)(void *ctx, uint64_t size);
} delta_flash;

/*
 * The update's persistent state beside the image: a small journal that is
 * replaced atomically, and a scratch area for stashed blocks.
 */
#define DELTA_STORE_VERSION 1
typedef struct delta_store {
    unsigned int version; /* DELTA_STORE_VERSION */
    void *ctx;
    uint64_t free_bytes; /* space available for journal + scratch (UINT64_MAX: unknown) */
    /* Reads the journal into buf; *len = 0 when there is none. */
    int (*journal_read)(void *ctx, void *buf, size_t cap, size_t *len);
    /* Replaces the journal atomically and durably (write temp, fsync, rename, fsync dir). */
    int (*journal_write)(void *ctx, const void *buf, size_t len);
    /* Removes the journal and the scratch area; the update is over. */
    int (*journal_remove)(void *ctx);
    int (*scratch_read)(void *ctx, uint64_t off, void *buf, size_t len);
    int (*scratch_write)(void *ctx, uint64_t off, const void *buf, size_t len);
    int (*scratch_sync)(void *ctx);
} delta_store;

/* Tables with only their version set (every callback NULL, every size 0):
 * fill the rest. The macros are for a static or automatic table, the
 * functions for one a caller gets from elsewhere.
 * Returns: DELTA_OK; DELTA_ERR_ARG for a NULL table, or version 0 or newer
 * than the table's DELTA_*_VERSION (the table is then left as it was). */
#define DELTA_SOURCE_INIT {DELTA_SOURCE_VERSION, NULL, 0, NULL}
#define DELTA_SINK_INIT {DELTA_SINK_VERSION, NULL, NULL}
#define DELTA_FLASH_INIT {DELTA_FLASH_VERSION, NULL, 0, 0, 0, NULL, NULL, NULL, NULL}
#define DELTA_STORE_INIT {DELTA_STORE_VERSION, NULL, 0, NULL, NULL, NULL, NULL, NULL, NULL}
DELTA_API delta_status delta_source_init(delta_source *src, unsigned int version);
DELTA_API delta_status delta_sink_init(delta_sink *sink, unsigned int version);
DELTA_API delta_status delta_flash_init(delta_flash *flash, unsigned int version);
DELTA_API delta_status delta_store_init(delta_store *store, unsigned int version);

/* A source over a caller's memory (no copy): data must outlive every use of
 * *src. Its read is safe from several threads at once. Never fails. */
DELTA_API void delta_source_from_memory(delta_source *src, const void *data, size_t len);

#ifdef __cplusplus
}
#endif
#endif
