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
import harness  # noqa: E402

SMALL_SERVER = harness.SMALL_SERVER
SMALL_SETS = harness.small_sets("200k")
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


# Final in a run (TikTok's fail_reason is not a transient error), one file each.
RUN_REASONS = ["file_format_check_failed", "duration_check_failed", "frame_rate_check_failed",
               "picture_size_check_failed", "publish_cancelled", "something_new"]
RUN_SERVER = SMALL_SERVER + ["--rate-window", "0.5", "--limit", "init=100"]
RUN_SETS = SMALL_SETS + ["upload.tiktok.rate_window=0.5"]


def run(c, work, src, *extra, want=None):
    cmd = [c.binary, "run", "--json", "-o", work] + c.args(*(h.set_args(extra) + [src]))
    r = subprocess.run(cmd, env=c.env, capture_output=True, text=True, timeout=300)
    c.outputs += [r.stdout, r.stderr]
    if want is not None:
        assert r.returncode == want, "rc %d\n%s\n%s" % (r.returncode, r.stdout, r.stderr)
    return r


def ledger_posts(work):
    con = sqlite3.connect(os.path.join(work, "tokprep.db"))
    try:
        rows = con.execute("SELECT source_path, status, error, posts FROM jobs").fetchall()
    finally:
        con.close()
    return {os.path.basename(p): (st, err or "", json.loads(posts) if posts else [])
            for p, st, err, posts in rows}


def status_json(c, work):
    r = subprocess.run([c.binary, "status", "--json", "-o", work], env=c.env,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode in (0, 1), r.stderr
    return json.loads(r.stdout)


def test_run_reports_the_rule():
    """Default on_failed (fail): one init per file, the rule in the failed event, the ledger's
    error and posts, and status --json."""
    t = workdir("run")
    src = os.path.join(t, "in")
    os.makedirs(src)
    for i in range(len(RUN_REASONS)):
        h.make_vertical(os.path.join(src, "v%d.mp4" % i), freq=300 + 50 * i)
    args = RUN_SERVER[:]
    for i, reason in enumerate(RUN_REASONS):
        args += ["--fail-post", "%d=%s" % (i + 1, reason)]
    work = os.path.join(t, "work")
    with FakeTikTok(*args, workdir=t) as srv:
        c = Client(srv, t, sets=RUN_SETS)
        c.login()
        r = run(c, work, src)
        st = srv.inspect()
        reason_of = {p["publish_id"]: p["fail_reason"] for p in st["publishes"]}
        assert st["counts"]["init"] == len(RUN_REASONS), st["counts"]
        assert sorted(reason_of.values()) == sorted(RUN_REASONS), reason_of
        evs = h.events(r.stdout)
        failed = [e for e in evs if e["event"] == "failed"]
        assert len(failed) == len(RUN_REASONS), r.stdout + r.stderr
        for e in failed:
            pid = next(p for p in reason_of if p in e["reason"])
            assert "rule %s" % EXPECTED[reason_of[pid]] in e["reason"], e
        rows = ledger_posts(work)
        for name, (status, err, posts) in rows.items():
            assert status == "failed", rows[name]
            (p,) = posts
            assert p["failed"] and not p["refit"] and p["part"] == 0, p
            assert p["rule"] == EXPECTED[reason_of[p["publish_id"]]], p
            assert "rule %s" % p["rule"] in err, err
        s = status_json(c, work)
        assert len(s["refused"]) == len(RUN_REASONS), s
        assert all(len(x["posts"]) == 1 for x in s["refused"]), s
        assert all("rule " in x["reason"] for x in s["failed"]), s


def ffprobe(path):
    r = subprocess.run(["ffprobe", "-v", "error", "-show_streams", "-show_format", "-of", "json",
                        path], capture_output=True, text=True, check=True)
    return json.loads(r.stdout)


def top_atoms(path):
    names = []
    with open(path, "rb") as f:
        while True:
            hdr = f.read(8)
            if len(hdr) < 8:
                return names
            size = int.from_bytes(hdr[:4], "big")
            names.append(hdr[4:8])
            if size == 1:
                size = int.from_bytes(f.read(8), "big") - 8
            f.seek(size - 8, 1)


def refit_setup(name, server_args):
    t = workdir(name)
    src = os.path.join(t, "in")
    os.makedirs(src)
    h.make_vertical(os.path.join(src, "a.mp4"), freq=700)
    work = os.path.join(t, "work")
    store = os.path.join(t, "store")
    os.makedirs(store)
    srv = FakeTikTok(*(RUN_SERVER + ["--store-dir", store] + server_args), workdir=t)
    c = Client(srv, t, sets=RUN_SETS)
    c.login()
    return srv, c, work, src


def test_run_refit_posts_the_strict_fit():
    srv, c, work, src = refit_setup("refit", ["--fail-post", "1=frame_rate_check_failed"])
    try:
        r = run(c, work, src, "upload.tiktok.on_failed=refit", want=0)
        st = srv.inspect()
        assert st["counts"]["init"] == 2, st["counts"]
        first, second = st["publishes"]
        assert first["status"] == "FAILED" and second["status"] == "PUBLISH_COMPLETE", st
        info = ffprobe(second["store"])
        v = next(x for x in info["streams"] if x["codec_type"] == "video")
        a = next(x for x in info["streams"] if x["codec_type"] == "audio")
        assert (v["codec_name"], v["profile"], v["level"]) == ("h264", "High", 41), v
        assert (v["width"], v["height"], v["pix_fmt"]) == (1080, 1920, "yuv420p"), v
        assert v["r_frame_rate"] == "30/1" and v["avg_frame_rate"] == "30/1", v
        assert (a["codec_name"], a["profile"], a["sample_rate"], a["channels"]) == \
            ("aac", "LC", "48000", 2), a
        assert "mp4" in info["format"]["format_name"], info["format"]
        atoms = top_atoms(second["store"])
        assert atoms.index(b"moov") < atoms.index(b"mdat"), atoms  # faststart
        evs = h.events(r.stdout)
        up = [e for e in evs if e["event"] == "uploaded"]
        assert len(up) == 1 and up[0]["publish_id"] == second["publish_id"], evs
        rows = ledger_posts(work)
        status, err, posts = rows["a.mp4"]
        assert status == "done", rows
        assert [(p["publish_id"], p.get("failed", False), p.get("refit", False))
                for p in sorted(posts, key=lambda p: not p.get("failed"))] == \
            [(first["publish_id"], True, False), (second["publish_id"], False, True)], posts
        s = status_json(c, work)
        (item,) = s["refused"]
        assert item["status"] == "done" and len(item["posts"]) == 2, item
        # Done: a further run posts nothing.
        run(c, work, src, "upload.tiktok.on_failed=refit", want=0)
        assert srv.inspect()["counts"]["init"] == 2
    finally:
        srv.stop()


def test_run_refit_failing_again_is_final():
    srv, c, work, src = refit_setup("refit2", ["--fail-post", "1=file_format_check_failed",
                                               "--fail-post", "2=picture_size_check_failed"])
    try:
        r = run(c, work, src, "upload.tiktok.on_failed=refit")
        assert r.returncode != 0, r.stdout
        st = srv.inspect()
        assert st["counts"]["init"] == 2, st["counts"]
        evs = h.events(r.stdout)
        (f,) = [e for e in evs if e["event"] == "failed"]
        assert f["final"] and "rule too_large_dims" in f["reason"], f
        rows = ledger_posts(work)
        status, err, posts = rows["a.mp4"]
        assert status == "failed" and len(posts) == 2, rows
        assert sorted((p["rule"], p["refit"]) for p in posts) == \
            [("container", False), ("too_large_dims", True)], posts
        # Retried: still no third post.
        subprocess.run([c.binary, "retry", "-o", work], env=c.env, capture_output=True,
                       timeout=60)
        r = run(c, work, src, "upload.tiktok.on_failed=refit")
        assert r.returncode != 0 and srv.inspect()["counts"]["init"] == 2, r.stdout + r.stderr
        assert "strict re-fit too" in r.stdout, r.stdout
    finally:
        srv.stop()


def test_run_default_fail_posts_once():
    srv, c, work, src = refit_setup("fail", ["--fail-post", "1=frame_rate_check_failed"])
    try:
        r = run(c, work, src)
        assert r.returncode != 0
        assert srv.inspect()["counts"]["init"] == 1
    finally:
        srv.stop()


if __name__ == "__main__":
    sys.exit(tprunner.main(globals(), cleanup=[ROOT]))
