#!/usr/bin/env bash
# Benchmark: `tokprep check --json DIR` over 200 small files against a shell loop of
# `ffprobe -v error -show_format -show_streams -of json` over the same files, in one run.
# Usage: bench/check_bench.sh [TOKPREP] [N_FILES]   (default: build/tokprep, 200)
# Prints both wall times and the ratio; writes nothing outside a temporary folder.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TOKPREP=${1:-${TOKPREP:-$here/build/tokprep}}
N=${2:-200}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

ff() { ffmpeg -nostdin -v error -y "$@"; }
# Eight distinct small clips (containers, codecs, sizes, with/without audio), copied to N files.
ff -f lavfi -i testsrc=s=360x640:r=30:d=3 -f lavfi -i sine=d=3 -c:v libx264 -preset ultrafast -c:a aac -shortest -movflags +faststart "$T/v0.mp4"
ff -f lavfi -i testsrc=s=640x360:r=25:d=3 -f lavfi -i sine=d=3 -c:v libx264 -preset ultrafast -c:a aac -shortest "$T/v1.mp4"
ff -f lavfi -i testsrc=s=320x240:r=30:d=3 -c:v libx264 -preset ultrafast "$T/v2.mkv"
ff -f lavfi -i testsrc=s=360x640:r=30:d=3 -f lavfi -i sine=d=3 -c:v libvpx-vp9 -deadline realtime -cpu-used 8 -b:v 200k -c:a libopus -shortest "$T/v3.webm"
ff -f lavfi -i testsrc=s=360x640:r=24:d=3 -c:v mpeg4 -f mov "$T/v4.mov"
ff -f lavfi -i testsrc=s=240x426:r=60:d=3 -f lavfi -i sine=d=3 -c:v libx264 -preset ultrafast -c:a aac -shortest -movflags +faststart "$T/v5.mp4"
ff -f lavfi -i testsrc=s=360x640:r=30:d=3 -c:v libx264 -preset ultrafast -pix_fmt yuv444p -movflags +faststart "$T/v6.mp4"
ff -f lavfi -i sine=d=3 -c:a aac "$T/v7.m4a"
mkdir "$T/files"
srcs=("$T"/v*.*)
for i in $(seq 1 "$N"); do
    s=${srcs[$((i % ${#srcs[@]}))]}
    cp "$s" "$T/files/$(printf '%04d' "$i").${s##*.}"
done
bytes=$(du -sb "$T/files" | cut -f1)

# Warm the page cache for both sides alike.
cat "$T"/files/* >/dev/null

tj0=$(date +%s.%N)
"$TOKPREP" check --json -j 1 "$T/files" >/dev/null || true
tj1=$(date +%s.%N)
t0=$(date +%s.%N)
"$TOKPREP" check --json "$T/files" >"$T/tokprep.json" || true
t1=$(date +%s.%N)
for f in "$T"/files/*; do
    ffprobe -v error -show_format -show_streams -of json "$f" >>"$T/ffprobe.json" || true
done
t2=$(date +%s.%N)

n_checked=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["files"]))' "$T/tokprep.json")
python3 - "$t0" "$t1" "$t2" "$N" "$n_checked" "$bytes" "$(nproc)" "$tj0" "$tj1" <<'PY'
import sys
t0, t1, t2 = map(float, sys.argv[1:4])
n, checked, size, cores = int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]), int(sys.argv[7])
j1 = float(sys.argv[9]) - float(sys.argv[8])
a, b = t1 - t0, t2 - t1
print(f"files: {n} ({size / 1e6:.1f} MB), checked by tokprep: {checked}, cores: {cores}")
print(f"tokprep check --json DIR : {a:7.3f} s  ({a / n * 1000:6.2f} ms/file)")
print(f"tokprep check -j 1      : {j1:7.3f} s  ({j1 / n * 1000:6.2f} ms/file)")
print(f"ffprobe shell loop       : {b:7.3f} s  ({b / n * 1000:6.2f} ms/file)")
print(f"ratio                    : {b / a:7.1f}x")
PY
