"""Shared helpers for the `tokprep run` integration tests: tiny fixtures made with the ffmpeg
CLI, running tokprep with NDJSON events, and independent checks of the results."""
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile

TOKPREP = os.environ.get("TOKPREP", "tokprep")

# Tiny outputs and rules under which tiny files are valid, so everything runs in seconds.
SETS = [
    "rules.min_side=100",
    "rules.duration=[1,600]",
    "fix.width=180",
    "fix.height=320",
    "fix.video.preset=ultrafast",
    "pipeline.probe_workers=2",
    "pipeline.fit_workers=2",
]


def set_args(extra=()):
    args = []
    for s in list(SETS) + list(extra):
        args += ["--set", s]
    return args


def ff(*args):
    subprocess.run(["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *args],
                   check=True)


def make_vertical(path, seconds=2, freq=440, size="180x320", pattern="testsrc2"):
    """A clip that passes the SETS rules as is (9:16, H.264/AAC, moov first)."""
    ff("-f", "lavfi", "-i", f"{pattern}=size={size}:rate=24:duration={seconds}",
       "-f", "lavfi", "-i", f"sine=frequency={freq}:duration={seconds}",
       "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac",
       "-b:a", "32k", "-shortest", "-movflags", "+faststart", path)


def make_landscape(path, seconds=2, freq=550, size="320x180"):
    """A clip that needs a transcode to 9:16."""
    ff("-f", "lavfi", "-i", f"testsrc2=size={size}:rate=24:duration={seconds}",
       "-f", "lavfi", "-i", f"sine=frequency={freq}:duration={seconds}",
       "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac",
       "-b:a", "32k", "-shortest", path)


def sha256_file(path, offset=0, length=None):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        f.seek(offset)
        left = length
        while True:
            n = 1 << 20 if left is None else min(1 << 20, left)
            if n == 0:
                break
            b = f.read(n)
            if not b:
                break
            h.update(b)
            if left is not None:
                left -= len(b)
    return h.hexdigest()


def run(args, cwd=None, timeout=120, check_rc=None):
    p = subprocess.run([TOKPREP, *args], cwd=cwd, capture_output=True, text=True,
                       timeout=timeout)
    if check_rc is not None and p.returncode != check_rc:
        sys.stderr.write(p.stdout + p.stderr)
        raise AssertionError(f"tokprep {' '.join(args)}: exit {p.returncode}, "
                             f"expected {check_rc}")
    return p


def events(stdout):
    out = []
    for line in stdout.splitlines():
        line = line.strip()
        if line:
            ev = json.loads(line)
            assert "ts" in ev and "event" in ev and "path" in ev, line
            out.append(ev)
    return out


TERMINAL = ("uploaded", "skipped")


def terminal_events(evs):
    """Per path, the events that end a file in a run: uploaded, skipped, final failure."""
    per = {}
    for e in evs:
        if e["event"] in TERMINAL or (e["event"] == "failed" and e.get("final")):
            per.setdefault(e["path"], []).append(e)
    return per


def check_manifest(manifest_path):
    """The manifest's output and chunk hashes match the delivered file."""
    with open(manifest_path) as f:
        m = json.load(f)
    out = m["output"]["path"]
    assert os.path.exists(out), out
    size = os.path.getsize(out)
    assert m["output"]["size"] == size, (m["output"]["size"], size)
    assert m["output"]["sha256"] == sha256_file(out), manifest_path
    plan = m["chunk_plan"]
    assert plan["total"] == size
    assert plan["count"] == len(plan["chunks"]) >= 1
    pos = 0
    for i, c in enumerate(plan["chunks"]):
        assert c["index"] == i and c["offset"] == pos, c
        assert c["content_range"] == f"bytes {pos}-{pos + c['length'] - 1}/{size}", c
        assert c["sha256"] == sha256_file(out, c["offset"], c["length"]), (manifest_path, i)
        pos += c["length"]
    assert pos == size
    assert m["source"]["fingerprint"] and m["source"]["path"]
    assert m["verdict"] in ("pass", "fix"), m["verdict"]
    return m


def temp_files(*dirs):
    """Temporary names left behind in our folders (ours, and the fit's)."""
    found = []
    for d in dirs:
        for root, _dirs, files in os.walk(d):
            for name in files:
                if name.startswith(".tokprep-tmp-") or ".tmp" in name or name.endswith(".part"):
                    found.append(os.path.join(root, name))
    return found


class TempDir:
    def __enter__(self):
        self.path = tempfile.mkdtemp(prefix="tp_pipe_")
        return self.path

    def __exit__(self, *exc):
        shutil.rmtree(self.path, ignore_errors=True)
