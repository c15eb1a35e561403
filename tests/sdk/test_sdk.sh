#!/usr/bin/env bash
# The SDK as a user gets it: `cmake --install` into a fresh prefix, then small
# programs (tests/sdk/consumer/) built against that prefix only, with
# find_package(libdelta) and with pkg-config, on the shared and the static
# libraries; each runs and its output is compared. Also: the shared objects
# export exactly the DELTA_API functions, the umbrella header includes every
# public header, every header compiles on its own, and every header documents
# ownership and thread safety, and every function what it returns (issue 12).
#
# Env (ctest sets them): BUILD (the build dir, installed from), SRC (repo root),
# DATA (tests/data), CMAKE, CC, SHARED (DELTA_BUILD_SHARED: ON/OFF), SANITIZE
# (DELTA_SANITIZE: the consumers are then built with the same -fsanitize).
set -euo pipefail
SRC=${SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
BUILD=${BUILD:-$SRC/build}
DATA=${DATA:-$SRC/tests/data}
CMAKE=${CMAKE:-cmake}
CC=${CC:-cc}
SHARED=${SHARED:-ON}
SANITIZE=${SANITIZE:-}
san=()
[[ -n $SANITIZE ]] && san=(-fsanitize="$SANITIZE")
CONSUMER=$SRC/tests/sdk/consumer

# Under the build dir (the install prefixes are kept for a look after a failure).
T=$BUILD/sdk-test
rm -rf "$T"
mkdir -p "$T"
P=$T/prefix

PASSED=0
FAILED=0
pass() { PASSED=$((PASSED + 1)); }
fail() { FAILED=$((FAILED + 1)); echo "FAIL: $*" >&2; }
check() { # check DESCRIPTION COMMAND...
    local what=$1; shift
    if "$@" >"$T/check.out" 2>&1; then pass; else fail "$what"; sed 's/^/    /' "$T/check.out" | head -20 >&2; fi
}
# same DESCRIPTION EXPECTED-FILE ACTUAL-FILE
same() {
    if diff -u "$2" "$3" >"$T/diff.out"; then pass; else fail "$1"; cat "$T/diff.out" >&2; fi
}
run() { # run LOG COMMAND...: quiet unless it fails
    local log=$1; shift
    if ! "$@" >"$log" 2>&1; then
        echo "FAIL: $* (log: $log)" >&2
        tail -30 "$log" >&2
        exit 1
    fi
}

version=$(sed -n 's/^#define DELTA_VERSION_STRING "\(.*\)"$/\1/p' "$SRC/libdelta/include/libdelta/version.h")
major=${version%%.*}
abc=ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad

run "$T/install.log" "$CMAKE" --install "$BUILD" --prefix "$P"
libdir=$(dirname "$(find "$P" -name libdelta.a | head -1)")
[[ -d $libdir ]] || { echo "FAIL: no libdelta.a installed under $P" >&2; exit 1; }

# --- What is installed
for tool in mkdelta verifydelta applydelta fotamodem; do
    check "bin/$tool installed" test -x "$P/bin/$tool"
    check "completion of $tool installed" test -f "$P/share/bash-completion/completions/$tool"
done
for tool in mkdelta verifydelta applydelta; do
    check "schema of $tool installed, same as formats/schema/" \
        cmp -s "$P/share/libdelta/schema/$tool.schema.json" "$SRC/formats/schema/$tool.schema.json"
done
check "$P/bin/mkdelta --version" grep -qx "mkdelta $version (libdelta $version)" <("$P/bin/mkdelta" --version)
for f in libdelta.a libdelta_core.a pkgconfig/libdelta.pc pkgconfig/libdelta-core.pc \
         cmake/libdelta/libdeltaConfig.cmake cmake/libdelta/libdeltaConfigVersion.cmake; do
    check "lib/$f installed" test -f "$libdir/$f"
done
if [[ $SHARED == ON ]]; then
    for lib in libdelta libdelta_core; do
        check "$lib.so.$version installed" test -f "$libdir/$lib.so.$version"
        check "$lib.so -> $lib.so.$major" test "$(readlink "$libdir/$lib.so")" = "$lib.so.$major"
        check "$lib soname $lib.so.$major" grep -q "SONAME.*\[$lib.so.$major\]" <(readelf -d "$libdir/$lib.so")
    done
fi

# --- Headers: delta.h includes every public header; each compiles alone (C11, and as C++ when there is one).
inc=$P/include/libdelta
check "delta.h installed" test -f "$inc/delta.h"
# The device half is what core.h includes; delta.h includes core.h and every host header.
core_headers=$(sed -n 's|^#include "libdelta/\(.*\)"$|\1|p' "$inc/core.h" | sort)
check "core.h includes the device headers" test -n "$core_headers"
for h in "$inc"/*.h; do
    name=$(basename "$h")
    [[ $name == delta.h || $name == core.h ]] && continue
    grep -qx "$name" <<<"$core_headers" && continue
    check "delta.h includes libdelta/$name" grep -q "^#include \"libdelta/$name\"" "$inc/delta.h"
done
check "delta.h includes core.h" grep -q '^#include "libdelta/core.h"' "$inc/delta.h"
# A device header includes only device headers: core.h pulls in no host API.
for name in $core_headers; do
    for dep in $(sed -n 's|^#include "libdelta/\(.*\)"$|\1|p' "$inc/$name"); do
        check "core header $name includes only core headers (not $dep)" grep -qx "$dep" <<<"$core_headers"
    done
done
for h in "$inc"/*.h; do
    check "libdelta/$(basename "$h") compiles alone" \
        "$CC" -std=c11 -Wall -Wextra -Werror -pedantic -fsyntax-only -I"$P/include" -x c - \
        <<<"#include <libdelta/$(basename "$h")>
typedef int not_empty;"
done
# README's example ("Using the library") compiles against the installed headers, warnings as errors.
awk '/^## Using the library/ {on = 1} on && /^```c$/ {code = 1; next} code && /^```$/ {exit} code' \
    "$SRC/README.md" >"$T/readme-example.c"
check "README's library example is there" test -s "$T/readme-example.c"
check "README's library example compiles" "$CC" -std=c11 -Wall -Wextra -Werror -c -I"$P/include" \
    -o "$T/readme-example.o" "$T/readme-example.c"
if command -v c++ >/dev/null; then
    check "delta.h compiles as C++" c++ -Wall -Werror -fsyntax-only -I"$P/include" -x c++ - \
        <<<"#include <libdelta/delta.h>"
fi
# The documentation each header owes (issue 12): a module header (not version.h and the two
# umbrellas) has an "Ownership" and a "Thread safety" section; every DELTA_API declaration has a
# comment right above it, or above the run of declarations (and #defines) it belongs to, and that
# comment says what the function "Returns" when it returns a delta_status.
check "headers document ownership, thread safety and each function's statuses" python3 - "$inc"/*.h <<'EOF'
import re, sys
bad = 0
for path in sys.argv[1:]:
    name = path.rsplit('/', 1)[-1]
    text = open(path).read()
    if name not in ('version.h', 'core.h', 'delta.h'):
        for word in ('Ownership', 'Thread safety'):
            if word not in text:
                print(f'libdelta/{name}: no "{word}" section')
                bad += 1
    # Items: comments, declarations, #defines; any other line (a blank one too) ends a run.
    lines, items, i = text.split('\n'), [], 0
    while i < len(lines):
        line, j = lines[i].strip(), i
        if line.startswith('/*'):
            while '*/' not in lines[j]:
                j += 1
            items.append(('comment', '\n'.join(lines[i:j + 1])))
        elif 'DELTA_API' in line and not line.startswith('#'):
            while not lines[j].rstrip().endswith(';'):
                j += 1
            items.append(('decl', ' '.join(lines[i:j + 1])))
        elif line.startswith('#define'):
            while lines[j].rstrip().endswith('\\'):
                j += 1
            items.append(('define', ''))
        else:
            items.append(('other', ''))
        i = j + 1
    for k, (kind, decl) in enumerate(items):
        if kind != 'decl':
            continue
        m = re.search(r'DELTA_API\s+(.*?)\b(delta_[a-z0-9_]+)\s*\(', decl)
        if not m:
            print(f'libdelta/{name}: cannot read the declaration {decl}')
            bad += 1
            continue
        ret, fn = m.group(1), m.group(2)
        up = k - 1
        while up >= 0 and items[up][0] in ('decl', 'define'):
            up -= 1
        if up < 0 or items[up][0] != 'comment':
            print(f'libdelta/{name}: {fn}: no comment above it (or above its group)')
            bad += 1
        elif 'delta_status' in ret and 'Returns' not in items[up][1]:
            print(f'libdelta/{name}: {fn}: its comment does not say what it Returns')
            bad += 1
sys.exit(1 if bad else 0)
EOF

# --- Exports: exactly the DELTA_API functions, nothing else (no zip_scan, plan_build, pcursor_*).
api_of() { grep -h 'DELTA_API' "$@" | grep -v '#define' | sed -E 's/^.*[ *]([a-z_0-9]+)\(.*$/\1/' | sort -u; }
api_of "$inc"/*.h >"$T/api.txt"
api_of $(for h in $core_headers; do echo "$inc/$h"; done) >"$T/api-core.txt"
# The static core archive defines, with default visibility, every function its
# headers declare and no other (internal helpers are hidden).
readelf -sW "$libdir/libdelta_core.a" | awk '$4 == "FUNC" && $5 == "GLOBAL" && $6 == "DEFAULT" && $7 != "UND" {print $8}' |
    sort -u >"$T/defined-core.txt"
same "libdelta_core.a defines exactly the API of the core headers" "$T/api-core.txt" "$T/defined-core.txt"
# Every other global of the static archives carries the internal prefix dlt_ (no zip_scan, plan_build,
# no internal delta_fail that a program's own function of that name would collide with).
for a in libdelta.a libdelta_core.a; do
    readelf -sW "$libdir/$a" | awk '$5 == "GLOBAL" && $7 != "UND" && $8 !~ /^dlt_/ {print $8}' | sort -u |
        comm -23 - "$T/api.txt" >"$T/unprefixed-$a.txt"
    check "$a defines no global outside the API but dlt_* ($(tr '\n' ' ' <"$T/unprefixed-$a.txt"))" \
        test ! -s "$T/unprefixed-$a.txt"
done
if [[ $SHARED == ON ]]; then
    nm -D --defined-only "$libdir/libdelta.so" | awk '{print $3}' | sort -u >"$T/exports.txt"
    nm -D --defined-only "$libdir/libdelta_core.so" | awk '{print $3}' | sort -u >"$T/exports-core.txt"
    echo "sdk: libdelta.so exports $(wc -l <"$T/exports.txt") symbols, libdelta_core.so $(wc -l <"$T/exports-core.txt"); the headers declare $(wc -l <"$T/api.txt")"
    check "libdelta.so exports only delta_*" test -z "$(grep -v '^delta_' "$T/exports.txt")"
    check "libdelta_core.so exports only delta_*" test -z "$(grep -v '^delta_' "$T/exports-core.txt")"
    same "libdelta.so exports exactly the DELTA_API functions of the headers" "$T/api.txt" "$T/exports.txt"
    check "libdelta_core.so exports a subset of the API" test -z "$(comm -13 "$T/api.txt" "$T/exports-core.txt")"
    same "libdelta_core.so exports exactly the DELTA_API functions of the core headers" \
        "$T/api-core.txt" "$T/exports-core.txt"
    check "libdelta_core.so exports delta_version" grep -qx delta_version "$T/exports-core.txt"
    for internal in zip_scan plan_build pcursor_ dlt_fail; do
        check "libdelta.so does not export $internal" test -z "$(grep "^$internal" "$T/exports.txt")"
    done
fi

# A real package, made by the installed mkdelta.
PKG=$T/update.zip
run "$T/mkdelta.log" "$P/bin/mkdelta" -q --project SDK-TEST --from 7.27.0 --to 7.28.0 \
    --key "$DATA/keys/ec-p256.pem" -o "$PKG" "$DATA/firmware/cityhub-7.27.0.bin" "$DATA/firmware/cityhub-7.28.0.bin"
printf 'libdelta %s\nsha256(abc) %s\n' "$version" "$abc" >"$T/expect-core.txt"
{
    cat "$T/expect-core.txt"
    printf 'project SDK-TEST\nfrom 7.27.0\nto 7.28.0\nimages 1\n'
    printf 'image firmware %s -> %s\n' "$(stat -c %s "$DATA/firmware/cityhub-7.27.0.bin")" \
        "$(stat -c %s "$DATA/firmware/cityhub-7.28.0.bin")"
    printf 'signature 1\n'
    printf 'report libdelta-verifydelta/1\n'
} >"$T/expect.txt"

# consumer_checks KIND DIR: runs DIR/consumer and DIR/consumer_core, checks their
# output and that they use (shared) or do not use (static) the installed .so.
consumer_checks() {
    local kind=$1 dir=$2 what="$3"
    "$dir/consumer" "$PKG" >"$dir/out.txt" 2>&1 || true
    same "$what: consumer output" "$T/expect.txt" "$dir/out.txt"
    "$dir/consumer_core" >"$dir/out-core.txt" 2>&1 || true
    same "$what: consumer_core output" "$T/expect-core.txt" "$dir/out-core.txt"
    local bin
    for bin in consumer consumer_core; do
        local lib=libdelta.so.$major
        [[ $bin == consumer_core ]] && lib=libdelta_core.so.$major
        if [[ $kind == shared ]]; then
            check "$what: $bin needs $lib" grep -q "NEEDED.*\[$lib\]" <(readelf -d "$dir/$bin")
            check "$what: $bin loads $libdir/$lib" grep -q "$lib => $libdir/$lib" <(ldd "$dir/$bin")
        else
            check "$what: $bin does not need libdelta*.so" test -z "$(readelf -d "$dir/$bin" | grep 'NEEDED.*libdelta')"
        fi
    done
    "$dir/consumer" "$T/missing.zip" >/dev/null 2>&1 && st=0 || st=$?
    check "$what: consumer exits 1 on a missing package" test "$st" = 1
}

# --- find_package(libdelta)
kinds=(static)
[[ $SHARED == ON ]] && kinds=(shared static)
for kind in "${kinds[@]}"; do
    b=$T/cmake-$kind
    opt=()
    [[ $kind == static ]] && opt=(-DLIBDELTA_USE_STATIC_LIBS=ON)
    run "$b.log" "$CMAKE" -S "$CONSUMER" -B "$b" -DCMAKE_PREFIX_PATH="$P" -DCMAKE_C_COMPILER="$CC" \
        -DCMAKE_C_FLAGS="${san[*]}" "${opt[@]}"
    check "find_package: $kind libraries chosen" grep -q "libdelta $version ($kind) from $libdir/cmake/libdelta" "$b.log"
    run "$b-build.log" "$CMAKE" --build "$b"
    consumer_checks "$kind" "$b" "find_package, $kind"
done
# The version file: the same version is found; a later major is refused, and so is a
# later minor during 0.x (SameMinorVersion until 1.0).
minor=${version#*.}
minor=${minor%%.*}
want_ok=$major.$minor
refused=("$((major + 1))")
[[ $major == 0 ]] && refused+=("$major.$((minor + 1))")
run "$T/cmake-version-ok.log" "$CMAKE" -S "$CONSUMER" -B "$T/cmake-version-ok" -DCMAKE_PREFIX_PATH="$P" \
    -DWANT_VERSION="$want_ok"
pass
for want in "${refused[@]}"; do
    if "$CMAKE" -S "$CONSUMER" -B "$T/cmake-version-$want" -DCMAKE_PREFIX_PATH="$P" -DWANT_VERSION="$want" \
        >"$T/cmake-version-$want.log" 2>&1; then
        fail "find_package(libdelta $want) should fail for $version"
    else
        check "find_package(libdelta $want) refused for $version" \
            grep -q "compatible with requested version \"$want\"" "$T/cmake-version-$want.log"
    fi
done

# --- pkg-config
export PKG_CONFIG_PATH=$libdir/pkgconfig
unset PKG_CONFIG_LIBDIR
check "pkg-config --modversion libdelta" test "$(pkg-config --modversion libdelta)" = "$version"
if [[ $SHARED == ON ]]; then
    b=$T/pc-shared
    mkdir -p "$b"
    # shellcheck disable=SC2046 # the flags are words
    check "pkg-config: cc consumer.c \$(pkg-config --cflags --libs libdelta)" \
        "$CC" "${san[@]}" -o "$b/consumer" "$CONSUMER/consumer.c" $(pkg-config --cflags --libs libdelta) -Wl,-rpath,"$libdir"
    # shellcheck disable=SC2046
    check "pkg-config: cc consumer_core.c \$(pkg-config --cflags --libs libdelta-core)" \
        "$CC" "${san[@]}" -o "$b/consumer_core" "$CONSUMER/consumer_core.c" $(pkg-config --cflags --libs libdelta-core) -Wl,-rpath,"$libdir"
    consumer_checks shared "$b" "pkg-config, shared"
fi

# Static: pkg-config --static must give a complete link line. With both kinds in
# one prefix the linker takes the .so, so this needs a static-only install: the
# library alone configured with DELTA_BUILD_SHARED=OFF (also tests that option).
SP=$T/prefix-static
run "$T/static-configure.log" "$CMAKE" -S "$SRC" -B "$T/build-static" -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_C_COMPILER="$CC" -DDELTA_SANITIZE="$SANITIZE" -DDELTA_BUILD_SHARED=OFF -DDELTA_BUILD_TOOLS=OFF -DDELTA_BUILD_TESTS=OFF
run "$T/static-build.log" "$CMAKE" --build "$T/build-static" -j2
run "$T/static-install.log" "$CMAKE" --install "$T/build-static" --prefix "$SP"
slibdir=$(dirname "$(find "$SP" -name libdelta.a | head -1)")
check "static-only install has no .so" test -z "$(find "$SP" -name '*.so*')"
export PKG_CONFIG_PATH=$slibdir/pkgconfig
b=$T/pc-static
mkdir -p "$b"
# shellcheck disable=SC2046
check "pkg-config: cc consumer.c \$(pkg-config --static --cflags --libs libdelta)" \
    "$CC" "${san[@]}" -o "$b/consumer" "$CONSUMER/consumer.c" $(pkg-config --static --cflags --libs libdelta)
# shellcheck disable=SC2046
check "pkg-config: cc consumer_core.c \$(pkg-config --static --cflags --libs libdelta-core)" \
    "$CC" "${san[@]}" -o "$b/consumer_core" "$CONSUMER/consumer_core.c" $(pkg-config --static --cflags --libs libdelta-core)
consumer_checks static "$b" "pkg-config --static"
# find_package in a static-only prefix takes the static libraries without being asked.
b=$T/cmake-static-only
run "$b.log" "$CMAKE" -S "$CONSUMER" -B "$b" -DCMAKE_PREFIX_PATH="$SP" -DCMAKE_C_COMPILER="$CC" \
    -DCMAKE_C_FLAGS="${san[*]}"
check "find_package, static-only prefix: static libraries" grep -q "libdelta $version (static)" "$b.log"
run "$b-build.log" "$CMAKE" --build "$b"
consumer_checks static "$b" "find_package, static-only prefix"

echo "$PASSED passed, $FAILED failed"
[[ $FAILED == 0 ]]
