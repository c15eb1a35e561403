#!/usr/bin/env bash
# Refused packages and devices: every case runs through verifydelta and through
# applydelta in place (on a copy of the source, with --urc) and must give the
# exact exit status, the END URC alone, an unchanged image and no state dir.
# The hostile packages are made from a good signed one by mkbad.py.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

MKBAD=$(dirname "${BASH_SOURCE[0]}")/mkbad.py
PROJECT=EC25EFAR06A
FROM=7.27.0
OLD=$FW/cityhub-$FROM.bin
NEW=$FW/cityhub-7.28.0.bin
KEY=$KEYS/ec-p256.pem
PUB=$KEYS/ec-p256.pub.pem
GOOD=$T/good.zip

"$BIN/mkdelta" -q --project "$PROJECT" --from "$FROM" --to 7.28.0 --key "$KEY" -o "$GOOD" "$OLD" "$NEW"
bad() { # bad CASE: the hostile variant's path
    python3 "$MKBAD" "$1" "$GOOD" "$T/bad-$1.zip" "$KEY"
    echo "$T/bad-$1.zip"
}

CASES=0
# refuse EXIT WHY PKG [OPTION...]: both tools refuse with exit EXIT and a message
# matching WHY. OPTIONs override the device defaults (--pubkey, --project,
# --from, --source/--image). With APPLY_ONLY=1 only applydelta runs.
refuse() {
    local want=$1 why=$2 pkg=$3; shift 3
    local pub=$PUB project=$PROJECT from=$FROM src=$OLD extra=()
    while (($#)); do
        case $1 in
        --pubkey) pub=$2; shift 2 ;;
        --project) project=$2; shift 2 ;;
        --from) from=$2; shift 2 ;;
        --src) src=$2; shift 2 ;;
        *) extra+=("$1"); shift ;;
        esac
    done
    CASES=$((CASES + 1))
    local dev=(--pubkey "$pub" --project "$project" --from "$from")
    local code=$((want == 0 ? 0 : want + 500))

    if [[ ${APPLY_ONLY:-0} != 1 ]]; then
        expect "$want" "$BIN/verifydelta" "${dev[@]}" --source "$src" "${extra[@]}" "$pkg"
        check "verifydelta $why: message" grep -Eq "^verifydelta: error $code: .*($why)" "$LAST_ERR"
        expect "$want" "$BIN/verifydelta" "${dev[@]}" --source "$src" --json "${extra[@]}" "$pkg"
        check "verifydelta --json $why: code $code" jq -e --argjson c "$code" '.code == $c and (.message | length) > 0' "$LAST_OUT"
    fi

    local d=$T/case-$CASES
    mkdir -p "$d"
    cp "$src" "$d/flash.bin"
    local before
    before=$(sha "$d/flash.bin")
    expect "$want" "$BIN/applydelta" "${dev[@]}" --urc --image "$d/flash.bin" "${extra[@]}" "$pkg"
    check "applydelta $why: message" grep -Eq "^applydelta: error $code: .*($why)" "$LAST_ERR"
    check "applydelta $why: only the END URC" test "$(cat "$LAST_OUT")" = "+QIND: \"FOTA\",\"END\",$code"
    check "applydelta $why: image unchanged" test "$(sha "$d/flash.bin")" = "$before"
    check "applydelta $why: no state dir" test ! -e "$d/flash.bin.fota"
    check "applydelta $why: nothing else written" test "$(ls -A "$d")" = flash.bin
}

# The control: mkbad's writer rebuilds the good package byte-compatibly.
expect 0 "$BIN/verifydelta" --pubkey "$PUB" --project "$PROJECT" --from "$FROM" --source "$OLD" "$(bad identity)"

# 550: too large (checked first of all).
refuse 50 "too large|larger|exceeds|bytes" "$GOOD" --max-size 100
# 504: the package file.
refuse 4 "end record|central directory" "$(bad notzip)"
refuse 4 "too short|0 bytes" "$(bad empty)"
refuse 4 "end record|truncated" "$(bad truncated)"
refuse 4 "SHA-256 differs" "$(bad flip)"
refuse 4 "signature does not verify" "$(bad edit-manifest)"
refuse 4 "not signed" "$(bad nosig)"
refuse 4 "signature does not verify" "$(bad cut-sig)"
refuse 4 "signature does not verify" "$GOOD" --pubkey "$KEYS/ec-p256-other.pub.pem"
refuse 4 "not listed in the manifest" "$(bad extra)"
refuse 4 "missing" "$(bad missing-patch)"
refuse 4 "both named" "$(bad duplicate)"
refuse 4 "unsafe or malformed name" "$(bad evil-name)"
refuse 4 "compression method" "$(bad deflated)"
refuse 4 "source.size" "$(bad source-size)"
refuse 4 "format_version" "$(bad format-version)"
# 505: another project or version.
refuse 5 "project" "$GOOD" --project EG25GGBR07A
refuse 5 "version" "$GOOD" --from 7.22.0
# 511: space and slot.
refuse 11 "needs .* bytes" "$GOOD" --space 100
APPLY_ONLY=1 refuse 11 "does not fit" "$GOOD" --slot-size 4096
# 510: the source is another version.
refuse 10 "source|SHA-256|bytes" "$GOOD" --src "$FW/cityhub-7.22.0.bin"
# Order: 505 before 510, 550 before 504.
refuse 5 "project" "$GOOD" --project OTHER --src "$FW/cityhub-7.22.0.bin"
refuse 50 "too large|larger|exceeds|bytes" "$(bad flip)" --max-size 1000
refuse 50 "too large|larger|exceeds|bytes" "$(bad notzip)" --max-size 10

# A key that cannot be used is a local error (exit 1), not a package fault.
expect 1 "$BIN/verifydelta" --pubkey "$KEY" --source "$OLD" "$GOOD"
check "a private key given as --pubkey is named" grep -q "private key" "$LAST_ERR"

# A FIFO (with no writer) as the package or as a --source: refused at once as
# a local input error (exit 1), naming it, and nothing written. (open() used
# to wait forever for a writer.)
fifo_refused() { # fifo_refused WHAT FIFO TOOL ARG...
    local what=$1 fifo=$2 d=$T/fifo-out; shift 2
    rm -rf "$d"
    mkdir -p "$d"
    expect 1 timeout 10 "$@"
    check "$what: named, not a regular file" grep -q "$fifo: not a regular file or block device" "$LAST_ERR"
    check "$what: nothing written" test -z "$(ls -A "$d")"
}
mkfifo "$T/pkg.fifo" "$T/src.fifo"
DEV=(--pubkey "$PUB" --project "$PROJECT" --from "$FROM")
fifo_refused "verifydelta, FIFO package" "$T/pkg.fifo" "$BIN/verifydelta" "${DEV[@]}" --source "$OLD" "$T/pkg.fifo"
fifo_refused "verifydelta, FIFO --source" "$T/src.fifo" "$BIN/verifydelta" "${DEV[@]}" --source "$T/src.fifo" "$GOOD"
fifo_refused "applydelta, FIFO package" "$T/pkg.fifo" \
    "$BIN/applydelta" "${DEV[@]}" --source "$OLD" --output "$T/fifo-out/new.bin" "$T/pkg.fifo"
fifo_refused "applydelta, FIFO --source" "$T/src.fifo" \
    "$BIN/applydelta" "${DEV[@]}" --source "$T/src.fifo" --output "$T/fifo-out/new.bin" "$GOOD"

check "at least 20 refused cases" test "$CASES" -ge 20
finish
