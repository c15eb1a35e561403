#!/usr/bin/env bash
# Writes the bash completion of a libdelta tool from its --help (the build runs it).
#
#   cmake/gen-completion.sh TOOL-BINARY OUT
#
# The option lines of --help (tools/cli.c print_help) are "  LEFT  HELP" with LEFT
# in columns 3..30 ("-o, --output FILE", "    --json"), or alone on the line when
# longer. An option whose metavariable is DIR completes directories, one like
# "lzma2|none" its words, one of FILE, PEM or PKG files, CMD a command name, any
# other (ID, VERSION, BYTES, N, ...) nothing; a word that is not an option
# completes files.
set -euo pipefail
tool_bin=$1
out=$2
tool=$(basename "$tool_bin")
fn=_libdelta_${tool//[^A-Za-z0-9_]/_}

help=$("$tool_bin" --help)
options=$(awk '
    /^Options:$/ { in_opts = 1; next }
    in_opts && /^$/ { exit }
    in_opts && /^  (-[A-Za-z0-9], |    )--/ {
        line = $0
        sub(/ +$/, "", line)
        # "  LEFT(28) HELP", else LEFT alone on its line.
        if (length(line) > 30 && substr(line, 31, 1) == " " && substr(line, 32, 1) != " ")
            left = substr(line, 3, 28)
        else
            left = substr(line, 3)
        sub(/ +$/, "", left)
        sub(/^ +/, "", left)
        print left
    }' <<<"$help")
[[ -n $options ]] || { echo "gen-completion: no options in $tool_bin --help" >&2; exit 1; }

words=() files=() dirs=() free=() choices=() cmds=()
while IFS= read -r left; do
    names=() arg=
    for w in $left; do
        case $w in
        -?, | --*) names+=("${w%,}") ;;
        -?) names+=("$w") ;;
        *) arg=$w ;;
        esac
    done
    words+=("${names[@]}")
    [[ -n $arg ]] || continue
    case $arg in
    *DIR*) dirs+=("${names[@]}") ;;
    CMD) cmds+=("${names[@]}") ;;
    *'|'*) for n in "${names[@]}"; do choices+=("$n) COMPREPLY=(\$(compgen -W '${arg//|/ }' -- \"\$cur\"));"); done ;;
    *FILE* | *PEM* | *PKG* | *OLD* | *NEW*) files+=("${names[@]}") ;;
    *) free+=("${names[@]}") ;;
    esac
done <<<"$options"

mkdir -p "$(dirname "$out")"
join() { local IFS='|'; echo "$*"; }
{
    echo "# bash completion for $tool: generated from \`$tool --help\` by libdelta's build."
    echo "$fn()"
    echo "{"
    echo "    local cur=\${COMP_WORDS[COMP_CWORD]} prev="
    echo "    ((COMP_CWORD > 0)) && prev=\${COMP_WORDS[COMP_CWORD - 1]}"
    echo "    # --option=VALUE: bash splits at '=' (COMP_WORDBREAKS)."
    echo "    if [[ \$cur == = ]]; then"
    echo "        cur="
    echo "    elif [[ \$prev == = ]] && ((COMP_CWORD > 1)); then"
    echo "        prev=\${COMP_WORDS[COMP_CWORD - 2]}"
    echo "    fi"
    echo "    case \$prev in"
    ((${#files[@]})) && echo "    $(join "${files[@]}")) COMPREPLY=(\$(compgen -f -- \"\$cur\")); compopt -o filenames 2>/dev/null; return ;;"
    ((${#cmds[@]})) && echo "    $(join "${cmds[@]}")) COMPREPLY=(\$(compgen -c -- \"\$cur\")); return ;;"
    ((${#dirs[@]})) && echo "    $(join "${dirs[@]}")) COMPREPLY=(\$(compgen -d -- \"\$cur\")); compopt -o filenames 2>/dev/null; return ;;"
    for c in "${choices[@]}"; do echo "    $c return ;;"; done
    ((${#free[@]})) && echo "    $(join "${free[@]}")) COMPREPLY=(); return ;;"
    echo "    esac"
    echo "    if [[ \$cur == -* ]]; then"
    echo "        COMPREPLY=(\$(compgen -W '${words[*]}' -- \"\$cur\"))"
    echo "    else"
    echo "        COMPREPLY=(\$(compgen -f -- \"\$cur\")); compopt -o filenames 2>/dev/null"
    echo "    fi"
    echo "}"
    echo "complete -F $fn $tool"
} >"$out.tmp"
mv "$out.tmp" "$out"
