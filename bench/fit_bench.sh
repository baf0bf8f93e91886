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

run_timed() { # NAME CMD...: one timed run, appended to times.txt as "NAME wall cpu"
    local name=$1 st=0; shift
    rm -rf out; mkdir out
    # bash's time keyword: wall, and user/sys including the waited-for children.
    { TIMEFORMAT="%R %U %S"; time "$@" >/dev/null 2>err.txt || st=$?; } 2>t.txt
    if [ "$st" != 0 ]; then echo "failed: $*" >&2; cat err.txt >&2; exit 1; fi
    read -r wall user sys < <(tail -1 t.txt)
    echo "$name $wall $(python3 -c "print($user + $sys)")" >>times.txt
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
# Rounds interleave the variants, so a change of load on the shared machine hits all of them.
: >times.txt
for _ in $(seq "$REPS"); do
    run_timed tp_blur tp_fit blur
    run_timed cli_blur cli_fit blur
    run_timed tp_pad tp_fit pad
    run_timed cli_pad cli_fit pad
    run_timed tp_crop tp_fit crop
    run_timed naive cli_naive_blur
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
# best wall and median CPU (user+sys) per variant
stat() { python3 - "$1" "$2" <<'PY'
import statistics, sys
rows = [l.split() for l in open('times.txt') if l.split()[0] == sys.argv[1]]
col = 1 if sys.argv[2] == 'wall' else 2
vals = [float(r[col]) for r in rows]
print('%.2f' % (min(vals) if col == 1 else statistics.median(vals)))
PY
}
r() { python3 -c "print('%.2f' % ($1 / $2))"; }
for v in tp_blur cli_blur tp_pad cli_pad tp_crop naive; do
    eval "w_$v=$(stat $v wall)"; eval "c_$v=$(stat $v cpu)"
done
cat <<MD
| variant (10 s 1080p30 landscape → 1080x1920, x264 veryfast crf 21, AAC 128k) | wall s (best of $REPS) | CPU s (median) |
|---|---|---|
| tokprep fit, fill blur | $w_tp_blur | $c_tp_blur |
| ffmpeg CLI, same graph and settings (blur) | $w_cli_blur | $c_cli_blur |
| tokprep fit, fill pad | $w_tp_pad | $c_tp_pad |
| ffmpeg CLI, same graph and settings (pad) | $w_cli_pad | $c_cli_pad |
| tokprep fit, fill crop | $w_tp_crop | $c_tp_crop |
| ffmpeg CLI, naive full-size blur (split → scale to cover → boxblur → overlay) | $w_naive | $c_naive |

| ratio | wall | CPU | target |
|---|---|---|---|
| tokprep / CLI, blur | $(r "$w_tp_blur" "$w_cli_blur") | $(r "$c_tp_blur" "$c_cli_blur") | ≤ 1.0 |
| tokprep / CLI, pad | $(r "$w_tp_pad" "$w_cli_pad") | $(r "$c_tp_pad" "$c_cli_pad") | ≤ 1.0 |
| naive CLI blur / tokprep blur (speed-up) | $(r "$w_naive" "$w_tp_blur") | $(r "$c_naive" "$c_tp_blur") | ≥ 1.3 |
| tokprep blur / tokprep pad | $(r "$w_tp_blur" "$w_tp_pad") | $(r "$c_tp_blur" "$c_tp_pad") | ≤ 1.10 |
MD

# One frame of each fill (at 4 s) for the docs.
mkdir -p "$here/docs/img"
for fill in blur pad crop; do
    rm -rf out; mkdir out
    "$TOKPREP" fit --set fix.fill=$fill -o out src.mp4 >/dev/null
    ff -ss 4 -i out/src.mp4 -frames:v 1 -vf scale=270:480 "$here/docs/img/fit_$fill.png"
done
echo "frames: docs/img/fit_{blur,pad,crop}.png"
