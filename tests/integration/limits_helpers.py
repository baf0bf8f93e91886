"""Helpers for the shared-limits tests: a throwaway redis-server on a loopback port, and several
`tokprep upload` processes started at once against one fake TikTok server. Stdlib only."""
import os
import shutil
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.environ.get("TP_SOURCE_DIR", os.path.join(
    os.path.dirname(__file__), "..", "..")), "tests", "fake_tiktok"))
from harness import free_port  # noqa: E402


def have_redis():
    return shutil.which("redis-server") is not None


class Redis:
    """`redis-server` without persistence on 127.0.0.1; stopped on exit."""

    def __init__(self):
        self.port = free_port()
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--daemonize", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                if self.proc.poll() is not None or time.time() > deadline:
                    raise RuntimeError("redis-server did not start")
                time.sleep(0.05)

    def url(self, name):
        return "redis://127.0.0.1:%d/%s" % (self.port, name)

    def cli(self, *args):
        """One command through a raw socket (RESP), answer as text: enough for KEYS/ZCARD."""
        s = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        cmd = "*%d\r\n" % len(args) + "".join("$%d\r\n%s\r\n" % (len(a.encode()), a)
                                               for a in args)
        s.sendall(cmd.encode())
        time.sleep(0.1)
        data = s.recv(1 << 20).decode(errors="replace")
        s.close()
        return data

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def upload_at_once(client, batches, extra_sets=(), timeout=240):
    """Start one `tokprep upload --json` per list of files in batches, all at once; wait for
    all. Returns [(returncode, [json line per file], stderr)]."""
    import json
    procs = []
    for files in batches:
        args = [client.binary, "upload", "--json", "--profile", client.profile]
        for s in list(client.sets) + list(extra_sets):
            args += ["--set", s]
        procs.append(subprocess.Popen(args + list(files), env=client.env, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True))
    results = []
    for p in procs:
        out, err = p.communicate(timeout=timeout)
        client.outputs += [out, err]
        lines = [json.loads(line) for line in out.splitlines() if line.strip()]
        results.append((p.returncode, lines, err))
    return results
