#!/usr/bin/env python3
"""The real-media corpus (fetch.py, corpus.tsv) through check and fit, against ffprobe.

For every file: check --json answers (never a crash); its probe facts match ffprobe's; its
duration matches a packet count (last timestamp + duration - first, from ffprobe -show_packets);
a duration never measured gives duration_unknown and no duration verdict. For every file with
video: fit (small output 180x320, fastest preset, fill pad; sources shorter than 1 s extended) keeps the measured duration, keeps a constant frame rate inside rules.fps as
the exact rational, writes an output that check passes, and shows the source's picture upright
and unstretched (decoded pixels against the source's at three timestamps).

A failure on a file whose manifest row has an xfail reason is reported as XFAIL and does not
fail the test. Exit: 0 no unexpected failure, 1 some, 77 the corpus cannot be fetched
(tests/integration/tprunner.py).
Writes a Markdown table of the results to $TP_BUILD_DIR/real-corpus.md (or --table FILE).
"""
import concurrent.futures
import contextlib
import csv
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import tprunner  # noqa: E402

TOKPREP = os.environ.get("TOKPREP", "tokprep")
FIT_CAP = 600  # rules.duration max: no file is trimmed (see docs/RELIABILITY.md, "Real-media corpus")
OUT_W, OUT_H = 180, 320
FIT = ["--set", "fix.width=%d" % OUT_W, "--set", "fix.height=%d" % OUT_H,
       "--set", "fix.video.preset=ultrafast", "--set", "rules.min_side=180",
       "--set", "rules.duration=[1,%d]" % FIT_CAP,
       "--set", "fix.too_short=extend", "--set", "fix.fill=pad"]
FPS_RANGE = (23, 60)  # the tiktok profile's rules.fps
PIXEL_TOLERANCE = 28  # mean absolute difference of 8x8 luma thumbnails (0..255)


def run(cmd, timeout=300, **kw):
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          errors="replace", timeout=timeout, **kw)


def sanitizer_report(stderr):
    """ASan/UBSan findings in a tokprep run (the sanitizer pass of CI runs this test too)."""
    for line in stderr.splitlines():
        if "Sanitizer" in line or "runtime error:" in line:
            return line.strip()
    return None


def ffprobe_json(path, *args):
    r = run(["ffprobe", "-v", "error", "-of", "json"] + list(args) + [path])
    try:
        return json.loads(r.stdout or "{}")
    except ValueError:
        return {}


def ratio(s):
    try:
        n, d = (int(x) for x in str(s).split("/"))
        return n / d if d else 0.0
    except ValueError:
        return 0.0


def chosen_streams(streams):
    """The streams tokprep picks: first video that is not cover art; default audio else first."""
    v = next((s for s in streams if s.get("codec_type") == "video"
              and not s.get("disposition", {}).get("attached_pic")), None)
    auds = [s for s in streams if s.get("codec_type") == "audio"]
    a = next((s for s in auds if s.get("disposition", {}).get("default")), auds[0] if auds else None)
    return v, a


def packet_span(path, streams, vpts=None):
    """Seconds covered by the chosen streams' packets: the independent duration figure. The
    video's presentation timestamps go to vpts."""
    v, a = chosen_streams(streams)
    tbs = {s["index"]: ratio(s.get("time_base", "0/1")) for s in (v, a) if s}
    # A decoder delay's negative timestamps (Vorbis pre-skip, edit lists) are not footage.
    t0s = {s["index"]: float(s["start_time"]) for s in (v, a)
           if s and str(s.get("start_time", "N/A")) != "N/A"}
    pk = ffprobe_json(path, "-show_entries", "packet=stream_index,pts,dts,duration")
    start, end, vsum = math.inf, -math.inf, 0.0
    for p in pk.get("packets", []):
        si = p.get("stream_index")
        if si not in tbs:
            continue
        tb = tbs[si]
        ts = [int(p[k]) for k in ("pts", "dts") if str(p.get(k, "N/A")).lstrip("-").isdigit()]
        dur = int(p["duration"]) * tb if str(p.get("duration", "")).isdigit() else 0.0
        if v and si == v["index"]:
            vsum += dur
            if vpts is not None and str(p.get("pts", "N/A")).lstrip("-").isdigit():
                vpts.append(int(p["pts"]))
        if ts:
            start = min(start, max(min(ts) * tb, t0s.get(si, -math.inf)))
            end = max(end, max(ts) * tb + dur)
    if end > start:
        return end - start
    return vsum if vsum > 0 else None


def thumbs(path, times, vf, start=0.0):
    """8x8 luma thumbnails of the first frame at or after each time (seconds from the video's
    start), decoded from the beginning in one pass: a seek (-ss before -i) lands on garbage in
    files whose index marks no keyframes."""
    sel = "+".join("gte(t,%.4f)*(isnan(prev_selected_t)+lt(prev_selected_t,%.4f))"
                   % (start + t, start + t) for t in times)
    r = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", path, "-an", "-vf",
                        "select='%s',%s,scale=8:8:flags=area,format=gray" % (sel, vf),
                        "-fps_mode", "passthrough", "-f", "rawvideo", "-"],
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, timeout=300)
    return [r.stdout[i:i + 64] for i in range(0, len(r.stdout) - 63, 64)]


def content_box(dw, dh):
    """Where fill=pad puts a dw x dh picture inside OUT_W x OUT_H (even sizes, centred)."""
    s = min(OUT_W / dw, OUT_H / dh)
    w, h = int(round(dw * s / 2)) * 2, int(round(dh * s / 2)) * 2
    return min(w, OUT_W), min(h, OUT_H), (OUT_W - min(w, OUT_W)) // 2, (OUT_H - min(h, OUT_H)) // 2


class Result:
    def __init__(self, row):
        self.row = row
        self.name = row["name"]
        self.checks = []  # (description, ok, detail)
        self.table = {}

    def check(self, desc, ok, detail=""):
        self.checks.append((desc, bool(ok), detail))
        return ok


def check_file(row, corpus, work):
    res = Result(row)
    path = os.path.join(corpus, row["name"])
    damaged = "damaged" in row["category"] or row["package"] == "derived"
    r = run([TOKPREP, "check", "--json", path])
    res.check("check exits normally", r.returncode in (0, 1, 2), "exit %d" % r.returncode)
    res.check("check: no sanitizer report", not sanitizer_report(r.stderr),
              sanitizer_report(r.stderr))
    try:
        doc = json.loads(r.stdout)["files"][0]
    except (ValueError, KeyError, IndexError):
        res.check("check --json parses", False, r.stderr[-200:])
        return res
    media = doc.get("media") or {}
    codes = [x["code"] for x in doc.get("violations", [])]
    vid, aud = media.get("video") or {}, media.get("audio") or {}
    res.table = {"container": media.get("container", "-"),
                 "codecs": "+".join(c for c in (vid.get("codec"), aud.get("codec")) if c) or "-",
                 "verdict": doc["verdict"], "action": doc.get("action") or "-",
                 "dur_in": media.get("duration"), "source": media.get("duration_source"),
                 "dur_out": None, "fps": vid.get("fps_rational"), "vfr": vid.get("vfr"),
                 "error": doc.get("error")}
    if doc["verdict"] == "error":
        res.check("readable (only damaged files may be errors)", damaged, doc.get("error"))
        return res

    # Probe facts against ffprobe.
    fp = ffprobe_json(path, "-show_streams", "-show_format")
    v, a = chosen_streams(fp.get("streams", []))
    if v:
        res.check("video codec = ffprobe's", vid.get("codec") == v.get("codec_name"),
                  "%s vs %s" % (vid.get("codec"), v.get("codec_name")))
        res.check("coded size = ffprobe's",
                  (vid.get("width"), vid.get("height")) == (v.get("width"), v.get("height")),
                  "%sx%s vs %sx%s" % (vid.get("width"), vid.get("height"), v.get("width"),
                                      v.get("height")))
        fps, avg, rfr = ratio(vid.get("fps_rational")), ratio(v.get("avg_frame_rate")), \
            ratio(v.get("r_frame_rate"))
        res.check("frame rate near ffprobe's average or base rate",
                  any(x > 0 and abs(fps - x) <= 0.01 * x for x in (avg, rfr)),
                  "%s vs avg %s, r %s" % (vid.get("fps_rational"), v.get("avg_frame_rate"),
                                          v.get("r_frame_rate")))
    else:
        res.check("no video, as ffprobe", not vid, str(vid.get("codec")))
    if a:
        res.check("audio = ffprobe's",
                  (aud.get("codec"), aud.get("sample_rate"), aud.get("channels")) ==
                  (a.get("codec_name"), int(a.get("sample_rate", 0)), a.get("channels")),
                  "%s/%s/%s vs %s/%s/%s" % (aud.get("codec"), aud.get("sample_rate"),
                                            aud.get("channels"), a.get("codec_name"),
                                            a.get("sample_rate"), a.get("channels")))

    # Duration against a packet count.
    vpts = []
    span = packet_span(path, fp.get("streams", []), vpts)
    # Constant rate against every presentation timestamp, sorted: the first 61 frames (the
    # probe's window) a tick apart at most is constant, whatever the decode order.
    head = sorted(vpts)[:61]
    diffs = [b - a for a, b in zip(head, head[1:]) if b > a]
    if v and len(diffs) >= 10 and max(diffs) - min(diffs) <= 2:
        res.check("constant timestamps not taken for VFR", not vid.get("vfr"),
                  "intervals %d..%d ticks" % (min(diffs), max(diffs)))
    res.table["packets"] = span
    dur, src = media.get("duration"), media.get("duration_source")
    if src == "unknown" or dur is None:
        res.check("unknown duration: duration_unknown, no duration verdict",
                  "duration_unknown" in codes and "duration_too_short" not in codes
                  and "duration_too_long" not in codes, " ".join(codes))
    else:
        frame = 1 / ratio(vid.get("fps_rational")) if ratio(vid.get("fps_rational")) else 0.05
        tol = max(0.1, 1.5 * frame, 0.02 * (span or 0))
        res.check("duration matches the packets (%s)" % src,
                  span is not None and abs(dur - span) <= tol,
                  "%s s vs packets %s s (tolerance %.3f)" % (dur, span, tol))

    if not vid:
        return res

    # fit: duration, frame rate, conformance, picture.
    out_dir = os.path.join(work, row["name"] + ".out")
    t0 = time.monotonic()
    r = run([TOKPREP, "fit", "--json", "-o", out_dir] + FIT + [path], timeout=600)
    res.table["fit_s"] = time.monotonic() - t0
    res.check("fit: no sanitizer report", not sanitizer_report(r.stderr), sanitizer_report(r.stderr))
    try:
        fdoc = json.loads(r.stdout)["files"][0]
        outs = fdoc.get("outputs") or []
    except (ValueError, KeyError, IndexError):
        fdoc, outs = {}, []
    if not res.check("fit writes one output", r.returncode == 0 and len(outs) == 1,
                     "exit %d %s" % (r.returncode, (fdoc.get("error") or r.stderr)[-200:])):
        return res
    out = outs[0] if os.path.isabs(outs[0]) else os.path.join(os.getcwd(), outs[0])
    of = ffprobe_json(out, "-show_streams", "-show_format")
    ov, _ = chosen_streams(of.get("streams", []))
    out_dur = float(of.get("format", {}).get("duration", 0) or 0)
    res.table["dur_out"] = out_dur
    measured = dur if dur is not None else span  # tokprep's, checked against the packets above
    if measured is not None:
        want = min(max(measured, 1.0), float(FIT_CAP))
        frame = 1 / ratio(ov.get("r_frame_rate")) if ov and ratio(ov.get("r_frame_rate")) else 0.05
        res.check("fit keeps the footage (shortfall <= 1 frame)", out_dur >= want - frame - 0.02,
                  "%.3f s out, %.3f s expected" % (out_dur, want))
        res.check("fit adds nothing (excess <= 1 frame + 0.1 s)", out_dur <= want + frame + 0.1,
                  "%.3f s out, %.3f s expected" % (out_dur, want))
    fps_in = ratio(vid.get("fps_rational"))
    if not vid.get("vfr") and FPS_RANGE[0] <= fps_in <= FPS_RANGE[1] and ov:
        res.check("constant rate kept exactly", ov.get("r_frame_rate") == vid.get("fps_rational"),
                  "%s -> %s" % (vid.get("fps_rational"), ov.get("r_frame_rate")))
    rc = run([TOKPREP, "check", "--json"] + FIT + [out])
    try:
        verdict = json.loads(rc.stdout)["files"][0]["verdict"]
    except (ValueError, KeyError, IndexError):
        verdict = "unparsable"
    res.check("output passes check", verdict == "pass", verdict)

    # Picture: the source scaled into the pad box, against the output's box.
    dw, dh = vid.get("display_width") or 0, vid.get("display_height") or 0
    if dw > 0 and dh > 0 and out_dur > 0:
        w, h, x, y = content_box(dw, dh)
        span_t = min(out_dur, measured or out_dur)
        # On source frame times: the source's frame k against the output's first frame after
        # it (the output's rate is at least the source's inside rules.fps).
        times = sorted({(math.floor(span_t * f * fps_in) / fps_in) if fps_in > 0
                        else span_t * f for f in (0.2, 0.5, 0.8)})
        v_start = float(v.get("start_time", 0) or 0) if str(v.get("start_time")) != "N/A" else 0
        a_imgs = thumbs(path, [max(t - 0.002, 0) for t in times],
                        "scale=%d:%d,setsar=1" % (w, h), v_start)
        b_imgs = thumbs(out, [t + 0.002 for t in times], "crop=%d:%d:%d:%d" % (w, h, x, y))
        worst, worst_t = 0.0, None
        for t, a_img, b_img in zip(times, a_imgs, b_imgs):
            mad = sum(abs(p - q) for p, q in zip(a_img, b_img)) / 64
            if mad >= worst:
                worst, worst_t = mad, t
        res.check("picture upright and unstretched",
                  a_imgs and b_imgs and worst <= PIXEL_TOLERANCE,
                  "worst luma difference %.1f at %.2f s (%d/%d frames compared)"
                  % (worst, worst_t or 0, min(len(a_imgs), len(b_imgs)), len(times)))
    return res


def fmt(x, digits=3):
    return "-" if x is None else ("%.*f" % (digits, x)).rstrip("0").rstrip(".")


def write_table(results, path):
    with open(path, "w") as f:
        f.write("| file | what | container | codecs | verdict | action | duration in (source) "
                "| packets | duration out | result |\n|---|---|---|---|---|---|---|---|---|---|\n")
        for r in results:
            t = r.table
            bad = [c for c in r.checks if not c[1]]
            state = "ok" if not bad else ("xfail" if r.row["xfail"] else "FAIL")
            note = "; ".join(c[0] for c in bad)
            f.write("| %s | %s | %s | %s | %s | %s | %s (%s) | %s | %s | %s%s |\n" % (
                r.name, r.row["category"], t.get("container", "-"), t.get("codecs", "-"), t.get("verdict", "-"),
                t.get("action", "-"), fmt(t.get("dur_in")), t.get("source") or "-",
                fmt(t.get("packets")), fmt(t.get("dur_out")), state,
                ": " + note if note else ""))


@contextlib.contextmanager
def fetched_corpus():
    """The corpus folder (fetch.py); every case is skipped when it cannot be had."""
    if shutil.which("ffprobe") is None or shutil.which("ffmpeg") is None:
        tprunner.skip("ffmpeg/ffprobe not installed")
    fetch = run([sys.executable, os.path.join(HERE, "fetch.py")], timeout=1800)
    sys.stderr.write(fetch.stderr)
    if fetch.returncode == 2 or not fetch.stdout.strip():
        tprunner.skip("the real-media corpus cannot be fetched from Debian's packages "
                      "(apt-get download failed; see above)")
    yield {"corpus": fetch.stdout.strip().splitlines()[-1]}


def test_corpus(corpus):
    """Every file of the manifest (or those named on the command line)."""
    with open(os.path.join(HERE, "corpus.tsv"), newline="") as f:
        rows = [r for r in csv.reader(f, delimiter="\t") if r and not r[0].startswith("#")]
    cols = rows[0]
    rows = [dict(zip(cols, r + [""] * (len(cols) - len(r)))) for r in rows[1:]]
    args = sys.argv[1:]
    if "--table" in args:
        del args[args.index("--table"):args.index("--table") + 2]
    only = [a for a in args if not a.startswith("--")]
    rows = [r for r in rows if os.path.exists(os.path.join(corpus, r["name"]))
            and (not only or r["name"] in only)]
    t0 = time.monotonic()
    work = tempfile.mkdtemp(prefix="tokprep-real-")
    try:
        with concurrent.futures.ThreadPoolExecutor(max_workers=2) as ex:
            results = list(ex.map(lambda r: check_file(r, corpus, work), rows))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    failed = xfailed = 0
    for res in results:
        bad = [c for c in res.checks if not c[1]]
        tag = "ok" if not bad else ("XFAIL" if res.row["xfail"] else "FAIL")
        print("%-5s %s (%s, %s, %s s -> %s s)" % (tag, res.name, res.table.get("container"),
                                                  res.table.get("codecs"),
                                                  fmt(res.table.get("dur_in")),
                                                  fmt(res.table.get("dur_out"))))
        for desc, ok, detail in res.checks:
            if not ok:
                print("      %s: %s" % (desc, detail))
        if bad and res.row["xfail"]:
            print("      (xfail: %s)" % res.row["xfail"])
        failed += bool(bad) and not res.row["xfail"]
        xfailed += bool(bad) and bool(res.row["xfail"])
    table = os.path.join(os.environ.get("TP_BUILD_DIR", "."), "real-corpus.md")
    if "--table" in sys.argv:
        table = sys.argv[sys.argv.index("--table") + 1]
    write_table(results, table)
    passed = len(results) - failed - xfailed
    print("real corpus: %d files in %.0f s, table in %s" % (len(results), time.monotonic() - t0,
                                                           table))
    print("xfailed (known, out of scope): %d" % xfailed)
    print("%d passed, %d failed" % (passed, failed))
    assert not failed, "%d file(s) failed unexpectedly" % failed


if __name__ == "__main__":
    # The command line names corpus files (and --table FILE), not cases: one case runs them all.
    sys.exit(tprunner.main(globals(), fixture=fetched_corpus, argv=[]))
