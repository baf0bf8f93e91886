#!/usr/bin/env python3
"""Build the real-media corpus from Debian packages that ship sample videos and sounds.

Reads corpus.tsv beside this script; for each package named there runs `apt-get download`
(once, into the cache), unpacks the listed members (`dpkg-deb --fsys-tarfile | tar -x`), copies the listed member into the corpus
folder (gunzipping *.gz) and checks its sha256 against the manifest. Rows whose package is
"derived" are made from another corpus file (a cut, for damaged files), never downloaded.

Cache: $TOKPREP_REAL_CACHE or ~/.cache/tokprep-real (debs/, x/PACKAGE/, corpus/). The media
is never written into the source tree. Prints the corpus folder on the last line of stdout.
Exit: 0 all files present, 1 some missing (listed on stderr), 2 none could be fetched.
--write-manifest rewrites the version and sha256 columns from what was fetched.
"""
import csv
import glob
import gzip
import hashlib
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
MANIFEST = os.path.join(HERE, "corpus.tsv")
COLUMNS = ["name", "package", "version", "member", "sha256", "category", "xfail"]


def cache_dir():
    return os.environ.get("TOKPREP_REAL_CACHE") or os.path.join(
        os.path.expanduser("~"), ".cache", "tokprep-real")


def read_manifest():
    with open(MANIFEST, newline="") as f:
        rows = [r for r in csv.reader(f, delimiter="\t") if r and not r[0].startswith("#")]
    return [dict(zip(COLUMNS, r + [""] * (len(COLUMNS) - len(r)))) for r in rows[1:]]


def write_manifest(rows):
    with open(MANIFEST) as f:
        comments = [l for l in f if l.startswith("#")]
    with open(MANIFEST, "w", newline="") as f:
        f.writelines(comments)
        w = csv.writer(f, delimiter="\t", lineterminator="\n")
        w.writerow(COLUMNS)
        for r in rows:
            w.writerow([r[c] for c in COLUMNS])


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def deb_for(debs, pkg):
    found = sorted(glob.glob(os.path.join(debs, glob.escape(pkg) + "_*.deb")))
    return found[-1] if found else None


def download(debs, pkgs):
    """apt-get download the packages not cached yet; one apt-get update retry as root."""
    missing = [p for p in pkgs if not deb_for(debs, p)]
    if not missing:
        return
    for attempt in range(2):
        for p in list(missing):
            r = subprocess.run(["apt-get", "download", "-q", p], cwd=debs,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            if r.returncode == 0 and deb_for(debs, p):
                missing.remove(p)
            elif attempt:
                print("fetch: apt-get download %s failed: %s" % (p, r.stderr.strip()[-300:]),
                      file=sys.stderr)
        if not missing or attempt or os.geteuid() != 0:
            break
        subprocess.run(["apt-get", "update", "-q"], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)


def unpack(cache, deb, pkg, members):
    """Extract only the listed members (dpkg-deb -x of a documentation package takes long)."""
    dest = os.path.join(cache, "x", pkg)
    stamp = os.path.join(dest, ".from")
    want = sorted(set(members))
    tag = os.path.basename(deb) + "\n" + "\n".join(want)
    if os.path.exists(stamp) and open(stamp).read() == tag:
        return dest
    shutil.rmtree(dest, ignore_errors=True)
    os.makedirs(dest)
    tar = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", deb], stdout=subprocess.PIPE)
    r = subprocess.run(["tar", "-x", "-C", dest] + ["./" + m for m in want], stdin=tar.stdout)
    tar.stdout.close()
    if tar.wait() != 0 or r.returncode != 0:
        raise subprocess.CalledProcessError(r.returncode or tar.returncode, "dpkg-deb | tar")
    with open(stamp, "w") as f:
        f.write(tag)
    return dest


def derive(corpus, recipe, out):
    """cut:SOURCE:FRACTION keeps the first FRACTION of SOURCE's bytes (a broken download)."""
    kind, src, arg = recipe.split(":")
    if kind != "cut":
        raise ValueError("unknown recipe " + recipe)
    with open(os.path.join(corpus, src), "rb") as f:
        data = f.read()
    with open(out, "wb") as f:
        f.write(data[: int(len(data) * float(arg))])


def main():
    write = "--write-manifest" in sys.argv[1:]
    cache = cache_dir()
    debs, corpus = os.path.join(cache, "debs"), os.path.join(cache, "corpus")
    os.makedirs(debs, exist_ok=True)
    os.makedirs(corpus, exist_ok=True)
    rows = read_manifest()
    if not shutil.which("apt-get") or not shutil.which("dpkg-deb"):
        print("fetch: apt-get/dpkg-deb not found (not a Debian system)", file=sys.stderr)
    else:
        download(debs, sorted({r["package"] for r in rows if r["package"] != "derived"}))
    missing = []
    for r in rows:
        out = os.path.join(corpus, r["name"])
        part = "%s.part%d" % (out, os.getpid())  # another run may share the cache
        try:
            if r["package"] == "derived":
                derive(corpus, r["member"], part)
            else:
                deb = deb_for(debs, r["package"])
                if not deb:
                    raise FileNotFoundError("package %s not downloaded" % r["package"])
                version = os.path.basename(deb)[len(r["package"]) + 1:].rsplit("_", 1)[0]
                version = version.replace("%3a", ":")
                members = [x["member"] for x in rows if x["package"] == r["package"]]
                src = os.path.join(unpack(cache, deb, r["package"], members), r["member"])
                opener = gzip.open if src.endswith(".gz") else open
                with opener(src, "rb") as fi, open(part, "wb") as fo:
                    shutil.copyfileobj(fi, fo)
                if write:
                    r["version"] = version
                elif version != r["version"]:
                    print("fetch: %s: package %s is %s now (manifest: %s)"
                          % (r["name"], r["package"], version, r["version"]), file=sys.stderr)
            os.replace(part, out)
            digest = sha256(out)
            if write:
                r["sha256"] = digest
            elif digest != r["sha256"]:
                print("fetch: %s: sha256 %s differs from the manifest's %s (file changed upstream)"
                      % (r["name"], digest, r["sha256"]), file=sys.stderr)
        except (OSError, ValueError, subprocess.CalledProcessError) as e:
            if os.path.exists(part):
                os.unlink(part)
            missing.append(r["name"])
            print("fetch: %s: %s" % (r["name"], e), file=sys.stderr)
    if write:
        write_manifest(rows)
    print("fetch: %d of %d files in %s" % (len(rows) - len(missing), len(rows), corpus),
          file=sys.stderr)
    print(corpus)
    return 0 if not missing else 2 if len(missing) == len(rows) else 1


if __name__ == "__main__":
    sys.exit(main())
