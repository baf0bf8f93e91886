#!/usr/bin/env bash
# Disk faults during `tokprep fit`: the output folder full (a small tmpfs when root may mount,
# and RLIMIT_FSIZE everywhere), read-only from the start, and made read-only in the middle of a
# fit. Each: a clear error, exit 2, no temporary file left (or, when the folder itself can no
# longer be written, a warning naming it), the source untouched. About 10 s.
. "$(dirname "$0")/lib.sh" || exit 1
: "${T:?lib.sh did not make a temp dir}"
# Unmount what this test mounts before lib.sh's clean-up removes the folder.
trap 'umount "$T/out_full" "$T/out_ro" "$T/prun/work" 2>/dev/null || true; chmod -R u+rwX "$T" 2>/dev/null; rm -rf "$T"' EXIT
. "$(dirname "$0")/other_user.sh" || exit 1

ff() { ffmpeg -nostdin -v error -y "$@"; }
# Small outputs keep this quick: a 360x640 fit of a 4 s clip is a few hundred KB.
SETS=(--set fix.width=360 --set fix.height=640)
ff -f lavfi -i testsrc=s=64x128:r=25:d=4 -f lavfi -i sine=d=4 -c:v libx264 -preset ultrafast \
    -pix_fmt yuv420p -c:a aac -shortest "$T/src.mkv"
sum_before=$(sha256sum <"$T/src.mkv")
chmod 755 "$T"
chmod 644 "$T/src.mkv"

source_untouched() {
    if [ "$(sha256sum <"$T/src.mkv")" = "$sum_before" ]; then ok "$1: source untouched"; else
        bad "$1: source changed"; fi
}
# no_leftovers DIR DESC: no file at all (final or temporary) in DIR.
no_leftovers() {
    local n
    n=$(find "$1" -type f 2>/dev/null | wc -l)
    if [ "$n" = 0 ]; then ok "$2: nothing left in the output folder"; else
        bad "$2: $n files left"; ls -la "$1"; fi
}

# ---- full: RLIMIT_FSIZE (works unprivileged) ---------------------------------------------------
mkdir "$T/out_fsize"
expect_status 2 "fit over RLIMIT_FSIZE 100 kB" -- timeout 60 prlimit --fsize=100000 "$TOKPREP" fit "${SETS[@]}" -o "$T/out_fsize" "$T/src.mkv"
expect_grep "File too large" "$T/out" "fsize: says 'File too large' (not killed by SIGXFSZ)"
no_leftovers "$T/out_fsize" "fsize"
source_untouched "fsize"

# ---- full: a 100 KiB tmpfs -----------------------------------------------------------------------
mkdir "$T/out_full"
if [ "$(id -u)" = 0 ] && mount -t tmpfs -o size=100k tmpfs "$T/out_full" 2>/dev/null; then
    expect_status 2 "fit into a full tmpfs" -- timeout 60 "$TOKPREP" fit "${SETS[@]}" -o "$T/out_full" "$T/src.mkv"
    expect_grep "No space left on device" "$T/out" "tmpfs: says 'No space left on device'"
    no_leftovers "$T/out_full" "tmpfs"
    source_untouched "tmpfs"
    umount "$T/out_full"
else
    skip "tmpfs (needs root and mount)"
fi

# ---- read-only output folder from the start ------------------------------------------------------
mkdir "$T/out_ro"
run_as=()
bin=$TOKPREP
if [ "$(id -u)" = 0 ]; then
    if mount -t tmpfs -o ro,size=1m tmpfs "$T/out_ro" 2>/dev/null; then mounted=1; else mounted=0; fi
    if [ $mounted = 0 ]; then
        chmod 555 "$T/out_ro"
        # Root ignores modes: run as nobody (a copy nobody can reach, wherever the checkout is).
        if tp_other_user_binary 65534; then
            run_as=(setpriv --reuid=65534 --regid=65534 --clear-groups)
            bin=$TOKPREP_OTHER
        else
            bin=
        fi
    fi
else
    chmod 555 "$T/out_ro"
    mounted=0
fi
if [ -n "$bin" ]; then
    expect_status 2 "fit into a read-only folder" -- timeout 60 "${run_as[@]}" "$bin" fit "${SETS[@]}" -o "$T/out_ro" "$T/src.mkv"
    expect_grep "output folder is not writable" "$T/out" "read-only: said before any work"
    source_untouched "read-only"
else
    skip "read-only folder (root without a read-only mount, and nobody cannot run tokprep)"
fi
[ "${mounted:-0}" = 1 ] && umount "$T/out_ro"

# ---- the folder turns read-only in the middle of a fit -------------------------------------------
# Root ignores modes, so the fit runs as nobody on a folder nobody owns; root takes the write
# permission away as soon as the temporary file appears. (A read-only remount is refused by the
# kernel while a file is open for writing, so this is how a folder goes read-only mid-fit.)
if [ "$(id -u)" = 0 ] && tp_other_user_binary 65534; then
    mkdir "$T/out_mid"
    chown 65534:65534 "$T/out_mid"
    # Longer input so that the fit is still running when the permission goes.
    ff -f lavfi -i testsrc=s=64x128:r=25:d=20 -f lavfi -i sine=d=20 -c:v libx264 -preset ultrafast \
        -pix_fmt yuv420p -c:a aac -shortest "$T/long.mkv"
    chmod 644 "$T/long.mkv"
    long_sum=$(sha256sum <"$T/long.mkv")
    setpriv --reuid=65534 --regid=65534 --clear-groups timeout 60 "$TOKPREP_OTHER" fit "${SETS[@]}" \
        -o "$T/out_mid" "$T/long.mkv" >"$T/mid.out" 2>"$T/mid.err" &
    pid=$!
    for _ in $(seq 200); do
        ls -A "$T/out_mid" | grep -q '\.tmp-' && break
        sleep 0.05
    done
    chmod 555 "$T/out_mid"
    rc=0
    wait $pid || rc=$?
    chmod 755 "$T/out_mid"
    if [ $rc = 2 ]; then ok "read-only mid-fit: exit 2"; else bad "read-only mid-fit: exit $rc"; cat "$T/mid.out" "$T/mid.err"; fi
    expect_grep "cannot rename the finished output: Permission denied" "$T/mid.out" "read-only mid-fit: says why"
    left=$(ls -A "$T/out_mid")
    if [ -z "$left" ]; then ok "read-only mid-fit: nothing left"; elif grep -qF "$left: cannot remove this temporary file" "$T/mid.err"; then
        ok "read-only mid-fit: the temporary file that could not go is named in a warning"
    else bad "read-only mid-fit: '$left' left without a word"; cat "$T/mid.err"; fi
    if [ "$(sha256sum <"$T/long.mkv")" = "$long_sum" ]; then ok "read-only mid-fit: source untouched"; else
        bad "read-only mid-fit: source changed"; fi
else
    skip "read-only mid-fit (needs root, and nobody able to run tokprep)"
fi

# ---- tokprep run: disk full mid-fit, then the next run retries; two runs on one ledger -------------
# (mode=0755: a tmpfs root is 1777 by default, and run refuses a work folder every user can write)
mkdir -p "$T/prun/src" "$T/prun/work"
cp "$T/src.mkv" "$T/prun/src/a.mkv"
RUN=(run --set upload.sink=directory --set "upload.directory.path=$T/prun/ready" "${SETS[@]}"
     --state "$T/prun/ledger.db" -w "$T/prun/work")
if [ "$(id -u)" = 0 ] && mount -t tmpfs -o size=100k,mode=0755 tmpfs "$T/prun/work" 2>/dev/null; then
    expect_status 2 "run with a full work folder" -- timeout 60 "$TOKPREP" "${RUN[@]}" "$T/prun/src"
    expect_grep "No space left on device" "$T/out" "run, disk full: says why"
    no_leftovers "$T/prun/work" "run, disk full"
    umount "$T/prun/work"
    expect_status 0 "the next run, space back" -- timeout 60 "$TOKPREP" "${RUN[@]}" "$T/prun/src"
    expect_grep "^done +.*a.mkv" "$T/out" "run: the job failed on a full disk is retried and delivered"
    [ -f "$T/prun/ready/a.mp4" ] && ok "run: output delivered" || bad "run: no output delivered"
else
    skip "run with a full disk (needs root and mount)"
fi
cp "$T/src.mkv" "$T/prun/src/b.mkv"
timeout 30 "$TOKPREP" "${RUN[@]}" --watch "$T/prun/src" >"$T/watch.out" 2>&1 &
watch_pid=$!
for _ in $(seq 100); do grep -q "^done .*b.mkv" "$T/watch.out" 2>/dev/null && break; sleep 0.1; done
expect_status 2 "a second run on the same ledger" -- timeout 20 "$TOKPREP" "${RUN[@]}" "$T/prun/src"
expect_grep "ledger is in use by another tokprep" "$T/err" "second run: refuses clearly"
kill -INT $watch_pid 2>/dev/null || true
wait $watch_pid 2>/dev/null || true

finish
