#!/usr/bin/env python3
"""Footage lost with exit 0 (docs/SECURITY.md, class 4 "Writes in output folders"): the
directory sink delivers a split source as <stem>_part1.mp4, <stem>_part2.mp4, ... and only
checked <stem>.json, <stem>_part1.json, <stem>.mp4/.mov/.webm for files it does not know. A
drop-folder writer who drops clip.mp4 (long enough to be split) renamed part 2 over an unrelated
clip_part2.mp4 already in the sink (another ledger's, the user's), and the run exited 0. Every
file the ledger does not know, stem.EXT or stem_partN.EXT, must make the delivery take the
stem-<fingerprint> name instead. About 3 s."""
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tprunner  # noqa: E402
from pipeline_helpers import TOKPREP, make_vertical, set_args  # noqa: E402

T = tempfile.mkdtemp(prefix="tp_sec_sink_names.")
PRECIOUS = b"precious footage, not ours\n"


def run_split(name, planted):
    base = os.path.join(T, name)
    drop, sink = os.path.join(base, "drop"), os.path.join(base, "sink")
    os.makedirs(drop)
    os.makedirs(sink)
    make_vertical(os.path.join(drop, "clip.mp4"), seconds=5)
    for p in planted:
        with open(os.path.join(sink, p), "wb") as f:
            f.write(PRECIOUS)
    args = [TOKPREP, "run", "-w", os.path.join(base, "work"),
            *set_args(["rules.duration=[1,3]", "fix.too_long=split", "upload.sink=directory",
                       "upload.directory.path=" + sink]), "--", drop]
    r = subprocess.run(args, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
    for p in planted:
        with open(os.path.join(sink, p), "rb") as f:
            assert f.read() == PRECIOUS, "%s: %s was replaced by a delivery" % (name, p)
    delivered = [n for n in os.listdir(sink) if n.endswith(".mp4") and n not in planted]
    assert len(delivered) == 2, delivered
    return delivered


def test_part_two_not_replaced():
    d = run_split("part2", ["clip_part2.mp4"])
    assert all(n.startswith("clip-") for n in d), d


def test_other_extension_not_replaced():
    run_split("mkv", ["clip_part1.mkv", "clip.txt"])


def test_free_stem_keeps_its_name():
    d = run_split("free", ["clipper_part2.mp4", "clip_partial.mp4"])
    assert sorted(d) == ["clip_part1.mp4", "clip_part2.mp4"], d


if __name__ == "__main__":
    sys.exit(tprunner.main(globals(), cleanup=[T]))
