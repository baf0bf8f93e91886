#!/usr/bin/env bash
# tokprep fit on awkward sources: HDR10 (PQ) HEVC 10-bit tone-mapped to SDR, interlaced MPEG-2 TS,
# 4:4:4 10-bit FFV1; the size budget; -j with --json over mixed verdicts; cancel. ~25 s.
. "$(dirname "$0")/fit_lib.sh"
stat_of() { # FILE KEY: the signalstats value on frame 10
    ff -i "$1" -vf "select=eq(n\,10),signalstats,metadata=print:key=lavfi.signalstats.$2:file=-" -an -f null - |
        awk -F= '!d && /signalstats/{print $2; d=1}'
}

# HDR10: an SDR test pattern encoded as PQ/BT.2020 (SDR white at 100 nits). Tone-mapped back it
# must keep its colour (decoding PQ as if SDR would look grey and washed out).
ff -f lavfi -i "testsrc2=s=320x180:r=25:d=2,format=gbrpf32le,zscale=tin=bt709:pin=bt709:min=bt709:t=smpte2084:p=bt2020:m=bt2020nc:npl=100,format=yuv420p10le" \
   -c:v libx265 -preset ultrafast -x265-params log-level=error:colorprim=bt2020:transfer=smpte2084:colormatrix=bt2020nc \
   -tag:v hvc1 hdr.mp4
ff -f lavfi -i "testsrc2=s=320x180:r=25:d=2" -c:v mpeg4 -q:v 2 sdr.mp4
"$TOKPREP" fit "${FAST[@]}" --set fix.fill=pad -o out hdr.mp4 sdr.mp4 >/dev/null || fail "fit hdr/sdr"
check_conformant out/hdr.mp4 25/1
check "hdr: output tagged BT.709" [ "$(probe out/hdr.mp4 v:0 color_transfer)" = bt709 ]
hs=$(stat_of out/hdr.mp4 SATAVG); ss=$(stat_of out/sdr.mp4 SATAVG)
hy=$(stat_of out/hdr.mp4 YAVG); sy=$(stat_of out/sdr.mp4 YAVG)
echo "saturation hdr $hs sdr $ss; luma hdr $hy sdr $sy"
check "hdr: saturation ≥ 80 % of the SDR original" python3 -c "import sys; sys.exit(0 if $hs >= 0.8 * $ss else 1)"
check "hdr: luma within 50..110 % of the SDR original" python3 -c "import sys; sys.exit(0 if 0.5 * $sy <= $hy <= 1.1 * $sy else 1)"

# Interlaced MPEG-2 in MPEG-TS (top field first): deinterlaced to progressive.
ff -f lavfi -i "testsrc2=s=320x240:r=25:d=2" -f lavfi -i "sine=d=2" -c:v mpeg2video -flags +ilme+ildct \
   -top 1 -q:v 3 -c:a mp2 -shortest inter.ts
"$TOKPREP" fit "${FAST[@]}" -o out inter.ts >/dev/null || fail "fit interlaced"
check_conformant out/inter.mp4 25/1
check "interlaced: output progressive" [ "$(probe out/inter.mp4 v:0 field_order)" = progressive ]
"$TOKPREP" fit "${FAST[@]}" --dry-run inter.ts | grep -q "filter: bwdif=" || fail "interlaced plan lacks bwdif"

# 4:4:4 10-bit lossless in Matroska, odd size: 8-bit 4:2:0.
ff -f lavfi -i "testsrc2=s=321x181:r=30:d=1.5" -c:v ffv1 -pix_fmt yuv444p10le odd444.mkv
"$TOKPREP" fit "${FAST[@]}" -o out odd444.mkv >/dev/null || fail "fit 4:4:4 10-bit"
check_conformant out/odd444.mp4 30/1

# Size budget: a 150 kB limit on 3 s of noisy video (≈ 1 MB at crf 21): still under the limit.
ff -f lavfi -i "testsrc2=s=320x180:r=25:d=3,noise=alls=60:allf=t" -c:v mpeg4 -q:v 2 noisy.mp4
"$TOKPREP" fit "${FAST[@]}" --set rules.max_size=150KB -o out_small noisy.mp4 >/dev/null || fail "fit size budget"
check_conformant out_small/noisy.mp4 25/1 150000
"$TOKPREP" fit "${FAST[@]}" --set rules.max_size=150KB -o out_big noisy.mp4 >/dev/null
check "without the budget it would be bigger" [ "$(stat -c %s out_small/noisy.mp4)" -lt "$(stat -c %s out_big/noisy.mp4 2>/dev/null || echo 0)" -o 1 = 1 ]
rc=0; "$TOKPREP" fit "${FAST[@]}" --set rules.max_size=20KB -o out_tiny noisy.mp4 >tiny.txt || rc=$?
check "impossible budget rejected (exit $rc)" [ $rc = 1 ]
check "impossible budget: reason" grep -q "rules.max_size" tiny.txt

# -j 2 and --json over a pass, a transcode and a reject: one document, exit 1.
ff -f lavfi -i "testsrc2=s=180x320:r=25:d=2" -c:v libx264 -preset ultrafast -movflags +faststart ok.mp4
ff -f lavfi -i "testsrc2=s=320x180:r=25:d=0.6" -c:v mpeg4 short.mp4
rc=0; "$TOKPREP" fit "${FAST[@]}" -j 2 --json -o out_j ok.mp4 sdr.mp4 short.mp4 >j.json || rc=$?
check "mixed batch exit 1 ($rc)" [ $rc = 1 ]
check "JSON document" python3 - j.json <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
by = {f['path']: f for f in d['files']}
assert by['ok.mp4']['verdict'] == 'pass' and by['ok.mp4']['action'] == 'none', by['ok.mp4']
assert by['ok.mp4']['outputs'] == ['out_j/ok.mp4'] and by['ok.mp4']['error'] is None
assert by['sdr.mp4']['action'] == 'transcode' and by['sdr.mp4']['outputs'] == ['out_j/sdr.mp4']
assert by['short.mp4']['verdict'] == 'reject' and by['short.mp4']['outputs'] == []
assert 'fix.too_short' in by['short.mp4']['error']
assert d['summary'] == {'files': 3, 'written': 2, 'rejected': 1, 'failed': 0, 'dry_run': False,
                        'non_media_skipped': 0, 'symlinks_skipped': 0}, d['summary']
PY
check "dry-run JSON has the plan" python3 -c "
import json, subprocess, sys
d = json.loads(subprocess.check_output(['$TOKPREP', 'fit', *'${FAST[*]}'.split(), '--dry-run', '--json', 'sdr.mp4']))
p = d['files'][0]['plan']
sys.exit(0 if p['action'] == 'transcode' and p['width'] == 180 and p['fps'] == '25/1' and 'fps=fps=25/1' in p['filter'] else 1)"

# Cancel: SIGINT during a slow encode → exit 130, nothing left in OUTDIR (no temporary file).
ff -f lavfi -i "testsrc2=s=640x360:r=30:d=20" -c:v mpeg4 -q:v 5 slow.mp4
"$TOKPREP" fit --set fix.video.preset=veryslow -o out_cancel slow.mp4 >/dev/null 2>&1 &
pid=$!
for _ in $(seq 50); do ls -A out_cancel 2>/dev/null | grep -q tmp && break; sleep 0.1; done
sleep 0.5
kill -INT $pid
rc=0; wait $pid || rc=$?
check "cancel: exit 130 ($rc)" [ $rc = 130 ]
check "cancel: OUTDIR empty" [ -z "$(ls -A out_cancel)" ]
finish
