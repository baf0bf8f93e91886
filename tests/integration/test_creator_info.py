#!/usr/bin/env python3
"""tp_tiktok_creator_info() against the fake TikTok server, through the public API (the test
tool build/tests/tp_creator_info prints tp_creator_info_to_json): nickname, username and the
server's own avatar (served without auth, a real PNG), privacy options in TikTok's order, the
disabled interaction flags, and hostile answers: fields of the wrong JSON type (an error, no
crash), control characters and overlong strings from the server (cleaned, cut). About 5 s."""
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.environ.get("TP_SOURCE_DIR", os.path.join(
    os.path.dirname(__file__), "..", "..")), "tests", "fake_tiktok"))
from harness import Client, FakeTikTok, urlopen  # noqa: E402
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tprunner  # noqa: E402

ROOT = tempfile.mkdtemp(prefix="tp_creator_info.")
TOOL = os.path.join(os.environ.get("TP_BUILD_DIR", "build"), "tests", "tp_creator_info")


def creator_info(c, check=0):
    r = subprocess.run([TOOL] + c.args(), env=c.env, capture_output=True, text=True, timeout=60)
    c.outputs += [r.stdout, r.stderr]
    assert r.returncode == check, (r.returncode, r.stdout, r.stderr)
    if check:
        return r.stderr
    lines = r.stdout.splitlines()
    return json.loads(lines[0]), json.loads(lines[1])


def session(name, *server_args):
    wd = os.path.join(ROOT, name)
    os.makedirs(wd)
    srv = FakeTikTok(*server_args, workdir=wd)
    c = Client(srv, wd)
    c.login()
    return srv, c


def no_secrets(c):
    for s in c.secrets():
        for out in c.outputs:
            assert s not in out, "a secret was printed"


def test_defaults():
    srv, c = session("defaults")
    try:
        ci, acc = creator_info(c)
        assert ci["nickname"] == "Fake Creator", ci
        assert ci["username"] == "fake_creator", ci
        assert ci["avatar_url"] == srv.base + "/__avatar.png", ci
        assert ci["privacy_level_options"] == ["PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS",
                                               "FOLLOWER_OF_CREATOR", "SELF_ONLY"], ci
        assert ci["comment_disabled"] is False and ci["duet_disabled"] is False, ci
        assert ci["stitch_disabled"] is False, ci
        assert ci["max_video_post_duration_sec"] == 600, ci
        assert acc == {"privacy_count": 4, "privacy_out_of_range": True}, acc
        # The avatar is a PNG anyone on the machine may fetch (no Authorization header).
        with urlopen(ci["avatar_url"]) as r:
            assert r.headers["Content-Type"] == "image/png"
            body = r.read()
        assert body[:8] == b"\x89PNG\r\n\x1a\n" and body[16:24] == bytes.fromhex(
            "0000004000000040"), body[:32]  # IHDR 64x64
        st = srv.inspect()
        assert st["counts"].get("creator") == 1 and st["avatar_gets"] == 1, st["counts"]
        assert not st["rejections"], st["rejections"]
        no_secrets(c)
    finally:
        srv.stop()


def test_options_and_disabled_flags():
    srv, c = session("flags", "--nickname", "Zoë Example", "--avatar-url",
                     "https://p16.example/avatar.jpeg?x-expires=1", "--privacy-options",
                     "FOLLOWER_OF_CREATOR,SELF_ONLY", "--comment-disabled", "--stitch-disabled",
                     "--max-duration", "180")
    try:
        ci, acc = creator_info(c)
        assert ci["nickname"] == "Zoë Example", ci
        assert ci["avatar_url"] == "https://p16.example/avatar.jpeg?x-expires=1", ci
        assert ci["privacy_level_options"] == ["FOLLOWER_OF_CREATOR", "SELF_ONLY"], ci
        assert ci["comment_disabled"] is True and ci["stitch_disabled"] is True, ci
        assert ci["duet_disabled"] is False, ci
        assert ci["max_video_post_duration_sec"] == 180, ci
        assert acc["privacy_count"] == 2, acc
    finally:
        srv.stop()


def test_hostile_strings():
    """Control characters (a terminal escape, a line break) out; 300 characters cut to fit; an
    avatar URL with a control character dropped whole (a changed URL points elsewhere)."""
    srv, c = session("strings", "--nickname", "\x1b[31mRed\nLine" + "x" * 300,
                     "--avatar-url", "https://p16.example/a\x07.jpeg")
    try:
        ci, _ = creator_info(c)
        nick = ci["nickname"]
        assert "\x1b" not in nick and "\n" not in nick, repr(nick)
        assert nick.startswith("[31mRed"), repr(nick)
        assert len(nick.encode()) < 256, len(nick)
        assert ci["avatar_url"] == "", ci
    finally:
        srv.stop()


def test_wrong_types():
    """Every field of the wrong JSON type: no privacy options to offer, so an error that says
    so (the console shows it and disables Post), never a crash or a made-up option."""
    srv, c = session("wrong", "--fault", "wrong-types:creator:1")
    try:
        err = creator_info(c, check=1)
        assert "privacy_level_options" in err, err
        # The next answer is a good one again.
        ci, _ = creator_info(c)
        assert ci["nickname"] == "Fake Creator", ci
    finally:
        srv.stop()


def setup():
    if not os.access(TOOL, os.X_OK):
        tprunner.skip("%s not built" % TOOL)


if __name__ == "__main__":
    sys.exit(tprunner.main(globals(), setup=setup, cleanup=[ROOT]))
