#!/usr/bin/env bash
# Every --json report of the three tools, on success and on failure, is one
# object that its schema in formats/schema/ accepts (Debian's python3-jsonschema,
# draft 2020-12), with the exit status the tool returned, and the same key
# names the same thing in every tool (the values agree across tools).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PY=${PYTHON3:-/usr/bin/python3}
VALIDATE=$(dirname "${BASH_SOURCE[0]}")/validate_json.py
SCHEMAS=$SRC/formats/schema
PROJECT=EC25EFAR06A
OLD=$FW/cityhub-7.27.0.bin
NEW=$FW/cityhub-7.28.0.bin
KEY=$KEYS/ec-p256.pem
PUB=$KEYS/ec-p256.pub.pem
DEV=(--pubkey "$PUB" --project "$PROJECT" --from 7.27.0)
J=$T/json
mkdir -p "$J"

"$PY" -c 'import jsonschema' 2>/dev/null || { fail "python3-jsonschema missing ($PY; scripts/deps installs it)"; finish; exit 1; }
for tool in mkdelta verifydelta applydelta; do
    check "$tool.schema.json is a draft 2020-12 schema" \
        "$PY" -c 'import json, sys, jsonschema; s = json.load(open(sys.argv[1])); jsonschema.Draft202012Validator.check_schema(s); assert s["$schema"] == "https://json-schema.org/draft/2020-12/schema"' \
        "$SCHEMAS/$tool.schema.json"
done

N=0
# report WANT TOOL ARG...: runs TOOL --json ARG..., asserts the exit status WANT,
# that stdout is valid against TOOL's schema, names it, carries exit == WANT,
# and (on failure) a message. The report is left in $J/<N>.json ($REPORT).
report() {
    local want=$1 tool=$2; shift 2
    N=$((N + 1))
    REPORT=$J/$N.json
    expect "$want" "$BIN/$tool" --json "$@"
    cp "$LAST_OUT" "$REPORT"
    if "$PY" "$VALIDATE" "$SCHEMAS/$tool.schema.json" "$REPORT" 2>"$J/$N.err"; then
        pass
    else
        fail "$tool --json $*: not valid against $tool.schema.json"
        sed 's/^/    /' "$J/$N.err" | head -5 >&2
    fi
    check "$tool report $N: schema libdelta-$tool/1, exit $want" \
        jq -e --arg s "libdelta-$tool/1" --argjson e "$want" '.schema == $s and .exit == $e' "$REPORT"
    if [[ $want != 0 ]]; then
        check "$tool report $N: a failure has a message and status" \
            jq -e '(.message | length) > 0 and .status != "ok" and .code != 0' "$REPORT"
    fi
}
# field FILTER: the current report satisfies the jq filter.
field() { check "report $N: ${*: -1}" jq -e "$@" "$REPORT"; }

# ---- mkdelta ----
report 0 mkdelta -q --project "$PROJECT" --from 7.27.0 --to 7.28.0 --key "$KEY" -o "$T/pkg.zip" "$OLD" "$NEW"
MK=$REPORT
field '.format == "package" and .signature == "signed" and .code == 0 and .status == "ok"'
field --arg n "$(stat -c %s "$T/pkg.zip")" '.package_bytes == ($n | tonumber)'
check "mkdelta patch_bytes is the manifest's patch.size" test \
    "$(jq .images[0].patch_bytes "$MK")" = "$(unzip -p "$T/pkg.zip" manifest.json | jq .images[0].patch.size)"
check "mkdelta ram_bytes is the manifest's decoder_memory" test \
    "$(jq .images[0].ram_bytes "$MK")" = "$(unzip -p "$T/pkg.zip" manifest.json | jq .images[0].apply.decoder_memory)"
report 0 mkdelta -q --project P --from 1 --to 2 -o "$T/unsigned.zip" "$OLD" "$NEW"
field '.signature == "unsigned" and .images[0].commands > 0'
report 0 mkdelta -q --sign "$T/unsigned.zip" --key "$KEY" --pubkey "$PUB" -o "$T/signed.zip"
field '.signature == "verified" and (.images[0] | has("commands") | not)'
report 0 mkdelta -q --project P --from 1 --to 2 --sign-command "openssl dgst -sha256 -sign $KEY" \
    --pubkey "$PUB" -o "$T/openssl.zip" "$OLD" "$NEW"
field '.signature == "verified"'
report 0 mkdelta -q --format bsdiff40 -o "$T/p.bsdiff" "$OLD" "$NEW"
field --arg n "$(stat -c %s "$T/p.bsdiff")" '.format == "bsdiff40" and .patch_bytes == ($n | tonumber) and (has("images") | not)'
# failures
report 1 mkdelta -q --project P --from 1 --to 2 -o "$T/pkg.zip" "$OLD" "$NEW"
field '.code == -1 and (.message | test("exists: give -f"))'
report 1 mkdelta -q --project P --from 1 --to 2 --key "$PUB" -o "$T/x.zip" "$OLD" "$NEW"
field '.message | test("this is a public key; --key takes the private signing key")'
report 1 mkdelta -q --project P --from 1 --to 2 -o "$T/x.zip" "$T/no-such.bin" "$NEW"
field '.message | test("no-such.bin")'
report 1 mkdelta -q --project P --from 1 --to 2 --sign-command "exit 3" -o "$T/x.zip" "$OLD" "$NEW"
field '.message | test("exited with status 3")'
report 1 mkdelta -q --sign "$T/pkg.zip" --key "$KEY" -o "$T/x.zip"
field '.message | test("signed already")'
report 4 mkdelta -q --sign "$KEYS/README.md" --key "$KEY" -o "$T/x.zip"
field '.code == 504'
check "no failed mkdelta left an output" test ! -e "$T/x.zip"

# ---- verifydelta ----
report 0 verifydelta -q "${DEV[@]}" --source "$OLD" "$T/pkg.zip"
VD=$REPORT
field '.signature == "verified" and .source_checked == true and (has("dry_run") | not)'
field '.state_area.total_bytes == .space_needed'
field '.state_area | .manifest_copy_bytes + .work_bytes + .patch_copy_bytes + .rollback_backup_bytes == .scratch_bytes'
field '.state_area | .scratch_bytes + .journal_bytes == .total_bytes'
field '.state_area.manifest_copy_bytes == 65536'
check "verifydelta total_bytes is the manifest's space_needed" test \
    "$(jq .state_area.total_bytes "$VD")" = "$(unzip -p "$T/pkg.zip" manifest.json | jq .space_needed)"
# The same key, the same value: every key the two reports share agrees.
check "mkdelta and verifydelta agree on every shared key" jq -en --slurpfile m "$MK" --slurpfile v "$VD" '
    ($m[0] | del(.schema, .output, .format, .code, .exit, .status, .signature, .images)) as $mt |
    ($v[0] | del(.schema, .package, .code, .exit, .status, .signature, .images)) as $vt |
    ([$mt | keys[] | . as $k | select($vt | has($k))] | length >= 6 and all(. as $k | $mt[$k] == $vt[$k])) and
    ($v[0].images[0] | keys) - ($m[0].images[0] | keys) == [] and
    ([$v[0].images[0] | keys[]] | all(. as $k | $m[0].images[0][$k] == $v[0].images[0][$k]))'
report 0 verifydelta -q "${DEV[@]}" --source "$OLD" --dry-run "$T/pkg.zip"
field '.dry_run == "every target rebuilt and its SHA-256 checked"'
report 0 verifydelta -q "${DEV[@]}" --source "$OLD" - <"$T/pkg.zip"
field '.package == "-" and .signature == "verified"'
report 0 verifydelta -q --project P --no-source "$T/unsigned.zip"
field '.signature == "unsigned" and .source_checked == false'
# failures, with and without the package's fields
report 50 verifydelta -q "${DEV[@]}" --source "$OLD" --max-size 100 "$T/pkg.zip"
field '.code == 550 and (has("project") | not)'
report 50 verifydelta -q "${DEV[@]}" --source "$OLD" --max-size 100 - <"$T/pkg.zip"
field '.code == 550 and (.message | test("stdin"))'
report 4 verifydelta -q "${DEV[@]}" --source "$OLD" "$KEYS/README.md"
field '.code == 504'
report 4 verifydelta -q --pubkey "$KEYS/ec-p256-other.pub.pem" --source "$OLD" "$T/pkg.zip"
field '.code == 504 and (.message | test("signature"))'
report 5 verifydelta -q "${DEV[@]}" --from 7.22.0 --source "$OLD" "$T/pkg.zip"
field '.code == 505'
report 10 verifydelta -q "${DEV[@]}" --source "$NEW" "$T/pkg.zip"
field '.code == 510 and .project == "EC25EFAR06A" and .state_area.total_bytes > 0'
report 11 verifydelta -q "${DEV[@]}" --source "$OLD" --space 1000 "$T/pkg.zip"
field '.code == 511 and (.message | test("--batch-blocks")) and (.message | test("--space"))'
report 1 verifydelta -q --pubkey "$KEY" --source "$OLD" "$T/pkg.zip"
field '.code == -1 and (.message | test("this is a private key; --pubkey takes the public key"))'

# ---- applydelta ----
report 0 applydelta -q "${DEV[@]}" --source "$OLD" --output "$T/new.bin" "$T/pkg.zip"
field --arg f "$T/new.bin" '.mode == "out_of_place" and .images[0].file == $f and .signature == "verified"'
same "$T/new.bin" "$NEW" "applydelta --json out of place"
check "applydelta and verifydelta agree on the image" jq -en --slurpfile a "$REPORT" --slurpfile v "$VD" \
    '$a[0].images[0] | del(.file) == $v[0].images[0]'
cp "$OLD" "$T/flash.bin"
report 0 applydelta -q "${DEV[@]}" --image "$T/flash.bin" "$T/pkg.zip"
field --arg f "$T/flash.bin" '.mode == "in_place" and .images == [{"name": null, "file": $f}] and .resumed == false and .already_current == false and .tries == 0 and .target_version == "7.28.0"'
same "$T/flash.bin" "$NEW" "applydelta --json in place"
report 0 applydelta -q --image "$T/flash.bin" "$T/pkg.zip"
field '.already_current == true'
report 0 applydelta -q --format bsdiff40 --source "$OLD" --output "$T/bs.bin" "$T/p.bsdiff"
field --arg n "$(stat -c %s "$NEW")" '.mode == "bsdiff40" and .images[0].target_size == ($n | tonumber) and (has("package") | not)'
# failures
report 1 applydelta -q "${DEV[@]}" --source "$OLD" --output "$T/new.bin" "$T/pkg.zip"
field '.code == -1 and (.message | test("exists: give -f"))'
report 1 applydelta -q --format bsdiff40 --source "$OLD" --output "$T/bs.bin" "$T/p.bsdiff"
field '.message | test("exists")'
cp "$OLD" "$T/flash2.bin"
report 5 applydelta -q "${DEV[@]}" --from 7.22.0 --image "$T/flash2.bin" "$T/pkg.zip"
field '.code == 505 and .mode == "in_place"'
report 10 applydelta -q "${DEV[@]}" --source "$NEW" --output "$T/new2.bin" "$T/pkg.zip"
field '.code == 510 and .project == "EC25EFAR06A"'
report 4 applydelta -q "${DEV[@]}" --source "$OLD" --output "$T/new3.bin" "$KEYS/README.md"
field '.code == 504 and (has("images") | not)'
report 1 applydelta -q --pubkey "$KEY" --image "$T/flash2.bin" "$T/pkg.zip"
field '.message | test("this is a private key")'
check "no failed applydelta left an output" test ! -e "$T/new2.bin" -a ! -e "$T/new3.bin"

# The validator itself refuses what the schemas forbid (it is not a rubber stamp).
jq '.patch_size = 1' "$MK" >"$J/bad-key.json"
check "an unknown key is refused" bash -c '! "$0" "$1" "$2" "$3" 2>/dev/null' "$PY" "$VALIDATE" "$SCHEMAS/mkdelta.schema.json" "$J/bad-key.json"
jq 'del(.message)' "$J/$((N - 1)).json" >"$J/no-message.json"
check "a failure without message is refused" bash -c '! "$0" "$1" "$2" "$3" 2>/dev/null' "$PY" "$VALIDATE" "$SCHEMAS/applydelta.schema.json" "$J/no-message.json"
jq '.signature = "signed, not verified"' "$VD" >"$J/old-signature.json"
check "the old signature text is refused" bash -c '! "$0" "$1" "$2" "$3" 2>/dev/null' "$PY" "$VALIDATE" "$SCHEMAS/verifydelta.schema.json" "$J/old-signature.json"

check "at least 30 reports validated" test "$N" -ge 30
finish
