# Shared helpers of the CLI tests: sourced by tests/cli/test_*.sh.
# Env: BIN (the tools), DATA (tests/data), VECTORS, SRC (repo root); defaults
# fit a build in build/.
SRC=${SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
BIN=${BIN:-$SRC/build/tools}
DATA=${DATA:-$SRC/tests/data}
VECTORS=${VECTORS:-$SRC/formats/vectors}
FW=$DATA/firmware
KEYS=$DATA/keys
for t in mkdelta verifydelta applydelta; do
    [[ -x $BIN/$t ]] || { echo "missing $BIN/$t (build first)" >&2; exit 1; }
done

T=$(mktemp -d "${TMPDIR:-/tmp}/libdelta-cli.XXXXXX")
trap 'rm -rf "$T"' EXIT
export TMPDIR=$T/tmp
mkdir -p "$TMPDIR"

PASSED=0
FAILED=0
LAST_OUT=$T/last.out
LAST_ERR=$T/last.err

pass() { PASSED=$((PASSED + 1)); }
fail() { FAILED=$((FAILED + 1)); echo "FAIL: $*" >&2; }

# check DESCRIPTION COMMAND...: the command succeeds.
check() {
    local what=$1; shift
    if "$@" >/dev/null 2>&1; then pass; else fail "$what"; fi
}

# expect CODE COMMAND...: runs the command (stdout to $LAST_OUT, stderr to $LAST_ERR)
# and asserts its exit status.
expect() {
    local want=$1; shift
    local got=0
    "$@" >"$LAST_OUT" 2>"$LAST_ERR" || got=$?
    if [[ $got == "$want" ]]; then
        pass
    else
        fail "exit $got, expected $want: $*"
        sed 's/^/    stderr: /' "$LAST_ERR" | head -5 >&2
    fi
}

# same FILE1 FILE2 DESCRIPTION
same() {
    if cmp -s "$1" "$2"; then pass; else fail "${3:-$1 differs from $2}"; fi
}

sha() { sha256sum "$1" | cut -d' ' -f1; }

finish() {
    echo "$PASSED passed, $FAILED failed"
    [[ $FAILED == 0 ]]
}
