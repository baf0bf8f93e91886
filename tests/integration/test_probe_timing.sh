#!/usr/bin/env bash
# Duration is measured, not guessed; a constant frame rate stays exactly what it is. Raw MPEG
# video (no duration in any header), an MPEG-PS at 30000/1001 with B-frames and a Matroska file
# at 24000/1001 (1 ms ticks) through check --json and fit. ~10 s.
. "$(dirname "$0")/fit_lib.sh"

media() { # FILE → "duration source fps_rational vfr codes..." from check --json
    "$TOKPREP" check --json "${FAST[@]}" "$@" | python3 -c '
import json, sys
f = json.load(sys.stdin)["files"][0]
m = f["media"] or {}
v = m.get("video") or {}
print(m.get("duration"), m.get("duration_source"), v.get("fps_rational"), v.get("vfr"),
      " ".join(x["code"] for x in f["violations"]))'
}

# Raw MPEG-2 and MPEG-1 elementary streams, 20 s: libavformat has no duration for them (or one
# guessed from a bit rate), their packets last 20 s.
ff -f lavfi -i "testsrc2=s=320x240:r=30000/1001:d=20" -c:v mpeg2video -bf 2 -g 15 -f mpeg2video \
   raw.m2v
ff -f lavfi -i "testsrc2=s=320x240:r=25:d=20" -c:v mpeg1video -b:v 200k -f mpeg1video raw.mpg
for f in raw.m2v raw.mpg; do
    read -r dur src fps vfr codes < <(media "$f")
    check "$f duration measured from packets (got $dur from $src)" feq "$dur" 20 0.1
    check "$f duration_source packets" [ "$src" = packets ]
    case " $codes " in
        *duration_too_short* | *duration_unknown*) fail "$f: $codes" ;;
        *) ok "$f no duration verdict" ;;
    esac
done
# Following check's own advice for short files must not cut a long one: extend keeps 20 s.
for f in raw.m2v raw.mpg; do
    "$TOKPREP" fit "${FAST[@]}" --set "rules.duration=[3,600]" --set fix.too_short=extend \
        -o "out_$f" "$f" >/dev/null || fail "fit $f"
    d=$(fmt_dur "out_$f/raw.mp4" || true)
    check "fit $f with extend keeps the 20 s (got $d)" feq "${d:-0}" 20 0.1
done

# An MP4 keeps its header's duration (no packet scan).
ff -f lavfi -i "testsrc2=s=320x240:r=25:d=3" -c:v libx264 -preset ultrafast short.mp4
read -r dur src _ < <(media short.mp4)
check "mp4 duration from the header ($src $dur)" [ "$src" = header ]

# Constant NTSC rates with B-frames in decode order: not VFR, kept exactly by fit (landscape
# 320x240 needs a transcode anyway).
ff -f lavfi -i "testsrc2=s=320x240:r=30000/1001:d=4" -f lavfi -i "sine=d=4" -c:v mpeg2video -bf 2 \
   -g 15 -c:a mp2 -f vob ps.mpg
ff -f lavfi -i "testsrc2=s=320x240:r=24000/1001:d=4" -c:v libx264 -bf 3 mkv24.mkv
ff -f lavfi -i "testsrc2=s=320x240:r=60000/1001:d=2" -c:v libx264 -bf 3 mkv60.mkv
for f in ps.mpg:30000/1001 mkv24.mkv:24000/1001 mkv60.mkv:60000/1001; do
    name=${f%%:*} want=${f#*:}
    read -r dur src fps vfr codes < <(media "$name")
    check "$name fps $fps = $want" [ "$fps" = "$want" ]
    check "$name not vfr ($codes)" [ "$vfr" = False ]
    "$TOKPREP" fit "${FAST[@]}" -o "out_$name" "$name" >/dev/null || fail "fit $name"
    out="out_$name/${name%.*}.mp4"
    r=$(probe "$out" v:0 r_frame_rate)
    check "fit $name keeps r_frame_rate $want (got $r)" [ "$r" = "$want" ]
    check "fit $name keeps the duration" feq "$(fmt_dur "$out")" "$dur" 0.1
done

# A truly variable source is still found (30 fps, then 15 fps).
ff -f lavfi -i "testsrc2=s=320x240:r=30:d=1" -f lavfi -i "testsrc2=s=320x240:r=15:d=3" \
   -filter_complex "[0:v][1:v]concat=n=2:v=1[v]" -map "[v]" -c:v libx264 -preset ultrafast \
   -fps_mode vfr vfr.mkv
read -r _ _ _ vfr codes < <(media vfr.mkv)
check "30 → 15 fps is vfr ($codes)" [ "$vfr" = True ]

finish
