#!/usr/bin/env python3
"""One CLI (issue 16): the work folder is -w/--workdir everywhere (the old -o still works, with a
deprecation warning), misspelled commands and long options get a "did you mean", `help CMD` is
`CMD --help`; and the completion scripts and manual pages, generated from the same option tables
as --help, cover every command and option (and every profile key) and render without warnings."""
import functools
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tprunner  # noqa: E402

TOKPREP = os.environ.get("TOKPREP", "tokprep")
BUILD = os.environ.get("TP_BUILD_DIR", "")
T = tempfile.mkdtemp(prefix="tp_cli_docs.")


def tp(*args, **kw):
    return subprocess.run([TOKPREP, *args], capture_output=True, text=True, timeout=60, **kw)


@functools.lru_cache(maxsize=None)
def commands():
    """The commands `tokprep --help` lists."""
    out = tp("--help").stdout
    body = out.split("Commands:\n", 1)[1].split("\n\n", 1)[0]
    return tuple(line.split()[0] for line in body.splitlines() if line.strip())


@functools.lru_cache(maxsize=None)
def options(cmd):
    """(short, long) of every option `tokprep CMD --help` lists."""
    out = tp(cmd, "--help").stdout
    found = []
    for line in out.split("Options:\n", 1)[1].splitlines():
        m = re.match(r"^  (?:-(\w), )?\s*--([\w-]+)", line)
        if m:
            found.append((m.group(1), m.group(2)))
    return tuple(found)


def test_workdir_spelling():
    wd = os.path.join(T, "nowork")
    for cmd in ("status", "retry"):
        old = tp(cmd, "-o", wd)
        assert ("tokprep %s: -o is deprecated for the work folder; use -w/--workdir (-o will mean "
                "the output folder)" % cmd) in old.stderr, old.stderr
        new = tp(cmd, "-w", wd)
        assert "deprecated" not in new.stderr, new.stderr
        assert new.returncode == old.returncode == 2, (new.returncode, old.returncode)
        # the same folder either way: the same message about its ledger
        assert new.stderr.strip() == old.stderr.strip().splitlines()[-1], (new.stderr, old.stderr)
        assert tp(cmd, "--workdir", wd).stderr == new.stderr
    for cmd in ("run", "status", "retry", "worker"):
        opts = dict((lng, sh) for sh, lng in options(cmd))
        assert opts.get("workdir") == "w", (cmd, opts)
        assert "state" in opts, (cmd, opts)
        assert "-o" not in tp(cmd, "--help").stdout, cmd
    # fit keeps -o for its output folder, without a warning
    assert options("fit").count(("o", "output")) == 1


def test_did_you_mean():
    r = tp("chek")
    assert r.returncode == 2
    assert "unknown command 'chek'; did you mean 'check'?" in r.stderr, r.stderr
    r = tp("frobnicate")
    assert r.returncode == 2 and "did you mean" not in r.stderr, r.stderr
    r = tp("check", "--jsn", "x.mp4")
    assert r.returncode == 2
    assert "unknown option '--jsn'; did you mean '--json'?" in r.stderr, r.stderr
    r = tp("run", "--wokdir=x", "x.mp4")
    assert "did you mean '--workdir'?" in r.stderr, r.stderr
    r = tp("check", "--zzzzzz", "x.mp4")
    assert r.returncode == 2 and "did you mean" not in r.stderr, r.stderr


def test_help_command():
    for cmd in commands():
        a, b = tp("help", cmd), tp(cmd, "--help")
        assert a.returncode == b.returncode == 0, cmd
        assert a.stdout == b.stdout and a.stdout.startswith("Usage: tokprep " + cmd), cmd
    r = tp("help", "chek")
    assert r.returncode == 2 and "did you mean 'check'?" in r.stderr, r.stderr


def test_every_reader_of_a_profile_takes_profile_and_set():
    for cmd in ("check", "fit", "run", "upload", "auth", "enqueue", "worker"):
        longs = [lng for _, lng in options(cmd)]
        assert "profile" in longs and "set" in longs, (cmd, longs)


def bash_complete(script, words):
    """COMPREPLY of _tokprep for the command line `words` (the last one being completed)."""
    prog = ('source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(( $# - 1 )); '
            'cd "%s"; _tokprep; printf "%%s\\n" "${COMPREPLY[@]}"' % T)
    r = subprocess.run(["bash", "-c", prog, "bash", script, *words], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return [w for w in r.stdout.splitlines() if w]


def test_bash_completion():
    if not shutil.which("bash"):
        tprunner.skip("no bash")
    script = os.path.join(T, "tokprep.bash")
    r = tp("completion", "bash")
    assert r.returncode == 0, r.stderr
    with open(script, "w") as f:
        f.write(r.stdout)
    if BUILD:  # the file the build writes (and cmake --install installs) is the same script
        with open(os.path.join(BUILD, "docs", "completion", "tokprep")) as f:
            assert f.read() == r.stdout
    assert bash_complete(script, ["tokprep", "ch"]) == ["check"]
    assert bash_complete(script, ["tokprep", "check", "--js"]) == ["--json"]
    assert "--workdir" in bash_complete(script, ["tokprep", "run", "--w"])
    assert bash_complete(script, ["tokprep", "help", "enq"]) == ["enqueue"]
    assert bash_complete(script, ["tokprep", "auth", "lo"]) == ["login", "logout"]
    assert "tiktok-draft" in bash_complete(script, ["tokprep", "fit", "--profile", "tik"])
    os.makedirs(os.path.join(T, "somedir"), exist_ok=True)
    open(os.path.join(T, "somefile"), "w").close()
    assert bash_complete(script, ["tokprep", "fit", "-o", "some"]) == ["somedir"]
    assert bash_complete(script, ["tokprep", "check", "--junit", "somef"]) == ["somefile"]
    # every option of every command completes
    for cmd in commands():
        words = bash_complete(script, ["tokprep", cmd, "-"])
        for sh, lng in options(cmd):
            assert "--" + lng in words, (cmd, lng, words)
            assert not sh or "-" + sh in words, (cmd, sh)


def test_zsh_completion():
    r = tp("completion", "zsh")
    assert r.returncode == 0 and r.stdout.startswith("#compdef tokprep"), r.stderr
    for cmd in commands():
        assert "\n    %s)\n" % cmd in r.stdout, cmd
        for sh, lng in options(cmd):
            assert "--" + lng in r.stdout, (cmd, lng)
    if not shutil.which("zsh"):
        tprunner.skip("no zsh: the script's syntax is not checked")
    path = os.path.join(T, "_tokprep")
    with open(path, "w") as f:
        f.write(r.stdout)
    z = subprocess.run(["zsh", "-n", path], capture_output=True, text=True)
    assert z.returncode == 0, z.stderr
    # Dispatch, with the completion system's functions stubbed to print what they are given.
    stubs = ('compdef() { :; }; _describe() { print -l -- "${(@P)${4}}"; }; '
             '_arguments() { print -l -- "$@"; }; source "$1"; shift; words=("$@"); '
             'CURRENT=$#; _tokprep')

    def zsh_complete(*words):
        r = subprocess.run(["zsh", "-f", "-c", stubs, "zsh", path, *words], capture_output=True,
                           text=True, timeout=30)
        assert r.returncode == 0, r.stderr
        return r.stdout.splitlines()

    assert any(x.startswith("check:") for x in zsh_complete("tokprep", "ch"))
    specs = zsh_complete("tokprep", "check", "--js")
    assert any(x.startswith("*--json[") for x in specs), specs
    assert any("--profile=" in x and x.endswith(":_tokprep_profiles") for x in specs), specs
    specs = zsh_complete("tokprep", "run", "-")
    assert any(x.startswith("(-w --workdir)--workdir=[") and x.endswith(":_files -/")
               for x in specs), specs


def unroff(text):
    return text.replace("\\-", "-").replace("\\fB", "").replace("\\fR", "").replace("\\fI", "")


def man_page(name):
    """A page as the build wrote it (docs/man), checked to be what the binary prints."""
    args = ["__man-profile"] if name == "tokprep-profile.5" else \
        ["__man"] + ([name[len("tokprep-"):-2]] if name != "tokprep.1" else [])
    r = tp(*args)
    assert r.returncode == 0, r.stderr
    if BUILD:
        with open(os.path.join(BUILD, "docs", "man", name)) as f:
            assert f.read() == r.stdout, name + " in the build is stale"
    return r.stdout


def test_man_pages_cover_every_option():
    main = unroff(man_page("tokprep.1"))
    for cmd in commands():
        assert "tokprep-%s(1)" % cmd in main, cmd
        page = unroff(man_page("tokprep-%s.1" % cmd))
        assert page.startswith('.\\" Generated') and "\n.SH OPTIONS\n" in page, cmd
        for sh, lng in list(options(cmd)) + [("h", "help")]:
            assert "--" + lng in page, (cmd, lng)
            assert not sh or "-%s, --%s" % (sh, lng) in page, (cmd, sh)


def flat_keys(yaml_text):
    """Leaf keys (dotted) of `profiles show`'s YAML: maps nest by two spaces."""
    keys, stack = [], []
    for line in yaml_text.splitlines():
        m = re.match(r"^( *)([A-Za-z_][\w]*):(.*)$", line)
        if not m:
            continue
        depth = len(m.group(1)) // 2
        stack = stack[:depth] + [m.group(2)]
        if m.group(3).strip():
            keys.append(".".join(stack))
    return keys


def test_profile_page_covers_every_key():
    page = unroff(man_page("tokprep-profile.5"))
    shown = tp("profiles", "show", "tiktok")
    keys = flat_keys(shown.stdout)
    assert len(keys) > 50, keys
    for k in keys:
        m = re.search(r"^\.TP\n%s \(([^)]*)\)(.*)\n(.*)$" % re.escape(k), page, re.M)
        assert m, k + " is not in tokprep-profile.5"
        assert m.group(3).strip() and not m.group(3).startswith(".TP"), k + " has no help line"


def test_pages_render_without_warnings():
    if not shutil.which("groff"):
        tprunner.skip("no groff")
    names = ["tokprep.1", "tokprep-profile.5"] + ["tokprep-%s.1" % c for c in commands()]
    for name in names:
        path = os.path.join(T, name)
        with open(path, "w") as f:
            f.write(man_page(name))
        r = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z", path], capture_output=True,
                           text=True, env=dict(os.environ, LC_ALL="C"))
        assert r.returncode == 0 and not r.stderr.strip(), (name, r.stderr)


if __name__ == "__main__":
    sys.exit(tprunner.main(globals(), cleanup=[T]))
