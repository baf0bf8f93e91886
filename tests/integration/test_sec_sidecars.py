#!/usr/bin/env python3
"""Caption sidecars are untrusted (docs/SECURITY.md, "2. Sidecars"): a <stem>.txt that is a
symlink (to the token file, to a device), a FIFO or oversized is refused with a warning and never
read; the post goes on with the profile's caption. The fake TikTok server must never receive a
secret, and a FIFO must not hang the upload."""
import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.environ.get("TP_SOURCE_DIR", os.path.join(
    os.path.dirname(__file__), "..", "..")), "tests", "fake_tiktok"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tprunner  # noqa: E402
from harness import Client, FakeTikTok, random_file  # noqa: E402

ROOT = tempfile.mkdtemp(prefix="tp_sec_sidecars.")


def one_upload(name, make_sidecar, want_warning):
    """Upload NAME.mp4 next to a hostile NAME.txt; the title must be the template's ("{stem}")
    and nothing the server saw may hold a secret or the sidecar's target."""
    wd = os.path.join(ROOT, name)
    os.makedirs(wd)
    with FakeTikTok(workdir=wd) as srv:
        c = Client(srv, wd)
        c.login()
        drop = os.path.join(wd, "drop")
        os.makedirs(drop)
        f = random_file(os.path.join(drop, name + ".mp4"), 100_000)
        side = os.path.join(drop, name + ".txt")
        secret_marker = make_sidecar(side, c)
        t0 = time.monotonic()
        r = c.run("upload", f, check=0, timeout=60)
        took = time.monotonic() - t0
        assert took < 30, "upload took %.1f s" % took
        st = srv.inspect()
        pubs = [p for p in st["publishes"] if p.get("complete")]
        assert len(pubs) == 1, st["publishes"]
        assert pubs[0]["post_info"]["title"] == name, pubs[0]["post_info"]
        seen = json.dumps(st)
        for s in c.secrets() + ([secret_marker] if secret_marker else []):
            assert s not in seen, "the server received %r" % s
        assert "caption sidecar refused" in r.stderr and want_warning in r.stderr, r.stderr
        assert side in r.stderr, r.stderr


def test_symlink_to_token_file():
    def make(side, c):
        os.symlink(c.token_file, side)
        return None
    one_upload("tok", make, "is a symbolic link")


def test_symlink_to_secret_file():
    def make(side, c):
        secret = os.path.join(os.path.dirname(side), "..", "secret.txt")
        with open(secret, "w") as fh:
            fh.write("TOPSECRET-4242")
        os.symlink(os.path.abspath(secret), side)
        return "TOPSECRET-4242"
    one_upload("sec", make, "is a symbolic link")


def test_fifo_does_not_hang():
    def make(side, c):
        os.mkfifo(side)
        return None
    one_upload("fifo", make, "a FIFO")


def test_device_symlink():
    def make(side, c):
        os.symlink("/dev/zero", side)
        return None
    one_upload("dev", make, "is a symbolic link")


def test_oversized():
    def make(side, c):
        with open(side, "w") as fh:
            fh.write("A" * 100_000)
        return "A" * 1000
    one_upload("big", make, "over the 65536-byte limit")


def test_good_sidecar_still_read():
    wd = os.path.join(ROOT, "good")
    os.makedirs(wd)
    with FakeTikTok(workdir=wd) as srv:
        c = Client(srv, wd)
        c.login()
        f = random_file(os.path.join(wd, "ok.mp4"), 100_000)
        with open(os.path.join(wd, "ok.txt"), "w") as fh:
            fh.write("a real caption\n")
        r = c.run("upload", f, check=0)
        assert "refused" not in r.stderr, r.stderr
        assert srv.inspect()["publishes"][0]["post_info"]["title"] == "a real caption"


if __name__ == "__main__":
    sys.exit(tprunner.main(globals(), sort=True, cleanup=[ROOT]))
