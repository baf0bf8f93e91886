"""Review before posting through `tokprep serve`'s JSON API, against the fake TikTok server:
creator_info (503 before login, then cached), the parked files, approve/reject with their
refusals (400, 404, 409), the events of the next run over SSE, and TikTok receiving exactly
the settings approved over HTTP. No secret reaches a page, JSON or the log."""
import json
import os
import subprocess
import sys
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.environ.get("TP_SOURCE_DIR", os.path.join(HERE, "..", "..")),
                                "tests", "fake_tiktok"))
import pipeline_helpers as h  # noqa: E402
from harness import Client, FakeTikTok, sha256_file  # noqa: E402
import harness  # noqa: E402
from serve_helpers import SSE, Serve  # noqa: E402
import tprunner  # noqa: E402

SMALL_SERVER = harness.SMALL_SERVER
SMALL_SETS = harness.small_sets()
REVIEW = SMALL_SETS + ["upload.tiktok.review=true"]
CAPTION = "caption from the console \u00e9 \U0001f44b"
NICK = "Serve <b>Tester</b>"


def run(c, work, *paths):
    cmd = [c.binary, "run", "--json", "-w", work] + c.args(*(h.set_args() + list(paths)))
    r = subprocess.run(cmd, env=c.env, capture_output=True, text=True, timeout=180)
    c.outputs += [r.stdout, r.stderr]
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
    return h.events(r.stdout)


def test_review_over_http():
    with h.TempDir() as t:
        src = os.path.join(t, "in")
        os.makedirs(src)
        a, b = os.path.join(src, "a.mp4"), os.path.join(src, "b.mp4")
        h.make_vertical(a, freq=440)    # passes as is: its output is the source
        h.make_landscape(b, freq=880)   # fitted into the work folder
        empty = os.path.join(t, "empty")
        os.makedirs(empty)
        work = os.path.join(t, "work")
        srv = FakeTikTok(*SMALL_SERVER, "--nickname", NICK, "--duet-disabled", workdir=t)
        seen = []
        try:
            c = Client(srv, t, sets=REVIEW)
            serve_args = ["-w", work] + c.args(*h.set_args())

            # Not logged in yet: creator_info cannot be asked.
            with Serve(t, *serve_args, env=c.env) as s:
                st, _, body = s.get("/api/creator")
                assert st == 503 and json.loads(body)["error"] == "auth", (st, body)
                seen += [body.decode(), s.stderr()]

            c.login()
            evs = run(c, work, src)
            ids = {e["path"]: e["id"] for e in evs if e["event"] == "awaiting_review"}
            assert sorted(ids) == [a, b], evs
            assert srv.inspect()["publishes"] == []

            with Serve(t, *serve_args, env=c.env) as s:
                # creator_info: the fake's answers, asked once for two requests (cached).
                cr = s.json("/api/creator")
                asked = srv.inspect()["counts"].get("creator")
                assert cr["nickname"] == NICK and cr["duet_disabled"] is True, cr
                assert s.json("/api/creator") == cr
                assert srv.inspect()["counts"].get("creator") == asked
                # The fake's avatar (http://127.0.0.1:PORT/...) is allowed by the CSP.
                csp = s.get("/review")[1]["content-security-policy"]
                assert "img-src 'self' data: https: " + srv.base in csp, csp
                st, _, page = s.get("/review")
                assert st == 200 and b"<b>Tester" not in page, st
                seen.append(page.decode())

                waiting = s.json("/api/files?status=awaiting_review")["files"]
                assert sorted(f["id"] for f in waiting) == sorted(ids.values()), waiting
                for f in waiting:
                    assert f["review"]["caption"], f
                    st, hd, body = s.get("/files/%d/outputs/0" % f["id"],
                                         {"Range": "bytes=0-99"})
                    assert st == 206 and len(body) == 100, (f["path"], st)

                ia, ib = ids[a], ids[b]
                bad = [({}, 400),                                           # no privacy
                       ({"privacy_level": 5}, 400),
                       ({"privacy_level": "SELF_ONLY", "allow_comment": "yes"}, 400),
                       ({"privacy_level": "SELF_ONLY", "brand_content": True}, 400),
                       ({"privacy_level": "EVERYBODY"}, 400),
                       ('{"privacy_level": ', 400),                         # not JSON
                       ("[1]", 400)]
                for body, want in bad:
                    st, _, out = s.post("/api/files/%d/approve" % ia, body)
                    assert st == want, (body, st, out)
                    assert json.loads(out)["error"] == "invalid", out
                st, _, out = s.post("/api/files/999999/approve", {"privacy_level": "SELF_ONLY"})
                assert st == 404, (st, out)
                st, _, out = s.post("/api/files/999999/reject", {})
                assert st == 404, (st, out)

                settings = {"privacy_level": "MUTUAL_FOLLOW_FRIENDS", "caption": CAPTION,
                            "allow_comment": True, "allow_duet": True, "allow_stitch": False,
                            "brand_organic": True, "brand_content": False}
                st, _, out = s.post("/api/files/%d/approve" % ia, settings)
                assert st == 200 and json.loads(out) == {"id": ia, "status": "queued"}, out
                st, _, out = s.post("/api/files/%d/approve" % ia, settings)
                assert st == 409 and json.loads(out)["error"] == "conflict", (st, out)
                st, _, out = s.post("/api/files/%d/reject" % ib, {"reason": "off brand"})
                assert st == 200 and json.loads(out) == {"id": ib, "status": "rejected"}, out
                st, _, out = s.post("/api/files/%d/approve" % ib, {"privacy_level": "SELF_ONLY"})
                assert st == 409, (st, out)
                one = s.json("/api/files/%d" % ia)
                assert one["status"] == "queued" and one["review"]["approved"] is True, one
                assert s.json("/api/files/%d" % ib)["status"] == "rejected"
                assert srv.inspect()["publishes"] == []

                # The next run posts a; its events reach an SSE client as they happen.
                ev = SSE(s)
                lines = []

                def read():
                    try:
                        while True:
                            lines.append(json.loads(ev.data(60)))
                            if lines[-1].get("event") == "summary":
                                return
                    except (OSError, EOFError, TimeoutError):
                        pass

                th = threading.Thread(target=read, daemon=True)
                th.start()
                evs = run(c, work, empty)
                th.join(30)
                ev.close()
                up = [e for e in evs if e["event"] == "uploaded"]
                assert len(up) == 1 and up[0]["id"] == ia, evs
                assert [e for e in lines if e.get("event") == "uploaded"
                        and e.get("id") == ia], lines
                assert s.json("/api/files/%d" % ia)["status"] == "done"
                seen.append(s.stderr())

            pubs = srv.inspect()["publishes"]
            assert len(pubs) == 1 and pubs[0]["complete"], pubs
            assert pubs[0]["sha256"] == sha256_file(a)
            pi = pubs[0]["post_info"]
            assert {k: pi[k] for k in ("privacy_level", "title", "disable_comment",
                                       "disable_duet", "disable_stitch", "brand_organic_toggle",
                                       "brand_content_toggle")} == {
                "privacy_level": "MUTUAL_FOLLOW_FRIENDS", "title": CAPTION,
                "disable_comment": False,
                "disable_duet": True,    # the creator turned duets off: that wins
                "disable_stitch": True, "brand_organic_toggle": True,
                "brand_content_toggle": False}, pi

            text = "".join(seen + c.outputs)
            assert "upload_token" not in text
            for secret in c.secrets():
                assert secret not in text, "a secret reached a page, JSON or a log"
        finally:
            srv.stop()


if __name__ == "__main__":
    sys.exit(tprunner.main(globals()))
