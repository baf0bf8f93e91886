#!/usr/bin/env python3
"""upload.tiktok.shared_limits, the rate part (slow: waits out the rate window once): two
`tokprep upload` processes with 4 files each share one Redis, so together they send at most 6
inits per window, as the fake server enforces: all 8 files posted, no 429, and the last inits
waited for the window. The window is TikTok's 60 s shortened to WINDOW on both sides
(`--rate-window`, `upload.tiktok.rate_window`) so the test waits seconds, not a minute. (test_shared_limits.py shows the same two processes without Redis
overrunning the limit.) Skipped (exit 77) when
redis-server is not installed."""
import contextlib
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tprunner  # noqa: E402
from limits_helpers import Redis, have_redis, upload_at_once  # noqa: E402
from harness import Client, FakeTikTok, random_file  # noqa: E402

ROOT = tempfile.mkdtemp(prefix="tp_shared_limits_slow.")
WINDOW = 10


def test_rate_shared_across_processes(redis):
    wd = os.path.join(ROOT, "rate")
    os.makedirs(wd)
    with FakeTikTok("--rate-window", str(WINDOW), workdir=wd) as srv:
        c = Client(srv, wd, sets=["upload.tiktok.shared_limits=" + redis.url("rate"),
                                  "upload.tiktok.rate_window=%d" % WINDOW])
        c.login()
        fs = [random_file(os.path.join(wd, "r%d.mp4" % i), 50_000 + i, seed=100 + i)
              for i in range(8)]
        t0 = time.monotonic()
        res = upload_at_once(c, [fs[:4], fs[4:]])
        elapsed = time.monotonic() - t0
        outs = [o for _, lines, _ in res for o in lines]
        assert [rc for rc, _, _ in res] == [0, 0], res
        assert len(outs) == 8 and all(o["ok"] for o in outs), outs
        st = srv.inspect()
        assert st["rejections"] == [], st["rejections"]
        assert st["counts"]["init"] == 8, st["counts"]
        assert len([p for p in st["publishes"] if p["complete"]]) == 8
        # 8 inits at 6 per window: the 7th waited for the first to leave the window
        assert elapsed > WINDOW - 1, elapsed
        waited = sum("to stay under TikTok's per-minute limit" in err for _, _, err in res)
        assert waited >= 1, [err for _, _, err in res]
        for s in c.secrets():
            for o in c.outputs:
                assert s not in o, "a secret in the output"
        print("8 posts by 2 processes in %.1f s, no 429" % elapsed)


@contextlib.contextmanager
def shared_redis():
    if not have_redis():
        tprunner.skip("redis-server is not installed (scripts/test.sh installs it)")
    with Redis() as redis:
        yield {"redis": redis}


if __name__ == "__main__":
    sys.exit(tprunner.main(globals(), fixture=shared_redis, cleanup=[ROOT]))
