#!/usr/bin/env python3
"""Upload throughput: tokprep upload vs curl PUTting the same chunks in the same order, both to
the local fake TikTok server in --sink-hash-only mode. Reports MB/s, the ratio, tokprep's peak
RSS and the fake server's CPU use (to tell when the server, not the client, is the limit)."""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "fake_tiktok"))
from harness import Client, FakeTikTok, random_file, sha256_file, urlopen  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def run_measured(cmd, env=None):
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    out = p.stdout.read().decode()
    err = p.stderr.read().decode()
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        raise RuntimeError("%s failed (%d): %s %s" % (cmd[0], p.returncode, out, err))
    return wall, ru.ru_maxrss, out


def init_upload(srv, token, size, chunk_size, count):
    body = json.dumps({"source_info": {"source": "FILE_UPLOAD", "video_size": size,
                                       "chunk_size": chunk_size, "total_chunk_count": count}})
    req = urllib.request.Request(srv.base + "/v2/post/publish/inbox/video/init/",
                                 data=body.encode(), method="POST",
                                 headers={"Authorization": "Bearer " + token,
                                          "Content-Type": "application/json; charset=UTF-8"})
    with urlopen(req) as r:
        return json.load(r)["data"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--size-mb", type=int, default=300)
    ap.add_argument("--chunk-mb", type=int, default=10)
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args()
    size = a.size_mb * 1_000_000
    cs = a.chunk_mb * 1_000_000
    count = size // cs
    wd = tempfile.mkdtemp(prefix="tp_upload_bench.")
    f = random_file(os.path.join(wd, "big.mp4"), size)
    want = sha256_file(f)
    chunks = []
    with open(f, "rb") as src:
        for i in range(count):
            n = cs if i < count - 1 else size - (count - 1) * cs
            path = os.path.join(wd, "chunk%04d" % i)
            with open(path, "wb") as dst:
                dst.write(src.read(n))
            chunks.append((i * cs, n, path))
    # rate window 1 s: the bench makes more than 6 inits a minute from separate processes
    srv = FakeTikTok("--sink-hash-only", "--processing-polls", "0", "--rate-window", "1",
                     workdir=wd)
    results = {"tokprep": [], "curl": []}
    try:
        c = Client(srv, wd, profile="tiktok-draft",
                   sets=["upload.tiktok.status_interval=0.01", "chunk.size=%d" % cs])
        c.login()
        token = c.tokens()["access_token"]
        for run in range(a.runs):
            # tokprep: the whole command (status check, init, PUTs, one status poll).
            c0 = cpu_seconds(srv.proc.pid)
            wall, rss, _ = run_measured([c.binary, "upload"] + c.args(f), env=c.env)
            scpu = cpu_seconds(srv.proc.pid) - c0
            pub = srv.inspect()["publishes"][-1]
            results["tokprep"].append({"wall": wall, "rss_kb": rss, "server_cpu": scpu,
                                       "put_phase": pub["complete_at"] - pub["first_put_at"]})
            # curl: one process, keep-alive, the same chunks with the same headers, in order.
            d = init_upload(srv, token, size, cs, count)
            cmd = ["curl", "-sS", "--noproxy", "*", "-o", "/dev/null", "-w", "%{http_code}\n"]
            for i, (off, n, path) in enumerate(chunks):
                if i:
                    cmd += ["--next", "-sS", "--noproxy", "*", "-o", "/dev/null", "-w",
                            "%{http_code}\n"]
                cmd += ["-H", "Content-Type: video/mp4", "-H", "Expect:",
                        "-H", "Content-Range: bytes %d-%d/%d" % (off, off + n - 1, size),
                        # -T streams the file; it would append the file name to a path
                        # ending in "/", so use the server's slash-less alias.
                        "-T", path, d["upload_url"].replace("/upload/?", "/upload?")]
            c0 = cpu_seconds(srv.proc.pid)
            wall, rss, out = run_measured(cmd)
            scpu = cpu_seconds(srv.proc.pid) - c0
            codes = out.split()
            assert codes == ["206"] * (count - 1) + ["201"], codes
            pub = srv.inspect()["publishes"][-1]
            results["curl"].append({"wall": wall, "rss_kb": rss, "server_cpu": scpu,
                                    "put_phase": pub["complete_at"] - pub["first_put_at"]})
        st = srv.inspect()
        shas = {p["sha256"] for p in st["publishes"]}
        assert shas == {want}, "server SHA-256 mismatch"
        assert st["rejections"] == [], st["rejections"]
    finally:
        srv.stop()
        for _, _, path in chunks:
            os.unlink(path)
        os.unlink(f)
    best = {k: min(v, key=lambda r: r["wall"]) for k, v in results.items()}
    bput = {k: min(r["put_phase"] for r in v) for k, v in results.items()}
    mb = size / 1e6
    print("file: %d MB in %d chunks of %d MB; %d runs each, best shown" % (a.size_mb, count,
                                                                            a.chunk_mb, a.runs))
    for k in ("tokprep", "curl"):
        r = best[k]
        print("%-8s %6.2f s  %7.1f MB/s  peak RSS %6.1f MiB  fake-server CPU %5.1f s (%3.0f%% of "
              "wall)" % (k, r["wall"], mb / r["wall"], r["rss_kb"] / 1024, r["server_cpu"],
                         100 * r["server_cpu"] / r["wall"]))
    for k in ("tokprep", "curl"):
        print("%-8s PUT phase (first PUT to last byte, server clock) %6.3f s  %7.1f MB/s"
              % (k, bput[k], mb / bput[k]))
    print("all runs:", json.dumps(results))
    print("ratio tokprep/curl, whole command: %.2f" % (best["curl"]["wall"] / best["tokprep"]["wall"]))
    print("ratio tokprep/curl, PUT phase:     %.2f" % (bput["curl"] / bput["tokprep"]))


if __name__ == "__main__":
    main()
