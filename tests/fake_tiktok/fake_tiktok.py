#!/usr/bin/env python3
"""A strict fake of TikTok's Login Kit and Content Posting API for tests (stdlib only).

It implements what /work/shared/tiktok-api.md describes and refuses what TikTok would refuse:
bad or expired bearer tokens, missing scopes, wrong PKCE verifiers, wrong Content-Type, chunk
sizes or counts against the rules, out-of-order or overlapping ranges, wrong totals, expired
upload URLs, privacy levels not offered, more requests per minute than allowed. Uploads are
reassembled (in order, so a running SHA-256 is the reassembly) and their SHA-256 recorded.

Faults are injected with --fault KIND:ENDPOINT:N (the Nth request to ENDPOINT, 1-based):
  500            answer 500 internal_error
  429            answer 429 rate_limit_exceeded with Retry-After: 1 (--retry-after changes it)
  drop           read part of the request body, then close the connection without answering
  lose-response  handle the request fully (store the chunk), then close without answering
  expire-token   expire every access token just before handling the request
  expire-url     expire the upload URL just before handling the request (PUT only)
Hostile answers (the server misbehaving, for reliability tests) use the same syntax:
  huge           200 with a 64 MiB JSON body           endless  200, chunked, never ending
  garbage        200 with an HTML page, not JSON       no-envelope  200 with a JSON array
  wrong-types    200 ok envelope, every field of the wrong JSON type
  missing-fields 200 ok envelope with empty data (token: no access_token)
  stall          read the request, then send nothing for --stall seconds (slow-loris)
  drip           send headers, then one body byte every 2 s (slower than any sane limit)
  redirect       307 to the same path on http://localhost:PORT/__redirected (another host
                 name); whatever arrives there is recorded in /__inspect's "redirected"
Random faults: --fault-rate P answers a fraction P of the API and upload requests (creator,
init, status, put; not the OAuth ones) with a fault drawn from --fault-kinds (default
500,429,drop), from a generator seeded by --fault-seed (the draws follow the order requests
arrive in). Nothing else is relaxed. /__inspect's "random_faults" counts them by kind:endpoint.
Rejections after upload: --fail-reason R ends every publish FAILED with fail_reason R;
--fail-post N=R only the Nth (1-based, in init order). Either way status/fetch answers as TikTok
does: PROCESSING_* while processing, then {"status": "FAILED", "fail_reason": R,
"uploaded_bytes", "publicaly_available_post_id": []}.
--tls-cert/--tls-key serve HTTPS (self-signed certificates: clients must refuse them).
--throttle B/s slows uploads down so tests can interrupt them.
ENDPOINT is one of authorize, token, revoke, creator, init, status, put, any.

GET /__inspect returns the server's state as JSON (publishes with SHA-256, request counts,
rejections) so tests can assert what arrived. See tests/fake_tiktok/README.md.
"""
import argparse
import hashlib
import json
import os
import random
import re
import secrets
import select
import socket
import ssl
import sys
import tempfile
import threading
import time
import urllib.parse
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PRIVACY_ALL = ["PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS", "FOLLOWER_OF_CREATOR", "SELF_ONLY"]
CONTENT_TYPES = {"video/mp4", "video/quicktime", "video/webm"}
VERIFIER_RE = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")
RANGE_RE = re.compile(r"^bytes (\d+)-(\d+)/(\d+)$")
LIMITS = {"creator": 20, "init": 6, "status": 30}
RANDOM_FAULT_EPS = {"creator", "init", "status", "put"}
RANDOM_FAULT_KINDS = {"500", "429", "drop"}
HOSTILE = {"huge", "endless", "garbage", "no-envelope", "wrong-types", "missing-fields", "stall",
           "drip", "redirect"}


def avatar_png(size=64, rgb=(0xfe, 0x2c, 0x55)):
    """A size×size PNG of one colour (8-bit RGB, no filter), made with zlib and struct."""
    import struct

    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff))
    row = b"\x00" + bytes(rgb) * size
    return (b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(row * size, 9)) + chunk(b"IEND", b""))


AVATAR_PNG = avatar_png()


def log_id():
    return time.strftime("%Y%m%d%H%M%S", time.gmtime()) + secrets.token_hex(10).upper()


class State:
    def __init__(self, args):
        self.args = args
        self.lock = threading.RLock()
        self.codes = {}
        self.access = {}
        self.refresh = {}
        self.publishes = {}
        self.order = []
        self.counts = {}
        self.avatar_gets = 0  # GET /__avatar.png (not an API endpoint: not in counts)
        self.rejections = []
        self.rate = {}
        self.faults = []
        self.events = []
        self.put_started = 0.0
        self.redirected = []
        self.open_id = "open-" + secrets.token_hex(8)
        self.limits = dict(LIMITS)
        for spec in args.limit or []:
            ep, n = spec.split("=")
            self.limits[ep] = int(n)
        for spec in args.fault or []:
            kind, ep, n = spec.split(":")
            self.faults.append({"kind": kind, "ep": ep, "n": int(n), "used": False})
        # --fail-post N=REASON: the Nth publish (1-based, in init order) ends FAILED.
        self.fail_posts = {}
        for spec in args.fail_post or []:
            n, reason = spec.split("=", 1)
            self.fail_posts[int(n)] = reason
        self.fault_rng = random.Random(args.fault_seed)
        self.fault_kinds = [k for k in (args.fault_kinds or "").split(",") if k]
        self.random_faults = {}

    def count(self, ep):
        self.counts[ep] = self.counts.get(ep, 0) + 1
        self.counts["any"] = self.counts.get("any", 0) + 1
        return self.counts[ep]

    def fault_for(self, ep, n):
        for f in self.faults:
            if f["used"]:
                continue
            if (f["ep"] == ep and f["n"] == n) or (f["ep"] == "any" and f["n"] == self.counts["any"]):
                f["used"] = True
                self.events.append("fault %s:%s:%d" % (f["kind"], f["ep"], f["n"]))
                return f["kind"]
        if self.args.fault_rate > 0 and ep in RANDOM_FAULT_EPS and \
                self.fault_rng.random() < self.args.fault_rate:
            kind = self.fault_rng.choice(self.fault_kinds)
            key = "%s:%s" % (kind, ep)
            self.random_faults[key] = self.random_faults.get(key, 0) + 1
            return kind
        return None

    def reject(self, ep, why):
        self.rejections.append({"endpoint": ep, "reason": why})

    def rate_ok(self, token, ep):
        """(allowed, remaining, seconds until a slot frees) for one more request."""
        limit = self.limits.get(ep)
        if not limit:
            return True, None, None
        now = time.monotonic()
        win = [t for t in self.rate.get((token, ep), []) if t > now - self.args.rate_window]
        ok = len(win) < limit
        if ok:
            win.append(now)
        self.rate[(token, ep)] = win
        reset = win[0] + self.args.rate_window - now if len(win) >= limit else 0
        return ok, limit - len(win), reset

    def snapshot(self):
        pubs = []
        for pid in self.order:
            p = self.publishes[pid]
            pubs.append({k: v for k, v in p.items() if k not in ("hasher", "upload_token", "fh")})
        return {
            "publishes": pubs,
            "counts": self.counts,
            "rejections": self.rejections,
            "events": self.events,
            "faults": self.faults,
            "open_id": self.open_id,
            "access_tokens": len(self.access),
            "refresh_count": sum(1 for e in self.events if e == "refresh"),
            "redirected": self.redirected,
            "random_faults": self.random_faults,
            "avatar_gets": self.avatar_gets,
        }


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeTikTok/1.0"

    def log_message(self, fmt, *a):
        if self.server.state.args.verbose:
            sys.stderr.write("fake_tiktok: " + (fmt % a) + "\n")

    # ---- plumbing ------------------------------------------------------------------------
    @property
    def st(self):
        return self.server.state

    def send(self, status, body=b"", ctype="application/json", headers=None):
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if body:
            self.wfile.write(body)

    def envelope(self, status, code="ok", message="", data=None, headers=None):
        if status == 200 and getattr(self, "rl_headers", None):
            headers = dict(headers or {}, **self.rl_headers)
            self.rl_headers = {}
        self.send(status, {"data": data if data is not None else {},
                           "error": {"code": code, "message": message, "log_id": log_id()}},
                  headers=headers)

    def api_error(self, ep, status, code, message, headers=None):
        self.st.reject(ep, "%s: %s" % (code, message))
        self.envelope(status, code, message, headers=headers)

    def oauth_error(self, ep, error, desc):
        self.st.reject(ep, "%s: %s" % (error, desc))
        # TikTok answers some OAuth errors with HTTP 200: clients must judge by the body.
        self.send(self.st.args.oauth_error_status,
                  {"error": error, "error_description": desc, "log_id": log_id()})

    def read_body(self, limit=1 << 20):
        n = int(self.headers.get("Content-Length") or 0)
        if n > limit:
            self.close_connection = True
            return None
        return self.rfile.read(n) if n else b""

    def drop(self, partial=0):
        if partial:
            try:
                self.rfile.read(partial)
            except OSError:
                pass
        self.close_connection = True
        try:
            self.connection.shutdown(2)
        except OSError:
            pass

    def bearer(self, ep, scopes):
        auth = self.headers.get("Authorization", "")
        if not auth.startswith("Bearer "):
            self.api_error(ep, 401, "access_token_invalid", "missing bearer token")
            return None
        tok = auth[7:]
        info = self.st.access.get(tok)
        if not info or info["expires_at"] <= time.time():
            self.api_error(ep, 401, "access_token_invalid",
                           "The access token is invalid or not found in the request.")
            return None
        if scopes and not any(s in info["scope"].split(",") for s in scopes):
            self.api_error(ep, 401, "scope_not_authorized",
                           "The user did not authorize the scope required for completing this "
                           "request.")
            return None
        if self.headers.get("Content-Type", "").split(";")[0].strip() != "application/json":
            self.api_error(ep, 400, "invalid_params", "Content-Type must be application/json")
            return None
        ok, remaining, reset = self.st.rate_ok(tok, ep)
        if not ok:
            self.api_error(ep, 429, "rate_limit_exceeded", "Rate limit exceeded",
                           headers={"Retry-After": "1"})
            return None
        self.rl_headers = {}
        if self.st.args.ratelimit_headers and remaining is not None:
            self.rl_headers = {"X-RateLimit-Remaining": str(remaining),
                               "X-RateLimit-Reset": "%.3f" % reset}
        return tok, info

    def pre_fault(self, ep):
        """Count the request and apply a fault; True when the request is finished."""
        n = self.st.count(ep)
        kind = self.st.fault_for(ep, n)
        if kind == "500":
            self.read_body(1 << 40) if ep == "put" else self.read_body()
            self.envelope(500, "internal_error", "injected internal error")
            return True, None
        if kind == "429":
            self.read_body(1 << 40) if ep == "put" else self.read_body()
            self.envelope(429, "rate_limit_exceeded", "injected rate limit",
                          headers={"Retry-After": self.st.args.retry_after})
            return True, None
        if kind == "drop":
            n = int(self.headers.get("Content-Length") or 0)
            self.drop(partial=n // 2)
            return True, None
        if kind == "expire-token":
            for v in self.st.access.values():
                v["expires_at"] = 0
        if kind in HOSTILE:
            self.read_body(1 << 40) if ep == "put" else self.read_body()
            self.hostile(kind, ep)
            return True, None
        return False, kind

    # ---- hostile answers (see the module doc) ------------------------------------------------
    def unlocked_wait(self, seconds, what, drip=False):
        """Wait without holding the state lock (other clients and /__inspect go on), until
        `seconds` pass or the client hangs up; record how long the client waited. drip: send
        one byte every 2 s meanwhile."""
        t0 = time.monotonic()
        next_byte = t0
        self.st.lock.release()
        try:
            while time.monotonic() - t0 < seconds:
                if drip and time.monotonic() >= next_byte:
                    try:
                        self.wfile.write(b" ")
                        self.wfile.flush()
                    except OSError:
                        break
                    next_byte += 2
                r, _, _ = select.select([self.connection], [], [], 0.2)
                if r:
                    try:
                        if not self.connection.recv(1, socket.MSG_PEEK):
                            break  # the client gave up
                    except OSError:
                        break
        finally:
            self.st.lock.acquire()
        self.st.events.append("%s: client waited %.1f s" % (what, time.monotonic() - t0))
        self.close_connection = True

    def hostile(self, kind, ep):
        self.close_connection = True
        try:
            if kind == "huge":
                pad = b" " * (1 << 20)
                head = b'{"data":{"publish_id":"p","pad":"'
                tail = b'"},"error":{"code":"ok","message":"","log_id":"x"}}'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(head) + 64 * len(pad) + len(tail)))
                self.end_headers()
                self.wfile.write(head)
                for _ in range(64):
                    self.wfile.write(pad)
                self.wfile.write(tail)
            elif kind == "endless":
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                block = b" " * 65536
                t0 = time.monotonic()
                sent = 0
                while time.monotonic() - t0 < 600:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(block), block))
                    sent += len(block)
            elif kind == "garbage":
                self.send(200, b"<html><body>502 Bad Gateway</body></html>", "text/html")
            elif kind == "no-envelope":
                self.send(200, [1, 2, 3])
            elif kind == "wrong-types":
                if ep == "token":
                    self.send(200, {"access_token": 5, "expires_in": "soon", "open_id": {},
                                    "refresh_token": [], "refresh_expires_in": None,
                                    "scope": 1, "token_type": True})
                else:
                    self.envelope(200, data={
                        "publish_id": 12345, "upload_url": {"url": "x"}, "status": [1],
                        "uploaded_bytes": "lots", "fail_reason": 7,
                        "publicaly_available_post_id": "7300000000000000001",
                        "creator_username": 1, "creator_nickname": [],
                        "privacy_level_options": "PUBLIC_TO_EVERYONE",
                        "comment_disabled": "no", "duet_disabled": 0, "stitch_disabled": None,
                        "max_video_post_duration_sec": "600"})
            elif kind == "missing-fields":
                if ep == "token":
                    self.send(200, {"token_type": "Bearer"})
                else:
                    self.envelope(200, data={})
            elif kind == "stall":
                self.unlocked_wait(self.st.args.stall, "stall")
            elif kind == "drip":
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "1000")
                self.end_headers()
                self.wfile.flush()
                self.unlocked_wait(self.st.args.stall, "drip", drip=True)
            elif kind == "redirect":
                port = self.server.server_address[1]
                self.send(307, b"", "text/plain", headers={
                    "Location": "http://localhost:%d/__redirected%s" % (port, self.path)})
        except OSError:
            pass  # the client hung up: that is what these answers are for

    def redirected(self):
        """Something followed a redirect here: record what it carried."""
        self.st.redirected.append({"method": self.command, "path": self.path,
                                   "authorization": bool(self.headers.get("Authorization"))})
        self.read_body(1 << 40)
        self.envelope(200)

    # ---- routing ---------------------------------------------------------------------------
    def do_GET(self):
        u = urllib.parse.urlsplit(self.path)
        with self.st.lock:
            if u.path.startswith("/__redirected"):
                return self.redirected()
            if u.path == "/__inspect":
                return self.send(200, self.st.snapshot())
            if u.path == "/__avatar.png":  # the creator's picture: no auth, like a CDN
                self.st.avatar_gets += 1
                return self.send(200, AVATAR_PNG, "image/png",
                                 headers={"Cache-Control": "max-age=3600"})
            if u.path == "/v2/auth/authorize/":
                return self.authorize(urllib.parse.parse_qs(u.query))
        self.send(404, {"error": "not found"})

    def do_POST(self):
        u = urllib.parse.urlsplit(self.path)
        routes = {
            "/v2/oauth/token/": ("token", self.token),
            "/v2/oauth/revoke/": ("revoke", self.revoke),
            "/v2/post/publish/creator_info/query/": ("creator", self.creator_info),
            "/v2/post/publish/video/init/": ("init", lambda: self.init("direct")),
            "/v2/post/publish/inbox/video/init/": ("init", lambda: self.init("draft")),
            "/v2/post/publish/status/fetch/": ("status", self.status),
        }
        if u.path.startswith("/__redirected"):
            with self.st.lock:
                return self.redirected()
        if u.path not in routes:
            self.read_body()
            return self.envelope(404, "invalid_params", "no such endpoint")
        ep, fn = routes[u.path]
        with self.st.lock:
            done, kind = self.pre_fault(ep)
            if done:
                return
            fn()

    def do_PUT(self):
        u = urllib.parse.urlsplit(self.path)
        arrived = time.time()
        if u.path.startswith("/__redirected"):
            with self.st.lock:
                return self.redirected()
        with self.st.lock:
            self.st.put_started = arrived
            done, kind = self.pre_fault("put")
            if done:
                return
            self.put(u, kind)

    # ---- OAuth -----------------------------------------------------------------------------
    def authorize(self, q):
        a = self.st.args
        one = {k: v[0] for k, v in q.items()}
        self.st.count("authorize")
        redirect = one.get("redirect_uri", "")
        problems = []
        if one.get("client_key") != a.client_key:
            problems.append("client_key")
        if one.get("response_type") != "code":
            problems.append("response_type")
        if a.redirect_uri and redirect not in a.redirect_uri:
            problems.append("redirect_uri not registered")
        if not a.redirect_uri and not redirect.startswith("http://127.0.0.1:"):
            problems.append("redirect_uri not loopback")
        scope = one.get("scope", "")
        if not scope or any(s not in a.scopes.split(",") for s in scope.split(",")):
            problems.append("scope")
        if not re.fullmatch(r"[0-9a-f]{64}", one.get("code_challenge", "")):
            problems.append("code_challenge must be 64 lowercase hex (TikTok desktop PKCE)")
        if one.get("code_challenge_method") != "S256":
            problems.append("code_challenge_method")
        if not one.get("state"):
            problems.append("state")
        if problems:
            self.st.reject("authorize", ", ".join(problems))
            return self.send(400, ("bad authorize request: " + ", ".join(problems)).encode(),
                             "text/plain")
        if a.deny:
            qs = urllib.parse.urlencode({"error": "access_denied",
                                         "error_description": "The user denied the request",
                                         "state": one["state"]})
        else:
            # Codes carry characters that must be URL-decoded by the client.
            code = "c*" + secrets.token_urlsafe(24) + "!1"
            self.st.codes[code] = {"challenge": one["code_challenge"], "redirect_uri": redirect,
                                   "scope": scope, "expires_at": time.time() + 300}
            qs = urllib.parse.urlencode({"code": code, "scopes": scope, "state": one["state"]})
        sep = "&" if "?" in redirect else "?"
        self.send(302, b"", "text/plain", headers={"Location": redirect + sep + qs})

    def issue(self, scope):
        a = self.st.args
        at = "act." + secrets.token_hex(24)
        rt = "rft." + secrets.token_hex(24)
        self.st.access[at] = {"scope": scope, "expires_at": time.time() + a.token_ttl}
        self.st.refresh[rt] = {"scope": scope, "expires_at": time.time() + a.refresh_ttl}
        self.send(200, {"access_token": at, "expires_in": a.token_ttl, "open_id": self.st.open_id,
                        "refresh_expires_in": a.refresh_ttl, "refresh_token": rt, "scope": scope,
                        "token_type": "Bearer"})

    def token(self):
        a = self.st.args
        if self.headers.get("Content-Type", "").split(";")[0] != "application/x-www-form-urlencoded":
            self.read_body()
            return self.oauth_error("token", "invalid_request", "form encoding required")
        f = {k: v[0] for k, v in urllib.parse.parse_qs(self.read_body().decode()).items()}
        if f.get("client_key") != a.client_key or f.get("client_secret") != a.client_secret:
            return self.oauth_error("token", "invalid_client", "Client key or secret is wrong")
        gt = f.get("grant_type")
        if gt == "authorization_code":
            c = self.st.codes.pop(f.get("code", ""), None)  # single use
            if not c or c["expires_at"] < time.time():
                return self.oauth_error("token", "invalid_grant", "Authorization code is expired.")
            if f.get("redirect_uri") != c["redirect_uri"]:
                return self.oauth_error("token", "invalid_grant", "redirect_uri mismatch")
            v = f.get("code_verifier", "")
            if not VERIFIER_RE.match(v) or hashlib.sha256(v.encode()).hexdigest() != c["challenge"]:
                return self.oauth_error("token", "invalid_grant", "Code verifier is invalid.")
            self.st.events.append("login")
            return self.issue(c["scope"])
        if gt == "refresh_token":
            r = self.st.refresh.pop(f.get("refresh_token", ""), None)  # rotated: old one dies
            if not r or r["expires_at"] < time.time():
                return self.oauth_error("token", "invalid_grant", "Refresh token is invalid or expired.")
            self.st.events.append("refresh")
            return self.issue(r["scope"])
        return self.oauth_error("token", "unsupported_grant_type", "grant_type")

    def revoke(self):
        f = {k: v[0] for k, v in urllib.parse.parse_qs(self.read_body().decode()).items()}
        if f.get("client_key") != self.st.args.client_key or \
                f.get("client_secret") != self.st.args.client_secret:
            return self.oauth_error("revoke", "invalid_client", "Client key or secret is wrong")
        self.st.access.pop(f.get("token", ""), None)
        self.st.events.append("revoke")
        self.send(200, b"")

    # ---- posting ----------------------------------------------------------------------------
    def creator_info(self):
        self.read_body()
        if not self.bearer("creator", ["video.publish"]):
            return
        a = self.st.args
        avatar = a.avatar_url
        if avatar is None:
            avatar = "%s://127.0.0.1:%d/__avatar.png" % (
                "https" if a.tls_cert else "http", self.server.server_address[1])
        self.envelope(200, data={
            "creator_avatar_url": avatar,
            "creator_username": a.username, "creator_nickname": a.nickname,
            "privacy_level_options": a.privacy_options.split(","),
            "comment_disabled": a.comment_disabled, "duet_disabled": a.duet_disabled,
            "stitch_disabled": a.stitch_disabled,
            "max_video_post_duration_sec": a.max_duration})

    def check_plan(self, si):
        a = self.st.args
        if si.get("source") != "FILE_UPLOAD":
            return "source must be FILE_UPLOAD"
        size, cs, n = si.get("video_size"), si.get("chunk_size"), si.get("total_chunk_count")
        if not all(isinstance(x, int) and x > 0 for x in (size, cs, n)):
            return "video_size, chunk_size and total_chunk_count must be positive integers"
        if size > a.max_size:
            return "video too big"
        if n != size // cs:
            return "total_chunk_count must be floor(video_size / chunk_size)"
        if not 1 <= n <= a.max_count:
            return "The total chunk count is invalid"
        if size < a.min_chunk:
            if cs != size or n != 1:
                return "The chunk size is invalid"
            return None
        if cs < a.min_chunk or cs > a.max_chunk:
            return "The chunk size is invalid"
        if size - (n - 1) * cs > a.final_max:
            return "The chunk size is invalid (final chunk too big)"
        return None

    def init(self, mode):
        ep = "init"
        try:
            body = json.loads(self.read_body() or b"{}")
        except ValueError:
            body = None
        if not self.bearer(ep, ["video.publish"] if mode == "direct" else ["video.upload"]):
            return
        if not isinstance(body, dict) or not isinstance(body.get("source_info"), dict):
            return self.api_error(ep, 400, "invalid_params", "source_info missing")
        pi = body.get("post_info")
        if mode == "direct":
            if not isinstance(pi, dict) or "privacy_level" not in pi:
                return self.api_error(ep, 400, "invalid_params", "post_info.privacy_level missing")
            if pi["privacy_level"] not in self.st.args.privacy_options.split(","):
                return self.api_error(ep, 403, "privacy_level_option_mismatch",
                                      "privacy_level is not offered")
            if len(pi.get("title", "").encode("utf-16-le")) // 2 > 2200:
                return self.api_error(ep, 400, "invalid_params", "title too long")
            # The contract: an int32 of milliseconds, at least 0 (the frame TikTok shows as the
            # cover). Its duration check runs after the upload, where this server has no decoder.
            ct = pi.get("video_cover_timestamp_ms", 0)
            if isinstance(ct, bool) or not isinstance(ct, int) or not 0 <= ct <= 2**31 - 1:
                return self.api_error(ep, 400, "invalid_params",
                                      "video_cover_timestamp_ms must be an int32 >= 0")
        elif pi is not None:
            return self.api_error(ep, 400, "invalid_params", "inbox init takes no post_info")
        why = self.check_plan(body["source_info"])
        if why:
            return self.api_error(ep, 400, "invalid_params", why)
        si = body["source_info"]
        prefix = "v_pub_file~v2-1." if mode == "direct" else "v_inbox_file~v2."
        pid = prefix + secrets.token_hex(8)
        ut = secrets.token_hex(16)
        port = self.server.server_address[1]
        store = None
        if not self.st.args.sink_hash_only:
            store = os.path.join(self.st.args.store_dir, pid.replace("~", "_") + ".bin")
        self.st.publishes[pid] = {
            "publish_id": pid, "mode": mode, "video_size": si["video_size"],
            "chunk_size": si["chunk_size"], "total_chunk_count": si["total_chunk_count"],
            "received": 0, "chunks": 0, "complete": False, "sha256": None, "status_polls": 0,
            "post_info": pi, "upload_token": ut, "url_expires_at": time.time() + self.st.args.upload_url_ttl,
            "hasher": hashlib.sha256(), "store": store,
            "fail_reason": self.st.fail_posts.get(len(self.st.order) + 1),
        }
        self.st.order.append(pid)
        self.st.events.append("init " + pid)
        self.envelope(200, data={
            "publish_id": pid,
            "upload_url": "%s/upload/?upload_id=%s&upload_token=%s"
                          % (self.st.args.upload_url_base or "http://127.0.0.1:%d" % port,
                             urllib.parse.quote(pid), ut)})

    def put(self, u, fault):
        q = {k: v[0] for k, v in urllib.parse.parse_qs(u.query).items()}
        p = self.st.publishes.get(q.get("upload_id", ""))
        length = int(self.headers.get("Content-Length") or -1)

        def refuse(status, why, headers=None):
            self.st.reject("put", why)
            self.close_connection = True  # the body was not read
            self.send(status, {"error": why}, headers=headers)

        # "/upload" too: curl -T appends the file name to a URL path ending in "/" (bench).
        if u.path not in ("/upload/", "/upload") or not p or q.get("upload_token") != p["upload_token"]:
            return refuse(404, "no such upload")
        if self.headers.get("Authorization"):
            return refuse(400, "upload requests carry no Authorization header")
        if fault == "expire-url":
            p["url_expires_at"] = 0
        if p["url_expires_at"] < time.time():
            return refuse(403, "upload URL expired")
        if self.headers.get("Content-Type") not in CONTENT_TYPES:
            return refuse(400, "bad Content-Type %r" % self.headers.get("Content-Type"))
        m = RANGE_RE.match(self.headers.get("Content-Range", ""))
        if not m:
            return refuse(400, "bad Content-Range %r" % self.headers.get("Content-Range"))
        first, last, total = map(int, m.groups())
        size, cs, n = p["video_size"], p["chunk_size"], p["total_chunk_count"]
        if total != size:
            return refuse(400, "Content-Range total %d != video_size %d" % (total, size))
        if first != p["received"] or p["complete"]:
            cr = "bytes 0-%d/%d" % (p["received"] - 1, size) if p["received"] else "bytes */%d" % size
            return refuse(416, "range %d-%d does not continue at %d" % (first, last, p["received"]),
                          headers={"Content-Range": cr})
        idx = p["chunks"]
        want = cs if idx < n - 1 else size - (n - 1) * cs
        if last - first + 1 != want or last >= size:
            return refuse(400, "chunk %d must be %d bytes, got %d" % (idx, want, last - first + 1))
        if length != want:
            return refuse(400, "Content-Length %d != range length %d" % (length, want))
        if "first_put_at" not in p:
            p["first_put_at"] = self.st.put_started
        h = p["hasher"].copy()
        fh = open(p["store"], "ab") if p["store"] else None
        left = want
        try:
            throttle = self.st.args.throttle
            while left:
                b = self.rfile.read(min(left, 65536 if throttle else 1 << 20))
                if not b:
                    break
                if throttle:
                    time.sleep(len(b) / throttle)
                h.update(b)
                if fh:
                    fh.write(b)
                left -= len(b)
        finally:
            if fh:
                fh.close()
        if left:
            if p["store"]:
                os.truncate(p["store"], p["received"])
            self.close_connection = True
            self.st.reject("put", "connection closed mid-chunk")
            return
        p["hasher"] = h
        p["received"] += want
        p["chunks"] += 1
        if p["chunks"] == n:
            p["complete"] = True
            p["sha256"] = h.hexdigest()
            p["complete_at"] = time.time()
            self.st.events.append("complete " + p["publish_id"])
        if fault == "lose-response":
            return self.drop()
        self.send(201 if p["complete"] else 206, b"", "text/plain")

    def status(self):
        try:
            body = json.loads(self.read_body() or b"{}")
        except ValueError:
            body = {}
        if not self.bearer("status", ["video.upload", "video.publish"]):
            return
        p = self.st.publishes.get(body.get("publish_id", "") if isinstance(body, dict) else "")
        if not p:
            return self.api_error("status", 400, "invalid_publish_id", "publish_id not found")
        a = self.st.args
        data = {"status": "PROCESSING_UPLOAD", "uploaded_bytes": p["received"],
                "publicaly_available_post_id": []}
        if p["complete"]:
            p["status_polls"] += 1
            if p["status_polls"] <= a.processing_polls:
                data["status"] = "PROCESSING_DOWNLOAD"
            elif p.get("fail_reason") or a.fail_reason:
                data.update(status="FAILED", fail_reason=p.get("fail_reason") or a.fail_reason)
            elif p["mode"] == "draft":
                data["status"] = "SEND_TO_USER_INBOX"
            else:
                data["status"] = "PUBLISH_COMPLETE"
                if (p["post_info"] or {}).get("privacy_level") == "PUBLIC_TO_EVERYONE":
                    data["publicaly_available_post_id"] = [7300000000000000001]
        p["status"] = data["status"]
        self.envelope(200, data=data)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port-file", help="write the chosen port here once listening")
    ap.add_argument("--client-key", default="test-client-key")
    ap.add_argument("--client-secret", default="test-client-secret")
    ap.add_argument("--redirect-uri", action="append", help="registered redirect URIs "
                    "(default: any http://127.0.0.1:PORT/...)")
    ap.add_argument("--scopes", default="user.info.basic,video.upload,video.publish",
                    help="scopes the app may request")
    ap.add_argument("--deny", action="store_true", help="the simulated user denies access")
    ap.add_argument("--oauth-error-status", type=int, default=200,
                    help="HTTP status of OAuth errors (TikTok uses 200 for some)")
    ap.add_argument("--token-ttl", type=int, default=86400)
    ap.add_argument("--refresh-ttl", type=int, default=31536000)
    ap.add_argument("--upload-url-ttl", type=float, default=3600)
    ap.add_argument("--retry-after", default="1", help="hostile: the Retry-After value of an "
                    "injected 429 (e.g. 999999999 or inf)")
    ap.add_argument("--upload-url-base", help="hostile: hand out upload URLs on this origin "
                    "(e.g. another server's http://127.0.0.1:PORT) instead of our own")
    ap.add_argument("--min-chunk", type=int, default=5_000_000, help="relax only in tests")
    ap.add_argument("--max-chunk", type=int, default=64_000_000)
    ap.add_argument("--final-max", type=int, default=128_000_000)
    ap.add_argument("--max-count", type=int, default=1000)
    ap.add_argument("--max-size", type=int, default=4_000_000_000)
    ap.add_argument("--privacy-options", default=",".join(PRIVACY_ALL))
    ap.add_argument("--max-duration", type=int, default=600)
    ap.add_argument("--nickname", default="Fake Creator", help="creator_info's creator_nickname")
    ap.add_argument("--username", default="fake_creator", help="creator_info's creator_username")
    ap.add_argument("--avatar-url", help="creator_info's creator_avatar_url (default: this "
                    "server's own http://127.0.0.1:PORT/__avatar.png, served without auth)")
    ap.add_argument("--comment-disabled", action="store_true")
    ap.add_argument("--duet-disabled", action="store_true")
    ap.add_argument("--stitch-disabled", action="store_true")
    ap.add_argument("--processing-polls", type=int, default=1,
                    help="status polls answering PROCESSING_DOWNLOAD after the upload")
    ap.add_argument("--fail-reason", help="end every publish with FAILED and this reason")
    ap.add_argument("--fail-post", action="append",
                    help="N=REASON: end the Nth publish (1-based, in init order) with FAILED and "
                         "this fail_reason; repeatable")
    ap.add_argument("--rate-window", type=float, default=60.0)
    ap.add_argument("--limit", action="append",
                    help="ENDPOINT=N: requests per window (creator 20, init 6, status 30)")
    ap.add_argument("--ratelimit-headers", action="store_true",
                    help="send X-RateLimit-Remaining / X-RateLimit-Reset on API answers")
    ap.add_argument("--fault", action="append", help="KIND:ENDPOINT:N (see module doc)")
    ap.add_argument("--fault-rate", type=float, default=0,
                    help="fraction (0-1) of creator/init/status/put requests that get a random "
                         "fault from --fault-kinds")
    ap.add_argument("--fault-seed", type=int, default=0, help="seed of the random faults")
    ap.add_argument("--fault-kinds", default="500,429,drop",
                    help="comma-separated kinds --fault-rate draws from (500, 429, drop)")
    ap.add_argument("--throttle", type=float, default=0,
                    help="read uploads at most this many bytes per second")
    ap.add_argument("--sink-hash-only", action="store_true",
                    help="hash uploads without storing them (benchmarks)")
    ap.add_argument("--store-dir", help="where reassembled uploads go (default: a temp dir)")
    ap.add_argument("--verbose", action="store_true")
    ap.add_argument("--stall", type=float, default=300,
                    help="seconds the stall and drip faults last at most")
    ap.add_argument("--tls-cert", help="serve HTTPS with this certificate (PEM)")
    ap.add_argument("--tls-key", help="... and this key (PEM)")
    args = ap.parse_args()
    kinds = [k for k in args.fault_kinds.split(",") if k]
    if not 0 <= args.fault_rate <= 1 or not kinds or any(k not in RANDOM_FAULT_KINDS for k in kinds):
        ap.error("--fault-rate takes 0..1 and --fault-kinds some of %s"
                 % ",".join(sorted(RANDOM_FAULT_KINDS)))
    tmp = None
    if not args.sink_hash_only and not args.store_dir:
        tmp = tempfile.TemporaryDirectory(prefix="fake_tiktok.")
        args.store_dir = tmp.name
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    srv.state = State(args)
    if args.tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.tls_cert, args.tls_key)
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    port = srv.server_address[1]
    if args.port_file:
        t = args.port_file + ".tmp"
        with open(t, "w") as f:
            f.write("%d\n" % port)
        os.rename(t, args.port_file)
    print("PORT %d" % port, flush=True)
    try:
        srv.serve_forever(poll_interval=0.1)
    except KeyboardInterrupt:
        pass
    finally:
        srv.server_close()
        if tmp:
            tmp.cleanup()


if __name__ == "__main__":
    main()
