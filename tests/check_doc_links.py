#!/usr/bin/env python3
"""Every relative link in the Markdown docs resolves: the file exists and, for FILE#anchor or
#anchor, the target has a heading with that GitHub anchor.

Usage: check_doc_links.py [ROOT [FILE.md...]]. ROOT defaults to the repository this script is in;
without FILEs it checks README.md and every *.md under docs/ and tests/. Exit 0 when all
links resolve, 1 (listing each broken link as FILE:LINE: ...) otherwise.
check_doc_links.py --self-test: shows on planted files that each kind of broken link is found."""
import os
import re
import sys

# [text](target) and ![alt](target); the target ends at whitespace or ')'.
LINK = re.compile(r"!?\[(?:[^\]\\]|\\.)*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
EXTERNAL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")  # http:, https:, mailto:, ...


def slug(text):
    """GitHub's heading anchor: lower case, punctuation dropped (letters, digits, '_', '-' and
    spaces kept), spaces become '-'. Inline code and emphasis markers count as punctuation."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)  # a link in a heading: its text
    text = text.strip().lower()
    text = "".join(c for c in text if c.isalnum() or c in "_- ")
    return text.replace(" ", "-")


def lines_outside_fences(path):
    fence = None
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            m = re.match(r"^\s*(```+|~~~+)", line)
            if m:
                mark = m.group(1)[0] * 3
                if fence is None:
                    fence = mark
                elif mark == fence:
                    fence = None
                continue
            if fence is None:
                yield n, line.rstrip("\n")


_anchor_cache = {}


def anchors(path):
    if path not in _anchor_cache:
        seen = {}
        out = set()
        for _, line in lines_outside_fences(path):
            m = HEADING.match(line)
            if not m:
                continue
            base = slug(m.group(2))
            k = seen.get(base, 0)
            seen[base] = k + 1
            out.add(base if k == 0 else "%s-%d" % (base, k))
        # Explicit HTML anchors: <a name="x"></a> or id="x".
        with open(path, encoding="utf-8") as f:
            for m in re.finditer(r"<a\s+(?:name|id)=\"([^\"]+)\"", f.read()):
                out.add(m.group(1))
        _anchor_cache[path] = out
    return _anchor_cache[path]


def strip_code_spans(line):
    return re.sub(r"(`+).*?\1", "", line)


def check_file(root, md):
    errors = []
    here = os.path.dirname(md)
    for n, line in lines_outside_fences(md):
        for m in LINK.finditer(strip_code_spans(line)):
            target = m.group(1)
            if EXTERNAL.match(target):
                continue
            file_part, _, anchor = target.partition("#")
            dest = md if file_part == "" else os.path.normpath(os.path.join(here, file_part))
            rel = os.path.relpath(md, root)
            if not os.path.exists(dest):
                errors.append("%s:%d: %s: no such file (%s)" % (rel, n, target,
                                                               os.path.relpath(dest, root)))
                continue
            if anchor and dest.endswith(".md") and anchor not in anchors(dest):
                errors.append("%s:%d: %s: no heading with anchor #%s in %s" % (
                    rel, n, target, anchor, os.path.relpath(dest, root)))
    return errors


def default_files(root):
    files = [os.path.join(root, "README.md")]
    for top in ("docs", "tests"):
        for d, dirs, names in os.walk(os.path.join(root, top)):
            dirs[:] = sorted(x for x in dirs if not x.startswith("."))
            files += [os.path.join(d, x) for x in sorted(names) if x.endswith(".md")]
    return [f for f in files if os.path.isfile(f)]


def self_test():
    import tempfile
    with tempfile.TemporaryDirectory() as root:
        os.makedirs(os.path.join(root, "docs"))
        with open(os.path.join(root, "README.md"), "w", encoding="utf-8") as f:
            f.write("# Top\n\n## Checking files: `tokprep check`\n\n## Top\n\n"
                    "[ok](docs/A.md) [ok](docs/A.md#exit-codes) [ok](#checking-files-tokprep-check)\n"
                    "[ok](#top-1) [ok](https://example.com/x.md#nope) `[code](nope.md)`\n"
                    "[bad file](docs/B.md)\n[bad anchor](docs/A.md#exit-code)\n"
                    "[bad local](#top-2)\n```\n[in a fence](nope.md)\n```\n")
        with open(os.path.join(root, "docs", "A.md"), "w", encoding="utf-8") as f:
            f.write("# A\n\n## Exit codes\n\n[up](../README.md#top) [bad up](../READ.md)\n")
        errors = []
        for md in default_files(root):
            errors += check_file(root, md)
    want = ["README.md:9: docs/B.md: no such file",
            "README.md:10: docs/A.md#exit-code: no heading with anchor #exit-code",
            "README.md:11: #top-2: no heading with anchor #top-2",
            "docs/A.md:5: ../READ.md: no such file"]
    ok = len(errors) == len(want) and all(e.startswith(w) for e, w in zip(errors, want))
    print("\n".join(errors))
    print("self-test:", "ok" if ok else "FAILED (expected %r)" % want)
    return 0 if ok else 1


def main(argv):
    if argv[1:] == ["--self-test"]:
        return self_test()
    root = os.path.abspath(argv[1]) if len(argv) > 1 else \
        os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    files = [os.path.abspath(f) for f in argv[2:]] or default_files(root)
    errors = []
    count = 0
    for md in files:
        errs = check_file(root, md)
        errors += errs
        count += 1
    for e in errors:
        print(e)
    print("%d Markdown files checked, %d broken link(s)" % (count, len(errors)))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
