#!/usr/bin/env bash
# Memory of `tokprep run`: peak RSS over 1,000 tiny files vs 10 (target: within 10 %).
# Files pass the rules as is (no transcode) and the sink is `none`, so the run is scan, probe,
# chunk and ledger work: what grows with the number of files if anything does.
# Usage: bench/rss_bench.sh [path/to/tokprep]   (default build/tokprep)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tp=${1:-$here/build/tokprep}
[ -x "$tp" ] || { echo "build first: $tp missing" >&2; exit 2; }
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
ff() { ffmpeg -nostdin -hide_banner -loglevel error -y "$@"; }

ff -f lavfi -i testsrc2=size=180x320:rate=24:duration=1 -f lavfi -i sine=duration=1 \
   -c:v libx264 -preset ultrafast -pix_fmt yuv420p -c:a aac -b:a 32k -shortest \
   -movflags +faststart "$t/base.mp4"
# 1,000 distinct contents (a different comment tag each): remuxed 100 per ffmpeg call.
mkdir -p "$t/many" "$t/few"
for batch in $(seq 0 9); do
    args=()
    for i in $(seq 0 99); do
        n=$((batch * 100 + i))
        args+=(-map 0 -c copy -metadata "comment=tokprep bench $n" -movflags +faststart
               "$t/many/f$(printf %04d $n).mp4")
    done
    ff -i "$t/base.mp4" "${args[@]}"
done
cp "$t"/many/f000[0-9].mp4 "$t/few/"

sets=(--set upload.sink=none --set rules.min_side=100 --set "rules.duration=[0.5,600]")
measure() { # folder → "peak_rss_kib seconds"
    python3 - "$tp" "$1" "$t/work-$(basename "$1")" "${sets[@]}" <<'PY'
import resource, subprocess, sys, time
tp, folder, work, sets = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
t0 = time.time()
p = subprocess.run([tp, "run", "--json", "-o", work, *sets, folder],
                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
took = time.time() - t0
done = sum(1 for l in p.stdout.splitlines() if '"uploaded"' in l)
if p.returncode != 0:
    sys.exit(f"run failed ({p.returncode}): {p.stderr[-400:]}")
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, f"{took:.2f}", done)
PY
}
read -r rss10 s10 n10 < <(measure "$t/few")
read -r rss1000 s1000 n1000 < <(measure "$t/many")
ratio=$(python3 -c "print(f'{$rss1000 / $rss10:.3f}')")
echo "files  done  peak RSS (KiB)  wall (s)"
printf "%5d  %4d  %14d  %8s\n" 10 "$n10" "$rss10" "$s10"
printf "%5d  %4d  %14d  %8s\n" 1000 "$n1000" "$rss1000" "$s1000"
echo "ratio 1000/10: $ratio (target <= 1.10)"
python3 -c "import sys; sys.exit(0 if $rss1000 <= 1.10 * $rss10 else 1)"
