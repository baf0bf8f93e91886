"""`tokprep run` end to end with the directory sink over a tiny mixed folder: every input has
exactly one result, outputs pass `tokprep check`, manifests' chunk hashes match the files, a
re-run delivers nothing again, and `status`/`retry` report and re-queue failures."""
import json
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pipeline_helpers as h  # noqa: E402
import tprunner  # noqa: E402


def test_run_directory():
    with h.TempDir() as t:
        src = os.path.join(t, "in")
        os.makedirs(os.path.join(src, "sub"))
        h.make_vertical(os.path.join(src, "vertical.mp4"), freq=440)
        h.make_landscape(os.path.join(src, "landscape.mp4"), freq=550)
        h.make_vertical(os.path.join(src, "sub", "other.mov"), freq=660, pattern="smptebars")
        # Same content under another name: must not be delivered twice.
        shutil.copy(os.path.join(src, "vertical.mp4"), os.path.join(src, "sub", "copy.mp4"))
        with open(os.path.join(src, "broken.mp4"), "wb") as f:
            f.write(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 3000)
        with open(os.path.join(src, "notes.txt"), "w") as f:
            f.write("not a video: ignored in folders\n")
        # Sink and work folder inside the input folder: never taken as input.
        sink = os.path.join(src, "ready")
        work = os.path.join(src, "work")
        args = ["run", "--json", "-w", work] + h.set_args(
            ["upload.sink=directory", f"upload.directory.path={sink}"]) + [src]

        p = h.run(args, timeout=120)
        assert p.returncode == 2, (p.returncode, p.stderr)  # broken.mp4 fails
        evs = h.events(p.stdout)
        discovered = sorted(e["path"] for e in evs if e["event"] == "discovered")
        assert len(discovered) == 5, discovered
        term = h.terminal_events(evs)
        for path in discovered:
            assert len(term.get(path, [])) == 1, (path, term.get(path))
        kinds = {os.path.basename(p_): term[p_][0]["event"] for p_ in discovered}
        assert kinds["broken.mp4"] == "failed", kinds
        assert sorted(kinds.values()).count("uploaded") == 3, kinds
        assert sorted(kinds.values()).count("skipped") == 1, kinds  # the copy
        summary = [e for e in evs if e["event"] == "summary"]
        assert len(summary) == 1 and summary[0]["done"] == 3 and summary[0]["failed"] == 1
        assert any(e["event"] == "fit_done" for e in evs)
        assert any(e["event"] == "chunked" for e in evs)

        files = sorted(os.listdir(sink))
        mp4s = [f for f in files if not f.endswith(".json")]
        manifests = [f for f in files if f.endswith(".json")]
        assert len(mp4s) == 3 and len(manifests) == 3, files
        for m in manifests:
            man = h.check_manifest(os.path.join(sink, m))
            # Every output passes `check` under the same profile.
            c = h.run(["check"] + h.set_args() + [man["output"]["path"]])
            assert c.returncode == 0, (man["output"]["path"], c.stdout, c.stderr)
        land = json.load(open(os.path.join(sink, "landscape.json")))
        assert land["verdict"] == "fix" and land["violations_fixed"], land
        assert land["output"]["media"]["video"]["width"] == 180
        assert land["source"]["media"]["video"]["width"] == 320
        # Delivered: nothing left in the work folder's out/ nor temporary files anywhere.
        assert os.listdir(os.path.join(work, "out")) == [], os.listdir(os.path.join(work, "out"))
        assert h.temp_files(sink, work) == [], h.temp_files(sink, work)

        # Re-run: everything is skipped, nothing delivered again.
        before = {f: os.stat(os.path.join(sink, f)).st_mtime_ns for f in files}
        p2 = h.run(args, timeout=60)
        evs2 = h.events(p2.stdout)
        term2 = h.terminal_events(evs2)
        assert all(v[0]["event"] == "skipped" for v in term2.values()), term2
        # Never "same content as" itself (issue 16): the same file is just "already done".
        reasons = {path: v[0].get("reason", "") for path, v in term2.items()}
        assert not any("same content as %s)" % p in r for p, r in reasons.items()), reasons
        assert list(reasons.values()).count("already done") >= 2, reasons
        assert {f: os.stat(os.path.join(sink, f)).st_mtime_ns for f in files} == before

        # A renamed source is the same content: skipped too.
        os.rename(os.path.join(src, "landscape.mp4"), os.path.join(src, "renamed.mp4"))
        p3 = h.run(args, timeout=60)
        t3 = h.terminal_events(h.events(p3.stdout))
        assert t3[os.path.join(src, "renamed.mp4")][0]["event"] == "skipped"
        assert t3[os.path.join(src, "renamed.mp4")][0]["reason"] == (
            "already done (same content as %s)" % os.path.join(src, "landscape.mp4")), t3

        # status reports the failure; retry re-queues it; a second run refuses while locked.
        st = json.loads(h.run(["status", "--json", "--state",
                               os.path.join(work, "tokprep.db")], check_rc=0).stdout)
        assert st["by_status"].get("done") == 3 and st["by_status"].get("failed") == 1, st
        assert st["failed"][0]["path"].endswith("broken.mp4") and st["failed"][0]["reason"]
        txt = h.run(["status", "-w", work], check_rc=0).stdout
        assert "broken.mp4" in txt and "failed" in txt, txt
        # The failed file's line names its path once (the reason's own "PATH: " goes).
        line = [ln for ln in txt.splitlines() if "broken.mp4" in ln][0]
        assert line.count("broken.mp4") == 1, line
        r = h.run(["retry", "-w", work], check_rc=0)
        assert "1 failed file(s) re-queued" in r.stdout, r.stdout
        st = json.loads(h.run(["status", "--json", "-w", work], check_rc=0).stdout)
        assert st["by_status"].get("queued") == 1, st
        # The re-queued file is processed (and fails again) on the next run.
        p4 = h.run(args, timeout=60)
        t4 = h.terminal_events(h.events(p4.stdout))
        assert t4[os.path.join(src, "broken.mp4")][0]["event"] == "failed"


if __name__ == "__main__":
    sys.exit(tprunner.main(globals()))
