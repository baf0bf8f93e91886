"""The ledger keeps the probe's media info (pipeline/jobrec.c), and a run resumed after a crash
takes it from there instead of probing the source again: killed (SIGKILL) while paused after
the fit, the file's row holds its media info; changed in the ledger (a field no rule and no fit
reads: start_time), the resumed run's manifest reports the ledger's value. A stage that probed
again would report the file's own. Also: a completed run records media info for every row, and
the resumed delivery is complete and correct (chunk hashes match the delivered file).

The exception: a file that passes as is (its own bytes are delivered) is probed again when
resumed, so its verdict is about the bytes this run hashes and delivers, not about what the
sampled fingerprint took for the same content: killed after the chunk stage, with the ledger's
media info changed, the resumed manifest reports the file's own."""
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pipeline_helpers as h  # noqa: E402

LEDGER_START = 12.5


def kill_after(stage, args, work, t):
    """Run args until it pauses after `stage`, SIGKILL it, then set the ledger's start_time to
    LEDGER_START in the one row's media info; returns the media info the probe recorded."""
    pause = os.path.join(t, "pause-" + stage)
    os.makedirs(pause)
    env = dict(os.environ, TOKPREP_TEST_PAUSE_AFTER=stage, TOKPREP_TEST_PAUSE_DIR=pause)
    p = subprocess.Popen([h.TOKPREP, *args], env=env, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    paused = os.path.join(pause, stage + ".paused")
    deadline = time.time() + 60
    while not os.path.exists(paused) and p.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    assert os.path.exists(paused), f"never paused after {stage} (no TOKPREP_TEST_HOOKS?)"
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    con = sqlite3.connect(os.path.join(work, "tokprep.db"))
    rows = con.execute("SELECT id, stage, status, media FROM jobs").fetchall()
    assert len(rows) == 1, rows
    row_id, at, status, media = rows[0]
    assert (at, status) == (stage, "running"), (at, status)
    assert media, "the probe's media info is not in the ledger"
    m = json.loads(media)
    assert m["start_time"] != LEDGER_START
    changed = dict(m, start_time=LEDGER_START)
    con.execute("UPDATE jobs SET media=? WHERE id=?", (json.dumps(changed), row_id))
    con.commit()
    con.close()
    return m


def passed_as_is_is_probed_again():
    with h.TempDir() as t:
        src = os.path.join(t, "in")
        os.makedirs(src)
        h.make_vertical(os.path.join(src, "tall.mp4"))
        sink = os.path.join(t, "ready")
        work = os.path.join(t, "work")
        args = ["run", "--json", "-w", work] + h.set_args(
            ["upload.sink=directory", f"upload.directory.path={sink}"]) + [src]
        probed = kill_after("chunk", args, work, t)
        r = h.run(args, timeout=120)
        assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
        evs = h.events(r.stdout)
        assert [e["verdict"] for e in evs if e["event"] == "probed"] == ["pass"], evs
        man = h.check_manifest(os.path.join(sink, "tall.json"))
        assert man["verdict"] == "pass", man
        assert man["source"]["media"]["start_time"] == probed["start_time"], man["source"]
        assert man["output"]["media"]["start_time"] == probed["start_time"], man["output"]


def main():
    passed_as_is_is_probed_again()
    with h.TempDir() as t:
        src = os.path.join(t, "in")
        os.makedirs(src)
        h.make_landscape(os.path.join(src, "wide.mp4"))
        sink = os.path.join(t, "ready")
        work = os.path.join(t, "work")
        args = ["run", "--json", "-w", work] + h.set_args(
            ["upload.sink=directory", f"upload.directory.path={sink}"]) + [src]
        m = kill_after("fit", args, work, t)
        assert m["video"]["width"] == 320 and m["video"]["height"] == 180, m
        db = os.path.join(work, "tokprep.db")

        r = h.run(args, timeout=120)
        assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
        evs = h.events(r.stdout)
        assert [e["event"] for e in evs if e["event"] == "uploaded"] == ["uploaded"], evs
        # Resumed at the fit: no probe, so no second verdict either.
        assert not [e for e in evs if e["event"] == "probed"], evs
        man = h.check_manifest(os.path.join(sink, "wide.json"))
        assert man["source"]["media"]["start_time"] == LEDGER_START, man["source"]["media"]
        assert man["verdict"] == "fix" and man["violations_fixed"], man
        assert man["output"]["media"]["video"]["width"] == 180, man["output"]["media"]

        con = sqlite3.connect(db)
        (status, media, outputs), = con.execute("SELECT status, media, outputs FROM jobs")
        con.close()
        assert status == "done" and json.loads(media)["start_time"] == LEDGER_START
        # Each output keeps what the fit verified it as, next to its chunk plan.
        out = json.loads(outputs)
        assert len(out) == 1 and out[0]["media"]["video"]["width"] == 180, out
        assert out[0]["chunk_count"] == len(out[0]["chunks"]) >= 1, out
    print("ok")


if __name__ == "__main__":
    main()
