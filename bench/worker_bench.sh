#!/usr/bin/env bash
# Queue throughput: the same 60-file mix as test_queue_workers_slow (30 files that pass as is,
# 30 that need a transcode; 1 s, tiny), directory sink, drained by 1, 2 and 3 `tokprep worker`
# processes on one local redis-server. Prints a Markdown table of files/minute.
# Usage: bench/worker_bench.sh [TOKPREP] [REPEATS]   (default build/tokprep, 2 repeats, best taken)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TOKPREP=$(realpath "${1:-$here/build/tokprep}")
REPS=${2:-2}
command -v redis-server >/dev/null || { echo "redis-server is not installed" >&2; exit 77; }
W=$(mktemp -d)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
redis-server --port "$PORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$W" >/dev/null &
RPID=$!
trap 'kill $RPID 2>/dev/null; wait $RPID 2>/dev/null; rm -rf "$W"' EXIT
cd "$W"
until redis-cli -p "$PORT" ping >/dev/null 2>&1; do sleep 0.05; done

# Fixtures from the test's helpers, so bench and test measure the same mix.
PYTHONPATH="$here/tests/integration" python3 - <<PY
import queue_helpers as q
q.make_mix(q.make_bases("$W/bases"), "$W/in", 60)
PY

SETS=(--set rules.min_side=100 --set "rules.duration=[1,600]" --set fix.width=180
      --set fix.height=320 --set fix.video.preset=ultrafast --set pipeline.probe_workers=1
      --set pipeline.fit_workers=1 --set upload.sink=directory)

echo "| workers | files | wall (s) | files/minute | CPU (s) |"
echo "|---:|---:|---:|---:|---:|"
run=0
for n in 1 2 3; do
    best=""
    for _ in $(seq "$REPS"); do
        run=$((run + 1))
        url="redis://127.0.0.1:$PORT/bench$run"
        rm -rf out work; mkdir out
        "$TOKPREP" enqueue --queue "$url" in >/dev/null
        { TIMEFORMAT="%R %U %S"; time {
            pids=()
            for i in $(seq "$n"); do
                "$TOKPREP" worker --queue "$url" --root / --name "b$i" -w "work/$i" --drain \
                    "${SETS[@]}" --set upload.directory.path="$W/out" >/dev/null 2>>err.txt &
                pids+=($!)
            done
            wait "${pids[@]}" # not redis-server
        }; } 2>t.txt
        got=$(find out -name '*.mp4' | wc -l)
        [ "$got" = 60 ] || { echo "only $got of 60 delivered" >&2; cat err.txt >&2; exit 1; }
        read -r wall user sys < <(tail -1 t.txt)
        cpu=$(python3 -c "print(round($user + $sys, 1))")
        if [ -z "$best" ] || python3 -c "import sys; sys.exit(not ($wall < ${best%% *}))"; then
            best="$wall $cpu"
        fi
    done
    read -r wall cpu <<<"$best"
    echo "| $n | 60 | $wall | $(python3 -c "print(round(60 / $wall * 60))") | $cpu |"
done
