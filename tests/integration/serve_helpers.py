"""Test helpers for `tokprep serve`: start one on a free port, talk HTTP to it (http.client, so
that Host, Origin and the other headers are the test's to choose), read its events stream.
Stdlib only. Used by tests/integration/test_serve*.py."""
import http.client
import json
import os
import signal
import socket
import subprocess
import time

TOKPREP = os.environ.get("TOKPREP", "tokprep")


class Serve:
    """One `tokprep serve --listen 127.0.0.1:0 --port-file F` and HTTP requests to it."""

    def __init__(self, tmp, *args, env=None):
        self.port_file = os.path.join(tmp, "port.%d" % time.monotonic_ns())
        self.err_path = self.port_file + ".stderr"
        self.final_stderr = ""
        self.err = open(self.err_path, "w")
        cmd = [TOKPREP, "serve", "--listen", "127.0.0.1:0", "--port-file", self.port_file]
        self.proc = subprocess.Popen(cmd + list(args), stdout=subprocess.DEVNULL,
                                     stderr=self.err, env=env)
        deadline = time.time() + 10
        while not os.path.exists(self.port_file):
            if self.proc.poll() is not None or time.time() > deadline:
                err = self.stderr()
                self.stop()
                raise AssertionError("serve did not start: %s" % err)
            time.sleep(0.02)
        with open(self.port_file) as f:
            self.port = int(f.read())
        self.host = "127.0.0.1:%d" % self.port
        self.origin = "http://" + self.host

    def stderr(self):
        if self.err.closed:
            return self.final_stderr
        self.err.flush()
        with open(self.err_path) as f:
            return f.read()

    def request(self, method, path, body=None, headers=None, timeout=30):
        """(status, headers as a dict of lower-case names, body bytes)."""
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            c.request(method, path, body=body, headers=headers or {})
            r = c.getresponse()
            data = r.read()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, data
        finally:
            c.close()

    def get(self, path, headers=None):
        return self.request("GET", path, headers=headers)

    def json(self, path, headers=None):
        st, hd, body = self.get(path, headers)
        assert st == 200, (path, st, body)
        assert hd["content-type"].startswith("application/json"), hd
        return json.loads(body)

    def csrf(self, headers=None):
        return self.json("/api/session", headers)["csrf_token"]

    def post(self, path, obj, headers=None, csrf=True):
        hd = {"Content-Type": "application/json", "Origin": self.origin}
        if csrf:
            hd["X-CSRF-Token"] = self.csrf()
        hd.update(headers or {})
        hd = {k: v for k, v in hd.items() if v is not None}
        body = obj if isinstance(obj, (bytes, str)) else json.dumps(obj)
        return self.request("POST", path, body=body, headers=hd)

    def stop(self, sig=signal.SIGTERM, timeout=5):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if not self.err.closed:
            self.final_stderr = self.stderr()
            self.err.close()
        return self.proc.returncode

    def __enter__(self):
        return self

    def __exit__(self, exc_type, *exc):
        rc = self.stop()
        if exc_type is None:  # a clean stop: exit 0, no sanitizer report
            assert rc == 0, (rc, self.final_stderr)
            assert "Sanitizer" not in self.final_stderr, self.final_stderr


class SSE:
    """A raw /api/events reader: data lines as they come."""

    def __init__(self, srv, query="", headers=None):
        self.sock = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
        extra = "".join("%s: %s\r\n" % kv for kv in (headers or {}).items())
        self.sock.sendall(("GET /api/events%s HTTP/1.1\r\nHost: %s\r\n%s"
                           "Accept: text/event-stream\r\n\r\n" % (query, srv.host, extra)
                           ).encode())
        self.buf = b""
        self.head = self._until(b"\r\n\r\n", 5).decode()

    def _until(self, sep, timeout):
        deadline = time.time() + timeout
        while sep not in self.buf:
            left = deadline - time.time()
            if left <= 0:
                raise TimeoutError("nothing within %.1f s; have %r" % (timeout, self.buf[-300:]))
            self.sock.settimeout(left)
            b = self.sock.recv(65536)
            if not b:
                raise EOFError("closed; have %r" % self.buf[-300:])
            self.buf += b
        i = self.buf.index(sep) + len(sep)
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def data(self, timeout=2.0):
        """The next `data:` line's text (comments and chunk framing skipped)."""
        deadline = time.time() + timeout
        while True:
            line = self._until(b"\n", max(0.01, deadline - time.time())).decode().rstrip("\r\n")
            if line.startswith("data: "):
                return line[6:]

    def close(self):
        self.sock.close()
