"""Issue 8's test: three `tokprep worker` processes on one Redis queue, one killed with
SIGKILL in the middle of a job. With the directory sink over 60 small files (and a broken one),
then with the fake TikTok server over 5 files (killed mid-upload): every file is delivered
exactly once, the killed worker's job is taken over by another, nothing is left pending, and
the broken file is dead-lettered after queue.max_attempts."""
import contextlib
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.environ.get("TP_SOURCE_DIR", os.path.join(HERE, "..", "..")),
                                "tests", "fake_tiktok"))
import pipeline_helpers as h  # noqa: E402
import queue_helpers as q  # noqa: E402
import tprunner  # noqa: E402

# TikTok allows 6 inits per minute per token (the fake server enforces it, and the workers share
# the limit through Redis): 5 files stay under it however the workers interleave.
N_TT = 5
QUEUE_SETS = ["pipeline.probe_workers=1", "pipeline.fit_workers=1", "queue.reclaim_after=3",
              "queue.claim_lease=2", "queue.max_attempts=3"]


def finished_once(workers, paths):
    """Every path finished `done` exactly once over all workers."""
    done = {}
    for w in workers:
        for e in w.events():
            if e["event"] == "job_finished" and e["state"] == "done":
                done.setdefault(e["path"], []).append(w.name)
    assert sorted(done) == sorted(paths), set(paths) ^ set(done)
    twice = {p: v for p, v in done.items() if len(v) != 1}
    assert not twice, twice
    return done


def taken_over(workers, victim, path):
    for w in workers:
        if w is victim:
            continue
        for e in w.events():
            if e["event"] == "job_started" and e["path"] == path and e["reclaimed"]:
                return w.name
    return None


def test_directory_sink(t, r):
    bases = q.make_bases(os.path.join(t, "bases"))
    src = os.path.join(t, "in")
    paths = q.make_mix(bases, src, 60)
    broken = os.path.join(t, "broken.mp4")
    with open(broken, "wb") as f:
        f.write(b"\x00\x00\x00\x18ftypisom" + os.urandom(2000))
    url = r.url("dir")
    p = q.run(["enqueue", "--queue", url, "--json", src, broken])
    assert p.returncode == 0 and '"added":61' in p.stdout, (p.stdout, p.stderr)
    out = os.path.join(t, "out")
    sets = h.set_args(QUEUE_SETS + ["upload.sink=directory", "upload.directory.path=" + out])
    t0 = time.time()
    ws = [q.Worker(url, "w%d" % i, os.path.join(t, "w%d" % i), ["--drain"] + sets)
          for i in (1, 2, 3)]
    victim = ws[0]

    # Kill w1 once it is fitting a file (a transcode takes long enough to be in it).
    def fitting():
        evs = victim.events()
        started = [e["path"] for e in evs if e["event"] == "job_started"]
        fits = [e["path"] for e in evs if e["event"] == "fit_started"]
        ended = {e["path"] for e in evs if e["event"] == "job_finished"}
        return fits and started and fits[-1] == started[-1] and fits[-1] not in ended \
            and fits[-1]
    killed_path = q.wait_for(fitting, 60 * q.SLOW, "w1 to fit a file")
    victim.kill()
    for w in ws[1:]:
        rc = w.wait(120 * q.SLOW)
        assert rc == 0, (w.name, rc, w.output()[-3000:])
    elapsed = time.time() - t0

    done = finished_once(ws, paths)
    by = taken_over(ws, victim, killed_path)
    assert by, "the killed worker's job %s was not taken over" % killed_path
    assert by in done[killed_path], (by, done[killed_path])
    # Delivered exactly once: one output and one manifest per source, under its own name.
    names = sorted(os.listdir(out))
    want = sorted(["f%02d.mp4" % i for i in range(60)] + ["f%02d.json" % i for i in range(60)])
    assert names == want, sorted(set(names) ^ set(want))
    fps = set()
    for i in range(60):
        m = h.check_manifest(os.path.join(out, "f%02d.json" % i))
        fps.add(m["source"]["fingerprint"])
    assert len(fps) == 60
    assert not h.temp_files(out), h.temp_files(out)
    st = q.status(url)
    assert st["pending"] == 0 and st["in_progress"]["total"] == 0, st
    assert st["done"] == 60 and st["dead"] == 1 and st["failed"] == 0, st
    assert st["dead_letters"][0]["path"] == broken and st["dead_letters"][0]["attempts"] == 3
    print("directory sink: 60 files, 3 workers (one killed), %.1f s; %s taken over by %s"
          % (elapsed, os.path.basename(killed_path), by))


def test_tiktok_sink(t, r):
    import harness
    from harness import Client, FakeTikTok, sha256_file
    small_server = harness.SMALL_SERVER + ["--throttle", "150000"]
    small_sets = harness.small_sets() + ["upload.tiktok.daily_limit=1000"]
    d = os.path.join(t, "tt")
    os.makedirs(d)
    base = os.path.join(d, "base.mp4")
    h.ff("-f", "lavfi", "-i", "testsrc2=size=180x320:rate=24:duration=1", "-f", "lavfi", "-i",
         "sine=frequency=440:duration=1", "-c:v", "libx264", "-preset", "ultrafast", "-b:v", "4M",
         "-minrate", "4M", "-maxrate", "4M", "-bufsize", "1M", "-pix_fmt", "yuv420p", "-c:a",
         "aac", "-b:a", "32k", "-shortest", "-movflags", "+faststart", base)
    paths = q.make_mix([base], os.path.join(d, "in"), N_TT)
    srv = FakeTikTok(*small_server, workdir=d)
    try:
        c = Client(srv, d, sets=small_sets)
        c.login()
        url = r.url("tt")
        p = q.run(["enqueue", "--queue", url] + paths, env=c.env)
        assert p.returncode == 0, p.stderr
        extra = ["--drain"] + c.args(*h.set_args(QUEUE_SETS))
        ws = [q.Worker(url, "t%d" % i, os.path.join(d, "t%d" % i), extra, env=c.env)
              for i in (1, 2, 3)]
        victim = ws[0]

        # Kill t1 while it uploads: TikTok has its publish_id and at least one chunk.
        def uploading():
            evs = victim.events()
            up = [e["path"] for e in evs if e["event"] == "upload_progress"]
            ended = {e["path"] for e in evs if e["event"] == "job_finished"}
            return up and up[-1] not in ended and up[-1]
        killed_path = q.wait_for(uploading, 60 * q.SLOW, "t1 to upload")
        victim.kill()
        for w in ws[1:]:
            rc = w.wait(120 * q.SLOW)
            assert rc == 0, (w.name, rc, w.output()[-3000:])
        finished_once(ws, paths)
        assert taken_over(ws, victim, killed_path), killed_path
        st = srv.inspect()
        # One init per file: the taken-over upload continued on the killed worker's publish.
        assert st["counts"].get("init") == N_TT, st["counts"]
        done = [x for x in st["publishes"] if x["complete"]]
        assert len(done) == N_TT, st["publishes"]
        assert sorted(x["sha256"] for x in done) == sorted(sha256_file(p) for p in paths)
        assert all("does not continue" in x["reason"]
                   or x["reason"] == "connection closed mid-chunk"
                   for x in st["rejections"]), st["rejections"]
        qs = q.status(url, env=c.env)
        assert qs["pending"] == 0 and qs["in_progress"]["total"] == 0 and qs["done"] == N_TT, qs
        src_dir = os.environ.get("TP_SOURCE_DIR", os.path.join(HERE, "..", ".."))
        if os.path.exists(os.path.join(src_dir, "upload", "tt_limits.h")):
            # Built with the shared limits: the workers counted their posts and requests in
            # the queue's Redis (one daily set for the account, rate windows per endpoint).
            assert r.cmd("KEYS", "tokprep:tt:daily:*"), "no shared daily cap in Redis"
            assert r.cmd("KEYS", "tokprep:tt:rate:*"), "no shared rate windows in Redis"
        text = "".join(w.output() for w in ws) + "".join(c.outputs)
        assert "upload_token" not in text, "an upload URL was printed"
        for s in c.secrets():
            assert s not in text, "a secret was printed"
        print("tiktok sink: %d files, 3 workers (one killed mid-upload), one init per file"
              % N_TT)
    finally:
        srv.stop()


@contextlib.contextmanager
def redis():
    q.require_redis()
    with h.TempDir() as t:
        r = q.Redis(t)
        try:
            yield {"t": t, "r": r}
        finally:
            r.stop()


if __name__ == "__main__":
    sys.exit(tprunner.main(globals(), fixture=redis))
