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
DELTA_API delta_status delta_update_params_init(delta_update_params *p, unsigned int version);

/*
 * Runs the update to its next stable state (see above). DELTA_OK: every
 * image holds the target. DELTA_ERR_ABANDONED (545): five tries failed and
 * the images are the source again. DELTA_ERR_UNRECOVERABLE (546): even
 * writing the source back failed (after is ROLLBACK: run again). Any other
 * failure leaves `after` at NONE (a refusal: nothing written) or APPLYING.
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

DELTA_API void delta_update_layout_of(const delta_manifest *m, delta_update_layout *out);

#ifdef __cplusplus
}
#endif
#endif
