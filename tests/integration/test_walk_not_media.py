#!/usr/bin/env python3
"""Nothing is skipped silently (issue 13): in a folder walk, a file whose name says video or
audio but whose content is not media (an HTML error page named video.mp4, random bytes named
clip.mov, an empty take.mkv) is an error in `check` (line, JSON, exit status) and a failed row
in `run`'s ledger (events, `status`, summary, exit status); the good files next to them are still
processed; other non-media files are skipped with a count."""
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tprunner  # noqa: E402
from pipeline_helpers import TOKPREP, make_vertical, run, set_args  # noqa: E402

T = tempfile.mkdtemp(prefix="tp_not_media.")
DROP = os.path.join(T, "drop")
BAD = {
    "video.mp4": "looks like HTML",
    "clip.mov": "looks like binary data",
    "take.mkv": "looks like an empty file",
}


def setup():
    os.makedirs(DROP)
    make_vertical(os.path.join(DROP, "a_good.mp4"), seconds=1)
    make_vertical(os.path.join(DROP, "z_good.mp4"), seconds=1, freq=660)
    with open(os.path.join(DROP, "video.mp4"), "w") as f:
        f.write("<!DOCTYPE html>\n<html><head><title>404 Not Found</title></head>"
                "<body><h1>Not Found</h1></body></html>\n")
    rnd = random.Random(7)
    with open(os.path.join(DROP, "clip.mov"), "wb") as f:
        f.write(bytes(rnd.getrandbits(8) for _ in range(50_000)))
    open(os.path.join(DROP, "take.mkv"), "w").close()
    with open(os.path.join(DROP, "notes.txt"), "w") as f:
        f.write("shot list\n")
    with open(os.path.join(DROP, "data.json"), "w") as f:
        f.write("{}\n")


def test_check():
    r = run(["check", "--json", *set_args(), DROP])
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    doc = json.loads(r.stdout)
    by = {os.path.basename(f["path"]): f for f in doc["files"]}
    assert sorted(by) == sorted(["a_good.mp4", "z_good.mp4"] + list(BAD)), sorted(by)
    for name, why in BAD.items():
        f = by[name]
        assert f["verdict"] == "error" and "not media: " + why in f["error"], f
    assert by["a_good.mp4"]["verdict"] == "pass" and by["z_good.mp4"]["verdict"] == "pass"
    s = doc["summary"]
    assert s["error"] == 3 and s["pass"] == 2 and s["non_media_skipped"] == 2, s
    r = run(["check", *set_args(), DROP])
    assert r.returncode == 2
    assert "video.mp4  error: not media: looks like HTML" in r.stdout, r.stdout
    assert "2 non-media files skipped" in r.stdout, r.stdout


def test_run_ledger_and_status():
    work = os.path.join(T, "work")
    sink = os.path.join(T, "sink")
    sets = set_args(["upload.sink=directory", "upload.directory.path=" + sink])
    r = run(["run", "--json", "-w", work, *sets, DROP])
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    evs = [json.loads(x) for x in r.stdout.splitlines() if x.strip()]
    failed = {os.path.basename(e["path"]): e for e in evs
              if e["event"] == "failed" and e.get("final")}
    assert sorted(failed) == sorted(BAD), failed
    for name, why in BAD.items():
        assert "not media: " + why in failed[name]["reason"], failed[name]
    summ = [e for e in evs if e["event"] == "summary"][0]
    assert summ["failed"] == 3 and summ["done"] == 2 and summ["non_media_skipped"] == 2, summ
    delivered = sorted(f for f in os.listdir(sink) if f.endswith(".mp4"))
    assert delivered == ["a_good.mp4", "z_good.mp4"], delivered
    st = run(["status", "--json", "-w", work])
    doc = json.loads(st.stdout)
    rows = {os.path.basename(f["path"]): f for f in doc["failed"]}
    assert sorted(rows) == sorted(BAD), doc
    for name, why in BAD.items():
        assert "not media: " + why in rows[name]["reason"], rows[name]
    # Human form of the run's summary.
    r = run(["run", "-w", os.path.join(T, "work2"), *set_args(
        ["upload.sink=directory", "upload.directory.path=" + sink + "2"]), DROP])
    assert r.returncode == 2 and "2 non-media files skipped" in r.stdout, r.stdout


def test_watch():
    """run --watch: a broken download dropped later fails with its reason; a symlink dropped
    into the folder is never taken."""
    watch = os.path.join(T, "watch")
    work = os.path.join(T, "wwork")
    os.makedirs(watch)
    secret = os.path.join(T, "secret_outside.mp4")
    make_vertical(secret, seconds=1, freq=880)
    args = [TOKPREP, "run", "--watch", "--json", "-w", work, *set_args(
        ["upload.sink=none", "pipeline.settle_seconds=0.5"]), watch]
    p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines = []
    th = threading.Thread(target=lambda: lines.extend(p.stdout), daemon=True)
    th.start()
    try:
        for _ in range(50):
            if os.path.exists(os.path.join(work, "tokprep.db.lock")):
                break
            time.sleep(0.1)
        time.sleep(0.5)
        with open(os.path.join(watch, "late.mp4"), "w") as f:
            f.write("<html><body>503 Service Unavailable</body></html>\n")
        os.symlink(secret, os.path.join(watch, "link.mp4"))
        shutil.copy(os.path.join(DROP, "a_good.mp4"), os.path.join(watch, "ok.mp4"))
        deadline = time.time() + 30
        while time.time() < deadline:
            evs = [json.loads(x) for x in list(lines) if x.strip()]
            ends = {e["path"] for e in evs if e["event"] == "uploaded" or
                    (e["event"] == "failed" and e.get("final"))}
            if {os.path.join(watch, "late.mp4"), os.path.join(watch, "ok.mp4")} <= ends:
                break
            time.sleep(0.1)
        time.sleep(1.0)  # the link would have settled by now
    finally:
        p.send_signal(signal.SIGINT)
        p.wait(timeout=10)
        th.join(timeout=5)
    err = p.stderr.read()
    evs = [json.loads(x) for x in lines if x.strip()]
    failed = [e for e in evs if e["event"] == "failed" and e.get("final")]
    assert [os.path.basename(e["path"]) for e in failed] == ["late.mp4"], evs
    assert "not media: looks like HTML" in failed[0]["reason"], failed[0]
    seen = {e["path"] for e in evs if e.get("path")}
    assert os.path.join(watch, "link.mp4") not in seen and secret not in seen, seen
    assert "link.mp4: symbolic link, not followed" in err, err


if __name__ == "__main__":
    sys.exit(tprunner.main(globals(), setup=setup, cleanup=[T]))
