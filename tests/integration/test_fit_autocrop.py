"""Burned-in black bars are removed when filling (issue 13): a 4:3 640x480 clip holding a 16:9
picture between black bars is fitted with blur and the output has no black band where the bars
would land (decoded luma against the source picture's); with fix.autocrop=false the bands are
there, as before. A dark scene and an all-black clip are never cropped. `check --deep --json`
reports media.video.active_area and a burned_in_bars warning; the dry-run plan shows the crop."""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pipeline_helpers as h  # noqa: E402
import tprunner  # noqa: E402

OW, OH = 180, 320  # output size (FAST)
SETS = ["rules.min_side=100", "rules.duration=[1,600]", f"fix.width={OW}", f"fix.height={OH}",
        "fix.video.preset=ultrafast", "fix.fill=blur"]


def sets(extra=()):
    args = []
    for s in SETS + list(extra):
        args += ["--set", s]
    return args


def gray_frame(path, t, w, h):
    """The frame at t seconds as rows of 8-bit luma."""
    raw = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-ss", str(t), "-i", path,
                          "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "gray", "-"],
                         capture_output=True, check=True).stdout
    assert len(raw) == w * h, (path, len(raw))
    return [raw[y * w:(y + 1) * w] for y in range(h)]


def band_mean(rows, y0, y1):
    px = [v for r in rows[y0:y1] for v in r]
    return sum(px) / len(px)


def check_json(path, extra=()):
    p = h.run(["check", "--deep", "--json"] + sets(extra) + [path], timeout=60)
    return json.loads(p.stdout)["files"][0]


def test_fit_autocrop():
    with h.TempDir() as t:
        lb = os.path.join(t, "letterbox.mp4")
        h.ff("-f", "lavfi", "-i", "testsrc=s=640x360:r=25:d=3,pad=640:480:0:60:black",
             "-f", "lavfi", "-i", "sine=d=3", "-c:v", "libx264", "-preset", "ultrafast",
             "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", lb)

        # check --deep: the picture's rectangle and a warning.
        f = check_json(lb)
        area = f["media"]["video"]["active_area"]
        assert area == {"x": 0, "y": 60, "width": 640, "height": 360}, area
        codes = {v["code"]: v["severity"] for v in f["violations"]}
        assert codes.get("burned_in_bars") == "warn", codes
        # Without --deep nothing is sampled: null, no claim.
        p = h.run(["check", "--json"] + sets() + [lb], timeout=60)
        assert json.loads(p.stdout)["files"][0]["media"]["video"]["active_area"] is None
        print("ok: check --deep reports active_area", area, "and burned_in_bars")

        # The dry-run plan shows the crop, first in the chain.
        p = h.run(["fit", "--dry-run"] + sets() + [lb], check_rc=0)
        assert "autocrop: the picture is 640x360 at 0,60" in p.stdout, p.stdout
        assert "filter: crop=640:360:0:60," in p.stdout, p.stdout
        p = h.run(["fit", "--dry-run", "--json"] + sets() + [lb], check_rc=0)
        plan = json.loads(p.stdout)["files"][0]["plan"]
        assert plan["crop"] == {"x": 0, "y": 60, "width": 640, "height": 360}, plan
        print("ok: the dry-run plan shows the crop")

        # Fit with and without autocrop; decode a frame of each and of the source.
        on, off = os.path.join(t, "on"), os.path.join(t, "off")
        h.run(["fit"] + sets() + ["-o", on, lb], check_rc=0)
        h.run(["fit"] + sets(["fix.autocrop=false"]) + ["-o", off, lb], check_rc=0)
        src = gray_frame(lb, 1, 640, 480)
        pic = band_mean(src, 60, 420)  # the source picture's mean luma
        rows_on = gray_frame(os.path.join(on, "letterbox.mp4"), 1, OW, OH)
        rows_off = gray_frame(os.path.join(off, "letterbox.mp4"), 1, OW, OH)
        # Without autocrop the 4:3 frame fills 180x134 at y=92, its bars inside it at rows
        # 92..108 and 210..226. Sample rows just inside those bands.
        top, bottom = (95, 105), (213, 223)
        for name, rows in (("off", rows_off), ("on", rows_on)):
            print(f"{name}: top band {band_mean(rows, *top):.1f}, bottom band "
                  f"{band_mean(rows, *bottom):.1f}, source picture {pic:.1f}")
        assert band_mean(rows_off, *top) < 20 and band_mean(rows_off, *bottom) < 20, \
            "autocrop=false should keep today's black bands"
        for band in (top, bottom):
            m = band_mean(rows_on, *band)
            assert m > 0.4 * pic and m > 40, f"black band at rows {band}: {m:.1f} (picture {pic})"
        # The picture itself (16:9 → 180x100 at y=110) starts right there: no dark rows at its
        # edges either.
        for y in (111, 112, 207, 208):
            assert sum(rows_on[y]) / OW > 40, (y, sum(rows_on[y]) / OW)
        print("ok: no black band at the picture's edges with autocrop")

        # A dark scene (a small white box moving over black) and an all-black clip: no crop.
        dark = os.path.join(t, "dark.mp4")
        h.ff("-f", "lavfi", "-i", "color=c=black:s=640x480:r=25:d=3[bg];"
             "color=c=white:s=80x60:r=25:d=3[b];[bg][b]overlay=x=280:y='40+t*120'[out0]",
             "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", dark)
        # The fixture really is a dark scene with a bright box in it.
        assert max(max(r) for r in gray_frame(dark, 1, 640, 480)) > 200
        black = os.path.join(t, "black.mp4")
        h.ff("-f", "lavfi", "-i", "color=c=black:s=640x480:r=25:d=3", "-c:v", "libx264",
             "-preset", "ultrafast", "-pix_fmt", "yuv420p", black)
        for path in (dark, black):
            f = check_json(path)
            area = f["media"]["video"]["active_area"]
            assert area == {"x": 0, "y": 0, "width": 640, "height": 480}, (path, area)
            assert "burned_in_bars" not in [v["code"] for v in f["violations"]], f
            p = h.run(["fit", "--dry-run", "--json"] + sets() + [path], check_rc=0)
            plan = json.loads(p.stdout)["files"][0]["plan"]
            assert "crop" not in plan and not plan["filter"].startswith("crop="), plan
        print("ok: dark scene and black clip not cropped")


if __name__ == "__main__":
    sys.exit(tprunner.main(globals()))
