/*
 * libdelta: the JSON reports of mkdelta, verifydelta and applydelta (host side).
 *
 * Each report is one JSON object that follows a versioned schema,
 * formats/schema/<tool>.schema.json, named by its "schema" key
 * ("libdelta-verifydelta/1"); formats/schema/README.md documents every key.
 * The library owns the schemas: a program states what it knows in the
 * report's struct (the package, the maker's statistics, the update session's
 * result, the status and its final message, and the run's own facts such as
 * the paths given) and gets the JSON text back. Whatever the struct holds, the
 * text is a document the schema accepts:
 *   - "code", "exit", "status" and "message" are derived from the status;
 *   - a fact the schema leaves out for that outcome is left out (a mkdelta
 *     report on failure has the status alone, even with a package given);
 *   - a missing or contradictory fact is refused with DELTA_ERR_ARG (a
 *     successful in-place applydelta report without the session's result, a
 *     package in a bsdiff40 report, image counts that disagree) and no text is
 *     produced;
 *   - a string that is not valid UTF-8 (a path) has its bad bytes replaced by
 *     U+FFFD; an integer beyond INT64_MAX is refused (DELTA_ERR_ARG).
 *
 * Each struct is versioned (its first field, set by its _INIT macro or its
 * _init() function); a later libdelta only adds fields at the end.
 *
 * Ownership. Nothing is allocated but the text, appended to the caller's
 * delta_buf (freed with delta_buf_free). The structs only point to what the
 * caller owns (the package, the results, the strings); nothing is kept
 * after a call returns.
 *
 * Thread safety. Every function here is reentrant. The write functions only
 * read what the struct points to (a package may be read by other threads at
 * the same time), and read this thread's delta_last_error() when a failure
 * carries no message of its own.
 */
#ifndef LIBDELTA_REPORT_H
#define LIBDELTA_REPORT_H

#include "libdelta/fileio.h"
#include "libdelta/package.h"
#include "libdelta/update.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The major version of the three schemas: "libdelta-<tool>/1". Within a
 * major version keys are only added (formats/schema/README.md). */
#define DELTA_REPORT_SCHEMA_VERSION 1

/*
 * The exit status a tool gives for status, the reports' "exit" (README "Exit
 * codes"): 0 for DELTA_OK, the DFOTA code - 500 for a status in the contract
 * (510 exits 10), 1 for any other failure. Never fails.
 */
DELTA_API int delta_exit_status(delta_status status);

/* ---- mkdelta (libdelta-mkdelta/1) ---------------------------------------- */

typedef enum delta_report_format {
    DELTA_REPORT_FORMAT_PACKAGE = 0, /* "package": a delta package */
    DELTA_REPORT_FORMAT_BSDIFF40 = 1 /* "bsdiff40": a standard BSDIFF40 patch */
} delta_report_format;

#define DELTA_MKDELTA_REPORT_VERSION 1
typedef struct delta_mkdelta_report {
    unsigned int version;           /* DELTA_MKDELTA_REPORT_VERSION */
    const char *output;             /* required: the output given (-o), "-" for stdout */
    delta_report_format format;
    /* Package, on success: required, as opened from the finished bytes. */
    const delta_package *package;
    uint64_t package_bytes;         /* the package's size in bytes */
    /* Package, on success: the maker's statistics per image (delta_package_make);
     * NULL: none (a package signed with --sign). Its image_count must be the package's. */
    const delta_make_report *make;
    /* BSDIFF40, on success: the sizes of OLD, NEW and the patch. */
    uint64_t source_size, target_size, patch_bytes;
    delta_status status;            /* the run's outcome */
    /* On failure: what failed and why, as the program said it; NULL or "":
     * delta_last_error(), else delta_strerror(status). */
    const char *message;
} delta_mkdelta_report;

#define DELTA_MKDELTA_REPORT_INIT \
    {DELTA_MKDELTA_REPORT_VERSION, NULL, DELTA_REPORT_FORMAT_PACKAGE, NULL, 0, NULL, 0, 0, 0, DELTA_OK, NULL}

/* Fills *r with the defaults of DELTA_MKDELTA_REPORT_INIT for version (1..
 * DELTA_MKDELTA_REPORT_VERSION).
 * Returns: DELTA_OK; DELTA_ERR_ARG for r NULL or another version. */
DELTA_API delta_status delta_mkdelta_report_init(delta_mkdelta_report *r, unsigned int version);

/*
 * Appends the report's JSON text (indented by two spaces, ending in a newline)
 * to *out, followed by a NUL byte that out->len does not count (so out->data is
 * also a C string). The caller owns out and frees it with delta_buf_free; *r
 * and everything it points to only need to live during the call (a package's
 * file included: its patch headers are read). On failure out is as it was.
 * Returns: DELTA_OK; DELTA_ERR_ARG: r or out NULL, r's version, an unknown format, no
 * output, a successful package report without its package, make's image count
 * not the package's, a number beyond INT64_MAX; DELTA_ERR_NOMEM.
 */
DELTA_API delta_status delta_mkdelta_report_write(const delta_mkdelta_report *r, delta_buf *out);

/* ---- verifydelta (libdelta-verifydelta/1) -------------------------------- */

#define DELTA_VERIFYDELTA_REPORT_VERSION 1
typedef struct delta_verifydelta_report {
    unsigned int version;           /* DELTA_VERIFYDELTA_REPORT_VERSION */
    const char *path;               /* required: the package given, "-" for stdin */
    /* Once it passed delta_package_open (also when a source or the dry run then
     * fails): the package, with its state area. NULL: it was refused or not opened. */
    const delta_package *package;
    uint64_t package_bytes;         /* with package: its size in bytes */
    int source_checked;             /* with package: 0 when the sources were not checked (510 not tested) */
    /* 1: the dry run (delta_file_dry_run) ran; it passed when status is DELTA_OK
     * and failed otherwise. 0: no dry run. */
    int dry_run;
    delta_status status;
    const char *message;            /* as in delta_mkdelta_report */
} delta_verifydelta_report;

#define DELTA_VERIFYDELTA_REPORT_INIT {DELTA_VERIFYDELTA_REPORT_VERSION, NULL, NULL, 0, 1, 0, DELTA_OK, NULL}

/* As delta_mkdelta_report_init, for DELTA_VERIFYDELTA_REPORT_INIT.
 * Returns: DELTA_OK; DELTA_ERR_ARG for r NULL or another version. */
DELTA_API delta_status delta_verifydelta_report_init(delta_verifydelta_report *r, unsigned int version);

/* As delta_mkdelta_report_write. Returns: DELTA_OK; DELTA_ERR_ARG: r or out NULL, r's version, no
 * path, a number beyond INT64_MAX; DELTA_ERR_NOMEM. */
DELTA_API delta_status delta_verifydelta_report_write(const delta_verifydelta_report *r, delta_buf *out);

/* ---- applydelta (libdelta-applydelta/1) ---------------------------------- */

typedef enum delta_report_mode {
    DELTA_REPORT_MODE_IN_PLACE = 0,     /* "in_place": the update session on --image files */
    DELTA_REPORT_MODE_OUT_OF_PLACE = 1, /* "out_of_place": --source to --output */
    DELTA_REPORT_MODE_BSDIFF40 = 2      /* "bsdiff40": a BSDIFF40 patch */
} delta_report_mode;

#define DELTA_APPLYDELTA_REPORT_VERSION 1
typedef struct delta_applydelta_report {
    unsigned int version;           /* DELTA_APPLYDELTA_REPORT_VERSION */
    delta_report_mode mode;
    const char *path;               /* required: the package given (the patch for bsdiff40) */
    /* The files written, once known (count 0: not yet):
     *   in place      the --image files as given (name NULL: a bare FILE)
     *   out of place  image i's --output, in the manifest's order, one per image
     *                 of package (the names are not used)
     *   bsdiff40      the one --output (the name is not used)
     * capacity is not used. */
    const delta_file_image *files;
    size_t file_count;
    /* Out of place: the package once opened (NULL: not opened). */
    const delta_package *package;
    /* In place: the update session's result once it ran (NULL: it did not);
     * required on success. */
    const delta_update_result *result;
    uint64_t target_size;           /* bsdiff40, on success: bytes written */
    delta_status status;
    const char *message;            /* as in delta_mkdelta_report */
} delta_applydelta_report;

#define DELTA_APPLYDELTA_REPORT_INIT \
    {DELTA_APPLYDELTA_REPORT_VERSION, DELTA_REPORT_MODE_IN_PLACE, NULL, NULL, 0, NULL, NULL, 0, DELTA_OK, NULL}

/* As delta_mkdelta_report_init, for DELTA_APPLYDELTA_REPORT_INIT.
 * Returns: DELTA_OK; DELTA_ERR_ARG for r NULL or another version. */
DELTA_API delta_status delta_applydelta_report_init(delta_applydelta_report *r, unsigned int version);

/*
 * As delta_mkdelta_report_write. Returns: DELTA_OK; DELTA_ERR_ARG: r or out NULL, r's version,
 * an unknown mode, no path, a file with a NULL path, a package outside out of
 * place, a package whose image count is not file_count, a result outside in
 * place, a successful in-place report without its result or its files, a
 * bsdiff40 report with more than one file, a number beyond INT64_MAX;
 * DELTA_ERR_NOMEM.
 */
DELTA_API delta_status delta_applydelta_report_write(const delta_applydelta_report *r, delta_buf *out);

#ifdef __cplusplus
}
#endif
#endif
