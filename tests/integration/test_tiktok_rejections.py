#!/usr/bin/env python3
"""TikTok's rejections become fixes (issue 14): each fail_reason a post can end with, sent by the
fake server, is reported with the rule that should have caught it (upload --json, run's events
and ledger, status --json); upload.tiktok.on_failed: refit re-fits the file once with the strict
settings and posts it once more, a second failure being final."""
import json
import os
import sqlite3
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.environ.get("TP_SOURCE_DIR", os.path.join(HERE, "..", "..")),
                                "tests", "fake_tiktok"))
import pipeline_helpers as h  # noqa: E402
import tprunner  # noqa: E402
from harness import Client, FakeTikTok, random_file  # noqa: E402

SMALL_SERVER = ["--min-chunk", "50000", "--max-chunk", "640000", "--final-max", "1280000"]
SMALL_SETS = ["chunk.min=50k", "chunk.size=200k", "chunk.max=640k", "chunk.final_max=1280k"]
ROOT = tempfile.mkdtemp(prefix="tp_rejections.")

# fail_reason -> the rule code (README "When TikTok rejects a post").
EXPECTED = {
    "file_format_check_failed": "container",
    "duration_check_failed": "duration_too_long",
    "frame_rate_check_failed": "fps",
    "picture_size_check_failed": "too_large_dims",
    "internal": "tiktok_internal",
    "auth_removed": "tiktok_auth_removed",
    "spam_risk_too_many_posts": "tiktok_spam_risk",
    "publish_cancelled": "tiktok_publish_cancelled",
    "video_pull_failed": "tiktok_video_pull_failed",
    "something_new": "tiktok_failed",
}


def workdir(name):
    d = os.path.join(ROOT, name)
    os.makedirs(d)
    return d


def test_upload_json_names_the_rule():
    wd = workdir("upload")
    args = SMALL_SERVER[:]
    reasons = list(EXPECTED)
    for i, r in enumerate(reasons):
        args += ["--fail-post", "%d=%s" % (i + 1, r)]
    with FakeTikTok(*args, "--limit", "init=100", "--limit", "creator=100",
                    workdir=wd) as srv:
        c = Client(srv, wd, sets=SMALL_SETS)
        c.login()
        for i, reason in enumerate(reasons):
            f = random_file(os.path.join(wd, "v%d.mp4" % i), 120_000 + i, seed=i)
            r = c.run("upload", "--json", f)
            assert r.returncode != 0, r.stdout
            out = json.loads(r.stdout.splitlines()[-1])
            assert out["status"] == "FAILED" and out["fail_reason"] == reason, out
            assert out["rule"] == EXPECTED[reason], (reason, out)
            assert "rule %s" % EXPECTED[reason] in out["error"]["message"], out
        st = srv.inspect()
        assert st["counts"]["init"] == len(reasons), st["counts"]
        assert st["rejections"] == [], st["rejections"]


if __name__ == "__main__":
    sys.exit(tprunner.main(globals(), cleanup=[ROOT]))
