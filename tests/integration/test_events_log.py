#!/usr/bin/env python3
"""The events log (tp_events_log_path(): STATE.events), what `tokprep serve` follows: a `run`
writes the lines `run --json` prints (progress at most twice a second per file), appended run
after run, mode 0600; a symbolic link planted at its name is never followed (no log, the run
still succeeds); past TOKPREP_EVENTS_LOG_MAX bytes (a test hook; 8 MiB by default) it is renamed
to STATE.events.1 and a new one starts. About 10 s."""
import os
import stat
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pipeline_helpers as h  # noqa: E402
import tprunner  # noqa: E402

ROOT = tempfile.mkdtemp(prefix="tp_events_log.")
PROGRESS = ('"event":"fit_progress"', '"event":"upload_progress"')


def folder(name, n=2):
    src = os.path.join(ROOT, name, "in")
    os.makedirs(src)
    for i in range(n):
        if i % 2:
            h.make_landscape(os.path.join(src, "land%d.mp4" % i), freq=500 + 10 * i)
        else:
            h.make_vertical(os.path.join(src, "vert%d.mp4" % i), freq=300 + 10 * i)
    return src


def run(src, work, env=None, force=False):
    sink = os.path.join(os.path.dirname(src), "sink")
    args = [h.TOKPREP, "run", "--json", "-w", work] + (["--force"] if force else []) + \
        h.set_args(["upload.sink=directory", "upload.directory.path=" + sink]) + [src]
    p = subprocess.run(args, capture_output=True, text=True, timeout=120,
                       env=dict(os.environ, **(env or {})))
    assert p.returncode == 0, (p.returncode, p.stdout, p.stderr)
    return p.stdout.splitlines(keepends=False)


def read_lines(path):
    with open(path) as f:
        return f.read().splitlines()


def not_progress(lines):
    return [line for line in lines if not any(k in line for k in PROGRESS)]


def progress(lines):
    return [line for line in lines if any(k in line for k in PROGRESS)]


def test_log_is_run_json():
    src = folder("same")
    work = os.path.join(ROOT, "same", "work")
    out = run(src, work)
    log = os.path.join(work, "tokprep.db.events")
    st = os.stat(log)
    assert stat.S_IMODE(st.st_mode) == 0o600, oct(st.st_mode)
    lines = read_lines(log)
    assert not_progress(lines) == not_progress(out), (lines, out)
    assert set(progress(lines)) <= set(progress(out)), (progress(lines), progress(out))
    assert lines[-1].find('"event":"summary"') > 0, lines[-1]
    # The next run appends (the file is not truncated).
    out2 = run(src, work, force=True)
    lines2 = read_lines(log)
    assert not_progress(lines2) == not_progress(out) + not_progress(out2)


def test_symlink_not_followed():
    src = folder("link", n=1)
    work = os.path.join(ROOT, "link", "work")
    os.makedirs(work)
    target = os.path.join(ROOT, "link", "target")
    with open(target, "w") as f:
        f.write("keep\n")
    log = os.path.join(work, "tokprep.db.events")
    os.symlink(target, log)
    out = run(src, work)
    assert any('"event":"summary"' in line for line in out), out
    assert os.path.islink(log), "the link was replaced"
    with open(target) as f:
        assert f.read() == "keep\n", "the link was followed"
    # A dangling link: its target is not created either.
    os.unlink(log)
    missing = os.path.join(ROOT, "link", "created-through-link")
    os.symlink(missing, log)
    run(src, work, force=True)
    assert not os.path.exists(missing), "a file was created through the link"


def test_rotation():
    src = folder("rotate", n=3)
    work = os.path.join(ROOT, "rotate", "work")
    cap = 1024
    out = run(src, work, env={"TOKPREP_EVENTS_LOG_MAX": str(cap)})
    log = os.path.join(work, "tokprep.db.events")
    old = log + ".1"
    assert os.path.exists(old), os.listdir(work)
    longest = max(len(line) + 1 for line in out)
    for p in (log, old):
        size = os.path.getsize(p)
        assert 0 < size <= cap + longest, (p, size)
        assert stat.S_IMODE(os.stat(p).st_mode) == 0o600, p
    kept = not_progress(read_lines(old) + read_lines(log))
    want = not_progress(out)
    assert len(kept) < len(want), "nothing was rotated away"
    assert want[-len(kept):] == kept, (kept, want)


def setup():
    if subprocess.run(["sh", "-c", "command -v ffmpeg"], capture_output=True).returncode:
        tprunner.skip("no ffmpeg")


if __name__ == "__main__":
    sys.exit(tprunner.main(globals(), setup=setup, cleanup=[ROOT]))
