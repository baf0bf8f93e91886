"""`tokprep run` with the tiktok sink against the fake TikTok server: kill -9 in the middle of
an upload, re-run: the upload continues on the same publish_id from the last acknowledged chunk
(no second init), every content is posted exactly once with the right bytes, a further run
posts nothing, and no upload token is printed."""
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.environ.get("TP_SOURCE_DIR", os.path.join(HERE, "..", "..")),
                                "tests", "fake_tiktok"))
import pipeline_helpers as h  # noqa: E402
from harness import Client, FakeTikTok, sha256_file  # noqa: E402
import harness  # noqa: E402
import tprunner  # noqa: E402

# 1/100 of TikTok's chunk rules so a 370 KB file is three chunks.
SMALL_SERVER = harness.SMALL_SERVER
SMALL_SETS = harness.small_sets()


def make(path, freq):
    h.ff("-f", "lavfi", "-i", "testsrc2=size=180x320:rate=24:duration=2",
         "-f", "lavfi", "-i", f"sine=frequency={freq}:duration=2",
         "-c:v", "libx264", "-preset", "ultrafast", "-b:v", "4M", "-minrate", "4M",
         "-maxrate", "4M", "-bufsize", "1M", "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "32k",
         "-shortest", "-movflags", "+faststart", path)


def acknowledged(db):
    """The highest last acknowledged chunk in the ledger, -1 when none. (A plain connection:
    a mode=ro one may not see the WAL and read stale data.)"""
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


def test_run_tiktok():
    with h.TempDir() as t:
        src = os.path.join(t, "in")
        os.makedirs(src)
        make(os.path.join(src, "a.mp4"), 440)
        make(os.path.join(src, "b.mp4"), 880)
        shutil.copy(os.path.join(src, "a.mp4"), os.path.join(src, "a-again.mp4"))
        work = os.path.join(t, "work")
        srv = FakeTikTok(*(SMALL_SERVER + ["--throttle", "150000"]), workdir=t)
        try:
            c = Client(srv, t, sets=SMALL_SETS)
            c.login()
            cmd = [c.binary, "run", "--json", "-w", work] + c.args(*(h.set_args() + [src]))
            outputs = []

            # 1. Killed once the ledger records the first chunk of the first upload as
            #    acknowledged (TikTok answered 206 and the checkpoint is committed).
            p = subprocess.Popen(cmd, env=c.env, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True)
            lines = []
            th = threading.Thread(target=lambda: lines.extend(p.stdout), daemon=True)
            th.start()
            deadline = time.time() + 60
            db = os.path.join(work, "tokprep.db")
            while time.time() < deadline and p.poll() is None:
                if acknowledged(db) >= 0:
                    break
                time.sleep(0.02)
            assert p.poll() is None, "run ended before the kill"
            p.kill()
            p.wait()
            th.join(timeout=5)
            outputs += lines + [p.stderr.read()]
            st = srv.inspect()
            assert st["counts"].get("init") == 1, st["counts"]
            first = st["publishes"][0]
            assert not first["complete"] and first["chunks"] >= 1, first

            # 2. Re-run until done: the same publish continues; b is posted; a-again skipped.
            r = subprocess.run(cmd, env=c.env, capture_output=True, text=True, timeout=120)
            outputs += [r.stdout, r.stderr]
            assert r.returncode == 0, r.stderr
            # The duration of what is posted is known: no "duration unknown" (issue 16).
            assert "duration unknown" not in r.stderr, r.stderr
            evs = h.events(r.stdout)
            term = h.terminal_events(evs)
            assert len(term) == 3 and all(len(v) == 1 for v in term.values()), term
            kinds = sorted(v[0]["event"] for v in term.values())
            assert kinds == ["skipped", "uploaded", "uploaded"], kinds
            st = srv.inspect()
            # The killed client may have handed the next chunk to the kernel already: the server
            # then has it, answers the resumed PUT with 416 and its progress, and the client
            # continues from there. The kill may also land while a chunk is on the wire: the
            # server then drops the partial chunk. Nothing else may be refused.
            assert all("does not continue" in x["reason"]
                       or x["reason"] == "connection closed mid-chunk"
                       for x in st["rejections"]), st
            assert st["counts"].get("init") == 2, st["counts"]  # no second init
            done = [x for x in st["publishes"] if x["complete"]]
            assert len(done) == 2, st["publishes"]
            assert done[0]["publish_id"] == first["publish_id"]
            assert sorted(x["sha256"] for x in done) == sorted(
                sha256_file(os.path.join(src, n)) for n in ("a.mp4", "b.mp4"))
            uploaded = [e for e in evs if e["event"] == "uploaded"]
            assert all(e.get("publish_id", "").startswith("v_pub_file") for e in uploaded)

            # 3. Again: nothing is posted.
            r = subprocess.run(cmd, env=c.env, capture_output=True, text=True, timeout=60)
            outputs += [r.stdout, r.stderr]
            assert r.returncode == 0, r.stderr
            assert all(v[0]["event"] == "skipped"
                       for v in h.terminal_events(h.events(r.stdout)).values())
            assert srv.inspect()["counts"].get("init") == 2
            st = json.loads(subprocess.run([c.binary, "status", "--json", "-w", work],
                                           capture_output=True, text=True, check=True).stdout)
            assert st["by_status"] == {"done": 2}, st

            # Upload tokens and OAuth secrets never reach the output.
            text = "".join(outputs)
            assert "upload_token" not in text, "an upload URL was printed"
            for s in c.secrets():
                assert s not in text, "a secret was printed"
        finally:
            srv.stop()


def test_transient_retry():
    """A chunk answered with HTTP 500 (the client's own retries off): the pipeline retries the
    file after a backoff, continuing the same publish; the file is not failed."""
    with h.TempDir() as t:
        src = os.path.join(t, "in")
        os.makedirs(src)
        make(os.path.join(src, "c.mp4"), 660)
        work = os.path.join(t, "work")
        srv = FakeTikTok(*(SMALL_SERVER + ["--fault", "500:put:2"]), workdir=t)
        try:
            c = Client(srv, t, sets=SMALL_SETS + ["upload.tiktok.max_retries=0"])
            c.login()
            cmd = [c.binary, "run", "--json", "-w", work] + c.args(*(h.set_args() + [src]))
            r = subprocess.run(cmd, env=c.env, capture_output=True, text=True, timeout=60)
            assert r.returncode == 0, r.stderr
            evs = h.events(r.stdout)
            fails = [e for e in evs if e["event"] == "failed"]
            assert len(fails) == 1 and not fails[0]["final"] and fails[0]["stage"] == "deliver", \
                fails
            assert [e["event"] for e in evs if e["event"] in ("uploaded", "skipped")] == \
                ["uploaded"]
            st = srv.inspect()
            assert st["counts"].get("init") == 1, st["counts"]
            [pub] = st["publishes"]
            assert pub["complete"] and pub["sha256"] == sha256_file(os.path.join(src, "c.mp4"))
        finally:
            srv.stop()


if __name__ == "__main__":
    sys.exit(tprunner.main(globals()))
