#!/usr/bin/env python3
"""Waits the server dictates (docs/SECURITY.md, class 10 "TikTok's answers"): a 429 whose
Retry-After says 999999999 s (31 years) or "inf", or an X-RateLimit-Reset as far away, made the
uploader sleep that long: an unattended `upload`, `run` or worker hung until killed. A wait
longer than tokprep will sleep in place (120 s) must end the file at once as rate limited
(exit 1, rate limited, as for any deferral), and a sane Retry-After is still honoured. About 5 s."""
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.environ.get("TP_SOURCE_DIR", os.path.join(
    os.path.dirname(__file__), "..", "..")), "tests", "fake_tiktok"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tprunner  # noqa: E402
from harness import Client, FakeTikTok, random_file  # noqa: E402
import harness  # noqa: E402

SMALL_SERVER = harness.SMALL_SERVER
SETS = harness.small_sets("200k") + ["upload.tiktok.max_retries=2",
                                      "upload.tiktok.status_deadline=5"]
ROOT = tempfile.mkdtemp(prefix="tp_sec_server_waits.")


def upload(name, server_args, want_rc, limit=20):
    wd = os.path.join(ROOT, name)
    os.makedirs(wd)
    srv = FakeTikTok(*(SMALL_SERVER + list(server_args)), workdir=wd)
    try:
        c = Client(srv, wd, sets=SETS)
        c.login()
        f = random_file(os.path.join(wd, "v.mp4"), 300_000)
        t0 = time.time()
        try:
            r = c.run("upload", f, timeout=limit)
        except subprocess.TimeoutExpired:
            raise AssertionError("%s: still waiting after %d s" % (name, limit))
        secs = time.time() - t0
        assert r.returncode == want_rc, (name, r.returncode, r.stdout, r.stderr)
        print("     %-16s rc %d in %4.1f s" % (name, r.returncode, secs))
        return r, srv.inspect()
    finally:
        srv.stop()


def test_retry_after_years_on_init():
    r, st = upload("init-years", ["--fault", "429:init:1", "--retry-after", "999999999"], 1)
    assert "rate" in r.stderr.lower(), r.stderr
    assert not any(p["complete"] for p in st["publishes"])


def test_retry_after_inf_on_creator():
    upload("creator-inf", ["--fault", "429:creator:1", "--retry-after", "inf"], 1)


def test_retry_after_years_on_put():
    r, st = upload("put-years", ["--fault", "429:put:1", "--retry-after", "999999999"], 1)
    assert "rate" in r.stderr.lower(), r.stderr


def test_sane_retry_after_still_waited():
    upload("sane", ["--fault", "429:creator:1", "--retry-after", "1"], 0)


if __name__ == "__main__":
    sys.exit(tprunner.main(globals(), cleanup=[ROOT]))
