"""Test helpers around fake_tiktok.py: start/stop the server, run the real tokprep against it,
log in with a simulated browser. Stdlib only. Used by tests/integration/test_upload*.py and
bench/upload_bench.sh."""
import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
CLIENT_KEY = "test-client-key"
CLIENT_SECRET = "test-client-secret-5ecret"

# 1/100 of TikTok's chunk rules, for the server (SMALL_SERVER) and the profile (small_sets()),
# so a file of a few hundred KB is several chunks.
SMALL_SERVER = ["--min-chunk", "50000", "--max-chunk", "640000", "--final-max", "1280000"]


def small_sets(chunk_size="100k"):
    return ["chunk.min=50k", "chunk.size=" + chunk_size, "chunk.max=640k",
            "chunk.final_max=1280k"]


class FakeTikTok:
    def __init__(self, *args, workdir=None):
        self.workdir = workdir or tempfile.mkdtemp(prefix="fake_tiktok.")
        self.port_file = os.path.join(self.workdir, "port.%d" % id(self))
        cmd = [sys.executable, os.path.join(HERE, "fake_tiktok.py"), "--port-file",
               self.port_file, "--client-key", CLIENT_KEY, "--client-secret", CLIENT_SECRET]
        cmd += list(args)
        self.log = open(os.path.join(self.workdir, "fake_tiktok.%d.log" % id(self)), "w")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=self.log)
        deadline = time.time() + 10
        while not os.path.exists(self.port_file):
            if self.proc.poll() is not None or time.time() > deadline:
                raise RuntimeError("fake_tiktok did not start")
            time.sleep(0.02)
        with open(self.port_file) as f:
            self.port = int(f.read())
        self.base = "http://127.0.0.1:%d" % self.port

    def inspect(self):
        with urlopen(self.base + "/__inspect", timeout=10) as r:
            return json.load(r)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


# Tests talk to 127.0.0.1 only: never through a proxy from the environment.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def urlopen(url, timeout=20):
    return _OPENER.open(url, timeout=timeout)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for b in iter(lambda: f.read(1 << 20), b""):
            h.update(b)
    return h.hexdigest()


def random_file(path, size, seed=1):
    """Incompressible-looking bytes with an MP4 ftyp box first (the client sniffs it)."""
    head = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2"
    block = hashlib.sha256(str(seed).encode()).digest() * 32768  # 1 MiB pattern
    with open(path, "wb") as f:
        f.write(head[:size])
        left = size - min(size, len(head))
        i = 0
        while left:
            chunk = block[: min(left, len(block))]
            # vary per MiB so a misplaced chunk changes the hash
            chunk = i.to_bytes(8, "little") + chunk[8:] if len(chunk) >= 8 else chunk
            f.write(chunk)
            left -= len(chunk)
            i += 1
    return path


class Client:
    """Runs the real tokprep against a FakeTikTok with its own config dir."""

    def __init__(self, server, workdir, profile="tiktok", sets=()):
        self.server = server
        self.workdir = workdir
        self.profile = profile
        self.cb_port = free_port()
        self.sets = [
            "upload.tiktok.api_base=" + server.base,
            "upload.tiktok.auth_base=" + server.base,
            "upload.tiktok.redirect_uri=http://127.0.0.1:%d/callback/" % self.cb_port,
            "upload.tiktok.status_interval=0.05",
            "upload.tiktok.timeout=10",
        ] + list(sets)
        self.env = dict(os.environ)
        self.env.update({
            "XDG_CONFIG_HOME": os.path.join(workdir, "config"),
            "TIKTOK_CLIENT_KEY": CLIENT_KEY,
            "TIKTOK_CLIENT_SECRET": CLIENT_SECRET,
            "TP_LOG": "info",
            "no_proxy": "127.0.0.1,localhost",
            "NO_PROXY": "127.0.0.1,localhost",
        })
        self.binary = os.environ.get("TOKPREP", "tokprep")
        self.outputs = []  # every stdout/stderr seen, for the secrets check

    def args(self, *extra):
        a = ["--profile", self.profile]
        for s in self.sets:
            a += ["--set", s]
        return a + list(extra)

    def run(self, sub, *extra, timeout=120, check=None):
        cmd = [self.binary] + sub.split() + self.args(*extra)
        r = subprocess.run(cmd, env=self.env, capture_output=True, text=True, timeout=timeout)
        self.outputs += [r.stdout, r.stderr]
        if check is not None and r.returncode != check:
            raise AssertionError("%s -> %d (want %d)\nstdout:\n%s\nstderr:\n%s"
                                 % (" ".join(cmd), r.returncode, check, r.stdout, r.stderr))
        return r

    @property
    def token_file(self):
        return os.path.join(self.workdir, "config", "tokprep", self.profile + ".json")

    def login(self):
        """`auth login --no-browser`; the 'browser' (urllib) opens the printed URL; the fake
        server redirects to the CLI's loopback listener, which finishes the login."""
        cmd = [self.binary, "auth", "login", "--no-browser", "--wait", "30"] + self.args()
        p = subprocess.Popen(cmd, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
        url = None
        lines = []
        for line in p.stdout:
            lines.append(line)
            if line.startswith("http://") or line.startswith("https://"):
                url = line.strip()
                break
        if not url:
            p.wait(timeout=30)
            raise AssertionError("no authorize URL printed: %r; exit %s; stderr: %s"
                                 % (lines, p.returncode, p.stderr.read()))
        # urllib follows the 302 to http://127.0.0.1:<cb>/callback/?code=...&state=...
        with urlopen(url, timeout=20) as r:
            page = r.read().decode()
        assert "tokprep received" in page, page
        out, err = p.communicate(timeout=30)
        self.outputs += ["".join(lines) + out, err]
        assert p.returncode == 0, "login failed: %s %s" % (out, err)
        return url

    def tokens(self):
        with open(self.token_file) as f:
            return json.load(f)

    def secrets(self):
        t = self.tokens()
        return [CLIENT_SECRET, t["access_token"], t["refresh_token"]]
