/*
 * libdelta: the zip container (formats/container.md).
 *
 * Writing uses libzip into memory: every member is stored (not deflated),
 * with a fixed timestamp, so the same inputs give the same bytes.
 * Reading is strict: libzip opens the archive with consistency checks and
 * an independent scan of the end record, the central directory and every
 * local header refuses anything ambiguous (see formats/container.md).
 * Every refusal is a 504 status (DELTA_ERR_ZIP, _MEMBER_NAME, _MEMBERS,
 * _MEMBER_DATA).
 *
 * Ownership. delta_zip_writer_new and delta_zip_open allocate *out, freed
 * with delta_zip_writer_free / delta_zip_free (both accept NULL); on failure
 * *out is NULL. Member data given to the writer is copied. The archive that
 * delta_zip_writer_finish appends to out is the caller's; on failure out->len
 * is unchanged (its capacity may have grown).
 *
 * Lifetimes. A delta_zip keeps the pointer to its archive source: the
 * delta_source struct and its ctx must outlive the reader. The members that
 * delta_zip_member_at and delta_zip_find return, and the sources that
 * delta_zip_member_source fills (which read through the archive source),
 * are valid until delta_zip_free. Strings given to the writer are used only
 * during the call.
 *
 * Thread safety. libzip keeps state in each handle (libzip 1.x: distinct
 * handles may be used from distinct threads). A delta_zip_writer is used by
 * one thread at a time. On one delta_zip, count, member_at, find,
 * member_source and delta_zip_read only read the reader's memory and call
 * the archive's read, so they may run in several threads at once when that
 * read may; delta_zip_hash_member, though it takes a const reader, goes
 * through libzip's handle (its open file, its position, the failure count):
 * never two of those at once on one delta_zip.
 */
#ifndef LIBDELTA_CONTAINER_H
#define LIBDELTA_CONTAINER_H

#include "libdelta/io.h"

#ifdef __cplusplus
extern "C" {
#endif

#define DELTA_ZIP_MAX_MEMBERS 64
#define DELTA_ZIP_MAX_NAME 128
#define DELTA_ZIP_MAX_MEMBER_SIZE (UINT64_C(1) << 31) /* 2 GiB */

typedef struct delta_zip_writer delta_zip_writer;

/* Starts an archive in memory.
 * Returns: DELTA_OK; DELTA_ERR_ARG for a NULL out; DELTA_ERR_NOMEM (also when libzip cannot start). */
DELTA_API delta_status delta_zip_writer_new(delta_zip_writer **out);
/* Adds a stored member; the data is copied. Names must pass delta_zip_name_ok.
 * Returns: DELTA_OK; DELTA_ERR_ARG for a NULL w or name, NULL data with a nonzero len, a finished
 * writer, a name delta_zip_name_ok refuses or one added before; DELTA_ERR_LIMIT for a 65th member,
 * a member over 2 GiB or an archive that would pass 4 GiB; DELTA_ERR_NOMEM; DELTA_ERR_INTERNAL
 * when libzip fails (the writer is then good only for _free). */
DELTA_API delta_status delta_zip_writer_add(delta_zip_writer *w, const char *name,
                                            const void *data, size_t len);
/* Writes the whole archive into out (appending), after checking it with the strict reader. The
 * writer stays valid only for _free (but for the DELTA_ERR_ARG refusals, which change nothing).
 * Returns: DELTA_OK; DELTA_ERR_ARG for a NULL w or out, a writer finished already, or one with no
 * member; DELTA_ERR_NOMEM; DELTA_ERR_INTERNAL when libzip fails or the archive fails the reader. */
DELTA_API delta_status delta_zip_writer_finish(delta_zip_writer *w, delta_buf *out);
/* Frees the writer and whatever it holds (NULL is fine). */
DELTA_API void delta_zip_writer_free(delta_zip_writer *w);

typedef struct delta_zip_member {
    char name[DELTA_ZIP_MAX_NAME + 1];
    uint64_t size;        /* uncompressed == compressed: members are stored */
    uint32_t crc32;
    uint64_t data_offset; /* where the member's bytes start in the archive */
} delta_zip_member;

typedef struct delta_zip delta_zip;

/* Opens and checks an archive. The source must outlive the returned reader. Member CRCs are not
 * checked here: delta_zip_hash_member does that.
 * Returns: DELTA_OK; DELTA_ERR_ARG for a NULL out or an unusable archive table; DELTA_ERR_ZIP (the
 * structure, or libzip refuses it), DELTA_ERR_MEMBER_NAME (an unsafe name), DELTA_ERR_MEMBERS (no
 * member, more than 64, a name twice); DELTA_ERR_INPUT when the archive's read fails;
 * DELTA_ERR_NOMEM. */
DELTA_API delta_status delta_zip_open(const delta_source *archive, delta_zip **out);
/* The members, in central directory order: their count (0 for a NULL zip), and member index (NULL
 * past the last). */
DELTA_API size_t delta_zip_count(const delta_zip *zip);
DELTA_API const delta_zip_member *delta_zip_member_at(const delta_zip *zip, size_t index);
/* The member called name, exactly (bytes compared); NULL when there is none, or zip or name is NULL. */
DELTA_API const delta_zip_member *delta_zip_find(const delta_zip *zip, const char *name);
/* Random access inside a member: exactly len bytes at off (bounds checked), straight from the
 * archive (not through libzip; no CRC check).
 * Returns: DELTA_OK; DELTA_ERR_ARG when m is not a member of zip, [off, off+len) is not inside it,
 * or buf is NULL with a nonzero len; DELTA_ERR_INPUT when the archive's read fails. */
DELTA_API delta_status delta_zip_read(const delta_zip *zip, const delta_zip_member *m,
                                      uint64_t off, void *buf, size_t len);
/* Reads a whole member through libzip, checks its CRC-32 and returns its SHA-256 (64 KiB malloc'd
 * for the call).
 * Returns: DELTA_OK; DELTA_ERR_ARG when m is not a member of zip or sha256 is NULL;
 * DELTA_ERR_MEMBER_DATA when its size or CRC-32 is wrong or libzip cannot read it; DELTA_ERR_INPUT
 * when the archive's read fails; DELTA_ERR_NOMEM; DELTA_ERR_INTERNAL when SHA-256 fails. */
DELTA_API delta_status delta_zip_hash_member(const delta_zip *zip, const delta_zip_member *m,
                                             uint8_t sha256[DELTA_SHA256_LEN]);
/* A delta_source view of one member (valid while zip lives); reads past the member's end fail
 * (DELTA_IO_SHORT). When m is not a member of zip, an empty source whose non-empty reads fail.
 * Nothing is done when out is NULL. Cannot fail. */
DELTA_API void delta_zip_member_source(const delta_zip *zip, const delta_zip_member *m,
                                       delta_source *out);
/* Frees the reader (NULL is fine); its members and member sources go with it. */
DELTA_API void delta_zip_free(delta_zip *zip);

/* 1 when a member name is acceptable, else 0: 1..128 bytes of [A-Za-z0-9._/-], no
 * leading '/', no "." or ".." component, no "//", no trailing '/'. name need not be
 * NUL-terminated (len bytes are read); NULL gives 0. */
DELTA_API int delta_zip_name_ok(const char *name, size_t len);

#ifdef __cplusplus
}
#endif
#endif
