"""fit never cuts footage it was not asked to cut (issue 13): a raw MPEG video stream whose
header makes libavformat guess 0.07 s (it holds 8 s) is extended without losing a frame, and
an output that comes out short (a source whose last 2 s cannot be decoded) fails the file with a
clear error, no output and no temporary file, in `fit` and in `run` (ledger: failed)."""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pipeline_helpers as h  # noqa: E402
import tprunner  # noqa: E402

FIT_SETS = ["rules.min_side=100", "rules.duration=[3,600]", "fix.width=180", "fix.height=320",
            "fix.video.preset=ultrafast"]


def sets(extra=()):
    args = []
    for s in FIT_SETS + list(extra):
        args += ["--set", s]
    return args


def video_frames(path):
    """Video packets in the file and the end of the last one (pts + duration), in seconds."""
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
                          "packet=pts_time,duration_time", "-of", "json", path],
                         capture_output=True, text=True, check=True).stdout
    pk = json.loads(out).get("packets", [])
    end = max((float(p["pts_time"]) + float(p.get("duration_time", 0)) for p in pk), default=0)
    return len(pk), end


def format_duration(path):
    return subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of",
                           "default=nw=1:nk=1", path], capture_output=True, text=True).stdout


def raw_mpeg_with_guessed_duration(path):
    """An MPEG-1 elementary stream of 8 s at 25 fps whose sequence headers claim 104.8 Mbit/s:
    libavformat estimates its duration from that bit rate (0.07 s), as it did for the real
    camera clips of issue 13 (0.009-0.04 s for 3-20 s of video)."""
    plain = path + ".plain"
    h.ff("-f", "lavfi", "-i", "testsrc=d=8:s=320x240:r=25", "-c:v", "mpeg1video", "-b:v", "1M",
         "-minrate", "1M", "-maxrate", "1M", "-bufsize", "1M", "-f", "mpeg1video", plain)
    d = bytearray(open(plain, "rb").read())
    os.unlink(plain)
    i = n = 0
    while True:
        i = d.find(b"\x00\x00\x01\xb3", i)
        if i < 0:
            break
        # 12+12 bits of size, 4+4 of aspect and rate, then 18 bits of bit rate (400 bit/s units).
        d[i + 8] = 0xFF
        d[i + 9] = 0xFF
        d[i + 10] = (d[i + 10] & 0x3F) | 0x80
        i += 4
        n += 1
    assert n > 0
    open(path, "wb").write(d)
    guess = float(format_duration(path))
    assert guess < 1.0, guess  # the fixture reproduces the bad estimate


def damaged_tail_avi(path):
    """6 s of MPEG-4 Part 2, intra only, whose last 50 frames (2 s) are zeroed: every packet
    is there with its timestamp, none of the last 50 decodes."""
    good = path + ".good.avi"
    h.ff("-f", "lavfi", "-i", "testsrc=d=6:s=320x240:r=25", "-c:v", "mpeg4", "-g", "1", good)
    out = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "packet=pos,size", "-of",
                          "json", good], capture_output=True, text=True, check=True).stdout
    pk = json.loads(out)["packets"]
    assert len(pk) == 150, len(pk)
    d = bytearray(open(good, "rb").read())
    for p in pk[100:]:
        pos, size = int(p["pos"]), int(p["size"])
        d[pos:pos + size] = b"\0" * size
    os.unlink(good)
    open(path, "wb").write(d)


def leftovers(folder):
    return [f for f in os.listdir(folder)] if os.path.isdir(folder) else []


def test_fit_footage():
    with h.TempDir() as t:
        # 1. Extend a raw stream the probe thinks is 0.07 s: all 8 s come out (or fit fails),
        # never exit 0 with the first 3.1 s.
        raw = os.path.join(t, "clip.mpg")
        raw_mpeg_with_guessed_duration(raw)
        out = os.path.join(t, "out_raw")
        p = h.run(["fit"] + sets(["fix.too_short=extend"]) + ["-o", out, raw], timeout=120)
        mp4 = os.path.join(out, "clip.mp4")
        if p.returncode == 0:
            n, end = video_frames(mp4)
            assert n >= 199 and end >= 8.0 - 0.04 - 1e-6, (
                f"exit 0 with a shortened output: {n} frames, {end:.2f} s of 8 s")
            print(f"ok: raw MPEG stream extended without loss ({n} frames, {end:.2f} s)")
        else:
            assert "footage would be lost" in p.stdout + p.stderr, (p.stdout, p.stderr)
            assert leftovers(out) == [], leftovers(out)
            print("ok: raw MPEG stream failed loudly")

        # The plain command from the issue (no bit rate in the header: duration unknown).
        plain = os.path.join(t, "x.mpg")
        h.ff("-f", "lavfi", "-i", "testsrc=d=8", "-c:v", "mpeg2video", "-f", "mpeg2video", plain)
        out = os.path.join(t, "out_plain")
        p = h.run(["fit"] + sets(["fix.too_short=extend"]) + ["-o", out, plain], check_rc=0)
        n, end = video_frames(os.path.join(out, "x.mp4"))
        assert n >= 199 and end >= 8.0 - 0.04 - 1e-6, (n, end)
        print(f"ok: raw MPEG-2 stream kept whole ({n} frames, {end:.2f} s)")

        # A source too short for the rules is still held to the minimum (extend adds).
        short = os.path.join(t, "short.mp4")
        h.ff("-f", "lavfi", "-i", "testsrc=d=1.5:s=320x240:r=25", "-f", "lavfi", "-i",
             "sine=d=1.5", "-c:v", "mpeg4", "-c:a", "aac", "-shortest", short)
        out = os.path.join(t, "out_short")
        h.run(["fit"] + sets(["fix.too_short=extend"]) + ["-o", out, short], check_rc=0)
        n, end = video_frames(os.path.join(out, "short.mp4"))
        assert 3.1 - 0.04 <= end <= 3.2, end
        print(f"ok: 1.5 s held to {end:.2f} s")

        # 2. An output that comes out short fails the file: message, exit 2, nothing written.
        bad = os.path.join(t, "tail.avi")
        damaged_tail_avi(bad)
        out = os.path.join(t, "out_bad")
        p = h.run(["fit"] + sets() + ["-o", out, bad], timeout=120)
        msg = p.stdout + p.stderr
        assert p.returncode != 0, (p.returncode, msg)
        assert "tail.avi: the output is 4.00 s but the source is 6.00 s; not written " \
               "(footage would be lost)" in msg, msg
        assert leftovers(out) == [], leftovers(out)
        print("ok: short output refused by fit:", msg.strip().splitlines()[-1])

        # 3. The same in `run`: failed event and ledger row, nothing delivered, batch goes on.
        src = os.path.join(t, "in")
        os.makedirs(src)
        os.rename(bad, os.path.join(src, "tail.avi"))
        h.make_landscape(os.path.join(src, "good.mp4"))
        sink = os.path.join(t, "ready")
        work = os.path.join(t, "work")
        args = ["run", "--json", "-w", work] + h.set_args(
            ["upload.sink=directory", f"upload.directory.path={sink}"]) + [src]
        p = h.run(args, timeout=120)
        assert p.returncode == 2, (p.returncode, p.stderr)
        term = h.terminal_events(h.events(p.stdout))
        ev = term[os.path.join(src, "tail.avi")][0]
        assert ev["event"] == "failed" and "footage would be lost" in json.dumps(ev), ev
        assert term[os.path.join(src, "good.mp4")][0]["event"] == "uploaded", term
        st = json.loads(h.run(["status", "--json", "-w", work], check_rc=0).stdout)
        assert st["by_status"].get("failed") == 1 and st["by_status"].get("done") == 1, st
        assert st["failed"][0]["path"].endswith("tail.avi"), st
        delivered = sorted(os.listdir(sink))
        assert not any(f.startswith("tail") for f in delivered), delivered
        assert not h.temp_files(work, sink), h.temp_files(work, sink)
        print("ok: run records the short output as failed; the other file is delivered")


if __name__ == "__main__":
    sys.exit(tprunner.main(globals()))
