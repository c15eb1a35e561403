#!/usr/bin/env bash
# Round trips of the three tools on the real firmware: make, verify, apply out
# of place and in place, dry run; multi-image, empty and identical images;
# BSDIFF40 interop with Debian's bsdiff/bspatch; --help, --version, usage errors.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PROJECT=EC25EFAR06A
EC=$KEYS/ec-p256.pem
ECPUB=$KEYS/ec-p256.pub.pem
RSA=$KEYS/rsa2048.pem
RSAPUB=$KEYS/rsa2048.pub.pem

# roundtrip FROM TO KEY PUB: the whole flow for one pair of firmware versions.
roundtrip() {
    local from=$1 to=$2 key=$3 pub=$4
    local old=$FW/cityhub-$from.bin new=$FW/cityhub-$to.bin
    local d=$T/rt-$from-$to-$(basename "$key" .pem)
    mkdir -p "$d"
    local pkg=$d/update-$from-to-$to.zip
    local dev=(--pubkey "$pub" --project "$PROJECT" --from "$from")

    expect 0 "$BIN/mkdelta" -q --project "$PROJECT" --from "$from" --to "$to" --key "$key" -o "$pkg" "$old" "$new"
    check "$from->$to: package mode 0644" test "$(stat -c %a "$pkg")" = 644
    check "$from->$to: manifest project" test "$(unzip -p "$pkg" manifest.json | jq -r .project)" = "$PROJECT"
    check "$from->$to: manifest versions" test "$(unzip -p "$pkg" manifest.json | jq -r '.source_version + " " + .target_version')" = "$from $to"

    expect 0 "$BIN/verifydelta" "${dev[@]}" --source "$old" "$pkg"
    check "$from->$to: report names the signature" grep -q "signature: verified" "$LAST_OUT"
    expect 0 "$BIN/verifydelta" "${dev[@]}" --source "$old" --json "$pkg"
    check "$from->$to: --json has code 0" jq -e '.code == 0 and .status == "ok" and .signature == "verified"' "$LAST_OUT"
    check "$from->$to: --json has the proof figures" jq -e '.images[0].blocks_written > 0 and .images[0].ram_bytes > 0' "$LAST_OUT"

    expect 0 "$BIN/applydelta" "${dev[@]}" --source "$old" --output "$d/new.bin" "$pkg"
    same "$d/new.bin" "$new" "$from->$to: out of place"
    check "$from->$to: out-of-place target mode 0644" test "$(stat -c %a "$d/new.bin")" = 644

    cp "$old" "$d/flash.bin"
    expect 0 "$BIN/applydelta" "${dev[@]}" --image "$d/flash.bin" "$pkg"
    same "$d/flash.bin" "$new" "$from->$to: in place"
    check "$from->$to: state dir removed after success" test ! -e "$d/flash.bin.fota"

    local before
    before=$(sha "$old")
    expect 0 "$BIN/verifydelta" "${dev[@]}" --source "$old" --dry-run "$pkg"
    check "$from->$to: dry run reported" grep -q "dry run:" "$LAST_OUT"
    check "$from->$to: dry run leaves the source" test "$(sha "$old")" = "$before"
    check "$from->$to: dry run leaves no temporary" test -z "$(ls -A "$TMPDIR")"
}

roundtrip 7.27.0 7.28.0 "$EC" "$ECPUB"
roundtrip 7.28.0 7.27.0 "$EC" "$ECPUB"
roundtrip 7.22.0 7.28.0 "$EC" "$ECPUB"
roundtrip 7.27.0 7.28.0 "$RSA" "$RSAPUB"

# --- mkdelta --json ---
expect 0 "$BIN/mkdelta" --json --project P --from 7.27.0 --to 7.28.0 -o "$T/j.zip" \
    "$FW/cityhub-7.27.0.bin" "$FW/cityhub-7.28.0.bin"
check "mkdelta --json report" jq -e --arg n "$(stat -c %s "$T/j.zip")" \
    '.package_bytes == ($n | tonumber) and .signature == "unsigned" and .images[0].name == "firmware"' "$LAST_OUT"
check "unsigned package: said on stderr" grep -q unsigned "$LAST_ERR"
expect 0 "$BIN/verifydelta" --project P --from 7.27.0 --source "$FW/cityhub-7.27.0.bin" --json "$T/j.zip"
check "unsigned package: signature state" jq -e '.signature == "unsigned"' "$LAST_OUT"

# --- multi-image: modem 7.27->7.28, boot 7.22->7.27 ---
M=$T/multi
mkdir -p "$M"
expect 0 "$BIN/mkdelta" -q --project P --from V1 --to V2 --key "$EC" \
    --image "modem=$FW/cityhub-7.27.0.bin:$FW/cityhub-7.28.0.bin" \
    --image "boot=$FW/cityhub-7.22.0.bin:$FW/cityhub-7.27.0.bin" -o "$M/pkg.zip"
check "multi: two images in the manifest" test "$(unzip -p "$M/pkg.zip" manifest.json | jq -r '[.images[].name] | join(",")')" = modem,boot
expect 0 "$BIN/verifydelta" --pubkey "$ECPUB" --project P --from V1 \
    --source "modem=$FW/cityhub-7.27.0.bin" --source "boot=$FW/cityhub-7.22.0.bin" --dry-run "$M/pkg.zip"
expect 10 "$BIN/verifydelta" --pubkey "$ECPUB" --project P --from V1 \
    --source "modem=$FW/cityhub-7.22.0.bin" --source "boot=$FW/cityhub-7.27.0.bin" "$M/pkg.zip"
expect 64 "$BIN/verifydelta" --pubkey "$ECPUB" --source "modem=$FW/cityhub-7.27.0.bin" "$M/pkg.zip"
expect 0 "$BIN/applydelta" --pubkey "$ECPUB" --project P --from V1 \
    --source "modem=$FW/cityhub-7.27.0.bin" --source "boot=$FW/cityhub-7.22.0.bin" \
    --output "modem=$M/modem.new" --output "boot=$M/boot.new" "$M/pkg.zip"
same "$M/modem.new" "$FW/cityhub-7.28.0.bin" "multi: modem out of place"
same "$M/boot.new" "$FW/cityhub-7.27.0.bin" "multi: boot out of place"
cp "$FW/cityhub-7.27.0.bin" "$M/modem.bin"
cp "$FW/cityhub-7.22.0.bin" "$M/boot.bin"
expect 0 "$BIN/applydelta" --pubkey "$ECPUB" --project P --from V1 --urc \
    --image "modem=$M/modem.bin" --image "boot=$M/boot.bin" "$M/pkg.zip"
same "$M/modem.bin" "$FW/cityhub-7.28.0.bin" "multi: modem in place"
same "$M/boot.bin" "$FW/cityhub-7.27.0.bin" "multi: boot in place"
check "multi: URCs start, rise to 100, end 0" awk '
    NR == 1 { if ($0 != "+QIND: \"FOTA\",\"START\"") exit 1; next }
    /^\+QIND: "FOTA","UPDATING",[0-9]+$/ { split($0, f, ","); p = f[3] + 0; if (p <= last || p > 100) exit 1; last = p; next }
    { end = $0 }
    END { if (last != 100 || end != "+QIND: \"FOTA\",\"END\",0") exit 1 }' "$LAST_OUT"
check "multi: state dir removed" test ! -e "$M/modem.bin.fota"

# --- empty source, empty target, identical images ---
E=$T/edge
mkdir -p "$E"
: >"$E/empty.bin"
expect 0 "$BIN/mkdelta" -q --project P --from 0 --to 1 -o "$E/grow.zip" "$E/empty.bin" "$FW/cityhub-7.27.0.bin"
expect 0 "$BIN/applydelta" -q --source "$E/empty.bin" --output "$E/grow.out" "$E/grow.zip"
same "$E/grow.out" "$FW/cityhub-7.27.0.bin" "empty source: out of place"
: >"$E/flash.bin"
expect 0 "$BIN/applydelta" -q --image "$E/flash.bin" "$E/grow.zip"
same "$E/flash.bin" "$FW/cityhub-7.27.0.bin" "empty source: in place"
expect 0 "$BIN/mkdelta" -q --project P --from 1 --to 0 -o "$E/shrink.zip" "$FW/cityhub-7.27.0.bin" "$E/empty.bin"
cp "$FW/cityhub-7.27.0.bin" "$E/flash2.bin"
expect 0 "$BIN/applydelta" -q --image "$E/flash2.bin" "$E/shrink.zip"
same "$E/flash2.bin" "$E/empty.bin" "empty target: in place"
expect 0 "$BIN/mkdelta" -q --json --project P --from 1 --to 1 -o "$E/same.zip" "$FW/cityhub-7.28.0.bin" "$FW/cityhub-7.28.0.bin"
check "identical images: a small patch" jq -e '.images[0].patch_bytes < 4096' "$LAST_OUT"
cp "$FW/cityhub-7.28.0.bin" "$E/flash3.bin"
expect 0 "$BIN/applydelta" -q --image "$E/flash3.bin" "$E/same.zip"
same "$E/flash3.bin" "$FW/cityhub-7.28.0.bin" "identical images: in place"
expect 0 "$BIN/verifydelta" -q --source "$FW/cityhub-7.28.0.bin" --dry-run "$E/same.zip"

# --- BSDIFF40 interop with Debian's bsdiff 4.3 ---
if command -v bspatch >/dev/null && command -v bsdiff >/dev/null; then
    Bd=$T/bsdiff
    mkdir -p "$Bd"
    expect 0 "$BIN/mkdelta" -q --format bsdiff40 -o "$Bd/ours.patch" "$FW/cityhub-7.22.0.bin" "$FW/cityhub-7.28.0.bin"
    check "BSDIFF40 magic" test "$(head -c 8 "$Bd/ours.patch")" = BSDIFF40
    check "Debian bspatch applies ours" bspatch "$FW/cityhub-7.22.0.bin" "$Bd/deb.out" "$Bd/ours.patch"
    same "$Bd/deb.out" "$FW/cityhub-7.28.0.bin" "Debian bspatch of our patch"
    check "Debian bsdiff" bsdiff "$FW/cityhub-7.27.0.bin" "$FW/cityhub-7.28.0.bin" "$Bd/deb.patch"
    expect 0 "$BIN/applydelta" --format bsdiff40 --source "$FW/cityhub-7.27.0.bin" --output "$Bd/ours.out" "$Bd/deb.patch"
    same "$Bd/ours.out" "$FW/cityhub-7.28.0.bin" "applydelta of Debian's patch"
    head -c 100 "$Bd/deb.patch" >"$Bd/cut.patch"
    expect 4 "$BIN/applydelta" --format bsdiff40 --source "$FW/cityhub-7.27.0.bin" --output "$Bd/cut.out" "$Bd/cut.patch"
    check "a refused patch leaves no output" test ! -e "$Bd/cut.out"
else
    fail "Debian bsdiff/bspatch not installed (apt-get install bsdiff)"
fi

# --- --help, --version, usage errors ---
for t in mkdelta verifydelta applydelta; do
    expect 0 "$BIN/$t" --help
    check "$t --help lists the exit statuses" grep -q "^Exit status:" "$LAST_OUT"
    check "$t --help documents 64" grep -q "64" "$LAST_OUT"
    expect 0 "$BIN/$t" --version
    check "$t --version names tool and library" grep -q "^$t [0-9.]* (libdelta [0-9.]*)$" "$LAST_OUT"
    expect 64 "$BIN/$t" --no-such-option
    check "$t usage error on stderr only" test ! -s "$LAST_OUT"
done
expect 64 "$BIN/mkdelta" --project P --from a --to b -o "$T/x.zip" "$FW/cityhub-7.27.0.bin"
expect 64 "$BIN/mkdelta" --project P --from a --to b "$FW/cityhub-7.27.0.bin" "$FW/cityhub-7.28.0.bin"
expect 64 "$BIN/mkdelta" --block-size lots -o "$T/x.zip" "$FW/cityhub-7.27.0.bin" "$FW/cityhub-7.28.0.bin"
expect 64 "$BIN/verifydelta" "$T/j.zip" "$T/j.zip"
expect 64 "$BIN/applydelta" --image "$T/a" --source "$T/b" "$T/j.zip"
expect 1 "$BIN/mkdelta" -q --project P --from a --to b -o "$T/x.zip" "$T/does-not-exist" "$FW/cityhub-7.28.0.bin"
check "unreadable input: 'tool: what: why'" grep -q "^mkdelta: cannot read an image: .*does-not-exist" "$LAST_ERR"
expect 1 "$BIN/verifydelta" --source "$FW/cityhub-7.27.0.bin" "$T/does-not-exist.zip"
expect 1 "$BIN/mkdelta" -q --project P --from a --to b --key "$ECPUB" -o "$T/x.zip" "$FW/cityhub-7.27.0.bin" "$FW/cityhub-7.28.0.bin"
check "a refused key writes nothing" test ! -e "$T/x.zip"

finish
