/*
 * A simulated flash device and state store for power-cut tests (in the
 * manner of MCUboot's simulator). Every write, sync-less data loss and
 * journal replacement is an event; the test can cut power at event N:
 * the write in progress is torn (a prefix persists), unsynced data is
 * dropped, and every later call fails until sim_reboot().
 */
#ifndef DELTA_SIMFLASH_H
#define DELTA_SIMFLASH_H

#include "libdelta/io.h"

typedef struct sim_area {
    uint8_t *live, *durable;
    size_t size, durable_size, cap;
} sim_area;

typedef struct sim {
    sim_area flash, scratch;
    uint8_t journal[16384];
    size_t journal_len;
    uint64_t events;     /* events so far (writes + journal replacements) */
    uint64_t cut_at;     /* power cut at this event (0: never) */
    uint64_t fail_at;    /* this event fails with EIO, power stays (0: never) */
    uint64_t fail_count; /* with fail_at: how many consecutive events fail */
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
void sim_flash(sim *s, delta_flash *f);
void sim_store(sim *s, delta_store *st);

#endif
