# Shared helpers of the crash tests: sourced by tests/crash/test_*.sh after
# tests/cli/lib.sh. Env: CRASHSIM (the shim), PYTHON3 (Debian's by default).
CRASH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CRASHSIM=${CRASHSIM:-$SRC/build/tests/crash/crashsim.so}
REBOOT=$CRASH_DIR/reboot.py
if [[ -z ${PYTHON3:-} ]]; then
    if [[ -x /usr/bin/python3 ]]; then PYTHON3=/usr/bin/python3; else PYTHON3=python3; fi
fi
[[ -f $CRASHSIM ]] || { echo "missing $CRASHSIM (build first)" >&2; exit 1; }
# A sanitizer build's tools want their runtime first; the shim is not instrumented.
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0

# shim ROOT LOG CUT COMMAND...: runs COMMAND with the shim watching ROOT, its
# events logged to LOG (and LOG.data; "" for no log), killed at event CUT (0:
# never). Returns its status (137 when it was cut).
shim() {
    local root=$1 log=$2 cut=$3; shift 3
    local rc=0
    # The braces take bash's "Killed" note with them to /dev/null.
    { LD_PRELOAD=$CRASHSIM CRASHSIM_ROOT=$root CRASHSIM_LOG=$log CRASHSIM_CUT=$cut "$@" \
        >/dev/null 2>&1; } 2>/dev/null || rc=$?
    return "$rc"
}

# events LOG: the number of events of a run that ended normally.
events() { sed -n 's/^T\t//p' "$1"; }

# cut_event LOG: the event a run was cut at, e.g. "before fdatasync(img.bin)".
cut_event() { awk -F'\t' '$1 == "C" { print $3 " " $4 }' "$1"; }

# reboot [--mode=kind] SNAPSHOT ROOT LOG: replaces ROOT's contents by what
# survives the cut. One reboot.py serves every call (a coprocess): starting
# Python costs more than a reboot.
REBOOTD_PID=
reboot() {
    local mode=strict reply
    if [[ $1 == --mode=* ]]; then
        mode=${1#--mode=}
        shift
    fi
    if [[ -z $REBOOTD_PID ]]; then
        coproc REBOOTD { "$PYTHON3" -S "$REBOOT" --serve; }
    fi
    printf '%s\t%s\t%s\t%s\n' "$mode" "$1" "$2" "$3" >&"${REBOOTD[1]}"
    read -r reply <&"${REBOOTD[0]}" || reply="error: reboot.py ended"
    [[ $reply == ok ]] || { echo "reboot: $reply" >&2; return 1; }
}

# next_random: sets RAND (0..32767) from a seeded linear congruential generator
# (no $RANDOM, no clock: the same seed gives the same cuts). Seed with rng=N.
rng=1
next_random() {
    rng=$(((rng * 1103515245 + 12345) % 2147483648))
    RAND=$((rng / 65536))
}
