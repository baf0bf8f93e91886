#!/usr/bin/env python3
"""Planted links reached through a glob (docs/SECURITY.md, class 3 "Walks"): README's own
advice is `cd drop && tokprep run -- *`, and a glob makes every name in the drop folder a PATH on
the command line, where symbolic links are followed (the operator's choice). A drop-folder
writer plants `z.mp4 -> ../private/secret.mp4` and `vids -> ../private`: `run` delivered the
private video through both, `check` and `fit` read it. A PATH that is a symbolic link made by
another user (not us, not root) must be refused with its reason; one of ours is still followed.
Needs root (the links are chowned to nobody); skipped otherwise. About 3 s."""
import json
import os
import pwd
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tprunner  # noqa: E402
from pipeline_helpers import TOKPREP, make_vertical, set_args  # noqa: E402

T = tempfile.mkdtemp(prefix="tp_sec_glob_links.")
DROP = os.path.join(T, "drop")
REASON = "symbolic link made by another user"


def setup():
    if os.geteuid() != 0:
        tprunner.skip("needs root to make links owned by another user")
    nobody = pwd.getpwnam("nobody").pw_uid
    private = os.path.join(T, "private")
    os.makedirs(private, 0o700)
    os.makedirs(DROP)
    make_vertical(os.path.join(DROP, "a.mp4"), seconds=1)
    make_vertical(os.path.join(private, "secret.mp4"), seconds=2, freq=880)
    for name, target in (("z.mp4", "../private/secret.mp4"), ("vids", "../private")):
        os.symlink(target, os.path.join(DROP, name))
        os.lchown(os.path.join(DROP, name), nobody, -1)
    make_vertical(os.path.join(T, "b.mp4"), seconds=1, freq=660)
    os.symlink("../b.mp4", os.path.join(DROP, "mine.mp4"))  # the operator's own link


def glob_run(*args):
    names = sorted(os.listdir(DROP))  # what the shell's * gives
    return subprocess.run([TOKPREP, *args, "--", *names], cwd=DROP, capture_output=True,
                          text=True, timeout=60)


def test_run_delivers_no_planted_link():
    sink = os.path.join(T, "sink")
    r = glob_run("run", "-w", os.path.join(T, "work"),
                 *set_args(["upload.sink=directory", "upload.directory.path=" + sink]))
    delivered = sorted(os.listdir(sink))
    assert "secret.mp4" not in delivered and "z.mp4" not in delivered, delivered
    assert "a.mp4" in delivered and "mine.mp4" in delivered, delivered
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert r.stdout.count(REASON) == 2, r.stdout


def test_check_and_fit_read_no_planted_link():
    r = glob_run("check", "--json", *set_args())
    assert "secret" not in r.stdout, r.stdout
    files = {f["path"]: f for f in json.loads(r.stdout)["files"]}
    assert sorted(files) == ["a.mp4", "mine.mp4", "vids", "z.mp4"], sorted(files)
    for name in ("vids", "z.mp4"):
        assert REASON in json.dumps(files[name]), files[name]
    assert files["mine.mp4"]["verdict"] == "pass", files["mine.mp4"]
    out = os.path.join(T, "out")
    r = glob_run("fit", "-o", out, *set_args())
    assert sorted(os.listdir(out)) == ["a.mp4", "mine.mp4"], os.listdir(out)
    assert r.returncode == 2 and REASON in r.stdout + r.stderr, (r.stdout, r.stderr)


if __name__ == "__main__":
    sys.exit(tprunner.main(globals(), setup=setup, cleanup=[T]))
