# Shared helpers for the fit integration tests (sourced, not a test itself).
# (Pipelines never end early: with pipefail a reader that quits would SIGPIPE the writer.)
set -euo pipefail
: "${TOKPREP:?TOKPREP must point at the built tokprep}"
W=$(mktemp -d)
trap 'chmod -R u+w "$W" 2>/dev/null; rm -rf "$W"' EXIT
cd "$W"
# Small output size and the fastest preset keep encodes short; the rules are relaxed to match.
FAST=(--set fix.width=180 --set fix.height=320 --set fix.video.preset=ultrafast
      --set rules.min_side=180 --set "rules.duration=[1,600]")
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
ok() { echo "ok: $*"; }
check() { # check DESCRIPTION CONDITION...
    local d=$1; shift
    if "$@"; then ok "$d"; else fail "$d"; fi
}
ff() { ffmpeg -nostdin -hide_banner -v error -y "$@"; }
probe() { # probe FILE STREAM ENTRY → value
    ffprobe -v error -select_streams "$2" -show_entries "stream=$3" -of default=nw=1:nk=1 "$1" | sed -n 1p
}
fmt_dur() { ffprobe -v error -show_entries format=duration -of default=nw=1:nk=1 "$1"; }
# First top-level atom of moov/mdat: "moov" means faststart.
first_atom() {
    python3 - "$1" <<'PY'
import struct, sys
f = open(sys.argv[1], 'rb')
while True:
    h = f.read(8)
    if len(h) < 8: print('none'); break
    size, kind = struct.unpack('>I4s', h)
    kind = kind.decode('latin1')
    if kind in ('moov', 'mdat'): print(kind); break
    if size == 1: size = struct.unpack('>Q', f.read(8))[0]; f.seek(size - 16, 1)
    else: f.seek(size - 8, 1)
PY
}
feq() { python3 -c "import sys; sys.exit(0 if abs(float(sys.argv[1])-float(sys.argv[2])) <= float(sys.argv[3]) else 1)" "$@"; }
# Conformance of one transcoded output: codec, profile, format, size, SAR, rotation, fps, moov,
# a clean decode.
check_conformant() { # FILE FPS [MAXSIZE]
    local f=$1 fps=$2 max=${3:-1000000000}
    check "$f h264" [ "$(probe "$f" v:0 codec_name)" = h264 ]
    check "$f High" [ "$(probe "$f" v:0 profile)" = High ]
    check "$f yuv420p" [ "$(probe "$f" v:0 pix_fmt)" = yuv420p ]
    check "$f 180x320" [ "$(probe "$f" v:0 width)x$(probe "$f" v:0 height)" = 180x320 ]
    local sar; sar=$(probe "$f" v:0 sample_aspect_ratio)
    check "$f SAR 1:1 ($sar)" [ "$sar" = "1:1" ] 
    check "$f no rotation" [ -z "$(ffprobe -v error -select_streams v:0 -show_entries stream_side_data=rotation -of default=nw=1:nk=1 "$f")" ]
    check "$f fps $fps" [ "$(probe "$f" v:0 r_frame_rate)" = "$fps" ]
    local nstreams; nstreams=$(ffprobe -v error -show_entries stream=index -of csv=p=0 "$f" | wc -l)
    check "$f at most 2 streams" [ "$nstreams" -le 2 ]
    if [ -n "$(probe "$f" a:0 codec_name)" ]; then
        check "$f aac LC" [ "$(probe "$f" a:0 codec_name)/$(probe "$f" a:0 profile)" = aac/LC ]
        check "$f 48 kHz stereo" [ "$(probe "$f" a:0 sample_rate)/$(probe "$f" a:0 channels)" = 48000/2 ]
    fi
    check "$f moov first" [ "$(first_atom "$f")" = moov ]
    check "$f size < max" [ "$(stat -c %s "$f")" -lt "$max" ]
    check "$f decodes cleanly" [ -z "$(ffmpeg -nostdin -v error -i "$f" -f null - 2>&1)" ]
    check "$f no location" [ -z "$(ffprobe -v error -show_entries format_tags=location -of default=nw=1:nk=1 "$f")" ]
}
no_temp_files() { [ -z "$(ls -A "$1" 2>/dev/null | grep -F .tmp- || true)" ]; }
finish() {
    if [ "$fails" -gt 0 ]; then echo "$fails check(s) failed" >&2; exit 1; fi
    echo "all passed"
}
