#!/usr/bin/env bash
# Preview speed: `tokprep preview` (one seek and about one decoded frame per still, through the
# plan's filter graph) on a one-minute 1080p landscape source, against the obvious ffmpeg CLI
# command that makes the same tiled image (the same filter graph, a select every 15 s, the
# same scale and translucent boxes, tile=4x1), which decodes the whole file. Same machine, same
# run, best of REPEATS; wall and CPU (user + sys) seconds. Prints a Markdown table.
# Usage: bench/preview_bench.sh [TOKPREP] [REPEATS]   (default build/tokprep, 3)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TOKPREP=$(realpath "${1:-$here/build/tokprep}")
REPS=${2:-3}
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
cd "$W"
ff() { ffmpeg -nostdin -hide_banner -v error -y "$@"; }

# One minute of 1920x1080 at 30 fps with audio, a keyframe every 5 s (x264's default GOP would
# give 8.3 s; phones use 1-2 s): 5 s encoded once and joined 12 times without re-encoding.
ff -f lavfi -i "testsrc2=s=1920x1080:r=30:d=5" -f lavfi -i "sine=d=5:sample_rate=48000" \
   -c:v libx264 -preset ultrafast -crf 30 -g 150 -pix_fmt yuv420p -c:a aac -b:a 64k -shortest seg.mp4
for _ in $(seq 12); do echo "file seg.mp4"; done >list.txt
ff -f concat -safe 0 -i list.txt -c copy -movflags +faststart src.mp4

filter=$("$TOKPREP" fit --dry-run --json src.mp4 |
         python3 -c "import json,sys; print(json.load(sys.stdin)['files'][0]['plan']['filter'])")
# preview.safe_zone's defaults at 1080x1920, on 270x480 tiles.
boxes="drawbox=x=0:y=0:w=iw:h=ih*150/1920:c=0xff2060@0.45:t=fill"
boxes+=",drawbox=x=0:y=ih-ih*440/1920:w=iw:h=ih*440/1920:c=0xff2060@0.45:t=fill"
boxes+=",drawbox=x=0:y=ih*150/1920:w=iw*60/1080:h=ih*1330/1920:c=0xff2060@0.45:t=fill"
boxes+=",drawbox=x=iw-iw*150/1080:y=ih*760/1920:w=iw*150/1080:h=ih*720/1920:c=0xff2060@0.45:t=fill"
cli() {
    ff -i src.mp4 -an -vf "$filter,select='isnan(prev_selected_t)+gte(t-prev_selected_t\,15)',scale=270:480,$boxes,tile=4x1" \
       -frames:v 1 out/cli.png
}
tok() { "$TOKPREP" preview -o out src.mp4; }

run_timed() { # NAME CMD...: one timed run, appended to times.txt as "NAME wall cpu"
    local name=$1 st=0; shift
    rm -rf out; mkdir out
    { TIMEFORMAT="%R %U %S"; time "$@" >/dev/null 2>err.txt || st=$?; } 2>t.txt
    if [ "$st" != 0 ]; then echo "failed: $*" >&2; cat err.txt >&2; exit 1; fi
    read -r wall user sys < <(tail -1 t.txt)
    echo "$name $wall $(python3 -c "print($user + $sys)")" >>times.txt
}
: >times.txt
for _ in $(seq "$REPS"); do
    run_timed tokprep tok
    run_timed cli cli
done
python3 - "$REPS" <<'EOF'
import sys
best = {}
for line in open("times.txt"):
    name, wall, cpu = line.split()
    w, c = best.get(name, (1e9, 1e9))
    best[name] = (min(w, float(wall)), min(c, float(cpu)))
print(f"one-minute 1920x1080 source, 4 stills, best of {sys.argv[1]}\n")
print("| command | wall s | CPU s |\n|---|---|---|")
labels = {"tokprep": "tokprep preview (seek + one frame per still)",
          "cli": "ffmpeg CLI: whole file through the graph, select, tile"}
for k in ("tokprep", "cli"):
    print(f"| {labels[k]} | {best[k][0]:.2f} | {best[k][1]:.2f} |")
EOF
uptime
