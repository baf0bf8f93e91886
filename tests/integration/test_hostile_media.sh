#!/usr/bin/env bash
# Hostile media inputs against `tokprep check` (and `tokprep fit` when built): empty, random,
# truncated at several offsets, 65535x65535 headers, a million streams, a duration of years, a
# file still growing, a folder / FIFO / device named .mp4, a symlink loop, no permission, names
# with newlines, escapes and invalid UTF-8, 4,000-byte and longer paths. Each must end, in
# bounded time, with a clear per-file error or the documented safe behaviour: never a crash, a
# hang or a partial report. About 10 s.
. "$(dirname "$0")/lib.sh" || exit 1
: "${T:?lib.sh did not make a temp dir}"
. "$(dirname "$0")/other_user.sh" || exit 1

ff() { ffmpeg -nostdin -v error -y "$@"; }
V=(-c:v libx264 -preset ultrafast -pix_fmt yuv420p)

# ---- fixtures -------------------------------------------------------------------------------
ff -f lavfi -i testsrc=s=64x128:r=10:d=1 -f lavfi -i sine=d=1:r=8000 "${V[@]}" -c:a aac -b:a 16k \
    -ac 1 -shortest -movflags +faststart "$T/ok.mp4"
ff -i "$T/ok.mp4" -c copy "$T/moovlast.mp4"
ff -i "$T/ok.mp4" -c copy "$T/ok.mkv"
ff -i "$T/ok.mp4" -c copy -f mpegts "$T/ok.ts"
# 320x256: both sizes are two-byte EBML integers, patched in place to 65535 below.
ff -f lavfi -i testsrc=s=320x256:r=10:d=1 "${V[@]}" "$T/big.mkv"
mkdir -p "$T/in"
python3 - "$T" <<'EOF'
import os, random, struct, sys
T = sys.argv[1]; I = T + "/in/"
rd = lambda n: open(T + "/" + n, "rb").read()
def put(name, data):
    with open(I + name, "wb") as f: f.write(data)
put("empty.mp4", b"")
random.seed(1)
put("random.mp4", bytes(random.randrange(256) for _ in range(65536)))
ok, last, mkv, ts = rd("ok.mp4"), rd("moovlast.mp4"), rd("ok.mkv"), rd("ok.ts")
for cut in (1, 8, 40, len(ok) // 3, len(ok) // 2, len(ok) - 1):
    put("trunc_faststart_%d.mp4" % cut, ok[:cut])
for cut in (len(last) // 2, len(last) - 1):
    put("trunc_moovlast_%d.mp4" % cut, last[:cut])
for cut in (20, len(mkv) // 2):
    put("trunc_%d.mkv" % cut, mkv[:cut])
put("trunc_half.ts", ts[:len(ts) // 2 // 188 * 188 + 100])
# 65535x65535: a crafted y4m header, and an MKV's PixelWidth/PixelHeight patched.
put("huge.y4m", b"YUV4MPEG2 W65535 H65535 F30:1 Ip A1:1 C420jpeg\nFRAME\n" + bytes(1000))
b = bytearray(rd("big.mkv"))
for pat in (b"\xb0\x82\x01\x40", b"\xba\x82\x01\x00"):
    i = b.find(pat); assert i > 0, pat; b[i + 2:i + 4] = b"\xff\xff"
put("huge_pixels.mkv", bytes(b))
# A duration of years: the MKV Info Duration (8-byte float, ms) set to 1e14 ms (3,170 years);
# the packets last 1.2 s, and that is what the probe measures.
b = bytearray(mkv)
i = b.find(b"\x44\x89\x88")
if i > 0:
    b[i + 3:i + 11] = struct.pack(">d", 1e14)
else:
    i = b.find(b"\x44\x89\x84"); assert i > 0; b[i + 3:i + 7] = struct.pack(">f", 1e14)
put("years.mkv", bytes(b))
# A million streams: MKV with 10^6 TrackEntry elements (18 MB), MP4 with 10^6 trak atoms (8 MB).
def el(i, p): return i + b"\x01" + len(p).to_bytes(7, "big") + p
# (All with track number 1: the count is what matters, and repeating one entry is instant.)
entry = b"\xae\x90\xd7\x84" + struct.pack(">I", 1) + b"\x83\x81\x02\x86\x85A_AAC"
head = el(b"\x1a\x45\xdf\xa3", el(b"\x42\x82", b"matroska"))
put("streams.mkv", head + el(b"\x18\x53\x80\x67", el(b"\x16\x54\xae\x6b", entry * 10**6)))
mvhd = struct.pack(">I4s", 108, b"mvhd") + bytes(12) + struct.pack(">II", 1000, 1000) + bytes(80)
traks = struct.pack(">I4s", 8, b"trak") * 10**6
put("streams.mp4", struct.pack(">I4s4sI", 16, b"ftyp", b"isom", 512) +
    struct.pack(">I4s", 8 + len(mvhd) + len(traks), b"moov") + mvhd + traks)
EOF
# A timestamp jump of 20 hours in the middle of a transport stream.
ff -i "$T/ok.ts" -c copy -output_ts_offset 72000 -f mpegts "$T/late.ts"
cat "$T/ok.ts" "$T/late.ts" >"$T/in/jump.ts"
ln -s loop_b.mp4 "$T/in/loop_a.mp4"
ln -s loop_a.mp4 "$T/in/loop_b.mp4"
ln -s /dev/zero "$T/in/zero.mp4"
mkfifo "$T/in/fifo.mp4"
mkdir "$T/in/folder.mp4"

# ---- one check over every file, --json; then per-file assertions -----------------------------
# expected: NAME<TAB>VERDICTS<TAB>REGEX (on error/reason/violation codes) <TAB>MAX_SECONDS
cat >"$T/expect.tsv" <<'EOF'
empty.mp4	error	empty file
random.mp4	error	not media
trunc_faststart_1.mp4	error	not media|truncated
trunc_faststart_8.mp4	error	truncated
trunc_faststart_40.mp4	error	truncated
trunc_moovlast_*	error	truncated
trunc_faststart_*	error	truncated
trunc_20.mkv	error	truncated|not readable|not media
trunc_*.mkv	error|pass|fix|reject	.
trunc_half.ts	error|pass|fix|reject	.
huge.y4m	error	max_pixels|invalid header values
huge_pixels.mkv	error	65535x65535.*limits.max_pixels
years.mkv	fix|reject	duration_too_short
jump.ts	fix|reject|pass	.
streams.mkv	error	limits.max_streams
streams.mp4	error	limits.max_streams
loop_a.mp4	error	symbolic links
loop_b.mp4	error	symbolic links
zero.mp4	error	not a regular file
fifo.mp4	error	not a regular file
EOF
files=()
while IFS= read -r f; do files+=("$T/in/$f"); done < <(cd "$T/in" && ls | grep -v '^folder.mp4$')
start=$(date +%s.%N)
rc=0
timeout 60 "$TOKPREP" check --json -j 2 "${files[@]}" >"$T/all.json" 2>"$T/all.err" || rc=$?
secs=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN{printf "%.2f", b-a}')
if [ "$rc" = 2 ]; then ok "check over ${#files[@]} hostile files: exit 2 in ${secs}s"; else
    bad "check over hostile files: exit $rc (124 = hang, >128 = crash)"; head -20 "$T/all.err"; fi
python3 - "$T" "${#files[@]}" <<'EOF' && ok "every hostile file: one entry, expected verdict and reason" || bad "hostile file verdicts"
import fnmatch, json, os, re, sys
T, n = sys.argv[1], int(sys.argv[2])
doc = json.load(open(T + "/all.json", encoding="utf-8"))  # must parse: no partial document
files = doc["files"]
assert len(files) == n, "%d entries for %d files" % (len(files), n)
rules = [l.rstrip("\n").split("\t") for l in open(T + "/expect.tsv")]
bad = 0
for f in files:
    name = os.path.basename(f["path"])
    rule = next((r for r in rules if fnmatch.fnmatch(name, r[0])), None)
    if not rule:
        print("no expectation for", name); bad += 1; continue
    text = " ".join(filter(None, [f["error"], f["reason"]] + [v["code"] + ": " + v["message"] for v in f["violations"]]))
    good = f["verdict"] in rule[1].split("|") and re.search(rule[2], text)
    if f["verdict"] == "error" and not f["error"]:
        good = False  # an error always says why
    print("%s %-28s %-7s %s" % ("ok  " if good else "FAIL", name, f["verdict"], text[:110]))
    bad += not good
# The header's years disagree with the packets: the duration is measured (issue 13).
years = next(f for f in files if f["path"].endswith("years.mkv"))
assert years["media"]["duration"] < 10, years["media"]["duration"]
assert years["media"]["duration_source"] == "packets", years["media"]
sys.exit(1 if bad else 0)
EOF
# The same files through `tokprep fit`: every one is an error or a reject (nothing here can be
# made conformant), the report is complete, and nothing is left in the output folder.
rc=0
timeout 120 "$TOKPREP" fit --json -o "$T/fitout" "${files[@]}" >"$T/fit.json" 2>"$T/fit.err" || rc=$?
if [ "$rc" = 2 ]; then ok "fit over ${#files[@]} hostile files: exit 2"; else
    bad "fit over hostile files: exit $rc (124 = hang, >128 = crash)"; tail -5 "$T/fit.err"; fi
python3 - "$T" "${#files[@]}" <<'EOF' && ok "fit: one entry per file, each an error or reject with a reason" || bad "fit report"
import json, os, sys
T, n = sys.argv[1], int(sys.argv[2])
files = json.load(open(T + "/fit.json", encoding="utf-8"))["files"]
assert len(files) == n, "%d entries for %d files" % (len(files), n)
for f in files:
    assert f["verdict"] in ("error", "reject") and not f["outputs"], f
    assert f.get("error") or f.get("reason"), f
years = [f for f in files if f["path"].endswith("years.mkv")][0]
assert "too_short" in (years.get("error") or years.get("reason") or ""), years
EOF
left=$(find "$T/fitout" -type f 2>/dev/null | wc -l)
if [ "$left" = 0 ]; then ok "fit: no file left in the output folder"; else
    bad "fit: $left files left in the output folder"; find "$T/fitout" -type f; fi

# The limits answer fast: a million streams is refused in well under the probe timeout.
for f in streams.mkv streams.mp4 huge_pixels.mkv; do
    s=$(date +%s.%N)
    timeout 20 "$TOKPREP" check "$T/in/$f" >/dev/null 2>&1 || true
    e=$(awk -v a="$s" -v b="$(date +%s.%N)" 'BEGIN{printf "%.2f", b-a}')
    if awk -v e="$e" 'BEGIN{exit !(e < 5)}'; then ok "$f refused in ${e}s"; else bad "$f took ${e}s"; fi
done

# ---- things that are not files -----------------------------------------------------------------
# A FIFO named .mp4 with no writer: open() would block for ever; must be refused at once.
expect_status 2 "FIFO named .mp4" -- timeout 10 "$TOKPREP" check "$T/in/fifo.mp4"
expect_grep "not a regular file" "$T/out" "FIFO: not a regular file"
expect_status 2 "/dev/zero symlinked as .mp4" -- timeout 10 "$TOKPREP" check "$T/in/zero.mp4"
expect_status 2 "symlink loop" -- timeout 10 "$TOKPREP" check "$T/in/loop_a.mp4"
expect_grep "Too many levels of symbolic links" "$T/out" "symlink loop named"
# A folder named .mp4 is a folder: walked (documented), here empty: 0 files, said, exit 2
# (as `fit`: issue 16).
expect_status 2 "empty folder named .mp4" -- timeout 10 "$TOKPREP" check "$T/in/folder.mp4"
expect_grep "no media files found in $T/in/folder.mp4" "$T/err" "folder.mp4: no media files found in DIR"
# Walking a folder holding all of them: FIFO, device, loop and folder are skipped, not waited on.
mkdir "$T/walk"
mkfifo "$T/walk/fifo.mp4"
ln -s /dev/zero "$T/walk/zero.mp4"
ln -s loop_b.mp4 "$T/walk/loop_a.mp4"
ln -s loop_a.mp4 "$T/walk/loop_b.mp4"
mkdir "$T/walk/folder.mp4"
cp "$T/ok.mp4" "$T/walk/folder.mp4/inside.mp4"
expect_status 1 "walk over FIFO, device, loop, folder.mp4" -- timeout 10 "$TOKPREP" check "$T/walk"
expect_grep "^1 file: " "$T/out" "walk: only the real file is listed"

# ---- permissions --------------------------------------------------------------------------------
cp "$T/ok.mp4" "$T/unreadable.mp4"
chmod 000 "$T/unreadable.mp4"
mkdir "$T/locked"
cp "$T/ok.mp4" "$T/locked/x.mp4"
chmod 000 "$T/locked"
run_as=()
bin=$TOKPREP
if [ "$(id -u)" = 0 ]; then
    # Root reads mode-000 files anyway (CAP_DAC_OVERRIDE): run as nobody without capabilities
    # (a copy nobody can reach, wherever the checkout is).
    run_as=(setpriv --reuid=65534 --regid=65534 --clear-groups)
    chmod 711 "$T"
    tp_other_user_binary 65534 && bin=$TOKPREP_OTHER || bin=
fi
if [ -n "$bin" ]; then
    expect_status 2 "unreadable file" -- timeout 10 "${run_as[@]}" "$bin" check "$T/unreadable.mp4"
    expect_grep "permission denied" "$T/out" "unreadable file: permission denied"
    expect_status 2 "unreadable folder" -- timeout 10 "${run_as[@]}" "$bin" check "$T/locked"
    expect_grep "cannot open folder: Permission denied" "$T/out" "unreadable folder: said so"
else
    skip "permissions (root, and nobody cannot run tokprep here)"
fi
chmod 700 "$T"

# ---- hostile names ----------------------------------------------------------------------------
mkdir "$T/names"
for n in $'new\nline.mp4' $'bad\xff\xfeutf8.mp4' $'esc\x1b[31mred\x07.mp4' $'tab\tand\rcr.mp4' '-dash.mp4'; do
    cp "$T/ok.mp4" "$T/names/$n"
done
timeout 10 "$TOKPREP" check --json "$T/names" >"$T/names.json" 2>"$T/names.err" || true
python3 - "$T/names.json" <<'EOF' && ok "names: --json is valid UTF-8 JSON, 5 entries" || bad "names: JSON invalid"
import json, sys
raw = open(sys.argv[1], "rb").read()
doc = json.loads(raw.decode("utf-8"))  # strict: invalid UTF-8 raises
names = sorted(f["path"].rsplit("/", 1)[1] for f in doc["files"])
assert len(names) == 5, names
assert "new\nline.mp4" in names and "bad\ufffd\ufffdutf8.mp4" in names, names
EOF
timeout 10 "$TOKPREP" check "$T/names" >"$T/names.txt" 2>&1 || true
lines=$(wc -l <"$T/names.txt")
if [ "$lines" = 6 ]; then ok "names: one line per file (+ summary)"; else bad "names: $lines lines"; cat -A "$T/names.txt"; fi
if LC_ALL=C grep -q $'[\x01-\x08\x0b-\x1f\x7f]' "$T/names.txt"; then bad "names: control bytes in human output"; else
    ok "names: no control bytes (escapes, bell, CR) reach the terminal"; fi
expect_grep 'new\\nline.mp4' "$T/names.txt" "names: newline shown as \\n"
expect_grep 'bad\\xff\\xfeutf8.mp4' "$T/names.txt" "names: invalid UTF-8 shown as \\xNN"
timeout 10 "$TOKPREP" check --junit "$T/names.xml" "$T/names" >/dev/null 2>&1 || true
python3 -c "import sys, xml.dom.minidom as m; m.parse(sys.argv[1])" "$T/names.xml" && ok "names: JUnit XML parses" ||
    bad "names: JUnit XML invalid"
# fit prints the same names (the plan only: --dry-run transcodes nothing).
timeout 20 "$TOKPREP" fit --dry-run -o "$T/nout" "$T/names" >"$T/fnames.txt" 2>&1 || true
if LC_ALL=C grep -q $'[\x01-\x08\x0b-\x1f\x7f]' "$T/fnames.txt"; then bad "fit names: control bytes in output"; else
    ok "fit names: no control bytes reach the terminal"; fi
expect_grep '^.*new\\nline.mp4: ' "$T/fnames.txt" "fit names: newline shown as \\n, one line"
timeout 20 "$TOKPREP" fit --dry-run --json -o "$T/nout" "$T/names" >"$T/fnames.json" 2>/dev/null || true
python3 -c "import json, sys; d = json.loads(open(sys.argv[1], 'rb').read().decode('utf-8')); assert len(d['files']) == 5" "$T/fnames.json" &&
    ok "fit names: --json is valid UTF-8 JSON" || bad "fit names: JSON invalid"

# ---- long paths -------------------------------------------------------------------------------
d="$T/long"
seg=$(printf 'd%.0s' $(seq 200))
while [ ${#d} -lt 3800 ]; do d="$d/$seg"; done
mkdir -p "$d"
cp "$T/ok.mp4" "$d/$(printf 'f%.0s' $(seq 150)).mp4"
: >"$d/empty.mp4"
# Deeper than PATH_MAX (4096): reachable only step by step.
(cd "$d" && for i in 1 2 3; do mkdir "$seg" && cd "$seg"; done && cp "$T/ok.mp4" deep.mp4)
expect_status 2 "4,000-byte paths walked" -- timeout 20 "$TOKPREP" check --json "$T/long"
python3 - "$T/out" <<'EOF' && ok "long paths: a 4,000-byte path checked; >4 KiB: 'File name too long'" || bad "long paths"
import json, sys
files = json.load(open(sys.argv[1], encoding="utf-8"))["files"]
assert len(files) == 3, [f["path"][-40:] for f in files]
assert any(len(f["path"]) >= 4000 and f["verdict"] != "error" for f in files)
# empty.mp4: named like video, not media: an error, never a silent skip (issue 13)
empty = [f for f in files if f["path"].endswith("/empty.mp4")]
assert len(empty) == 1 and empty[0]["error"].endswith("not media: looks like an empty file"), empty
deep = [f for f in files if "File name too long" in (f["error"] or "")]
assert len(deep) == 1 and deep[0]["error"].endswith("File name too long"), [f["error"] for f in files]
EOF
# The reason survives a message longer than the error buffer (the middle of the path is cut).
expect_status 2 "empty file at a 4,000-byte path" -- timeout 10 "$TOKPREP" check "$d/empty.mp4"
expect_grep "empty file \\(0 bytes\\)$" "$T/out" "long path: the reason is kept"

# ---- a file still being written -------------------------------------------------------------
# The probe sees the file as it is at that moment: an error (truncated, no moov) or a result for
# the part written so far (run --watch waits for pipeline.settle_seconds of stable size first).
for src in ok.mkv ok.ts moovlast.mp4; do
    g="$T/growing_$src"
    head -c 1000 "$T/$src" >"$g"
    python3 - "$T/$src" "$g" <<'EOF' &
import sys, time
data = open(sys.argv[1], "rb").read()
with open(sys.argv[2], "ab") as f:
    for off in range(1000, len(data), 700):
        f.write(data[off:off + 700]); f.flush(); time.sleep(0.01)
EOF
    writer=$!
    rc=0
    timeout 20 "$TOKPREP" check --json "$g" >"$T/grow.json" 2>/dev/null || rc=$?
    wait $writer || true
    if [ "$rc" -le 2 ] && python3 -c "import json,sys; d=json.load(open(sys.argv[1])); assert len(d['files'])==1" "$T/grow.json"; then
        ok "growing $src: exit $rc, complete report"
    else bad "growing $src: exit $rc"; cat "$T/grow.json"; fi
done

finish
