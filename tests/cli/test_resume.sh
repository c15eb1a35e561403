#!/usr/bin/env bash
# Power cuts: applydelta in place is killed (SIGKILL) at random instants and
# run again until it completes; the image must then be the target. A run with
# a different package while a journal exists is refused (510) and changes
# neither the image nor the journal.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

OLD=$FW/cityhub-7.22.0.bin
NEW=$FW/cityhub-7.28.0.bin
PKG=$T/far.zip
OTHER=$T/other.zip
"$BIN/mkdelta" -q --project P --from 7.22.0 --to 7.28.0 -o "$PKG" "$OLD" "$NEW"
"$BIN/mkdelta" -q --project P --from 7.22.0 --to 7.27.0 -o "$OTHER" "$OLD" "$FW/cityhub-7.27.0.bin"
APPLY=("$BIN/applydelta" -q --project P --from 7.22.0)

# kill_after MS IMAGE PKG: starts applying in the background, SIGKILLs it after MS
# milliseconds (it may have finished by then).
kill_after() {
    "${APPLY[@]}" --image "$2" "$3" >/dev/null 2>&1 &
    local pid=$!
    sleep "$(printf '0.%03d' "$1")"
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

# kill_loop NAME OLD NEW PKG RUNS MIN: RUNS times, one to three SIGKILLs at
# random instants of an in-place update of a copy of OLD, then a run to
# completion; the image must be NEW and the state gone; at least MIN runs must
# have been left mid-update. Sets ms (an undisturbed run's time).
kill_loop() {
    local name=$1 old=$2 new=$3 pkg=$4 runs=$5 min=$6
    cp "$old" "$T/probe.bin"
    local start
    start=$(date +%s%N)
    expect 0 "${APPLY[@]}" --image "$T/probe.bin" "$pkg"
    ms=$((($(date +%s%N) - start) / 1000000))
    ((ms < 50)) && ms=50
    ((ms > 999)) && ms=999
    same "$T/probe.bin" "$new" "$name: undisturbed run"
    rm -f "$T/probe.bin"

    local interrupted=0 i img done_early
    for i in $(seq 1 "$runs"); do
        img=$T/flash-$i.bin
        cp "$old" "$img"
        # One to three cuts at random instants, then a run to completion unless a
        # killed run had already completed (a completed image is no longer the
        # source: a new run would rightly be refused with 510).
        done_early=0
        for _ in $(seq 1 $((RANDOM % 3 + 1))); do
            kill_after $((RANDOM % ms)) "$img" "$pkg"
            if [[ -e $img.fota/journal ]]; then
                interrupted=$((interrupted + 1))
            elif cmp -s "$img" "$new"; then
                done_early=1
                break
            fi
        done
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
    echo "$name: runs left mid-update by a kill: $interrupted of $runs"
    check "$name: at least $min runs left mid-update" test "$interrupted" -ge "$min"
}

# The firmware's update is one short batch: few kills land inside it.
kill_loop "cityhub 7.22->7.28" "$OLD" "$NEW" "$PKG" 15 1

# A journal of one package, then another package: refused, nothing touched.
img=$T/flash-other.bin
cp "$OLD" "$img"
for try in $(seq 1 60); do
    kill_after $((ms / 3 + try * 7 % ms)) "$img" "$PKG"
    [[ -e $img.fota/journal ]] && break
    cp "$OLD" "$img"
    rm -rf "$img.fota"
done
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
    fail "could not interrupt an update to leave a journal"
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
kill_loop "16 MiB" "$T/large-old.bin" "$T/large-new.bin" "$LARGE" 10 3

finish
