#!/usr/bin/env python3
"""Terminal injection through file names (docs/SECURITY.md, "Terminal output"): a drop-folder
writer names files with ESC sequences (clear screen, OSC window title with BEL), a newline
(a forged output line), a raw 0x9b byte and U+009B (C1 CSI). `run`'s human output, its log lines
(TP_LOG=info names each skipped symlink), `status` over the ledger and `enqueue`'s human output
must show them escaped: no ESC, BEL, raw 0x9b or C2 9B byte, and no line that does not start
with one of tokprep's own prefixes. About 5 s."""
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tprunner  # noqa: E402
from pipeline_helpers import TOKPREP, make_vertical, set_args  # noqa: E402

T = tempfile.mkdtemp(prefix="tp_sec_terminal.")
DROP = os.path.join(T, "drop").encode()
HOSTILE = [
    b"a\x1b]0;PWNED\x07\x1b[2Jb.mp4",          # OSC title + clear screen (a real clip)
    b"c\nsummary   9 file(s): 9 done.mp4",       # a forged summary line (a real clip)
    b"bad\x1b[31mred.mp4",                       # not media: a failure line
    b"raw\x9bcsi.mp4",                           # raw C1 CSI byte (invalid UTF-8)
    b"utf\xc2\x9b2Jcsi.mp4",                     # U+009B encoded in UTF-8
]
LINK = b"link\x1b[2J.mp4"                         # a skipped symlink: an info log line


def tokprep(*args, env=None):
    e = dict(os.environ)
    e.update(env or {})
    return subprocess.run([TOKPREP.encode(), *args], capture_output=True, timeout=60, env=e)


def setup():
    os.makedirs(DROP)
    clip = os.path.join(T, "clip.mp4")
    make_vertical(clip, seconds=1)
    for name in HOSTILE:
        p = os.path.join(DROP, name)
        if b"bad" in name:
            with open(p, "wb") as f:
                f.write(b"not a video at all\n" * 10)
        else:
            shutil.copy(clip, p)
    os.symlink(clip.encode(), os.path.join(DROP, LINK))


def assert_clean(what, out, own_prefixes):
    for bad in (b"\x1b", b"\x07", b"\x9b"):
        assert bad not in out.replace(b"\xc2\x9b", b""), "%s: raw %r in output:\n%r" % (
            what, bad, out)
    assert b"\xc2\x9b" not in out, "%s: U+009B in output:\n%r" % (what, out)
    for line in out.splitlines():
        assert line.startswith(own_prefixes), "%s: a line tokprep did not write: %r" % (
            what, line)


def test_run_and_status():
    work = os.path.join(T, "work").encode()
    sink = os.path.join(T, "sink").encode()
    args = [b"run", b"-w", work] + [a.encode() for a in set_args(
        ["upload.sink=directory", "upload.directory.path=" + sink.decode()])] + [b"--", DROP]
    r = tokprep(*args, env={"TP_LOG": "info"})
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert_clean("run stdout", r.stdout, (b"probed ", b"fitted ", b"chunked ", b"done ",
                                          b"skipped ", b"failed ", b"retrying ", b"summary "))
    assert_clean("run stderr", r.stderr, (b"tokprep: ",))
    assert b"\\x1b]0;PWNED\\x07" in r.stdout, r.stdout   # shown, escaped
    assert b"link\\x1b[2J.mp4" in r.stderr, r.stderr      # the log line names the link
    forged = [l for l in r.stdout.splitlines() if l.startswith(b"summary   9 file(s)")]
    assert not forged, "a file name forged an output line: %r" % forged
    s = tokprep(b"status", b"-w", work)
    assert s.returncode == 0, (s.returncode, s.stdout, s.stderr)
    assert_clean("status", s.stdout, (b"  ", b"by status", b"failed (", b"rejected by",
                                      b"queued or", b"done", work))
    assert b"bad\\x1b[31mred.mp4" in s.stdout, s.stdout


def test_enqueue_human_output():
    if not shutil.which("redis-server"):
        tprunner.skip("no redis-server")
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from queue_helpers import Redis  # noqa: E402
    r = Redis(T)
    try:
        p = tokprep(b"enqueue", b"--queue", r.url("q").encode(), b"--", DROP)
        assert_clean("enqueue", p.stdout, (b"added ", b"exists ", b"error ", b"0 added",
                                           b"1 added", b"2 added", b"3 added", b"4 added"))
        assert_clean("enqueue stderr", p.stderr, (b"tokprep",))
        # Any Redis client may name itself: a consumer named with escapes and a newline.
        r.cmd("XGROUP", "CREATECONSUMER", "tokprep:q:jobs", "workers",
              "w\x1b]0;PWNED\x07\nworkers (forged)")
        s = tokprep(b"status", b"--queue", r.url("q").encode())
        assert s.returncode == 0, (s.returncode, s.stdout, s.stderr)
        assert_clean("status --queue", s.stdout, (b"  ", b"q:", b"redis", b"tokprep",
                                                  b"workers (idle", b"dead letters"))
        assert b"\\x1b]0;PWNED" in s.stdout, s.stdout
    finally:
        r.stop()


if __name__ == "__main__":
    sys.exit(tprunner.main(globals(), setup=setup, cleanup=[T]))
