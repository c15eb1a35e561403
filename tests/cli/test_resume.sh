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

# Measure one undisturbed run to scale the kill instants.
cp "$OLD" "$T/probe.bin"
start=$(date +%s%N)
expect 0 "${APPLY[@]}" --image "$T/probe.bin" "$PKG"
ms=$((($(date +%s%N) - start) / 1000000))
((ms < 50)) && ms=50
((ms > 999)) && ms=999
same "$T/probe.bin" "$NEW" "undisturbed run"

interrupted=0
for i in $(seq 1 15); do
    img=$T/flash-$i.bin
    cp "$OLD" "$img"
    # One to three cuts at random instants, then a run to completion unless a
    # killed run had already finished (a finished image is no longer the
    # source: a new run would rightly be refused with 510).
    finished=0
    for _ in $(seq 1 $((RANDOM % 3 + 1))); do
        kill_after $((RANDOM % ms)) "$img" "$PKG"
        if [[ -e $img.fota/journal ]]; then
            interrupted=$((interrupted + 1))
        elif cmp -s "$img" "$NEW"; then
            finished=1
            break
        fi
    done
    if ((finished)); then
        pass
        # A kill between removing the journal and the empty directory may leave the latter.
        rmdir "$img.fota" 2>/dev/null || true
    else
        expect 0 "$BIN/applydelta" -v --project P --from 7.22.0 --image "$img" "$PKG"
    fi
    if [[ -e $img.fota/journal ]]; then fail "run $i: journal left after success"; else pass; fi
    same "$img" "$NEW" "run $i: image after kills and resume"
    check "run $i: state dir removed" test ! -e "$img.fota"
done
echo "kills that left an update in progress: $interrupted"
check "some kills landed mid-update" test "$interrupted" -ge 3

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

finish
