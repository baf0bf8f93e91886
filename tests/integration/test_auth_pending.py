#!/usr/bin/env python3
"""`auth login` leaves no TOKEN.pending behind (issue 16): not when its wait times out, not when
SIGINT or SIGTERM stops it, not once it succeeded, not when it expired; a login killed outright
(SIGKILL) leaves one, and the next login sweeps it. Only `--no-wait` keeps it, for its --code;
a failed --code keeps it too (a forged redirect must not end the login; test_upload's
test_login_code_path retries after one) until the 10 minutes are over. About 5 s."""
import contextlib
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
import tprunner  # noqa: E402
from harness import Client, FakeTikTok  # noqa: E402


def login_cmd(c, *extra):
    return [c.binary, "auth", "login", "--no-browser"] + c.args(*extra)


def start(c, *extra):
    """A waiting login, once it has printed its URL (its pending file is written by then)."""
    p = subprocess.Popen(login_cmd(c, "--wait", "30", *extra), env=c.env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for line in p.stdout:
        if line.startswith("http://"):
            return p
    raise AssertionError("no URL printed: %r" % (p.communicate(timeout=5),))


def pending(c):
    return c.token_file + ".pending"


def run(c, *extra):
    return subprocess.run(login_cmd(c, *extra), env=c.env, capture_output=True, text=True,
                          timeout=30)


def test_wait_times_out(c):
    r = run(c, "--wait", "1")
    assert r.returncode == 2 and "no redirect arrived" in r.stderr, (r.returncode, r.stderr)
    assert not os.path.exists(pending(c)), "pending file left after a timed-out login"


def test_signals(c):
    for sig in (signal.SIGINT, signal.SIGTERM):
        p = start(c)
        assert os.path.exists(pending(c)), "no pending file while waiting"
        p.send_signal(sig)
        out, err = p.communicate(timeout=10)
        assert p.returncode == 130 and "login cancelled" in err, (sig, p.returncode, err)
        assert not os.path.exists(pending(c)), "pending file left after %s" % sig.name


def test_killed_then_swept(c):
    p = start(c)
    p.kill()
    p.communicate(timeout=10)
    assert os.path.exists(pending(c))  # nothing runs after SIGKILL
    r = run(c, "--wait", "1")
    assert r.returncode == 2, r.stderr
    assert not os.path.exists(pending(c)), "the killed login's pending file was not swept"


def test_code(c):
    r = run(c, "--no-wait")
    assert r.returncode == 0 and os.path.exists(pending(c)), (r.returncode, r.stderr)
    assert os.stat(pending(c)).st_mode & 0o777 == 0o600
    # A mistyped address, or an answer to another login: this one may still be finished.
    r = run(c, "--code", "http://127.0.0.1:9/callback/?nothing=here")
    assert r.returncode == 2 and os.path.exists(pending(c)), (r.returncode, r.stderr)
    r = run(c, "--code", "http://127.0.0.1:9/callback/?code=abc&state=not-this-login")
    assert r.returncode == 2 and "state does not match" in r.stderr, r.stderr
    assert os.path.exists(pending(c)), "a forged redirect ended the login"
    os.unlink(pending(c))
    # Expired (started 11 minutes ago): said, and removed.
    os.makedirs(os.path.dirname(pending(c)), exist_ok=True)
    fd = os.open(pending(c), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(fd, ("v" * 64 + "\n" + "s" * 32 + "\n%d\n" % (time.time() - 660)).encode())
    os.close(fd)
    r = run(c, "--code", "http://127.0.0.1:9/callback/?code=abc&state=" + "s" * 32)
    assert r.returncode == 2 and "more than 10 minutes ago" in r.stderr, r.stderr
    assert not os.path.exists(pending(c)), "expired pending file not removed"


def test_success(c):
    c.login()
    assert os.path.exists(c.token_file)
    assert not os.path.exists(pending(c)), "pending file left after a login"


@contextlib.contextmanager
def client():
    with h.TempDir() as t:
        with FakeTikTok(workdir=t) as srv:
            yield {"c": Client(srv, t)}


if __name__ == "__main__":
    sys.exit(tprunner.main(globals(), fixture=client))
