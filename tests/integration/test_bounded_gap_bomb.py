"""The timestamp-gap bomb: a 4 KB MKV whose two frames lie five hours apart once made `fit`
encode for over 11 minutes. Its planned output is checked against limits.max_output_frames
before anything is encoded (`fit`, `fit --dry-run`, `run`), and with that limit raised the
encode loop stops it at limits.max_frame_gap. Each refusal takes well under 20 s and leaves
no file behind."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bounded_helpers as b  # noqa: E402
import pipeline_helpers as h  # noqa: E402
import tprunner  # noqa: E402

LIMIT_S = 20  # the old code ran for over 11 minutes


def refused(args, limit_name, rc_expected=2):
    rc, out, peak, took = b.run_measured(args, timeout=LIMIT_S)
    print(f"{' '.join(args[:1])} {limit_name}: exit {rc} after {took:.2f} s")
    assert rc == rc_expected, (rc, out)
    assert limit_name in out, out
    return out


def test_bounded_gap_bomb():
    with h.TempDir() as t:
        bomb = os.path.join(t, "gap.mkv")
        b.make_gap_bomb(bomb)
        outdir = os.path.join(t, "out")

        # Default limits: 5 h planned at 23 fps is over the frame budget; refused at once.
        out = refused(["fit", "-o", outdir, bomb], "limits.max_output_frames")
        assert "planned output of" in out, out
        assert os.listdir(outdir) == [], os.listdir(outdir)
        refused(["fit", "--dry-run", bomb], "limits.max_output_frames")

        # With the frame budget raised, the encode loop notices one frame filling minutes.
        refused(["fit", "-o", outdir, "--set", "limits.max_output_frames=10000000",
                 "--set", "limits.max_frame_gap=5", bomb], "limits.max_frame_gap")
        assert os.listdir(outdir) == [], os.listdir(outdir)

        # A pixel rate above the limit is refused before encoding too.
        refused(["fit", "--dry-run", "--set", "limits.max_pixel_rate=1000000", bomb],
                "limits.max_pixel_rate")

        # `run` plans through the same code: the file fails with the limit's name, the run ends.
        work = os.path.join(t, "work")
        sink = os.path.join(t, "sink")
        out = refused(["run", "--json", "-w", work, "--set", "upload.sink=directory",
                       "--set", f"upload.directory.path={sink}", bomb],
                      "limits.max_output_frames")
        assert h.temp_files(work) == [], h.temp_files(work)
        assert not os.path.isdir(sink) or os.listdir(sink) == [], os.listdir(sink)

        # An ordinary source is untouched by the new limits: it fits, and ffprobe agrees.
        src = os.path.join(t, "land.mp4")
        h.make_landscape(src, seconds=2)
        rc, out, _, took = b.run_measured(["fit", "-o", outdir] + h.set_args() + [src],
                                          timeout=60)
        assert rc == 0, (rc, out)
        fitted = os.path.join(outdir, "land.mp4")
        dur = float(b.subprocess.run(["ffprobe", "-v", "error", "-show_entries",
                                      "format=duration", "-of", "csv=p=0", fitted],
                                     capture_output=True, text=True, check=True).stdout)
        assert 1.8 < dur < 2.3, dur

        # Holding the last frame because the profile asks for it (fix.too_short: extend) is not
        # a gap: 68 s of held frame, over limits.max_frame_gap's 60 s, still fits.
        short = os.path.join(t, "short.mp4")
        h.make_landscape(short, seconds=2)
        rc, out, _, took = b.run_measured(
            ["fit", "-o", outdir] + h.set_args(["rules.duration=[70,600]",
                                                "fix.too_short=extend"]) + [short], timeout=60)
        assert rc == 0, (rc, out)
        dur = float(b.subprocess.run(["ffprobe", "-v", "error", "-show_entries",
                                      "format=duration", "-of", "csv=p=0",
                                      os.path.join(outdir, "short.mp4")],
                                     capture_output=True, text=True, check=True).stdout)
        assert 69.9 < dur < 70.5, dur


if __name__ == "__main__":
    sys.exit(tprunner.main(globals()))
