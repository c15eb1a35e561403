#!/usr/bin/env bash
# Power cuts: applydelta in place is killed (SIGKILL) at chosen events of its
# run (the crashsim shim counts every create, write, sync, rename and unlink
# of the image's directory and kills the process at the Nth) and run again
# until it completes; the image must then be the target. A kill keeps the page
# cache: this is the kind crash (tests/crash/test_crash.sh is the strict one).
# A run with a different package while a journal exists is refused (510) and
# changes neither the image nor the journal. Deterministic: the cut points are
# spread over the run and drawn from a seeded generator.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
. "$(dirname "${BASH_SOURCE[0]}")/../crash/lib.sh"

OLD=$FW/cityhub-7.22.0.bin
NEW=$FW/cityhub-7.28.0.bin
PKG=$T/far.zip
OTHER=$T/other.zip
"$BIN/mkdelta" -q --project P --from 7.22.0 --to 7.28.0 -o "$PKG" "$OLD" "$NEW"
"$BIN/mkdelta" -q --project P --from 7.22.0 --to 7.27.0 -o "$OTHER" "$OLD" "$FW/cityhub-7.27.0.bin"
APPLY=("$BIN/applydelta" -q --project P --from 7.22.0)
DEV=$T/dev
mkdir -p "$DEV"
rng=${RESUME_SEED:-1}

# kill_at N IMAGE PKG: applies PKG to IMAGE (in $DEV), SIGKILLed right before
# its Nth event (it may complete first: fewer events).
kill_at() {
    shim "$DEV" "" "$1" "${APPLY[@]}" --image "$2" "$3" || true
}

# kill_loop NAME OLD NEW PKG RUNS MIN: RUNS times, one to three SIGKILLs of an
# in-place update of a copy of OLD, then a run to completion; the image must be
# NEW and the state gone; at least MIN runs must have been left mid-update. The
# first cut of run i lies at i/(RUNS+1) of an undisturbed run's events (spread
# over the run), the next ones at seeded points of the resumes. Sets EVENTS.
kill_loop() {
    local name=$1 old=$2 new=$3 pkg=$4 runs=$5 min=$6
    cp "$old" "$DEV/probe.bin"
    expect 0 shim "$DEV" "$T/probe.log" 0 "${APPLY[@]}" --image "$DEV/probe.bin" "$pkg"
    same "$DEV/probe.bin" "$new" "$name: undisturbed run"
    EVENTS=$(events "$T/probe.log")
    check "$name: events counted" test "${EVENTS:-0}" -gt 0
    rm -f "$DEV/probe.bin"

    local interrupted=0 i img done_early left cut cuts k
    for i in $(seq 1 "$runs"); do
        img=$DEV/flash-$i.bin
        cp "$old" "$img"
        # One to three cuts, then a run to completion unless a killed run had
        # already completed (a completed image is no longer the source: a new
        # run would rightly be refused with 510).
        done_early=0
        left=0
        next_random
        cuts=$((RAND % 3 + 1))
        cut=$((i * EVENTS / (runs + 1) + 1))
        for k in $(seq 1 "$cuts"); do
            if ((k > 1)); then
                next_random
                cut=$((RAND % EVENTS + 1))
            fi
            kill_at "$cut" "$img" "$pkg"
            if [[ -e $img.fota/journal ]]; then
                left=1
            elif cmp -s "$img" "$new"; then
                done_early=1
                break
            fi
        done
        interrupted=$((interrupted + left))
        if ((done_early)); then
            pass
            # A kill inside the final clean-up (the journal is removed first) may
            # leave the directory, or the directory and a stale scratch file, but
            # never a journal: nothing to resume, and the next store open drops it.
            if [[ -e $img.fota ]]; then
                check "$name run $i: no journal after completion" test ! -e "$img.fota/journal"
                rm -rf "$img.fota"
            fi
        else
            expect 0 "${APPLY[@]}" --image "$img" "$pkg"
        fi
        if [[ -e $img.fota/journal ]]; then fail "$name run $i: journal left after success"; else pass; fi
        same "$img" "$new" "$name run $i: image after kills and resume"
        check "$name run $i: state dir removed" test ! -e "$img.fota"
        rm -f "$img"
    done
    echo "$name: $EVENTS events; runs left mid-update by a kill: $interrupted of $runs"
    check "$name: at least $min runs left mid-update" test "$interrupted" -ge "$min"
}

# The firmware's update (default batches): a kill at every event of the run
# would be test_crash's job; fifteen spread over it here.
kill_loop "cityhub 7.22->7.28" "$OLD" "$NEW" "$PKG" 15 10

# A journal of one package, then another package: refused, nothing touched.
img=$DEV/flash-other.bin
cp "$OLD" "$img"
kill_at $((EVENTS / 3)) "$img" "$PKG"
if [[ -e $img.fota/journal ]]; then
    pass
    image_before=$(sha "$img")
    journal_before=$(sha "$img.fota/journal")
    expect 10 "${APPLY[@]}" --urc --image "$img" "$OTHER"
    check "other package: message" grep -q "error 510: .*another package" "$LAST_ERR"
    check "other package: only the END URC" test "$(cat "$LAST_OUT")" = '+QIND: "FOTA","END",510'
    check "other package: image untouched" test "$(sha "$img")" = "$image_before"
    check "other package: journal untouched" test "$(sha "$img.fota/journal")" = "$journal_before"
    expect 0 "$BIN/applydelta" -v --project P --from 7.22.0 --image "$img" "$PKG"
    check "the first package resumes" grep -q resuming "$LAST_ERR"
    same "$img" "$NEW" "the first package completes"
else
    fail "a kill at event $((EVENTS / 3)) of $EVENTS left no journal"
fi

# A large image: 16 MiB of synthetic firmware-like data with an insertion, a
# deletion, swapped 64 KiB regions and scattered edits (many batches, several
# segments).
python3 - "$T/large-old.bin" "$T/large-new.bin" <<'PY'
import random, sys
r = random.Random(16)
n = 16 << 20
pattern = bytes(r.getrandbits(8) for _ in range(1 << 16))
old = bytearray(pattern * (n >> 16))
for i in range(0, n, 1009):
    old[i] = r.getrandbits(8)
new = bytearray(old)
new[n // 5:n // 5] = bytes(r.getrandbits(8) for _ in range(5000))
del new[3 * n // 5:3 * n // 5 + 7000]
a, b = 8 << 20, 12 << 20
new[a:a + 65536], new[b:b + 65536] = new[b:b + 65536], new[a:a + 65536]
for i in range(0, len(new), 3001):
    new[i] ^= 0x5a
open(sys.argv[1], "wb").write(old)
open(sys.argv[2], "wb").write(new)
PY
LARGE=$T/large.zip
"$BIN/mkdelta" -q --project P --from 7.22.0 --to large --segment-size 4M -o "$LARGE" "$T/large-old.bin" "$T/large-new.bin"
kill_loop "16 MiB" "$T/large-old.bin" "$T/large-new.bin" "$LARGE" 10 8

finish
