#!/usr/bin/env bash
# Fails when one of the given binaries depends (DT_NEEDED) on FFmpeg, curl or hiredis: the
# planners' unit tests must build from tp_plan, tp_profiles and tp_util alone.
set -u
forbidden='^(libav|libsw|libpostproc|libcurl|libhiredis)'
status=0
if [ $# -eq 0 ]; then
    echo "usage: check_needed.sh BINARY..." >&2
    exit 2
fi
for bin in "$@"; do
    if ! needed=$(LC_ALL=C readelf -d "$bin" 2>&1); then
        echo "FAIL: readelf -d $bin: $needed" >&2
        status=1
        continue
    fi
    libs=$(printf '%s\n' "$needed" | sed -n 's/.*(NEEDED).*\[\(.*\)\].*/\1/p')
    if [ -z "$libs" ]; then
        echo "FAIL: $bin: no NEEDED entries at all (not a dynamic executable?)" >&2
        status=1
        continue
    fi
    bad=$(printf '%s\n' "$libs" | grep -E "$forbidden")
    if [ -n "$bad" ]; then
        echo "FAIL: $(basename "$bin") needs $(echo $bad)" >&2
        status=1
    else
        echo "ok: $(basename "$bin") needs $(echo $libs)"
    fi
done
exit $status
