#!/usr/bin/env bash
# Fit speed: tokprep fit vs the ffmpeg CLI with the same filter graph and encoder settings, and the
# cost of fill: blur (tokprep's reduced-resolution blur vs the naive full-size CLI recipe, and vs
# pad). Prints a Markdown table; saves a frame of each fill to docs/img/.
# Usage: bench/fit_bench.sh [TOKPREP] [REPEATS]   (default build/tokprep, 3 repeats, best taken)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TOKPREP=$(realpath "${1:-$here/build/tokprep}")
REPS=${2:-3}
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
cd "$W"
ff() { ffmpeg -nostdin -hide_banner -v error -y "$@"; }

# 1080p landscape, 10 s, 30 fps, with audio: what a camera or screen recording gives.
ff -f lavfi -i "testsrc2=s=1920x1080:r=30:d=10" -f lavfi -i "sine=f=440:d=10:sample_rate=48000" \
   -c:v libx264 -preset veryfast -crf 18 -c:a aac -b:a 192k -shortest src.mp4

# The plan tokprep makes: the same filter chain and rate limits go to the CLI.
plan() { "$TOKPREP" fit --set fix.fill="$1" --dry-run --json src.mp4; }
field() { python3 -c "import json,sys; print(json.load(sys.stdin)['files'][0]['plan']['$1'])"; }
x264=(-c:v libx264 -preset veryfast -crf 21 -profile:v high -x264-params 8x8dct=1:forced-idr=1
      -pix_fmt yuv420p)
aac=(-c:a aac -b:a 128k -ar 48000 -ac 2 -af "aresample=48000:async=1:first_pts=0")

best() { # best wall time of REPS runs of a command
    local b=""
    for _ in $(seq "$REPS"); do
        rm -rf out; mkdir out
        local t0 t1; t0=$(date +%s.%N)
        if ! "$@" >/dev/null 2>err.txt; then echo "failed: $*" >&2; cat err.txt >&2; exit 1; fi
        t1=$(date +%s.%N)
        b=$(python3 -c "t=$t1-$t0; b='$b'; print(t if not b or t < float(b) else b)")
    done
    printf '%.2f' "$b"
}
cli_fit() { # FILL: the ffmpeg CLI running tokprep's own plan
    local p; p=$(plan "$1")
    ff -i src.mp4 -vf "$(field filter <<<"$p")" "${x264[@]}" -maxrate "$(field video_maxrate <<<"$p")" \
       -bufsize "$(field video_bufsize <<<"$p")" "${aac[@]}" -movflags +faststart out/cli.mp4
}
cli_naive_blur() { # split → scale to cover at full size → boxblur → overlay
    local p; p=$(plan blur)
    ff -i src.mp4 -vf "fps=30,split[a][b];[a]scale=1080:1920:force_original_aspect_ratio=increase,crop=1080:1920,boxblur=luma_radius=40:luma_power=2:chroma_radius=20:chroma_power=2[bg];[b]scale=1080:-2[fg];[bg][fg]overlay=(W-w)/2:(H-h)/2,setsar=1" \
       "${x264[@]}" -maxrate "$(field video_maxrate <<<"$p")" -bufsize "$(field video_bufsize <<<"$p")" \
       "${aac[@]}" -movflags +faststart out/naive.mp4
}
tp_fit() { "$TOKPREP" fit --set fix.fill="$1" -o out src.mp4; }

echo "machine: $(nproc) cores, $(uname -m); load before: $(cut -d' ' -f1-3 /proc/loadavg)"
t_tp_blur=$(best tp_fit blur)
t_cli_blur=$(best cli_fit blur)
t_tp_pad=$(best tp_fit pad)
t_cli_pad=$(best cli_fit pad)
t_tp_crop=$(best tp_fit crop)
t_naive=$(best cli_naive_blur)
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
r() { python3 -c "print('%.2f' % ($1 / $2))"; }
cat <<MD
| what (10 s 1080p30 landscape → 1080x1920, x264 veryfast crf 21, AAC 128k) | wall s (best of $REPS) | ratio |
|---|---|---|
| tokprep fit, fill blur | $t_tp_blur | $(r "$t_tp_blur" "$t_cli_blur")× the CLI (target ≤ 1.0) |
| ffmpeg CLI, same graph and settings (blur) | $t_cli_blur | |
| tokprep fit, fill pad | $t_tp_pad | $(r "$t_tp_pad" "$t_cli_pad")× the CLI (target ≤ 1.0) |
| ffmpeg CLI, same graph and settings (pad) | $t_cli_pad | |
| tokprep fit, fill crop | $t_tp_crop | |
| ffmpeg CLI, naive full-size blur | $t_naive | tokprep blur is $(r "$t_naive" "$t_tp_blur")× faster (target ≥ 1.3) |
| tokprep blur vs tokprep pad | | $(r "$t_tp_blur" "$t_tp_pad")× (target ≤ 1.10) |
MD

# One frame of each fill (at 4 s) for the docs.
mkdir -p "$here/docs/img"
for fill in blur pad crop; do
    rm -rf out; mkdir out
    "$TOKPREP" fit --set fix.fill=$fill -o out src.mp4 >/dev/null
    ff -ss 4 -i out/src.mp4 -frames:v 1 -vf scale=270:480 "$here/docs/img/fit_$fill.png"
done
echo "frames: docs/img/fit_{blur,pad,crop}.png"
