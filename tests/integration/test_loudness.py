"""Loudness (issue 14): `check --deep` measures EBU R128 integrated loudness, loudness range and
true peak in-process (media.audio.loudness), agreeing with `ffmpeg -af ebur128=peak=true` within
0.5 LU; rules.loudness gives a `loudness` violation only when measured; fit with
fix.audio.loudness lands within ±1 LU of the target with the true peak at or under the ceiling,
measured independently by the ffmpeg CLI, re-encoding the audio alone (the video packets are
the source's) when the video passes; a clip that would need more than +20 dB is left alone with
a warning. Fixtures are sine/noise at about -30, -8 and -40 LUFS and a tone with clicks whose
true peak a single gain would push over the ceiling, verified with ffmpeg first."""
import json
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pipeline_helpers as h  # noqa: E402
import tprunner  # noqa: E402

SETS = ["rules.min_side=100", "rules.duration=[1,600]", "fix.width=180", "fix.height=320",
        "fix.video.preset=ultrafast"]
FIX = "fix.audio.loudness={target: -14, true_peak: -1.0, range: 11}"
RULE = "rules.loudness=[-16,-12]"

# name: (audio source, intended integrated LUFS)
AUDIO = {
    "quiet": ("sine=f=440:d=4,volume=-8.5dB", -30.0),
    "loud": ("anoisesrc=c=white:a=0.6:d=4:seed=3", -8.0),
    "silentish": ("sine=f=440:d=4,volume=-18.5dB", -40.0),
    # A tone with sharp clicks: one gain to -14 would put the true peak near +8 dBTP, so the
    # peaks are limited (the clicks carry little of the loudness).
    "peaky": ("aevalsrc='0.05*sin(2*PI*440*t)+if(lt(mod(t\\,1)\\,0.0005)\\,0.5\\,0)'"
              ":d=4:s=48000", -29.0),
}


def sets(extra=()):
    args = []
    for s in SETS + list(extra):
        args += ["--set", s]
    return args


def ebur128(path):
    """ffmpeg's own summary: (I LUFS, LRA LU, true peak dBTP)."""
    p = subprocess.run(["ffmpeg", "-nostdin", "-hide_banner", "-nostats", "-i", path, "-map",
                        "0:a:0", "-af", "ebur128=peak=true:framelog=verbose", "-f", "null", "-"],
                       capture_output=True, text=True, check=True)
    summary = p.stderr[p.stderr.rindex("Summary:"):]
    i = float(re.search(r"I:\s+(-?[\d.]+) LUFS", summary).group(1))
    lra = float(re.search(r"LRA:\s+(-?[\d.]+) LU", summary).group(1))
    tp = float(re.search(r"Peak:\s+(-?[\d.]+) dBFS", summary).group(1))
    return i, lra, tp


def video_md5(path):
    return subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", path, "-map", "0:v",
                           "-c", "copy", "-f", "md5", "-"],
                          capture_output=True, text=True, check=True).stdout.strip()


def make(dirname, name, size="180x320"):
    path = os.path.join(dirname, f"{name}.mp4")
    src, _ = AUDIO[name]
    h.ff("-f", "lavfi", "-i", f"testsrc2=size={size}:rate=24:duration=4", "-f", "lavfi", "-i",
         src, "-ac", "2", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
         "-c:a", "aac", "-b:a", "128k", "-shortest", "-movflags", "+faststart", path)
    return path


def fixtures(t):
    out = {name: make(t, name) for name in AUDIO}
    for name, path in out.items():  # the fixtures are what they claim, by ffmpeg's meter
        i, _, _ = ebur128(path)
        assert abs(i - AUDIO[name][1]) <= 1.5, (name, i)
    return out


def check(path, extra=(), deep=True):
    p = h.run(["check"] + (["--deep"] if deep else []) + ["--json"] + sets(extra) + [path],
              timeout=120)
    return json.loads(p.stdout)["files"][0]


def fit(path, outdir, extra=()):
    os.makedirs(outdir, exist_ok=True)
    p = h.run(["fit", "-o", outdir] + sets(extra) + [path], timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    return os.path.join(outdir, os.path.basename(path)), p


def test_check_deep_matches_ffmpeg():
    with h.TempDir() as t:
        for name, path in fixtures(t).items():
            loud = check(path)["media"]["audio"]["loudness"]
            i, lra, tp = ebur128(path)
            assert loud is not None, name
            assert abs(loud["integrated"] - i) <= 0.5, (name, loud, i)
            assert abs(loud["range"] - lra) <= 0.5, (name, loud, lra)
            assert abs(loud["true_peak"] - tp) <= 0.5, (name, loud, tp)
            # Without --deep nothing is decoded: null, no claim.
            assert check(path, deep=False)["media"]["audio"]["loudness"] is None, name


def test_rule_violation_appears_and_disappears():
    with h.TempDir() as t:
        f = fixtures(t)
        v = check(f["quiet"], [RULE])
        codes = {x["code"]: x for x in v["violations"]}
        assert "loudness" in codes and v["verdict"] == "fix", v
        msg = codes["loudness"]["message"]
        assert "-30" in msg and "[-16, -12]" in msg and "fix.audio.loudness" in msg, msg
        # Not measured without --deep: not judged.
        assert check(f["quiet"], [RULE], deep=False)["verdict"] == "pass"
        # No rule, no violation, though measured.
        assert check(f["quiet"])["verdict"] == "pass"
        # The normalised output passes the same rule.
        out, _ = fit(f["quiet"], os.path.join(t, "out"), [RULE, FIX])
        v = check(out, [RULE])
        assert v["verdict"] == "pass", v
        assert not [x for x in v["violations"] if x["code"] == "loudness"], v


def test_fit_normalises_audio_and_copies_video():
    with h.TempDir() as t:
        f = fixtures(t)
        for name in ("quiet", "loud", "peaky"):
            out, _ = fit(f[name], os.path.join(t, "out"), [FIX])
            i, _, tp = ebur128(out)
            assert abs(i - (-14.0)) <= 1.0, (name, i)
            assert tp <= -1.0 + 0.05, (name, tp)  # ffmpeg prints one decimal
            assert video_md5(out) == video_md5(f[name]), name  # video packets copied
            rate = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "a:0",
                                   "-show_entries", "stream=sample_rate", "-of", "csv=p=0", out],
                                  capture_output=True, text=True, check=True).stdout.strip()
            assert rate == "48000", rate  # back from loudnorm's 192 kHz


def test_fit_normalises_when_the_video_is_transcoded_too():
    with h.TempDir() as t:
        src = make(t, "loud", size="320x180")  # 16:9: the picture is fitted as well
        out, _ = fit(src, os.path.join(t, "out"), [FIX])
        i, _, tp = ebur128(out)
        assert abs(i - (-14.0)) <= 1.0 and tp <= -0.95, (i, tp)
        dims = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0",
                               "-show_entries", "stream=width,height", "-of", "csv=p=0", out],
                              capture_output=True, text=True, check=True).stdout.strip()
        assert dims == "180,320", dims


def test_fit_leaves_a_very_quiet_clip_with_a_warning():
    with h.TempDir() as t:
        src = make(t, "silentish")
        before, _, _ = ebur128(src)
        out, p = fit(src, os.path.join(t, "out"), [FIX])
        assert "+20 dB" in p.stderr and "left as it is" in p.stderr, p.stderr
        after, _, _ = ebur128(out)
        assert abs(after - before) <= 0.5, (before, after)


if __name__ == "__main__":
    sys.exit(tprunner.main(globals()))
