#!/usr/bin/env bash
# The tools in a release pipeline: - for stdin and stdout, no overwriting
# without -f, signing outside the build machine (--sign-command with openssl,
# the two-step --sign, byte for byte what --key gives), progress on stderr
# (a bar on a terminal, lines with --progress, nothing with -q) and messages
# that say what to do.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PROJECT=EC25EFAR06A
OLD=$FW/cityhub-7.27.0.bin
NEW=$FW/cityhub-7.28.0.bin
KEY=$KEYS/ec-p256.pem
PUB=$KEYS/ec-p256.pub.pem
DEV=(--pubkey "$PUB" --project "$PROJECT" --from 7.27.0)
MK=(--project "$PROJECT" --from 7.27.0 --to 7.28.0)
members() { unzip -Z1 "$1" | tr '\n' ' '; }

# ---- -o - and - inputs ----
expect 0 "$BIN/mkdelta" -q "${MK[@]}" --key "$KEY" -o "$T/file.zip" "$OLD" "$NEW"
expect 0 "$BIN/mkdelta" -q "${MK[@]}" --key "$KEY" -o - "$OLD" "$NEW"
cp "$LAST_OUT" "$T/stdout.zip"
same "$T/stdout.zip" "$T/file.zip" "mkdelta -o - writes the package's bytes to stdout"
check "mkdelta -o -: nothing on stderr" test ! -s "$LAST_ERR"
expect 0 "$BIN/mkdelta" -q "${MK[@]}" --key "$KEY" -o "$T/stdin-old.zip" - "$NEW" <"$OLD"
same "$T/stdin-old.zip" "$T/file.zip" "mkdelta OLD from stdin"
cat "$NEW" | "$BIN/mkdelta" -q "${MK[@]}" --key "$KEY" -o "$T/stdin-new.zip" "$OLD" - && pass || fail "mkdelta NEW from a pipe"
same "$T/stdin-new.zip" "$T/file.zip" "mkdelta NEW from a pipe"
expect 64 "$BIN/mkdelta" -q "${MK[@]}" -o "$T/x.zip" - -
check "two stdin inputs: usage error" grep -q "only one input can be -" "$LAST_ERR"
expect 64 "$BIN/mkdelta" -q --json "${MK[@]}" -o - "$OLD" "$NEW"
check "--json with -o -: usage error" grep -q -- "--json and -o - both write to stdout" "$LAST_ERR"
if command -v script >/dev/null; then
    # A package is not written to a terminal (as zstd and xz refuse) unless -f.
    script -qec "$BIN/mkdelta -q ${MK[*]} -o - $OLD $NEW; echo rc=\$?" /dev/null >"$T/tty.out" 2>&1 || true
    check "mkdelta -o - on a terminal: refused, exit 1" grep -q "rc=1" "$T/tty.out"
    check "mkdelta -o - on a terminal: says what to do" grep -q "refusing to write a package to a terminal" "$T/tty.out"
fi

cat "$T/file.zip" | "$BIN/verifydelta" "${DEV[@]}" --source "$OLD" - >"$T/v.out" 2>"$T/v.err" && pass || fail "verifydelta - from a pipe"
check "verifydelta -: the report names stdin" grep -q "^package:   - ($(stat -c %s "$T/file.zip") bytes)" "$T/v.out"
check "verifydelta -: signature verified" grep -q "^signature: verified" "$T/v.out"
expect 0 "$BIN/verifydelta" -q "${DEV[@]}" --source "$OLD" --dry-run - <"$T/file.zip"
check "verifydelta - --dry-run: no temporary left" test -z "$(ls -A "$TMPDIR")"
size=$(stat -c %s "$T/file.zip")
expect 50 "$BIN/verifydelta" "${DEV[@]}" --source "$OLD" --max-size $((size - 1)) - <"$T/file.zip"
check "stdin over --max-size: 550 named" grep -q "^verifydelta: error 550: the package on stdin is larger than $((size - 1)) bytes (--max-size)" "$LAST_ERR"
expect 0 "$BIN/verifydelta" -q "${DEV[@]}" --source "$OLD" --max-size "$size" - <"$T/file.zip"
head -c 1000 "$T/file.zip" >"$T/cut.zip"
expect 4 "$BIN/verifydelta" "${DEV[@]}" --source "$OLD" - <"$T/cut.zip"
expect 64 "$BIN/verifydelta" "${DEV[@]}" --source - - <"$T/file.zip"

# ---- no overwriting without -f ----
echo precious >"$T/exists.zip"
expect 1 "$BIN/mkdelta" -q "${MK[@]}" --key "$KEY" -o "$T/exists.zip" "$OLD" "$NEW"
check "mkdelta -o EXISTING: says what to do" grep -qx "mkdelta: $T/exists.zip exists: give -f (--force) to overwrite it" "$LAST_ERR"
check "mkdelta -o EXISTING: left alone" test "$(cat "$T/exists.zip")" = precious
expect 0 "$BIN/mkdelta" -q -f "${MK[@]}" --key "$KEY" -o "$T/exists.zip" "$OLD" "$NEW"
same "$T/exists.zip" "$T/file.zip" "mkdelta -f overwrites"
echo precious >"$T/exists.bin"
expect 1 "$BIN/applydelta" -q "${DEV[@]}" --source "$OLD" --output "$T/exists.bin" "$T/file.zip"
check "applydelta --output EXISTING: says what to do" grep -qx "applydelta: $T/exists.bin exists: give -f (--force) to overwrite it" "$LAST_ERR"
check "applydelta --output EXISTING: left alone" test "$(cat "$T/exists.bin")" = precious
expect 1 "$BIN/applydelta" -q --urc "${DEV[@]}" --source "$OLD" --output "$T/exists.bin" "$T/file.zip"
check "applydelta --output EXISTING --urc: END,502 alone" test "$(cat "$LAST_OUT")" = '+QIND: "FOTA","END",502'
expect 0 "$BIN/applydelta" -q --force "${DEV[@]}" --source "$OLD" --output "$T/exists.bin" "$T/file.zip"
same "$T/exists.bin" "$NEW" "applydelta --force overwrites"
expect 0 "$BIN/mkdelta" -q --format bsdiff40 -o "$T/p.bsdiff" "$OLD" "$NEW"
expect 1 "$BIN/applydelta" -q --format bsdiff40 --source "$OLD" --output "$T/exists.bin" "$T/p.bsdiff"
expect 0 "$BIN/applydelta" -q -f --format bsdiff40 --source "$OLD" --output "$T/exists.bin" "$T/p.bsdiff"
same "$T/exists.bin" "$NEW" "applydelta -f --format bsdiff40 overwrites"

# An output that appears while mkdelta works (here made by the signer itself) is not
# overwritten either: the final rename refuses to replace (RENAME_NOREPLACE).
expect 1 "$BIN/mkdelta" -q "${MK[@]}" --sign-command "echo racer >$T/race.zip; openssl dgst -sha256 -sign $KEY" \
    -o "$T/race.zip" "$OLD" "$NEW"
check "an output that appeared meanwhile: refused" grep -qx "mkdelta: $T/race.zip exists: give -f (--force) to overwrite it" "$LAST_ERR"
check "an output that appeared meanwhile: left alone" test "$(cat "$T/race.zip")" = racer
check "an output that appeared meanwhile: no temporary left" test -z "$(ls -A "$T" | grep '^\.race')"

# ---- keys of the wrong kind, and 511 ----
expect 1 "$BIN/mkdelta" -q "${MK[@]}" --key "$PUB" -o "$T/x.zip" "$OLD" "$NEW"
check "public key to --key" grep -qx "mkdelta: --key $PUB: this is a public key; --key takes the private signing key" "$LAST_ERR"
check "public key to --key: not mbedTLS's words" test -z "$(grep -i "invalid key tag" "$LAST_ERR")"
expect 1 "$BIN/mkdelta" -q "${MK[@]}" --key "$KEY" --pubkey "$KEY" -o "$T/x.zip" "$OLD" "$NEW"
check "private key to mkdelta --pubkey" grep -q "this is a private key; --pubkey takes the public key" "$LAST_ERR"
for tool in verifydelta applydelta; do
    out=()
    [[ $tool == applydelta ]] && out=(--output "$T/x.bin")
    expect 1 "$BIN/$tool" --pubkey "$KEY" --source "$OLD" "${out[@]}" "$T/file.zip"
    check "$tool: private key to --pubkey" grep -qx "$tool: --pubkey $KEY: this is a private key; --pubkey takes the public key (openssl pkey -in KEY -pubout)" "$LAST_ERR"
done
cp "$OLD" "$T/flash.bin"
expect 1 "$BIN/applydelta" --pubkey "$KEY" --image "$T/flash.bin" "$T/file.zip"
check "applydelta in place: private key to --pubkey" grep -q "this is a private key" "$LAST_ERR"
check "nothing written with a wrong key" test ! -e "$T/x.zip" -a ! -e "$T/x.bin" -a ! -e "$T/flash.bin.fota"
expect 11 "$BIN/verifydelta" "${DEV[@]}" --source "$OLD" --space 4096 "$T/file.zip"
check "511: says what to do" grep -Eq "^verifydelta: error 511: .*; give the device more room for the update state \(a larger --space\), or make the package with a smaller --batch-blocks or --max-stash \(mkdelta\)$" "$LAST_ERR"
expect 11 "$BIN/applydelta" "${DEV[@]}" --image "$T/flash.bin" --space 4096 "$T/file.zip"
check "511 in place: says what to do" grep -q -- "--batch-blocks or --max-stash" "$LAST_ERR"
expect 11 "$BIN/applydelta" "${DEV[@]}" --image "$T/flash.bin" --slot-size 4096 "$T/file.zip"
check "511 slot: says what to do" grep -Eq "^applydelta: error 511: .*does not fit the 4096-byte region; check --slot-size, or make the package for a larger region \(mkdelta --slot-size\)$" "$LAST_ERR"
check "511: nothing written" test "$(sha "$T/flash.bin")" = "$(sha "$OLD")" -a ! -e "$T/flash.bin.fota"
# The advice works: a smaller plan needs less room.
need=$(jq .space_needed <(unzip -p "$T/file.zip" manifest.json))
expect 0 "$BIN/mkdelta" -q "${MK[@]}" --key "$KEY" --batch-blocks 8 -o "$T/small.zip" "$OLD" "$NEW"
small=$(jq .space_needed <(unzip -p "$T/small.zip" manifest.json))
check "--batch-blocks 8 needs less space ($small < $need)" test "$small" -lt "$need"
expect 0 "$BIN/verifydelta" -q "${DEV[@]}" --source "$OLD" --space "$small" "$T/small.zip"

# ---- signing outside the build machine ----
expect 0 "$BIN/mkdelta" -q "${MK[@]}" -o "$T/unsigned.zip" "$OLD" "$NEW"
check "unsigned: no manifest.sig" test "$(members "$T/unsigned.zip")" = "manifest.json firmware.ldp "
# Two steps with the key: exactly the package made with the key in one step.
expect 0 "$BIN/mkdelta" -q --sign "$T/unsigned.zip" --key "$KEY" -o "$T/two-step.zip"
same "$T/two-step.zip" "$T/file.zip" "--sign --key: the bytes of mkdelta --key"
expect 0 "$BIN/mkdelta" -q --sign - --key "$KEY" -o "$T/two-step-stdin.zip" <"$T/unsigned.zip"
same "$T/two-step-stdin.zip" "$T/file.zip" "--sign - reads the package from stdin"
# openssl as the external signer (randomised ECDSA, DER), both ways.
SIGNER="openssl dgst -sha256 -sign $KEY"
expect 0 "$BIN/mkdelta" -q --sign "$T/unsigned.zip" --sign-command "$SIGNER" -o "$T/openssl.zip"
check "--sign: manifest.sig added" test "$(members "$T/openssl.zip")" = "manifest.json manifest.sig firmware.ldp "
for m in manifest.json firmware.ldp; do
    check "--sign: $m unchanged" cmp -s <(unzip -p "$T/unsigned.zip" "$m") <(unzip -p "$T/openssl.zip" "$m")
done
check "--sign: openssl verifies its signature" \
    openssl dgst -sha256 -verify "$PUB" -signature <(unzip -p "$T/openssl.zip" manifest.sig) <(unzip -p "$T/openssl.zip" manifest.json)
expect 0 "$BIN/verifydelta" "${DEV[@]}" --source "$OLD" "$T/openssl.zip"
check "--sign-command package: verifydelta --pubkey verifies" grep -q "^signature: verified" "$LAST_OUT"
expect 0 "$BIN/applydelta" -q "${DEV[@]}" --source "$OLD" --output "$T/openssl.bin" "$T/openssl.zip"
same "$T/openssl.bin" "$NEW" "the openssl-signed package applies"
# One step, RSA too; the signer's stdin is exactly the manifest.
expect 0 "$BIN/mkdelta" -q "${MK[@]}" --sign-command "tee $T/signed-input | openssl dgst -sha256 -sign $KEYS/rsa2048.pem" \
    --pubkey "$KEYS/rsa2048.pub.pem" -o "$T/rsa.zip" "$OLD" "$NEW"
check "--sign-command got the manifest bytes on stdin" cmp -s "$T/signed-input" <(unzip -p "$T/rsa.zip" manifest.json)
check "--sign-command: manifest as unsigned" cmp -s <(unzip -p "$T/unsigned.zip" manifest.json) <(unzip -p "$T/rsa.zip" manifest.json)
expect 0 "$BIN/verifydelta" -q --pubkey "$KEYS/rsa2048.pub.pem" --source "$OLD" "$T/rsa.zip"
# Failures: a clear error, nothing written.
signer_fails() { # signer_fails WHY CMD: mkdelta --sign-command CMD exits 1 with WHY
    expect 1 "$BIN/mkdelta" -q "${MK[@]}" --sign-command "$2" -o "$T/x.zip" "$OLD" "$NEW"
    check "--sign-command '$2': $1" grep -q -- "$1" "$LAST_ERR"
    check "--sign-command '$2': nothing written" test ! -e "$T/x.zip"
}
signer_fails "exited with status 3" "cat >/dev/null; exit 3"
signer_fails "exited with status 1" "openssl dgst -sha256 -sign $T/no-such-key.pem"
signer_fails "printed no signature" "cat >/dev/null"
signer_fails "printed no signature" "true"
signer_fails "killed by signal 9" 'kill -9 $$'
signer_fails "status 127 (command not found?)" "no-such-signer-command"
signer_fails "more than 1024 bytes" "head -c 5000 /dev/zero"
# A signer with the wrong key: --pubkey catches it before anything is written (504).
expect 4 "$BIN/mkdelta" -q "${MK[@]}" --sign-command "openssl dgst -sha256 -sign $KEYS/ec-p256-other.pem" \
    --pubkey "$PUB" -o "$T/x.zip" "$OLD" "$NEW"
check "wrong signer key: the signature does not verify" grep -q "error 504: .*signature does not verify" "$LAST_ERR"
check "wrong signer key: nothing written" test ! -e "$T/x.zip"
expect 1 "$BIN/mkdelta" -q --sign "$T/file.zip" --key "$KEY" -o "$T/x.zip"
check "--sign on a signed package refused" grep -q "is signed already: --sign takes an unsigned package" "$LAST_ERR"
expect 4 "$BIN/mkdelta" -q --sign "$T/cut.zip" --key "$KEY" -o "$T/x.zip"
expect 64 "$BIN/mkdelta" -q --sign "$T/unsigned.zip" -o "$T/x.zip"
expect 64 "$BIN/mkdelta" -q --sign "$T/unsigned.zip" --key "$KEY" --project P -o "$T/x.zip"
expect 64 "$BIN/mkdelta" -q "${MK[@]}" --key "$KEY" --sign-command true -o "$T/x.zip" "$OLD" "$NEW"
check "nothing written by a refused --sign" test ! -e "$T/x.zip"

# ---- progress ----
expect 0 "$BIN/mkdelta" "${MK[@]}" --key "$KEY" --progress -o "$T/prog.zip" "$OLD" "$NEW"
check "mkdelta --progress: one line per step, in order" test "$(cat "$LAST_ERR")" = "$(printf 'mkdelta: %s\n' reading \
    "diffing firmware" "encoding firmware" "proving firmware" signing zipping writing)"
expect 0 "$BIN/mkdelta" "${MK[@]}" --key "$KEY" -f -o "$T/prog.zip" "$OLD" "$NEW"
check "mkdelta without --progress, not a terminal: quiet" test ! -s "$LAST_ERR"
expect 0 "$BIN/mkdelta" -q "${MK[@]}" --key "$KEY" --progress -f -o "$T/prog.zip" "$OLD" "$NEW"
check "mkdelta -q --progress: silent" test ! -s "$LAST_ERR"
expect 0 "$BIN/mkdelta" "${MK[@]}" --sign-command "$SIGNER" --progress -f -o "$T/prog.zip" "$OLD" "$NEW"
check "mkdelta --sign-command --progress: the signing step" test "$(grep -c "^mkdelta: signing$" "$LAST_ERR")" = 1
cp "$OLD" "$T/flash2.bin"
expect 0 "$BIN/applydelta" "${DEV[@]}" --progress --image "$T/flash2.bin" "$T/file.zip"
check "applydelta --progress: a line per tenth, 0..100, each once" \
    test "$(cat "$LAST_ERR")" = "$(for p in 0 10 20 30 40 50 60 70 80 90 100; do echo "applydelta: applying: $p%"; done)"
cp "$OLD" "$T/flash3.bin"
expect 0 "$BIN/applydelta" "${DEV[@]}" --image "$T/flash3.bin" "$T/file.zip"
check "applydelta without --progress, not a terminal: quiet" test ! -s "$LAST_ERR"
expect 0 "$BIN/verifydelta" -q "${DEV[@]}" --source "$OLD" --dry-run --progress "$T/file.zip"
check "verifydelta -q --progress: silent" test ! -s "$LAST_ERR"
expect 0 "$BIN/verifydelta" "${DEV[@]}" --source "$OLD" --dry-run --progress "$T/file.zip"
check "verifydelta --dry-run --progress: lines to 100%" grep -qx "verifydelta: dry run: 100%" "$LAST_ERR"
if command -v script >/dev/null; then
    script -qec "$BIN/mkdelta ${MK[*]} --key $KEY -o $T/tty.zip $OLD $NEW" /dev/null >"$T/tty.out" 2>&1 || true
    check "mkdelta on a terminal: a bar redrawn in place" grep -q $'\rdiffing firmware \\[#' "$T/tty.out"
    check "mkdelta on a terminal: the bar reaches 100%" grep -q '\[########################################\] 100.0%' "$T/tty.out"
    cp "$OLD" "$T/flash4.bin"
    script -qec "$BIN/applydelta ${DEV[*]} --image $T/flash4.bin $T/file.zip" /dev/null >"$T/tty2.out" 2>&1 || true
    check "applydelta on a terminal: a bar" grep -q $'\rapplying \\[' "$T/tty2.out"
    cp "$OLD" "$T/flash5.bin"
    script -qec "$BIN/applydelta -q ${DEV[*]} --image $T/flash5.bin $T/file.zip" /dev/null >"$T/tty3.out" 2>&1 || true
    check "applydelta -q on a terminal: nothing" test ! -s "$T/tty3.out"
    same "$T/flash5.bin" "$NEW" "applydelta -q on a terminal applied"
else
    fail "script (util-linux) missing: the terminal cases cannot run"
fi

finish
