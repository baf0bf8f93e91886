#!/usr/bin/env python3
"""upload.tiktok.shared_limits: several `tokprep upload` processes on one account share TikTok's
limits through one Redis. Without it, two processes together exceed the init rate (the fake
server answers 429: the contrast that shows the test can fail); with it, processes racing for the
daily cap post exactly daily_limit files in total; with Redis down, nothing is sent to TikTok.
The rate part over a full 60 s window is test_shared_limits_slow.py. Skipped (exit 77)
when redis-server is not installed."""
import contextlib
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tprunner  # noqa: E402
from limits_helpers import Redis, have_redis, upload_at_once  # noqa: E402
from harness import Client, FakeTikTok, free_port, random_file  # noqa: E402

ROOT = tempfile.mkdtemp(prefix="tp_shared_limits.")
CLIENTS = []


def workdir(name):
    d = os.path.join(ROOT, name)
    os.makedirs(d)
    return d


def files(wd, n, tag):
    return [random_file(os.path.join(wd, "%s%d.mp4" % (tag, i)), 60_000 + i, seed=hash(tag) + i)
            for i in range(n)]


def init_429s(st):
    return [r for r in st["rejections"] if r["endpoint"] == "init" and "rate_limit" in r["reason"]]


def test_local_limits_overrun_together():
    """The contrast: each process keeps its own window, so 2 x 4 inits reach the server within a
    few seconds and TikTok's 6 per minute is exceeded."""
    wd = workdir("local")
    with FakeTikTok(workdir=wd) as srv:
        c = Client(srv, wd)
        CLIENTS.append(c)
        c.login()
        fs = files(wd, 8, "l")
        upload_at_once(c, [fs[:4], fs[4:]])
        st = srv.inspect()
        assert st["counts"].get("init", 0) == 8, st["counts"]
        assert len(init_429s(st)) == 2, st["rejections"]


def test_daily_cap_race_across_processes(redis):
    """3 processes x 2 files, daily_limit 4, one Redis: exactly 4 posts, the other 2 deferred by
    the daily cap (never a 429, never a fifth init)."""
    wd = workdir("daily")
    with FakeTikTok(workdir=wd) as srv:
        c = Client(srv, wd, sets=["upload.tiktok.daily_limit=4",
                                  "upload.tiktok.shared_limits=" + redis.url("daily")])
        CLIENTS.append(c)
        c.login()
        fs = files(wd, 6, "d")
        res = upload_at_once(c, [fs[0:2], fs[2:4], fs[4:6]])
        outs = [o for _, lines, _ in res for o in lines]
        assert len(outs) == 6, res
        ok = [o for o in outs if o["ok"]]
        deferred = [o for o in outs if not o["ok"]]
        assert len(ok) == 4, outs
        for o in deferred:
            assert o["error"]["kind"] == "rate" and o["retry_at"] > 0, o
            assert "daily" in o["error"]["message"], o
        st = srv.inspect()
        assert st["rejections"] == [], st["rejections"]
        assert st["counts"].get("init", 0) == 4, st["counts"]
        assert len([p for p in st["publishes"] if p["complete"]]) == 4
        # the Redis keys: documented names, no secret, the 4 posts counted
        keys = redis.cli("KEYS", "*")
        assert "tokprep:daily:daily:" in keys and "tokprep:daily:rate:" in keys, keys
        for s in c.secrets() + [c.tokens()["open_id"], "test-client-key"]:
            assert s not in keys, "a secret in a key name"
        # nothing written to the local posts file: the count is in Redis
        assert not os.path.exists(c.token_file + ".posts")


def test_two_runs_share_the_daily_cap(redis):
    """Two `tokprep run` processes (own work folders and ledgers, 2 upload workers each) on one
    account with daily_limit 2 through one Redis: 2 files uploaded in total, the other 2
    deferred (skipped, queued for a later run)."""
    import json
    import subprocess
    import pipeline_helpers as h
    wd = workdir("run")
    srcs = []
    for k in range(2):
        src = os.path.join(wd, "in%d" % k)
        os.makedirs(src)
        for i in range(2):
            h.make_vertical(os.path.join(src, "v%d.mp4" % i), seconds=1, freq=300 + 100 * (2 * k + i))
        srcs.append(src)
    with FakeTikTok(workdir=wd) as srv:
        c = Client(srv, wd, sets=["upload.tiktok.daily_limit=2",
                                  "upload.tiktok.shared_limits=" + redis.url("runs"),
                                  "pipeline.upload_workers=2"])
        CLIENTS.append(c)
        c.login()
        procs = [subprocess.Popen([c.binary, "run", "--json", "-w", os.path.join(wd, "w%d" % k)]
                                  + c.args(*(h.set_args() + [srcs[k]])), env=c.env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for k in range(2)]
        terms = {}
        for p in procs:
            out, err = p.communicate(timeout=120)
            c.outputs += [out, err]
            for path, evs in h.terminal_events(h.events(out)).items():
                terms[path] = evs[-1]
        kinds = sorted(e["event"] for e in terms.values())
        assert kinds == ["skipped", "skipped", "uploaded", "uploaded"], terms
        for e in terms.values():
            if e["event"] == "skipped":
                assert "deferred until" in e["reason"] and "daily limit of 2" in e["reason"], e
        st = srv.inspect()
        assert st["rejections"] == [], st["rejections"]
        assert st["counts"].get("init", 0) == 2, st["counts"]


def test_redis_down_sends_nothing():
    wd = workdir("down")
    with FakeTikTok(workdir=wd) as srv:
        dead = "redis://127.0.0.1:%d/x" % free_port()
        c = Client(srv, wd, sets=["upload.tiktok.shared_limits=" + dead])
        CLIENTS.append(c)
        c.login()
        [f] = files(wd, 1, "x")
        r = c.run("upload", "--json", f, check=2)
        import json
        out = json.loads(r.stdout)
        assert not out["ok"] and out["error"]["kind"] == "network", out
        msg = out["error"]["message"]
        assert "shared_limits" in msg and "not sending anything to TikTok" in msg, msg
        st = srv.inspect()
        assert "init" not in st["counts"] and "creator" not in st["counts"], st["counts"]


def check_no_secrets():
    for c in CLIENTS:
        secrets = c.secrets() if os.path.exists(c.token_file) else []
        for s in secrets:
            for o in c.outputs:
                assert s not in o, "a secret in the output"


@contextlib.contextmanager
def shared_redis():
    if not have_redis():
        tprunner.skip("redis-server is not installed (scripts/test.sh installs it)")
    with Redis() as redis:
        yield {"redis": redis}


if __name__ == "__main__":
    sys.exit(tprunner.main(globals(), fixture=shared_redis, after=[check_no_secrets], cleanup=[ROOT]))
