"""Messages that name the next step (issue 16): a resumed run counts what earlier runs of the
same ledger rejected or failed (and exits 2 while failures remain); Ctrl-C's summary says how
many files are still queued and that the same command resumes them; the dry-run lists warnings
as warnings and shows a pass-through file's output; on a terminal no line is longer than the
terminal (check: one violation per indented line; run: names cut in the middle)."""
import fcntl
import os
import pty
import re
import select
import signal
import struct
import subprocess
import sys
import tempfile
import termios
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import pipeline_helpers as h  # noqa: E402
import tprunner  # noqa: E402

ROOT = tempfile.mkdtemp(prefix="tp_next_step.")
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def folder(name):
    d = os.path.join(ROOT, name)
    os.makedirs(os.path.join(d, "in"))
    return d


def test_resumed_run_counts_earlier_outcomes():
    d = folder("resume")
    with open(os.path.join(d, "in", "bad.mp4"), "wb") as f:
        f.write(os.urandom(50000))  # named like video, not media: fails
    h.make_vertical(os.path.join(d, "in", "short.mp4"), seconds=1, size="360x640")  # too short
    args = ["run", "--workdir", os.path.join(d, "work"), "--set", "upload.sink=none",
            os.path.join(d, "in")]
    p = h.run(args)
    assert p.returncode == 2, (p.returncode, p.stdout, p.stderr)
    p = h.run(args)
    assert p.returncode == 2, (p.returncode, p.stdout, p.stderr)
    assert ("summary   from earlier runs of this ledger: 1 rejected, 1 failed" in p.stdout), \
        p.stdout
    p = h.run(args[:1] + ["--json"] + args[1:])
    assert p.returncode == 2, (p.returncode, p.stdout, p.stderr)
    summary = h.events(p.stdout)[-1]
    assert summary["event"] == "summary" and summary["earlier_failed"] == 1 and \
        summary["earlier_rejected"] == 1 and summary["queued"] == 0, summary
    # Once the failure is gone from the ledger, the earlier rejection alone does not fail it.
    os.unlink(os.path.join(d, "in", "bad.mp4"))
    p = h.run(args)
    assert p.returncode == 0, (p.returncode, p.stdout, p.stderr)
    assert "1 rejected, 0 failed" in p.stdout, p.stdout


def test_interrupted_run_says_what_is_queued():
    d = folder("sigint")
    for i in range(3):
        h.make_landscape(os.path.join(d, "in", "l%d.mp4" % i), seconds=4, freq=400 + 100 * i,
                         size="640x360")
    work = os.path.join(d, "work")
    args = [h.TOKPREP, "run", "--workdir", work] + h.set_args(
        ["upload.sink=none", "fix.width=360", "fix.height=640", "fix.video.preset=medium",
         "pipeline.fit_workers=1"]) + [os.path.join(d, "in")]
    p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    first = p.stdout.readline()  # the first event: the fits have been queued
    assert first, p.stderr.read()
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=20)
    assert p.returncode == 130, (p.returncode, err)
    m = re.search(r"summary   (\d+) files? still queued: run the same command again to resume",
                  out)
    assert m and int(m.group(1)) >= 1, out
    # And it does: the same command finishes them.
    r = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
    assert "still queued" not in r.stdout, r.stdout


def test_dry_run_warnings_and_pass_through_output():
    d = folder("dry")
    ok = os.path.join(d, "in", "silent.mp4")
    h.ff("-f", "lavfi", "-i", "testsrc2=size=360x640:rate=24:duration=4", "-c:v", "libx264",
         "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-movflags", "+faststart", ok)
    p = h.run(["fit", "--dry-run", "-o", os.path.join(d, "out"), ok], check_rc=0)
    assert "  warning: audio_missing: no audio stream" in p.stdout, p.stdout
    assert "violation: no audio" not in p.stdout, p.stdout
    assert "  output: %s/silent.mp4 (a copy of the source" % os.path.join(d, "out") in p.stdout, \
        p.stdout


def pty_run(args, cols, timeout=60, env=None):
    """Run with stdout on a pseudo-terminal `cols` wide (stderr piped); the output read."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, cols, 0, 0))
    p = subprocess.Popen(args, stdout=slave, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                         env=env)
    os.close(slave)
    chunks = []
    deadline = time.time() + timeout
    while time.time() < deadline:
        r, _, _ = select.select([master], [], [], 0.2)
        if r:
            try:
                b = os.read(master, 65536)
            except OSError:
                break
            if not b:
                break
            chunks.append(b)
        elif p.poll() is not None:
            break
    os.close(master)
    p.wait(timeout=10)
    return p, b"".join(chunks).decode("utf-8", "replace")


def lines_of(text):
    """Lines as a terminal shows them: escape sequences and carriage returns gone."""
    out = []
    for raw in ANSI.sub("", text).split("\n"):
        out.extend(raw.replace("\r\n", "\n").split("\r"))
    return out


def test_check_on_a_terminal_fits_the_width():
    d = folder("checktty")
    name = os.path.join(d, "in", "a_very_long_name_of_a_landscape_clip_that_needs_a_fit_é.mp4")
    h.make_landscape(name, seconds=4, size="320x180")
    cols = 50
    p, out = pty_run([h.TOKPREP, "check", name], cols)
    assert p.returncode == 1, (p.returncode, out)
    shown = [ln for ln in lines_of(out) if ln.strip()]
    too_long = [ln for ln in shown if len(ln) > cols - 1]
    assert not too_long, too_long
    # One violation per indented line: several of them here (size, aspect, frame rate...).
    indented = [ln for ln in shown if ln.startswith("    ") and not ln.startswith("      ")]
    assert len(indented) >= 2, shown
    # Under each violation, what to do about it (tp_violation_hint), wrapped at words.
    hints = [ln for ln in shown if ln.startswith("      → ")]
    assert len(hints) == len(indented), shown
    assert any("fit fills the 9:16 frame" in ln for ln in shown), shown
    assert "…" in shown[0] and shown[0].rstrip().endswith("transcode"), shown
    # Not a terminal: one line per file, as before.
    p = h.run(["check", name])
    assert len([ln for ln in p.stdout.splitlines() if ln.startswith("↻")]) == 1, p.stdout
    assert not any(ln.startswith("    ") for ln in p.stdout.splitlines()), p.stdout


def test_run_progress_on_a_terminal_fits_the_width():
    d = folder("runtty")
    long_name = "very_long_" + "x" * 80 + "_name.mp4"
    h.make_landscape(os.path.join(d, "in", long_name), seconds=6, size="640x360")
    cols = 60
    args = [h.TOKPREP, "run", "--workdir", os.path.join(d, "work")] + h.set_args(
        ["upload.sink=none", "fix.width=360", "fix.height=640", "fix.video.preset=medium"]) + \
        [os.path.join(d, "in")]
    p, out = pty_run(args, cols, timeout=120)
    assert p.returncode == 0, (p.returncode, out)
    shown = lines_of(out)
    busy = [ln for ln in shown if ln.startswith("  fit")]
    assert busy, "no progress line seen: %r" % shown[:20]
    assert any(re.search(r"very_long_x+…x*_name\.mp4", ln) for ln in busy), busy
    # The live display (before the summary) never draws past the terminal's width.
    live = [ln for ln in shown if not ln.startswith("summary")]
    too_long = [ln for ln in live if len(ln) > cols - 1]
    assert not too_long, too_long


if __name__ == "__main__":
    sys.exit(tprunner.main(globals(), cleanup=[ROOT]))
