#!/usr/bin/env bash
# Load runs of `tokprep run` (see bench/load_bench.py): 2,000 small files with the directory sink,
# 200 through the fake TikTok server with 10 % random faults; all checked delivered exactly once.
# Builds a Release tokprep in build-release/ unless TOKPREP is set.
# Usage: bench/load_bench.sh [dir|tiktok|both] [--files N] [--fit-share F] [--fault-rate P]
#                            [--seed N] [--keep]
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [ -z "${TOKPREP:-}" ]; then
    cmake -S "$here" -B "$here/build-release" -DCMAKE_BUILD_TYPE=Release -DTOKPREP_TESTS=OFF >/dev/null
    cmake --build "$here/build-release" -j2 --target tokprep >/dev/null
    export TOKPREP="$here/build-release/tokprep"
fi
exec python3 "$here/bench/load_bench.py" "$@"
