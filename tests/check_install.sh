#!/usr/bin/env bash
# Installs tokprep into a temporary prefix and uses it the way an embedder would: every
# docs/examples/*.c compiles with `cc $(pkg-config --cflags --libs tokprep)` against the shared
# library (and against libtokprep.a with its private dependencies), check_file runs on a small clip
# made here, and libtokprep.so exports exactly the TP_EXTERN functions of tokprep.h, all tp_*.
# Environment: TP_SOURCE_DIR, TP_BUILD_DIR, CMAKE, CC, TP_LIBDIR (CMAKE_INSTALL_LIBDIR),
# TP_EXTRA_CFLAGS (the sanitizer flags of a sanitizer build, so the examples carry its runtime).
set -euo pipefail
: "${TP_SOURCE_DIR:?}" "${TP_BUILD_DIR:?}" "${CMAKE:=cmake}" "${CC:=cc}" "${TP_LIBDIR:=lib}"
read -r -a extra <<<"${TP_EXTRA_CFLAGS:-}"

t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
p="$t/prefix"
fail() { echo "FAIL: $*" >&2; exit 1; }

"$CMAKE" --install "$TP_BUILD_DIR" --prefix "$p" >"$t/install.log" || { cat "$t/install.log"; fail "cmake --install"; }
for f in include/tokprep.h "$TP_LIBDIR/libtokprep.a" "$TP_LIBDIR/libtokprep.so" \
         "$TP_LIBDIR/pkgconfig/tokprep.pc" bin/tokprep share/man/man1/tokprep.1 \
         share/man/man1/tokprep-run.1 share/man/man1/tokprep-check.1 \
         share/man/man5/tokprep-profile.5 share/bash-completion/completions/tokprep \
         share/zsh/site-functions/_tokprep; do
    [ -e "$p/$f" ] || fail "not installed: $f"
done
so=$(readlink -f "$p/$TP_LIBDIR/libtokprep.so")
soname=$(LC_ALL=C readelf -d "$so" | sed -n 's/.*(SONAME).*\[\(.*\)\].*/\1/p')
[ "$soname" = libtokprep.so.1 ] || fail "SONAME is '$soname', not libtokprep.so.1"
[ -e "$p/$TP_LIBDIR/libtokprep.so.1" ] || fail "no libtokprep.so.1 link"

# Exports: only tp_*, exactly the TP_EXTERN functions of the header.
nm -D --defined-only "$so" | awk '{print $NF}' | sort -u >"$t/exported"
if grep -v '^tp_' "$t/exported" >"$t/stray"; then
    fail "libtokprep.so exports symbols outside tp_*: $(head -20 "$t/stray" | tr '\n' ' ')"
fi
python3 - "$p/include/tokprep.h" >"$t/declared" <<'PY'
import re, sys
src = open(sys.argv[1]).read()
src = re.sub(r"/\*.*?\*/", " ", src, flags=re.S)            # comments
src = re.sub(r"^\s*#.*$", " ", src, flags=re.M)             # preprocessor lines
names = sorted(set(re.findall(r"\bTP_EXTERN\b[^;{}()]*?\b(\w+)\s*\(", src)))
if not names:
    sys.exit("no TP_EXTERN function found in the header")
print("\n".join(names))
PY
missing=$(comm -23 "$t/declared" "$t/exported")
[ -z "$missing" ] || fail "TP_EXTERN but not exported: $(echo $missing)"
surplus=$(comm -13 "$t/declared" "$t/exported")
[ -z "$surplus" ] || fail "exported but not TP_EXTERN in tokprep.h: $(echo $surplus | head -c 2000)"
echo "exports: $(wc -l <"$t/exported") tp_* symbols, all $(wc -l <"$t/declared") TP_EXTERN functions"

# The examples, built the way the docs tell an embedder to.
export PKG_CONFIG_PATH="$p/$TP_LIBDIR/pkgconfig"
[ "$(pkg-config --modversion tokprep)" = "$(sed -n 's/^#define TOKPREP_VERSION "\(.*\)"/\1/p' "$p/include/tokprep.h")" ] \
    || fail "tokprep.pc version differs from TOKPREP_VERSION"
read -r -a pc_shared <<<"$(pkg-config --cflags --libs tokprep)"
read -r -a pc_cflags <<<"$(pkg-config --cflags tokprep)"
# libtokprep.a with the dependencies tokprep.pc declares private (Requires.private, Libs.private),
# one level deep: a fully static link would need FFmpeg's own static dependencies, which
# distributions do not ship.
read -r -a pc_static <<<"$p/$TP_LIBDIR/libtokprep.a $(pkg-config --libs $(pkg-config --print-requires-private tokprep)) $(sed -n 's/^Libs\.private://p' "$PKG_CONFIG_PATH/tokprep.pc")"
n=0
for src in "$TP_SOURCE_DIR"/docs/examples/*.c; do
    name=$(basename "$src" .c)
    "$CC" -std=c11 -Wall -Wextra "${extra[@]}" -o "$t/$name" "$src" "${pc_shared[@]}" \
        || fail "$name does not build against the installed libtokprep.so"
    "$CC" -std=c11 -Wall -Wextra "${extra[@]}" -o "$t/${name}_static" "$src" "${pc_cflags[@]}" \
        "${pc_static[@]}" || fail "$name does not build against libtokprep.a and the private dependencies of tokprep.pc"
    n=$((n + 1))
done
[ "$n" -gt 0 ] || fail "no docs/examples/*.c"
LC_ALL=C readelf -d "$t/check_file" | grep -q 'NEEDED.*\[libtokprep\.so\.1\]' \
    || fail "check_file does not use libtokprep.so.1"
if LC_ALL=C readelf -d "$t/check_file_static" | grep -q 'NEEDED.*libtokprep'; then
    fail "check_file_static uses the shared library"
fi

# Run check_file (shared, then static) on a small clip.
ffmpeg -nostdin -hide_banner -loglevel error -y -f lavfi -i "testsrc2=size=180x320:rate=24:duration=1" \
    -c:v libx264 -preset ultrafast -pix_fmt yuv420p -movflags +faststart "$t/clip.mp4"
for exe in check_file check_file_static; do
    rc=0
    LD_LIBRARY_PATH="$p/$TP_LIBDIR" "$t/$exe" "$t/clip.mp4" >"$t/out.txt" 2>&1 || rc=$?
    cat "$t/out.txt"
    [ "$rc" -le 1 ] || fail "$exe exited $rc"
    grep -Eq "^$t/clip.mp4: (pass|fix|reject) " "$t/out.txt" || fail "$exe printed no verdict"
done
if [ "$(LD_LIBRARY_PATH="$p/$TP_LIBDIR" ldd "$t/check_file" | sed -n 's/.*libtokprep\.so\.1 => \([^ ]*\).*/\1/p')" \
     != "$p/$TP_LIBDIR/libtokprep.so.1" ]; then
    fail "check_file did not load the installed libtokprep.so.1"
fi
echo ok
