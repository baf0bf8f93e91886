#!/usr/bin/env python3
"""A planted work folder (docs/SECURITY.md, class 4 "Writes in output folders"): `cd drop &&
tokprep run -- *` uses ./tokprep-work, which lies in the drop folder. A drop-folder writer
plants it first: a folder of their own holding a 0666 tokprep.db (they read the ledger's upload
URLs and rewrite what counts as done), a symbolic link of theirs to such a folder, or the
operator points -w at a world-writable folder; likewise a relative sink folder
(upload.directory.path=ready) planted as their link. `run` must refuse each with exit 2 before writing
anything there; a work folder of our own still works. The cases that need another user run
when the test is root (it chowns to nobody); otherwise only the world-writable case runs.
About 3 s."""
import os
import pwd
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tprunner  # noqa: E402
from pipeline_helpers import TOKPREP, make_vertical, set_args  # noqa: E402

T = tempfile.mkdtemp(prefix="tp_sec_workdir.")
ROOT = os.geteuid() == 0
NOBODY = pwd.getpwnam("nobody").pw_uid if ROOT else None


def new_drop(name):
    drop = os.path.join(T, name)
    os.makedirs(drop)
    os.chmod(drop, 0o1777)  # a shared drop folder
    make_vertical(os.path.join(drop, "clip.mp4"), seconds=1)
    return drop


def run_in(drop, *extra):
    sink = os.path.join(T, os.path.basename(drop) + "-sink")
    args = [TOKPREP, "run", *extra, *set_args(["upload.sink=directory",
                                                "upload.directory.path=" + sink]), "--", "clip.mp4"]
    return subprocess.run(args, cwd=drop, capture_output=True, text=True, timeout=60), sink


def test_planted_folder_of_another_user():
    if not ROOT:
        tprunner.skip("not root: planted-folder")
    drop = new_drop("planted")
    work = os.path.join(drop, "tokprep-work")
    os.mkdir(work)
    planted = os.path.join(work, "tokprep.db")
    with open(planted, "wb"):
        pass
    os.chmod(planted, 0o666)
    os.chown(planted, NOBODY, -1)
    os.chown(work, NOBODY, -1)
    r, sink = run_in(drop)
    assert os.path.getsize(planted) == 0, "the run wrote its ledger into the planted file"
    assert sorted(os.listdir(work)) == ["tokprep.db"], os.listdir(work)
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert "belongs to another user" in r.stderr, r.stderr
    assert not os.path.exists(sink) or not os.listdir(sink), os.listdir(sink)


def test_planted_symlink_of_another_user():
    if not ROOT:
        tprunner.skip("not root: planted-link")
    drop = new_drop("link")
    elsewhere = os.path.join(T, "elsewhere")
    os.mkdir(elsewhere, 0o700)
    link = os.path.join(drop, "tokprep-work")
    os.symlink(elsewhere, link)
    os.lchown(link, NOBODY, -1)
    r, _ = run_in(drop)
    assert os.listdir(elsewhere) == [], "the run wrote through the link: %r" % os.listdir(elsewhere)
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert "symbolic link made by another user" in r.stderr, r.stderr


def test_planted_sink_link_of_another_user():
    if not ROOT:
        tprunner.skip("not root: planted sink link")
    drop = new_drop("sinklink")
    theirs = os.path.join(T, "theirs")
    os.mkdir(theirs)
    os.chown(theirs, NOBODY, -1)
    link = os.path.join(drop, "ready")
    os.symlink(theirs, link)
    os.lchown(link, NOBODY, -1)
    args = [TOKPREP, "run", *set_args(["upload.sink=directory", "upload.directory.path=ready"]),
            "--", "clip.mp4"]
    r = subprocess.run(args, cwd=drop, capture_output=True, text=True, timeout=60)
    assert os.listdir(theirs) == [], "delivered into their folder: %r" % os.listdir(theirs)
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert "sink folder is a symbolic link made by another user" in r.stderr, r.stderr


def test_work_folder_inside_another_users_folder():
    if not ROOT:
        tprunner.skip("not root: other user's parent")
    drop = new_drop("parent")
    theirs = os.path.join(drop, "sub")
    os.mkdir(theirs)
    os.chown(theirs, NOBODY, -1)
    r, _ = run_in(drop, "-w", os.path.join(theirs, "work"))
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert "which belongs to another user" in r.stderr, r.stderr
    # a world-writable parent without the sticky bit
    wide = os.path.join(T, "wide-parent")
    os.mkdir(wide)
    os.chmod(wide, 0o777)
    r, _ = run_in(drop, "-w", os.path.join(wide, "work"))
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert "no sticky bit" in r.stderr, r.stderr


def test_world_writable_work_folder():
    drop = new_drop("wide")
    work = os.path.join(T, "wide-work")
    os.mkdir(work)
    os.chmod(work, 0o777)
    r, _ = run_in(drop, "-w", work)
    assert os.listdir(work) == [], os.listdir(work)
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert "writable by every user" in r.stderr, r.stderr


def test_own_work_folder_works():
    drop = new_drop("own")
    r, sink = run_in(drop)
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
    assert os.listdir(sink), "nothing delivered"
    st = os.stat(os.path.join(drop, "tokprep-work", "tokprep.db"))
    assert st.st_mode & 0o077 == 0, oct(st.st_mode)


if __name__ == "__main__":
    sys.exit(tprunner.main(globals(), cleanup=[T]))
