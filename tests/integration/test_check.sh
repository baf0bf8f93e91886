#!/usr/bin/env bash
# tokprep check end to end: fixtures made here with the ffmpeg CLI (360x640 or smaller, <= 4 s),
# one per violation code where makeable, plus broken inputs; verdicts, codes, displayed sizes,
# JSON schema, JUnit, exit statuses and -j ordering. About 15-25 s on a shared 2-core machine.
set -u
TOKPREP=${TOKPREP:?TOKPREP must point at the built tokprep}
T=$(mktemp -d)
trap 'chmod -R u+rwx "$T" 2>/dev/null; rm -rf "$T"' EXIT
. "$(dirname "$0")/other_user.sh"
failures=0
checks=0

skips=0

fail() {
    echo "FAIL: $*" >&2
    failures=$((failures + 1))
}
skip() { skips=$((skips + 1)); echo "skip: $*"; }

ff() { ffmpeg -nostdin -v error -y "$@" || { echo "ffmpeg failed: $*" >&2; exit 1; }; }

V=(-c:v libx264 -preset ultrafast -pix_fmt yuv420p)
A=(-c:a aac -b:a 64k)
src() { echo "testsrc=s=$1:r=${2:-30}:d=${3:-4}"; }
SINE=(-f lavfi -i sine=f=440:d=4)

# ---- fixtures -------------------------------------------------------------------------------
ff -f lavfi -i "$(src 360x640)" "${SINE[@]}" "${V[@]}" "${A[@]}" -shortest -movflags +faststart "$T/pass.mp4"
ff -i "$T/pass.mp4" -c copy "$T/not_faststart.mp4"
ff -i "$T/pass.mp4" -c copy "$T/container.mkv"
ff -i "$T/pass.mp4" -c copy -movflags +faststart -f mov "$T/pass_as.mov"
ff -i "$T/pass.mp4" -c copy -an -movflags +faststart "$T/audio_missing.mp4"
ff -i "$T/pass.mp4" -c:v copy -c:a pcm_s16le -f mov "$T/audio_codec.mov"
ff -i "$T/pass.mp4" -vn -c:a copy "$T/no_video.m4a"
ff -f lavfi -i "$(src 360x640)" "${SINE[@]}" -c:v mpeg4 -q:v 10 "${A[@]}" -shortest -movflags +faststart "$T/video_codec.mp4"
ff -f lavfi -i "$(src 180x320)" "${SINE[@]}" "${V[@]}" "${A[@]}" -shortest -movflags +faststart "$T/too_small.mp4"
ff -f lavfi -i "$(src 640x360)" "${SINE[@]}" "${V[@]}" "${A[@]}" -shortest -movflags +faststart "$T/aspect.mp4"
ff -f lavfi -i "$(src 360x640 15)" "${SINE[@]}" "${V[@]}" "${A[@]}" -shortest -movflags +faststart "$T/fps.mp4"
# Drop every third frame of a 60 fps source: intervals alternate 1/60 and 2/60 s, 40 fps average.
ff -f lavfi -i "$(src 360x640 60)" "${SINE[@]}" -vf "select='not(eq(mod(n\,3)\,2))'" -fps_mode vfr "${V[@]}" "${A[@]}" -shortest -movflags +faststart "$T/vfr.mp4"
ff -f lavfi -i "$(src 360x640)" "${SINE[@]}" "${V[@]}" -flags +ildct+ilme -top 1 "${A[@]}" -shortest -movflags +faststart "$T/interlaced.mp4"
ff -f lavfi -i "$(src 360x640)" "${SINE[@]}" "${V[@]}" -color_trc smpte2084 -color_primaries bt2020 -colorspace bt2020nc "${A[@]}" -shortest -movflags +faststart "$T/hdr.mp4"
ff -f lavfi -i "$(src 360x640)" "${SINE[@]}" -c:v libx264 -preset ultrafast -pix_fmt yuv444p "${A[@]}" -shortest -movflags +faststart "$T/pix_fmt.mp4"
ff -f lavfi -i "$(src 360x640 30 2)" -f lavfi -i sine=d=2 "${V[@]}" "${A[@]}" -shortest -movflags +faststart "$T/too_short.mp4"
# Phone clip: coded landscape 640x360 with a 90° display matrix, displayed portrait 360x640.
ff -f lavfi -i "$(src 640x360)" "${SINE[@]}" "${V[@]}" "${A[@]}" -shortest "$T/land.mp4"
ff -i "$T/land.mp4" -c copy -metadata:s:v:0 rotate=90 -movflags +faststart "$T/rotated.mp4"
# Anamorphic: coded 270x640 with 4:3 pixels, displayed 360x640.
ff -f lavfi -i "$(src 270x640)" "${SINE[@]}" -vf setsar=4/3 "${V[@]}" "${A[@]}" -shortest -movflags +faststart "$T/anamorphic.mp4"
# Cover art: a PNG attached picture next to the real video (and next to audio only).
ff -f lavfi -i "testsrc=s=64x64:d=1" -frames:v 1 "$T/cover.png"
ff -i "$T/pass.mp4" -i "$T/cover.png" -map 0 -map 1 -c copy -c:v:1 png -disposition:v:1 attached_pic -movflags +faststart "$T/cover.mp4"
ff -i "$T/no_video.m4a" -i "$T/cover.png" -map 0 -map 1 -c copy -c:v:0 png -disposition:v:0 attached_pic -f mp4 "$T/audio_cover.mp4"
# Two audio tracks, the second marked default: a player (and the check) picks the second.
ff -i "$T/pass.mp4" -f lavfi -i sine=f=880:d=4 -map 0:v -map 0:a -map 1:a -c:v copy -c:a:0 copy -c:a:1 libmp3lame -disposition:a:0 0 -disposition:a:1 default -shortest -movflags +faststart "$T/two_audio.mp4"
# Broken inputs.
: >"$T/empty.mp4"
head -c 65536 /dev/urandom >"$T/random.bin"
echo "this is not a video" >"$T/text.mp4"
size=$(stat -c %s "$T/pass.mp4")
head -c $((size / 2)) "$T/pass.mp4" >"$T/truncated_faststart.mp4"
head -c $((size / 2)) "$T/not_faststart.mp4" >"$T/truncated_moov_last.mp4"
cp "$T/pass.mp4" "$T/unreadable.mp4"
chmod 000 "$T/unreadable.mp4"
# Corruption only a decode finds: noise in the video payload (the noise bitstream filter), the
# container intact. (Bytes overwritten at random also break the Matroska structure: the demuxer
# then ends at 0.6 s, and the probe rightly measures 0.6 s.)
ff -f lavfi -i "$(src 360x640)" "${V[@]}" -g 300 -f matroska "$T/clean.mkv"
ff -i "$T/clean.mkv" -c copy -bsf:v noise=amount=200 -f matroska "$T/corrupt.mkv"
rm -f "$T/clean.mkv"

# ---- helpers --------------------------------------------------------------------------------
# Cases record what to assert; one python3 at the end asserts them all (python's start-up costs
# more than a probe). Cases without options share one `tokprep check` run over all their files
# (their exit statuses are covered by the exit-status section); cases with options run alone.
n=0
: >"$T/spec.tsv"
: >"$T/batch.list"
# expect FILE VERDICT ACTION CODE[:SEVERITY] [tokprep check options...]
#   CODE "-" = no violation required. With options the exit status must match the verdict too.
expect() {
    local f=$1 verdict=$2 action=$3 code=$4 out=BATCH rc=-
    shift 4
    checks=$((checks + 1))
    if [ $# = 0 ]; then
        echo "$T/$f" >>"$T/batch.list"
    else
        n=$((n + 1))
        out="$T/out$n.json"
        "$TOKPREP" check --json "$@" "$T/$f" >"$out" 2>"$T/err$n.txt"
        rc=$?
    fi
    printf 'expect\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$out" "$T/$f" "$rc" "$verdict" "$action" "$code" "$f $*" >>"$T/spec.tsv"
}

# media FILE PYTHON-EXPR-over-m [options...]: assert on the MEDIA object of a single file.
media() {
    local f=$1 expr=$2 out=BATCH
    shift 2
    checks=$((checks + 1))
    if [ $# = 0 ]; then
        echo "$T/$f" >>"$T/batch.list"
    else
        n=$((n + 1))
        out="$T/out$n.json"
        "$TOKPREP" check --json "$@" "$T/$f" >"$out" 2>/dev/null
    fi
    printf 'media\t%s\t%s\t%s\t%s\n' "$out" "$T/$f" "$expr" "$f $*" >>"$T/spec.tsv"
}

# ---- verdicts and codes ---------------------------------------------------------------------
expect pass.mp4 pass none -
expect pass_as.mov pass none -
expect not_faststart.mp4 fix remux not_faststart:error
expect not_faststart.mp4 pass none - --set rules.faststart=false
expect container.mkv fix remux container:error
expect audio_missing.mp4 pass none audio_missing:warn
expect audio_codec.mov fix transcode audio_codec:error
expect no_video.m4a reject none no_video:error
expect audio_cover.mp4 reject none no_video:error
expect video_codec.mp4 fix transcode video_codec:error
expect too_small.mp4 fix transcode too_small:error
expect pass.mp4 fix transcode too_large_dims:error --set rules.max_side=600
expect aspect.mp4 fix transcode aspect:error
expect fps.mp4 fix transcode fps:error
expect vfr.mp4 fix transcode vfr:error
expect interlaced.mp4 fix transcode interlaced:error
expect hdr.mp4 fix transcode hdr:error
expect pix_fmt.mp4 fix transcode pix_fmt:error
expect too_short.mp4 reject none duration_too_short:error
expect too_short.mp4 fix transcode duration_too_short:error --set fix.too_short=extend
expect pass.mp4 fix transcode duration_too_long:error --set 'rules.duration=[1,3]'
expect pass.mp4 reject none duration_too_long:error --set 'rules.duration=[1,3]' --set fix.too_long=reject
expect pass.mp4 fix transcode file_too_large:error --set rules.max_size=100KB
expect rotated.mp4 pass none rotation:warn
expect anamorphic.mp4 pass none sar:warn
expect cover.mp4 pass none -
# When the displayed picture fails anyway, rotation is part of what the transcode must fix.
expect rotated.mp4 fix transcode rotation:error --set 'rules.aspects=["16:9"]'
expect corrupt.mkv fix transcode corrupt:error --deep --set 'rules.containers=[mkv]'
expect empty.mp4 error null -
expect random.bin error null not_media:error
expect text.mp4 error null not_media:error
expect truncated_faststart.mp4 error null truncated:error
expect truncated_moov_last.mp4 error null truncated:error
expect does-not-exist.mp4 error null -
expect pass.mp4 error null - --set limits.max_streams=1
expect pass.mp4 error null - --set limits.max_pixels=1000
# Limits are applied: with 32 bytes to analyse the pixel format stays unknown.
expect pass.mp4 fix transcode pix_fmt:error --set limits.probe_size=32 --set limits.analyze_duration=0.1
if [ "$(id -u)" != 0 ]; then
    expect unreadable.mp4 error null -
    grep -q "permission denied" "$T/out$n.json" || fail "unreadable: no 'permission denied'"
elif tp_other_user_binary 65534; then
    # root reads mode-000 files anyway (CAP_DAC_OVERRIDE): run this one case as nobody, with
    # no capabilities, so the permission check really happens.
    chmod 711 "$T"
    checks=$((checks + 1))
    setpriv --reuid=65534 --regid=65534 --clear-groups "$TOKPREP_OTHER" check --json "$T/unreadable.mp4" >"$T/unreadable.json" 2>&1
    rc=$?
    [ $rc = 2 ] || fail "unreadable as nobody: exit $rc, want 2"
    grep -q '"verdict":.*"error"' "$T/unreadable.json" && grep -q "permission denied" "$T/unreadable.json" ||
        fail "unreadable as nobody: $(cat "$T/unreadable.json")"
    chmod 700 "$T"
else
    skip "unreadable permissions (root bypasses modes, and nobody cannot run tokprep here)"
fi

# ---- measured fields ------------------------------------------------------------------------
media pass.mp4 "m['container']=='mp4' and m['faststart'] and abs(m['duration']-4)<0.1 and m['size']>0 and m['bit_rate']>0 and m['video']['codec']=='h264' and m['video']['fps']==30 and m['video']['vfr'] is False and m['video']['pix_fmt']=='yuv420p' and m['video']['bit_depth']==8 and m['video']['hdr'] is None and m['video']['interlaced'] is False and m['audio']['codec']=='aac' and m['audio']['channels']==1 and m['audio']['sample_rate']==44100"
media pass_as.mov "m['container']=='mov'"
media container.mkv "m['container']=='mkv'"
media not_faststart.mp4 "m['faststart'] is False"
media rotated.mp4 "m['video']['width']==640 and m['video']['height']==360 and m['video']['display_width']==360 and m['video']['display_height']==640 and m['video']['rotation'] in (90,270)"
media anamorphic.mp4 "m['video']['width']==270 and m['video']['sar']=='4:3' and m['video']['display_width']==360 and m['video']['display_height']==640"
media cover.mp4 "m['video']['codec']=='h264' and m['streams']['attachments']==1 and m['streams']['video']==1"
media audio_cover.mp4 "m['video'] is None and m['audio']['codec']=='aac'"
media two_audio.mp4 "m['audio']['codec']=='mp3' and m['audio']['stream_index']==2 and m['streams']['audio']==2"
media hdr.mp4 "m['video']['hdr']=='pq'"
media vfr.mp4 "m['video']['vfr'] is True and 35 < m['video']['fps'] < 45"
media interlaced.mp4 "m['video']['interlaced'] is True"
media pix_fmt.mp4 "m['video']['pix_fmt']=='yuv444p' and m['video']['chroma']=='444'"
media corrupt.mkv "m['decode_errors'] is None"
media corrupt.mkv "m['decode_errors'] > 0" --deep
media pass.mp4 "m['decode_errors'] == 0" --deep

# ---- assert every recorded case at once -----------------------------------------------------
mapfile -t batch < <(awk '!seen[$0]++' "$T/batch.list")
"$TOKPREP" check --json "${batch[@]}" >"$T/batch.json" 2>/dev/null
python3 - "$T/spec.tsv" "$T/batch.json" <<'EOF' || failures=$((failures + 1))
import json, sys
batch = {f["path"]: f for f in json.load(open(sys.argv[2]))["files"]}
bad = 0
for line in open(sys.argv[1]):
    kind, out, path, *rest = line.rstrip("\n").split("\t")
    label = rest[-1]
    try:
        f = batch[path] if out == "BATCH" else json.load(open(out))["files"][0]
        if kind == "expect":
            rc, verdict, action, code, _ = rest
            want = {"pass": "0", "fix": "1", "reject": "1"}.get(verdict, "2")
            assert rc in ("-", want), ("exit", rc, want)
            assert f["verdict"] == verdict, ("verdict", f["verdict"], verdict)
            got_action = f["action"] if f["action"] is not None else "null"
            assert got_action == action, ("action", f["action"], action)
            if code != "-":
                name, _, sev = code.partition(":")
                vs = [v for v in f["violations"] if v["code"] == name]
                assert vs, ("missing violation", name, [v["code"] for v in f["violations"]])
                assert vs[0]["message"].startswith(name + ": "), vs[0]["message"]
                if sev:
                    assert vs[0]["severity"] == sev, (name, vs[0]["severity"], sev)
            if verdict == "pass":
                assert all(v["severity"] == "warn" for v in f["violations"]), f["violations"]
            if verdict == "error":
                assert f["media"] is None and isinstance(f["error"], str) and f["error"], f
            else:
                assert f["error"] is None and isinstance(f["media"], dict), f
        else:
            expr, _ = rest
            m = f["media"]
            assert eval(expr), ("media", expr, json.dumps(m))
    except Exception as e:  # report every failing case, not only the first
        bad += 1
        print("FAIL: %s: %r" % (label, e), file=sys.stderr)
        print(json.dumps(f if "f" in dir() else None)[:1500], file=sys.stderr)
sys.exit(1 if bad else 0)
EOF

grep -q "2 streams > 1 (limits.max_streams)" "$T"/out*.json || fail "max_streams message"

# ---- message format: measured value and limit -----------------------------------------------
checks=$((checks + 1))
"$TOKPREP" check --set 'rules.duration=[1,3]' "$T/pass.mp4" >"$T/human.txt"
grep -q "duration_too_long: 4.0 s > 3 s" "$T/human.txt" || fail "human line: $(cat "$T/human.txt")"
grep -q "^↻ " "$T/human.txt" || fail "fix symbol missing: $(cat "$T/human.txt")"
grep -q $'\033' "$T/human.txt" && fail "colour escape in non-TTY output"
"$TOKPREP" check "$T/too_short.mp4" >"$T/human.txt"
grep -q "^✖ .*set fix.too_short=extend" "$T/human.txt" || fail "reject line: $(cat "$T/human.txt")"

# ---- folders, order, -j, summary, exit statuses ---------------------------------------------
mkdir -p "$T/dir/sub" "$T/dir/.hidden"
cp "$T/pass.mp4" "$T/dir/b.mp4"
cp "$T/aspect.mp4" "$T/dir/a_video.bin"          # media by content, odd extension
cp "$T/pass.mp4" "$T/dir/sub/c.mp4"
cp "$T/pass.mp4" "$T/dir/.secret.mp4"            # hidden: skipped
cp "$T/pass.mp4" "$T/dir/.hidden/d.mp4"          # in a hidden folder: skipped
echo "notes" >"$T/dir/notes.mp4"                 # media name, text content: an error, never skipped
echo "notes" >"$T/dir/notes.txt"                 # not media by name or content: skipped, counted
cp "$T/pass.mp4" "$T/dir/e.mp4.part"             # still being downloaded: skipped
ln -s .. "$T/dir/sub/loop"                       # symlink: not followed, counted
checks=$((checks + 1))
for j in 1 3; do
    "$TOKPREP" check --json -j $j "$T/dir" "$T/pass.mp4" "$T/does-not-exist.mp4" "$T/fps.mp4" >"$T/j$j.json"
    rc=$?
    [ $rc = 2 ] || fail "-j $j: exit $rc, want 2 (a missing path)"
done
python3 - "$T" <<'EOF' || fail "folder walk / -j order"
import json, sys
t = sys.argv[1]
a = json.load(open(t + "/j1.json")); b = json.load(open(t + "/j3.json"))
pa = [f["path"] for f in a["files"]]; pb = [f["path"] for f in b["files"]]
want = [t + "/dir/a_video.bin", t + "/dir/b.mp4", t + "/dir/notes.mp4", t + "/dir/sub/c.mp4",
        t + "/pass.mp4", t + "/does-not-exist.mp4", t + "/fps.mp4"]
assert pa == want, pa
assert pb == want, pb
assert a["profile"] == "tiktok"
assert a["summary"] == {"pass": 3, "fix": 2, "reject": 0, "error": 2, "non_media_skipped": 1,
                        "symlinks_skipped": 1}, a["summary"]
notes = a["files"][2]
assert notes["verdict"] == "error" and "not media: looks like text" in notes["error"], notes
assert list(a.keys()) == ["profile", "files", "summary"], list(a.keys())
for f in a["files"]:
    for k in ("path", "verdict", "action", "violations", "error", "media"):
        assert k in f, (k, f)
EOF
# Many files, many workers: order must still be the input order.
mkdir -p "$T/many"
for i in $(seq -w 1 24); do
    if [ $((10#$i % 3)) = 0 ]; then cp "$T/fps.mp4" "$T/many/$i.mp4"; else cp "$T/pass.mp4" "$T/many/$i.mp4"; fi
done
checks=$((checks + 1))
"$TOKPREP" check -j 8 "$T/many" >"$T/many.txt"
[ $? = 1 ] || fail "many: exit status"
head -n 24 "$T/many.txt" | awk '{print $2}' | sed 's|.*/||' >"$T/order.txt"
seq -w 1 24 | sed 's/$/.mp4/' | diff - "$T/order.txt" >/dev/null || fail "-j 8 order: $(cat "$T/order.txt" | tr '\n' ' ')"
tail -n 1 "$T/many.txt" | grep -q "24 files: 16 pass, 8 fix" || fail "summary: $(tail -n 1 "$T/many.txt")"

checks=$((checks + 1))
"$TOKPREP" check "$T/pass.mp4" "$T/cover.mp4" >/dev/null; [ $? = 0 ] || fail "all pass: exit not 0"
"$TOKPREP" check "$T/pass.mp4" "$T/aspect.mp4" >/dev/null; [ $? = 1 ] || fail "fix: exit not 1"
"$TOKPREP" check "$T/pass.mp4" "$T/no_video.m4a" >/dev/null; [ $? = 1 ] || fail "reject: exit not 1"
"$TOKPREP" check "$T/aspect.mp4" "$T/empty.mp4" >/dev/null; [ $? = 2 ] || fail "error: exit not 2"
"$TOKPREP" check --profile no-such-profile "$T/pass.mp4" >/dev/null 2>&1; [ $? = 2 ] || fail "bad profile: exit not 2"
"$TOKPREP" check --set rules.nope=1 "$T/pass.mp4" >/dev/null 2>&1; [ $? = 2 ] || fail "bad --set: exit not 2"
"$TOKPREP" check >/dev/null 2>&1; [ $? = 2 ] || fail "no PATH: exit not 2"
"$TOKPREP" check -j 0 "$T/pass.mp4" >/dev/null 2>&1; [ $? = 2 ] || fail "-j 0: exit not 2"
"$TOKPREP" check --help | grep -q -- "--junit" || fail "--help lacks --junit"

# ---- JUnit ----------------------------------------------------------------------------------
checks=$((checks + 1))
"$TOKPREP" check --junit "$T/report.xml" "$T/pass.mp4" "$T/aspect.mp4" "$T/no_video.m4a" "$T/text.mp4" >/dev/null
python3 - "$T/report.xml" <<'EOF' || fail "junit report"
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
suite = root.find("testsuite")
assert suite.get("tests") == "4" and suite.get("failures") == "2" and suite.get("errors") == "1", suite.attrib
cases = suite.findall("testcase")
assert [c.find("failure") is not None for c in cases] == [False, True, True, False]
assert cases[3].find("error") is not None
assert "aspect" in cases[1].find("failure").text
EOF

# ---- the public API, embedded (docs/examples/check_file.c) ----------------------------------
example=${TP_BUILD_DIR:-}/example_check_file
if [ -x "$example" ]; then
    checks=$((checks + 1))
    "$example" "$T/pass.mp4" "$T/anamorphic.mp4" "$T/text.mp4" >"$T/example.txt"
    [ $? = 1 ] || fail "example_check_file: exit status"
    grep -q "pass.mp4: pass none" "$T/example.txt" &&
        grep -q "\[warn\] sar: non-square pixels 4:3" "$T/example.txt" &&
        grep -q "text.mp4: error .*not media" "$T/example.txt" || fail "example: $(cat "$T/example.txt")"
else
    skip "example_check_file not built (TP_BUILD_DIR unset)"
fi

echo "$checks groups of checks, $failures failure(s), $skips skipped"
[ "$failures" = 0 ]
