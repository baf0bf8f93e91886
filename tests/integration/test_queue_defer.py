"""A job deferred by TikTok's daily cap is scheduled, not retaken: with upload.tiktok.daily_limit=1
and two files, the second job is acknowledged and put in tokprep:NAME:delayed with not_before =
when the cap allows it (a day later), no worker takes it before then (no job_started, no request
to the fake server) even with queue.reclaim_after=1, `status --queue --json` shows it deferred,
the same content enqueued again is still that one job, a --drain worker is not held by it; once
due (its score rewritten to now and the cap cleared) it is moved back and delivered exactly once
by two running workers."""
import os
import signal
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.environ.get("TP_SOURCE_DIR", os.path.join(HERE, "..", "..")),
                                "tests", "fake_tiktok"))
import pipeline_helpers as h  # noqa: E402
import queue_helpers as q  # noqa: E402
import tprunner  # noqa: E402

QUEUE_SETS = ["pipeline.probe_workers=1", "pipeline.fit_workers=1", "queue.reclaim_after=1",
              "queue.claim_lease=2", "queue.max_attempts=3"]


def events(ws, kind, path=None):
    return [e for w in ws for e in w.events()
            if e["event"] == kind and (path is None or e.get("path") == path)]


def test_queue_defer():
    q.require_redis()
    from harness import Client, FakeTikTok
    with h.TempDir() as t:
        r = q.Redis(t)
        srv = None
        ws = []
        try:
            base = os.path.join(t, "base.mp4")
            h.make_vertical(base, seconds=1, freq=440)
            paths = q.make_mix([base], os.path.join(t, "in"), 2)
            srv = FakeTikTok(workdir=t)
            c = Client(srv, t, sets=["upload.tiktok.daily_limit=1"])
            c.login()
            url = r.url("d")
            p = q.run(["enqueue", "--queue", url] + paths, env=c.env)
            assert p.returncode == 0, p.stderr
            extra = c.args(*h.set_args(QUEUE_SETS))
            w1 = q.Worker(url, "d1", os.path.join(t, "d1"), extra, env=c.env)
            ws.append(w1)

            def finished_two():
                fin = events(ws, "job_finished")
                return len(fin) >= 2 and fin
            fin = q.wait_for(finished_two, 60 * q.SLOW, "both jobs to finish or defer")
            by_state = {e["state"]: e["path"] for e in fin}
            assert sorted(by_state) == ["deferred", "done"], fin
            deferred = by_state["deferred"]
            t_deferred = time.time()
            assert "daily limit" in next(e for e in fin if e["state"] == "deferred")["reason"]

            # Acknowledged, in the delayed set with not_before = a day after the first post.
            delayed = r.cmd("ZRANGE", "tokprep:d:delayed", 0, -1, "WITHSCORES")
            assert len(delayed) == 2, delayed
            job_id, score = delayed[0], float(delayed[1])
            assert abs(score - (t_deferred + 86400)) < 120, (score, t_deferred)
            job = q.hash_of(r.cmd("HGETALL", "tokprep:d:job:" + job_id))
            assert job["path"] == deferred and job["state"] == "deferred", job
            assert float(job["not_before"]) == score and job["attempts"] == "0", job
            assert r.cmd("XPENDING", "tokprep:d:jobs", "workers")[0] == 0
            calls = dict(srv.inspect()["counts"])

            # Taken by nobody before then: 3 s is three reclaim_after windows.
            time.sleep(3 * q.SLOW)
            assert len(events(ws, "job_started", deferred)) == 1, events(ws, "job_started")
            assert srv.inspect()["counts"] == calls, (srv.inspect()["counts"], calls)

            st = q.status(url, env=c.env)
            assert st["deferred"] == 1 and st["jobs_by_state"]["deferred"] == 1, st
            assert st["next_retry_at"] == score, st
            assert st["pending"] == 0 and st["in_progress"]["total"] == 0 and st["done"] == 1, st
            human = q.run(["status", "--queue", url], env=c.env)
            assert human.returncode == 0 and "deferred" in human.stdout, human.stdout

            # The same content again is still the one deferred job.
            p = q.run(["enqueue", "--queue", url, "--json", deferred], env=c.env)
            assert p.returncode == 0 and '"state":"deferred"' in p.stdout, p.stdout
            assert r.cmd("ZCARD", "tokprep:d:delayed") == 1

            # A draining worker is not held by a job deferred for a day.
            t0 = time.time()
            dr = q.Worker(url, "drain", os.path.join(t, "dr"), ["--drain"] + extra, env=c.env)
            assert dr.wait(30 * q.SLOW) == 0, dr.output()[-2000:]
            assert not events([dr], "job_started"), dr.output()
            summ = [e for e in dr.events() if e["event"] == "worker_summary"]
            assert summ and summ[0]["deferred"] == 0, summ
            drain_s = time.time() - t0

            # Due now (and the cap lifted): moved back once, delivered once, by one of two.
            w2 = q.Worker(url, "d2", os.path.join(t, "d2"), extra, env=c.env)
            ws.append(w2)
            for k in r.cmd("KEYS", "tokprep:d:daily:*"):
                r.cmd("DEL", k)
            r.cmd("ZADD", "tokprep:d:delayed", int(time.time()), job_id)

            def done_again():
                return [e for e in events(ws, "job_finished", deferred) if e["state"] == "done"]
            q.wait_for(done_again, 60 * q.SLOW, "the deferred job to be delivered")
            time.sleep(2 * q.SLOW)  # room for a wrong second delivery to show
            assert len(done_again()) == 1, events(ws, "job_finished")
            assert len(events(ws, "job_started", deferred)) == 2, events(ws, "job_started")
            inspect = srv.inspect()
            assert inspect["counts"].get("init") == calls.get("init", 0) + 1, inspect["counts"]
            assert len([x for x in inspect["publishes"] if x["complete"]]) == 2
            assert r.cmd("ZCARD", "tokprep:d:delayed") == 0
            st = q.status(url, env=c.env)
            assert st["done"] == 2 and st["deferred"] == 0 and st["next_retry_at"] is None, st
            assert st["jobs_by_state"]["deferred"] == 0 and st["jobs_by_state"]["queued"] == 0, st
            for w in ws:
                w.proc.send_signal(signal.SIGTERM)
                assert w.wait(30 * q.SLOW) == 0, w.output()[-2000:]
            text = "".join(w.output() for w in ws + [dr]) + "".join(c.outputs)
            for s in c.secrets():
                assert s not in text, "a secret was printed"
            print("deferred until +%.0f s, untouched for 3 s, drain exit %.1f s, delivered once "
                  "when due" % (score - t_deferred, drain_s))
        finally:
            for w in ws:
                w.kill()
            if srv:
                srv.stop()
            r.stop()


if __name__ == "__main__":
    sys.exit(tprunner.main(globals()))
