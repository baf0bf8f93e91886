#!/usr/bin/env python3
"""Covers (README "Covers"): a <stem>.cover.png sidecar becomes the first frames of the fit (the
first decoded frame is the image, frames = cover + video, the sound moves by exactly the cover's
span), a file that would pass is re-encoded for it (the dry-run says so and shows the cover); a
sidecar that is a symlink, a FIFO or too big is refused with a warning and the file is fitted
without a cover; --cover-at outside the video gives the cover_outside warning; `run` posts
video_cover_timestamp_ms to the fake TikTok server where the cover is."""
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.environ.get("TP_SOURCE_DIR", os.path.join(HERE, "..", "..")),
                                "tests", "fake_tiktok"))
import tprunner  # noqa: E402
from harness import Client, FakeTikTok  # noqa: E402

TOKPREP = os.environ.get("TOKPREP", "tokprep")
ROOT = tempfile.mkdtemp(prefix="tp_cover.")
FPS, SECONDS, BEEP = 30, 3, 1.0
SETS = ["rules.min_side=100", "rules.duration=[1,600]", "fix.width=180", "fix.height=320",
        "fix.video.preset=ultrafast", "fix.fill=pad"]


def ff(*args):
    subprocess.run(["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *args],
                   check=True)


def make_clip(path, freq=1000):
    """A vertical clip that passes SETS as is: testsrc2 at 30 fps, silent but for a beep
    from BEEP s."""
    ff("-f", "lavfi", "-i", f"testsrc2=size=180x320:rate={FPS}:duration={SECONDS}",
       "-f", "lavfi", "-i",
       f"sine=frequency={freq}:sample_rate=48000:duration={SECONDS},"
       f"volume=enable='lt(t,{BEEP})':volume=0",
       "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac",
       "-b:a", "128k", "-ar", "48000", "-shortest", "-movflags", "+faststart", path)


def make_cover(path, colour="red", size="90x160"):
    ff("-f", "lavfi", "-i", f"color=c={colour}:s={size}", "-frames:v", "1", path)


def tokprep(*args, timeout=120, check=None):
    cmd = [TOKPREP, *args]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if check is not None and r.returncode != check:
        raise AssertionError("%s -> %d\n%s\n%s" % (" ".join(cmd), r.returncode, r.stdout,
                                                   r.stderr))
    return r


def sets(*extra):
    a = []
    for s in SETS + list(extra):
        a += ["--set", s]
    return a


def dry_run(path, *extra):
    r = tokprep("fit", "--dry-run", "--json", *sets(), *extra, path, check=0)
    return json.loads(r.stdout)["files"][0], r


def frame_rgb(path, n):
    raw = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", path, "-vf",
                          f"select=eq(n\\,{n})", "-frames:v", "1", "-f", "rawvideo", "-pix_fmt",
                          "rgb24", "-"], capture_output=True, check=True).stdout
    assert raw, "no frame %d in %s" % (n, path)
    return raw


def mean_rgb(raw):
    n = len(raw) // 3
    return [sum(raw[i::3]) / n for i in range(3)]


def count_frames(path):
    out = subprocess.run(["ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0",
                          "-show_entries", "stream=nb_read_frames", "-of", "csv=p=0", path],
                         capture_output=True, text=True, check=True).stdout
    return int(out.strip())


def beep_onset(path):
    """Seconds at which the sound first rises above -30 dBFS (decoded by the ffmpeg CLI, the
    encoder's priming removed by the MP4 edit list)."""
    pcm = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", path, "-map", "0:a:0",
                          "-ac", "1", "-ar", "48000", "-f", "s16le", "-"],
                         capture_output=True, check=True).stdout
    for i in range(0, len(pcm) // 2):
        v = int.from_bytes(pcm[2 * i:2 * i + 2], "little", signed=True)
        if abs(v) > 1000:
            return i / 48000.0
    raise AssertionError("no beep in %s" % path)


def case_dir(name):
    d = os.path.join(ROOT, name)
    os.makedirs(d)
    return d


def test_cover_sidecar_first_frames():
    d = case_dir("sidecar")
    plain = os.path.join(d, "plain")
    os.makedirs(plain)
    clip = os.path.join(d, "clip.mp4")
    make_clip(clip)
    # The reference: the same pictures and sound, fitted without a cover (PCM in Matroska is
    # re-encoded as the cover's fit is).
    ff("-i", clip, "-c:v", "copy", "-c:a", "pcm_s16le", os.path.join(plain, "clip.mkv"))
    make_cover(os.path.join(d, "clip.cover.png"))

    f, r = dry_run(clip)
    assert f["verdict"] == "pass" and f["action"] == "transcode", f
    cov = f["plan"]["cover"]
    assert cov["source"] == "sidecar" and cov["image"].endswith("clip.cover.png"), cov
    assert cov["frames"] == 3 and abs(cov["duration"] - 0.1) < 1e-9, cov
    assert cov["timestamp_ms"] == 50, cov
    assert "cover" in f["plan"]["reason"] and "pass" in f["plan"]["reason"], f["plan"]
    r = tokprep("check", "--json", *sets(), clip, check=0)
    cv = json.loads(r.stdout)["files"][0]["media"]["cover"]
    assert cv["source"] == "sidecar" and (cv["width"], cv["height"]) == (90, 160), cv
    r = tokprep("fit", "--dry-run", *sets(), clip, check=0)
    assert "cover: sidecar image" in r.stdout and "video_cover_timestamp_ms 50" in r.stdout, \
        r.stdout

    out, out_plain = os.path.join(d, "out"), os.path.join(d, "out_plain")
    tokprep("fit", "-o", out, *sets(), clip, check=0)
    tokprep("fit", "-o", out_plain, *sets(), os.path.join(plain, "clip.mkv"), check=0)
    res, ref = os.path.join(out, "clip.mp4"), os.path.join(out_plain, "clip.mp4")
    assert count_frames(res) == 3 + FPS * SECONDS, count_frames(res)
    assert count_frames(ref) == FPS * SECONDS, count_frames(ref)
    # The first frames are the image (pure red through BT.709 limited range and back).
    for n in (0, 2):
        m = mean_rgb(frame_rgb(res, n))
        assert m[0] > 235 and m[1] < 20 and m[2] < 20, (n, m)
    # ...and the next is the video's first frame, as in the fit without a cover.
    a, b = frame_rgb(res, 3), frame_rgb(ref, 0)
    mse = sum((x - y) ** 2 for x, y in zip(a, b)) / len(a)
    assert mse < 30, "frame 3 is not the video's first frame (MSE %.1f)" % mse
    # The sound moves by exactly the cover's span: the video's sync is unchanged.
    t_cover, t_plain = beep_onset(res), beep_onset(ref)
    assert abs(t_plain - BEEP) < 0.005, t_plain
    assert abs((t_cover - t_plain) - 0.1) < 0.002, (t_cover, t_plain)


def test_cover_profile_image_blur_fill():
    """fix.cover.image with another shape is filled like the video (blur here)."""
    d = case_dir("profile")
    clip = os.path.join(d, "clip.mp4")
    make_clip(clip)
    img = os.path.join(d, "art.png")
    make_cover(img, colour="blue", size="320x180")
    f, _ = dry_run(clip, "--set", "fix.cover.image=" + img, "--set", "fix.fill=blur",
                   "--set", "fix.cover.duration_ms=200")
    cov = f["plan"]["cover"]
    assert cov["source"] == "profile" and cov["frames"] == 6 and cov["timestamp_ms"] == 100, cov
    out = os.path.join(d, "out")
    tokprep("fit", "-o", out, *sets("fix.cover.image=" + img, "fix.fill=blur",
                                    "fix.cover.duration_ms=200"), clip, check=0)
    res = os.path.join(out, "clip.mp4")
    assert count_frames(res) == 6 + FPS * SECONDS
    m = mean_rgb(frame_rgb(res, 0))
    assert m[2] > 200 and m[0] < 30, m


def refused(name, make_sidecar, want):
    d = case_dir(name)
    clip = os.path.join(d, "clip.mp4")
    make_clip(clip)
    make_sidecar(os.path.join(d, "clip.cover.png"), d)
    f, r = dry_run(clip)
    assert f["action"] == "none" and f["plan"]["cover"] is None, f
    assert "cover sidecar refused" in r.stderr and want in r.stderr, r.stderr
    out = os.path.join(d, "out")
    r = tokprep("fit", "-o", out, *sets(), clip, check=0, timeout=30)
    assert "cover sidecar refused" in r.stderr, r.stderr
    assert count_frames(os.path.join(out, "clip.mp4")) == FPS * SECONDS


def test_sidecar_symlink_refused():
    def make(side, d):
        real = os.path.join(d, "elsewhere.png")
        make_cover(real)
        os.symlink(real, side)
    refused("link", make, "symbolic link")


def test_sidecar_fifo_refused():
    refused("fifo", lambda side, d: os.mkfifo(side), "FIFO")


def test_sidecar_too_big_refused():
    def make(side, d):
        make_cover(side)
        os.truncate(side, 11 * 1024 * 1024)
    refused("big", make, "limit")


def test_cover_at_outside_warns():
    d = case_dir("at")
    clip = os.path.join(d, "clip.mp4")
    make_clip(clip)
    f, _ = dry_run(clip, "--cover-at", "9")
    codes = {v["code"]: v["severity"] for v in f["violations"]}
    assert codes.get("cover_outside") == "warn", f["violations"]
    assert f["plan"]["cover"]["source"] == "frame" and f["plan"]["cover"]["timestamp_ms"] == 9000
    assert f["action"] == "none", f  # a frame of the video: nothing to re-encode
    f, _ = dry_run(clip, "--cover-at", "1.5")
    assert not f["violations"] and f["plan"]["cover"]["timestamp_ms"] == 1500, f
    r = tokprep("check", "--json", *sets("upload.tiktok.video_cover_timestamp_ms=3000"), clip)
    v = json.loads(r.stdout)["files"][0]["violations"]
    assert [x["code"] for x in v] == ["cover_outside"] and v[0]["severity"] == "warn", v
    r = tokprep("fit", "--dry-run", "--cover-at", "soon", clip)
    assert r.returncode == 2 and "--cover-at" in r.stderr, (r.returncode, r.stderr)


def test_run_posts_cover_timestamp():
    d = case_dir("run")
    src = os.path.join(d, "in")
    os.makedirs(src)
    make_clip(os.path.join(src, "a.mp4"))
    make_cover(os.path.join(src, "a.cover.png"))
    make_clip(os.path.join(src, "b2.mp4"), freq=1500)
    with FakeTikTok(workdir=d) as srv:
        c = Client(srv, d, sets=SETS)
        c.login()
        r = c.run("run", "-o", os.path.join(d, "work"), "--cover-at", "2", src, check=0,
                  timeout=180)
        pubs = {}
        for p in srv.inspect()["publishes"]:
            assert p.get("complete"), p
            pubs[p["post_info"]["title"]] = p["post_info"]["video_cover_timestamp_ms"]
        # a: the image opens the video (3 frames at 30 fps), its middle is sent; b2: --cover-at.
        assert pubs == {"a": 50, "b2": 2000}, (pubs, r.stderr)
        r = c.run("upload", "--cover-at", "1.25", os.path.join(src, "b2.mp4"), check=0)
        last = srv.inspect()["publishes"][-1]["post_info"]
        assert last["video_cover_timestamp_ms"] == 1250, last


if __name__ == "__main__":
    sys.exit(tprunner.main(globals(), cleanup=[ROOT]))
