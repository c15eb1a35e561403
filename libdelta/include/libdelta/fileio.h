/*
 * libdelta: file adapters for the I/O callbacks (POSIX).
 *
 * The only part of the library that touches files. A device port replaces
 * it with its own flash and file-system callbacks; the engine is unchanged.
 * The callbacks these adapters fill say why they fail through
 * delta_error_set (errno's text).
 *
 * Ownership. Each _open allocates *out (a delta_file or delta_dir_store),
 * freed with delta_file_close / delta_dir_store_close (NULL is fine); on
 * failure *out is NULL and the table is untouched. delta_file_read_all
 * replaces buf's contents (buf->len starts again at 0; its allocation is
 * reused): on failure buf may hold part of the file; free it with
 * delta_buf_free either way.
 *
 * Lifetimes. The table an _open fills has *out as its ctx: it is valid until
 * delta_file_close / delta_dir_store_close, so close only after everything
 * that keeps the table (a delta_package over a file source) is freed. The
 * bytes delta_file_map gives are valid until delta_file_close of its *out; a
 * mapped file that something else changes or truncates meanwhile may show
 * other bytes or fault (SIGBUS). Paths and parameter structs are used only
 * during the call (a store copies its directory's name).
 *
 * Thread safety. No shared state. A file source reads with pread, safe from
 * several threads at once (a delta_package over it may be shared,
 * libdelta/package.h); a sink and a flash write with pwrite, but one flash
 * is for one update at a time. A delta_dir_store keeps state (descriptors
 * it opens on first use): one thread at a time, and one store per state
 * directory (nothing locks it). delta_file_update calls its progress and
 * flash_hook callbacks on the caller's thread.
 */
#ifndef LIBDELTA_FILEIO_H
#define LIBDELTA_FILEIO_H

#include "libdelta/update.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct delta_file delta_file;

/* Opens a regular file or a block device read-only as a source (pread).
 * DELTA_ERR_INPUT on failure, and at once for a FIFO, pipe, socket or
 * character device ("not a regular file or block device"). Its size is the
 * file's at open.
 * Returns: DELTA_OK; DELTA_ERR_INPUT (cannot open or stat, a directory, not
 * a regular file or block device, a device size unknown); DELTA_ERR_NOMEM. */
DELTA_API delta_status delta_file_source_open(const char *path, delta_source *src, delta_file **out);

/* Creates or truncates a file as a sink (pwrite). DELTA_ERR_OUTPUT on failure.
 * Returns: DELTA_OK; DELTA_ERR_OUTPUT (cannot create); DELTA_ERR_NOMEM. */
DELTA_API delta_status delta_file_sink_open(const char *path, delta_sink *sink, delta_file **out);

/* Opens an image file (or block device) read-write as a flash region.
 * capacity: the region's size limit (UINT64_MAX for a growing regular file;
 * a block device's size is used when smaller). The flash states no
 * erase_size (0), and has no resize for a block device.
 * Returns: DELTA_OK; DELTA_ERR_INPUT (cannot open read-write or stat, not a
 * regular file or block device, a device size unknown or block devices not
 * supported here); DELTA_ERR_NOMEM. */
DELTA_API delta_status delta_file_flash_open(const char *path, uint64_t capacity,
                                             delta_flash *flash, delta_file **out);

/* Syncs a sink's or a flash's data to disk (fdatasync).
 * Returns: DELTA_OK (also for a mapping: nothing to sync); DELTA_ERR_ARG for a NULL f;
 * DELTA_ERR_SYNC for a flash, DELTA_ERR_OUTPUT for any other file, when the sync fails. */
DELTA_API delta_status delta_file_sync(delta_file *f);

/* Closes any of the above, and unmaps a delta_file_map (NULL is fine). Its table is then dead. */
DELTA_API void delta_file_close(delta_file *f);

typedef struct delta_dir_store delta_dir_store;

/*
 * Opens the state directory dir ("journal", "journal.tmp", "scratch") as a
 * store. Nothing is created here: the directory is made, durably, by the
 * store's first write, and removed by journal_remove. An existing dir must
 * be ours: a directory (not a symbolic link), owned by this user, not
 * writable by others, holding nothing but those names (DELTA_ERR_INPUT
 * otherwise). free_bytes is its file system's free space (statvfs).
 * Returns: DELTA_OK; DELTA_ERR_ARG for a NULL or empty dir; DELTA_ERR_INPUT
 * (a symbolic link or not a directory, not ours as above, a parent that is
 * not a directory, or it cannot be stat'ed, opened or listed);
 * DELTA_ERR_NOMEM.
 */
DELTA_API delta_status delta_dir_store_open(const char *dir, delta_store *store, delta_dir_store **out);
/* 1 when the directory holds a journal (an update is in progress), else 0 (also when it cannot be
 * opened). */
DELTA_API int delta_dir_store_has_journal(const char *dir);
/* Closes the store (NULL is fine); the directory and its files stay. */
DELTA_API void delta_dir_store_close(delta_dir_store *s);

/* Renames tmp over path and syncs path's directory, so that the new file is
 * durably there (DELTA_ERR_OUTPUT).
 * Returns: DELTA_OK; DELTA_ERR_OUTPUT when the rename or the sync fails. */
DELTA_API delta_status delta_file_replace(const char *tmp, const char *path);

/* ---- the update session on files (libdelta/update.h) ---- */

/* One image file (or block device) of the device. */
typedef struct delta_file_image {
    const char *name;   /* the package's image name; NULL: the package's only image */
    const char *path;
    uint64_t capacity;  /* the region's size limit; UINT64_MAX: none (a block device's size is used) */
} delta_file_image;

#define DELTA_FILE_UPDATE_PARAMS_VERSION 1
typedef struct delta_file_update_params {
    unsigned int version;   /* DELTA_FILE_UPDATE_PARAMS_VERSION */
    const char *package;    /* the package file; NULL: resume the update in progress from its state */
    const delta_file_image *images;
    size_t image_count;
    int all_regions;        /* 1: an image the package does not update is refused (DELTA_ERR_ARG) */
    int check_only;         /* 1: run the checks only; nothing is written */
    int dry_run;            /* 1: nothing is synced and the journal stays in memory (a rehearsal on
                             * temporary copies: a power cut loses it; verifydelta --dry-run). A
                             * state_dir holding an update in progress is refused (DELTA_ERR_ARG) */
    const char *state_dir;  /* NULL: "<first image's path>.fota" */
    uint64_t free_space;    /* UINT64_MAX: the state directory's file system's free space */
    delta_check_options check;
    delta_progress_fn progress;
    void *progress_ctx;
    /* Called once per image after its file is opened: may put its own
     * callbacks in front of the file's (a bench module injecting faults),
     * keeping a copy of *flash to call through. NULL: none. */
    void (*flash_hook)(void *ctx, size_t image, delta_flash *flash);
    void *flash_hook_ctx;
} delta_file_update_params;

#define DELTA_FILE_UPDATE_PARAMS_INIT                                                                   \
    {DELTA_FILE_UPDATE_PARAMS_VERSION, NULL, NULL, 0, 0, 0, 0, NULL, UINT64_MAX, DELTA_CHECK_OPTIONS_INIT, NULL, \
     NULL, NULL, NULL}
/* *p = DELTA_FILE_UPDATE_PARAMS_INIT with this version.
 * Returns: DELTA_OK; DELTA_ERR_ARG for a NULL p, or version 0 or newer than
 * DELTA_FILE_UPDATE_PARAMS_VERSION. */
DELTA_API delta_status delta_file_update_params_init(delta_file_update_params *p, unsigned int version);

/*
 * delta_update_run on files: opens the package (read-only), the images
 * (read-write: nothing is written before every check has passed) and the
 * state directory, runs the session, closes. Two images on one file are
 * refused (DELTA_ERR_ARG), and state directories that are not ours
 * (DELTA_ERR_INPUT). A package that cannot be opened does not stop an update
 * in progress: it resumes from its state. result may be NULL.
 * Returns: DELTA_OK; DELTA_ERR_ARG for a NULL p, p or p->check of version 0
 * or newer, NULL images, an image_count of 0 or over 16, an empty state_dir,
 * or two images on one file; DELTA_ERR_INPUT when an image cannot be
 * stat'ed or opened, the package cannot be opened (and no update is in
 * progress), or the state directory is refused (delta_dir_store_open);
 * DELTA_ERR_NOMEM; every status of delta_update_run.
 */
DELTA_API delta_status delta_file_update(const delta_file_update_params *p, delta_update_result *result);

/* Reads a whole (small) file into buf, at most max bytes (DELTA_ERR_INPUT / _LIMIT).
 * A pipe or FIFO is read to its end; a FIFO with no writer reads as empty
 * (the open never waits for a writer). buf's contents are replaced (see Ownership).
 * Returns: DELTA_OK; DELTA_ERR_INPUT (cannot open, stat or read it, a
 * directory); DELTA_ERR_LIMIT when it holds more than max bytes; DELTA_ERR_NOMEM. */
DELTA_API delta_status delta_file_read_all(const char *path, uint64_t max, delta_buf *buf);

/* Maps a whole file read-only (host tools: diff inputs). A pipe or FIFO
 * (process substitution) is read to its end instead, as read_all does. An
 * empty file gives *data NULL and *len 0. On failure *data is NULL, *len 0.
 * Returns: DELTA_OK; DELTA_ERR_INPUT (cannot open, stat, map or read it, a
 * directory); DELTA_ERR_LIMIT (larger than the address space); DELTA_ERR_NOMEM. */
DELTA_API delta_status delta_file_map(const char *path, const uint8_t **data, size_t *len,
                                      delta_file **out);

/* ---- the dry run on temporary copies (verifydelta --dry-run) ---- */

#define DELTA_FILE_DRY_RUN_PARAMS_VERSION 1
typedef struct delta_file_dry_run_params {
    unsigned int version;           /* DELTA_FILE_DRY_RUN_PARAMS_VERSION */
    /* The package: a file, or (package NULL) package_len bytes in memory
     * (a package read from stdin), which the dry run writes to a temporary file. */
    const char *package;
    const void *package_data;
    size_t package_len;
    /* The device's images (1..DELTA_MANIFEST_MAX_IMAGES), as delta_file_update
     * takes them: each path is copied, then read only; the update runs on the copies. */
    const delta_file_image *sources;
    size_t source_count;
    /* Where the temporary directory goes; NULL: $TMPDIR when set and not empty, else /tmp. */
    const char *temp_dir;
    /* The device's checks; NULL: none beyond the package's own. Its free_space
     * is not used (delta_package_open has checked it): the rehearsal's state and
     * scratch go in the temporary directory, whose file system's free space counts. */
    const delta_check_options *check;
    delta_progress_fn progress;     /* NULL: none */
    void *progress_ctx;
} delta_file_dry_run_params;

#define DELTA_FILE_DRY_RUN_PARAMS_INIT \
    {DELTA_FILE_DRY_RUN_PARAMS_VERSION, NULL, NULL, 0, NULL, 0, NULL, NULL, NULL, NULL}

/* Fills *p with the defaults of DELTA_FILE_DRY_RUN_PARAMS_INIT for version (1..
 * DELTA_FILE_DRY_RUN_PARAMS_VERSION).
 * Returns: DELTA_OK; DELTA_ERR_ARG for p NULL or another version. */
DELTA_API delta_status delta_file_dry_run_params_init(delta_file_dry_run_params *p, unsigned int version);

/*
 * Rehearses the in-place update on temporary copies: makes a private
 * directory (mode 0700) under the temporary directory, copies every source
 * (and an in-memory package) into it, runs delta_file_update on the copies
 * with dry_run and all_regions (every check, the in-place applier, each
 * target's SHA-256 check; nothing synced, the journal in memory), and removes
 * the directory and everything in it on every path: success, refusal, failure
 * while writing. The sources and the package are never written.
 * result (NULL: not wanted) receives the session's result as delta_file_update
 * gives it. The call holds no state: concurrent calls on distinct copies are
 * safe (each has its own directory); the parameters need only live during it.
 *
 * Returns: DELTA_OK: every target was rebuilt and checked. DELTA_ERR_ARG: p NULL, its
 * version, no package or both a path and bytes, 0 or too many sources, a
 * source without a path, a temporary directory whose path is too long
 * (PATH_MAX with the names inside). DELTA_ERR_INPUT: a source cannot be
 * read. DELTA_ERR_OUTPUT: the temporary directory or a copy cannot be made,
 * or (after a successful run) removed. DELTA_ERR_NOMEM. Otherwise any status
 * of delta_file_update: the package's refusals (504, 505, 510, 511, 550) and
 * the failures while writing (502, 520-546).
 */
DELTA_API delta_status delta_file_dry_run(const delta_file_dry_run_params *p, delta_update_result *result);

#ifdef __cplusplus
}
#endif
#endif
