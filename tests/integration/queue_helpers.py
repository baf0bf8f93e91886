"""Helpers for the queue tests (tokprep enqueue / worker / status --queue): a throwaway
redis-server on a loopback port, cheap distinct contents, workers as processes. require_redis()
skips the test when redis-server is not installed."""
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import pipeline_helpers as h  # noqa: E402
import tprunner  # noqa: E402

TOKPREP = os.environ.get("TOKPREP", "tokprep")
# The sanitizer build is several times slower: waits scale with it.
SLOW = 3.0 if os.environ.get("TP_SANITIZE") else 1.0



def wait_for(pred, timeout, what):
    """pred()'s first truthy value within timeout seconds, else AssertionError naming what."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.02)
    raise AssertionError("timed out waiting for " + what)

def require_redis():
    """Skip the test (every case, from a fixture) when redis-server is not installed."""
    if not shutil.which("redis-server"):
        tprunner.skip("redis-server is not installed (scripts/test.sh installs it)")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Redis:
    """redis-server on 127.0.0.1:<free port>, no persistence, stopped by stop()."""

    def __init__(self, workdir, password=None):
        self.port = free_port()
        cmd = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
               "--appendonly", "no", "--dir", workdir]
        if password:
            cmd += ["--requirepass", password]
        self.password = password
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                break
            except OSError:
                if time.time() > deadline or self.proc.poll() is not None:
                    raise RuntimeError("redis-server did not start")
                time.sleep(0.05)

    def url(self, name="q"):
        auth = ":%s@" % self.password if self.password else ""
        return "redis://%s127.0.0.1:%d/%s" % (auth, self.port, name)

    def cmd(self, *args):
        """A command through a raw RESP connection (no client library needed)."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
            f = s.makefile("rb")
            out = []
            cmds = ([["AUTH", self.password]] if self.password else []) + [list(args)]
            for c in cmds:
                buf = b"*%d\r\n" % len(c)
                for a in c:
                    a = str(a).encode()
                    buf += b"$%d\r\n%s\r\n" % (len(a), a)
                s.sendall(buf)
                out.append(_read(f))
            return out[-1]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def _read(f):
    line = f.readline()
    t, rest = line[:1], line[1:-2]
    if t == b"+":
        return rest.decode()
    if t == b"-":
        raise RuntimeError(rest.decode())
    if t == b":":
        return int(rest)
    if t == b"$":
        n = int(rest)
        if n < 0:
            return None
        data = f.read(n + 2)[:-2]
        return data.decode(errors="replace")
    if t == b"*":
        n = int(rest)
        return None if n < 0 else [_read(f) for _ in range(n)]
    raise RuntimeError("bad reply %r" % line)


def hash_of(reply):
    return dict(zip(reply[0::2], reply[1::2])) if reply else {}


def with_free_box(src, dst, tag):
    """A copy of src with a unique top-level MP4 `free` box appended: new content (and
    fingerprint), same media."""
    payload = ("tokprep-queue-test-%s" % tag).encode()
    shutil.copyfile(src, dst)
    with open(dst, "ab") as f:
        f.write((8 + len(payload)).to_bytes(4, "big") + b"free" + payload)


def make_bases(d):
    """Two clips that pass as is and two that need a transcode (tiny, 1 s)."""
    os.makedirs(d, exist_ok=True)
    bases = []
    for i, freq in enumerate((440, 660)):
        p = os.path.join(d, "base_pass%d.mp4" % i)
        h.make_vertical(p, seconds=1, freq=freq)
        bases.append(p)
    for i, freq in enumerate((550, 770)):
        p = os.path.join(d, "base_fit%d.mp4" % i)
        h.make_landscape(p, seconds=1, freq=freq, size="160x90")
        bases.append(p)
    return bases


def make_mix(bases, d, n):
    os.makedirs(d, exist_ok=True)
    paths = []
    for i in range(n):
        p = os.path.join(d, "f%02d.mp4" % i)
        with_free_box(bases[i % len(bases)], p, i)
        paths.append(p)
    return paths


def run(args, env=None, timeout=60):
    return subprocess.run([TOKPREP, *args], capture_output=True, text=True, timeout=timeout,
                          env=env)


class Worker:
    """`tokprep worker --json` as a process; its NDJSON lines are collected by a thread."""

    def __init__(self, url, name, workdir, extra=(), env=None, roots=("/",)):
        """roots: the worker's --root folders (default "/": any path), unless extra has one."""
        self.name = name
        if "--root" not in extra:
            extra = [a for r in roots for a in ("--root", r)] + list(extra)
        self.cmd = [TOKPREP, "worker", "--queue", url, "--name", name, "-w", workdir, "--json",
                    *extra]
        self.proc = subprocess.Popen(self.cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, env=env)
        self.lines = []
        self.err = []
        self.t1 = threading.Thread(target=self._pump, args=(self.proc.stdout, self.lines),
                                   daemon=True)
        self.t2 = threading.Thread(target=self._pump, args=(self.proc.stderr, self.err),
                                   daemon=True)
        self.t1.start()
        self.t2.start()

    @staticmethod
    def _pump(stream, out):
        for line in stream:
            out.append(line)

    def events(self):
        evs = []
        for line in list(self.lines):
            line = line.strip()
            if line:
                evs.append(json.loads(line))
        return evs

    def wait(self, timeout):
        rc = self.proc.wait(timeout)
        self.t1.join(5)
        self.t2.join(5)
        return rc

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.t1.join(5)
        self.t2.join(5)

    def output(self):
        return "".join(self.lines) + "".join(self.err)


def status(url, env=None):
    r = run(["status", "--queue", url, "--json"], env=env)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)
