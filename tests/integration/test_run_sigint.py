"""SIGINT during fits: `tokprep run` exits with 130 within 2 s, leaves no temporary or partial
file, the ledger is consistent (interrupted work queued), and a re-run finishes the job."""
import json
import os
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pipeline_helpers as h  # noqa: E402
import tprunner  # noqa: E402


def test_run_sigint():
    with h.TempDir() as t:
        src = os.path.join(t, "in")
        os.makedirs(src)
        # Big enough outputs and a slow preset, so fits are surely in flight at the signal.
        for i in range(3):
            h.make_landscape(os.path.join(src, f"l{i}.mp4"), seconds=4, freq=400 + 100 * i,
                             size="640x360")
        sink = os.path.join(t, "sink")
        work = os.path.join(t, "work")
        sets = h.set_args(["upload.sink=directory", f"upload.directory.path={sink}",
                           "fix.width=360", "fix.height=640", "fix.video.preset=medium"])
        args = [h.TOKPREP, "run", "--json", "-w", work] + sets + [src]
        p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        lines = []

        def reader():
            for line in p.stdout:
                lines.append(line)
        th = threading.Thread(target=reader, daemon=True)
        th.start()
        deadline = time.time() + 30
        while time.time() < deadline:
            if any('"fit_progress"' in ln for ln in lines):
                break
            time.sleep(0.05)
        assert any('"fit_progress"' in ln for ln in lines), "no fit in progress"
        t0 = time.time()
        p.send_signal(signal.SIGINT)
        rc = p.wait(timeout=10)
        took = time.time() - t0
        th.join(timeout=5)
        print(f"exit {rc} after {took:.2f} s")
        assert rc == 130, (rc, p.stderr.read())
        assert took <= 2.0, took
        evs = h.events("".join(lines))
        assert evs[-1]["event"] == "summary", evs[-1]
        # No partial output under a final name, no temporary file anywhere.
        assert h.temp_files(work, sink) == [], h.temp_files(work, sink)
        for root, _d, files in os.walk(os.path.join(work, "out")):
            assert not files, (root, files)  # interrupted fits restart from scratch
        delivered = {e["path"] for e in evs if e["event"] == "uploaded"}
        if os.path.isdir(sink):
            assert len([f for f in os.listdir(sink) if f.endswith(".mp4")]) == len(delivered)
        st = json.loads(subprocess.run([h.TOKPREP, "status", "--json", "-w", work],
                                       capture_output=True, text=True, check=True).stdout)
        assert "running" not in st["by_status"], st
        assert st["by_status"].get("queued", 0) + st["by_status"].get("done", 0) == 3, st

        # A second SIGINT exits at once, even in the middle of the wait for workers.
        p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        time.sleep(1.0)
        p.send_signal(signal.SIGINT)
        p.send_signal(signal.SIGINT)
        assert p.wait(timeout=5) == 130

        # The re-run (same profile: same ledger rows) finishes everything.
        r = subprocess.run(args, capture_output=True, text=True, timeout=180)
        assert r.returncode == 0, r.stderr
        st = json.loads(subprocess.run([h.TOKPREP, "status", "--json", "-w", work],
                                       capture_output=True, text=True, check=True).stdout)
        assert st["by_status"] == {"done": 3}, st
        assert len([f for f in os.listdir(sink) if f.endswith(".mp4")]) == 3


if __name__ == "__main__":
    sys.exit(tprunner.main(globals()))
