#!/usr/bin/env python3
"""docs/SECURITY.md class 5, options end where operands begin: a file named
`--set=upload.tiktok.privacy_level=PUBLIC_TO_EVERYONE` in a drop folder reached by a shell glob
must never make a private post public (the fake TikTok server says what it received); a name
like `-oNAME` must not pick the work folder; names after the first operand are operands; `--`
ends the options; the help shows `tokprep run -- *`."""
import json
import contextlib
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.environ.get("TP_SOURCE_DIR", os.path.join(HERE, "..", "..")),
                                "tests", "fake_tiktok"))
import pipeline_helpers as h  # noqa: E402
import tprunner  # noqa: E402
from harness import Client, FakeTikTok  # noqa: E402

TOKPREP = os.environ.get("TOKPREP", "tokprep")
EVIL = "--set=upload.tiktok.privacy_level=PUBLIC_TO_EVERYONE"
BOTH = "is both an option and a file in this folder"


def env_without_posixly_correct(env):
    # GNU getopt permutes unless POSIXLY_CORRECT is set: the defence must not depend on it.
    e = dict(env)
    e.pop("POSIXLY_CORRECT", None)
    return e


def privacy_levels(srv):
    return [(p["post_info"] or {}).get("privacy_level") for p in srv.inspect()["publishes"]]


def drop_folder(t, name, clip):
    d = os.path.join(t, name)
    os.makedirs(d)
    os.link(clip, os.path.join(d, "a.mp4"))
    open(os.path.join(d, EVIL), "w").close()
    return d


def run_in(c, drop, work, operands, shell_glob=False):
    """`tokprep run OPTIONS OPERANDS` from inside drop, as `cd drop && tokprep run ... *`."""
    opts = ["-w", work, "--json"] + c.args(*h.set_args())
    env = env_without_posixly_correct(c.env)
    if shell_glob:
        cmd = " ".join("'%s'" % a for a in [c.binary, "run"] + opts) + " " + operands
        env["LC_ALL"] = "C"  # '-' sorts before letters: the option-like name comes first
        return subprocess.run(cmd, shell=True, cwd=drop, env=env, capture_output=True,
                              text=True, timeout=120)
    return subprocess.run([c.binary, "run"] + opts + operands, cwd=drop, env=env,
                          capture_output=True, text=True, timeout=120)


def test_glob_cannot_make_a_post_public(t, clip):
    with FakeTikTok(workdir=t) as srv:
        c = Client(srv, t)
        c.login()
        # 1. `tokprep run *`, no `--`: the glob puts the option-like name first. Refused,
        #    exit 2, nothing posted.
        d = drop_folder(t, "drop1", clip)
        r = run_in(c, d, os.path.join(t, "work1"), "*", shell_glob=True)
        assert "PUBLIC_TO_EVERYONE" not in privacy_levels(srv), "posted publicly: %r" % (
            privacy_levels(srv),)
        assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
        assert "tokprep run: '%s' %s; put -- before file names (tokprep run -- *)" % (EVIL, BOTH) \
            in r.stderr, r.stderr
        assert privacy_levels(srv) == [], privacy_levels(srv)
        # 2. The same name after the first operand (a locale that sorts it later): an operand,
        #    a file that fails on its own; a.mp4 is posted as the profile says, privately.
        d = drop_folder(t, "drop2", clip)
        r = run_in(c, d, os.path.join(t, "work2"), ["a.mp4", EVIL])
        assert privacy_levels(srv) == ["SELF_ONLY"], (privacy_levels(srv), r.stderr)
        events = [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]
        assert any(e.get("path", "").endswith(EVIL) for e in events), r.stdout
        # 3. `tokprep run -- *`: the name is a file, never an option.
        d = drop_folder(t, "drop3", clip)
        os.unlink(os.path.join(d, "a.mp4"))
        h.make_vertical(os.path.join(d, "b.mp4"), seconds=1, freq=660)  # new content
        r = run_in(c, d, os.path.join(t, "work3"), "-- *", shell_glob=True)
        assert BOTH not in r.stderr, r.stderr
        assert privacy_levels(srv) == ["SELF_ONLY", "SELF_ONLY"], (privacy_levels(srv),
                                                                   r.stderr)
        assert srv.inspect()["rejections"] == [], srv.inspect()["rejections"]


def test_short_option_name(t, clip):
    # A file named -oNAME is `-o NAME`: `tokprep fit -o out *` would write to NAME.
    d = os.path.join(t, "drop_o")
    os.makedirs(d)
    os.link(clip, os.path.join(d, "a.mp4"))
    open(os.path.join(d, "-oevil"), "w").close()
    r = subprocess.run("'%s' fit -o out %s *" % (TOKPREP, " ".join(h.set_args())), shell=True,
                       cwd=d, env=dict(env_without_posixly_correct(os.environ), LC_ALL="C"),
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert "tokprep fit: '-oevil' %s" % BOTH in r.stderr, r.stderr
    assert not os.path.exists(os.path.join(d, "evil")) and not os.path.exists(
        os.path.join(d, "out")), os.listdir(d)


def test_operands_then_no_options(t, clip):
    env = env_without_posixly_correct(os.environ)
    # After the first operand, `--json` is a (missing) file, not the option.
    r = subprocess.run([TOKPREP, "check", clip, "--json"], env=env, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert not r.stdout.lstrip().startswith("{"), r.stdout
    assert "--json" in r.stdout + r.stderr and "no such file" in r.stdout + r.stderr, r.stdout
    # Before it, the option.
    r = subprocess.run([TOKPREP, "check", "--json", clip], env=env, capture_output=True,
                       text=True, timeout=60)
    assert r.stdout.lstrip().startswith("{"), (r.stdout, r.stderr)
    # `--` ends the options: an option-like name that does not exist is a missing file.
    r = subprocess.run([TOKPREP, "check", "--", "--json", clip], env=env, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 2 and not r.stdout.lstrip().startswith("{"), (r.stdout, r.stderr)
    # The action word of `auth` / `profiles` may still come first.
    r = subprocess.run([TOKPREP, "profiles", "show", "--set", "fix.fill=pad", "tiktok"],
                       env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and 'fill: "pad"' in r.stdout, (r.stdout, r.stderr)


def test_help_shows_double_dash():
    for cmd in ("run", "check", "fit", "enqueue", "upload"):
        r = subprocess.run([TOKPREP, cmd, "--help"], capture_output=True, text=True, timeout=30)
        assert r.returncode == 0 and "tokprep %s -- *" % cmd in r.stdout, r.stdout
        assert "[--] " in r.stdout.splitlines()[0], r.stdout


@contextlib.contextmanager
def clip_folder():
    with h.TempDir() as t:
        clip = os.path.join(t, "clip.mp4")
        h.make_vertical(clip, seconds=1)
        yield {"t": t, "clip": clip}


if __name__ == "__main__":
    sys.exit(tprunner.main(globals(), fixture=clip_folder))
