#!/usr/bin/env bash
# Power cuts on a POSIX-strict file system: applydelta updates an image in
# place under the crashsim shim, which kills it at every event in turn (every
# create, write, sync, rename, unlink, mkdir and rmdir under the image's
# directory). reboot.py then keeps only what the run had made durable (data
# fsynced, directory entries whose directory was fsynced), and applydelta is
# run again until it completes. Every cut point must end with the exact target
# and no state directory. A second pass cuts the first resume once more, at a
# seeded point among its own events, before the final run.
#
# Every cut point is followed by at least one rerun, which must exit 0 even
# when the image already is the target (the session then finds nothing to
# do and tidies a state directory left by a cut inside the final clean-up).
# A state directory left after the reruns is a failure unless
# CRASH_STALE_FAILS=0, which counts it apart as "stale-dir".
#
# Env: CRASH_FIXTURES (names to run, default all), CRASH_SEED (1), CRASH_LIST
# (failing cut points listed per pass, 40; 0 for all), CRASH_RECUT (1: the
# second pass; 0 to skip it), CRASH_STALE_FAILS (1).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../cli/lib.sh"
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SEED=${CRASH_SEED:-1}
LIST=${CRASH_LIST:-40}
RECUT=${CRASH_RECUT:-1}
STALE_FAILS=${CRASH_STALE_FAILS:-1}
APPLY=("$BIN/applydelta" -q --project P --from 7.22.0)
DEV=$T/dev
IMG=$DEV/img.bin

# settle NEW PKG: runs applydelta (no shim) until the update of $IMG is
# complete, at least once and at most three times; a run is repeated only
# after a status that asks for it (502, 520-530). Sets RERUNS to the statuses and RERUN_ERR to the last
# run's first line of stderr.
settle() {
    local new=$1 pkg=$2 rc
    RERUNS=
    RERUN_ERR=
    for _ in 1 2 3; do
        rc=0
        "${APPLY[@]}" --image "$IMG" "$pkg" >/dev/null 2>"$T/settle.err" || rc=$?
        RERUNS+="${RERUNS:+,}$rc"
        RERUN_ERR=$(head -1 "$T/settle.err")
        [[ $rc == 0 ]] && return 0
        case $rc in 2 | 2[0-9] | 30) ;; *) return 1 ;; esac
    done
    return 1
}

# reset SNAPSHOT: the device tree as in SNAPSHOT.
reset() {
    rm -rf "$DEV"
    cp -a "$1" "$DEV"
}

# crash_pass NAME NEW PKG SNAPSHOT EVENTS RECUT: every cut point 1..EVENTS of
# an update from SNAPSHOT, the first resume cut once more when RECUT is 1.
crash_pass() {
    local name=$1 new=$2 pkg=$3 snap=$4 count=$5 recut=$6
    local exact=0 stale=0 failed=0 listed=0 n rc what why second
    local label=$name
    ((recut)) && label="$name, resume cut again"
    rng=$((SEED * 7919 + ${#name}))
    for n in $(seq 1 "$count"); do
        reset "$snap"
        rc=0
        shim "$DEV" "$T/cut.log" "$n" "${APPLY[@]}" --image "$IMG" "$pkg" || rc=$?
        what=$(cut_event "$T/cut.log")
        second=
        if [[ $rc != 137 || -z $what ]]; then
            why="not cut (exit $rc): the run is not deterministic"
        else
            reboot "$snap" "$DEV" "$T/cut.log"
            if ((recut)); then
                # The resume's own events, counted by an uncut run, then one cut among them.
                rm -rf "$T/snap2"
                cp -a "$DEV" "$T/snap2"
                rc=0
                shim "$DEV" "$T/resume.log" 0 "${APPLY[@]}" --image "$IMG" "$pkg" || rc=$?
                local m resume_events
                resume_events=$(events "$T/resume.log")
                reset "$T/snap2"
                if ((${resume_events:-0} > 0)); then
                    next_random
                    m=$((RAND % resume_events + 1))
                    rc=0
                    shim "$DEV" "$T/cut2.log" "$m" "${APPLY[@]}" --image "$IMG" "$pkg" || rc=$?
                    second=", resume cut $m $(cut_event "$T/cut2.log")"
                    [[ $rc == 137 ]] || second=", resume not cut at $m (exit $rc)"
                    [[ $rc != 137 ]] || reboot "$T/snap2" "$DEV" "$T/cut2.log"
                else
                    second=", resume (exit $rc) has no event to cut"
                fi
            fi
            why=
            if ! settle "$new" "$pkg"; then
                why="reruns exited $RERUNS${RERUN_ERR:+ ($RERUN_ERR)}"
            elif ! cmp -s "$IMG" "$new"; then
                why="image is not the target after reruns $RERUNS"
            elif [[ -e $IMG.fota/journal ]]; then
                why="journal left after reruns $RERUNS"
            elif [[ -e $IMG.fota ]]; then
                if [[ $STALE_FAILS == 1 ]]; then
                    why="state dir left [$(ls -A "$IMG.fota" | tr '\n' ' ')] after reruns $RERUNS"
                else
                    stale=$((stale + 1))
                    pass
                    continue
                fi
            fi
        fi
        if [[ -z $why ]]; then
            exact=$((exact + 1))
            pass
        else
            failed=$((failed + 1))
            FAILED=$((FAILED + 1))
            if ((LIST == 0 || listed < LIST)); then
                echo "  cut $n $what$second: $why"
                listed=$((listed + 1))
            fi
        fi
    done
    ((failed > listed)) && echo "  ... and $((failed - listed)) more failing cut points"
    echo "crash: $label: cut points=$count exact=$exact failed=$failed stale-dir=$stale"
}

# crash_fixture NAME OLD NEW PKG: counts the events of an undisturbed run,
# then runs the passes.
crash_fixture() {
    local name=$1 old=$2 new=$3 pkg=$4
    if [[ -n ${CRASH_FIXTURES:-} && " $CRASH_FIXTURES " != *" $name "* ]]; then return 0; fi
    local snap=$T/$name.snap
    rm -rf "$snap"
    mkdir "$snap"
    cp "$old" "$snap/img.bin"
    reset "$snap"
    expect 0 shim "$DEV" "$T/full.log" 0 "${APPLY[@]}" --image "$IMG" "$pkg"
    same "$IMG" "$new" "$name: undisturbed run under the shim"
    check "$name: state dir removed" test ! -e "$IMG.fota"
    local count
    count=$(events "$T/full.log")
    check "$name: events counted" test "${count:-0}" -gt 0
    # A power cut after the run completed: what it made durable must be the end state.
    reboot "$snap" "$DEV" "$T/full.log"
    if [[ ! -e $IMG.fota/journal ]] && cmp -s "$IMG" "$new"; then pass; else
        fail "$name: a power cut after the completed run leaves $(cmp -s "$IMG" "$new" || echo "an image that is not the target, ")$(ls -A "$DEV" | tr '\n' ' ')"
    fi
    if [[ -e $IMG.fota && $STALE_FAILS == 1 ]]; then fail "$name: state dir back after a power cut after the run"; fi
    crash_pass "$name" "$new" "$pkg" "$snap" "$count" 0
    ((RECUT)) && crash_pass "$name" "$new" "$pkg" "$snap" "$count" 1
    return 0
}

# The bundled firmware, eight blocks per batch: many batches, 13 stashes.
OLD=$FW/cityhub-7.22.0.bin
NEW=$FW/cityhub-7.28.0.bin
"$BIN/mkdelta" -q --project P --from 7.22.0 --to 7.28.0 --batch-blocks 8 -o "$T/cityhub.zip" "$OLD" "$NEW"
crash_fixture cityhub "$OLD" "$NEW" "$T/cityhub.zip"

# Synthetic: 24 blocks that swap in pairs and rotate in 3-cycles, one block
# per batch: every cycle goes through a stash slot in scratch.
"$PYTHON3" - "$T/swap-old.bin" "$T/swap-new.bin" <<'PY'
import random, sys
r = random.Random(7)
bs = 4096
blocks = [bytes(r.getrandbits(8) for _ in range(bs)) for _ in range(24)]
order = []
for i in range(0, 12, 2):
    order += [i + 1, i]
for i in range(12, 24, 3):
    order += [i + 1, i + 2, i]
new = bytearray(b"".join(blocks[i] for i in order))
for i in range(100, len(new), 9001):
    new[i] ^= 0xA5
open(sys.argv[1], "wb").write(b"".join(blocks))
open(sys.argv[2], "wb").write(new)
PY
"$BIN/mkdelta" -q --project P --from 7.22.0 --to swap --batch-blocks 1 --max-stash 8 \
    -o "$T/swap.zip" "$T/swap-old.bin" "$T/swap-new.bin"
crash_fixture swap "$T/swap-old.bin" "$T/swap-new.bin" "$T/swap.zip"

finish
