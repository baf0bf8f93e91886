#!/usr/bin/env bash
# Two `tokprep run` on one ledger: the second refuses with a clear message (exit 2) while the
# first holds it; `status` still reads it.
set -euo pipefail
t=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$t"' EXIT
mkdir -p "$t/in"
# A watching run holds the ledger until interrupted.
"$TOKPREP" run --watch --json -w "$t/work" --set upload.sink=none "$t/in" >"$t/first.out" 2>&1 &
pid=$!
for _ in $(seq 50); do [ -s "$t/work/tokprep.db.lock" ] && break; sleep 0.1; done
set +e
"$TOKPREP" run -w "$t/work" --set upload.sink=none "$t/in" >"$t/second.out" 2>&1
rc=$?
set -e
cat "$t/second.out"
[ "$rc" = 2 ] || { echo "second run exited $rc, expected 2"; exit 1; }
grep -q "in use by another tokprep (pid $pid)" "$t/second.out" || { echo "unclear message"; exit 1; }
"$TOKPREP" status -w "$t/work" >/dev/null || { echo "status failed while locked"; exit 1; }
if "$TOKPREP" retry -w "$t/work" >"$t/retry.out" 2>&1; then echo "retry should refuse"; exit 1; fi
grep -q "in use" "$t/retry.out"
kill -INT "$pid"
set +e
wait "$pid"
rc=$?
set -e
[ "$rc" = 130 ] || { echo "first run exit $rc, expected 130"; exit 1; }
echo ok
