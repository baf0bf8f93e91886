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
passes=0
skips=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
ok() { passes=$((passes + 1)); echo "ok: $*"; }
# skip WHY: a case that cannot run here. A file whose every case skipped exits 77 (ctest's
# SKIP_RETURN_CODE), so it shows as skipped, never as passed.
skip() { skips=$((skips + 1)); echo "skip: $*"; }
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
# Conformance of one transcoded output: codec, profile, format, size, SAR, rotation, fps, streams,
# audio, moov first, size, no location, a clean decode. One ffprobe and one decode per file (a
# process per property would dominate the test's time on a loaded machine).
check_conformant() { # FILE FPS [MAXSIZE]
    local f=$1 fps=$2 max=${3:-1000000000} line
    ffprobe -v error -show_streams -show_format -of json "$f" >probe.json 2>&1 || true
    while IFS= read -r line; do
        case $line in
            ok:*) ok "$f ${line#ok: }" ;;
            *) fail "$f ${line#FAIL: }" ;;
        esac
    done < <(python3 - "$f" "$fps" "$max" probe.json <<'PY'
import json, os, struct, sys
f, fps, mx, pj = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
def check(desc, cond):
    print(('ok: ' if cond else 'FAIL: ') + desc)
try:
    d = json.load(open(pj))
except Exception as e:
    check('ffprobe output (%s)' % e, False); sys.exit(0)
vs = [s for s in d.get('streams', []) if s['codec_type'] == 'video']
aus = [s for s in d.get('streams', []) if s['codec_type'] == 'audio']
check('one video stream', len(vs) == 1)
check('at most 2 streams', len(d.get('streams', [])) <= 2)
v = vs[0] if vs else {}
check('h264 (%s)' % v.get('codec_name'), v.get('codec_name') == 'h264')
check('High (%s)' % v.get('profile'), v.get('profile') == 'High')
check('yuv420p (%s)' % v.get('pix_fmt'), v.get('pix_fmt') == 'yuv420p')
check('180x320 (%sx%s)' % (v.get('width'), v.get('height')), (v.get('width'), v.get('height')) == (180, 320))
check('SAR 1:1 (%s)' % v.get('sample_aspect_ratio'), v.get('sample_aspect_ratio') in ('1:1', None))
rot = [sd for sd in v.get('side_data_list', []) if 'rotation' in sd]
check('no rotation', not rot and 'rotate' not in v.get('tags', {}))
check('fps %s (%s)' % (fps, v.get('r_frame_rate')), v.get('r_frame_rate') == fps and v.get('avg_frame_rate') == fps)
if aus:
    a = aus[0]
    check('aac LC', (a.get('codec_name'), a.get('profile')) == ('aac', 'LC'))
    check('48 kHz stereo', (a.get('sample_rate'), a.get('channels')) == ('48000', 2))
check('no location', 'location' not in d.get('format', {}).get('tags', {}))
size = os.path.getsize(f)
check('size %d < %d' % (size, mx), size < mx)
first = None
with open(f, 'rb') as fh:
    while True:
        h = fh.read(8)
        if len(h) < 8: break
        n, kind = struct.unpack('>I4s', h)
        if kind in (b'moov', b'mdat'): first = kind.decode(); break
        if n == 1: n = struct.unpack('>Q', fh.read(8))[0]; fh.seek(n - 16, 1)
        else: fh.seek(n - 8, 1)
check('moov first (%s)' % first, first == 'moov')
PY
)
    check "$f decodes cleanly" [ -z "$(ffmpeg -nostdin -v error -i "$f" -f null - 2>&1)" ]
}
no_temp_files() { [ -z "$(ls -A "$1" 2>/dev/null | grep -F .tmp- || true)" ]; }
finish() {
    if [ "$fails" -gt 0 ]; then echo "$fails check(s) failed" >&2; exit 1; fi
    echo "$passes passed, $skips skipped"
    [ "$passes" -gt 0 ] || [ "$skips" -eq 0 ] || exit 77
}
