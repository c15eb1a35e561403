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

DELTA_API delta_status delta_zip_writer_new(delta_zip_writer **out);
/* Adds a stored member; the data is copied. Names must pass delta_zip_name_ok. */
DELTA_API delta_status delta_zip_writer_add(delta_zip_writer *w, const char *name,
                                            const void *data, size_t len);
/* Writes the whole archive into out (appending). The writer stays valid only for _free. */
DELTA_API delta_status delta_zip_writer_finish(delta_zip_writer *w, delta_buf *out);
DELTA_API void delta_zip_writer_free(delta_zip_writer *w);

typedef struct delta_zip_member {
    char name[DELTA_ZIP_MAX_NAME + 1];
    uint64_t size;        /* uncompressed == compressed: members are stored */
    uint32_t crc32;
    uint64_t data_offset; /* where the member's bytes start in the archive */
} delta_zip_member;

typedef struct delta_zip delta_zip;

/* Opens and checks an archive. The source must outlive the returned reader. */
DELTA_API delta_status delta_zip_open(const delta_source *archive, delta_zip **out);
DELTA_API size_t delta_zip_count(const delta_zip *zip);
DELTA_API const delta_zip_member *delta_zip_member_at(const delta_zip *zip, size_t index);
/* NULL when there is no member of that name. */
DELTA_API const delta_zip_member *delta_zip_find(const delta_zip *zip, const char *name);
/* Random access inside a member: exactly len bytes at off (bounds checked). */
DELTA_API delta_status delta_zip_read(const delta_zip *zip, const delta_zip_member *m,
                                      uint64_t off, void *buf, size_t len);
/* Reads a whole member through libzip, checks its CRC-32 and returns its SHA-256. */
DELTA_API delta_status delta_zip_hash_member(const delta_zip *zip, const delta_zip_member *m,
                                             uint8_t sha256[DELTA_SHA256_LEN]);
/* A delta_source view of one member (valid while zip lives). */
DELTA_API void delta_zip_member_source(const delta_zip *zip, const delta_zip_member *m,
                                       delta_source *out);
DELTA_API void delta_zip_free(delta_zip *zip);

/* 1 when a member name is acceptable: 1..128 bytes of [A-Za-z0-9._/-], no
 * leading '/', no "..", no "//", no trailing '/'. */
DELTA_API int delta_zip_name_ok(const char *name, size_t len);

#ifdef __cplusplus
}
#endif
#endif
