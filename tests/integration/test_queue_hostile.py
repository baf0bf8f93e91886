"""Queue jobs are data, not configuration (docs/SECURITY.md, class 6).

Jobs are written straight into Redis, as any other user of that Redis could: a job whose
`profile` is a YAML file on disk pointing api_base/auth_base at a second fake TikTok server
(and token_file at the worker's token) is dead-lettered with the reason, and that server
receives nothing at all; a profile the operator allowed (--allow-profile) is used for its post
settings only, its endpoints pointing elsewhere are replaced by the worker's own; a path outside
every --root, a symlink, a folder and a FIFO are refused; a `dest` of `../../etc/x` or `a/b` is
refused and nothing is written outside the sink folder; while an upload is under way, no Redis
key holds its upload URL in plain (every key read: HGETALL, XRANGE, GET, ZRANGE, DUMP)."""
import hashlib
import contextlib
import json
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

CHUNK = 100000
THROTTLE = 400000  # B/s at the fake server: the sealed-URL check looks while it uploads


def fingerprint(path):
    """pipeline/ledger.c tp_fingerprint_file for files up to 3 MiB."""
    data = open(path, "rb").read()
    return hashlib.sha256(b"tokprep-fp1" + len(data).to_bytes(8, "little") + data).hexdigest()


def put_job(r, qname, path, profile="", fp=None, **extra):
    """What another Redis user can do: a job hash and its stream entry, no tokprep involved."""
    fp = fp or fingerprint(path)
    job_id = "%s:%s" % (fp, profile or "-")
    fields = {"path": path, "fingerprint": fp, "size": "1", "profile": profile,
              "state": "queued", "attempts": "0", "enqueued_at": str(time.time())}
    fields.update(extra)
    args = []
    for k, v in fields.items():
        args += [k, v]
    r.cmd("HSET", "tokprep:%s:job:%s" % (qname, job_id), *args)
    r.cmd("HINCRBY", "tokprep:%s:counts" % qname, "queued", "1")
    r.cmd("XADD", "tokprep:%s:jobs" % qname, "*", "job", job_id)
    return job_id


def write_profile(path, name, base, token_file, extra=""):
    with open(path, "w") as f:
        f.write("name: %s\nextends: tiktok\nupload:\n  tiktok:\n"
                "    api_base: %s\n    auth_base: %s\n    token_file: %s\n"
                "    status_interval: 0.05\n    timeout: 10\n%s" % (name, base, base, token_file,
                                                                 extra))


def finished(w):
    return {e["path"]: e for e in w.events() if e["event"] == "job_finished"}


def all_redis_text(r):
    """Every key and every value Redis holds, as text."""
    out = []
    for key in r.cmd("KEYS", "*"):
        out.append(key)
        kind = r.cmd("TYPE", key)
        if kind == "hash":
            out += r.cmd("HGETALL", key)
        elif kind == "stream":
            for _id, fields in r.cmd("XRANGE", key, "-", "+"):
                out += fields
        elif kind == "string":
            out.append(r.cmd("GET", key))
        elif kind == "zset":
            out += r.cmd("ZRANGE", key, "0", "-1", "WITHSCORES")
        elif kind in ("list", "set"):
            out += r.cmd("LRANGE", key, "0", "-1") if kind == "list" else r.cmd("SMEMBERS", key)
        out.append(r.cmd("DUMP", key) or "")
    return "\n".join(str(x) for x in out)


def test_hostile_jobs(t, r, srv, evil_srv, c, worker_yaml, token_file):
    share = os.path.join(t, "share")
    outside = os.path.join(t, "outside")
    os.makedirs(outside)
    clip = os.path.join(share, "clip.mp4")
    h.make_vertical(clip, seconds=1)
    # A profile on disk that points TikTok at the attacker's server and at the worker's token.
    evil = os.path.join(share, "evil.yaml")
    write_profile(evil, "evil", evil_srv.base, token_file)
    # One the operator allows: its post settings count, its endpoints do not.
    allowed = os.path.join(t, "allowed.yaml")
    write_profile(allowed, "allowed", evil_srv.base, token_file,
                  "    mode: draft\n    shared_limits: redis://127.0.0.1:1/x\n")
    other = os.path.join(share, "other.mp4")
    q.with_free_box(clip, other, "allowed")
    far = os.path.join(outside, "far.mp4")
    q.with_free_box(clip, far, "far")
    far2 = os.path.join(outside, "far2.mp4")
    q.with_free_box(clip, far2, "far2")
    link_out = os.path.join(share, "link-out.mp4")
    os.symlink(far2, link_out)
    inner = os.path.join(share, "inner.mp4")
    q.with_free_box(clip, inner, "inner")
    link_in = os.path.join(share, "link-in.mp4")
    os.symlink(inner, link_in)
    fifo = os.path.join(share, "fifo.mp4")
    os.mkfifo(fifo)
    qn = "hq"
    put_job(r, qn, clip, profile=evil)
    put_job(r, qn, far)
    put_job(r, qn, link_out)  # the fingerprint of what it points to
    put_job(r, qn, link_in)
    put_job(r, qn, share, fp="1" * 64)
    put_job(r, qn, fifo, fp="2" * 64)
    put_job(r, qn, other, profile=allowed)
    sets = h.set_args(["pipeline.probe_workers=1", "pipeline.fit_workers=1",
                       "queue.reclaim_after=1", "queue.claim_lease=1", "queue.max_attempts=3"])
    w = q.Worker(r.url(qn), "w-hostile", os.path.join(t, "w-hostile"),
                 ["--drain", "--profile", worker_yaml, "--allow-profile", allowed] + sets,
                 env=c.env, roots=(share,))
    rc = w.wait(90 * q.SLOW)
    c.outputs.append(w.output())
    assert rc == 0, w.output()
    # The attacker's server heard nothing: no token, no secret, no request at all.
    snap = evil_srv.inspect()
    assert snap["counts"] == {} and snap["publishes"] == [], snap
    assert snap["events"] == [] and snap["access_tokens"] == 0, snap
    fin = finished(w)
    want = {
        clip: "profile '%s' is not allowed on this worker (--allow-profile)" % evil,
        far: "outside this worker's --root folders",
        link_out: "outside this worker's --root folders",
        link_in: "is a symlink: refused",
        share: "not a regular file",
        fifo: "not a regular file",
    }
    for path, why in want.items():
        e = fin.get(path)
        assert e and e["state"] == "dead", (path, e, w.output())
        assert why in e["reason"], (path, e["reason"])
        assert e["attempt"] == 1, e  # refused at once, not retried
    assert not [e for e in w.events() if e["event"] == "job_started" and e["path"] in want], \
        "a refused job was started"
    dead = [q.hash_of(x[1]) for x in r.cmd("XRANGE", "tokprep:%s:dead" % qn, "-", "+")]
    assert sorted(d["path"] for d in dead) == sorted(want), dead
    assert any("is not allowed on this worker" in d["reason"] for d in dead), dead
    # The allowed profile's job ran, with the worker's endpoint and token, as a draft.
    assert fin[other]["state"] == "done", (fin[other], w.output())
    pubs = srv.inspect()["publishes"]
    assert len(pubs) == 1 and pubs[0]["mode"] == "draft", pubs
    assert pubs[0]["sha256"] == h.sha256_file(other), pubs


def test_bad_dest(t, r):
    src = os.path.join(t, "dsrc")
    os.makedirs(src)
    a = os.path.join(src, "a.mp4")
    h.make_vertical(a, seconds=1, freq=660)
    b = os.path.join(src, "b.mp4")
    q.with_free_box(a, b, "b")
    good = os.path.join(src, "good.mp4")
    q.with_free_box(a, good, "good")
    out = os.path.join(t, "d1", "d2", "out")
    # Where `../../etc/x` from the sink folder lands, made so that the escape would succeed.
    os.makedirs(os.path.join(t, "d1", "etc"))
    os.makedirs(os.path.join(out, "a"))
    qn = "dq"
    put_job(r, qn, a, dest="../../etc/x")
    put_job(r, qn, b, dest="a/b")
    put_job(r, qn, good, dest="renamed")
    sets = h.set_args(["upload.sink=directory", "upload.directory.path=" + out,
                       "pipeline.probe_workers=1", "pipeline.fit_workers=1",
                       "queue.reclaim_after=1", "queue.claim_lease=1", "queue.max_attempts=3"])
    w = q.Worker(r.url(qn), "w-dest", os.path.join(t, "w-dest"), ["--drain"] + sets,
                 roots=(src,))
    rc = w.wait(60 * q.SLOW)
    assert rc == 0, w.output()
    fin = finished(w)
    for path, dest in ((a, "../../etc/x"), (b, "a/b")):
        e = fin.get(path)
        assert e and e["state"] == "dead", (path, e, w.output())
        assert "the job's dest '%s' is not a plain file name" % dest in e["reason"], e
    assert fin[good]["state"] == "done", fin[good]
    assert sorted(os.listdir(out)) == ["a", "renamed.json", "renamed.mp4"], os.listdir(out)
    assert os.listdir(os.path.join(out, "a")) == []
    assert os.listdir(os.path.join(t, "d1", "etc")) == []


def test_escapes(t, r):
    """Job fields reach the operator's terminal: no escape sequences from them."""
    qn = "eq"
    src = os.path.join(t, "esc")
    os.makedirs(src)
    put_job(r, qn, src + "/\x1b]0;pwned\x07x.mp4", fp="3" * 64)
    put_job(r, qn, "relative.mp4", fp="4" * 64, profile="\x1b[2Jevil.yaml")
    # Sink none: a worker checks what delivery needs at start (issue 16); no login here.
    p = q.run(["worker", "--queue", r.url(qn), "--root", src, "--drain", "-w",
               os.path.join(t, "w-esc"), "--set", "upload.sink=none"], timeout=60)
    assert p.returncode == 0, p.stderr
    assert "\x1b" not in p.stdout + p.stderr, repr(p.stdout + p.stderr)
    assert p.stdout.count(" dead ") == 2, p.stdout
    assert "not an absolute path free of control characters" in p.stdout, p.stdout
    assert "\\x1b]0;pwned" in p.stdout, p.stdout  # shown, escaped
    # enqueue refuses such a name early (a worker would refuse the job).
    bad = os.path.join(src, "line\nbreak.mp4")
    h.make_vertical(bad, seconds=1)
    p = q.run(["enqueue", "--queue", r.url("eq2"), "--json", bad])
    assert p.returncode == 2, (p.returncode, p.stdout, p.stderr)
    assert "control characters" in p.stdout, p.stdout
    assert r.cmd("KEYS", "tokprep:eq2:job:*") == [], "queued anyway"


def test_sealed_url(t, r, srv, c, worker_yaml):
    share = os.path.join(t, "share2")
    os.makedirs(share)
    big = os.path.join(share, "big.mp4")
    h.ff("-f", "lavfi", "-i", "testsrc2=size=180x320:rate=24:duration=2", "-f", "lavfi", "-i",
         "sine=frequency=440:duration=2", "-c:v", "libx264", "-preset", "ultrafast", "-b:v",
         "2M", "-minrate", "2M", "-maxrate", "2M", "-bufsize", "1M", "-x264-params",
         "nal-hrd=cbr", "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "32k", "-shortest",
         "-movflags", "+faststart", big)
    assert os.path.getsize(big) >= 4 * CHUNK, os.path.getsize(big)
    qn = "sq"
    p = q.run(["enqueue", "--queue", r.url(qn), "--json", big])
    assert p.returncode == 0, p.stderr
    sets = h.set_args(["pipeline.probe_workers=1", "pipeline.fit_workers=1",
                       "queue.reclaim_after=1", "queue.claim_lease=1", "queue.max_attempts=3",
                       "chunk.min=50k", "chunk.size=100k", "chunk.max=640k",
                       "chunk.final_max=1280k"])
    w = q.Worker(r.url(qn), "w-seal", os.path.join(t, "w-seal"),
                 ["--drain", "--profile", worker_yaml] + sets, env=c.env, roots=(share,))
    try:
        q.wait_for(lambda: [x for x in srv.inspect()["publishes"]
                            if x["chunks"] >= 1 and not x["complete"]],
                   60 * q.SLOW, "a chunk of the upload at the fake server")
        # Mid-upload: the job holds its resume state, the URL only sealed.
        job_key = [k for k in r.cmd("KEYS", "tokprep:%s:job:*" % qn)][0]
        job = q.hash_of(r.cmd("HGETALL", job_key))
        assert job.get("ckpt_url", "").startswith("tpseal1:"), job
        text = all_redis_text(r)
        assert "upload_token=" not in text and srv.base + "/upload" not in text, \
            "the upload URL is readable in Redis"
        rc = w.wait(60 * q.SLOW)
    finally:
        w.kill()
    assert rc == 0, w.output()
    fin = finished(w)
    assert fin[big]["state"] == "done", fin
    pubs = [x for x in srv.inspect()["publishes"] if x["sha256"] == h.sha256_file(big)]
    assert len(pubs) == 1, srv.inspect()["publishes"]


@contextlib.contextmanager
def servers():
    """Redis, a fake TikTok with a logged-in client and a worker profile, an evil server."""
    q.require_redis()
    from harness import Client, FakeTikTok
    with h.TempDir() as t:
        r = q.Redis(t)
        srv = FakeTikTok("--min-chunk", "50000", "--max-chunk", "640000", "--final-max",
                         "1280000", "--throttle", str(THROTTLE), workdir=t)
        os.makedirs(os.path.join(t, "evil-srv"))
        evil_srv = FakeTikTok(workdir=os.path.join(t, "evil-srv"))
        try:
            os.makedirs(os.path.join(t, "share"))
            token_file = os.path.join(t, "tokens", "studio.json")
            worker_yaml = os.path.join(t, "studio.yaml")
            write_profile(worker_yaml, "studio", srv.base, token_file)
            c = Client(srv, t, profile=worker_yaml)
            c.login()
            assert os.path.exists(token_file)
            with open(token_file) as f:
                tok = json.load(f)
            secrets = [c.env["TIKTOK_CLIENT_SECRET"], tok["access_token"], tok["refresh_token"]]
            yield {"t": t, "r": r, "srv": srv, "evil_srv": evil_srv, "c": c,
                   "worker_yaml": worker_yaml, "token_file": token_file, "secrets": secrets}
        finally:
            srv.stop()
            evil_srv.stop()
            r.stop()


def check_no_secrets(c, secrets):
    for out in c.outputs:
        for s in secrets:
            assert s not in out, "a secret was printed"


if __name__ == "__main__":
    sys.exit(tprunner.main(globals(), fixture=servers, after=[check_no_secrets]))
