#!/usr/bin/env bash
# Never brick, through the tools as a user runs them (issue: an outside fault
# campaign found each of these): five failed tries end at the exact source;
# refusals decided before anything is written (a target-order package, state
# directories that are not ours, two images on one file, a missing parent,
# unknown names); a forged journal is not success; a state directory left by a
# cut in the final clean-up does not block anything. The medium fails through
# the crashsim shim (CRASHSIM_EIO_*): one process is one try.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../cli/lib.sh"
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

OLD=$FW/cityhub-7.22.0.bin
NEW=$FW/cityhub-7.28.0.bin
PKG=$T/update.zip
"$BIN/mkdelta" -q --project P --from 7.22.0 --to 7.28.0 --batch-blocks 8 -o "$PKG" "$OLD" "$NEW"
APPLY=("$BIN/applydelta" --project P --from 7.22.0)
DEV=$T/dev
mkdir -p "$DEV"
IMG=$DEV/img.bin

# failing_try AFTER COUNT: one applydelta run whose image writes fail after AFTER of them
# (COUNT failures, 0: all), URCs on.
failing_try() {
    expect "$1" env LD_PRELOAD="$CRASHSIM" CRASHSIM_ROOT="$DEV" CRASHSIM_EIO_NAME=img.bin \
        CRASHSIM_EIO_AFTER="$2" CRASHSIM_EIO_COUNT="$3" "${APPLY[@]}" --urc --image "$IMG" "$PKG"
}

# --- five failed tries: the exact source comes back ---------------------------
cp "$OLD" "$IMG"
for t in 1 2 3 4; do
    failing_try 20 2 0
    check "try $t: counted" grep -q "try $t of 5" "$LAST_ERR"
    check "try $t: START then END,520" test "$(head -1 "$LAST_OUT")" = '+QIND: "FOTA","START"'
    check "try $t: END,520 last" test "$(tail -1 "$LAST_OUT")" = '+QIND: "FOTA","END",520'
done
check "the tries wrote part of the image" test "$(sha "$IMG")" != "$(sha "$OLD")"
failing_try 45 2 1
check "fifth try: the message says the source was written back" grep -q "written back" "$LAST_ERR"
check "fifth try: END,545" test "$(tail -1 "$LAST_OUT")" = '+QIND: "FOTA","END",545'
same "$IMG" "$OLD" "five failed tries: the exact source"
check "five failed tries: no state left" test ! -e "$IMG.fota"
expect 0 "${APPLY[@]}" --image "$IMG" "$PKG"
same "$IMG" "$NEW" "the next update is accepted and completes"

# A medium that keeps failing: the rollback cannot write (546, state kept), then it can (545).
cp "$OLD" "$IMG"
for t in 1 2 3 4; do failing_try 20 2 0; done
failing_try 46 2 0
check "546: the rollback is kept for the next run" test -e "$IMG.fota/journal"
expect 45 "${APPLY[@]}" --image "$IMG" "$PKG"
same "$IMG" "$OLD" "the rollback finished by the next run: the exact source"
check "545: no state left" test ! -e "$IMG.fota"

# --- refusals decided before anything is written ------------------------------
untouched() { # DESCRIPTION: the image is the source and no state dir exists
    same "$IMG" "$OLD" "$1: image untouched"
    check "$1: no state dir" test ! -e "$IMG.fota"
}
cp "$OLD" "$IMG"
"$BIN/mkdelta" -q --no-inplace --project P --from 7.22.0 --to 7.28.0 -o "$T/target-order.zip" "$OLD" "$NEW"
expect 4 "${APPLY[@]}" --urc --image "$IMG" "$T/target-order.zip"
check "target-order: only END,504" test "$(cat "$LAST_OUT")" = '+QIND: "FOTA","END",504'
check "target-order: says why" grep -q "no in-place plan" "$LAST_ERR"
untouched "target-order package"

expect 64 "${APPLY[@]}" --image "$IMG" --state-dir "" "$PKG"
untouched "--state-dir ''"
expect 64 "${APPLY[@]}" --image "$IMG" --slot-size nosuch=1M "$PKG"
check "unknown --slot-size name: says so" grep -q "no --image nosuch" "$LAST_ERR"
untouched "--slot-size of an unknown image"

"$BIN/mkdelta" -q --project P --from 7.22.0 --to 7.28.0 --image a="$OLD":"$NEW" --image b="$OLD":"$NEW" \
    -o "$T/two.zip"
expect 1 "${APPLY[@]}" --image a="$IMG" --image b="$IMG" "$T/two.zip"
check "two images on one file: says so" grep -q "same file" "$LAST_ERR"
untouched "two images on one file"

mkdir -p "$T/elsewhere"
echo mine >"$T/elsewhere/notes.txt"
ln -s "$T/elsewhere" "$IMG.fota"
expect 1 "${APPLY[@]}" --urc --image "$IMG" "$PKG"
check "symlinked state dir: says so" grep -q "symbolic link" "$LAST_ERR"
check "symlinked state dir: only END" test "$(cat "$LAST_OUT")" = '+QIND: "FOTA","END",502'
check "symlinked state dir: its target untouched" test "$(ls -A "$T/elsewhere")" = notes.txt
rm "$IMG.fota"
expect 1 "${APPLY[@]}" --image "$IMG" --state-dir "$T/elsewhere" "$PKG"
check "foreign state dir: says so" grep -q "not a libdelta state directory" "$LAST_ERR"
check "foreign state dir: nothing deleted" test "$(cat "$T/elsewhere/notes.txt")" = mine
untouched "a state dir that is not ours"

expect 1 "${APPLY[@]}" --urc --image "$IMG" --state-dir "$T/no/such/dir" "$PKG"
check "missing parent: only END, no START" test "$(cat "$LAST_OUT")" = '+QIND: "FOTA","END",502'
check "missing parent: says so" grep -q "parent is not a directory" "$LAST_ERR"
untouched "a state dir whose parent is missing"

# --- a journal is trusted only for what it can prove ---------------------------
cp "$OLD" "$IMG"
shim "$DEV" "" 0 "${APPLY[@]}" --image "$IMG" "$PKG" || true
cp "$OLD" "$IMG"
rm -rf "$IMG.fota"
shim "$DEV" "$T/full.log" 0 "${APPLY[@]}" --image "$IMG" "$PKG" || true
total=$(events "$T/full.log")
cp "$OLD" "$IMG"
rm -rf "$IMG.fota"
rc=0
shim "$DEV" "" $((total / 2)) "${APPLY[@]}" --image "$IMG" "$PKG" || rc=$?
check "cut midway" test "$rc" = 137 -a -e "$IMG.fota/journal"
# Forge it: "image 1 of 1 done", pending blocks dropped, CRC recomputed (formats/journal.md).
"$PYTHON3" - "$IMG.fota/journal" <<'EOF'
import struct, sys, zlib
p = sys.argv[1]
j = bytearray(open(p, "rb").read())
n, pend = struct.unpack_from("<II", j, 76)
out = bytearray(j[:88 + 8 * n])
struct.pack_into("<II", out, 44, 1, 2)      # image_index 1 (past the last), flags WRITTEN
struct.pack_into("<I", out, 80, 0)          # no pending blocks
out += struct.pack("<I", zlib.crc32(bytes(out)) & 0xffffffff)
open(p, "wb").write(bytes(out))
EOF
expect 25 "${APPLY[@]}" --image "$IMG" "$PKG"
check "forged journal: the target is checked, not assumed" grep -q "does not hold the target" "$LAST_ERR"
check "forged journal: not reported as updated" test "$(sha "$IMG")" != "$(sha "$NEW")"

# --- a cut inside the final clean-up leaves an empty state dir: nothing blocks ---
cp "$NEW" "$IMG"
rm -rf "$IMG.fota"
mkdir -m 700 "$IMG.fota"
expect 0 "${APPLY[@]}" --urc --image "$IMG" "$PKG"
check "already updated: END,0" test "$(tail -1 "$LAST_OUT")" = '+QIND: "FOTA","END",0'
check "already updated: the leftover state dir is gone" test ! -e "$IMG.fota"
same "$IMG" "$NEW" "already updated: the image is the target"

finish
