#!/usr/bin/env bash
# tokprep fit: transcode conformance (blur/pad/crop), rotation, anamorphic, split, trim, extend,
# remux packet equality, pass-through byte equality, output-folder safety. ~30 s.
. "$(dirname "$0")/fit_lib.sh"
. "$(dirname "$0")/other_user.sh"

# Landscape 320x180 with audio, moov at the end; a location tag and a subtitle stream to drop.
ff -f lavfi -i "testsrc2=s=320x180:r=25:d=3" -f lavfi -i "sine=f=440:d=3" -f lavfi -i "sine=f=880:d=3" \
   -map 0 -map 1 -map 2 -c:v libx264 -preset ultrafast -c:a aac -metadata location=+48.8+002.3/ \
   -shortest land.mov
sha_before=$(sha256sum land.mov)

for fill in blur pad crop; do
    rc=0; "$TOKPREP" fit "${FAST[@]}" --set fix.fill=$fill -o "out_$fill" land.mov >/dev/null || rc=$?
    check "fit $fill exit 0" [ $rc = 0 ]
    check_conformant "out_$fill/land.mp4" 25/1
    d=$(fmt_dur "out_$fill/land.mp4")
    check "fill $fill duration 3 s ($d)" feq "$d" 3.0 0.05
    check "no temp files ($fill)" no_temp_files "out_$fill"
done
# Fill colours: pad leaves black bars; blur puts picture there; crop has no bars.
top_luma() { ff -i "$1" -vf "crop=180:40:0:0,signalstats,metadata=print:key=lavfi.signalstats.YAVG:file=-" -frames:v 1 -f null - | awk -F= '!d && /YAVG/{print int($2); d=1}'; }
check "pad: top bar black" [ "$(top_luma out_pad/land.mp4)" -lt 20 ]
check "blur: top not black" [ "$(top_luma out_blur/land.mp4)" -gt 25 ]
check "crop: top not black" [ "$(top_luma out_crop/land.mp4)" -gt 25 ]
check "input unchanged" [ "$(sha256sum land.mov)" = "$sha_before" ]
# Taller than 9:16 (a 9:20 screen recording): blurred bars left and right.
ff -f lavfi -i "testsrc2=s=144x320:r=25:d=1.2" -c:v mpeg4 tall.mp4
"$TOKPREP" fit "${FAST[@]}" -o out_tall tall.mp4 >/dev/null || fail "fit tall blur"
check_conformant out_tall/tall.mp4 25/1
left_luma() { ff -i "$1" -vf "crop=10:320:0:0,signalstats,metadata=print:key=lavfi.signalstats.YAVG:file=-" -frames:v 1 -f null - | awk -F= '!d && /YAVG/{print int($2); d=1}'; }
check "tall blur: left bar not black" [ "$(left_luma out_tall/tall.mp4)" -gt 25 ]

# Rotated (90° clockwise display), mpeg4 so it must be transcoded: the red block at the coded
# top-left is displayed top-right. FFmpeg 5.1's CLI cannot tag a rotation, so the tkhd matrix
# is patched (ffprobe then reports rotation=-90, as for a phone's portrait clip).
ff -f lavfi -i "color=c=blue:s=320x180:r=25:d=2,drawbox=x=0:y=0:w=80:h=80:color=red:t=fill" \
   -c:v mpeg4 -q:v 2 rot0.mp4
cp rot0.mp4 rot.mp4
python3 - rot.mp4 <<'PY'
import struct, sys
data = bytearray(open(sys.argv[1], 'rb').read())
start = data.find(b'tkhd') - 4
assert data[start + 8] == 0
struct.pack_into('>9I', data, start + 48, 0, 0x10000, 0, 0xFFFF0000, 0, 0, 0, 0, 0x40000000)
open(sys.argv[1], 'wb').write(data)
PY
check "fixture rotation -90" [ "$(ffprobe -v error -show_entries stream_side_data=rotation -of default=nw=1:nk=1 rot.mp4)" = -90 ]
"$TOKPREP" fit "${FAST[@]}" -o out_rot rot.mp4 >/dev/null || fail "fit rotated"
check_conformant out_rot/rot.mp4 25/1
rgb_at() { ff -i "$1" -vf "crop=4:4:$2:$3,scale=1:1,format=rgb24" -frames:v 1 -f rawvideo - | od -An -tu1 | tr -s ' ' | sed 's/^ //'; }
read -r r g b <<<"$(rgb_at out_rot/rot.mp4 170 6)"
check "rotated: top-right is red ($r $g $b)" [ "$r" -gt 150 -a "$b" -lt 100 ]
read -r r g b <<<"$(rgb_at out_rot/rot.mp4 6 6)"
check "rotated: top-left is blue ($r $g $b)" [ "$b" -gt 150 -a "$r" -lt 100 ]

# The other way round (FFmpeg's rotate=90 tag on a stream copy: 90° counter-clockwise): the red
# block ends up bottom-left.
ff -i rot0.mp4 -c copy -metadata:s:v:0 rotate=90 rot270.mov
"$TOKPREP" fit "${FAST[@]}" -o out_rot rot270.mov >/dev/null || fail "fit rotated 270"
read -r r g b <<<"$(rgb_at out_rot/rot270.mp4 6 310)"
check "rotated 270: bottom-left is red ($r $g $b)" [ "$r" -gt 150 -a "$b" -lt 100 ]
read -r r g b <<<"$(rgb_at out_rot/rot270.mp4 170 310)"
check "rotated 270: bottom-right is blue ($r $g $b)" [ "$b" -gt 150 -a "$r" -lt 100 ]

# Anamorphic: 240x320 coded with SAR 3:4 displays as 180x320 (9:16): fills the frame, no bars.
ff -f lavfi -i "testsrc2=s=240x320:r=25:d=2" -vf setsar=3/4 -c:v mpeg4 ana.mp4
"$TOKPREP" fit "${FAST[@]}" --set fix.fill=pad -o out_ana ana.mp4 >/dev/null || fail "fit anamorphic"
check_conformant out_ana/ana.mp4 25/1
check "anamorphic: no pad bars" [ "$(top_luma out_ana/ana.mp4)" -gt 25 ]

# Split: 3 s with parts of at most 1.6 s → 2 parts adding up to 3 s, each opening on a keyframe.
"$TOKPREP" fit "${FAST[@]}" --set "rules.duration=[1,1.6]" -o out_split land.mov >/dev/null || fail "fit split"
total=0
for p in 1 2; do
    f=out_split/land_part$p.mp4
    check "part $p exists" [ -f "$f" ]
    [ -f "$f" ] || continue
    check_conformant "$f" 25/1
    d=$(fmt_dur "$f"); total=$(python3 -c "print($total + $d)")
    check "part $p ≤ 1.6 s ($d)" feq "$d" 1.3 0.31
    k=$(ffprobe -v error -select_streams v:0 -show_entries packet=flags -of csv=p=0 "$f" | sed -n 1p)
    check "part $p starts on a keyframe ($k)" [ "${k:0:1}" = K ]
done
check "parts add up to 3 s ($total)" feq "$total" 3.0 0.05
check "no third part" [ ! -e out_split/land_part3.mp4 ]

# Trim: keep the first 2 s.
"$TOKPREP" fit "${FAST[@]}" --set "rules.duration=[1,2]" --set fix.too_long=trim -o out_trim land.mov >/dev/null || fail "fit trim"
check "trim to 2 s" feq "$(fmt_dur out_trim/land.mp4)" 2.0 0.06
# Extend: 3 s → at least 4 s, last frame held, silence added.
"$TOKPREP" fit "${FAST[@]}" --set "rules.duration=[4,600]" --set fix.too_short=extend -o out_ext land.mov >/dev/null || fail "fit extend"
d=$(fmt_dur out_ext/land.mp4)
check "extend to ≥ 4 s ($d)" python3 -c "import sys; sys.exit(0 if 4.0 <= $d <= 4.2 else 1)"
check "extended video ≥ 4 s" python3 -c "import sys; sys.exit(0 if $(probe out_ext/land.mp4 v:0 duration) >= 4.0 else 1)"
# too_short reject: exit 1, nothing written.
rc=0; "$TOKPREP" fit "${FAST[@]}" --set "rules.duration=[4,600]" -o out_rej land.mov >/dev/null || rc=$?
check "too short rejected with exit 1 ($rc)" [ $rc = 1 ]
check "nothing written on reject" [ -z "$(ls -A out_rej 2>/dev/null)" ]

# Remux: conformant streams in Matroska → same packets in MP4, moov first.
ff -f lavfi -i "testsrc2=s=180x320:r=25:d=2" -f lavfi -i "sine=d=2" -c:v libx264 -preset ultrafast \
   -c:a aac -shortest remux.mkv
out=$("$TOKPREP" fit "${FAST[@]}" --json -o out_remux remux.mkv) || fail "fit remux"
check "remux action in JSON" python3 -c "import json,sys; d=json.loads(sys.argv[1]); f=d['files'][0]; sys.exit(0 if f['action']=='remux' and f['verdict']=='fix' and f['outputs']==['out_remux/remux.mp4'] and d['summary']['written']==1 else 1)" "$out"
pk() { ffprobe -v error -select_streams "$2" -show_entries packet=size,flags -show_data_hash md5 -show_entries packet=data_hash -of csv=p=0 "$1"; }
for s in v:0 a:0; do
    check "remux $s packets identical" [ "$(pk remux.mkv $s | md5sum)" = "$(pk out_remux/remux.mp4 $s | md5sum)" ]
    check "remux $s packet count" [ "$(pk remux.mkv $s | wc -l)" = "$(pk out_remux/remux.mp4 $s | wc -l)" ]
done
check "remux moov first" [ "$(first_atom out_remux/remux.mp4)" = moov ]

# Pass: already conformant → byte-identical (hard link on the same file system).
ff -i remux.mkv -c copy -movflags +faststart pass.mp4
"$TOKPREP" fit "${FAST[@]}" -o out_pass pass.mp4 >/dev/null || fail "fit pass"
check "pass: byte-identical" cmp -s pass.mp4 out_pass/pass.mp4
check "pass: hard link" [ "$(stat -c %i pass.mp4)" = "$(stat -c %i out_pass/pass.mp4)" ]
rc=0; "$TOKPREP" fit "${FAST[@]}" -o out_pass pass.mp4 >/dev/null || rc=$?
check "pass again into the same folder (exit $rc)" [ $rc = 0 ]
check "pass again: no temp left" no_temp_files out_pass

# Same folder, same name: refused, input untouched, no temp file left.
mkdir same && cp pass.mp4 same/ && sum=$(sha256sum same/pass.mp4)
rc=0; "$TOKPREP" fit "${FAST[@]}" -o same same/pass.mp4 >out.txt 2>&1 || rc=$?
check "same folder refused (exit $rc)" [ $rc = 2 ]
check "same folder: clear message" grep -q "is the input itself" out.txt
check "same folder: input unchanged" [ "$(sha256sum same/pass.mp4)" = "$sum" ]
check "same folder: no temp" no_temp_files same
# Another input of the same stem in that folder (a.mov → a.mp4 exists) is never replaced.
cp land.mov same/a.mov && cp pass.mp4 same/a.mp4 && sum=$(sha256sum same/a.mp4)
rc=0; "$TOKPREP" fit "${FAST[@]}" -o same same/a.mov >out.txt 2>&1 || rc=$?
check "existing a.mp4 next to a.mov: refused (exit $rc)" [ $rc = 2 ]
check "existing a.mp4: unchanged" [ "$(sha256sum same/a.mp4)" = "$sum" ]
check "existing a.mp4: message" grep -q "already exists in the input's folder" out.txt

# Read-only output folder: a clear error, exit 2, no file at all (run unprivileged: root ignores
# permissions).
mkdir ro && chmod 555 ro && chmod 755 "$W" && chmod 644 land.mov
as_user=(); bin=$TOKPREP
if [ "$(id -u)" = 0 ]; then
    as_user=(setpriv --reuid=65534 --regid=65534 --clear-groups)
    tp_other_user_binary 65534 && bin=$TOKPREP_OTHER || bin=
fi
if [ -n "$bin" ]; then
    rc=0; "${as_user[@]}" "$bin" fit "${FAST[@]}" -o ro land.mov >out.txt 2>&1 || rc=$?
    check "read-only folder: exit 2 ($rc)" [ $rc = 2 ]
    check "read-only folder: message" grep -q "not writable" out.txt
    check "read-only folder: empty" [ -z "$(ls -A ro)" ]
else
    skip "read-only folder (root, and nobody cannot run tokprep here)"
fi

# A missing file: exit 2, the others still fitted.
rc=0; "$TOKPREP" fit "${FAST[@]}" -o out_missing missing.mp4 pass.mp4 >miss.txt 2>&1 || rc=$?
check "missing file: exit 2 ($rc)" [ $rc = 2 ]
check "missing file: named" grep -q "missing.mp4: error" miss.txt
check "missing file: the other written" [ -f out_missing/pass.mp4 ]

# Folders without media (empty, or only notes): each named, exit 2, no OUTDIR made.
mkdir -p novideo/empty novideo/notes && echo "not a video" >novideo/notes/readme.txt
rc=0; "$TOKPREP" fit "${FAST[@]}" -o out_none novideo/empty novideo/notes >none.txt 2>&1 || rc=$?
check "no media in the folders: exit 2 ($rc)" [ $rc = 2 ]
check "no media: first folder named" grep -qx "tokprep fit: no media files found in novideo/empty" none.txt
check "no media: second folder named" grep -qx "tokprep fit: no media files found in novideo/notes" none.txt
check "no media: no OUTDIR made" [ ! -e out_none ]

# -o naming a regular file: said once, as such (not "the output folder does not exist").
echo "not a folder" >out_is_file
rc=0; "$TOKPREP" fit "${FAST[@]}" -o out_is_file land.mov pass.mp4 >ofile.txt 2>&1 || rc=$?
check "-o FILE: exit 2 ($rc)" [ $rc = 2 ]
check "-o FILE: says it is a file" grep -qx "tokprep fit: out_is_file: is a file, not a folder (-o names the folder where outputs go)" ofile.txt
check "-o FILE: said once" [ "$(grep -c "out_is_file" ofile.txt)" = 1 ]
check "-o FILE: no 'does not exist'" bash -c '! grep -q "does not exist" ofile.txt'
check "-o FILE: the file untouched" [ "$(cat out_is_file)" = "not a folder" ]

# Two inputs with one stem in different folders: the second is refused, the first written.
mkdir -p d1 d2 && cp pass.mp4 d1/clip.mp4 && cp remux.mkv d2/clip.mkv
rc=0; "$TOKPREP" fit "${FAST[@]}" -o out_stem d1 d2 >stem.txt 2>&1 || rc=$?
check "same stem: exit 2 ($rc)" [ $rc = 2 ]
check "same stem: message" grep -q "same name as d1/clip.mp4" stem.txt
check "same stem: first written" cmp -s d1/clip.mp4 out_stem/clip.mp4

# The library call (docs/examples/fit_file.c): same output as the CLI, and a reject as exit 1.
example=${TP_BUILD_DIR:-}/example_fit_file
if [ -n "${TP_BUILD_DIR:-}" ] && [ -x "$example" ]; then
    mkdir out_lib
    rc=0; "$example" out_lib land.mov --set fix.width=180 --set fix.height=320 \
        --set fix.video.preset=ultrafast --set rules.min_side=180 --set "rules.duration=[1,600]" >lib.txt 2>&1 || rc=$?
    check "example_fit_file: exit 0 ($rc)" [ $rc = 0 ]
    check_conformant out_lib/land.mp4 25/1
    rc=0; "$example" out_lib land.mov --set "rules.duration=[4,600]" >lib.txt 2>&1 || rc=$?
    check "example_fit_file: reject is exit 1 ($rc)" [ $rc = 1 ]
else
    skip "example_fit_file not built (TP_BUILD_DIR unset)"
fi

# --dry-run writes nothing and shows the plan.
"$TOKPREP" fit "${FAST[@]}" --dry-run -o out_dry land.mov >dry.txt
check "dry-run shows the filter" grep -q "filter: .*fps=fps=25/1" dry.txt
check "dry-run writes nothing" [ ! -e out_dry ]
finish
