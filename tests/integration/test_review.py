"""Review before posting (upload.tiktok.review) against the fake TikTok server: a run parks each
fitted file as awaiting_review and sends NOTHING to TikTok; `tokprep review approve` records the
post's settings and the next run (whatever paths it is given) posts exactly those, once; a
rejected post is never sent; refusals exit 1; a `run --watch` posts what is approved while it
runs; a toggle the creator turned off is sent off."""
import json
import os
import signal
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
import harness  # noqa: E402
import tprunner  # noqa: E402

SMALL_SERVER = harness.SMALL_SERVER
SMALL_SETS = harness.small_sets()
REVIEW = SMALL_SETS + ["upload.tiktok.review=true"]
CAPTION = "h\u00e9llo \U0001f44b"


def review(c, *args, work):
    """`tokprep review ARGS -w WORK` (no profile: review needs none)."""
    r = subprocess.run([c.binary, "review", *args, "-w", work], env=c.env, capture_output=True,
                       text=True, timeout=60)
    c.outputs += [r.stdout, r.stderr]
    return r


def run(c, work, *paths, json_out=True, check=0):
    cmd = [c.binary, "run"] + (["--json"] if json_out else []) + ["-w", work] + \
        c.args(*(h.set_args() + list(paths)))
    r = subprocess.run(cmd, env=c.env, capture_output=True, text=True, timeout=180)
    c.outputs += [r.stdout, r.stderr]
    assert r.returncode == check, (r.returncode, r.stdout, r.stderr)
    return r


def ledger(work):
    con = sqlite3.connect(os.path.join(work, "tokprep.db"), timeout=5)
    try:
        return {row[0]: {"path": row[1], "status": row[2], "stage": row[3], "review": row[4],
                         "error": row[5], "error_code": row[6]}
                for row in con.execute("SELECT id, source_path, status, stage, review, error, "
                                       "error_code FROM jobs")}
    finally:
        con.close()


def parked(evs):
    """{path: id} of the awaiting_review events."""
    out = {}
    for e in evs:
        if e["event"] == "awaiting_review":
            assert isinstance(e.get("id"), int) and e["id"] > 0, e
            assert e.get("outputs"), e
            out[e["path"]] = e["id"]
    return out


def sent(srv):
    st = srv.inspect()
    return st, [p for p in st["publishes"]]


def test_review_flow():
    with h.TempDir() as t:
        src = os.path.join(t, "in")
        os.makedirs(src)
        a, b = os.path.join(src, "a.mp4"), os.path.join(src, "b.mp4")
        h.make_vertical(a, freq=440)    # passes as is: the source is the output
        h.make_landscape(b, freq=880)   # fitted into the work folder
        with open(os.path.join(src, "a.txt"), "w") as f:
            f.write("proposed for a\n")
        empty = os.path.join(t, "empty")
        os.makedirs(empty)
        work = os.path.join(t, "work")
        srv = FakeTikTok(*SMALL_SERVER, workdir=t)
        try:
            c = Client(srv, t, sets=REVIEW)
            c.login()
            # 1. Parked, nothing sent to TikTok (not even creator_info).
            r = run(c, work, src)
            evs = h.events(r.stdout)
            ids = parked(evs)
            assert sorted(ids) == [a, b], evs
            assert not [e for e in evs if e["event"] == "uploaded"], evs
            summary = [e for e in evs if e["event"] == "summary"][-1]
            assert summary["awaiting_review"] == 2 and summary["queued"] == 0 and \
                summary["done"] == 0 and summary["skipped"] == 0, summary
            st, pubs = sent(srv)
            assert pubs == [] and not st["counts"].get("init") and \
                not st["counts"].get("creator"), st
            rows = ledger(work)
            assert {rows[i]["status"] for i in ids.values()} == {"awaiting_review"}, rows
            assert {rows[i]["stage"] for i in ids.values()} == {"deliver"}, rows
            assert json.loads(rows[ids[a]]["review"]) == {"caption": "proposed for a"}, rows
            assert json.loads(rows[ids[b]]["review"]) == {"caption": "b"}, rows
            stj = json.loads(subprocess.run([c.binary, "status", "--json", "-w", work],
                                            capture_output=True, text=True, check=True).stdout)
            assert stj["by_status"] == {"awaiting_review": 2}, stj
            st_txt = subprocess.run([c.binary, "status", "-w", work], capture_output=True,
                                    text=True, check=True).stdout
            assert "2 awaiting review: tokprep review list --state " + \
                os.path.join(work, "tokprep.db") in st_txt, st_txt

            # 2. A re-run neither posts nor re-parks them; the human summary names the command.
            r = run(c, work, src, json_out=False)
            assert "2 awaiting review: tokprep review list -w " + work in r.stdout, r.stdout
            assert "awaiting review (id" in r.stdout, r.stdout
            assert sent(srv)[1] == []

            # 3. Refusals: exit 1 with a message, the row untouched; usage: exit 2.
            r = review(c, "approve", str(ids[a]), "--privacy", "SELF_ONLY", "--branded-content",
                       work=work)
            assert r.returncode == 1 and "cannot be set to private" in r.stderr, r
            r = review(c, "approve", str(ids[a]), "--privacy", "EVERYBODY", work=work)
            assert r.returncode == 1 and "unknown privacy level" in r.stderr, r
            r = review(c, "approve", "999", "--privacy", "SELF_ONLY", work=work)
            assert r.returncode == 1 and "no file with id 999" in r.stderr, r
            r = review(c, "approve", str(ids[a]), work=work)
            assert r.returncode == 2 and "--privacy" in r.stderr, r
            r = review(c, "list", work=os.path.join(t, "nowhere"))
            assert r.returncode == 2, r
            assert not os.path.exists(os.path.join(t, "nowhere")), "review made a ledger"
            assert ledger(work)[ids[a]]["status"] == "awaiting_review"

            # 4. Approve a (once: a second approval is a conflict), reject b.
            r = review(c, "approve", str(ids[a]), "--privacy", "MUTUAL_FOLLOW_FRIENDS",
                       "--caption", CAPTION, "--allow-comment", "--your-brand", work=work)
            assert r.returncode == 0, r
            assert "tokprep run -w " + work in r.stdout, r.stdout
            r = review(c, "approve", str(ids[a]), "--privacy", "SELF_ONLY", work=work)
            assert r.returncode == 1 and "not awaiting review" in r.stderr, r
            r = review(c, "reject", str(ids[b]), "--reason", "off brand", work=work)
            assert r.returncode == 0, r
            r = review(c, "approve", str(ids[b]), "--privacy", "SELF_ONLY", work=work)
            assert r.returncode == 1 and "rejected" in r.stderr, r
            rows = ledger(work)
            ra = json.loads(rows[ids[a]]["review"])
            assert rows[ids[a]]["status"] == "queued" and ra["approved"] is True, rows
            assert {k: ra[k] for k in ra if k != "approved_at"} == {
                "approved": True, "privacy_level": "MUTUAL_FOLLOW_FRIENDS", "caption": CAPTION,
                "disable_comment": False, "disable_duet": True, "disable_stitch": True,
                "brand_organic_toggle": True, "brand_content_toggle": False}, ra
            assert ra["approved_at"].endswith("Z"), ra
            rb = rows[ids[b]]
            assert rb["status"] == "rejected" and rb["error"] == "rejected in review: off brand" \
                and rb["error_code"] == "reject", rb
            assert sent(srv)[1] == []

            # 5. The next run posts a once, with exactly the approved settings, though it is
            #    given only an empty folder; b is never sent.
            r = run(c, work, empty)
            evs = h.events(r.stdout)
            up = [e for e in evs if e["event"] == "uploaded"]
            assert len(up) == 1 and up[0]["path"] == a and up[0]["id"] == ids[a], evs
            st, pubs = sent(srv)
            assert len(pubs) == 1 and pubs[0]["complete"], st
            assert pubs[0]["sha256"] == sha256_file(a)
            pi = pubs[0]["post_info"]
            assert {k: pi[k] for k in ("privacy_level", "title", "disable_comment",
                                       "disable_duet", "disable_stitch", "brand_organic_toggle",
                                       "brand_content_toggle")} == {
                "privacy_level": "MUTUAL_FOLLOW_FRIENDS", "title": CAPTION,
                "disable_comment": False, "disable_duet": True, "disable_stitch": True,
                "brand_organic_toggle": True, "brand_content_toggle": False}, pi
            assert st["counts"].get("init") == 1, st["counts"]

            # 6. A third run (the folder and --force too) posts nothing more and re-parks
            #    nothing approved; --force re-parks what it redoes instead of posting it.
            r = run(c, work, src)
            evs = h.events(r.stdout)
            assert not [e for e in evs if e["event"] in ("uploaded", "awaiting_review")], evs
            cmd = [c.binary, "run", "--json", "--force", "-w", work] + c.args(*(h.set_args()
                                                                                 + [a]))
            r = subprocess.run(cmd, env=c.env, capture_output=True, text=True, timeout=180)
            c.outputs += [r.stdout, r.stderr]
            assert r.returncode == 0, r.stderr
            evs = h.events(r.stdout)
            assert [e["event"] for e in evs if e["event"] in ("uploaded", "awaiting_review")] \
                == ["awaiting_review"], evs
            assert sent(srv)[0]["counts"].get("init") == 1
            rows = ledger(work)
            assert rows[ids[b]]["status"] == "rejected", rows

            text = "".join(c.outputs)
            assert "upload_token" not in text
            for s in c.secrets():
                assert s not in text, "a secret was printed"
        finally:
            srv.stop()


def test_review_watch_and_disabled_toggle():
    """Approved while a `run --watch` holds the ledger: posted by that run within seconds. The
    creator has duets turned off: --allow-duet is sent off (the creator's choice wins)."""
    with h.TempDir() as t:
        src = os.path.join(t, "in")
        os.makedirs(src)
        a = os.path.join(src, "w.mp4")
        h.make_vertical(a, freq=660)
        work = os.path.join(t, "work")
        srv = FakeTikTok(*(SMALL_SERVER + ["--duet-disabled"]), workdir=t)
        p = None
        try:
            c = Client(srv, t, sets=REVIEW)
            c.login()
            cmd = [c.binary, "run", "--json", "--watch", "-w", work] + \
                c.args(*(h.set_args() + [src]))
            p = subprocess.Popen(cmd, env=c.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 text=True)
            lines = []
            th = threading.Thread(target=lambda: lines.extend(p.stdout), daemon=True)
            th.start()
            deadline = time.time() + 60
            while time.time() < deadline and not any('"awaiting_review"' in x for x in lines):
                assert p.poll() is None, p.stderr.read()
                time.sleep(0.05)
            ids = parked(h.events("".join(x for x in lines if '"awaiting_review"' in x)))
            assert list(ids) == [a], lines
            assert sent(srv)[1] == []
            # The watch holds the ledger's lock: review writes beside it.
            r = review(c, "approve", str(ids[a]), "--privacy", "PUBLIC_TO_EVERYONE",
                       "--allow-duet", "--allow-comment", work=work)
            assert r.returncode == 0, r
            t0 = time.time()
            while time.time() < t0 + 15 and not any('"uploaded"' in x for x in lines):
                time.sleep(0.1)
            pubs = sent(srv)[1]
            assert len(pubs) == 1 and pubs[0]["complete"], pubs
            assert time.time() - t0 < 10, "the watching run took too long"
            pi = pubs[0]["post_info"]
            assert pi["privacy_level"] == "PUBLIC_TO_EVERYONE" and pi["title"] == "w", pi
            assert pi["disable_duet"] is True and pi["disable_comment"] is False, pi
            p.send_signal(signal.SIGINT)
            out, err = p.communicate(timeout=30)
            th.join(timeout=5)
            assert p.returncode == 130, (p.returncode, err)
            assert "duet" in err and "off" in err, err  # said, not silent
            assert ledger(work)[ids[a]]["status"] == "done"
            assert srv.inspect()["counts"].get("init") == 1
        finally:
            if p and p.poll() is None:
                p.kill()
                p.wait()
            srv.stop()


def test_review_resumed_reinit_asks_creator_info():
    """An approved post whose upload stopped mid-way is resumed by the next run; when its upload
    URL has expired meanwhile, the new init is a new direct post: creator_info is asked first,
    and a toggle the creator turned off is sent off there too."""
    with h.TempDir() as t:
        src = os.path.join(t, "in")
        os.makedirs(src)
        a = os.path.join(src, "r.mp4")
        h.make_vertical(a, freq=770)
        work = os.path.join(t, "work")
        # PUT 2 fails (no retries: the run records the failure, the upload's state stays in
        # the ledger); PUT 3, the resumed chunk, finds its URL expired.
        srv = FakeTikTok(*(SMALL_SERVER + ["--duet-disabled", "--fault", "500:put:2",
                                           "--fault", "expire-url:put:3"]), workdir=t)
        try:
            sets = harness.small_sets("50k") + ["upload.tiktok.review=true",
                                                "upload.tiktok.max_retries=0"]
            c = Client(srv, t, sets=sets)
            c.login()
            ids = parked(h.events(run(c, work, src).stdout))
            r = review(c, "approve", str(ids[a]), "--privacy", "SELF_ONLY", "--allow-duet",
                       work=work)
            assert r.returncode == 0, r
            # The run retries the delivery itself: it resumes at chunk 2, finds the URL expired
            # and starts a new upload.
            r = run(c, work, src)
            assert "resuming publish_id" in r.stderr and "upload URL expired" in r.stderr, r.stderr
            assert "the creator has duets turned off" in r.stderr, r.stderr
            evs = h.events(r.stdout)
            summary = [e for e in evs if e["event"] == "summary"][0]
            assert summary["discovered"] == 1 and summary["done"] == 1, summary
            st = srv.inspect()
            assert st["counts"].get("init") == 2, st["counts"]
            # creator_info before the second init, not only before the first.
            assert st["counts"].get("creator") == 2, st["counts"]
            pubs = st["publishes"]
            assert pubs[-1]["complete"], pubs
            for pb in pubs:
                pi = pb["post_info"]
                assert pi["privacy_level"] == "SELF_ONLY" and pi["disable_duet"] is True, pi
        finally:
            srv.stop()


def test_review_privacy_not_offered():
    """A privacy level the creator is not offered when the post goes out: the post fails before
    anything is uploaded, the message says the level was chosen in review; `run --force` over
    the file parks it again for a new choice."""
    with h.TempDir() as t:
        src = os.path.join(t, "in")
        os.makedirs(src)
        a = os.path.join(src, "p.mp4")
        h.make_vertical(a, freq=770)
        work = os.path.join(t, "work")
        srv = FakeTikTok(*(SMALL_SERVER + ["--privacy-options", "SELF_ONLY"]), workdir=t)
        try:
            c = Client(srv, t, sets=REVIEW)
            c.login()
            ids = parked(h.events(run(c, work, src).stdout))
            r = review(c, "approve", str(ids[a]), "--privacy", "PUBLIC_TO_EVERYONE", work=work)
            assert r.returncode == 0, r
            r = run(c, work, src, check=2)
            fails = [e for e in h.events(r.stdout) if e["event"] == "failed"]
            assert len(fails) == 1 and fails[0]["final"] and fails[0]["id"] == ids[a], fails
            assert "PUBLIC_TO_EVERYONE is not offered" in fails[0]["reason"] and \
                "chosen in review" in fails[0]["reason"], fails
            assert not srv.inspect()["counts"].get("init"), srv.inspect()["counts"]
            cmd = [c.binary, "run", "--json", "--force", "-w", work] + \
                c.args(*(h.set_args() + [src]))
            r = subprocess.run(cmd, env=c.env, capture_output=True, text=True, timeout=180)
            assert r.returncode == 0, r.stderr
            assert list(parked(h.events(r.stdout))) == [a]
            assert ledger(work)[ids[a]]["status"] == "awaiting_review"
            assert not srv.inspect()["counts"].get("init")
        finally:
            srv.stop()


def test_review_list():
    """`review list`: the waiting posts, human and --json (one tp_ledger_file object each)."""
    with h.TempDir() as t:
        src = os.path.join(t, "in")
        os.makedirs(src)
        a = os.path.join(src, "l.mp4")
        h.make_vertical(a, freq=330)
        work = os.path.join(t, "work")
        srv = FakeTikTok(*SMALL_SERVER, workdir=t)
        try:
            c = Client(srv, t, sets=REVIEW)
            c.login()
            r = review(c, "list", work=work)
            assert r.returncode == 2 and "no ledger" in r.stderr, r
            ids = parked(h.events(run(c, work, src).stdout))
            r = review(c, "list", "--json", work=work)
            assert r.returncode == 0, r
            items = json.loads(r.stdout)
            assert [x["id"] for x in items] == [ids[a]], items
            assert items[0]["status"] == "awaiting_review" and items[0]["path"] == a, items
            assert items[0]["review"] == {"caption": "l"}, items
            r = review(c, "list", work=work)
            assert r.returncode == 0 and str(ids[a]) in r.stdout and a in r.stdout, r
            assert 'caption: "l"' in r.stdout, r.stdout
            # Hostile names and captions are shown escaped, never sent to the terminal raw.
            e = os.path.join(src, "e\x1b[2J.mp4")
            h.make_vertical(e, freq=990)
            with open(os.path.join(src, "e\x1b[2J.txt"), "w") as f:
                f.write("cap\x1b]0;owned\x07tion\n")
            ids.update(parked(h.events(run(c, work, e).stdout)))
            r = review(c, "list", work=work)
            assert r.returncode == 0 and "\x1b" not in r.stdout and "\x07" not in r.stdout, r
            assert str(ids[e]) in r.stdout, r.stdout
            review(c, "reject", str(ids[e]), work=work)
            review(c, "reject", str(ids[a]), work=work)
            r = review(c, "list", "--json", work=work)
            assert r.returncode == 0 and json.loads(r.stdout) == [], r
            r = review(c, "list", work=work)
            assert "Nothing is waiting for review" in r.stdout, r
        finally:
            srv.stop()


def test_review_draft_refused():
    """Drafts are finished in the TikTok app: review with mode draft is refused at load."""
    r = subprocess.run([os.environ.get("TOKPREP", "tokprep"), "profiles", "show",
                        "--set", "upload.tiktok.review=true", "tiktok-draft"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and "upload.tiktok.review needs upload.tiktok.mode: direct" \
        in r.stderr, r



def test_review_worker_refused():
    """A queue job has no person to wait for: workers refuse a profile with review on."""
    with h.TempDir() as t:
        env = dict(os.environ, TIKTOK_CLIENT_KEY="k", TIKTOK_CLIENT_SECRET="s",
                   XDG_CONFIG_HOME=os.path.join(t, "config"))
        r = subprocess.run([os.environ.get("TOKPREP", "tokprep"), "worker", "--root", t,
                            "--queue", "redis://127.0.0.1:1/q", "-w", os.path.join(t, "w"),
                            "--set", "upload.tiktok.review=true"],
                           capture_output=True, text=True, timeout=30, env=env)
        assert r.returncode == 2 and "queue workers post without review" in r.stderr, r


if __name__ == "__main__":
    sys.exit(tprunner.main(globals()))
