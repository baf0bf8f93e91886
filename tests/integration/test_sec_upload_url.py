#!/usr/bin/env python3
"""An upload URL on another host (docs/SECURITY.md, class 10 "TikTok's answers"): the init answer
names where the file's bytes go. A hostile or compromised API server (or a planted resume state)
hands out an upload URL on another origin: here a second fake server on another loopback port,
which must receive nothing (no PUT, no byte of the file). `upload` and `run` (tiktok sink) must
fail the file with exit 2 naming the refused URL's reason. A well-behaved server still works.
About 5 s."""
import os
import sys
import tempfile

sys.path.insert(0, os.path.join(os.environ.get("TP_SOURCE_DIR", os.path.join(
    os.path.dirname(__file__), "..", "..")), "tests", "fake_tiktok"))
from harness import Client, FakeTikTok, random_file  # noqa: E402
import harness  # noqa: E402
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tprunner  # noqa: E402
from pipeline_helpers import make_vertical, set_args  # noqa: E402

SMALL_SERVER = harness.SMALL_SERVER
SETS = harness.small_sets("200k") + ["upload.tiktok.max_retries=1",
                                      "upload.tiktok.status_deadline=5"]
ROOT = tempfile.mkdtemp(prefix="tp_sec_upload_url.")


def received(srv):
    st = srv.inspect()
    return {k: v for k, v in st["counts"].items()}, st


def test_upload_url_elsewhere_gets_nothing():
    wd = os.path.join(ROOT, "elsewhere")
    os.makedirs(wd)
    os.makedirs(os.path.join(wd, "other"))
    other = FakeTikTok(*SMALL_SERVER, workdir=os.path.join(wd, "other"))
    srv = FakeTikTok(*(SMALL_SERVER + ["--upload-url-base", other.base]), workdir=wd)
    try:
        c = Client(srv, wd, sets=SETS)
        c.login()
        f = random_file(os.path.join(wd, "v.mp4"), 300_000)
        r = c.run("upload", f, timeout=60)
        counts, st = received(other)
        assert not counts, "the other host received requests: %r" % counts
        assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
        assert "upload URL outside" in r.stderr, r.stderr
        # run with the tiktok sink goes through the same client.
        drop = os.path.join(wd, "drop")
        os.makedirs(drop)
        make_vertical(os.path.join(drop, "w.mp4"), seconds=1)
        inits = srv.inspect()["counts"].get("init", 0)
        r = c.run("run", "-w", os.path.join(wd, "work"), "--json",
                  *(set_args(["upload.sink=tiktok"]) + ["--", drop]), timeout=60)
        assert srv.inspect()["counts"].get("init", 0) > inits, "run never reached the upload"
        counts, _ = received(other)
        assert not counts, "run: the other host received requests: %r" % counts
        assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
        assert "upload URL outside" in r.stdout + r.stderr, r.stdout + r.stderr
    finally:
        srv.stop()
        other.stop()


def test_own_upload_url_still_works():
    wd = os.path.join(ROOT, "own")
    os.makedirs(wd)
    srv = FakeTikTok(*SMALL_SERVER, workdir=wd)
    try:
        c = Client(srv, wd, sets=SETS)
        c.login()
        f = random_file(os.path.join(wd, "v.mp4"), 300_000)
        c.run("upload", "--json", f, timeout=60, check=0)
        done = [p for p in srv.inspect()["publishes"] if p["complete"]]
        assert len(done) == 1, done
    finally:
        srv.stop()


if __name__ == "__main__":
    sys.exit(tprunner.main(globals(), cleanup=[ROOT]))
