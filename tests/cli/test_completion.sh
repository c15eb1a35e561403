#!/usr/bin/env bash
# The generated docs of the tools cannot drift from their option tables: every
# option of each tool's --help is offered by its bash completion (run in bash,
# not grepped) and appears in its man page (when help2man was found: HELP2MAN
# is its path, empty otherwise). Also checks that option arguments complete as
# they should (files, directories, fixed words).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# complete TOOL WORD...: the completion's candidates, one a line, for the
# command line "TOOL WORD..." with the cursor at the end of the last word.
complete_words() {
    local tool=$1; shift
    bash -c '
        set -u
        . "$1"; shift
        fn=$(complete -p "$1" | sed -E "s/.* -F ([^ ]+) .*/\1/")
        COMP_WORDS=("$@")
        COMP_CWORD=$(($# - 1))
        COMPREPLY=()
        "$fn"
        printf "%s\n" "${COMPREPLY[@]}"
    ' complete "$BIN/completions/$tool" "$tool" "$@"
}

for tool in mkdelta verifydelta applydelta fotamodem; do
    comp=$BIN/completions/$tool
    check "$tool: completion generated" test -f "$comp"
    check "$tool: completion is valid bash" bash -n "$comp"
    "$BIN/$tool" --help >"$T/help"
    # The options, read here independently of cmake/gen-completion.sh.
    sed -n '/^Options:$/,/^$/p' "$T/help" | grep -oE '^  (-[A-Za-z0-9], |    )--[a-z0-9-]+' |
        grep -oE -- '--[a-z0-9-]+$' >"$T/long"
    sed -n '/^Options:$/,/^$/p' "$T/help" | grep -oE '^  -[A-Za-z0-9],' | tr -d ' ,' >"$T/short"
    check "$tool: --help lists options" test "$(wc -l <"$T/long")" -ge 5
    complete_words "$tool" -- >"$T/offered-long"
    complete_words "$tool" - >"$T/offered"
    while read -r opt; do
        check "$tool: completion has $opt" grep -q -- "$opt" "$comp"
        check "$tool: '$tool --<TAB>' offers $opt" grep -qx -- "$opt" "$T/offered-long"
    done <"$T/long"
    while read -r opt; do
        check "$tool: '$tool -<TAB>' offers $opt" grep -qx -- "$opt" "$T/offered"
    done <"$T/short"
    # Nothing offered that --help does not list.
    check "$tool: completion offers only options of --help" \
        test -z "$(grep -vxF -f "$T/long" "$T/offered-long")"

    if [[ -n ${HELP2MAN:-} && ${HELP2MAN} != *NOTFOUND ]]; then
        man=$BIN/man/$tool.1
        check "$tool: man page generated" test -f "$man"
        sed 's/\\-/-/g; s/\\f[BIRP]//g' "$man" >"$T/man.txt"
        check "$tool: man page NAME section" grep -q "^$tool - " "$T/man.txt"
        check "$tool: man page version" grep -q "^\.TH $(tr a-z A-Z <<<"$tool") .*$tool [0-9]" "$T/man.txt"
        while read -r opt; do
            check "$tool: man page has $opt" grep -q -- "$opt\b" "$T/man.txt"
        done <"$T/long"
    fi
done

# Option arguments.
mkdir -p "$T/cwd/subdir" && touch "$T/cwd/key.pem" "$T/cwd/kernel.bin"
cd "$T/cwd"
check "mkdelta --compression <TAB>: lzma2 lzrc none" test "$(complete_words mkdelta --compression '' | sort | tr '\n' ' ')" = "lzma2 lzrc none "
check "mkdelta --key k<TAB>: files" test "$(complete_words mkdelta --key k | sort | tr '\n' ' ')" = "kernel.bin key.pem "
check "mkdelta --key=k<TAB>: files" test "$(complete_words mkdelta --key = k | sort | tr '\n' ' ')" = "kernel.bin key.pem "
check "applydelta --state-dir <TAB>: directories only" test "$(complete_words applydelta --state-dir '')" = "subdir"
check "verifydelta --project <TAB>: nothing" test -z "$(complete_words verifydelta --project '')"
check "mkdelta --sign k<TAB>: files" test "$(complete_words mkdelta --sign k | sort | tr '\n' ' ')" = "kernel.bin key.pem "
check "mkdelta --sign-command opens<TAB>: commands" grep -qx openssl <(complete_words mkdelta --sign-command opens)
check "mkdelta --sign-command k<TAB>: not files" test -z "$(complete_words mkdelta --sign-command k | grep -x key.pem)"
check "applydelta --json: offered" grep -qx -- --json <(complete_words applydelta --j)
check "verifydelta --progress: offered" grep -qx -- --progress <(complete_words verifydelta --pro)
check "verifydelta <TAB>: files" test "$(complete_words verifydelta k | sort | tr '\n' ' ')" = "kernel.bin key.pem "
cd - >/dev/null

finish
