#!/usr/bin/env python3
"""A pass-through output that is the drop-folder writer's inode (docs/SECURITY.md, class 4
"Writes in output folders"): `fit -o out` hard-linked a passing source into the output folder,
so out/a.mp4 was the writer's own file: owned by them, and rewritable by them after `fit` had
checked it (the operator then uploads out/* and posts whatever they put there). A pass-through
is linked only when the source is ours and writable by us alone; otherwise copied. As root the
test chowns the source to nobody; the group-writable case runs for anyone. About 2 s."""
import hashlib
import os
import pwd
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tprunner  # noqa: E402
from pipeline_helpers import TOKPREP, make_vertical, set_args  # noqa: E402

T = tempfile.mkdtemp(prefix="tp_sec_fit_link.")
ROOT = os.geteuid() == 0


def sha(p):
    with open(p, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def fit_one(name, prepare):
    d = os.path.join(T, name)
    os.makedirs(os.path.join(d, "drop"))
    src = os.path.join(d, "drop", "a.mp4")
    make_vertical(src, seconds=1)
    prepare(src)
    out = os.path.join(d, "out")
    r = subprocess.run([TOKPREP, "fit", "-o", out, *set_args(), "--", os.path.join(d, "drop")],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
    assert "pass" in r.stdout, r.stdout
    return src, os.path.join(out, "a.mp4")


def assert_own_copy(src, dst):
    s, o = os.stat(src), os.stat(dst)
    assert (s.st_dev, s.st_ino) != (o.st_dev, o.st_ino), "the output is the source's inode"
    assert o.st_uid == os.geteuid(), "the output belongs to uid %d" % o.st_uid
    before = sha(dst)
    with open(src, "r+b") as f:  # the writer rewrites their file after the fit
        f.seek(100)
        f.write(b"\0" * 64)
    assert sha(dst) == before, "rewriting the source changed the output"


def test_source_of_another_user_is_copied():
    if not ROOT:
        tprunner.skip("not root: other-user")
    nobody = pwd.getpwnam("nobody").pw_uid
    src, dst = fit_one("other", lambda p: os.chown(p, nobody, -1))
    assert_own_copy(src, dst)


def test_group_writable_source_is_copied():
    src, dst = fit_one("group", lambda p: os.chmod(p, 0o664))
    assert_own_copy(src, dst)


def test_own_private_source_is_still_linked():
    src, dst = fit_one("own", lambda p: os.chmod(p, 0o644))
    s, o = os.stat(src), os.stat(dst)
    assert (s.st_dev, s.st_ino) == (o.st_dev, o.st_ino), "our own source is no longer linked"


def test_planted_output_link_of_another_user():
    """`cd drop && tokprep fit -o out -- *` with `out` planted as a link (made by nobody) to a
    folder of the operator's holding a same-named file: refused, the file untouched."""
    if not ROOT:
        tprunner.skip("not root: planted output link")
    d = os.path.join(T, "outlink")
    drop, videos = os.path.join(d, "drop"), os.path.join(d, "videos")
    os.makedirs(drop)
    os.makedirs(videos)
    make_vertical(os.path.join(drop, "a.mp4"), seconds=1)
    with open(os.path.join(videos, "a.mp4"), "wb") as f:
        f.write(b"the operator's own a.mp4")
    link = os.path.join(drop, "out")
    os.symlink(videos, link)
    os.lchown(link, pwd.getpwnam("nobody").pw_uid, -1)
    r = subprocess.run([TOKPREP, "fit", "-o", "out", *set_args(), "--", "a.mp4"], cwd=drop,
                       capture_output=True, text=True, timeout=60)
    with open(os.path.join(videos, "a.mp4"), "rb") as f:
        assert f.read() == b"the operator's own a.mp4", "fit replaced a file through the link"
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert "symbolic link made by another user" in r.stdout + r.stderr, r.stdout + r.stderr


if __name__ == "__main__":
    sys.exit(tprunner.main(globals(), cleanup=[T]))
