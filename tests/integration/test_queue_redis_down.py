"""Redis dies in the middle of a worker's TikTok upload (kill -9), then comes back from its AOF.

A worker mirrors every upload checkpoint into the job's Redis hash so that a successor resumes
the same upload; when the mirror cannot be written the run must stop rather than upload on
(pipeline/run.c tick()). Here: redis-server with appendonly/appendfsync always, the fake TikTok
server throttled so one ~10-chunk upload takes seconds, one worker. Once TikTok has a chunk,
redis-server is killed with SIGKILL. Expected: the fake server gets at most the chunk in flight
after that; the worker stays alive, says that Redis is unreachable and keeps retrying. Redis is
then restarted on the same port and folder: the job is taken up again and continues the same
upload (one init, one complete publish, SHA-256 of the file), `status --queue` says done 1,
nothing pending or in progress, no secret was printed, and SIGTERM stops the idle worker with
exit 0."""
import os
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.environ.get("TP_SOURCE_DIR", os.path.join(HERE, "..", "..")),
                                "tests", "fake_tiktok"))
import pipeline_helpers as h  # noqa: E402
import queue_helpers as q  # noqa: E402
import tprunner  # noqa: E402

PASSWORD = "r3dis-Pw-mirror-77"
CHUNK = 100000
THROTTLE = 200000  # B/s at the fake server: a 100 kB chunk takes 0.5 s
OUTAGE = 4.0  # seconds Redis stays down after the kill (the worker must not upload meanwhile)


class PersistentRedis(q.Redis):
    """redis-server with an append-only file fsynced on every write, restartable on the same
    port and folder (what an operator's `systemctl restart redis` amounts to)."""

    def __init__(self, datadir, password):  # pylint: disable=super-init-not-called
        self.port = q.free_port()
        self.password = password
        self.datadir = datadir
        self.proc = None
        self.start()

    def start(self):
        cmd = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
               "--appendonly", "yes", "--appendfsync", "always", "--dir", self.datadir,
               "--requirepass", self.password, "--logfile", os.path.join(self.datadir, "log")]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 20
        while True:
            try:
                # Answers only once the AOF is loaded (LOADING errors before).
                if self.cmd("PING") == "PONG":
                    return
            except (OSError, RuntimeError):
                pass
            if time.time() > deadline or self.proc.poll() is not None:
                raise RuntimeError("redis-server did not start on port %d" % self.port)
            time.sleep(0.05)

    def kill9(self):
        self.proc.kill()  # SIGKILL: no shutdown save, only what the AOF already has
        self.proc.wait()


def the_publish(srv):
    pubs = srv.inspect()["publishes"]
    return pubs[0] if pubs else None


def test_queue_redis_down():
    q.require_redis()
    from harness import Client, FakeTikTok, sha256_file
    with h.TempDir() as t:
        datadir = os.path.join(t, "redis")
        os.makedirs(datadir)
        # ~1 MB in 10 chunks: 5 s of upload at the throttle.
        src = os.path.join(t, "clip.mp4")
        h.ff("-f", "lavfi", "-i", "testsrc2=size=180x320:rate=24:duration=2", "-f", "lavfi", "-i",
             "sine=frequency=440:duration=2", "-c:v", "libx264", "-preset", "ultrafast", "-b:v",
             "4M", "-minrate", "4M", "-maxrate", "4M", "-bufsize", "1M", "-x264-params",
             "nal-hrd=cbr", "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "32k", "-shortest",
             "-movflags", "+faststart", src)
        size = os.path.getsize(src)
        n_chunks = size // CHUNK
        assert n_chunks >= 8, "the fixture is too small for the test: %d bytes" % size
        r = PersistentRedis(datadir, PASSWORD)
        srv = FakeTikTok("--min-chunk", "50000", "--max-chunk", "640000", "--final-max",
                         "1280000", "--throttle", str(THROTTLE), workdir=t)
        w = None
        try:
            c = Client(srv, t, sets=["chunk.min=50k", "chunk.size=100k", "chunk.max=640k",
                                     "chunk.final_max=1280k", "upload.tiktok.daily_limit=1000"])
            c.login()
            url = r.url("down")
            p = q.run(["enqueue", "--queue", url, "--json", src], env=c.env)
            c.outputs += [p.stdout, p.stderr]
            assert p.returncode == 0, p.stderr
            sets = h.set_args(["pipeline.probe_workers=1", "pipeline.fit_workers=1",
                               "queue.reclaim_after=1", "queue.claim_lease=1",
                               "queue.max_attempts=3"])
            w = q.Worker(url, "w-down", os.path.join(t, "w-down"), c.args(*sets), env=c.env)

            # TikTok has the publish and at least one acknowledged chunk: Redis dies.
            seen = q.wait_for(lambda: (the_publish(srv) or {}).get("chunks", 0), 60 * q.SLOW,
                            "the first chunk at the fake server")
            t_seen = time.time()
            # Halfway through the next chunk, normally: its checkpoint is the one that fails.
            time.sleep(0.25)
            r.kill9()
            t_kill = time.time()
            # The fake server's inspect waits for a PUT in progress: this counts the chunk that
            # was in flight at the kill too.
            at_kill = the_publish(srv)["chunks"]
            assert at_kill < n_chunks - 3, "the upload was too quick for the test: %d" % at_kill
            if t_kill - t_seen < 0.9 * CHUNK / THROTTLE:
                # Not descheduled for a whole chunk: at most the one in flight was added.
                assert at_kill <= seen + 1, (seen, at_kill, t_kill - t_seen)
            # Then nothing: the checkpoint after it cannot be mirrored, so the run stops. A
            # worker that uploads on sends a chunk every 0.5 s here, and finishes in the outage.
            time.sleep(OUTAGE)
            pub = the_publish(srv)
            assert pub["chunks"] == at_kill, \
                "uploaded on while Redis was down: %d chunk(s) at the kill, %d %.1f s later" \
                % (at_kill, pub["chunks"], time.time() - t_kill)
            assert not pub["complete"], "the upload completed while Redis was down"
            assert w.proc.poll() is None, "the worker exited without Redis: %s" % w.output()
            # Said at once, with the file and why, not only once Redis is back.
            err = "".join(w.err)
            assert "%s: stopped: its resume state could not be recorded in Redis" % src in err, err
            assert "(retrying)" in err, "no sign of retrying Redis:\n" + err
            assert len(err.splitlines()) < 40, "the outage floods the log:\n" + err
            stopped_at = pub["chunks"]

            # Redis comes back from its AOF: the job (still the worker's pending entry, state
            # running or failed) is taken up again and continues the same TikTok upload.
            r.start()
            keys = r.cmd("KEYS", "tokprep:down:job:*")
            assert len(keys) == 1, ("the job hash did not survive the restart", keys)
            job = q.hash_of(r.cmd("HGETALL", keys[0]))
            assert job.get("ckpt_publish_id") == pub["publish_id"], \
                ("the mirrored checkpoint did not survive the restart", job.get("stage"))

            def finished_done():
                return [e for e in w.events()
                        if e["event"] == "job_finished" and e["state"] == "done"]
            t_back = time.time()
            done = q.wait_for(finished_done, 60 * q.SLOW, "the job to be done after the restart")
            t_done = time.time()
            assert len(done) == 1 and done[0]["path"] == src, done
            # The stopped attempt was handed back without using up an attempt: Redis failed,
            # not the file.
            fin = [(e["state"], e["attempt"]) for e in w.events() if e["event"] == "job_finished"]
            assert fin == [("requeued", 1), ("done", 1)], fin
            info = srv.inspect()
            pubs = info["publishes"]
            assert info["counts"].get("init") == 1, ("posted again", info["counts"], pubs)
            assert len(pubs) == 1 and pubs[0]["complete"], pubs
            assert pubs[0]["sha256"] == sha256_file(src), "the uploaded bytes differ"
            assert pubs[0]["chunks"] == n_chunks and pubs[0]["received"] == size, pubs[0]
            # The resumed upload continued where TikTok was: nothing refused but (at most) the
            # chunk in flight when the run stopped.
            assert all("does not continue" in x["reason"]
                       or x["reason"] == "connection closed mid-chunk"
                       for x in info["rejections"]), info["rejections"]
            ups = [e for e in w.events() if e["event"] == "uploaded"]
            assert len(ups) == 1, ups
            qs = q.status(url, env=c.env)
            assert qs["done"] == 1 and qs["pending"] == 0 and qs["in_progress"]["total"] == 0, qs
            assert qs["dead"] == 0 and qs["failed"] == 0, qs

            # An idle worker stops on SIGTERM at once, exit 0.
            t0 = time.time()
            w.proc.send_signal(signal.SIGTERM)
            rc = w.wait(30 * q.SLOW)
            took = time.time() - t0
            assert rc == 0, (rc, w.output()[-3000:])
            assert took < 5 * q.SLOW, took

            text = w.output() + "".join(c.outputs)
            assert "upload_token" not in text, "an upload URL was printed"
            assert PASSWORD not in text, "the Redis password was printed"
            for s in c.secrets():
                assert s not in text, "a secret was printed"
            if os.environ.get("TP_TEST_VERBOSE"):
                sys.stderr.write(w.output())
            print("Redis killed %.2f s after chunk %d/%d reached TikTok; %d chunk(s) there when "
                  "the run stopped; done %.1f s after the restart, one init, one complete "
                  "publish; SIGTERM exit in %.1f s" % (t_kill - t_seen, seen, n_chunks, stopped_at,
                                                       t_done - t_back, took))
        finally:
            if w:
                w.kill()
            srv.stop()
            r.stop()


if __name__ == "__main__":
    sys.exit(tprunner.main(globals()))
