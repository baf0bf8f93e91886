#!/usr/bin/env bash
# tokprep fit keeps audio and video in sync within one frame: a white flash and a beep at the
# same instant, in a CFR MPEG-TS with a non-zero start time, in a VFR Matroska file and in an MP4
# whose edit list starts mid-GOP (a stream-copy cut). ~20 s.
. "$(dirname "$0")/fit_lib.sh"

flash_time() { # first frame whose mean luma says "white"
    ff -i "$1" -an -vf "signalstats,metadata=print:key=lavfi.signalstats.YAVG:file=-" -f null - |
        awk '/^frame:/{for(i=1;i<=NF;i++) if($i ~ /^pts_time:/){split($i,a,":"); t=a[2]}}
             /YAVG/{split($0,b,"="); if (!d && b[2] > 60) {print t; d=1}}'
}
beep_time() { # end of the first silence = start of the beep
    ffmpeg -nostdin -hide_banner -i "$1" -vn -af silencedetect=n=-30dB:d=0.2 -f null - 2>&1 |
        awk '/silence_end/{for(i=1;i<=NF;i++) if(!d && $i=="silence_end:") {print $(i+1); d=1}}'
}
# Flash and beep at t=1.5 s of the video's own clock.
VID="color=c=black:s=320x180:r=25:d=3,drawbox=enable='between(t,1.5,1.539)':color=white:t=fill"
AUD="sine=f=1000:d=3:sample_rate=44100,volume=enable='not(between(t,1.5,1.7))':volume=0"

# CFR in MPEG-TS: starts at 1.4 s (muxer offset), 44.1 kHz audio resampled to 48 kHz.
ff -f lavfi -i "$VID" -f lavfi -i "$AUD" -c:v mpeg2video -q:v 3 -c:a mp2 -shortest cfr.ts
# VFR in Matroska: frame times jitter by up to 26 ms; the flash is drawn on the jittered clock.
ff -f lavfi -i "color=c=black:s=320x180:r=25:d=3,setpts='(N/25+0.013*mod(N,3))/TB',drawbox=enable='gte(t,1.5)*lt(t,1.539)':color=white:t=fill" \
   -f lavfi -i "$AUD" -c:v libx264 -preset ultrafast -vsync vfr -c:a aac -shortest vfr.mkv

# Edit list: x264 with B-frames and AAC (both shifted by edit lists), then cut with stream copy
# at 0.52 s, between keyframes: the MP4 muxer writes an edit list that hides the pre-roll.
ff -f lavfi -i "$VID" -f lavfi -i "$AUD" -c:v libx264 -preset veryfast -g 25 -c:a aac -shortest whole.mp4
ff -ss 0.52 -i whole.mp4 -c copy edl.mp4
check "fixture has an edit list" python3 - edl.mp4 <<'PY'
import sys
sys.exit(0 if b'elst' in open(sys.argv[1], 'rb').read() else 1)
PY

for src in cfr.ts vfr.mkv edl.mp4; do
    sf=$(flash_time "$src"); sb=$(beep_time "$src")
    stem=${src%.*}
    rc=0; "$TOKPREP" fit "${FAST[@]}" --set fix.fill=pad -o out "$src" >/dev/null || rc=$?
    check "$src: fit exit 0" [ $rc = 0 ]
    f=out/$stem.mp4
    [ -f "$f" ] || continue
    check_conformant "$f" 25/1
    of=$(flash_time "$f"); ob=$(beep_time "$f")
    echo "$src: source flash $sf beep $sb; output flash $of beep $ob"
    check "$src: flash found" [ -n "$of" ]
    check "$src: beep found" [ -n "$ob" ]
    # Sync: the offset between flash and beep changes by less than one frame (40 ms).
    check "$src: A/V offset kept within a frame" python3 -c "import sys; sys.exit(0 if abs(($of - $ob) - ($sf - $sb)) < 0.04 else 1)"
    check "$src: flash where the source had it, within a frame" feq "$of" "$sf" 0.041
    check "$src: duration kept" feq "$(fmt_dur "$f")" "$(fmt_dur "$src")" 0.1
done
finish
