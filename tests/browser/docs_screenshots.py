"""Make the screenshots of docs/CONSOLE.md: a small demo ledger (a landscape clip fitted and
posted, one waiting for review, one that passed as it is and waits too, a broken file) made by a
real `tokprep run` against the fake TikTok, shown by `tokprep serve` in headless Chromium.

    TOKPREP=build/tokprep /usr/bin/python3 tests/browser/docs_screenshots.py OUTDIR

writes OUTDIR/{dashboard,report,review}-{desktop,phone}[-full].png and review-branded.png
(the disclosure with branded content on); docs/img/console_*.png are
copies of some of them, scaled down with ffmpeg when large. Not a test (ctest does not run it)."""
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC_DIR = os.path.join(HERE, "..", "..")
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(SRC_DIR, "tests", "integration"))
sys.path.insert(0, os.path.join(SRC_DIR, "tests", "fake_tiktok"))
import console_harness as ch  # noqa: E402
import pipeline_helpers as h  # noqa: E402
from harness import Client, FakeTikTok  # noqa: E402


def clip(path, source, seconds=4, freq=440, faststart=True):
    h.ff("-f", "lavfi", "-i", "%s:rate=24" % source, "-t", str(seconds),
         "-f", "lavfi", "-i", "sine=frequency=%d:duration=%s" % (freq, seconds),
         "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac",
         "-b:a", "64k", "-shortest", *(["-movflags", "+faststart"] if faststart else []), path)


def main(out):
    ch.require_browser()
    binary = os.environ.get("TOKPREP") or "tokprep"
    t = tempfile.mkdtemp(prefix="tokprep-demo.")
    stack = []
    try:
        src = os.path.join(t, "Videos")
        os.makedirs(src)
        clip(os.path.join(src, "harbour-timelapse.mp4"), "mandelbrot=size=640x360", freq=330,
             faststart=False)
        clip(os.path.join(src, "studio-intro.mp4"), "testsrc2=size=360x640", freq=550)
        clip(os.path.join(src, "bts-clip-03.mp4"), "smptehdbars=size=640x360", freq=660)
        with open(os.path.join(src, "export-broken.mp4"), "wb") as f:
            f.write(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 3000)
        srv = FakeTikTok("--duet-disabled", "--nickname", "North Harbour Studio",
                         "--privacy-options", "PUBLIC_TO_EVERYONE,MUTUAL_FOLLOW_FRIENDS,SELF_ONLY",
                         workdir=t)
        stack.append(srv.stop)
        c = Client(srv, t, sets=["upload.tiktok.review=true"])
        c.binary = binary
        c.login()
        work = os.path.join(t, "tokprep-work")
        sets = h.set_args(["fix.width=360", "fix.height=640"])
        c.run("run", "-w", work, *sets, src, timeout=300)
        # One approved and posted, so the dashboard and its report show a done file.
        serve = ch.Serve(binary, work, c.args(*sets), env=c.env, logdir=t)
        stack.append(serve.stop)
        files = {os.path.basename(f["path"]): f for f in serve.api("/api/files")["files"]}
        b = ch.Browser(out)
        stack.append(b.quit)
        harbour = serve.url("/files/%d" % files["harbour-timelapse.mp4"]["id"])
        subprocess.run([binary, "review", "approve", str(files["harbour-timelapse.mp4"]["id"]),
                        "--privacy", "PUBLIC_TO_EVERYONE", "--allow-comment",
                        "--caption", "Harbour at dusk, 8 hours in 4 seconds", "-w", work],
                       check=True, env=c.env)
        c.run("run", "-w", work, *sets, src, timeout=300)
        b.get(serve.url("/"))
        ch.wait_for(lambda: b.js("return document.body.dataset.live") == "on", 5, "live")
        time.sleep(0.5)
        print(b.screenshot("dashboard"))
        # Posted: the TikTok sink removed the fitted output, so the report shows the planned
        # frames and lists the output as removed after delivery.
        b.get(harbour)
        b.wait_image("img#preview-source", 60)
        if b.q("img#preview-output") is not None:
            b.wait_image("img#preview-output", 60)
        print(b.screenshot("report"))
        b.get(serve.url("/review"))
        ch.wait_for(lambda: b.image_loaded(b.must("#creator img.avatar")), 10, "the avatar")
        form = b.must("form.review[data-id='%d']" % files["bts-clip-03.mp4"]["id"])
        b.must("input[value=MUTUAL_FOLLOW_FRIENDS]", form).click()
        b.must("input[name=allow_comment]", form).click()
        time.sleep(0.3)
        print(b.screenshot("review"))
        # The disclosure with branded content on: "Only me" greyed out, the policy linked.
        form2 = b.must("form.review[data-id='%d']" % files["studio-intro.mp4"]["id"])
        b.must("input[value=PUBLIC_TO_EVERYONE]", form2).click()
        for name in ("disclose", "brand_content"):
            box = b.must("input[name=%s]" % name, form2)
            b.js("arguments[0].scrollIntoView({block: 'center'})", box)
            b.js("(arguments[0].closest('label') || arguments[0]).click()", box)
            time.sleep(0.2)
        controls = b.q(".review-fields", form2) or form2
        b.js("arguments[0].scrollIntoView({block: 'start'})", controls)
        time.sleep(0.3)
        path = os.path.join(out, "review-branded.png")
        controls.screenshot(path)
        print(path)
        b.drain()
        if b.severe:
            print("console errors:", b.severe)
    finally:
        for stop in reversed(stack):
            stop()
        shutil.rmtree(t, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "screenshots-docs"))
