"""SIGINT/SIGTERM stop a long encode within 2 s with every temporary file removed, and a
second signal exits at once. The encode is the timestamp-gap bomb with its limits raised: one
packet that the fps filter turns into hours of 1080x1920 frames, which the old per-packet
cancellation check never saw again. `tokprep fit` and `tokprep run`."""
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bounded_helpers as b  # noqa: E402
import pipeline_helpers as h  # noqa: E402
import tprunner  # noqa: E402

RAISED = ["--set", "limits.max_output_frames=100000000", "--set", "limits.max_frame_gap=86400"]
STOP_S = 2.0


def wait_for_temp(p, dirs, what):
    """Wait until the encode is under way (its temporary outputs exist), then a little more."""
    deadline = time.time() + 30
    while time.time() < deadline and p.poll() is None:
        if h.temp_files(*dirs):
            time.sleep(1.0)
            return
        time.sleep(0.05)
    b.stop(p)
    raise AssertionError(f"{what}: no encode in progress (exit {p.returncode})")


def interrupt(p, sigs, what):
    t0 = time.time()
    for i, s in enumerate(sigs):
        if i:
            time.sleep(0.05)
        p.send_signal(s)
    try:
        rc = p.wait(timeout=10)
    except subprocess.TimeoutExpired:
        b.stop(p)
        raise AssertionError(f"{what}: still running 10 s after the signal")
    took = time.time() - t0
    print(f"{what}: exit {rc} after {took:.2f} s")
    assert rc == 130, (what, rc)
    assert took <= STOP_S, (what, took)


def fit(bomb, outdir, sigs, what):
    p = subprocess.Popen([b.TOKPREP, "fit", "-o", outdir, *RAISED, bomb],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_temp(p, [outdir], what)
        interrupt(p, sigs, what)
    finally:
        b.stop(p)


def test_bounded_fit_sigint():
    with h.TempDir() as t:
        bomb = os.path.join(t, "gap.mkv")
        b.make_gap_bomb(bomb)
        for name, sig in (("SIGINT", signal.SIGINT), ("SIGTERM", signal.SIGTERM)):
            outdir = os.path.join(t, "out-" + name)
            fit(bomb, outdir, [sig], f"fit {name}")
            assert os.listdir(outdir) == [], (name, os.listdir(outdir))

        # A second signal exits at once while the first one's clean-up is still waiting: here on
        # stdout, a pipe the test filled beforehand and never reads, so after the first SIGINT
        # `fit` has removed its temporary files and blocks writing its report. (A blocked write
        # also returns on EINTR, so this passes without cli.c's second-signal _exit too; what
        # it pins down is that the first signal's clean-up comes before any such wait.)
        outdir = os.path.join(t, "out-twice")
        rfd, wfd = os.pipe()
        os.set_blocking(wfd, False)
        try:
            while True:
                os.write(wfd, b"x" * 4096)
        except BlockingIOError:
            pass
        os.set_blocking(wfd, True)
        p = subprocess.Popen([b.TOKPREP, "fit", "-o", outdir, *RAISED, bomb], stdout=wfd,
                             stderr=subprocess.DEVNULL)
        os.close(wfd)
        try:
            wait_for_temp(p, [outdir], "fit SIGINT x2")
            p.send_signal(signal.SIGINT)
            time.sleep(1.0)
            assert p.poll() is None, "fit exited although its stdout is full"
            # The first signal's clean-up is done: only the report is pending.
            assert os.listdir(outdir) == [], os.listdir(outdir)
            interrupt(p, [signal.SIGINT], "fit second SIGINT")
        finally:
            b.stop(p)
            os.close(rfd)

        # run: the pipeline's fit stage stops the same way and leaves no temporary file.
        work = os.path.join(t, "work")
        sink = os.path.join(t, "sink")
        p = subprocess.Popen([b.TOKPREP, "run", "--json", "-w", work, *RAISED,
                              "--set", "upload.sink=directory",
                              "--set", f"upload.directory.path={sink}", bomb],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_for_temp(p, [work], "run SIGINT")
            interrupt(p, [signal.SIGINT], "run SIGINT")
        finally:
            b.stop(p)
        assert h.temp_files(work) == [], h.temp_files(work)


if __name__ == "__main__":
    sys.exit(tprunner.main(globals()))
