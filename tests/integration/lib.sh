# Shared helpers for the shell integration tests: a temp dir removed at exit, assertions.
set -euo pipefail
: "${TOKPREP:?TOKPREP must point at the built tokprep binary}"
T=$(mktemp -d "${TMPDIR:-/tmp}/tokprep-test.XXXXXX")
trap 'chmod -R u+rwX "$T" 2>/dev/null; rm -rf "$T"' EXIT
fails=0
passes=0
skips=0
ok() { passes=$((passes + 1)); echo "ok - $*"; }
bad() { fails=$((fails + 1)); echo "FAIL - $*"; }
# skip WHY: a case that cannot run here. A file whose every case skipped exits 77 (ctest's
# SKIP_RETURN_CODE), so it shows as skipped, never as passed.
skip() { skips=$((skips + 1)); echo "skip - $*"; }
# expect_status WANT DESC -- CMD...: run CMD, compare its exit status.
expect_status() {
    local want=$1 desc=$2; shift 3
    local got=0
    "$@" >"$T/out" 2>"$T/err" || got=$?
    if [ "$got" = "$want" ]; then ok "$desc (exit $got)"; else
        bad "$desc: exit $got, want $want"; sed 's/^/  stdout: /' "$T/out" | head -20
        sed 's/^/  stderr: /' "$T/err" | head -20; fi
}
# expect_grep PATTERN FILE DESC
expect_grep() {
    if grep -qE -- "$1" "$2"; then ok "$3"; else bad "$3: /$1/ not in $2"; sed 's/^/  | /' "$2" | head -20; fi
}
expect_no_grep() {
    if grep -qE -- "$1" "$2"; then bad "$3: /$1/ found in $2"; sed 's/^/  | /' "$2" | head -20; else ok "$3"; fi
}
finish() {
    echo "$passes passed, $fails failed, $skips skipped"
    [ "$fails" -eq 0 ] || exit 1
    [ "$passes" -gt 0 ] || [ "$skips" -eq 0 ] || exit 77
}
