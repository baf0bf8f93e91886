#!/usr/bin/env python3
"""Walks do not follow symbolic links (docs/SECURITY.md, "3. Walks"): a link planted in a drop
folder to a secret video outside it, to a folder outside it, or closing a loop is never taken by
`check`, `fit` or `run`; it is counted in the summary. With --follow-symlinks, links inside the
folder are followed and links out of it are refused with a per-file error. An explicit PATH may
be a symlink."""
import json
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tprunner  # noqa: E402
from pipeline_helpers import make_vertical, run, set_args  # noqa: E402

T = tempfile.mkdtemp(prefix="tp_sec_walks.")
OUT = os.path.join(T, "outside")
DROP = os.path.join(T, "drop")


def setup():
    os.makedirs(os.path.join(OUT, "private"))
    os.makedirs(os.path.join(DROP, "sub"))
    make_vertical(os.path.join(DROP, "good.mp4"), seconds=1)
    # Outside the drop folder: a private video and a folder of them.
    make_vertical(os.path.join(OUT, "secret.mp4"), seconds=1, freq=660)
    shutil.copy(os.path.join(OUT, "secret.mp4"), os.path.join(OUT, "private", "p.mp4"))
    os.symlink(os.path.join(OUT, "secret.mp4"), os.path.join(DROP, "link_secret.mp4"))
    os.symlink(os.path.join(OUT, "private"), os.path.join(DROP, "link_dir"))
    os.symlink("..", os.path.join(DROP, "sub", "loop"))      # inside: a loop back to DROP
    os.symlink("/etc/passwd", os.path.join(DROP, "passwd.mp4"))
    os.symlink("good.mp4", os.path.join(DROP, "alias.mp4"))  # inside the folder


def outside_paths(text):
    return OUT in text or "/etc/passwd" in text


def check_json(*extra):
    r = run(["check", "--json", *set_args(), *extra, DROP])
    return r, json.loads(r.stdout)


def test_check_default_not_followed():
    r, doc = check_json()
    paths = [f["path"] for f in doc["files"]]
    assert paths == [os.path.join(DROP, "good.mp4")], paths
    # alias.mp4, link_dir, link_secret.mp4, passwd.mp4, sub/loop
    assert doc["summary"]["symlinks_skipped"] == 5, doc["summary"]
    assert r.returncode == 0, (r.returncode, r.stderr)
    assert not outside_paths(r.stdout), r.stdout
    r = run(["check", *set_args(), DROP])
    assert "5 symbolic links skipped" in r.stdout, r.stdout


def test_check_follow_stays_inside():
    r, doc = check_json("--follow-symlinks")
    by = {f["path"]: f for f in doc["files"]}
    good = os.path.join(DROP, "good.mp4")
    # alias.mp4 -> good.mp4 is inside: followed (listed under its resolved path).
    assert [p for p in by if p == good] and sum(1 for f in doc["files"] if f["path"] == good) == 2
    for name in ("link_secret.mp4", "link_dir", "passwd.mp4"):
        p = os.path.join(DROP, name)
        assert p in by, (name, list(by))
        assert by[p]["verdict"] == "error" and "outside" in by[p]["error"], by[p]
    # The outside files themselves are never listed, probed or judged.
    assert not any(p.startswith(OUT) for p in by), list(by)
    assert all(f["media"] is None for f in doc["files"] if f["path"] != good)
    assert doc["summary"]["symlinks_skipped"] == 1, doc["summary"]  # the loop, cut
    assert r.returncode == 2, r.returncode


def test_explicit_symlink_is_taken():
    r = run(["check", "--json", *set_args(), os.path.join(DROP, "link_secret.mp4")])
    doc = json.loads(r.stdout)
    assert doc["files"][0]["verdict"] == "pass", doc
    assert r.returncode == 0


def test_fit_and_run_do_not_take_outside_files():
    out = os.path.join(T, "fitout")
    r = run(["fit", "-o", out, *set_args(), DROP])
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
    assert sorted(os.listdir(out)) == ["good.mp4"], os.listdir(out)
    r = run(["fit", "-o", out + "2", "--follow-symlinks", *set_args(), DROP])
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert sorted(os.listdir(out + "2")) == ["good.mp4"], os.listdir(out + "2")

    work = os.path.join(T, "work")
    sink = os.path.join(T, "sink")
    r = run(["run", "--json", "-w", work, *set_args(["upload.sink=directory",
                                                      "upload.directory.path=" + sink]), DROP])
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
    evs = [json.loads(x) for x in r.stdout.splitlines() if x.strip()]
    seen = {e["path"] for e in evs if e.get("path")}
    assert seen == {os.path.join(DROP, "good.mp4")}, seen
    summ = [e for e in evs if e["event"] == "summary"][0]
    assert summ["symlinks_skipped"] == 5, summ
    assert sorted(f for f in os.listdir(sink) if f.endswith(".mp4")) == ["good.mp4"]
    r = run(["run", "-w", work + "2", *set_args(["upload.sink=directory",
                                                  "upload.directory.path=" + sink + "2"]), DROP])
    assert "5 symbolic links skipped" in r.stdout, r.stdout


def test_enqueue_does_not_take_outside_files():
    if not shutil.which("redis-server"):
        tprunner.skip("no redis-server")
    from queue_helpers import Redis
    rd = os.path.join(T, "redis")
    os.makedirs(rd)
    r = Redis(rd)
    try:
        p = run(["enqueue", "--queue", r.url("walks"), "--json", DROP])
        items = [json.loads(x) for x in p.stdout.splitlines() if x.strip()]
        files = [i for i in items if "path" in i]
        assert [i["path"] for i in files] == [os.path.join(DROP, "good.mp4")], files
        assert files[0]["result"] == "added" and p.returncode == 0, (p.returncode, items)
        p = run(["enqueue", "--queue", r.url("walks2"), "--json", "--follow-symlinks", DROP])
        items = [json.loads(x) for x in p.stdout.splitlines() if x.strip()]
        errs = [i for i in items if i.get("result") == "error"]
        assert len(errs) == 3 and all("outside" in i["error"] for i in errs), items
        assert not any(i.get("path", "").startswith(OUT) for i in items), items
        assert p.returncode == 2, p.returncode
    finally:
        r.stop()


if __name__ == "__main__":
    sys.exit(tprunner.main(globals(), setup=setup, cleanup=[T]))
