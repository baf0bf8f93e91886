#!/usr/bin/env python3
"""tokprep auth + upload against the strict fake TikTok server: login (simulated browser and
--code), direct and draft posts, small and multi-chunk files, preflight refusals, token file
care, daily_limit, and that no secret ever reaches stdout/stderr."""
import json
import os
import shutil
import stat
import sys
import tempfile
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.join(os.environ.get("TP_SOURCE_DIR", os.path.join(
    os.path.dirname(__file__), "..", "..")), "tests", "fake_tiktok"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tprunner  # noqa: E402
from harness import Client, FakeTikTok, random_file, sha256_file  # noqa: E402
import harness  # noqa: E402

# Small-scale chunk rules (1/100 of TikTok's) so multi-chunk files stay around 1 MB. The fake
# server enforces TikTok's real rules unless told otherwise, as here.
SMALL_SERVER = harness.SMALL_SERVER
SMALL_SETS = harness.small_sets("200k")

ROOT = tempfile.mkdtemp(prefix="tp_upload_test.")
ALL_OUTPUTS = []  # (secrets, outputs) of every client


def workdir(name):
    d = os.path.join(ROOT, name)
    os.makedirs(d)
    return d


def finish(c):
    ALL_OUTPUTS.append((c.secrets() if os.path.exists(c.token_file) else [], c.outputs))


def assert_clean(srv):
    st = srv.inspect()
    assert st["rejections"] == [], "server refused something: %r" % st["rejections"]
    return st


def completed(st):
    return [p for p in st["publishes"] if p["complete"]]


def no_double_post(st):
    shas = [p["sha256"] for p in completed(st)]
    assert len(shas) == len(set(shas)), "a file was posted twice: %r" % shas


# ---- tests ---------------------------------------------------------------------------------

def test_login_browser_and_status():
    wd = workdir("login")
    with FakeTikTok(workdir=wd) as srv:
        c = Client(srv, wd)
        url = c.login()
        q = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
        assert len(q["code_challenge"][0]) == 64 and q["code_challenge_method"] == ["S256"]
        mode = stat.S_IMODE(os.stat(c.token_file).st_mode)
        assert mode == 0o600, oct(mode)
        t = c.tokens()
        assert set(t) == {"access_token", "refresh_token", "open_id", "scope", "expires_at",
                          "refresh_expires_at"}, t
        r = c.run("auth status", "--json", check=0)
        s = json.loads(r.stdout)
        assert s["logged_in"] and s["open_id"] == t["open_id"] and s["access_token_valid"]
        assert "login" in srv.inspect()["events"]
        assert_clean(srv)
        finish(c)


def test_login_code_path():
    wd = workdir("code")
    with FakeTikTok(workdir=wd) as srv:
        c = Client(srv, wd)
        r = c.run("auth login", "--no-wait", check=0)
        url = [line for line in r.stdout.splitlines() if line.startswith("http")][0]

        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *a, **k):
                return None

        opener = urllib.request.build_opener(NoRedirect, urllib.request.ProxyHandler({}))
        try:
            opener.open(url, timeout=10)
            raise AssertionError("authorize did not redirect")
        except urllib.error.HTTPError as e:
            assert e.code == 302
            landed = e.headers["Location"]
        # A redirect with another state (stale or forged) is refused before any exchange.
        forged = landed.replace("state=", "state=x")
        r = c.run("auth login", "--code", forged, check=2)
        assert "state does not match" in r.stderr, r.stderr
        # A wrong code: TikTok answers invalid_grant with HTTP 200; judged by the body.
        bad = landed.replace("code=", "code=zz")
        r = c.run("auth login", "--code", bad, check=2)
        assert "invalid_grant" in r.stderr, r.stderr
        assert not os.path.exists(c.token_file)
        # The code was spent by nobody yet (wrong codes don't consume it): log in for real.
        c.run("auth login", "--code", landed, check=0)
        assert c.tokens()["access_token"].startswith("act.")
        assert not os.path.exists(c.token_file + ".pending"), "pending file left after --code"
        finish(c)


def test_login_denied():
    wd = workdir("deny")
    with FakeTikTok("--deny", workdir=wd) as srv:
        c = Client(srv, wd)
        r = c.run("auth login", "--no-wait", check=0)
        url = [line for line in r.stdout.splitlines() if line.startswith("http")][0]
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *a, **k):
                return None
        opener = urllib.request.build_opener(NoRedirect, urllib.request.ProxyHandler({}))
        try:
            opener.open(url, timeout=10)
        except urllib.error.HTTPError as e:
            landed = e.headers["Location"]
        r = c.run("auth login", "--code", landed, check=2)
        assert "access_denied" in r.stderr, r.stderr
        finish(c)


def test_direct_small_file_default_rules():
    wd = workdir("small")
    with FakeTikTok(workdir=wd) as srv:  # TikTok's real chunk rules: under 5 MB goes whole
        c = Client(srv, wd)
        c.login()
        f = random_file(os.path.join(wd, "clip.mp4"), 1_500_001)
        r = c.run("upload", "--json", f, check=0)
        out = json.loads(r.stdout)
        assert out["ok"] and out["status"] == "PUBLISH_COMPLETE", out
        st = assert_clean(srv)
        [p] = st["publishes"]
        assert p["sha256"] == sha256_file(f)
        assert p["total_chunk_count"] == 1 and p["chunk_size"] == 1_500_001
        assert p["post_info"]["title"] == "clip" and p["post_info"]["privacy_level"] == "SELF_ONLY"
        assert out["publish_id"] == p["publish_id"]
        finish(c)


def test_draft_mode():
    wd = workdir("draft")
    with FakeTikTok(workdir=wd) as srv:
        c = Client(srv, wd, profile="tiktok-draft")
        c.login()
        assert c.tokens()["scope"] == "user.info.basic,video.upload"
        f = random_file(os.path.join(wd, "d.mp4"), 700_000)
        r = c.run("upload", "--json", f, check=0)
        out = json.loads(r.stdout)
        assert out["status"] == "SEND_TO_USER_INBOX", out
        st = assert_clean(srv)
        [p] = st["publishes"]
        assert p["mode"] == "draft" and p["sha256"] == sha256_file(f)
        assert p["publish_id"].startswith("v_inbox_file~")
        assert "creator" not in st["counts"]  # needs video.publish, which drafts do not have
        finish(c)


def test_multichunk_large_final_chunk():
    wd = workdir("multi")
    with FakeTikTok(*SMALL_SERVER, workdir=wd) as srv:
        c = Client(srv, wd, sets=SMALL_SETS)
        c.login()
        f = random_file(os.path.join(wd, "m.mp4"), 1_199_999)  # 5 chunks, last 399,999 bytes
        c.run("upload", f, check=0)
        st = assert_clean(srv)
        [p] = st["publishes"]
        assert p["total_chunk_count"] == 5 and p["chunk_size"] == 200_000, p
        assert p["sha256"] == sha256_file(f)
        assert st["counts"]["put"] == 5
        finish(c)


def test_library_example_post_file():
    """docs/examples/post_file.c: the public API alone posts a file, with progress events."""
    exe = os.path.join(os.environ.get("TP_BUILD_DIR", ""), "example_post_file")
    if not os.path.exists(exe):
        tprunner.skip("%s not built" % exe)
    import subprocess
    wd = workdir("example")
    with FakeTikTok(*SMALL_SERVER, workdir=wd) as srv:
        c = Client(srv, wd, sets=SMALL_SETS)
        c.login()
        f = random_file(os.path.join(wd, "e.mp4"), 1_000_001)
        r = subprocess.run([exe, "tiktok", f] + c.sets, env=c.env, capture_output=True,
                           text=True, timeout=60)
        c.outputs += [r.stdout, r.stderr]
        assert r.returncode == 0, r.stderr
        assert "chunk 5/5 acknowledged (1000001 of 1000001 bytes); next_chunk=5" in r.stdout, r.stdout
        assert "PUBLISH_COMPLETE" in r.stdout
        st = assert_clean(srv)
        assert st["publishes"][0]["sha256"] == sha256_file(f)
        finish(c)


def test_several_files_one_run():
    wd = workdir("several")
    with FakeTikTok(*SMALL_SERVER, workdir=wd) as srv:
        c = Client(srv, wd, sets=SMALL_SETS)
        c.login()
        files = [random_file(os.path.join(wd, "f%d.mp4" % i), 300_000 + i, seed=i)
                 for i in range(3)]
        c.run("upload", *files, check=0)
        st = assert_clean(srv)
        assert sorted(p["sha256"] for p in completed(st)) == sorted(sha256_file(f) for f in files)
        assert st["counts"]["init"] == 3
        no_double_post(st)
        finish(c)


def test_ratelimit_headers_honoured():
    """A server stricter than the documented limits that says so in X-RateLimit-* headers:
    tokprep waits instead of running into 429s."""
    wd = workdir("rlheaders")
    with FakeTikTok("--limit", "creator=2", "--rate-window", "1.5", "--ratelimit-headers",
                    workdir=wd) as srv:
        c = Client(srv, wd)
        c.login()
        files = [random_file(os.path.join(wd, "r%d.mp4" % i), 50_000 + i, seed=i)
                 for i in range(3)]
        c.run("upload", *files, check=0)
        st = assert_clean(srv)  # no 429 was needed
        assert st["counts"]["creator"] == 3 and len(completed(st)) == 3
        finish(c)


def test_preflight_refusals():
    wd = workdir("preflight")
    with FakeTikTok("--privacy-options", "PUBLIC_TO_EVERYONE,FOLLOWER_OF_CREATOR",
                    workdir=wd) as srv:
        c = Client(srv, wd)
        c.login()
        f = random_file(os.path.join(wd, "p.mp4"), 100_000)
        r = c.run("upload", f, check=2)
        assert "SELF_ONLY is not offered" in r.stderr and "PUBLIC_TO_EVERYONE" in r.stderr, r.stderr
        assert "init" not in srv.inspect()["counts"]
        finish(c)
    wd = workdir("preflight2")
    with FakeTikTok("--comment-disabled", workdir=wd) as srv:
        c = Client(srv, wd)
        c.login()
        f = random_file(os.path.join(wd, "p.mp4"), 100_000)
        r = c.run("upload", f, check=2)
        assert "disable_comment" in r.stderr, r.stderr
        c.run("upload", "--set", "upload.tiktok.disable_comment=true", f, check=0)
        finish(c)


def test_caption_sidecar_and_limit():
    wd = workdir("caption")
    with FakeTikTok(workdir=wd) as srv:
        c = Client(srv, wd)
        c.login()
        f = random_file(os.path.join(wd, "cap.mp4"), 100_000)
        with open(os.path.join(wd, "cap.txt"), "w", encoding="utf-8") as fh:
            fh.write("Hello \U0001F600 #tokprep\n")
        c.run("upload", f, check=0)
        assert srv.inspect()["publishes"][0]["post_info"]["title"] == "Hello \U0001F600 #tokprep"
        # 1,100 emoji = 2,200 UTF-16 units: allowed; one more unit is not.
        with open(os.path.join(wd, "cap.txt"), "w", encoding="utf-8") as fh:
            fh.write("\U0001F600" * 1100 + "x")
        r = c.run("upload", f, check=1)
        assert "2201 UTF-16 units" in r.stderr, r.stderr
        assert srv.inspect()["counts"]["init"] == 1
        finish(c)


def test_token_file_permissions():
    wd = workdir("perms")
    with FakeTikTok(workdir=wd) as srv:
        c = Client(srv, wd)
        c.login()
        os.chmod(c.token_file, 0o644)
        f = random_file(os.path.join(wd, "x.mp4"), 100_000)
        r = c.run("upload", f, check=2)
        assert "other users can access" in r.stderr and "chmod 600" in r.stderr, r.stderr
        assert "creator" not in srv.inspect()["counts"]
        os.chmod(c.token_file, 0o600)
        finish(c)


def test_not_logged_in_and_logout():
    wd = workdir("logout")
    with FakeTikTok(workdir=wd) as srv:
        c = Client(srv, wd)
        f = random_file(os.path.join(wd, "x.mp4"), 100_000)
        r = c.run("upload", f, check=2)
        assert "not logged in" in r.stderr and "auth login" in r.stderr, r.stderr
        c.login()
        secrets = c.secrets()
        c.run("auth logout", check=0)
        assert not os.path.exists(c.token_file)
        assert "revoke" in srv.inspect()["events"]
        r = c.run("auth status", check=1)
        ALL_OUTPUTS.append((secrets, c.outputs))


def test_missing_client_secret():
    wd = workdir("nosecret")
    with FakeTikTok(workdir=wd) as srv:
        c = Client(srv, wd)
        del c.env["TIKTOK_CLIENT_SECRET"]
        r = c.run("auth login", "--no-wait", check=2)
        assert "TIKTOK_CLIENT_SECRET" in r.stderr, r.stderr


def test_daily_limit_defers():
    wd = workdir("daily")
    with FakeTikTok(workdir=wd) as srv:
        c = Client(srv, wd, sets=["upload.tiktok.daily_limit=2"])
        c.login()
        files = [random_file(os.path.join(wd, "d%d.mp4" % i), 100_000 + i, seed=i)
                 for i in range(4)]
        r = c.run("upload", "--json", *files, check=1)
        outs = [json.loads(line) for line in r.stdout.splitlines()]
        assert [o["ok"] for o in outs] == [True, True, False, False], outs
        assert outs[2]["error"]["kind"] == "rate" and outs[2]["retry_at"] > 0
        assert outs[3]["status"] == "DEFERRED"
        assert "daily limit of 2" in outs[2]["error"]["message"]
        assert srv.inspect()["counts"]["init"] == 2
        finish(c)


def test_status_deadline_still_processing():
    wd = workdir("deadline")
    with FakeTikTok("--processing-polls", "100000", workdir=wd) as srv:
        c = Client(srv, wd, sets=["upload.tiktok.status_deadline=0.5",
                                  "upload.tiktok.status_interval=0.2"])
        c.login()
        f = random_file(os.path.join(wd, "s.mp4"), 100_000)
        r = c.run("upload", "--json", f, check=0)
        out = json.loads(r.stdout)
        assert out["still_processing"] and out["status"] == "PROCESSING_DOWNLOAD", out
        assert "still processing" in r.stderr
        finish(c)


def test_plain_http_refused_for_remote_api():
    wd = workdir("tls")
    with FakeTikTok(workdir=wd) as srv:
        c = Client(srv, wd)
        c.login()
        f = random_file(os.path.join(wd, "t.mp4"), 100_000)
        r = c.run("upload", "--set", "upload.tiktok.api_base=http://example.invalid", f, check=2)
        assert "neither https nor http to a loopback" in r.stderr, r.stderr
        finish(c)


def test_duration_checked_with_real_mp4():
    """The probe's duration against creator_info: a 4 s clip, max_video_post_duration_sec 3."""
    if not shutil.which("ffmpeg"):
        tprunner.skip("no ffmpeg")
    wd = workdir("duration")
    f = os.path.join(wd, "v.mp4")
    import subprocess
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc=size=160x120:rate=10",
                    "-t", "4", "-pix_fmt", "yuv420p", "-movflags", "+faststart", f], check=True)
    with FakeTikTok("--max-duration", "3", workdir=wd) as srv:
        c = Client(srv, wd)
        c.login()
        # A 160x120 clip: the profile's rules would have it fitted first; --no-check lets the
        # creator_info limit be what refuses it.
        r = c.run("upload", "--no-check", f)
        assert "duration unknown" not in r.stderr, r.stderr
        assert r.returncode == 1, (r.returncode, r.stderr)
        assert "at most 3 s" in r.stderr, r.stderr
        assert "init" not in srv.inspect()["counts"]
        c.run("upload", "--no-check", "--set", "upload.tiktok.privacy_level=SELF_ONLY", f,
              check=1)
        finish(c)


def check_no_secrets():
    leaks = []
    for secrets, outputs in ALL_OUTPUTS:
        for s in secrets:
            for o in outputs:
                if s and s in o:
                    leaks.append(s[:6] + "...")
        for o in outputs:
            if "upload_token" in o:
                leaks.append("upload_token")
    assert not leaks, "secrets in output: %r" % leaks


if __name__ == "__main__":
    sys.exit(tprunner.main(globals(), sort=True, after=[check_no_secrets], cleanup=[ROOT]))
