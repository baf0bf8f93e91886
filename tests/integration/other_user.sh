# Sourced by the shell integration tests that run tokprep as another user (nobody), which root
# does to make permission checks real. That user may not reach the build tree (a checkout under
# /root, mode 0700), so it runs a copy of the binary in a 0755 folder under /tmp instead.
#
# tp_other_user_binary UID: sets TOKPREP_OTHER to a copy of $TOKPREP that UID can run (removed at
# exit) and returns 0; or prints "not as another user: ..." with the reason and returns 1, so that the caller
# skips that case rather than fail because of where the checkout lives.
tp_other_user_binary() {
    local uid=$1 d old
    TOKPREP_OTHER=
    if ! command -v setpriv >/dev/null; then
        echo "not as another user: running as uid $uid needs setpriv"
        return 1
    fi
    # The copy must not need anything from the build tree (no build-tree RUNPATH or library).
    if ldd "$TOKPREP" 2>/dev/null | grep -qE "not found|${TP_BUILD_DIR:-/nonexistent}/"; then
        echo "not as another user: $TOKPREP needs libraries from the build tree; it cannot run as uid $uid from a copy"
        return 1
    fi
    d=$(mktemp -d /tmp/tokprep-bin.XXXXXX) || { echo "not as another user: cannot make a folder under /tmp"; return 1; }
    chmod 755 "$d"
    # Removed at exit, along with whatever the test already removes then.
    eval "set -- $(trap -p EXIT)"
    old=${3:-}
    trap -- "rm -rf -- '$d'; $old" EXIT
    cp -- "$TOKPREP" "$d/tokprep" && chmod 755 "$d/tokprep" || {
        echo "not as another user: cannot copy $TOKPREP to $d"
        return 1
    }
    if ! setpriv --reuid="$uid" --regid="$uid" --clear-groups "$d/tokprep" --version >/dev/null 2>&1; then
        echo "not as another user: uid $uid cannot run $d/tokprep (/tmp mounted noexec?)"
        return 1
    fi
    TOKPREP_OTHER=$d/tokprep
}
