/*
 * libdelta: file adapters for the I/O callbacks (POSIX).
 *
 * The only part of the library that touches files. A device port replaces
 * it with its own flash and file-system callbacks; the engine is unchanged.
 */
#ifndef LIBDELTA_FILEIO_H
#define LIBDELTA_FILEIO_H

#include "libdelta/io.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct delta_file delta_file;

/* Opens a regular file or a block device read-only as a source (pread).
 * DELTA_ERR_INPUT on failure, and at once for a FIFO, pipe, socket or
 * character device ("not a regular file or block device"). */
DELTA_API delta_status delta_file_source_open(const char *path, delta_source *src, delta_file **out);

/* Creates or truncates a file as a sink (pwrite). DELTA_ERR_OUTPUT on failure. */
DELTA_API delta_status delta_file_sink_open(const char *path, delta_sink *sink, delta_file **out);

/* Opens an image file (or block device) read-write as a flash region.
 * capacity: the region's size limit (UINT64_MAX for a growing regular file;
 * a block device's size is used when smaller). */
DELTA_API delta_status delta_file_flash_open(const char *path, uint64_t capacity,
                                             delta_flash *flash, delta_file **out);

/* Syncs a sink's data to disk. */
DELTA_API delta_status delta_file_sync(delta_file *f);

/* Closes any of the above (NULL is fine). */
DELTA_API void delta_file_close(delta_file *f);

typedef struct delta_dir_store delta_dir_store;

/* Opens (creating when create != 0) a state directory holding "journal"
 * and "scratch". free_bytes is the file system's free space (statvfs). */
DELTA_API delta_status delta_dir_store_open(const char *dir, int create, delta_store *store,
                                            delta_dir_store **out);
/* 1 when the directory holds a journal. */
DELTA_API int delta_dir_store_has_journal(const char *dir);
/* Closes; with remove_dir, removes the directory when it is empty. */
DELTA_API void delta_dir_store_close(delta_dir_store *s, int remove_dir);

/* Reads a whole (small) file into buf, at most max bytes (DELTA_ERR_INPUT / _LIMIT).
 * A pipe or FIFO is read to its end; a FIFO with no writer reads as empty
 * (the open never waits for a writer). */
DELTA_API delta_status delta_file_read_all(const char *path, uint64_t max, delta_buf *buf);

/* Maps a whole file read-only (host tools: diff inputs). A pipe or FIFO
 * (process substitution) is read to its end instead, as read_all does. */
DELTA_API delta_status delta_file_map(const char *path, const uint8_t **data, size_t *len,
                                      delta_file **out);

#ifdef __cplusplus
}
#endif
#endif
