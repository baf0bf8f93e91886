#!/usr/bin/env bash
# Installs what is missing, builds, makes a sample folder with the ffmpeg CLI and runs tokprep's
# main job on it with a local directory sink (no network). Results land in ./demo/.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$here"
. scripts/deps.sh
tokprep_install_deps
jobs=$(nproc 2>/dev/null || echo 2)
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$jobs" >/dev/null
tp="$here/build/tokprep"

demo="$here/demo"
in="$demo/input"
rm -rf "$demo"
mkdir -p "$in"
ff() { ffmpeg -nostdin -hide_banner -loglevel error -y "$@"; }
echo "Making sample files in $in ..."
# A landscape camera clip (16:9, needs fitting to 9:16).
ff -f lavfi -i testsrc2=size=640x360:rate=30:duration=5 -f lavfi -i sine=frequency=440:duration=5 \
   -c:v libx264 -pix_fmt yuv420p -c:a aac -shortest "$in/landscape.mp4"
# A conformant vertical clip (passes as is).
ff -f lavfi -i testsrc2=size=360x640:rate=30:duration=4 -f lavfi -i sine=frequency=660:duration=4 \
   -c:v libx264 -pix_fmt yuv420p -c:a aac -shortest -movflags +faststart "$in/vertical.mp4"
# A phone clip: coded landscape with rotation metadata, displayed portrait.
ff -f lavfi -i testsrc2=size=640x360:rate=30:duration=4 -f lavfi -i sine=frequency=550:duration=4 \
   -c:v libx264 -pix_fmt yuv420p -c:a aac -shortest "$in/.phone-tmp.mp4"
ff -i "$in/.phone-tmp.mp4" -c copy -metadata:s:v:0 rotate=90 "$in/phone_rotated.mov"
rm -f "$in/.phone-tmp.mp4"
# An 11-minute talk at tiny size (too long: split into parts).
ff -f lavfi -i testsrc2=size=160x90:rate=24:duration=660 -f lavfi -i sine=frequency=300:duration=660 \
   -c:v libx264 -preset ultrafast -pix_fmt yuv420p -c:a aac -b:a 32k -shortest "$in/talk_11min.mp4"
# A broken file: a truncated MP4 under a media name.
head -c 3000 "$in/landscape.mp4" > "$in/broken.mp4"

echo
echo "Running: tokprep run --profile scripts/demo-profile.yaml -w demo/work demo/input"
status=0
"$tp" run --profile scripts/demo-profile.yaml -w "$demo/work" "$in" || status=$?
echo
"$tp" status --state "$demo/work/tokprep.db" || true
echo
echo "tokprep run exited with status $status (2 is expected: broken.mp4 cannot be read)."
echo "Delivered files and their JSON manifests: $demo/delivered/"
ls -l "$demo/delivered" 2>/dev/null || true
echo "Sample inputs: $in"
echo "See the same run in a browser: $tp serve --profile scripts/demo-profile.yaml -w $demo/work"
echo "  (then open http://127.0.0.1:8724/ — Ctrl-C stops it)"
