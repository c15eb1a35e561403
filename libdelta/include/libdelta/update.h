/*
 * libdelta: the update session (formats/update.md).
 *
 * One call, delta_update_run, takes a device from whatever its state store
 * holds to the next stable state, and owns every rule of an in-place update:
 *
 *   no journal  ->  the package checks in the contract's order (550, 504,
 *                   505, 511 in delta_package_open; then each region's size,
 *                   511; then each image's source, 510), nothing written.
 *                   An image set that already is the target is success.
 *                   Then the state is created: a copy of the manifest and of
 *                   the patches (hash-checked, proved again), then the
 *                   journal (the upgrade flag), then the batches.
 *   APPLYING    ->  resume from the journal; the patches are read from the
 *                   state's copy, never again from the package file. A
 *                   failure while writing, or a package that fails its
 *                   checks on a resume, counts a try (the journal saved is
 *                   the last committed one, plus the count).
 *   fifth try   ->  ROLLBACK: every block written is put back from the
 *                   backup kept in the state area; the source SHA-256 is
 *                   checked; the state is removed: 545.
 *   success     ->  every image's target SHA-256 checked, the state removed.
 *
 * A power cut at any instant is mended by calling delta_update_run again
 * with the same arguments; it does not count as a try.
 *
 * Ownership: nothing is allocated for the caller. The session's own state is
 * malloc'd for the call and freed before it returns; *result is the
 * caller's (it may be NULL) and is cleared when the run begins.
 *
 * Lifetimes. The parameters, the package source, the regions and their flash
 * tables, the store and every ctx are used only during the call; nothing is
 * kept. The check options are used as by delta_package_open.
 *
 * Thread safety. A run starts no thread: every callback (the package's
 * read, the flash, the store, the progress) is called on the caller's
 * thread, one at a time. Distinct devices (distinct stores and flashes) may
 * be updated at once from distinct threads; one store or flash must never
 * be used by two runs at once, in one process or in two (the journal has no
 * lock).
 */
#ifndef LIBDELTA_UPDATE_H
#define LIBDELTA_UPDATE_H

#include "libdelta/package.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One region (partition) of the device. */
typedef struct delta_update_region {
    const char *name; /* the image it holds; NULL matches a package's only image */
    delta_flash *flash;
} delta_update_region;

#define DELTA_UPDATE_PARAMS_VERSION 1
typedef struct delta_update_params {
    unsigned int version;     /* DELTA_UPDATE_PARAMS_VERSION */
    /* The package file as the device holds it; NULL resumes from the state
     * alone (an update in progress needs nothing else). */
    const delta_source *package;
    /* The device's project, version, key and package size limit. Its
     * free_space is not used: the store's free_bytes is the device's. */
    delta_check_options check;
    const delta_update_region *regions;
    size_t region_count;
    int all_regions;          /* 1: a region the package does not update is refused (DELTA_ERR_ARG) */
    int check_only;           /* 1: stop after the checks, before anything is written */
    delta_store *store;
    /* Progress in blocks across every image of the package. */
    delta_progress_fn progress;
    void *progress_ctx;
} delta_update_params;

typedef enum delta_update_state {
    DELTA_UPDATE_NONE = 0,     /* no update in progress: the store is empty */
    DELTA_UPDATE_APPLYING = 1, /* the upgrade flag is set: run again to resume */
    DELTA_UPDATE_ROLLBACK = 2  /* writing the source back: run again to finish */
} delta_update_state;

typedef struct delta_update_result {
    delta_update_state before; /* what the store held when the run began */
    delta_update_state after;  /* what it holds now */
    uint32_t tries;            /* failed tries recorded so far */
    int already;               /* the images already were the target: nothing written */
    char target_version[DELTA_MAX_STRING + 1]; /* the package's, once known ("" before) */
    char source_version[DELTA_MAX_STRING + 1];
} delta_update_result;

#define DELTA_UPDATE_PARAMS_INIT \
    {DELTA_UPDATE_PARAMS_VERSION, NULL, DELTA_CHECK_OPTIONS_INIT, NULL, 0, 0, 0, NULL, NULL, NULL}
/* *p = DELTA_UPDATE_PARAMS_INIT with this version.
 * Returns: DELTA_OK; DELTA_ERR_ARG for a NULL p, or version 0 or newer than DELTA_UPDATE_PARAMS_VERSION. */
DELTA_API delta_status delta_update_params_init(delta_update_params *p, unsigned int version);

/*
 * Runs the update to its next stable state (see above). DELTA_OK: every
 * image holds the target. DELTA_ERR_ABANDONED (545): five tries failed and
 * the images are the source again. DELTA_ERR_UNRECOVERABLE (546): even
 * writing the source back failed (after is ROLLBACK: run again). Any other
 * failure leaves `after` at NONE (a refusal: nothing written) or APPLYING.
 * Returns:
 *   DELTA_OK: every image holds the target (result->already when it did
 *   before the run); with check_only, the checks passed and nothing was
 *   written.
 *   Refusals, nothing written: DELTA_ERR_ARG (a NULL p, regions NULL with a
 *   region_count, p or p->check of version 0 or newer, an unusable store,
 *   package or region flash table, no package while no update is in
 *   progress, two images on one region, all_regions and a region the
 *   package does not update); every status of delta_package_open (with
 *   free_space the store's free_bytes and require_inplace on);
 *   DELTA_ERR_PROJECT when the package updates an image no region is for;
 *   DELTA_ERR_SLOT (a region's capacity or erase_size); DELTA_ERR_SOURCE
 *   when an image is not the source (and the images are not all the
 *   target); DELTA_ERR_IMAGE_READ when reading an image for that fails.
 *   Starting (the state is removed again): DELTA_ERR_STATE_WRITE (clearing
 *   an earlier state, writing the package copy or the first journal),
 *   DELTA_ERR_INPUT (the package's read fails while copying),
 *   DELTA_ERR_MEMBER_DATA (the package file changed after its checks), and
 *   the statuses of the copy's proof (DELTA_ERR_PATCH, DELTA_ERR_PLAN).
 *   Applying: DELTA_ERR_CANCELLED (the progress callback returned nonzero:
 *   run again to resume); a write failure of delta_apply_in_place
 *   (delta_status_is_write_failure: DELTA_ERR_NOMEM, _INTERNAL, _WRITE,
 *   _WRITE_NOSPACE, _SYNC, _IMAGE_READ, _STATE_WRITE, _TARGET,
 *   _PACKAGE_READ, _STATE_CORRUPT), which counts a try; any other status of
 *   delta_apply_in_place, which does not; DELTA_ERR_STATE_WRITE when the
 *   state cannot be removed at the end (run again).
 *   Resuming: DELTA_ERR_STATE_CORRUPT (the state cannot be read, or its
 *   journal, manifest copy or patch copies are damaged); DELTA_ERR_OTHER_UPDATE
 *   (510) when the package given is not the one in progress; a package that
 *   now fails delta_package_open gives that status and counts a try (not
 *   with check_only).
 *   The fifth failed try, or a run that finds ROLLBACK: DELTA_ERR_ABANDONED
 *   or DELTA_ERR_UNRECOVERABLE as above.
 *   DELTA_ERR_NOMEM at any point.
 */
DELTA_API delta_status delta_update_run(const delta_update_params *p, delta_update_result *result);

/* Where the state area puts each part (formats/update.md), from a manifest. */
typedef struct delta_update_layout {
    uint64_t manifest_offset; /* the manifest copy: DELTA_MANIFEST_MAX_BYTES reserved */
    uint64_t work_offset;     /* pending and stash slots of the image being applied */
    uint64_t patch_offset[DELTA_MANIFEST_MAX_IMAGES];
    uint64_t backup_offset[DELTA_MANIFEST_MAX_IMAGES];
    uint64_t patch_bytes;     /* the patch copies */
    uint64_t backup_bytes;    /* the source blocks kept for a rollback */
    uint64_t scratch_bytes;   /* the whole scratch area */
    uint64_t state_bytes;     /* the journal (replaced atomically: twice) */
    uint64_t space_needed;    /* scratch + journal: the manifest's space_needed */
} delta_update_layout;

/* Fills *out for m (a valid manifest: from delta_package_manifest or delta_manifest_parse).
 * Cannot fail. */
DELTA_API void delta_update_layout_of(const delta_manifest *m, delta_update_layout *out);

#ifdef __cplusplus
}
#endif
#endif
