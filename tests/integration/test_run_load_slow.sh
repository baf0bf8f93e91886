#!/usr/bin/env bash
# A scaled-down bench/load_bench.py, so the load runs' checks cannot rot: 60 files in one run
# with the directory sink, 10 through the fake TikTok server with 10 % random 500/429/drop
# faults; each checked delivered exactly once (hashes, manifests, ledger, no temporary file).
# The full-size runs and their figures: docs/RELIABILITY.md. Slow (~15 s; ~25 s under ASan).
set -euo pipefail
src=${TP_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
python3 "$src/bench/load_bench.py" dir --files 60
python3 "$src/bench/load_bench.py" tiktok --files 10 --fault-rate 0.1
