#!/usr/bin/env bash
# Pipeline speed: `tokprep run` (directory sink) over a mixed folder of 40 files against the
# script a user writes today: per file `ffprobe`, then `cp` (pass), `ffmpeg -c copy -movflags
# +faststart` (remux) or `ffmpeg` with tokprep's own filter graph and encoder settings
# (transcode), run one file at a time and two at a time (`xargs -P 2`), in the same run.
# Prints a Markdown table, the ratios, and where tokprep's time went (from its --json events).
# Usage: bench/run_bench.sh [TOKPREP] [REPEATS]   (default build/tokprep, 1 round; median taken)
# RUN_BENCH_KEEP=DIR keeps the timings, tokprep's events and the script's per-file log there.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TOKPREP=$(realpath "${1:-$here/build/tokprep}")
REPS=${2:-1}
[ -x "$TOKPREP" ] || { echo "build first: $TOKPREP missing" >&2; exit 2; }
W=$(mktemp -d)
keep() { [ -z "${RUN_BENCH_KEEP:-}" ] || { mkdir -p "$RUN_BENCH_KEEP" && cp "$W"/*.txt "$W"/*.ndjson "$W"/*.log "$W"/plans.json "$RUN_BENCH_KEEP"/ 2>/dev/null; }; }
trap 'keep; rm -rf "$W"' EXIT
cd "$W"
ff() { ffmpeg -nostdin -hide_banner -v error -y "$@"; }

# --- The mix: 8 base clips (ultrafast, so making them is cheap), then 40 files remuxed from
# them with a different comment tag each (distinct contents: the ledger skips duplicates).
mk() { # NAME SIZE SECONDS [extra ffmpeg output options]
    local name=$1 size=$2 d=$3; shift 3
    ff -f lavfi -i "testsrc2=s=$size:r=30:d=$d" -f lavfi -i "sine=f=330:d=$d:sample_rate=48000" \
       -c:v libx264 -preset ultrafast -crf 23 -pix_fmt yuv420p -c:a aac -b:a 128k -shortest \
       "$@" "base/$name.mp4"
}
mkdir -p base src
mk tall 720x1280 4 -movflags +faststart        # 9:16, passes as is
mk tall1080 1080x1920 6 -movflags +faststart   # 9:16 full size, passes
mk talllong 720x1280 60 -movflags +faststart   # long: a minute
mk land720 1280x720 3                           # landscape: transcode (blur fill)
mk land1080 1920x1080 3
mk rot 1280x720 3 -metadata:s:v:0 rotate=90    # displayed 720x1280, but rotated: transcode
mk uhd 3840x2160 3                              # 4K landscape
mk landlong 640x360 10                          # long-ish landscape: a 10 s transcode
n=0
put() { # BASE EXT COUNT [extra options]: COUNT files
    local b=$1 ext=$2 count=$3 i; shift 3
    for i in $(seq "$count"); do
        n=$((n + 1))
        ff -i "base/$b.mp4" -map 0 -c copy -metadata "comment=run bench $n" "$@" \
           "src/$(printf %02d $n)_$b.$ext"
    done
}
# pass (12)
put tall mp4 6 -movflags +faststart
put tall1080 mp4 2 -movflags +faststart
put talllong mp4 2 -movflags +faststart
put tall mov 2 -movflags +faststart
# remux (12): moov after mdat, or Matroska
put tall mp4 6
put tall mkv 4
put talllong mkv 2
# transcode (16)
put land720 mp4 6
put land1080 mp4 2
put rot mp4 4
put uhd mp4 2
put landlong mp4 2
rm -rf base

# --- tokprep's own decisions for each file (not timed): the script uses the same ones.
"$TOKPREP" fit --dry-run --json src >plans.json
mkdir -p plans
python3 - <<'PY'
import collections, json, shlex
plans = json.load(open('plans.json'))['files']
count = collections.Counter()
for f in plans:
    p = f['plan']
    count[p['action']] += 1
    with open('plans/' + f['path'].split('/')[-1] + '.sh', 'w') as out:
        out.write('action=%s\n' % p['action'])
        if p['action'] == 'transcode':
            assert len(p['parts']) == 1, f['path']
            out.write('filter=%s\nmaxrate=%d\nbufsize=%d\n' % (
                shlex.quote(p['filter']), p['video_maxrate'], p['video_bufsize']))
print('mix: %d files: %s' % (len(plans), ', '.join('%s %d' % kv for kv in sorted(count.items()))))
PY
du -sh src | awk '{print "source folder: " $1}'

# --- The user's script, one file: ffprobe (what the decision is made from), then the action.
cat >one.sh <<'SH'
#!/usr/bin/env bash
set -euo pipefail
f=$1 out=$2
name=$(basename "$f")
t0=$(date +%s.%N)
probe=$(ffprobe -v error -show_format -show_streams -of json "$f")
[ -n "$probe" ]
. "plans/$name.sh"   # the decision a user makes from $probe: pass, remux or transcode
case $action in
none) cp "$f" "$out/$name" ;; # passes as is
remux) ffmpeg -nostdin -v error -y -i "$f" -map 0 -c copy -movflags +faststart "$out/${name%.*}.mp4" ;;
transcode)
    ffmpeg -nostdin -v error -y -i "$f" -vf "$filter" -c:v libx264 -preset veryfast -crf 21 \
        -profile:v high -x264-params 8x8dct=1:forced-idr=1 -pix_fmt yuv420p \
        -maxrate "$maxrate" -bufsize "$bufsize" -c:a aac -b:a 128k -ar 48000 -ac 2 \
        -af "aresample=48000:async=1:first_pts=0" -movflags +faststart "$out/${name%.*}.mp4" ;;
esac
echo "$action $t0 $(date +%s.%N)" >>"$out.log" # per-file spans (one short append: atomic)
SH
chmod +x one.sh
script_run() { # PARALLEL
    printf '%s\0' src/* | xargs -0 -P "$1" -I{} ./one.sh {} out
}
tp_run() {
    "$TOKPREP" run --json --set upload.sink=directory --set upload.directory.path="$W/out" \
        -o "$W/work" src >events.ndjson
}

run_timed() { # NAME CMD...: one timed run into a fresh out/, appended to times.txt
    local name=$1 st=0; shift
    rm -rf out work out.log; mkdir out
    cat src/* >/dev/null # page cache warm for every side alike
    { TIMEFORMAT="%R %U %S"; time "$@" 2>err.txt || st=$?; } 2>t.txt
    if [ "$st" != 0 ]; then echo "failed ($st): $name" >&2; tail -5 err.txt >&2; exit 1; fi
    local files; files=$(find out -type f -name '*.mp4' -o -type f -name '*.mov' | wc -l)
    [ "$files" -ge 40 ] || { echo "$name: only $files outputs" >&2; exit 1; }
    read -r wall user sys < <(tail -1 t.txt)
    echo "$name $wall $(python3 -c "print($user + $sys)")" >>times.txt
    [ "$name" != tokprep ] || cp events.ndjson events.last.ndjson
    [ "$name" != script_j1 ] || cp out.log script_j1.last.log
}

echo "machine: $(nproc) cores, $(uname -m); load before: $(cut -d' ' -f1-3 /proc/loadavg)"
# Rounds interleave the three sides, so a change of load on the shared machine hits all alike.
: >times.txt
for _ in $(seq "$REPS"); do
    run_timed tokprep tp_run
    run_timed script_j1 script_run 1
    run_timed script_j2 script_run 2
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"

python3 - "$REPS" <<'PY'
import collections, datetime, json, statistics, sys, glob
rows = collections.defaultdict(list)
for line in open('times.txt'):
    name, wall, cpu = line.split()
    rows[name].append((float(wall), float(cpu)))
med = {k: (statistics.median(w for w, _ in v), statistics.median(c for _, c in v))
       for k, v in rows.items()}
reps = sys.argv[1]
print(f"\n| side (40 files) | wall s (median of {reps}) | CPU s (median) |\n|---|---|---|")
label = {'tokprep': '`tokprep run`, directory sink (default workers)',
         'script_j1': 'script, one file at a time',
         'script_j2': 'script, two at a time (`xargs -P 2`)'}
for k in ('tokprep', 'script_j1', 'script_j2'):
    print(f"| {label[k]} | {med[k][0]:.2f} | {med[k][1]:.2f} |")
faster = min(med['script_j1'][0], med['script_j2'][0])
print("\n| ratio | wall | CPU |\n|---|---|---|")
for k in ('script_j1', 'script_j2'):
    print(f"| {k} / tokprep | {med[k][0] / med['tokprep'][0]:.2f} | "
          f"{med[k][1] / med['tokprep'][1]:.2f} |")
print(f"| **faster script / tokprep (goal >= 2)** | **{faster / med['tokprep'][0]:.2f}** | |")

# Where the time went (last round). tokprep: per file, the span between its events
# (discovered -> probed -> fit_started -> fit_done -> chunked -> uploaded), summed over files
# (stages overlap, so sums exceed the wall time) and split by action. Script (one at a time):
# each file's ffprobe + cp/ffmpeg span, by action.
def ts(e):
    return datetime.datetime.strptime(e['ts'], '%Y-%m-%dT%H:%M:%S.%fZ').timestamp()
ev = [json.loads(l) for l in open('events.last.ndjson')]
t0 = min(ts(e) for e in ev)
per = collections.defaultdict(dict)
for e in ev:
    if 'path' in e:
        per[e['path']].setdefault(e['event'], ts(e) - t0)
        if e['event'] == 'probed':
            per[e['path']]['action'] = e.get('action', '?')
stages = [('probe (scan, fingerprint, probe, check)', 'discovered', 'probed'),
                    ('fit, queued and running (copy / remux / transcode, output checks)', 'fit_started', 'fit_done'),
          ('chunk (SHA-256 of the outputs)', 'fit_done', 'chunked'),
          ('deliver, queued and running (directory sink)', 'chunked', 'uploaded')]
actions = ['none', 'remux', 'transcode']
print('\n| tokprep stage, summed over files (s) | ' + ' | '.join(actions) + ' | all |')
print('|---|' + '---|' * (len(actions) + 1))
for label, a, b in stages:
    sums = [sum(f[b] - f[a] for f in per.values() if f.get('action') == act and a in f and b in f)
            for act in actions]
    print(f'| {label} | ' + ' | '.join(f'{x:.2f}' for x in sums) + f' | {sum(sums):.2f} |')
last = {b: max((f[b] for f in per.values() if b in f), default=0) for _, _, b in stages}
print('\ntokprep, seconds from its first event to the last of each kind: ' +
      ', '.join(f'{k} {v:.2f}' for k, v in last.items()))
spans = collections.defaultdict(float)
for line in open('script_j1.last.log'):
    act, a, b = line.split()
    spans[act] += float(b) - float(a)
print('script, one at a time, per-file spans summed (s): ' +
      ', '.join(f'{k} {spans[k]:.2f}' for k in actions))
PY
