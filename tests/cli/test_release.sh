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
        '.schema == "libdelta-verifydelta/1" and .code == 0 and .exit == 0 and .signature == "verified" and .source_version == $f and .target_version == $t' \
        "$OUT/update-$from-to-$to.verify.json"
    check "update-$from-to-$to: mkdelta's report beside it, the same package" \
        jq -en --slurpfile m "$OUT/update-$from-to-$to.make.json" --slurpfile v "$OUT/update-$from-to-$to.verify.json" \
        --arg n "$(stat -c %s "$pkg")" '$m[0].schema == "libdelta-mkdelta/1" and $m[0].signature == "signed" and
            $m[0].package_bytes == ($n | tonumber) and $v[0].package_bytes == $m[0].package_bytes and
            $v[0].space_needed == $m[0].space_needed and $v[0].images == ($m[0].images | map(with_entries(select(.key as $k | $v[0].images[0] | has($k)))))'
    check "update-$from-to-$to: reports valid against their schemas" \
        /usr/bin/python3 "$SRC/tests/cli/validate_json.py" "$SRC/formats/schema/mkdelta.schema.json" "$OUT/update-$from-to-$to.make.json"
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
check "summary: sizes from the reports" grep -q "update-7.22.0-to-7.27.0.zip *$(stat -c %s "$OUT/update-7.22.0-to-7.27.0.zip") bytes  PYBRICKS-CITYHUB 7.22.0 -> 7.27.0" "$LAST_OUT"

# An input changed: its package is made again over the old one (mkdelta -f).
mkdir -p "$T/fw"
cp "$FW/cityhub-7.27.0.bin" "$FW/cityhub-7.28.0.bin" "$T/fw/"
printf 'PYBRICKS-CITYHUB 7.27.0 7.28.0 %s %s\n' "$T/fw/cityhub-7.27.0.bin" "$T/fw/cityhub-7.28.0.bin" >"$T/one.txt"
one=("${args[@]}" OUT="$T/one" RELEASES="$T/one.txt")
expect 0 make "${one[@]}"
cp "$FW/cityhub-7.22.0.bin" "$T/fw/cityhub-7.28.0.bin" # a new "new" image
expect 0 make "${one[@]}"
check "a changed image: the package made again" grep -q '^verified .*update-7.27.0-to-7.28.0.zip' "$LAST_OUT"
expect 0 "$BIN/applydelta" -q --source "$T/fw/cityhub-7.27.0.bin" --output "$T/one.bin" "$T/one/update-7.27.0-to-7.28.0.zip"
same "$T/one.bin" "$FW/cityhub-7.22.0.bin" "the package made again holds the changed image"

# Signing outside make's machine: SIGN_COMMAND instead of KEY (openssl here).
sc=(-C "$EX" OUT="$T/sc" MKDELTA="$BIN/mkdelta" VERIFYDELTA="$BIN/verifydelta"
    SIGN_COMMAND="openssl dgst -sha256 -sign $KEYS/ec-p256.pem" PUB="$KEYS/ec-p256.pub.pem")
expect 0 make -j2 "${sc[@]}"
check "SIGN_COMMAND: every package verified" test "$(jq -s 'map(select(.code == 0 and .signature == "verified")) | length' "$T"/sc/*.verify.json)" = ${#pairs[@]}

# A public key that did not sign them: every verification fails, no package is left.
bad=(-C "$EX" OUT="$T/bad" MKDELTA="$BIN/mkdelta" VERIFYDELTA="$BIN/verifydelta"
     KEY="$KEYS/ec-p256.pem" PUB="$KEYS/ec-p256-other.pub.pem")
expect 2 make -j2 -k "${bad[@]}"
check "wrong key: code 504 reported" grep -q "verifydelta exit 4, code 504" "$LAST_ERR"
check "wrong key: no package left" test -z "$(find "$T/bad" -name '*.zip' -o -name '*.verify.json' -o -name '*.make.json')"

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
