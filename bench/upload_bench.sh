#!/usr/bin/env bash
# Upload throughput of a 300 MB file to the local fake TikTok server: tokprep vs curl sending the
# same chunks in the same order. Builds a Release tokprep in build-release/ unless TOKPREP is set.
# Usage: bench/upload_bench.sh [--size-mb N] [--chunk-mb N] [--runs N]
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [ -z "${TOKPREP:-}" ]; then
    cmake -S "$here" -B "$here/build-release" -DCMAKE_BUILD_TYPE=Release -DTOKPREP_TESTS=OFF >/dev/null
    cmake --build "$here/build-release" -j2 --target tokprep >/dev/null
    export TOKPREP="$here/build-release/tokprep"
fi
exec python3 "$here/bench/upload_bench.py" "$@"
