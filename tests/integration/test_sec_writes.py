#!/usr/bin/env python3
"""Writes in output folders (docs/SECURITY.md, "4. Writes in output folders"): symlinks planted
at the sink's old predictable temporary names (.tokprep-tmp-PID-NAME, planted once the run has
started) are never written through and nothing is written outside; outputs of a 0600 source are
0600 (fit outputs, sink copies, manifests); a symlinked input is copied or linked as the file it
names, never as a link; check --junit replaces a link planted at the report path."""
import json
import os
import stat
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tprunner  # noqa: E402
from pipeline_helpers import TOKPREP, make_landscape, make_vertical, run, set_args  # noqa: E402

T = tempfile.mkdtemp(prefix="tp_sec_writes.")
os.umask(0o022)


def mode(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


def test_planted_symlinks_at_old_temp_names():
    drop = os.path.join(T, "p_drop")
    sink = os.path.join(T, "p_sink")
    victims = os.path.join(T, "p_victims")
    for d in (drop, sink, victims):
        os.makedirs(d)
    make_landscape(os.path.join(drop, "wide.mp4"), seconds=2)  # a transcode: delivery comes later
    keep = os.path.join(victims, "keep.txt")
    with open(keep, "w") as f:
        f.write("precious\n")
    # As an attacker with write access to the sink folder would: once the run has started (its
    # PID is public) and swept the folder, keep links at its old predictable temporary names
    # (.tokprep-tmp-PID-NAME) until it ends: the copy's at a new file outside (written through
    # = created), the manifest's at an existing one (written through = overwritten).
    links = {"wide.mp4": os.path.join(victims, "created.mp4"), "wide.json": keep}
    cmd = [TOKPREP, "run", "-w", os.path.join(T, "p_work"),
           *set_args(["upload.sink=directory", "upload.directory.path=" + sink]), drop]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    planted = 0
    while p.poll() is None:
        for name, target in links.items():
            try:
                os.symlink(target, os.path.join(sink, ".tokprep-tmp-%d-%s" % (p.pid, name)))
                planted += 1
            except FileExistsError:
                pass
        time.sleep(0.002)
    out, err = p.communicate()
    assert p.returncode == 0, (p.returncode, out, err)
    assert planted >= 2, planted
    with open(keep) as f:
        assert f.read() == "precious\n", "the manifest was written through a planted link"
    assert os.listdir(victims) == ["keep.txt"], os.listdir(victims)
    for name in ("wide.mp4", "wide.json"):
        path = os.path.join(sink, name)
        assert os.path.isfile(path) and not os.path.islink(path), path
    with open(os.path.join(sink, "wide.json")) as f:
        assert json.load(f)["output"]["file"] == "wide.mp4"


def test_permissions_follow_a_private_source():
    drop = os.path.join(T, "m_drop")
    sink = os.path.join(T, "m_sink")
    out = os.path.join(T, "m_fit")
    os.makedirs(drop)
    make_vertical(os.path.join(drop, "pass.mp4"), seconds=1)          # delivered as is: copied
    make_landscape(os.path.join(drop, "wide.mp4"), seconds=1)         # transcoded, then linked
    for n in ("pass.mp4", "wide.mp4"):
        os.chmod(os.path.join(drop, n), 0o600)
    r = run(["fit", "-o", out, *set_args(), drop])
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
    for n in ("pass.mp4", "wide.mp4"):
        assert mode(os.path.join(out, n)) == 0o600, (n, oct(mode(os.path.join(out, n))))
    r = run(["run", "-w", os.path.join(T, "m_work"),
             *set_args(["upload.sink=directory", "upload.directory.path=" + sink]), drop])
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
    for n in ("pass.mp4", "pass.json", "wide.mp4", "wide.json"):
        assert mode(os.path.join(sink, n)) == 0o600, (n, oct(mode(os.path.join(sink, n))))
    # A world-readable source keeps the umask's 0644.
    os.chmod(os.path.join(drop, "pass.mp4"), 0o644)
    r = run(["fit", "-o", out + "2", *set_args(), os.path.join(drop, "pass.mp4")])
    assert r.returncode == 0 and mode(os.path.join(out + "2", "pass.mp4")) == 0o644


def test_symlinked_input_is_not_linked_as_a_link():
    d = os.path.join(T, "l_in")
    out = os.path.join(T, "l_out")
    os.makedirs(d)
    make_vertical(os.path.join(d, "real.mp4"), seconds=1)
    os.symlink("real.mp4", os.path.join(d, "alias.mp4"))  # relative: dangling if copied as a link
    r = run(["fit", "-o", out, *set_args(), os.path.join(d, "alias.mp4")])
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
    p = os.path.join(out, "alias.mp4")
    assert os.path.isfile(p) and not os.path.islink(p), os.listdir(out)
    with open(p, "rb") as a, open(os.path.join(d, "real.mp4"), "rb") as b:
        assert a.read() == b.read()


def test_junit_replaces_a_planted_link():
    d = os.path.join(T, "j")
    os.makedirs(d)
    make_vertical(os.path.join(d, "a.mp4"), seconds=1)
    victim = os.path.join(d, "victim.txt")
    with open(victim, "w") as f:
        f.write("precious\n")
    report = os.path.join(d, "report.xml")
    os.symlink(victim, report)
    r = run(["check", "--junit", report, *set_args(), os.path.join(d, "a.mp4")])
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
    with open(victim) as f:
        assert f.read() == "precious\n", "junit written through a planted link"
    assert not os.path.islink(report) and "<testsuites" in open(report).read()


if __name__ == "__main__":
    sys.exit(tprunner.main(globals(), cleanup=[T]))
