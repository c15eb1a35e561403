/*
 * libdelta: the callbacks through which every byte moves.
 *
 * The engine does no I/O of its own. A package, a source image, a flash
 * region and the update's persistent state are all reached through these
 * small callback tables with a void *ctx, so the same code runs against
 * files (libdelta/fileio.h), memory, or a simulated flash that cuts power.
 *
 * Callbacks return 0 on success or a delta_io_result; a read must fill
 * exactly len bytes or fail.
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
typedef struct delta_source {
    void *ctx;
    uint64_t size;
    int (*read)(void *ctx, uint64_t off, void *buf, size_t len);
} delta_source;

/* A random-access writer: the out-of-place target. */
typedef struct delta_sink {
    void *ctx;
    int (*write)(void *ctx, uint64_t off, const void *buf, size_t len);
} delta_sink;

/*
 * A flash region updated in place. Writes never cross an erase block of
 * the patch's block size. Data written is durable only after sync; a power
 * cut may drop unsynced writes and tear the write in progress.
 */
typedef struct delta_flash {
    void *ctx;
    uint64_t size;     /* bytes the image holds now */
    uint64_t capacity; /* bytes the region can hold (UINT64_MAX: no limit) */
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
typedef struct delta_store {
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

/* A source over a caller's memory (no copy). */
DELTA_API void delta_source_from_memory(delta_source *src, const void *data, size_t len);

#ifdef __cplusplus
}
#endif
#endif
