#!/usr/bin/env python3
"""tokprep upload against the fake TikTok server with injected faults: each must end with the
server's SHA-256 equal to the file's and nothing posted twice, or with a clear error and no
repeated init."""
import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.environ.get("TP_SOURCE_DIR", os.path.join(
    os.path.dirname(__file__), "..", "..")), "tests", "fake_tiktok"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tprunner  # noqa: E402
from harness import Client, FakeTikTok, random_file, sha256_file  # noqa: E402
import harness  # noqa: E402

SMALL_SERVER = harness.SMALL_SERVER
SMALL_SETS = harness.small_sets("200k") + ["upload.tiktok.max_retries=3"]
SIZE = 1_099_999  # 5 chunks of 200,000, the last 299,999

ROOT = tempfile.mkdtemp(prefix="tp_upload_faults.")
ALL_OUTPUTS = []


def run_upload(name, server_args, want_rc=0, sets=(), profile="tiktok", before=None):
    wd = os.path.join(ROOT, name)
    os.makedirs(wd)
    srv = FakeTikTok(*(SMALL_SERVER + list(server_args)), workdir=wd)
    try:
        c = Client(srv, wd, profile=profile, sets=SMALL_SETS + list(sets))
        c.login()
        if before:
            before(c)
        f = random_file(os.path.join(wd, "v.mp4"), SIZE)
        t0 = time.time()
        r = c.run("upload", "--json", f)
        ALL_OUTPUTS.append((c.secrets() if os.path.exists(c.token_file) else [], c.outputs))
        assert r.returncode == want_rc, "rc %d (want %d)\n%s\n%s" % (r.returncode, want_rc,
                                                                      r.stdout, r.stderr)
        st = srv.inspect()
        out = json.loads(r.stdout.splitlines()[-1])
        done = [p for p in st["publishes"] if p["complete"]]
        shas = [p["sha256"] for p in done]
        assert len(shas) == len(set(shas)), "posted twice: %r" % shas
        if want_rc == 0:
            assert len(done) == 1, st["publishes"]
            assert done[0]["sha256"] == sha256_file(f), "server SHA-256 differs from the file's"
        print("     %s: %.1f s, %d PUTs, %d init" % (name, time.time() - t0,
                                                   st["counts"].get("put", 0),
                                                   st["counts"].get("init", 0)))
        return st, out, r, c
    finally:
        srv.stop()


def test_drop_mid_chunk():
    # libcurl itself re-sends a PUT when a kept-alive connection dies before the answer; three
    # drops in a row get past that to tokprep's own retry with backoff.
    st, out, r, c = run_upload("drop", ["--fault", "drop:put:2", "--fault", "drop:put:3",
                                        "--fault", "drop:put:4"])
    assert st["counts"]["put"] == 8 and st["counts"]["init"] == 1
    assert "sending it again" in r.stderr


def test_500_on_chunk():
    st, out, r, c = run_upload("put500", ["--fault", "500:put:3"])
    assert st["counts"]["put"] == 6 and st["counts"]["init"] == 1


def test_429_on_chunk_and_status():
    st, out, r, c = run_upload("put429", ["--fault", "429:put:2", "--fault", "429:status:1",
                                          "--fault", "500:status:2"])
    assert st["counts"]["put"] == 6 and out["status"] == "PUBLISH_COMPLETE"


def test_429_on_creator_info_retried():
    st, out, r, c = run_upload("creator429", ["--fault", "429:creator:1"])
    assert st["counts"]["creator"] == 2 and st["counts"]["init"] == 1


def test_500_on_init_never_retried():
    st, out, r, c = run_upload("init500", ["--fault", "500:init:1"], want_rc=2)
    assert st["counts"]["init"] == 1 and "put" not in st["counts"]
    assert "internal_error" in out["error"]["message"] and out["error"]["log_id"]


def test_drop_on_init_never_retried():
    st, out, r, c = run_upload("initdrop", ["--fault", "drop:init:1"], want_rc=2)
    assert st["counts"]["init"] == 1 and "put" not in st["counts"]
    assert out["error"]["kind"] == "network"


def test_429_on_init_not_retried():
    st, out, r, c = run_upload("init429", ["--fault", "429:init:1"], want_rc=1)
    assert st["counts"]["init"] == 1
    assert out["error"]["kind"] == "rate" and out["retry_at"] > 0


def test_expired_token_refreshed_once():
    holder = {}

    def remember(c):
        holder.update(c.tokens())

    st, out, r, c = run_upload("expire", ["--fault", "expire-token:creator:1"], before=remember)
    assert st["events"].count("refresh") == 1, st["events"]
    assert st["counts"]["creator"] == 2
    t = c.tokens()
    assert t["access_token"] != holder["access_token"]
    assert t["refresh_token"] != holder["refresh_token"]  # rotated and stored


def test_expiring_token_refreshed_before_use():
    st, out, r, c = run_upload("ttl", ["--token-ttl", "100"])  # < 300 s margin
    assert st["events"].count("refresh") >= 1 and st["counts"]["creator"] == 1


def test_refresh_token_expired_says_login():
    def age(c):
        time.sleep(1.2)

    st, out, r, c = run_upload("rexp", ["--token-ttl", "100", "--refresh-ttl", "1"], want_rc=2,
                               before=age)
    assert "auth login" in out["error"]["message"], out
    assert "creator" not in st["counts"]


def test_failed_with_reason():
    st, out, r, c = run_upload("failed", ["--fail-reason", "duration_check_failed"], want_rc=1)
    assert out["status"] == "FAILED" and out["fail_reason"] == "duration_check_failed"
    assert "re-fitting" in out["error"]["message"]


def test_lost_response_resync_416():
    st, out, r, c = run_upload("resync", ["--fault", "lose-response:put:2"])
    # chunk 2 stored, answer lost; resent → 416 with progress → continue at chunk 3
    assert st["counts"]["put"] == 6, st["counts"]
    assert any("does not continue" in x["reason"] for x in st["rejections"])
    assert "HTTP 416" in r.stderr


def test_lost_final_response_resync_416():
    st, out, r, c = run_upload("resync_last", ["--fault", "lose-response:put:5"])
    assert out["status"] == "PUBLISH_COMPLETE" and st["counts"]["put"] == 6


def test_expired_upload_url_reinit():
    st, out, r, c = run_upload("urlexp", ["--fault", "expire-url:put:3"])
    assert st["counts"]["init"] == 2, st["counts"]
    first, second = st["publishes"]
    assert not first["complete"] and second["complete"]
    assert out["publish_id"] == second["publish_id"]


def test_retries_exhausted():
    faults = []
    for n in range(2, 7):
        faults += ["--fault", "500:put:%d" % n]
    st, out, r, c = run_upload("exhaust", faults, want_rc=2)
    assert st["counts"]["init"] == 1 and out["error"]["kind"] == "network", out


def test_resume_after_failure():
    """A run that gives up mid-upload leaves --resume state; the next run continues on the same
    publish_id at the next chunk (no second init) and the server's SHA-256 matches."""
    wd = os.path.join(ROOT, "resume")
    os.makedirs(wd)
    srv = FakeTikTok(*(SMALL_SERVER + ["--fault", "500:put:3"]), workdir=wd)
    try:
        c = Client(srv, wd, sets=SMALL_SETS + ["upload.tiktok.max_retries=0"])
        c.login()
        f = random_file(os.path.join(wd, "v.mp4"), SIZE)
        state = os.path.join(wd, "state", "v.resume.json")
        r = c.run("upload", "--resume", state, f, check=2)
        assert "run the same command again to continue at chunk 3/5" in r.stderr, r.stderr
        assert oct(os.stat(state).st_mode & 0o777) == "0o600"
        with open(state) as fh:
            saved = json.load(fh)
        assert saved["next_chunk"] == 2, saved
        r = c.run("upload", "--resume", state, "--json", f, check=0)
        assert "resuming publish_id" in r.stderr
        st = srv.inspect()
        assert st["counts"]["init"] == 1 and st["counts"]["put"] == 6, st["counts"]
        [p] = st["publishes"]
        assert p["complete"] and p["sha256"] == sha256_file(f)
        assert not os.path.exists(state)
        ALL_OUTPUTS.append((c.secrets(), c.outputs))
    finally:
        srv.stop()


def test_interrupt_then_resume():
    """SIGINT mid-upload: tokprep stops promptly (cancel flag in curl's progress callback) with
    exit 130 and resume state; the next run finishes the same publish."""
    import signal
    import subprocess
    wd = os.path.join(ROOT, "interrupt")
    os.makedirs(wd)
    srv = FakeTikTok(*(SMALL_SERVER + ["--throttle", "400000"]), workdir=wd)
    try:
        c = Client(srv, wd, sets=SMALL_SETS)
        c.login()
        f = random_file(os.path.join(wd, "v.mp4"), SIZE)
        state = os.path.join(wd, "v.resume")
        p = subprocess.Popen([c.binary, "upload", "--resume", state] + c.args(f), env=c.env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.time() + 20
        while time.time() < deadline:
            try:
                with open(state) as fh:
                    if json.load(fh)["next_chunk"] >= 1:
                        break
            except (OSError, ValueError):
                pass
            time.sleep(0.05)
        t0 = time.time()
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=20)
        c.outputs += [out, err]
        assert p.returncode == 130, (p.returncode, err)
        assert time.time() - t0 < 3, "cancel took %.1f s" % (time.time() - t0)
        with open(state) as fh:
            saved = json.load(fh)
        assert 1 <= saved["next_chunk"] < 5, saved
        c.run("upload", "--resume", state, f, check=0)
        st = srv.inspect()
        assert st["counts"]["init"] == 1
        [pub] = st["publishes"]
        assert pub["complete"] and pub["sha256"] == sha256_file(f)
        ALL_OUTPUTS.append((c.secrets(), c.outputs))
    finally:
        srv.stop()


def test_revoked_refresh_token_says_login():
    """TikTok refuses the refresh token (invalid_grant, HTTP 200): a clear 'log in' error."""
    def spoil(c):
        t = c.tokens()
        t["refresh_token"] = "rft.revoked"
        t["expires_at"] = 0
        with open(c.token_file, "w") as fh:
            json.dump(t, fh)

    st, out, r, c = run_upload("revoked", [], want_rc=2, before=spoil)
    assert "invalid_grant" in out["error"]["message"], out
    assert "auth login" in out["error"]["message"]
    assert "creator" not in st["counts"]


def check_no_secrets():
    leaks = []
    for secrets, outputs in ALL_OUTPUTS:
        for o in outputs:
            for s in secrets:
                if s and s in o:
                    leaks.append(s[:6] + "...")
            if "upload_token" in o:
                leaks.append("upload_token")
    assert not leaks, leaks


if __name__ == "__main__":
    sys.exit(tprunner.main(globals(), sort=True, after=[check_no_secrets], cleanup=[ROOT]))
