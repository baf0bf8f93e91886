#!/usr/bin/env python3
"""docs/SECURITY.md class 8, the OAuth listener of `tokprep auth login`: any local user can
connect to its loopback port. A request without the login's `state` gets 400 and changes
nothing (today's `?error=access_denied&state=bad` must not end the login); a connection held
open in silence does not hold the browser's callback back; TikTok's text (error_description)
reaches the terminal without control characters."""
import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.environ.get("TP_SOURCE_DIR", os.path.join(HERE, "..", "..")),
                                "tests", "fake_tiktok"))
import pipeline_helpers as h  # noqa: E402
import tprunner  # noqa: E402
from harness import Client, FakeTikTok, urlopen  # noqa: E402

# ESC [2J (clear screen), an OSC title ending in BEL, the 8-bit CSI (U+009B), DEL.
HOSTILE = "\x1b[2J\x1b]0;pwned\x07\u009b31mred\x7fdone"


def start_login(c, *extra):
    cmd = [c.binary, "auth", "login", "--no-browser", "--wait", "20"] + c.args(*extra)
    p = subprocess.Popen(cmd, env=c.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    for line in p.stdout:
        line = line.decode()
        if line.startswith("http://"):
            url = line.strip()
            state = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)["state"][0]
            return p, url, state
    raise AssertionError("no authorize URL printed: %r" % p.communicate(timeout=5)[1])


def get(c, query, timeout=10):
    """GET /callback/?query on the listener: (status, body)."""
    try:
        with urlopen("http://127.0.0.1:%d/callback/?%s" % (c.cb_port, query), timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def own_folder(root, name):
    """Each case has its own folder (token file, fake server state)."""
    d = os.path.join(root, name)
    os.makedirs(d)
    return d


def test_state_first_and_held_connection(root):
    t = own_folder(root, 'state')
    with FakeTikTok(workdir=t) as srv:
        c = Client(srv, t)
        p, url, state = start_login(c)
        try:
            # A local user connects and says nothing.
            silent = socket.create_connection(("127.0.0.1", c.cb_port), timeout=5)
            time.sleep(0.2)
            # Answers that do not carry this login's state: 400, ignored.
            for q in ("error=access_denied&state=bad",
                      "error=access_denied&error_description=" + urllib.parse.quote(HOSTILE)
                      + "&state=" + state[:-1] + "x",
                      "code=stolen&state=bad", "error=access_denied"):
                t0 = time.time()
                status, _ = get(c, q)
                assert status == 400, (q, status)
                assert time.time() - t0 < 1.0, "forged request answered after %.1f s" % (
                    time.time() - t0)
                assert p.poll() is None, "login ended on a forged answer: %r" % (
                    p.communicate()[1],)
            # The browser's real callback (through the fake authorize page) still arrives at
            # once while the silent connection stays open.
            t0 = time.time()
            with urlopen(url, timeout=20) as r:
                page = r.read().decode()
            took = time.time() - t0
            assert "tokprep received" in page, page
            assert took < 1.5, "the real callback took %.1f s behind a silent connection" % took
            out, err = p.communicate(timeout=20)
            assert p.returncode == 0, (p.returncode, out, err)
            assert os.path.exists(c.token_file)
            silent.close()
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()


def test_request_too_long_and_slow(root):
    t = own_folder(root, 'request')
    with FakeTikTok(workdir=t) as srv:
        c = Client(srv, t)
        p, url, state = start_login(c)
        try:
            # An endless request line is cut off (bounded memory), the listener goes on.
            s = socket.create_connection(("127.0.0.1", c.cb_port), timeout=5)
            try:
                s.sendall(b"GET /callback/?" + b"a" * 20000)
            except OSError:
                pass  # closed by the listener while we were still sending
            s.settimeout(5)
            try:
                head = s.recv(100)
            except OSError:
                head = b""
            assert head == b"" or head.startswith(b"HTTP/1.1 400"), head
            s.close()
            # A slow one is dropped after the read timeout (2 s): the socket sees EOF.
            s = socket.create_connection(("127.0.0.1", c.cb_port), timeout=5)
            s.sendall(b"GET /callback/?code=x")
            t0 = time.time()
            s.settimeout(6)
            try:
                while s.recv(100):
                    pass
            except OSError:
                pass
            assert time.time() - t0 < 4, "a silent connection was kept %.1f s" % (
                time.time() - t0)
            s.close()
            with urlopen(url, timeout=20) as r:
                assert "tokprep received" in r.read().decode()
            out, err = p.communicate(timeout=20)
            assert p.returncode == 0, (out, err)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()


def test_escape_codes_not_printed(root):
    t = own_folder(root, 'escape')
    with FakeTikTok(workdir=t) as srv:
        c = Client(srv, t)
        p, url, state = start_login(c)
        try:
            status, _ = get(c, "error=access_denied&error_description="
                            + urllib.parse.quote(HOSTILE) + "&state=" + state)
            assert status == 200, status
            out, err = p.communicate(timeout=20)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        assert p.returncode == 2, (p.returncode, out, err)
        assert b"access_denied" in err and b"pwned" in err and b"red" in err, err
        for bad in (b"\x1b", b"\x07", b"\xc2\x9b", b"\x9b", b"\x7f"):
            assert bad not in err and bad not in out, (bad, err)


@contextlib.contextmanager
def temp_root():
    with h.TempDir() as t:
        yield {"root": t}


if __name__ == "__main__":
    sys.exit(tprunner.main(globals(), fixture=temp_root))
