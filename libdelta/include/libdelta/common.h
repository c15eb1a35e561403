/*
 * libdelta: status codes, error reporting, buffers and version.
 *
 * Every fallible function returns a delta_status and writes its results
 * through out-parameters. On failure a detailed, human-readable message is
 * available from delta_last_error() on the same thread until the next
 * failure. Each status maps to exactly one DFOTA result code
 * (delta_dfota_code), which the tools turn into their exit status.
 *
 * Status values are a stable contract: never renumbered, only added.
 *
 * Versioned structs. Every options or parameters struct and every callback
 * table starts with `unsigned int version` (libgit2's GIT_*_OPTIONS_VERSION,
 * SQLite's iVersion). Start one from its _INIT macro, or call its _init()
 * with its DELTA_*_VERSION (which fills the same defaults), then set the
 * fields you need: a struct filled positionally or zeroed breaks when the
 * struct grows. Entry points refuse version 0 (not initialised) and versions
 * newer than the library's with DELTA_ERR_ARG, before doing anything; a
 * later library keeps accepting the versions it accepted before.
 */
#ifndef LIBDELTA_COMMON_H
#define LIBDELTA_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "libdelta/version.h"

#if defined(_WIN32)
#define DELTA_API __declspec(dllexport)
#elif defined(__GNUC__)
#define DELTA_API __attribute__((visibility("default")))
#else
#define DELTA_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

typedef enum delta_status {
    DELTA_OK = 0,

    /* Outside the DFOTA contract (tools exit 1). */
    DELTA_ERR_ARG = 1,      /* invalid argument: a caller's mistake */
    DELTA_ERR_INPUT = 2,    /* a local input (file, callback) could not be read */
    DELTA_ERR_OUTPUT = 3,   /* a local output could not be written (mkdelta) */
    DELTA_ERR_LIMIT = 4,    /* an input exceeds a documented limit of the maker */
    DELTA_ERR_KEY = 5,      /* a signing or verification key cannot be used */
    DELTA_ERR_CANCELLED = 6, /* a progress callback asked to stop */

    /* 504: something is wrong with the package file. */
    DELTA_ERR_ZIP = 10,            /* zip structure */
    DELTA_ERR_MEMBER_NAME = 11,    /* a member name is unsafe or malformed */
    DELTA_ERR_MEMBERS = 12,        /* members missing, extra or duplicated */
    DELTA_ERR_MEMBER_DATA = 13,    /* a member's CRC, size or SHA-256 is wrong */
    DELTA_ERR_SIGNATURE = 14,      /* signature missing or not valid */
    DELTA_ERR_MANIFEST = 15,       /* manifest malformed */
    DELTA_ERR_FORMAT_VERSION = 16, /* format version not supported */
    DELTA_ERR_PATCH = 17,          /* patch stream malformed */
    DELTA_ERR_PLAN = 18,           /* in-place plan fails the proof */

    /* 505: the package is for another project or version. */
    DELTA_ERR_PROJECT = 20,
    DELTA_ERR_VERSION = 21,

    /* 510: the delta does not match the source firmware. */
    DELTA_ERR_SOURCE = 30,
    DELTA_ERR_OTHER_UPDATE = 31, /* an update with another package is in progress */

    /* 511: not enough space. */
    DELTA_ERR_SPACE = 40, /* state and scratch do not fit the free space */
    DELTA_ERR_SLOT = 41,  /* the target does not fit its region */

    /* 550: the package is too large. */
    DELTA_ERR_TOO_LARGE = 50,

    /* 502 / 520-530 / 540-546: failures while writing. */
    DELTA_ERR_NOMEM = 60,         /* 502: out of memory */
    DELTA_ERR_INTERNAL = 61,      /* 502: an invariant broke */
    DELTA_ERR_WRITE = 62,         /* 520: writing the image failed */
    DELTA_ERR_WRITE_NOSPACE = 63, /* 521: the image medium is full */
    DELTA_ERR_SYNC = 64,          /* 522: syncing the image failed */
    DELTA_ERR_IMAGE_READ = 65,    /* 523: reading the image back failed */
    DELTA_ERR_STATE_WRITE = 66,   /* 524: journal or scratch write failed */
    DELTA_ERR_TARGET = 67,        /* 525: written image does not match the target */
    DELTA_ERR_PACKAGE_READ = 68,  /* 526: the package became unreadable mid-apply */
    DELTA_ERR_STATE_CORRUPT = 69, /* 540: the journal is corrupt */
    DELTA_ERR_ABANDONED = 70,     /* 545: five failed tries; image left at source */
    DELTA_ERR_UNRECOVERABLE = 71  /* 546: five failed tries; image partly written */
} delta_status;

/* Fixed text for a status ("delta does not match the source", ...). */
DELTA_API const char *delta_strerror(delta_status status);

/* The DFOTA result code of a status: 0 for DELTA_OK, 502..550 for the
 * contract's codes, -1 for statuses outside the contract. */
DELTA_API int delta_dfota_code(delta_status status);

/* The detailed message of the last failure on this thread ("" if none). */
DELTA_API const char *delta_last_error(void);

/* Clears the last failure message of this thread, and a message set with
 * delta_error_set that no failure has taken yet. */
DELTA_API void delta_clear_error(void);

/*
 * For callbacks (libgit2's git_error_set_str): a callback about to return a
 * failure says why in its own words, and the library's message for that
 * failure ends with them: "writing 4096 bytes at 8192 failed: bank 2 is
 * write-protected". The text is kept (up to 255 bytes) on this thread until
 * the library records its next failure, which takes it; so set it only on
 * the failure path, just before returning nonzero. A printf format. With
 * DELTA_ERROR_MESSAGES off (a bare-metal core) it does nothing.
 */
DELTA_API void delta_error_set(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

/* 1 for a failure while writing (DFOTA 502, 520-530, 540-546): the update
 * was under way; 0 for success and for refusals decided before any write. */
DELTA_API int delta_status_is_write_failure(delta_status status);

/* The library version string, e.g. "0.1.0". */
DELTA_API const char *delta_version(void);

/* A growable byte buffer owned by the caller; free with delta_buf_free. */
typedef struct delta_buf {
    uint8_t *data;
    size_t len;
    size_t cap;
} delta_buf;

#define DELTA_BUF_INIT {NULL, 0, 0}

DELTA_API delta_status delta_buf_append(delta_buf *buf, const void *data, size_t len);
DELTA_API delta_status delta_buf_reserve(delta_buf *buf, size_t extra);
DELTA_API void delta_buf_free(delta_buf *buf);

/* SHA-256 digest length and hex helpers. */
#define DELTA_SHA256_LEN 32
DELTA_API void delta_sha256(const void *data, size_t len, uint8_t out[DELTA_SHA256_LEN]);
DELTA_API void delta_hex(const uint8_t *bytes, size_t len, char *out /* 2*len+1 */);
/* Parses exactly 2*len lowercase hex digits; returns 0 on success. */
DELTA_API int delta_unhex(const char *hex, uint8_t *out, size_t len);

#ifdef __cplusplus
}
#endif
#endif
