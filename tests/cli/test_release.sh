#!/usr/bin/env bash
# examples/release: the Makefile builds every package of the bundled listing with
# make -j2 and verifies each with verifydelta --json; the packages must exist,
# verify (exit 0, JSON code 0) and apply to the exact new firmware. A wrong
# public key must fail the build and leave no package behind; a malformed
# listing must be refused; a second run must do nothing.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

EX=$SRC/examples/release
OUT=$T/out
args=(-C "$EX" OUT="$OUT" MKDELTA="$BIN/mkdelta" VERIFYDELTA="$BIN/verifydelta"
      KEY="$KEYS/ec-p256.pem" PUB="$KEYS/ec-p256.pub.pem")

expect 0 make -j2 "${args[@]}"
pairs=("7.22.0 7.27.0" "7.22.0 7.28.0" "7.27.0 7.28.0")
for pair in "${pairs[@]}"; do
    read -r from to <<<"$pair"
    pkg=$OUT/update-$from-to-$to.zip
    check "$pkg made" test -s "$pkg"
    check "update-$from-to-$to: make's verification code 0" \
        jq -e --arg f "$from" --arg t "$to" \
        '.code == 0 and .exit == 0 and .signature == "verified" and .source_version == $f and .target_version == $t' \
        "$OUT/update-$from-to-$to.verify.json"
    # Checked again here, independently of the Makefile.
    expect 0 "$BIN/verifydelta" --json --pubkey "$KEYS/ec-p256.pub.pem" --project PYBRICKS-CITYHUB \
        --from "$from" --source "$FW/cityhub-$from.bin" "$pkg"
    check "update-$from-to-$to: verifydelta --json code 0" jq -e '.code == 0' "$LAST_OUT"
    expect 0 "$BIN/applydelta" -q --pubkey "$KEYS/ec-p256.pub.pem" --project PYBRICKS-CITYHUB --from "$from" \
        --source "$FW/cityhub-$from.bin" --output "$T/new-$from-$to.bin" "$pkg"
    same "$T/new-$from-$to.bin" "$FW/cityhub-$to.bin" "update-$from-to-$to applies to cityhub-$to.bin"
done
check "exactly the listed packages" test "$(find "$OUT" -name '*.zip' | wc -l)" = ${#pairs[@]}

expect 0 make "${args[@]}"
check "second run: nothing to do" grep -q "Nothing to be done" "$LAST_OUT"
expect 0 make -s "${args[@]}" summary
check "summary: one line per package" test "$(grep -c 'signature verified' "$LAST_OUT")" = ${#pairs[@]}

# A public key that did not sign them: every verification fails, no package is left.
bad=(-C "$EX" OUT="$T/bad" MKDELTA="$BIN/mkdelta" VERIFYDELTA="$BIN/verifydelta"
     KEY="$KEYS/ec-p256.pem" PUB="$KEYS/ec-p256-other.pub.pem")
expect 2 make -j2 -k "${bad[@]}"
check "wrong key: code 504 reported" grep -q "verifydelta exit 4, code 504" "$LAST_ERR"
check "wrong key: no package left" test -z "$(find "$T/bad" -name '*.zip' -o -name '*.verify.json')"

# Malformed listings are refused before anything is made.
printf 'PYBRICKS-CITYHUB 7.22.0 7.27.0 %s\n' "$FW/cityhub-7.22.0.bin" >"$T/short.txt"
expect 2 make "${args[@]}" OUT="$T/short" RELEASES="$T/short.txt"
check "4 fields refused" grep -q "want 5 fields" "$LAST_ERR"
printf 'P 1 2 %s %s\nP 1 2 %s %s\n' "$FW/cityhub-7.22.0.bin" "$FW/cityhub-7.27.0.bin" \
    "$FW/cityhub-7.22.0.bin" "$FW/cityhub-7.28.0.bin" >"$T/dup.txt"
expect 2 make "${args[@]}" OUT="$T/dup" RELEASES="$T/dup.txt"
check "duplicate package refused" grep -q "a second update-1-to-2" "$LAST_ERR"
expect 2 make -C "$EX" OUT="$T/nokey" MKDELTA="$BIN/mkdelta" VERIFYDELTA="$BIN/verifydelta"
check "KEY required" grep -q "KEY=private-key.pem is required" "$LAST_ERR"

finish
