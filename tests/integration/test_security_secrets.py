#!/usr/bin/env python3
"""docs/SECURITY.md class 9, secrets: a Redis password given in --queue is blanked from argv
(/proc/PID/cmdline of a running worker does not show it); TOKPREP_REDIS_PASSWORD and
TOKPREP_REDIS_PASSWORD_FILE work; the browser opener of `auth login` gets an environment
without TIKTOK_CLIENT_SECRET or the Redis password; processes holding secrets cannot dump core
and are not dumpable (no ptrace, no /proc/PID/mem for other processes)."""
import contextlib
import os
import resource
import signal
import subprocess
import sys
import tempfile
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.environ.get("TP_SOURCE_DIR", os.path.join(HERE, "..", "..")),
                                "tests", "fake_tiktok"))
import other_user  # noqa: E402
import pipeline_helpers as h  # noqa: E402
import queue_helpers as q  # noqa: E402
import tprunner  # noqa: E402
from harness import CLIENT_SECRET, Client, FakeTikTok, urlopen  # noqa: E402

SECRET = "s3cret-redis-pw-%d" % os.getpid()
NOBODY = 65534


def raise_core_limit():
    # The parent may run with a soft limit of 0 already: start the child with the most allowed,
    # so that a 0 afterwards is tokprep's doing.
    soft, hard = resource.getrlimit(resource.RLIMIT_CORE)
    resource.setrlimit(resource.RLIMIT_CORE, (hard, hard))


BINARY = q.TOKPREP  # as root: a copy that nobody can run (set by the fixture)


def run_as():
    """(uid, extra Popen args): as root, run tokprep as nobody, so that /proc/PID's owner tells
    dumpable (the user's uid) from not dumpable (root)."""
    if os.getuid() == 0:
        return NOBODY, {"user": NOBODY, "group": NOBODY, "extra_groups": []}
    return os.getuid(), {}


def core_limit(pid):
    with open("/proc/%d/limits" % pid) as f:
        for line in f:
            if line.startswith("Max core file size"):
                return line.split()[4:6]
    raise AssertionError("no core limit in /proc/%d/limits" % pid)


def assert_protected(pid, uid):
    owner = os.stat("/proc/%d/status" % pid).st_uid
    assert uid != 0, "cannot tell dumpable from not as root"
    assert owner == 0, "process %d is dumpable (/proc/PID owned by %d, not root)" % (pid, owner)
    assert core_limit(pid) == ["0", "0"], core_limit(pid)


def cmdline(pid):
    with open("/proc/%d/cmdline" % pid, "rb") as f:
        return f.read()


def test_worker_argv_and_dumpable(t, r):
    uid, as_user = run_as()
    work = tempfile.mkdtemp(prefix="work.", dir=t)
    os.chmod(work, 0o777)
    url = r.url("sec")
    assert SECRET in url
    # Sink none: a worker checks what delivery needs before it takes work (issue 16), and this
    # one has no TikTok login; the shared limits URL is still parsed and held.
    p = subprocess.Popen([BINARY, "worker", "--queue", url, "-w", work, "--root", t,
                          "--set", "upload.sink=none",
                          "--set", "upload.tiktok.shared_limits=" + url],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         preexec_fn=raise_core_limit, **as_user)
    try:
        # Connected (its consumer group exists) means it has parsed its arguments long ago.
        q.wait_for(lambda: r.cmd("EXISTS", "tokprep:sec:jobs") or p.poll() is not None,
                   10 * q.SLOW, "the worker to connect")
        assert p.poll() is None, p.communicate()
        line = cmdline(p.pid)
        assert SECRET.encode() not in line, "password in /proc/PID/cmdline: %r" % line
        assert b"redis://:" + b"*" * len(SECRET) + b"@127.0.0.1" in line, line
        assert_protected(p.pid, uid)
    finally:
        p.send_signal(signal.SIGTERM)
        out, err = p.communicate(timeout=20)
    assert p.returncode == 0, (p.returncode, err)
    assert SECRET.encode() not in out + err


def test_password_env_and_file(t, r):
    base = r.url("sec2").replace(":%s@" % SECRET, "")
    assert SECRET not in base
    env = dict(os.environ)
    env.pop("TOKPREP_REDIS_PASSWORD", None)
    env.pop("TOKPREP_REDIS_PASSWORD_FILE", None)
    status = [q.TOKPREP, "status", "--queue", base]
    p = subprocess.run(status, env=env, capture_output=True, text=True, timeout=30)
    assert p.returncode == 2 and "NOAUTH" in p.stderr, p.stderr  # the server wants one
    p = subprocess.run(status, env=dict(env, TOKPREP_REDIS_PASSWORD=SECRET), capture_output=True,
                       text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    pwfile = os.path.join(t, "redis.pw")
    with open(pwfile, "w") as f:
        f.write(SECRET + "\n")
    os.chmod(pwfile, 0o600)
    p = subprocess.run(status, env=dict(env, TOKPREP_REDIS_PASSWORD_FILE=pwfile),
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0 and "every user" not in p.stderr, p.stderr
    os.chmod(pwfile, 0o644)
    p = subprocess.run(status, env=dict(env, TOKPREP_REDIS_PASSWORD_FILE=pwfile),
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0 and "can be read by every user" in p.stderr, p.stderr
    fifo = os.path.join(t, "redis.fifo")
    os.mkfifo(fifo)
    for bad, want in ((fifo, "not a regular file"), (t, "not a regular file"),
                      (os.path.join(t, "missing"), "No such file")):
        p = subprocess.run(status, env=dict(env, TOKPREP_REDIS_PASSWORD_FILE=bad),
                           capture_output=True, text=True, timeout=30)
        assert p.returncode == 2 and want in p.stderr, (bad, p.stderr)
    p = subprocess.run(status, env=dict(env, TOKPREP_REDIS_PASSWORD=SECRET,
                                        TOKPREP_REDIS_PASSWORD_FILE=pwfile),
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 2 and "set only one" in p.stderr, p.stderr
    with open(pwfile, "w") as f:
        f.write("wrong-" + SECRET)
    p = subprocess.run(status, env=dict(env, TOKPREP_REDIS_PASSWORD_FILE=pwfile),
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 2 and "refused the password" in p.stderr, p.stderr
    assert SECRET not in p.stdout + p.stderr


def test_browser_env(t):
    t = os.path.join(t, "browser")
    os.makedirs(t)
    fakebin = os.path.join(t, "bin")
    os.makedirs(fakebin)
    envout = os.path.join(t, "browser.env")
    with open(os.path.join(fakebin, "xdg-open"), "w") as f:
        f.write("#!/bin/sh\nenv > '%s'\nexit 0\n" % envout)
    os.chmod(os.path.join(fakebin, "xdg-open"), 0o755)
    with FakeTikTok(workdir=t) as srv:
        c = Client(srv, t)
        env = dict(c.env, PATH=fakebin + os.pathsep + os.environ.get("PATH", ""),
                   TOKPREP_REDIS_PASSWORD=SECRET, TP_BROWSER_MARK="seen")
        assert env["TIKTOK_CLIENT_SECRET"] == CLIENT_SECRET
        uid, as_user = run_as()
        os.chmod(t, 0o777)
        cmd = [BINARY, "auth", "login", "--wait", "20"] + c.args()
        p = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, preexec_fn=raise_core_limit, **as_user)
        try:
            url = None
            for line in p.stdout:
                if line.startswith("http://"):
                    url = line.strip()
                    break
            assert url, p.communicate(timeout=5)
            q.wait_for(lambda: os.path.exists(envout) and open(envout).read().endswith("\n"),
                       10, "the fake browser")
            assert_protected(p.pid, uid)
            with urlopen(url, timeout=20) as resp:
                assert "tokprep received" in resp.read().decode()
            out, err = p.communicate(timeout=20)
            assert p.returncode == 0, (p.returncode, out, err)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        with open(envout) as f:
            child = f.read()
        assert "TP_BROWSER_MARK=seen" in child, child  # the environment was passed on
        assert "TIKTOK_CLIENT_KEY=" in child, child
        assert "TIKTOK_CLIENT_SECRET" not in child and CLIENT_SECRET not in child, \
            "the client secret reached the browser: " + child
        assert "TOKPREP_REDIS_PASSWORD" not in child and SECRET not in child, \
            "the Redis password reached the browser: " + child
        state = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)["state"][0]
        assert state not in child


@contextlib.contextmanager
def redis_with_password():
    global BINARY
    q.require_redis()
    if os.getuid() == 0:
        BINARY, why = other_user.binary_for(NOBODY)
        if not BINARY:
            tprunner.skip(why)
    with h.TempDir() as t:
        os.chmod(t, 0o755)
        r = q.Redis(t, password=SECRET)
        try:
            yield {"t": t, "r": r}
        finally:
            r.stop()


if __name__ == "__main__":
    sys.exit(tprunner.main(globals(), fixture=redis_with_password))
