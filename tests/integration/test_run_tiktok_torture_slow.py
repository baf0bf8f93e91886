"""Crash torture of `tokprep run` with the tiktok sink against the fake TikTok server: kill -9 at
50 random moments spread over probe, fit, chunk and upload (random delays, and kills timed on
NDJSON events such as upload_progress), re-running until done. Rounds of kills each start from
a fresh work folder and a fresh server. After each round:
  - every content (or part of a split file) is a completed upload on the server exactly once,
    whose SHA-256 (the server's running hash, and a re-hash of the bytes it stored) is the
    source's (pass-through) or that of the same output made by an uninterrupted reference run;
  - every other publish is an orphan init that never received a byte (a kill between TikTok's
    init answer and the ledger commit): allowed, counted and printed;
  - the ledger lists exactly those completed publish ids, every job is done, no temporary file
    or work folder is left, and a further run posts nothing.
Prints the seed; TP_TORTURE_SEED=N replays one. Slow: ~55 s (up to ~100 s on a busy machine or
under ASan)."""
import json
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.environ.get("TP_SOURCE_DIR", os.path.join(HERE, "..", "..")),
                                "tests", "fake_tiktok"))
import pipeline_helpers as h  # noqa: E402
from harness import Client, FakeTikTok, sha256_file  # noqa: E402
import tprunner  # noqa: E402

KILLS = int(os.environ.get("TP_TORTURE_KILLS", "50"))
KILLS_PER_ROUND = 10  # then the round is run to completion and checked
MAX_ROUNDS = 12
# 1/100 of TikTok's chunk rules (a 360 KB pass-through file is three chunks), per-second rate
# windows instead of per-minute ones, and a throttled server so uploads take a while.
SERVER = ["--min-chunk", "50000", "--max-chunk", "640000", "--final-max", "1280000",
          "--rate-window", "1", "--throttle", "600000"]
CLIENT_SETS = ["chunk.min=50k", "chunk.size=100k", "chunk.max=640k", "chunk.final_max=1280k",
               "upload.tiktok.rate_window=1", "upload.tiktok.daily_limit=0"]
# Kills timed on events: after the Nth event of this kind, plus a few ms.
EVENT_KINDS = ["probed", "fit_started", "fit_done", "chunked", "upload_progress", "uploaded"]


def make_pass(path, freq):
    """9:16 H.264/AAC at 2 Mbit/s: passes as is, and is big enough for several chunks."""
    h.ff("-f", "lavfi", "-i", "testsrc2=size=180x320:rate=24:duration=2",
         "-f", "lavfi", "-i", f"sine=frequency={freq}:duration=2",
         "-c:v", "libx264", "-preset", "ultrafast", "-b:v", "2M", "-minrate", "2M",
         "-maxrate", "2M", "-bufsize", "1M", "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "32k",
         "-shortest", "-movflags", "+faststart", path)


def ledger_stages(db):
    """Jobs of the ledger by stage/status (a plain connection: mode=ro may miss the WAL)."""
    try:
        con = sqlite3.connect(db, timeout=2)
        try:
            rows = con.execute("SELECT stage, status FROM jobs").fetchall()
        finally:
            con.close()
    except sqlite3.Error:
        return []
    return rows


def ledger_posts(db):
    con = sqlite3.connect(db, timeout=5)
    try:
        rows = con.execute("SELECT source_path, posts FROM jobs").fetchall()
    finally:
        con.close()
    return {os.path.basename(p): [x["publish_id"] for x in json.loads(ps or "[]")]
            for p, ps in rows}


class Session:
    """One fresh server + logged-in client + work folder."""

    def __init__(self, t, name, src):
        self.dir = os.path.join(t, name)
        os.makedirs(self.dir)
        self.store = os.path.join(self.dir, "store")
        os.makedirs(self.store)
        self.srv = FakeTikTok(*(SERVER + ["--store-dir", self.store]), workdir=self.dir)
        self.c = Client(self.srv, self.dir, sets=CLIENT_SETS)
        self.c.login()
        self.work = os.path.join(self.dir, "work")
        self.db = os.path.join(self.work, "tokprep.db")
        self.cmd = [self.c.binary, "run", "--json", "-w", self.work] + self.c.args(
            *(h.set_args(["rules.duration=[1,3]"]) + [src]))
        self.outputs = []

    def run(self, timeout=180):
        r = subprocess.run(self.cmd, env=self.c.env, capture_output=True, text=True,
                           timeout=timeout)
        self.outputs += [r.stdout, r.stderr]
        return r

    def stop(self):
        self.srv.stop()


def expected_uploads(ses):
    """An uninterrupted run: per source name, the SHA-256 of each output it posts, in order."""
    r = ses.run()
    assert r.returncode == 0, r.stderr
    per = {}
    st = ses.srv.inspect()
    by_id = {p["publish_id"]: p for p in st["publishes"]}
    for e in h.events(r.stdout):
        if e["event"] == "uploaded":
            per[os.path.basename(e["path"])] = [by_id[i]["sha256"] for i in e["outputs"]]
    assert len(st["publishes"]) == sum(len(v) for v in per.values()), st["publishes"]
    assert all(p["complete"] for p in st["publishes"])
    return per


def check_round(ses, expected, n_contents, label):
    """The checks of the module doc for one session run to completion; returns orphans."""
    st = ses.srv.inspect()
    # Only refusals a kill explains: a resumed PUT of a chunk the server already had (416), a
    # chunk cut off on the wire. Nothing else may be refused.
    bad = [x for x in st["rejections"] if not ("does not continue" in x["reason"]
                                               or x["reason"] == "connection closed mid-chunk")]
    assert not bad, (label, bad)
    complete = [p for p in st["publishes"] if p["complete"]]
    orphans = [p for p in st["publishes"] if not p["complete"]]
    # An abandoned upload that got bytes would mean a second post of something was started.
    assert all(p["received"] == 0 and p["chunks"] == 0 for p in orphans), (label, orphans)
    want = sorted(s for v in expected.values() for s in v)
    got = sorted(p["sha256"] for p in complete)
    assert got == want, (label, "uploads differ from the reference run", got, want)
    assert len(set(got)) == len(got), (label, "an upload was posted twice")
    for p in complete:
        # The bytes the server stored hash to what it computed while receiving them.
        assert sha256_file(p["store"]) == p["sha256"], (label, p["publish_id"])
        assert os.path.getsize(p["store"]) == p["video_size"], (label, p["publish_id"])
    # Parts of the split file are posted in order, each captioned with its number.
    by_sha = {p["sha256"]: p for p in complete}
    for i, sha in enumerate(expected["s0.mp4"]):
        title = (by_sha[sha]["post_info"] or {}).get("title", "")
        assert title.endswith("(%d/%d)" % (i + 1, len(expected["s0.mp4"]))), (label, title)
    # The ledger: every job done, its posts are exactly the completed publishes.
    status = json.loads(subprocess.run([h.TOKPREP, "status", "--json", "-w", ses.work],
                                       capture_output=True, text=True, check=True).stdout)
    assert status["total"] == n_contents and status["by_status"] == {"done": n_contents}, \
        (label, status)
    posts = ledger_posts(ses.db)
    ids = sorted(i for v in posts.values() for i in v)
    assert ids == sorted(p["publish_id"] for p in complete), (label, posts)
    for name, sha_list in expected.items():
        stem = name[:-4]
        mine = [v for k, v in posts.items() if k[:-4] == stem or k[:-4].startswith(stem + "-")]
        assert len(mine) == 1, (label, name, posts)
        assert [by_sha_id(complete, i) for i in mine[0]] == sha_list, (label, name)
    # Nothing temporary left; work folders of delivered files removed.
    assert h.temp_files(ses.work, ses.store) == [], (label, h.temp_files(ses.work, ses.store))
    out = os.path.join(ses.work, "out")
    assert not os.path.isdir(out) or os.listdir(out) == [], (label, os.listdir(out))
    # A further run posts nothing.
    inits = st["counts"].get("init", 0)
    r = ses.run()
    assert r.returncode == 0, (label, r.stderr)
    assert all(v[0]["event"] == "skipped"
               for v in h.terminal_events(h.events(r.stdout)).values()), (label, r.stdout)
    assert ses.srv.inspect()["counts"].get("init", 0) == inits, label
    return orphans


def by_sha_id(complete, publish_id):
    return next(p["sha256"] for p in complete if p["publish_id"] == publish_id)


def kill_once(ses, rnd, t_full, stats):
    """Start a run and kill -9 it at a random moment; False if it finished first."""
    p = subprocess.Popen(ses.cmd, env=ses.c.env, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, text=True)
    lines = []
    th = threading.Thread(target=lambda: lines.extend(p.stdout), daemon=True)
    th.start()
    # Short delays: each killed run makes some progress, so the round's later kills land
    # further on (fit, then upload), with a short run-up (start-up, scan, probe) each time.
    delay = rnd.uniform(0.05, min(1.2, t_full))
    how = f"after {delay:.2f} s"
    if rnd.random() < 0.4:
        # Or at an event (if it comes before the delay is over), plus a few ms.
        kind = rnd.choice(EVENT_KINDS)
        nth = rnd.randint(1, 3)
        deadline = time.time() + delay
        while p.poll() is None and time.time() < deadline:
            if sum(f'"event":"{kind}"' in ln for ln in list(lines)) >= nth:
                how = f"after {kind} #{nth}"
                time.sleep(rnd.uniform(0, 0.03))
                break
            time.sleep(0.002)
    else:
        time.sleep(delay)
    # Where it was: the ledger at the moment of the kill (jobs not yet done, by stage).
    killed = p.poll() is None
    if killed:
        p.kill()
    p.wait()
    th.join(timeout=5)
    ses.outputs += lines
    if not killed:
        return False
    stages = sorted({s for s, status in ledger_stages(ses.db) if status != "done"}) or ["-"]
    last = json.loads(lines[-1])["event"] if lines else "-"
    for s in stages:
        stats["stage"][s] = stats["stage"].get(s, 0) + 1
    stats["last_event"][last] = stats["last_event"].get(last, 0) + 1
    stats["log"].append(f"{how}: last event {last}, unfinished jobs at {','.join(stages)}")
    return True


def test_run_tiktok_torture_slow():
    seed = int(os.environ.get("TP_TORTURE_SEED", str(int(time.time()))))
    rnd = random.Random(seed)
    print(f"seed {seed} (TP_TORTURE_SEED={seed} replays it)", flush=True)
    t_start = time.time()
    with h.TempDir() as t:
        src = os.path.join(t, "in")
        os.makedirs(src)
        names = []
        for i in range(3):
            make_pass(os.path.join(src, f"p{i}.mp4"), 300 + 100 * i)
            names.append(f"p{i}.mp4")
        for i in range(2):
            h.make_landscape(os.path.join(src, f"f{i}.mp4"), seconds=2, freq=700 + 50 * i)
            names.append(f"f{i}.mp4")
        # 5 s over rules.duration's 3 s maximum: fitted and split into two parts.
        h.make_landscape(os.path.join(src, "s0.mp4"), seconds=5, freq=1000)
        names.append("s0.mp4")
        shutil.copy(os.path.join(src, "p0.mp4"), os.path.join(src, "p0-copy.mp4"))
        n_contents = len(names)

        ref = Session(t, "reference", src)
        try:
            t0 = time.time()
            expected = expected_uploads(ref)
            t_full = time.time() - t0
        finally:
            ref.stop()
        # p0's content may arrive under either name: keep one key for it.
        if "p0-copy.mp4" in expected:
            expected["p0.mp4"] = expected.pop("p0-copy.mp4")
        assert sorted(expected) == sorted(names), expected
        for n in names:
            if n.startswith("p"):
                assert expected[n] == [sha256_file(os.path.join(src, n))], n
        assert len(expected["s0.mp4"]) == 2, expected["s0.mp4"]
        print(f"reference run {t_full:.1f} s: {sum(len(v) for v in expected.values())} uploads "
              f"for {n_contents} contents", flush=True)

        stats = {"stage": {}, "last_event": {}, "log": []}
        kills = 0
        orphans_total = 0
        finished_early = 0
        rd = 0
        while kills < KILLS and rd < MAX_ROUNDS:
            want = min(KILLS - kills, KILLS_PER_ROUND)
            ses = Session(t, f"round{rd}", src)
            try:
                got = 0
                tries = 0
                while got < want and tries < 4 * want:
                    tries += 1
                    if kill_once(ses, rnd, t_full, stats):
                        got += 1
                    else:
                        finished_early += 1
                        break  # all done: the round's kills are over
                kills += got
                for attempt in range(5):
                    r = ses.run()
                    if r.returncode == 0:
                        break
                    print(f"round {rd}: re-run {attempt}: exit {r.returncode}: {r.stderr[-800:]}")
                assert r.returncode == 0, r.stderr
                orphans = check_round(ses, expected, n_contents, f"round {rd}")
                orphans_total += len(orphans)
                print(f"round {rd}: {got} kills, {len(orphans)} orphan init(s) "
                      f"{[o['publish_id'] for o in orphans]}", flush=True)
                text = "".join(ses.outputs)
                assert "upload_token" not in text, "an upload URL was printed"
                for s in ses.c.secrets():
                    assert s not in text, "a secret was printed"
            finally:
                ses.stop()
            rd += 1
        for line in stats["log"]:
            print("  kill " + line)
        print(f"{kills} kills ({finished_early} run(s) finished before their kill moment)")
        print(f"unfinished stages at kill time: {stats['stage']}")
        print(f"last event before kill: {stats['last_event']}")
        print(f"orphan inits (init answered, killed before the ledger commit): {orphans_total}")
        assert kills == KILLS, f"only {kills} kills landed in {rd} rounds"
        # The kills must reach the upload: some with a job in the deliver stage.
        assert stats["stage"].get("deliver", 0) > 0, stats
    print(f"{time.time() - t_start:.0f} s in all")


if __name__ == "__main__":
    sys.exit(tprunner.main(globals()))
