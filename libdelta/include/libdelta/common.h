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
 * later library keeps accepting the versions it accepted before. Every
 * _init() returns DELTA_OK, or DELTA_ERR_ARG for a NULL struct or such a
 * version (and then leaves the struct as it was).
 *
 * Ownership. Whatever a function returns through `delta_X **out` was
 * allocated by the library and is freed by the caller with the matching
 * delta_X_free (or _close), which accepts NULL; on failure *out is NULL
 * (each header says where this differs). A delta_buf output belongs to the
 * caller: the library appends to it (growing it with realloc) and the caller
 * frees it with delta_buf_free; whether a failure may leave part of a result
 * appended is said per function. The library never frees, keeps or writes
 * through a caller's pointer beyond what each function documents.
 *
 * Lifetimes. delta_last_error() points into a per-thread buffer that stays
 * valid while the thread lives; its text is replaced by the next failure on
 * that thread (copy it to keep it). A call that succeeds may still have
 * replaced it with a failure it recovered from: read it only after a failure.
 * delta_strerror() and delta_version() return static strings.
 *
 * Thread safety. The library has no global mutable state: the only state
 * outside the objects a caller holds is the last-error text and the text set
 * by delta_error_set, both per thread (_Thread_local, src/common/error.c).
 * So distinct objects may be used from distinct threads at once; one object
 * (a delta_buf here, a package or zip elsewhere) is used by one thread at a
 * time unless its header says otherwise. Every function of this header is
 * safe to call from any thread.
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

/* Fixed text for a status ("delta does not match the source", ...); "unknown status" for a value
 * that is no delta_status. Never NULL, static: never freed. */
DELTA_API const char *delta_strerror(delta_status status);

/* The DFOTA result code of a status: 0 for DELTA_OK, 502..550 for the
 * contract's codes, -1 for statuses outside the contract (DELTA_ERR_ARG ..
 * DELTA_ERR_CANCELLED), and 502 for a value that is no delta_status. */
DELTA_API int delta_dfota_code(delta_status status);

/* The detailed message of the last failure on this thread ("" if none, and always "" in a build with
 * DELTA_ERROR_MESSAGES off). Never NULL; see Lifetimes above. */
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
 * DELTA_ERROR_MESSAGES off (a bare-metal core) it does nothing. Longer
 * text is cut at 255 bytes. Cannot fail.
 */
DELTA_API void delta_error_set(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

/* 1 for a failure while writing (DFOTA 502, 520-530, 540-546): the update
 * was under way; 0 for success and for refusals decided before any write. */
DELTA_API int delta_status_is_write_failure(delta_status status);

/* The library version string, e.g. "0.1.0" (static; DELTA_VERSION_STRING of the library that runs,
 * which may be later than the header a caller was built with). */
DELTA_API const char *delta_version(void);

/* A growable byte buffer owned by the caller; free with delta_buf_free. Start it from
 * DELTA_BUF_INIT (or zeroed). data is malloc'd memory the library may realloc, so pointers into
 * it are valid only until the next call that appends to the buffer. */
typedef struct delta_buf {
    uint8_t *data;
    size_t len;
    size_t cap;
} delta_buf;

#define DELTA_BUF_INIT {NULL, 0, 0}

/* Appends len bytes of data (data may be NULL when len is 0); reserve makes room for extra more
 * bytes after len without changing len. buf must not be NULL. Not in a bare-metal core (no malloc).
 * Returns: DELTA_OK; DELTA_ERR_NOMEM when the size overflows or realloc fails, and then buf is
 * unchanged. */
DELTA_API delta_status delta_buf_append(delta_buf *buf, const void *data, size_t len);
DELTA_API delta_status delta_buf_reserve(delta_buf *buf, size_t extra);
/* Frees data and leaves buf empty (DELTA_BUF_INIT), ready for reuse. NULL is fine. */
DELTA_API void delta_buf_free(delta_buf *buf);

/* SHA-256 digest length and hex helpers. delta_sha256 writes the digest of data into out;
 * delta_hex writes 2*len lowercase hex digits and a NUL into out. Neither can fail. */
#define DELTA_SHA256_LEN 32
DELTA_API void delta_sha256(const void *data, size_t len, uint8_t out[DELTA_SHA256_LEN]);
DELTA_API void delta_hex(const uint8_t *bytes, size_t len, char *out /* 2*len+1 */);
/* Parses exactly 2*len lowercase hex digits followed by the string's NUL into out; returns 0 on
 * success, -1 otherwise (a digit that is not [0-9a-f], a shorter or longer string). On -1 out may be
 * partly written. */
DELTA_API int delta_unhex(const char *hex, uint8_t *out, size_t len);

#ifdef __cplusplus
}
#endif
#endif
