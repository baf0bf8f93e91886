"""`tokprep serve` over HTTP: every security rule of the console (docs/SECURITY.md, class 13)
with a case that fails without its defence, the JSON API, the outputs (Range, confinement),
previews, the events stream (SSE) and a clean stop on SIGTERM. Stdlib only (http.client)."""
import contextlib
import http.client
import json
import os
import re
import shutil
import signal
import sqlite3
import stat
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.environ.get("TP_SOURCE_DIR", os.path.join(HERE, "..", "..")),
                                "tests", "fake_tiktok"))
import pipeline_helpers as h  # noqa: E402
from serve_helpers import SSE, TOKPREP, Serve  # noqa: E402
import tprunner  # noqa: E402

XSS = "<img src=x onerror=alert(1)>.mp4"
RUN_SETS = ["upload.sink=none"]


def serve_exit(*args, timeout=10):
    """Run a serve that must refuse to start: (exit status, stderr)."""
    p = subprocess.run([TOKPREP, "serve", *args], capture_output=True, text=True,
                       timeout=timeout)
    return p.returncode, p.stderr


def rows(db):
    con = sqlite3.connect(db, timeout=5)
    try:
        return con.execute("SELECT id, source_path, outputs FROM jobs ORDER BY id").fetchall()
    finally:
        con.close()


def set_outputs(db, row_id, outputs):
    con = sqlite3.connect(db, timeout=5)
    try:
        con.execute("UPDATE jobs SET outputs=? WHERE id=?", (json.dumps(outputs), row_id))
        con.commit()
    finally:
        con.close()


@contextlib.contextmanager
def fixture():
    """A work folder whose ledger has two done files (one named like an XSS payload), made by
    a real `tokprep run` with no sink, and a server over it."""
    with h.TempDir() as t:
        src = os.path.join(t, "in")
        os.makedirs(src)
        h.make_vertical(os.path.join(src, "plain.mp4"), freq=440)
        h.make_landscape(os.path.join(src, XSS), freq=660)  # fitted: its output is in work/
        work = os.path.join(t, "work")
        r = h.run(["run", "-w", work] + h.set_args(RUN_SETS) + [src], timeout=120)
        assert r.returncode == 0, r.stdout + r.stderr
        db = os.path.join(work, "tokprep.db")
        ids = {os.path.basename(p): i for i, p, _ in rows(db)}
        assert set(ids) == {"plain.mp4", XSS}, ids
        with Serve(t, "-w", work, *h.set_args(RUN_SETS)) as srv:
            yield {"t": t, "work": work, "db": db, "ids": ids, "srv": srv}


# ---- headers, Host, static ------------------------------------------------------------------


def test_security_headers(srv):
    """CSP (no inline script or style, nothing from elsewhere) and the other headers on pages,
    JSON, errors and assets."""
    for path in ("/", "/api/session", "/api/files", "/no-such-page", "/static/app.js"):
        st, hd, _ = srv.get(path)
        csp = hd.get("content-security-policy", "")
        for part in ("default-src 'none'", "script-src 'self'", "style-src 'self'",
                     "connect-src 'self'", "base-uri 'none'", "frame-ancestors 'none'",
                     "form-action 'self'"):
            assert part in csp, (path, csp)
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp, csp
        assert hd.get("x-content-type-options") == "nosniff", (path, hd)
        assert hd.get("referrer-policy") == "no-referrer", (path, hd)
        want = "max-age=3600" if path.startswith("/static/") else "no-store"
        assert hd.get("cache-control") == want, (path, hd)


def test_static_assets_etag(srv):
    for path, ctype in (("/static/app.css", "text/css"), ("/static/app.js", "text/javascript")):
        st, hd, body = srv.get(path)
        assert st == 200 and hd["content-type"].startswith(ctype), (path, st, hd)
        assert body, path
        etag = hd["etag"]
        st2, hd2, body2 = srv.get(path, {"If-None-Match": etag})
        assert st2 == 304 and not body2, (path, st2)
        st3, _, _ = srv.get(path, {"If-None-Match": '"other"'})
        assert st3 == 200


def test_foreign_host_refused(srv):
    """DNS rebinding: a page of evil.example whose name now points at 127.0.0.1 reaches the
    server with its own name in Host: refused. Our own names pass."""
    for host in ("evil.example", "evil.example:%d" % srv.port, "127.0.0.1:1", "localhost"):
        st, _, body = srv.get("/api/session", {"Host": host})
        assert st in (421, 403), (host, st, body)
        assert b"csrf_token" not in body
    for host in (srv.host, "localhost:%d" % srv.port, "LOCALHOST:%d" % srv.port,
                 "[::1]:%d" % srv.port):
        st, _, _ = srv.get("/api/session", {"Host": host})
        assert st == 200, (host, st)


def test_unknown_routes_and_methods(srv, ids):
    assert srv.get("/nope")[0] == 404
    assert srv.get("/files/abc")[0] == 404
    assert srv.get("/api/files/0")[0] == 404
    st, hd, _ = srv.get("/api/files/%d/approve" % ids["plain.mp4"])
    assert st == 405 and "POST" in hd.get("allow", ""), (st, hd)
    st, _, _ = srv.request("DELETE", "/api/files/%d" % ids["plain.mp4"])
    assert st == 405


# ---- POST: CSRF and same-origin ----------------------------------------------------------------


def test_post_needs_csrf_and_same_origin(srv, ids):
    """A cross-site page can make the browser POST (a form, or fetch no-cors): each check alone
    refuses it; only a same-origin request with the page's CSRF token reaches the route."""
    path = "/api/files/%d/reject" % ids["plain.mp4"]
    body = {"reason": "test"}
    token = srv.csrf()
    refused = [
        {"X-CSRF-Token": None},                                # no token
        {"X-CSRF-Token": "0" * 64},                            # a wrong one
        {"X-CSRF-Token": token, "Origin": "http://evil.example"},
        {"X-CSRF-Token": token, "Origin": "null"},
        {"X-CSRF-Token": token, "Origin": "http://localhost:1"},
        {"X-CSRF-Token": token, "Origin": None, "Referer": "http://evil.example/x"},
        {"X-CSRF-Token": token, "Sec-Fetch-Site": "cross-site"},
    ]
    for hd in refused:
        st, rh, out = srv.post(path, body, headers=hd, csrf=False)
        assert st == 403, (hd, st, out)
        assert json.loads(out)["error"], out
    # Allowed through the checks (the route answers: the file is done, so not awaiting review).
    for hd in ({"X-CSRF-Token": token},
               {"X-CSRF-Token": token, "Origin": None, "Referer": srv.origin + "/review"},
               {"X-CSRF-Token": token, "Origin": None},
               {"X-CSRF-Token": token, "Sec-Fetch-Site": "same-origin"}):
        st, _, out = srv.post(path, body, headers=hd, csrf=False)
        assert st not in (401, 403), (hd, st, out)


def test_post_body_cap(srv, ids):
    path = "/api/files/%d/reject" % ids["plain.mp4"]
    big = json.dumps({"reason": "x" * (70 * 1024)})
    st, _, out = srv.post(path, big)
    assert st == 413, (st, out)
    # Without Content-Length (chunked): counted as it arrives.
    hd = {"Content-Type": "application/json", "Origin": srv.origin,
          "X-CSRF-Token": srv.csrf()}
    c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)
    try:
        parts = (big[i:i + 8192].encode() for i in range(0, len(big), 8192))
        c.request("POST", path, body=parts, headers=hd, encode_chunked=True)
        r = c.getresponse()
        assert r.status == 413, (r.status, r.read())
    finally:
        c.close()


# ---- the token ------------------------------------------------------------------------------


def test_nonloopback_needs_token(t):
    rc, err = serve_exit("-w", os.path.join(t, "work"), "--listen", "0.0.0.0:0")
    assert rc == 2, (rc, err)
    assert "--auth-token-file" in err, err
    rc, err = serve_exit("-w", os.path.join(t, "work"), "--listen", "[::]:0")
    assert rc == 2 and "--auth-token-file" in err, (rc, err)


def test_token(t, work, ids):
    """--auth-token-file: made 0600 when missing; every request needs it (bearer or the cookie
    /login sets); it never appears in a page, JSON or a log line; a readable file is refused."""
    tf = os.path.join(t, "serve.token")
    with Serve(t, "-w", work, "--auth-token-file", tf) as srv:
        st = os.stat(tf)
        assert stat.S_IMODE(st.st_mode) == 0o600, oct(st.st_mode)
        with open(tf) as f:
            token = f.read().strip()
        assert re.fullmatch(r"[0-9a-f]{64}", token), token
        for path in ("/", "/api/session", "/api/files", "/static/app.js",
                     "/files/%d/outputs/0" % ids["plain.mp4"]):
            st_, _, body = srv.get(path)
            assert st_ == 401, (path, st_)
            assert srv.get(path, {"Authorization": "Bearer " + "f" * 64})[0] == 401
        bearer = {"Authorization": "Bearer " + token}
        assert srv.get("/api/session", bearer)[0] == 200
        assert srv.get("/login?token=" + "0" * 64)[0] == 401
        st_, hd, _ = srv.get("/login?token=" + token)
        assert st_ == 303 and hd["location"] == "/", (st_, hd)
        cookie = hd["set-cookie"]
        for attr in ("HttpOnly", "SameSite=Strict", "Path=/"):
            assert attr in cookie, cookie
        jar = {"Cookie": cookie.split(";")[0]}
        assert cookie.split(";")[0] == "tokprep_auth=" + token
        seen = []
        for path in ("/", "/review", "/files/%d" % ids["plain.mp4"], "/api/session",
                     "/api/files", "/api/files/%d" % ids["plain.mp4"]):
            st_, _, body = srv.get(path, jar)
            assert st_ == 200, (path, st_, body)
            seen.append(body.decode("utf-8", "replace"))
        # POSTs need the token too, before the CSRF checks.
        st_, _, _ = srv.post("/api/files/%d/reject" % ids["plain.mp4"], {},
                             headers={"X-CSRF-Token": srv.csrf(bearer)}, csrf=False)
        assert st_ == 401
        seen.append(srv.stderr())
    for text in seen:
        assert token not in text, "the token reached a page, JSON or the log"
    # A token file others can read is refused, like the TikTok token file.
    os.chmod(tf, 0o644)
    rc, err = serve_exit("-w", work, "--listen", "127.0.0.1:0", "--auth-token-file", tf)
    assert rc == 2 and tf in err, (rc, err)
    assert token not in err
    # A link is not followed.
    link = os.path.join(t, "serve.token.link")
    os.chmod(tf, 0o600)
    os.symlink(tf, link)
    rc, err = serve_exit("-w", work, "--listen", "127.0.0.1:0", "--auth-token-file", link)
    assert rc == 2, (rc, err)


# ---- files: outputs, confinement, Range, XSS ----------------------------------------------------


def output_path(db, row_id):
    for i, _, outs in rows(db):
        if i == row_id:
            return json.loads(outs)[0]["path"]
    raise AssertionError("no row %d" % row_id)


def test_output_and_range(srv, db, ids, work):
    # The XSS row was fitted (its output is under work/); plain.mp4 passed as it is (its output
    # is its source, outside the work folder, served as the row's own file).
    assert output_path(db, ids[XSS]).startswith(work + "/")
    sources = {i: p for i, p, _ in rows(db)}
    assert output_path(db, ids["plain.mp4"]) == sources[ids["plain.mp4"]]
    st, _, body = srv.get("/files/%d/outputs/0" % ids["plain.mp4"])
    assert st == 200 and len(body) == os.path.getsize(output_path(db, ids["plain.mp4"])), st
    rid = ids[XSS]
    path = output_path(db, rid)
    with open(path, "rb") as f:
        data = f.read()
    st, hd, body = srv.get("/files/%d/outputs/0" % rid)
    assert st == 200 and body == data, (st, body[:300], len(data))
    assert hd["content-type"] == "video/mp4" and hd.get("accept-ranges") == "bytes", hd
    st, hd, body = srv.get("/files/%d/outputs/0" % rid, {"Range": "bytes=100-1099"})
    assert st == 206 and body == data[100:1100], (st, len(body))
    assert hd["content-range"] == "bytes 100-1099/%d" % len(data), hd
    st, hd, body = srv.get("/files/%d/outputs/0" % rid, {"Range": "bytes=-10"})
    assert st == 206 and body == data[-10:], st
    st, hd, body = srv.get("/files/%d/outputs/0" % rid, {"Range": "bytes=%d-" % len(data)})
    assert st == 416 and hd["content-range"] == "bytes */%d" % len(data), (st, hd)
    assert srv.get("/files/%d/outputs/1" % rid)[0] == 404
    assert srv.get("/files/999999/outputs/0")[0] == 404


def test_output_confined(t, srv, db, work, ids):
    """The ledger names the file to serve; a row whose output lies outside the work folder (an
    edited or hostile ledger), reaches it through '..', or is a symbolic link, gets 404."""
    rid = ids[XSS]
    real = output_path(db, rid)
    secret = os.path.join(t, "outside.mp4")
    with open(secret, "wb") as f:
        f.write(b"not for the web")
    link = os.path.join(work, "link.mp4")
    os.symlink(real, link)
    cases = [secret,
             os.path.join(work, "..", "outside.mp4"),
             "/etc/passwd",
             link,
             work]
    try:
        for p in cases:
            set_outputs(db, rid, [{"path": p}])
            st, _, body = srv.get("/files/%d/outputs/0" % rid)
            assert st == 404, (p, st)
            assert b"not for the web" not in body and b"root:" not in body
            assert srv.get("/files/%d/preview.png?of=output" % rid)[0] == 404, p
    finally:
        set_outputs(db, rid, [{"path": real}])
    assert srv.get("/files/%d/outputs/0" % rid)[0] == 200


def test_xss_name_escaped(srv, ids):
    """A file named <img src=x onerror=alert(1)>.mp4 is text in the page and a plain JSON
    string in the API."""
    st, _, body = srv.get("/")
    page = body.decode()
    assert st == 200
    assert "<img src=x" not in page, "a file name reached the page as markup"
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    files = srv.json("/api/files")["files"]
    names = [os.path.basename(f["path"]) for f in files]
    assert XSS in names, names
    one = srv.json("/api/files/%d" % ids[XSS])
    assert os.path.basename(one["path"]) == XSS
    st, _, body = srv.get("/files/%d" % ids[XSS])
    assert st == 200 and b"<img src=x" not in body


def test_api_files(srv, ids, db):
    doc = srv.json("/api/files")
    assert doc["state"] == db or os.path.samefile(doc["state"], db), doc["state"]
    assert sorted(f["id"] for f in doc["files"]) == sorted(ids.values())
    assert all(f["status"] == "done" for f in doc["files"])
    assert srv.json("/api/files?status=done")["files"]
    assert srv.json("/api/files?status=awaiting_review")["files"] == []
    assert srv.get("/api/files?status=bogus")[0] == 400
    one = srv.json("/api/files/%d" % ids["plain.mp4"])
    assert one["id"] == ids["plain.mp4"] and "check" in one, one
    assert one["check"] is None or isinstance(one["check"], dict)
    st, _, body = srv.get("/api/files/999999")
    assert st == 404 and json.loads(body)["error"], body
    assert srv.get("/api/queue")[0] == 404  # no --queue


def test_preview(srv, work, ids):
    rid = ids["plain.mp4"]
    st, hd, body = srv.get("/files/%d/preview.png?of=source" % rid)
    assert st == 200 and hd["content-type"] == "image/png", (st, body[:200])
    assert body.startswith(b"\x89PNG"), body[:8]
    cache = os.path.join(work, "serve-cache")
    pngs = [n for n in os.listdir(cache) if n.endswith(".png")]
    assert any(n.startswith("%d-source-" % rid) for n in pngs), pngs
    for n in pngs:
        assert stat.S_IMODE(os.stat(os.path.join(cache, n)).st_mode) == 0o600
    st, _, body2 = srv.get("/files/%d/preview.png?of=source" % rid)  # from the cache
    assert st == 200 and body2 == body
    st, hd, body = srv.get("/files/%d/preview.png?of=output" % rid)
    assert st == 200 and body.startswith(b"\x89PNG"), (st, body[:200])
    assert srv.get("/files/%d/preview.png?of=other" % rid)[0] == 404
    assert srv.get("/files/999999/preview.png?of=source")[0] == 404


# ---- events ----------------------------------------------------------------------------------


def test_events_stream(srv, db):
    log = db + ".events"
    with open(log, "a") as f:
        f.write('{"event":"old"}\n')
    ev = SSE(srv)
    try:
        assert " 200 " in ev.head.split("\r\n")[0], ev.head
        assert "text/event-stream" in ev.head, ev.head
        time.sleep(0.3)
        with open(log, "a") as f:
            f.write('{"event":"fit_progress","path":"a.mp4","progress":0.5}\n')
        got = ev.data(2.0)
        assert json.loads(got)["event"] == "fit_progress", got  # not "old": starts at the end
        # Rotation (the writer renames the log to .events.1 and starts a new one).
        os.rename(log, log + ".1")
        with open(log, "w") as f:
            f.write('{"event":"after_rotation"}\n')
        assert json.loads(ev.data(2.0))["event"] == "after_rotation"
        with open(log, "a") as f:
            f.write('{"event":"part')
            f.flush()
            time.sleep(0.4)
            f.write('ial"}\n')
        assert json.loads(ev.data(2.0))["event"] == "partial"
    finally:
        ev.close()
    ev = SSE(srv, "?since=start")
    try:
        assert json.loads(ev.data(2.0))["event"] == "after_rotation"
    finally:
        ev.close()


def test_sse_clients_that_leave(srv):
    """A page closed (or reloaded) ends its events stream at once, not at the next ping: 80
    streams opened and closed one after the other stay under the limit of 64 connections."""
    for _ in range(80):
        ev = SSE(srv)
        ev.close()
    t0 = time.time()
    st, _, _ = srv.get("/api/session")
    assert st == 200 and time.time() - t0 < 2, st


def test_stop_with_sse_client(t, work):
    """SIGTERM with an events stream open: the server ends the stream and exits 0 within 2 s
    (libmicrohttpd joins every connection thread; a stream that never ends would hang it)."""
    srv = Serve(t, "-w", work)
    ev = SSE(srv)
    idle = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)  # kept alive, idle
    idle.request("GET", "/api/session")
    assert idle.getresponse().read()
    try:
        time.sleep(0.3)
        t0 = time.time()
        srv.proc.send_signal(signal.SIGTERM)
        try:
            rc = srv.proc.wait(2.0)
        except subprocess.TimeoutExpired:
            raise AssertionError("serve did not stop within 2 s with an SSE client")
        assert rc == 0, (rc, srv.stderr())
        assert time.time() - t0 < 2.0
    finally:
        ev.close()
        idle.close()
        srv.stop()


def test_no_ledger(t):
    """Before any run: the server starts, the dashboard says how to start one, the API lists
    nothing, and neither the ledger nor the work folder is created."""
    work = os.path.join(t, "not-yet")
    with Serve(t, "-w", work) as srv:
        st, _, body = srv.get("/")
        assert st == 200, st
        assert "no ledger yet at" in body.decode(), body[:500]
        doc = srv.json("/api/files")
        assert doc["files"] == [] and "no ledger yet" in doc["note"], doc
        assert srv.get("/api/files/1")[0] == 404
        assert srv.get("/files/1/outputs/0")[0] == 404
        assert srv.get("/files/1/preview.png?of=source")[0] == 404
    assert not os.path.exists(work), os.listdir(t)


def test_only_the_program_links_libmicrohttpd():
    """The server is the tool's: the library (libtokprep.so) does not need libmicrohttpd."""
    build = os.environ.get("TP_BUILD_DIR")
    lib = os.path.join(build or "", "libtokprep.so")
    if not build or not os.path.exists(lib) or not shutil.which("readelf"):
        tprunner.skip("no build folder with libtokprep.so, or no readelf")
    needed = subprocess.run(["readelf", "-d", lib], capture_output=True, text=True,
                            check=True).stdout
    assert "libmicrohttpd" not in needed, needed
    prog = subprocess.run(["readelf", "-d", TOKPREP], capture_output=True, text=True,
                          check=True).stdout
    assert "libmicrohttpd" in prog, prog


if __name__ == "__main__":
    sys.exit(tprunner.main(globals(), fixture=fixture))
