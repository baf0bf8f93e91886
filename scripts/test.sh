#!/usr/bin/env bash
# Installs what is missing, configures and builds in build/, runs the whole test suite.
# Usage: scripts/test.sh [--sanitize] [ctest args...]
#   --sanitize   build in build-asan/ with ASan+UBSan (-fno-sanitize-recover=all) and run there.
# Exit status: ctest's.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$here"
# shellcheck source=scripts/deps.sh
. scripts/deps.sh
tokprep_install_deps
# The scale-out tests need a real redis-server on loopback; they skip with a message without it.
tokprep_install_deps redis-server || echo "tokprep: redis-server could not be installed; the queue tests will skip" >&2
# The console's browser tests (ctest label `browser`) drive Debian's Chromium with Debian's
# python3-selenium; they skip with a message without them.
tokprep_install_deps chromium chromium-driver python3-selenium ||
    echo "tokprep: chromium/python3-selenium could not be installed; the browser tests will skip" >&2

build=build
cmake_args=(-DCMAKE_BUILD_TYPE=RelWithDebInfo)
if [ "${1:-}" = "--sanitize" ]; then
    shift
    build=build-asan
    cmake_args=(-DCMAKE_BUILD_TYPE=Debug -DTOKPREP_SANITIZE=ON)
    export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:halt_on_error=1:${ASAN_OPTIONS:-}"
    export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:${UBSAN_OPTIONS:-}"
    export LSAN_OPTIONS="suppressions=$here/tests/lsan.supp:print_suppressions=0:${LSAN_OPTIONS:-}"
    export TP_SANITIZE=1
fi
jobs=$(nproc 2>/dev/null || echo 2)
cmake -S . -B "$build" "${cmake_args[@]}" >/dev/null
cmake --build "$build" -j "$jobs"
cd "$build"
ctest --output-on-failure -j "$jobs" "$@"
