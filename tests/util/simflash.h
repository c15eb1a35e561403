/*
 * A simulated flash device and state store for fault tests (in the manner
 * of MCUboot's simulator). Every callback is an event: reads, writes and
 * syncs of the image and of the scratch, resizes, and journal reads,
 * replacements and removals. A test can make event N fail (EIO, power
 * stays) or cut power at it: the write in progress is torn (a prefix
 * persists), whatever no sync made durable is dropped, and every later
 * call fails until sim_reboot(). The model is POSIX-strict: image and
 * scratch bytes are durable only once synced; a journal replacement or
 * removal is atomic and durable when it returns (as the store promises).
 */
#ifndef DELTA_SIMFLASH_H
#define DELTA_SIMFLASH_H

#include "libdelta/io.h"

enum sim_event {
    SIM_FLASH_READ, SIM_FLASH_WRITE, SIM_FLASH_SYNC, SIM_FLASH_RESIZE,
    SIM_JOURNAL_READ, SIM_JOURNAL_WRITE, SIM_JOURNAL_REMOVE,
    SIM_SCRATCH_READ, SIM_SCRATCH_WRITE, SIM_SCRATCH_SYNC,
    SIM_EVENT_KINDS
};

typedef struct sim_area {
    uint8_t *live, *durable;
    size_t size, durable_size, cap;
} sim_area;

typedef struct sim {
    sim_area flash, scratch;
    uint8_t journal[16384];
    size_t journal_len;
    uint64_t events;     /* events so far */
    uint64_t cut_at;     /* power cut at this event (0: never) */
    uint64_t fail_at;    /* this event fails with EIO, power stays (0: never) */
    uint64_t fail_count; /* with fail_at: how many consecutive events fail (0 means 1) */
    int last_kind;       /* kind of the latest event (enum sim_event) */
    int cut_kind;        /* kind of the event the power was cut at, -1 before */
    /* Every event of broken_kind past the first broken_after of the current
     * run fails (a medium that keeps failing); -1: none. sim_run() starts a run. */
    int broken_kind;
    uint64_t broken_after, run_kind_count;
    uint64_t broken_limit; /* with broken_kind: at most this many failures per run (0: no limit) */
    int flash_broken;    /* every image write fails with EIO (the rest works) */
    int scratch_broken;  /* every scratch write fails with EIO */
    int dead;
    uint64_t flash_writes, scratch_writes, journal_writes;
} sim;

/* A sim holding image (len bytes) in a region of cap bytes. */
void sim_init(sim *s, const uint8_t *image, size_t len, size_t cap);
void sim_free(sim *s);
/* Power comes back: unsynced data is gone. */
void sim_reboot(sim *s);
/* A new run (try) begins: the broken_kind counter restarts. */
void sim_run(sim *s);
void sim_flash(sim *s, delta_flash *f);
void sim_store(sim *s, delta_store *st);
/* "flash write", "scratch sync", ... */
const char *sim_event_name(int kind);

/*
 * One run of the update session (delta_update_run) of the package pkg
 * (len bytes; NULL: resume from the state alone) on sims[i], one region per
 * image in manifest order; sims[0] holds the state. o may be NULL.
 */
#include "libdelta/update.h"
delta_status sim_update(const uint8_t *pkg, size_t len, const delta_check_options *o, sim *sims, size_t n,
                        delta_update_result *res);

#endif
