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

# Ctrl-C: the example's SIGINT handler requests the cancel token its pipeline was given; the
# run stops within 2 s (exit 130) and leaves no temporary output behind.
mkdir -p "$t/long"
ff -f lavfi -i "testsrc2=size=1280x720:rate=30:duration=20" -f lavfi -i "sine=duration=20" \
   -c:v libx264 -preset ultrafast -pix_fmt yuv420p -c:a aac -b:a 32k -shortest "$t/long/wide.mp4"
"$ex" "$t/work3" "$t/long" >"$t/out3.txt" 2>&1 &
pid=$!
# Wait until the fit has started writing (a temporary file in the output folder), then interrupt.
for _ in $(seq 1 100); do
    [ -n "$(find "$t/work3/out" -type f 2>/dev/null | head -1)" ] && break
    sleep 0.1
done
[ -n "$(find "$t/work3/out" -type f 2>/dev/null | head -1)" ] || { cat "$t/out3.txt"; echo "fit never started"; exit 1; }
start=$(date +%s.%N)
kill -INT "$pid"
rc=0
wait "$pid" || rc=$?
took=$(echo "$(date +%s.%N) - $start" | bc)
cat "$t/out3.txt"
[ "$rc" = 130 ] || { echo "exit $rc, want 130"; exit 1; }
[ "$(echo "$took < 2.5" | bc)" = 1 ] || { echo "stopped after $took s"; exit 1; }
[ -z "$(find "$t/work3/out" -type f)" ] || { find "$t/work3/out" -type f; echo "temporary output left"; exit 1; }
echo ok
