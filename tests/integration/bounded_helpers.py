"""Fixtures for the "work is bounded" tests (docs/SECURITY.md, class 7): the timestamp-gap bomb
and the sample-table bomb, made with the ffmpeg CLI and a few byte patches."""
import os
import signal
import struct
import subprocess
import time

from pipeline_helpers import ff  # noqa: F401  (re-exported for the tests)

TOKPREP = os.environ.get("TOKPREP", "tokprep")
SANITIZE = bool(os.environ.get("TP_SANITIZE"))
GAP_SECONDS = 18000  # five hours between the two frames


def make_gap_bomb(path, gap=GAP_SECONDS):
    """A ~4 KB Matroska file with two video frames `gap` seconds apart: its timestamps claim
    hours, its packets hold two pictures."""
    ff("-f", "lavfi", "-i", "testsrc=size=64x64:rate=10:duration=0.2",
       "-vf", f"setpts='if(eq(N,1),{gap}/TB,PTS)'", "-c:v", "libx264", "-g", "1", path)
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v", "-show_entries",
                          "packet=pts_time", "-of", "csv=p=0", path],
                         capture_output=True, text=True, check=True).stdout.split()
    assert len(out) == 2 and float(out[1]) >= gap, out
    assert os.path.getsize(path) < 16384, os.path.getsize(path)


def make_mp4(path, fragmented=False):
    """A one-second 64x64 H.264 + AAC MP4 (10 fps)."""
    args = ["-f", "lavfi", "-i", "testsrc=size=64x64:rate=10:duration=1",
            "-f", "lavfi", "-i", "sine=duration=1", "-c:v", "libx264", "-c:a", "aac",
            "-shortest"]
    if fragmented:
        args += ["-movflags", "frag_keyframe+empty_moov"]
    ff(*args, path)


def patch_count(src, dst, box, count, const_size=None):
    """Copy src to dst with the first `box`'s entry count set to `count` (stsz: sample_count,
    with a constant sample size so no table is needed; trun: sample_count)."""
    data = bytearray(open(src, "rb").read())
    i = data.find(box.encode())
    assert i > 4, box
    if box == "stsz":
        struct.pack_into(">II", data, i + 8, const_size or 100, count)
    else:
        struct.pack_into(">I", data, i + 8, count)
    open(dst, "wb").write(data)


def run_measured(args, timeout):
    """Run tokprep; return (exit status, stdout+stderr, peak RSS in MiB, wall seconds). The
    peak is this child's own (wait4), not the maximum over all children."""
    t0 = time.time()
    p = subprocess.Popen([TOKPREP, *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = t0 + timeout
    while True:
        pid, status, ru = os.wait4(p.pid, os.WNOHANG)
        if pid:
            break
        if time.time() > deadline:
            p.kill()
            os.wait4(p.pid, 0)
            raise AssertionError(f"tokprep {' '.join(args)}: still running after {timeout} s")
        time.sleep(0.02)
    out = p.stdout.read().decode(errors="replace")
    p.stdout.close()
    p.returncode = os.waitstatus_to_exitcode(status)
    return p.returncode, out, ru.ru_maxrss / 1024.0, time.time() - t0


def stop(p):
    """Make sure a child we started is gone (a failing test must not leave an encoder behind)."""
    if p.poll() is None:
        p.send_signal(signal.SIGKILL)
        p.wait()


def _boxes(data, start, end):
    """(offset, size, type) of the boxes in data[start:end] (32-bit sizes only: our fixtures)."""
    off = start
    while off + 8 <= end:
        size, typ = struct.unpack_from(">I4s", data, off)
        yield off, size, typ
        off += size


def wrap_moov_cmov(src, dst):
    """Replace the moov with a zlib-compressed one (moov → cmov → dcom + cmvd), QuickTime's old
    compressed header: its tables exist only once inflated."""
    import zlib
    data = open(src, "rb").read()
    out = b""
    for off, size, typ in _boxes(data, 0, len(data)):
        box = data[off:off + size]
        if typ == b"moov":
            comp = zlib.compress(box, 9)
            dcom = struct.pack(">I4s4s", 12, b"dcom", b"zlib")
            cmvd = struct.pack(">I4sI", 12 + len(comp), b"cmvd", len(box)) + comp
            cmov = struct.pack(">I4s", 8 + len(dcom) + len(cmvd), b"cmov") + dcom + cmvd
            box = struct.pack(">I4s", 8 + len(cmov), b"moov") + cmov
        out += box
    open(dst, "wb").write(out)


def nest_in(src, dst, box, wrapper):
    """Wrap the first `box` in a `wrapper` box (e.g. stsz in edts: libavformat reads its table
    wherever it finds it), growing every enclosing box by 8 bytes."""
    data = bytearray(open(src, "rb").read())
    pos = data.find(box.encode()) - 4
    size = struct.unpack_from(">I", data, pos)[0]

    def grow(start, end):
        for off, sz, typ in _boxes(data, start, end):
            if off < pos < off + sz:
                struct.pack_into(">I", data, off, sz + 8)
                grow(off + 8, off + sz)
                return
    grow(0, len(data))
    data[pos:pos] = struct.pack(">I4s", size + 8, wrapper.encode())
    open(dst, "wb").write(bytes(data))


def pad_moov(src, dst, n_boxes):
    """Put n_boxes empty 'free' boxes at the start of the moov: a walk with a box budget must
    not stop there and miss what follows."""
    data = open(src, "rb").read()
    out = b""
    for off, size, typ in _boxes(data, 0, len(data)):
        box = data[off:off + size]
        if typ == b"moov":
            body = struct.pack(">I4s", 8, b"free") * n_boxes + box[8:]
            box = struct.pack(">I4s", 8 + len(body), b"moov") + body
        out += box
    open(dst, "wb").write(out)


def prepend_unknown_box(src, dst):
    """Put a box of an unknown type before ftyp: libavformat's MP4 reader skips it and reads on."""
    data = open(src, "rb").read()
    open(dst, "wb").write(struct.pack(">I4s", 16, b"abcd") + bytes(8) + data)
