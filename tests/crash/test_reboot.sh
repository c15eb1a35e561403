#!/usr/bin/env bash
# The crash simulator itself: small programs (Python's os module, which calls
# libc's open, write, fsync, rename, ... like the tools do) run under the shim,
# then reboot.py must leave exactly what POSIX promises to keep: a name only
# when its directory was fsynced after it appeared, data only as of its file's
# last fsync. Each case also checks the kind model (everything kept) against
# the real tree the program left, and the shim's cut before or after an event.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../cli/lib.sh"
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

R=$T/root
SNAP=$T/snap
export R T

# The helpers of every case's program: names are relative to $R.
PRELUDE='
import os
R = os.environ["R"]
def p(n): return os.path.join(R, n)
def create(n, data=b""):
    fd = os.open(p(n), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    if data: os.write(fd, data)
    return fd
def sync(n="."):
    fd = os.open(p(n), os.O_RDONLY)
    os.fsync(fd)
    os.close(fd)
def edit(n): return os.open(p(n), os.O_RDWR)
'

# tree DIR: one line per entry, sorted: "d NAME/" or "f NAME=CONTENT" (NUL as @).
tree() {
    (cd "$1" && find . -mindepth 1 | sort | while read -r e; do
        if [[ -d $e ]]; then echo "d ${e#./}/"; else echo "f ${e#./}=$(tr '\0' @ <"$e")"; fi
    done) | tr '\n' ' ' | sed 's/ $//'
}

# setup SPEC: a fresh $R and its snapshot; SPEC lists "dir/" and "file=content".
setup() {
    rm -rf "$R" "$SNAP"
    mkdir -p "$R"
    local item
    for item in $1; do
        case $item in
            */) mkdir -p "$R/$item" ;;
            *=*) printf '%s' "${item#*=}" >"$R/${item%%=*}" ;;
        esac
    done
    cp -a "$R" "$SNAP"
}

# case NAME SETUP PROGRAM EXPECTED: runs PROGRAM under the shim on a tree made
# by SETUP; after a strict reboot the tree must be EXPECTED.
case_() {
    local name=$1 spec=$2 prog=$3 want=$4
    setup "$spec"
    local rc=0
    shim "$R" "$T/case.log" 0 "$PYTHON3" -S -c "$PRELUDE$prog" || rc=$?
    [[ $rc == 0 ]] || { fail "$name: the program exited $rc"; return; }
    local real kind got
    real=$(tree "$R")
    reboot --mode=kind "$SNAP" "$R" "$T/case.log"
    kind=$(tree "$R")
    if [[ $kind == "$real" ]]; then pass; else
        fail "$name: the kind model has [$kind], the file system [$real]"
    fi
    reboot "$SNAP" "$R" "$T/case.log"
    got=$(tree "$R")
    if [[ $got == "$want" ]]; then pass; else fail "$name: got [$got], expected [$want]"; fi
}

case_ "create+write, no fsync: gone" "" \
    'create("f", b"x")' ""
case_ "create+write+fsync of the file, not of the dir: gone" "" \
    'os.fsync(create("f", b"x"))' ""
case_ "create+write+fsync of the file and the dir: present" "" \
    'os.fsync(create("f", b"x")); sync()' "f f=x"
case_ "create+write+fsync of the dir only: present, empty" "" \
    'create("f", b"x"); sync()' "f f="
case_ "overwrite without fsync: old data" "a=AAAA" \
    'os.pwrite(edit("a"), b"BB", 0)' "f a=AAAA"
case_ "writes after the last fdatasync are dropped" "a=AAAA" \
    'fd = edit("a"); os.pwrite(fd, b"B", 0); os.fdatasync(fd); os.pwrite(fd, b"C", 1)' "f a=BAAA"
case_ "a write past the end, fsynced: data and size" "a=AA" \
    'fd = edit("a"); os.pwrite(fd, b"Z", 4); os.fsync(fd)' "f a=AA@@Z"
case_ "ftruncate without a sync: old size" "a=ABCDEF" \
    'os.ftruncate(edit("a"), 2)' "f a=ABCDEF"
case_ "ftruncate+fdatasync: new size" "a=ABCDEF" \
    'fd = edit("a"); os.ftruncate(fd, 2); os.fdatasync(fd)' "f a=AB"
case_ "O_TRUNC of an existing file without a sync: old data" "a=ABC" \
    'create("a", b"Z")' "f a=ABC"
case_ "rename without a dir fsync: the old name" "a=A" \
    'os.rename(p("a"), p("b"))' "f a=A"
case_ "rename+fsync of the dir: the new name" "a=A" \
    'os.rename(p("a"), p("b")); sync()' "f b=A"
case_ "tmp+fsync+rename over, no dir fsync: the old file" "b=old" \
    'os.fsync(create("t", b"new")); os.rename(p("t"), p("b"))' "f b=old"
case_ "tmp+fsync+rename over+dir fsync: the new file" "b=old" \
    'os.fsync(create("t", b"new")); os.rename(p("t"), p("b")); sync()' "f b=new"
case_ "tmp without fsync renamed over+dir fsync: the new name, no data" "b=old" \
    'create("t", b"new"); os.rename(p("t"), p("b")); sync()' "f b="
case_ "unlink without a dir fsync: still there" "a=A" \
    'os.unlink(p("a"))' "f a=A"
case_ "unlink+dir fsync: gone" "a=A" \
    'os.unlink(p("a")); sync()' ""
case_ "mkdir, its file and the dir synced, not the parent: gone" "" \
    'os.mkdir(p("d")); os.fsync(create("d/f", b"x")); sync("d")' ""
case_ "mkdir+parent fsync, the new dir not synced: present, empty" "" \
    'os.mkdir(p("d")); sync(); os.fsync(create("d/f", b"x"))' "d d/"
case_ "mkdir+parent fsync+file and dir synced: present" "" \
    'os.mkdir(p("d")); sync(); os.fsync(create("d/f", b"x")); sync("d")' "d d/ f d/f=x"
case_ "rmdir without a parent fsync: still there" "d/" \
    'os.rmdir(p("d"))' "d d/"
case_ "rmdir+parent fsync: gone" "d/" \
    'os.rmdir(p("d")); sync()' ""
case_ "an open file renamed keeps its inode: data follows it" "" \
    'fd = create("f", b"1"); sync(); os.rename(p("f"), p("g")); sync(); os.write(fd, b"2"); os.fsync(fd)' \
    "f g=12"
case_ "rename between dirs, the destination synced: one name" "d1/ d1/x=X d2/" \
    'os.rename(p("d1/x"), p("d2/x")); sync("d2")' "d d1/ d d2/ f d2/x=X"
case_ "rename between dirs, the source synced only: both names lost" "d1/ d1/x=X d2/" \
    'os.rename(p("d1/x"), p("d2/x")); sync("d1")' "d d1/ d d2/"
case_ "journal replaced twice (inode numbers may be reused): the last" "" \
    'for v in (b"1", b"2"):
    os.fsync(create("j.tmp", v)); os.rename(p("j.tmp"), p("j")); sync()' "f j=2"
case_ "names with a space, a tab and a % (escaped in the log)" "" \
    'os.fsync(create("a b\t%41", b"x")); sync()' "f a b$(printf '\t')%41=x"
case_ "a file outside the root is not logged" "" \
    'fd = os.open(os.path.join(os.environ["T"], "outside"), os.O_WRONLY | os.O_CREAT, 0o644); os.write(fd, b"x")' ""
check "outside: the log has no event" test "$(grep -c '^E' "$T/case.log" || true)" = 0

# Cuts at the fourth event: create, write, fsync of the file, fsync of the dir.
PROG='fd = create("f", b"x"); os.fsync(fd); sync()'
setup ""
expect 137 shim "$R" "$T/cut.log" 4 "$PYTHON3" -S -c "$PRELUDE$PROG"
check "cut 4: the log names the event" test "$(cut_event "$T/cut.log")" = "before fsync(./)"
check "cut 4: three events done" test "$(grep -c "^E" "$T/cut.log")" = 3
reboot "$SNAP" "$R" "$T/cut.log"
check "cut 4 before the dir fsync: the file is gone" test "$(tree "$R")" = ""
setup ""
export CRASHSIM_AFTER=1
expect 137 shim "$R" "$T/cut.log" 4 "$PYTHON3" -S -c "$PRELUDE$PROG"
unset CRASHSIM_AFTER
check "cut after 4: the log names the event" test "$(cut_event "$T/cut.log")" = "after fsync(./)"
reboot "$SNAP" "$R" "$T/cut.log"
check "cut after 4, the dir fsync: the file is there" test "$(tree "$R")" = "f f=x"

# The tools' mkstemp (glibc creates the file internally): mkdelta's output.
setup ""
expect 0 shim "$R" "$T/mk.log" 0 "$BIN/mkdelta" -q --project P --from 1 --to 2 -o "$R/p.zip" \
    "$FW/cityhub-7.22.0.bin" "$FW/cityhub-7.28.0.bin"
check "mkstemp: its create is logged" grep -q "^E.*create.*\.p\.zip\." "$T/mk.log"
check "mkstemp: the rename into place is logged" grep -q "^E.*rename.*\.p\.zip\..*p\.zip$" "$T/mk.log"
cp "$R/p.zip" "$T/p.zip"
reboot "$SNAP" "$R" "$T/mk.log"
check "mkstemp: no temporary survives" test -z "$(ls -A "$R" | grep -v '^p\.zip$' || true)"
if [[ -e $R/p.zip ]]; then same "$R/p.zip" "$T/p.zip" "mkstemp: a durable p.zip is the whole package"; fi

finish
