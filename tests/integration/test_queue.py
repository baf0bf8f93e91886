"""tokprep enqueue / worker / status --queue against a real redis-server on a loopback port:
the same content enqueued twice is one job; bad URLs, unreachable servers and wrong passwords
fail clearly without printing the password; a broken file is dead-lettered after
queue.max_attempts; SIGTERM hands the current job back at once and exits 0."""
import contextlib
import json
import os
import signal
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import pipeline_helpers as h  # noqa: E402
import queue_helpers as q  # noqa: E402
import tprunner  # noqa: E402

SECRET = "s3cret-Pw-xyz"


def sets(out):
    args = h.set_args(["upload.sink=directory", "upload.directory.path=" + out,
                       "pipeline.probe_workers=1", "pipeline.fit_workers=1",
                       "queue.reclaim_after=1", "queue.claim_lease=1", "queue.max_attempts=3"])
    return args


def test_enqueue_dedupe(t, r):
    src = os.path.join(t, "in")
    os.makedirs(src)
    h.make_vertical(os.path.join(src, "a.mp4"), seconds=1)
    h.make_vertical(os.path.join(src, "b.mp4"), seconds=1, freq=880)
    q.with_free_box(os.path.join(src, "a.mp4"), os.path.join(t, "a-copy.mp4"), "x")
    os.link(os.path.join(src, "a.mp4"), os.path.join(t, "a-again.mp4"))
    url = r.url("dedupe")
    p = q.run(["enqueue", "--queue", url, "--json", src, os.path.join(t, "a-again.mp4"),
               os.path.join(t, "a-copy.mp4")])
    assert p.returncode == 0, p.stderr
    lines = [json.loads(x) for x in p.stdout.splitlines()]
    by = {os.path.basename(x["path"]): x for x in lines if "path" in x}
    assert by["a.mp4"]["result"] == "added" and by["b.mp4"]["result"] == "added", lines
    assert by["a-again.mp4"]["result"] == "exists", lines  # same content, other name
    assert by["a-again.mp4"]["fingerprint"] == by["a.mp4"]["fingerprint"]
    assert by["a-copy.mp4"]["result"] == "added", lines  # one byte box more: new content
    assert lines[-1] == {"summary": True, "added": 3, "existing": 1, "errors": 0}, lines[-1]
    # Again: nothing new; a missing path is an error (exit 2) but the others are reported.
    p = q.run(["enqueue", "--queue", url, src, os.path.join(t, "missing.mp4")])
    assert p.returncode == 2, (p.returncode, p.stdout, p.stderr)
    assert "0 added, 2 already queued, 1 error(s)" in p.stdout, p.stdout
    st = q.status(url)
    assert st["jobs"] == 3 and st["pending"] == 3, st
    assert st["jobs_by_state"]["queued"] == 3, st
    assert st["in_progress"]["total"] == 0 and st["oldest_pending_age"] is not None, st
    r2 = q.run(["status", "--queue", url])
    assert r2.returncode == 0 and "pending (not taken yet)      3" in r2.stdout, r2.stdout


def test_bad_urls(t, r_auth):
    port = q.free_port()  # nothing listens there
    cases = [
        (["enqueue", "--queue", "http://127.0.0.1/x", t], "redis://"),
        (["enqueue", "--queue", "redis://127.0.0.1:%d/x" % port, t], "cannot connect"),
        (["worker", "--queue", "redis://127.0.0.1:%d/x" % port, "--root", t], "cannot connect"),
        (["status", "--queue", "redis://127.0.0.1:%d/x" % port], "cannot connect"),
        (["status", "--queue", "redis://:wrong-%s@127.0.0.1:%d/x" % (SECRET, r_auth.port)],
         "refused the password"),
        (["worker", "--queue", "redis://:wrong-%s@127.0.0.1:%d/x" % (SECRET, r_auth.port),
          "--root", t], "refused the password"),
        (["worker", "--queue", "redis://127.0.0.1:%d/x" % port], "--root DIR is required"),
        (["worker", "--queue", "redis://127.0.0.1:%d/x" % port, "--root", "/nonexistent-dir"],
         "not a folder"),
        (["worker", "--queue", "redis://127.0.0.1:%d/x" % port, "--root", t,
          "--allow-profile", "/nonexistent.yaml"], "--allow-profile"),
        (["enqueue", "--queue", "redis://127.0.0.1:%d/x" % r_auth.port, t], "NOAUTH"),
        (["enqueue", "--queue", "redis://127.0.0.1:1/x"], "no files"),
    ]
    for args, want in cases:
        p = q.run(args, timeout=30)
        assert p.returncode == 2, (args, p.returncode, p.stdout, p.stderr)
        assert want in p.stderr, (args, p.stderr)
        assert SECRET not in p.stdout + p.stderr, "the password was printed"
    # The password from the environment works and is not printed either.
    env = dict(os.environ, TOKPREP_REDIS_PASSWORD=SECRET)
    p = q.run(["status", "--queue", "redis://127.0.0.1:%d/x" % r_auth.port], env=env)
    assert p.returncode == 0, p.stderr
    assert SECRET not in p.stdout + p.stderr


def test_dead_letter(t, r):
    src = os.path.join(t, "dl")
    os.makedirs(src)
    h.make_vertical(os.path.join(src, "good.mp4"), seconds=1)
    with open(os.path.join(src, "broken.mp4"), "wb") as f:
        f.write(b"\x00\x00\x00\x18ftypisom" + os.urandom(3000))
    url = r.url("dl")
    p = q.run(["enqueue", "--queue", url, os.path.join(src, "good.mp4"),
               os.path.join(src, "broken.mp4")])
    assert p.returncode == 0, p.stderr
    out = os.path.join(t, "dl-out")
    w = q.Worker(url, "w-dl", os.path.join(t, "w-dl"), ["--drain"] + sets(out))
    rc = w.wait(60 * q.SLOW)
    assert rc == 0, w.output()
    evs = w.events()
    fin = [e for e in evs if e["event"] == "job_finished"]
    broken = [e for e in fin if e["path"].endswith("broken.mp4")]
    assert [e["state"] for e in broken] == ["failed", "failed", "dead"], broken
    assert [e["attempt"] for e in broken] == [1, 2, 3], broken
    good = [e for e in fin if e["path"].endswith("good.mp4")]
    assert [e["state"] for e in good] == ["done"], good
    assert all(e.get("worker") == "w-dl" for e in evs), evs
    assert os.path.exists(os.path.join(out, "good.mp4"))
    st = q.status(url)
    assert st["pending"] == 0 and st["in_progress"]["total"] == 0, st
    assert st["done"] == 1 and st["dead"] == 1 and st["failed"] == 0, st
    dl = st["dead_letters"][0]
    assert dl["path"].endswith("broken.mp4") and dl["attempts"] == 3 and dl["reason"], dl
    # The dead-letter stream itself, as operators would read it.
    entries = r.cmd("XRANGE", "tokprep:dl:dead", "-", "+")
    assert len(entries) == 1 and q.hash_of(entries[0][1])["path"].endswith("broken.mp4")
    # Enqueueing the same content again does not resurrect it.
    p = q.run(["enqueue", "--queue", url, os.path.join(src, "broken.mp4")])
    assert "already queued, dead" in p.stdout, p.stdout


def test_enqueue_set(t, r):
    """enqueue --set (issue 16): checked at once, stored with each job (other overrides, another
    job), applied only by a worker started with --allow-job-set (dead-lettered by others)."""
    src = os.path.join(t, "es")
    os.makedirs(src)
    a, b = os.path.join(src, "a.mp4"), os.path.join(src, "b.mp4")
    h.make_vertical(a, seconds=1)
    h.make_vertical(b, seconds=1, freq=880)
    url = r.url("es")
    # Only vp9 passes: the clip (H.264) is transcoded, and the output (H.264) fails too.
    vp9_only = "rules.video_codecs=[vp9]"
    p = q.run(["enqueue", "--queue", url, "--set", "fix.fil=pad", a])
    assert p.returncode == 2 and "did you mean 'fix.fill'" in p.stderr, (p.returncode, p.stderr)
    p = q.run(["enqueue", "--queue", url, "--set", vp9_only, a])
    assert p.returncode == 0 and "1 added" in p.stdout, (p.stdout, p.stderr)
    p = q.run(["enqueue", "--queue", url, "--set", vp9_only, a])
    assert "0 added, 1 already queued" in p.stdout, p.stdout
    p = q.run(["enqueue", "--queue", url, "--set", vp9_only, "--set", "fix.fill=pad", a])
    assert "1 added" in p.stdout, p.stdout  # other overrides: another job
    st = q.status(url)
    assert st["jobs"] == 2, st
    out = os.path.join(t, "es-out")
    w = q.Worker(url, "w-es", os.path.join(t, "w-es"), ["--drain"] + sets(out))
    assert w.wait(60 * q.SLOW) == 0, w.output()
    fin = [e for e in w.events() if e["event"] == "job_finished"]
    assert [e["state"] for e in fin] == ["dead", "dead"], fin
    assert all("--allow-job-set" in e["reason"] for e in fin), fin
    p = q.run(["enqueue", "--queue", url, "--set", vp9_only, b])
    assert "1 added" in p.stdout, p.stdout
    w = q.Worker(url, "w-es2", os.path.join(t, "w-es2"),
                 ["--drain", "--allow-job-set"] + sets(out))
    assert w.wait(60 * q.SLOW) == 0, w.output()
    fin = [e for e in w.events() if e["event"] == "job_finished"]
    # The job's override reached the worker's profile: H.264 out of the fit fails it.
    assert fin and all(os.path.basename(e["path"]) == "b.mp4" for e in fin), fin
    assert "h264 not in [vp9]" in fin[0]["reason"], fin


def test_crashing_file(t, r):
    """A file whose workers keep dying: each death used an attempt, so the next worker that
    takes it over dead-letters it instead of running it a fourth time."""
    src = os.path.join(t, "crash")
    os.makedirs(src)
    f = os.path.join(src, "crash.mp4")
    h.make_vertical(f, seconds=1)
    url = r.url("crash")
    p = q.run(["enqueue", "--queue", url, "--json", f])
    assert p.returncode == 0, p.stderr
    fp = json.loads(p.stdout.splitlines()[0])["fingerprint"]
    # A "worker" that took the job and died on it three times: its entry is pending, the job
    # says running, attempts 3 (what three kill -9 in a row leave behind).
    r.cmd("XREADGROUP", "GROUP", "workers", "ghost", "COUNT", "1", "STREAMS", "tokprep:crash:jobs",
          ">")
    key = "tokprep:crash:job:%s:-" % fp
    r.cmd("HSET", key, "state", "running", "attempts", "3", "worker", "ghost")
    r.cmd("HINCRBY", "tokprep:crash:counts", "queued", "-1")
    r.cmd("HINCRBY", "tokprep:crash:counts", "running", "1")
    out = os.path.join(t, "crash-out")
    w = q.Worker(url, "w-crash", os.path.join(t, "w-crash"), ["--drain"] + sets(out))
    rc = w.wait(60 * q.SLOW)
    assert rc == 0, w.output()
    fin = [e for e in w.events() if e["event"] == "job_finished"]
    assert len(fin) == 1 and fin[0]["state"] == "dead", fin
    assert "stopped while processing" in fin[0]["reason"], fin
    assert not [e for e in w.events() if e["event"] == "job_started"], "it ran a 4th time"
    st = q.status(url)
    assert st["dead"] == 1 and st["pending"] == 0 and st["in_progress"]["total"] == 0, st
    assert st["jobs_by_state"] == {"queued": 0, "running": 0, "done": 0, "failed": 0,
                                   "rejected": 0, "dead": 1, "deferred": 0}, st
    assert not os.path.exists(os.path.join(out, "crash.mp4"))


def test_sigterm(t, r):
    src = os.path.join(t, "term")
    os.makedirs(src)
    slow = os.path.join(src, "long.mp4")
    h.ff("-f", "lavfi", "-i", "testsrc2=size=320x180:rate=24:duration=20", "-f", "lavfi", "-i",
         "sine=duration=20", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
         "-c:a", "aac", "-b:a", "32k", "-shortest", slow)
    url = r.url("term")
    assert q.run(["enqueue", "--queue", url, slow]).returncode == 0
    out = os.path.join(t, "term-out")
    slow_sets = sets(out) + ["--set", "fix.video.preset=medium", "--set", "fix.width=360",
                             "--set", "fix.height=640"]
    w = q.Worker(url, "w-term", os.path.join(t, "w-term"), slow_sets)
    deadline = time.time() + 30 * q.SLOW
    while time.time() < deadline and not any(e["event"] == "fit_started" for e in w.events()):
        time.sleep(0.05)
    assert any(e["event"] == "fit_started" for e in w.events()), w.output()
    t0 = time.time()
    w.proc.send_signal(signal.SIGTERM)
    rc = w.wait(30)
    took = time.time() - t0
    assert rc == 0, (rc, w.output())
    assert took < 3 * q.SLOW, took
    fin = [e for e in w.events() if e["event"] == "job_finished"]
    assert [e["state"] for e in fin] == ["requeued"], fin
    st = q.status(url)
    # Handed back: waiting for the next worker at once, the attempt given back.
    assert st["pending"] == 1 and st["in_progress"]["total"] == 0, st
    assert st["jobs_by_state"]["queued"] == 1, st
    job = q.hash_of(r.cmd("HGETALL", "tokprep:term:job:%s:-" % fin[0]["fingerprint"]))
    assert job["attempts"] == "0" and job["state"] == "queued", job
    assert not os.path.exists(os.path.join(out, "long.mp4"))


@contextlib.contextmanager
def two_redis():
    """One redis-server without a password, one with SECRET, for all cases."""
    q.require_redis()
    with h.TempDir() as t:
        r = q.Redis(t)
        r_auth = q.Redis(t, password=SECRET)
        try:
            yield {"t": t, "r": r, "r_auth": r_auth}
        finally:
            r.stop()
            r_auth.stop()


if __name__ == "__main__":
    sys.exit(tprunner.main(globals(), fixture=two_redis))
