#!/usr/bin/env bash
# The library example (docs/examples/run_folder.c) builds and runs the pipeline over a folder.
set -euo pipefail
ex="$TP_BUILD_DIR/example_run_folder"
[ -x "$ex" ] || { echo "missing $ex"; exit 1; }
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
mkdir -p "$t/in"
ff() { ffmpeg -nostdin -hide_banner -loglevel error -y "$@"; }
for f in 300 500; do
    ff -f lavfi -i "testsrc2=size=180x320:rate=24:duration=2" -f lavfi -i "sine=frequency=$f:duration=2" \
       -c:v libx264 -preset ultrafast -pix_fmt yuv420p -c:a aac -b:a 32k -shortest \
       -movflags +faststart "$t/in/v$f.mp4"
done
cd "$t"
"$ex" "$t/work" "$t/in" -- rules.min_side=100 "rules.duration=[1,600]" >"$t/out.txt"
cat "$t/out.txt"
grep -q "^done     $t/in/v300.mp4" "$t/out.txt"
grep -q "^done     $t/in/v500.mp4" "$t/out.txt"
grep -q "^2 finished, 0 failed" "$t/out.txt"
# Again: the ledger remembers.
"$ex" "$t/work" "$t/in" -- rules.min_side=100 "rules.duration=[1,600]" >"$t/out2.txt"
[ "$(grep -c '^skipped' "$t/out2.txt")" = 2 ] || { cat "$t/out2.txt"; exit 1; }
echo ok
