"""Files are opened once, as files (docs/SECURITY.md, class 1): names that FFmpeg would take for
URLs (`concat:A|B`, `pipe:0`, `file:NAME`, `subfile,,start,0,end,0,,:NAME`), reached through a
shell glob, are only names. `check *`, `fit -o out *` and `run *` read each such file's own bytes:
no output holds another file's content (a hidden 3 s "private" clip those URLs point at), and
stdin (a pipe holding a third clip) is not read."""
import fcntl
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pipeline_helpers as h  # noqa: E402
import tprunner  # noqa: E402

NAMES = [
    "concat:.private.ts|.private.ts",
    "pipe:0",
    "file:.private.ts",
    "subfile,,start,0,end,0,,:.private.ts",
    "plain.ts",
]


def make_ts(path, seconds, size, freq):
    """MPEG-TS, landscape: `fit` must transcode it (the path that opened URLs)."""
    h.ff("-f", "lavfi", "-i", f"testsrc2=size={size}:rate=24:duration={seconds}",
         "-f", "lavfi", "-i", f"sine=frequency={freq}:duration={seconds}",
         "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac",
         "-b:a", "32k", "-shortest", "-f", "mpegts", path)


def duration(path):
    p = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of",
                        "default=nw=1:nk=1", path], capture_output=True, text=True, check=True)
    return float(p.stdout.strip())


def run_with_stdin(args, cwd, payload, timeout=180):
    """tokprep with stdin = a pipe holding payload; returns (process, bytes left unread)."""
    r, w = os.pipe()
    os.write(w, payload)
    os.close(w)
    try:
        p = subprocess.run([h.TOKPREP, *args], cwd=cwd, stdin=r, capture_output=True, text=True,
                           timeout=timeout)
        fcntl.fcntl(r, fcntl.F_SETFL, os.O_NONBLOCK)
        left = b""
        try:
            while True:
                b = os.read(r, 65536)
                if not b:
                    break
                left += b
        except BlockingIOError:
            pass
    finally:
        os.close(r)
    return p, left


def check_outputs(folder, names, what):
    """One output per name, each the 1 s clip it was made from (the private clips are 3 s)."""
    mp4s = sorted(f for f in os.listdir(folder) if f.endswith(".mp4"))
    assert len(mp4s) == len(names), (what, mp4s)
    for f in mp4s:
        d = duration(os.path.join(folder, f))
        assert 0.5 < d < 1.6, f"{what}: {f} is {d:.2f} s: another file's bytes were read"


def test_security_url_names():
    with h.TempDir() as t:
        d = os.path.join(t, "drop")
        os.makedirs(d)
        # What the URLs point at: a hidden clip in the folder (not matched by `*`).
        make_ts(os.path.join(d, ".private.ts"), 3, "256x144", 880)
        for i, n in enumerate(NAMES):  # distinct contents: `run` skips duplicates
            make_ts(os.path.join(d, n), 1, "320x180", 440 + 110 * i)
        # What `pipe:0` would read: another clip on stdin (small enough for a pipe buffer).
        stdin_clip = os.path.join(t, "stdin.ts")
        h.ff("-f", "lavfi", "-i", "testsrc2=size=64x36:rate=5:duration=3", "-c:v", "libx264",
             "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-f", "mpegts", stdin_clip)
        payload = open(stdin_clip, "rb").read()
        assert len(payload) < 60000, len(payload)
        names = sorted(n for n in os.listdir(d) if not n.startswith("."))  # the shell's `*`

        # check: every name is a file of its own, 1 s long.
        p, left = run_with_stdin(["check", "--json"] + h.set_args() + ["--"] + names, d, payload)
        assert left == payload, "check read stdin"
        assert p.returncode in (0, 1), (p.returncode, p.stderr)
        doc = json.loads(p.stdout)
        files = doc["files"] if isinstance(doc, dict) else doc
        assert len(files) == len(names), p.stdout
        for f in files:
            assert f.get("media"), f
            assert 0.5 < f["media"]["duration"] < 1.6, f

        # fit: outputs are made from each file's own bytes.
        out = os.path.join(t, "fit-out")
        p, left = run_with_stdin(["fit", "-o", out] + h.set_args() + ["--"] + names, d, payload)
        assert p.returncode == 0, (p.returncode, p.stdout, p.stderr)
        assert left == payload, "fit read stdin (pipe:0 was opened as a URL)"
        check_outputs(out, names, "fit")

        # run (directory sink): the same for what is delivered.
        sink = os.path.join(t, "sink")
        work = os.path.join(t, "work")
        args = ["run", "--json", "-w", work] + h.set_args(
            ["upload.sink=directory", f"upload.directory.path={sink}"]) + ["--"] + names
        p, left = run_with_stdin(args, d, payload)
        assert p.returncode == 0, (p.returncode, p.stdout, p.stderr)
        assert left == payload, "run read stdin"
        check_outputs(sink, names, "run")
        for m in (f for f in os.listdir(sink) if f.endswith(".json")):
            h.check_manifest(os.path.join(sink, m))


if __name__ == "__main__":
    sys.exit(tprunner.main(globals()))
