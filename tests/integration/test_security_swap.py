"""Files are opened once, as files (docs/SECURITY.md, class 1): a source replaced while `tokprep
run` works on it never delivers the new bytes. The run pauses after a stage (TOKPREP_TEST_PAUSE_*,
a test-only hook compiled in with TOKPREP_TEST_HOOKS) while the test swaps the file:

- renamed over (a "private" clip put at the source's name) after the probe or after the chunk
  stage: what is delivered (directory sink) or posted (fake TikTok) is the original's bytes;
- rewritten in place with the same size and modification time after the chunk stage: the file
  fails with "changed since it was checked (chunk N SHA-256 differs); not delivered" and nothing
  of it is delivered or completed on TikTok;
- rewritten in place after the probe (before the fit): the fit's result is not delivered;
- found by the walk as a file, a symlink to a file outside the folder when it is opened: refused;
- rewritten where the fingerprint does not look after a killed upload: the resumed upload fails
  instead of completing a post of mixed contents."""
import os
import shutil
import sqlite3
import struct
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.environ.get("TP_SOURCE_DIR", os.path.join(HERE, "..", "..")),
                                "tests", "fake_tiktok"))
import pipeline_helpers as h  # noqa: E402
from harness import Client, FakeTikTok  # noqa: E402
import harness  # noqa: E402
import tprunner  # noqa: E402

MARK = b"PRIVATE-BYTES-" * 300


def rename_over(path, private):
    tmp = path + ".swap"
    shutil.copy(private, tmp)
    os.rename(tmp, path)


def rewrite_in_place(path, _private):
    """Same size, same mtime: only the content check can notice."""
    st = os.stat(path)
    with open(path, "r+b") as f:
        f.seek(st.st_size // 2)
        f.write(MARK[: max(1, min(len(MARK), st.st_size // 2 - 1))])
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert os.path.getsize(path) == st.st_size


def symlink_over(path, private):
    """The walked name becomes a symlink to a file outside the folder."""
    tmp = path + ".swap"
    os.symlink(private, tmp)
    os.rename(tmp, path)


def run_paused(cmd, env, stage, swap, pause_dir):
    """Run cmd; when it pauses after `stage`, call swap(), let it go on; return (rc, out, err)."""
    os.makedirs(pause_dir, exist_ok=True)
    env = dict(env, TOKPREP_TEST_PAUSE_AFTER=stage, TOKPREP_TEST_PAUSE_DIR=pause_dir)
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out = []
    th = threading.Thread(target=lambda: out.append(p.communicate()), daemon=True)
    th.start()
    paused = os.path.join(pause_dir, stage + ".paused")
    deadline = time.time() + 60
    while not os.path.exists(paused) and p.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    reached = os.path.exists(paused)
    if reached:
        swap()
    open(os.path.join(pause_dir, stage + ".go"), "w").close()
    th.join(120)
    assert reached, f"the run never paused after {stage} (built without TOKPREP_TEST_HOOKS?)"
    stdout, stderr = out[0]
    return p.returncode, stdout, stderr


def failure_of(stdout, name):
    evs = h.events(stdout)
    fails = [e for e in evs if e["event"] == "failed" and e.get("final")
             and os.path.basename(e["path"]) == name]
    return fails[0]["reason"] if fails else None


def directory_case(t, label, make, stage, swap, expect):
    d = os.path.join(t, label)
    src_dir, sink, work = (os.path.join(d, x) for x in ("in", "sink", "work"))
    os.makedirs(src_dir)
    src = os.path.join(src_dir, "clip.mp4")
    private = os.path.join(d, "private.mp4")
    make(src, freq=440)
    make(private, freq=880, seconds=3)
    original = h.sha256_file(src)
    cmd = [h.TOKPREP, "run", "--json", "-w", work] + h.set_args(
        ["upload.sink=directory", f"upload.directory.path={sink}"]) + [src_dir]
    rc, out, err = run_paused(cmd, os.environ, stage, lambda: swap(src, private),
                              os.path.join(d, "pause"))
    delivered = sorted(f for f in os.listdir(sink) if not f.endswith(".json")) \
        if os.path.isdir(sink) else []
    for f in delivered:  # never the private clip's bytes, whole or in part
        data = open(os.path.join(sink, f), "rb").read()
        assert MARK[:64] not in data, (label, f)
        assert h.sha256_file(os.path.join(sink, f)) != h.sha256_file(private), (label, f)
    why = failure_of(out, "clip.mp4")
    print(f"{label}: {'failed: ' + why if why else 'delivered ' + ', '.join(delivered)}")
    if expect.endswith("-or-changed") and why:
        expect = "changed since it was checked (written to or replaced since it was opened)"
    if expect.startswith("original"):
        assert rc == 0, (label, rc, out, err)
        assert delivered == ["clip.mp4"], (label, delivered)
        assert h.sha256_file(os.path.join(sink, "clip.mp4")) == original, label
    elif expect.startswith("same-duration"):
        assert rc == 0, (label, rc, out, err)
        assert delivered == ["clip.mp4"], (label, delivered)
        dur = float(subprocess.run(
            ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of",
             "default=nw=1:nk=1", os.path.join(sink, "clip.mp4")],
            capture_output=True, text=True, check=True).stdout)
        assert 1.5 < dur < 2.6, (label, dur)  # the original is 2 s, the private clip 3 s
    else:
        assert rc != 0, (label, rc, out, err)
        assert delivered == [], (label, delivered)
        assert why and expect in why, (label, why, out, err)
    assert not h.temp_files(sink), (label, h.temp_files(sink))


def tiktok_case(t, label, swap, expect):
    d = os.path.join(t, label)
    src_dir, work = os.path.join(d, "in"), os.path.join(d, "work")
    os.makedirs(src_dir)
    src = os.path.join(src_dir, "clip.mp4")
    private = os.path.join(d, "private.mp4")
    h.make_vertical(src, freq=660)
    h.make_vertical(private, freq=990, seconds=3)
    original = h.sha256_file(src)
    with FakeTikTok(workdir=d) as srv:
        c = Client(srv, d)
        c.login()
        cmd = [c.binary, "run", "--json", "-w", work] + c.args(*(h.set_args() + [src_dir]))
        rc, out, err = run_paused(cmd, c.env, "chunk", lambda: swap(src, private),
                                  os.path.join(d, "pause"))
        st = srv.inspect()
        complete = [p for p in st["publishes"] if p["complete"]]
        why = failure_of(out, "clip.mp4")
        print(f"{label}: {'failed: ' + why if why else 'posted %d' % len(complete)}")
        assert all(p["sha256"] != h.sha256_file(private) for p in st["publishes"]), label
        if expect == "original":
            assert rc == 0, (label, rc, out, err)
            assert [p["sha256"] for p in complete] == [original], (label, st["publishes"])
        else:
            assert rc != 0, (label, rc, out, err)
            assert complete == [], (label, st["publishes"])
            assert why and expect in why and "not delivered" in why, (label, why, err)
        for s in c.secrets():
            assert s not in out and s not in err


# 1/100 of TikTok's chunk rules: a 5 MB file is fifty chunks.
SMALL_SERVER = harness.SMALL_SERVER
SMALL_SETS = harness.small_sets()


def last_acknowledged(db):
    if not os.path.exists(db):
        return -1
    try:
        con = sqlite3.connect(db, timeout=1)
        try:
            row = con.execute("SELECT MAX(last_chunk) FROM jobs WHERE publish_id IS NOT NULL"
                              ).fetchone()
        finally:
            con.close()
    except sqlite3.Error:
        return -1
    return row[0] if row and row[0] is not None else -1


def resume_case(t):
    """Killed mid-upload; the source is then rewritten where the fingerprint does not look
    (same size, between its first and middle MiB): the next run must not finish the post with
    the new bytes after the old ones."""
    d = os.path.join(t, "resume")
    src_dir, work = os.path.join(d, "in"), os.path.join(d, "work")
    os.makedirs(src_dir)
    src = os.path.join(src_dir, "big.mp4")
    h.make_vertical(src, freq=500)
    with open(src, "ab") as f:  # a 4 MiB `free` box after the media: still passes as is
        n = 4 << 20
        f.write(struct.pack(">I4s", 8 + n, b"free") + b"\0" * n)
    size = os.path.getsize(src)
    assert size > (3 << 20) + (1 << 20), size  # sampled fingerprint, with a gap to write into
    with FakeTikTok(*(SMALL_SERVER + ["--throttle", "300000"]), workdir=d) as srv:
        c = Client(srv, d, sets=SMALL_SETS)
        c.login()
        cmd = [c.binary, "run", "--json", "-w", work] + c.args(*(h.set_args() + [src_dir]))
        p = subprocess.Popen(cmd, env=c.env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        db = os.path.join(work, "tokprep.db")
        deadline = time.time() + 60
        while time.time() < deadline and p.poll() is None and last_acknowledged(db) < 0:
            time.sleep(0.02)
        assert p.poll() is None, "the run ended before the kill"
        p.kill()
        p.wait()
        off = (1 << 20) + (1 << 18)  # after the first MiB, before the middle one
        assert off + 4096 < size // 2 - (1 << 19)
        with open(src, "r+b") as f:
            f.seek(off)
            f.write(MARK[:4096])
        r = subprocess.run(cmd, env=c.env, capture_output=True, text=True, timeout=120)
        st = srv.inspect()
        why = failure_of(r.stdout, "big.mp4")
        print(f"resume-rewrite: {'failed: ' + why if why else 'posted'}")
        assert r.returncode != 0, (r.stdout, r.stderr)
        assert not [x for x in st["publishes"] if x["complete"]], st["publishes"]
        assert why and "changed since its upload began" in why and "not delivered" in why, why


def test_security_swap():
    changed_chunk = "changed since it was checked (chunk 1 SHA-256 differs); not delivered"
    with h.TempDir() as t:
        # Passed as is (the source itself is delivered).
        # Renamed over after the probe: the descriptor still reads the original; the original
        # inode's status-change time (its last name went) may also fail it as changed.
        directory_case(t, "pass-rename-after-probe", h.make_vertical, "probe", rename_over,
                       "original-or-changed")
        directory_case(t, "pass-rename-after-chunk", h.make_vertical, "chunk", rename_over,
                       "original")
        directory_case(t, "pass-rewrite-after-chunk", h.make_vertical, "chunk",
                       rewrite_in_place, changed_chunk)
        # Fitted (transcoded from the source's descriptor).
        directory_case(t, "fit-rename-after-probe", h.make_landscape, "probe", rename_over,
                       "same-duration-or-changed")
        directory_case(t, "fit-rewrite-after-probe", h.make_landscape, "probe",
                       rewrite_in_place, "changed since it was checked (written to or replaced "
                       "since it was opened); not delivered")
        # Found by the walk as a file, a symlink by the time it is opened: not followed.
        directory_case(t, "walk-then-symlink", h.make_vertical, "walk", symlink_over,
                       "is a symbolic link; not followed")
        # Posted to (fake) TikTok.
        tiktok_case(t, "tiktok-rename-after-chunk", rename_over, "original")
        tiktok_case(t, "tiktok-rewrite-after-chunk", rewrite_in_place, changed_chunk)
        # A later run resuming an upload.
        resume_case(t)


if __name__ == "__main__":
    sys.exit(tprunner.main(globals()))
