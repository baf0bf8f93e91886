"""`tokprep run --watch`: files dropped in over time — copied, written slowly, renamed from
.part, renamed from a hidden name, in a new subfolder — are each processed exactly once, and
only when complete; SIGINT ends the watch with status 130."""
import os
import shutil
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pipeline_helpers as h  # noqa: E402
import tprunner  # noqa: E402


def test_run_watch():
    with h.TempDir() as t:
        fx = os.path.join(t, "fixtures")
        watch = os.path.join(t, "watch")
        work = os.path.join(t, "work")
        os.makedirs(fx)
        os.makedirs(watch)
        for i, n in enumerate(["a", "slow", "c", "d", "e"]):
            h.make_vertical(os.path.join(fx, n + ".mp4"), seconds=2, freq=300 + 100 * i)
        args = [h.TOKPREP, "run", "--watch", "--json", "-w", work] + h.set_args(
            ["upload.sink=none", "pipeline.settle_seconds=1"]) + [watch]
        p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        lines = []

        def reader():
            for line in p.stdout:
                lines.append(line)
        th = threading.Thread(target=reader, daemon=True)
        th.start()
        for _ in range(50):
            if os.path.exists(os.path.join(work, "tokprep.db.lock")):
                break
            time.sleep(0.1)
        time.sleep(0.5)

        # 1. a plain copy (closed after writing)
        shutil.copy(os.path.join(fx, "a.mp4"), os.path.join(watch, "a.mp4"))
        # 2. written slowly, in pieces, with pauses shorter than the settle period
        data = open(os.path.join(fx, "slow.mp4"), "rb").read()
        with open(os.path.join(watch, "slow.mp4"), "wb") as f:
            step = max(1, len(data) // 10)
            for off in range(0, len(data), step):
                f.write(data[off:off + step])
                f.flush()
                time.sleep(0.25)
        # 3. downloaded as .part, renamed when complete
        part = os.path.join(watch, "c.mp4.part")
        shutil.copy(os.path.join(fx, "c.mp4"), part)
        time.sleep(1.5)  # longer than the settle period: still ignored
        os.rename(part, os.path.join(watch, "c.mp4"))
        # 4. a hidden temporary name, renamed
        hidden = os.path.join(watch, ".d.mp4")
        shutil.copy(os.path.join(fx, "d.mp4"), hidden)
        os.rename(hidden, os.path.join(watch, "d.mp4"))
        # 5. a new subfolder
        os.makedirs(os.path.join(watch, "sub"))
        time.sleep(0.3)
        shutil.copy(os.path.join(fx, "e.mp4"), os.path.join(watch, "sub", "e.mp4"))

        expected = {os.path.join(watch, n) for n in
                    ["a.mp4", "slow.mp4", "c.mp4", "d.mp4", os.path.join("sub", "e.mp4")]}
        deadline = time.time() + 40
        while time.time() < deadline:
            done = {e["path"] for e in h.events("".join(lines)) if e["event"] == "uploaded"}
            if expected <= done:
                break
            time.sleep(0.2)
        time.sleep(2)  # give duplicates a chance to show up
        t0 = time.time()
        p.send_signal(signal.SIGINT)
        rc = p.wait(timeout=10)
        took = time.time() - t0
        th.join(timeout=5)
        evs = h.events("".join(lines))
        assert rc == 130, (rc, p.stderr.read())
        assert took < 2.0, took
        uploaded = [e["path"] for e in evs if e["event"] == "uploaded"]
        for path in expected:
            assert uploaded.count(path) == 1, (path, uploaded)
        assert set(uploaded) == expected, uploaded
        assert not [e for e in evs if e["path"] and (e["path"].endswith(".part") or
                                                     "/." in e["path"])], evs
        # The slow file was taken complete: its chunked size is the whole file.
        slow = [e for e in evs if e["event"] == "chunked" and e["path"].endswith("slow.mp4")]
        assert slow and slow[0]["bytes"] == len(data), (slow, len(data))
        assert evs[-1]["event"] == "summary"


if __name__ == "__main__":
    sys.exit(tprunner.main(globals()))
