"""Crash torture: start `tokprep run`, kill -9 it at random moments (12 times), then re-run
until done. Every input must be accounted for exactly once, no temporary file may remain and
nothing may be delivered twice. Slow (~30 s)."""
import json
import os
import random
import shutil
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pipeline_helpers as h  # noqa: E402
import tprunner  # noqa: E402

KILLS = 12


def test_run_torture_slow():
    seed = int(os.environ.get("TP_TORTURE_SEED", str(int(time.time()))))
    rnd = random.Random(seed)
    print(f"seed {seed}")
    with h.TempDir() as t:
        src = os.path.join(t, "in")
        os.makedirs(os.path.join(src, "b"))
        names = []
        for i in range(4):
            n = f"v{i}.mp4"
            h.make_vertical(os.path.join(src, n), seconds=2, freq=300 + 50 * i)
            names.append(n)
        for i in range(3):
            n = f"l{i}.mp4"
            h.make_landscape(os.path.join(src, "b", n), seconds=2, freq=700 + 50 * i)
            names.append(n)
        shutil.copy(os.path.join(src, "v0.mp4"), os.path.join(src, "b", "v0-copy.mp4"))
        n_inputs = len(names) + 1
        n_contents = len(names)
        sink = os.path.join(t, "sink")
        work = os.path.join(t, "work")
        args = [h.TOKPREP, "run", "--json", "-w", work] + h.set_args(
            ["upload.sink=directory", f"upload.directory.path={sink}"]) + [src]

        # Kill at a random point of each run: after a random number of its events (so kills
        # land in every stage, deliveries included) plus a random few milliseconds.
        killed_after_delivery = 0
        for k in range(KILLS):
            p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                 text=True)
            lines = []
            th = threading.Thread(target=lambda: lines.extend(p.stdout), daemon=True)
            th.start()
            target = rnd.randint(1, 30)
            deadline = time.time() + 10
            while len(lines) < target and p.poll() is None and time.time() < deadline:
                time.sleep(0.005)
            time.sleep(rnd.uniform(0, 0.05))
            p.kill()
            p.wait()
            th.join(timeout=5)
            if any('"uploaded"' in ln for ln in lines):
                killed_after_delivery += 1
        print(f"{KILLS} kills, {killed_after_delivery} after some delivery")

        final = None
        for attempt in range(6):
            p = subprocess.run(args, capture_output=True, text=True, timeout=120)
            final = h.events(p.stdout)
            if p.returncode == 0:
                break
            print(f"re-run {attempt}: exit {p.returncode}: {p.stderr[-500:]}")
        assert p.returncode == 0, p.stderr
        # Every input has exactly one result in the last run.
        term = h.terminal_events(final)
        discovered = [e["path"] for e in final if e["event"] == "discovered"]
        assert len(discovered) == n_inputs, discovered
        for path in discovered:
            assert len(term.get(path, [])) == 1, (path, term.get(path))
        # The ledger: one row per content, all done.
        st = json.loads(subprocess.run([h.TOKPREP, "status", "--json", "-w", work],
                                       capture_output=True, text=True, check=True).stdout)
        assert st["total"] == n_contents, st
        assert st["by_status"] == {"done": n_contents}, st
        # The sink: exactly one MP4 and one manifest per content, nothing twice, hashes match.
        files = sorted(os.listdir(sink))
        # v0's content arrives under two names; whichever was scanned first names it.
        stems = [os.path.splitext(n)[0] for n in names]
        if "v0-copy.mp4" in files:
            stems[stems.index("v0")] = "v0-copy"
        expected = sorted([s + ".mp4" for s in stems] + [s + ".json" for s in stems])
        assert files == expected, (files, expected)
        for f in files:
            if f.endswith(".json"):
                h.check_manifest(os.path.join(sink, f))
        assert h.temp_files(sink, work) == [], h.temp_files(sink, work)
        assert os.listdir(os.path.join(work, "out")) == [], os.listdir(os.path.join(work, "out"))
        # A further run delivers nothing.
        before = {f: os.stat(os.path.join(sink, f)).st_mtime_ns for f in files}
        p = subprocess.run(args, capture_output=True, text=True, timeout=60)
        assert all(v[0]["event"] == "skipped"
                   for v in h.terminal_events(h.events(p.stdout)).values())
        assert {f: os.stat(os.path.join(sink, f)).st_mtime_ns for f in files} == before


if __name__ == "__main__":
    sys.exit(tprunner.main(globals()))
