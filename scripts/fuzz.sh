#!/usr/bin/env bash
# Runs each libFuzzer harness for SECONDS (default 60) with its seed corpus in tests/fuzz/corpus.
# New interesting inputs go to build-fuzz/corpus/; crashes to build-fuzz/crashes/ (copy each into
# tests/fuzz/corpus/<harness>/ once fixed: the corpus is replayed by ctest as a regression test).
# Usage: scripts/fuzz.sh [SECONDS] [HARNESS...]
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$here"
. scripts/deps.sh
tokprep_install_deps clang libclang-rt-14-dev
secs=${1:-60}
shift || true
CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTOKPREP_FUZZ=ON \
    -DTOKPREP_TESTS=OFF -DTOKPREP_SANITIZE=ON \
    "-DCMAKE_C_FLAGS=-fsanitize=fuzzer-no-link" >/dev/null
cmake --build build-fuzz -j "$(nproc)" >/dev/null
harnesses=("$@")
if [ ${#harnesses[@]} -eq 0 ]; then
    for f in tests/fuzz/fuzz_*.c; do harnesses+=("$(basename "$f" .c)"); done
fi
status=0
for h in "${harnesses[@]}"; do
    short=${h#fuzz_}
    # New inputs go to build-fuzz/corpus (first folder); the repo keeps the seeds and crashes.
    mkdir -p "tests/fuzz/corpus/$short" "build-fuzz/crashes/$short" "build-fuzz/corpus/$short"
    echo "== $h for ${secs}s"
    (cd "build-fuzz/crashes/$short" && \
        "$here/build-fuzz/tests/fuzz/$h" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 "$here/build-fuzz/corpus/$short" "$here/tests/fuzz/corpus/$short") 2>&1 | \
        grep -E "^#[0-9]+.*DONE|cov:|stat::number_of_executed_units|stat::peak_rss|ERROR|SUMMARY" | tail -5 || status=1
done
exit $status
