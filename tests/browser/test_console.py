"""`tokprep serve` in a real browser (headless Chromium through selenium): the dashboard follows
a run live, a report shows the file's violations and preview, the review page follows TikTok's
Direct Post rules and the fake TikTok server receives exactly the chosen settings, a hostile
file name renders as text, no page logs a console error, and the pages are screenshotted at
1280x800 and 390 px wide (into $TP_SCREENSHOT_DIR, default BUILD/screenshots) for a person to
look at. Skipped (77) where Chromium cannot run.

Fixtures, all made by a real `tokprep run` against the fake TikTok (duet off in the creator's
settings, privacy options PUBLIC_TO_EVERYONE and SELF_ONLY) with upload.tiktok.review on: a
landscape clip that needs a fix (parked for review), a broken file (failed), a file named
`<img src=x onerror=alert(1)>.mp4` (parked). A second work folder with the sink none is what
the live dashboard watches."""
import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
SRC_DIR = os.environ.get("TP_SOURCE_DIR", os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(SRC_DIR, "tests", "integration"))
sys.path.insert(0, os.path.join(SRC_DIR, "tests", "fake_tiktok"))
import console_harness as ch  # noqa: E402
import pipeline_helpers as h  # noqa: E402
import tprunner  # noqa: E402
from harness import SMALL_SERVER, Client, FakeTikTok, small_sets  # noqa: E402

XSS = "<img src=x onerror=alert(1)>"
XSS_FILE = XSS + ".mp4"
PRIVACY = ["PUBLIC_TO_EVERYONE", "SELF_ONLY"]
# Angle brackets and an ampersand in the creator's nickname: it must render as text too.
NICKNAME = "Fake <b>Creator</b> & Co"
SHOTS = os.environ.get("TP_SCREENSHOT_DIR") or os.path.join(
    os.environ.get("TP_BUILD_DIR", os.getcwd()), "screenshots")
TMP = []


def clip(path, size, seconds=3.5, freq=440, faststart=True):
    """A tiny H.264/AAC clip (lavfi testsrc)."""
    h.ff("-f", "lavfi", "-i", "testsrc=size=%s:rate=24:duration=%s" % (size, seconds),
         "-f", "lavfi", "-i", "sine=frequency=%d:duration=%s" % (freq, seconds),
         "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac",
         "-b:a", "32k", "-shortest", *(["-movflags", "+faststart"] if faststart else []), path)


@contextlib.contextmanager
def fixture():
    ch.require_browser()
    binary = os.environ.get("TOKPREP")
    if not binary or not os.access(binary, os.X_OK):
        tprunner.skip("TOKPREP (the built tokprep) is not set")
    t = tempfile.mkdtemp(prefix="tp_browser_")
    TMP.append(t)
    with contextlib.ExitStack() as stack:
        b = ch.Browser(SHOTS)  # first: skips before any work when Chromium cannot start
        stack.callback(b.quit)
        # The reviewed ledger: the tiktok sink with review on, against the fake server.
        src = os.path.join(t, "in")
        os.makedirs(src)
        clip(os.path.join(src, "landscape.mp4"), "320x240", freq=550, faststart=False)
        clip(os.path.join(src, XSS_FILE), "180x320", freq=660)
        with open(os.path.join(src, "broken.mp4"), "wb") as f:
            f.write(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 3000)
        srv = FakeTikTok(*SMALL_SERVER, "--duet-disabled", "--nickname", NICKNAME,
                         "--privacy-options", ",".join(PRIVACY), workdir=t)
        stack.callback(srv.stop)
        c = Client(srv, t, sets=small_sets() + ["upload.tiktok.review=true"])
        c.login()
        work = os.path.join(t, "work")
        r = c.run("run --json", "-w", work, *h.set_args(), src, timeout=120)
        evs = h.events(r.stdout)
        parked = sorted(os.path.basename(e["path"]) for e in evs
                        if e["event"] == "awaiting_review")
        assert parked == sorted(["landscape.mp4", XSS_FILE]), (r.returncode, parked, r.stderr)
        assert srv.inspect()["publishes"] == [], "a parked file was posted"
        serve = ch.Serve(c.binary, work, c.args(*h.set_args()), env=c.env, logdir=t)
        stack.callback(serve.stop)
        files = {os.path.basename(f["path"]): f for f in serve.api("/api/files")["files"]}
        assert files["broken.mp4"]["status"] == "failed", files["broken.mp4"]

        # The live ledger: sink none, one file done before the page opens.
        live_src = os.path.join(t, "live-in")
        later = os.path.join(t, "live-later")
        os.makedirs(live_src)
        os.makedirs(later)
        clip(os.path.join(live_src, "first.mp4"), "180x320", seconds=2, freq=330)
        clip(os.path.join(later, "second.mp4"), "320x240", seconds=2, freq=770)
        clip(os.path.join(later, XSS_FILE), "180x320", seconds=2, freq=880)
        live_work = os.path.join(t, "live-work")
        live_args = ["--profile", "tiktok"] + h.set_args(["upload.sink=none"])
        h.run(["run", "-w", live_work] + live_args + [live_src], check_rc=0)
        live = ch.Serve(binary, live_work, live_args, logdir=t)
        stack.callback(live.stop)

        yield {"b": b, "serve": serve, "live": live, "c": c, "srv": srv, "work": work,
               "src": src, "files": files, "nickname": NICKNAME, "binary": binary,
               "live_cmd": [binary, "run", "-w", live_work] + live_args + [later],
               "t": t}


def no_xss(b, where):
    """No alert open, no <img src=x> in the DOM of the current page now or at any time since it
    began loading (a script re-rendering the row would hide markup the server let through), and
    no Content-Security-Policy violation."""
    assert b.alert_text() is None, "an alert is open on %s: %r" % (where, b.alert_text())
    n = b.js("return [...document.querySelectorAll('img')]"
             ".filter(i => i.getAttribute('src') === 'x').length")
    assert n == 0, "%d <img src=x> in the DOM of %s" % (n, where)
    seen = b.seen()
    assert seen is not None, "the watch script did not run on %s" % where
    assert seen["imgX"] == 0, "an <img src=x> was in the DOM of %s while it loaded" % where
    assert not seen["csp"], "CSP violations on %s: %s" % (where, seen["csp"])


def text_has_xss(b, css):
    """Some element matching css has the hostile name in its text."""
    return b.js("return [...document.querySelectorAll(arguments[0])]"
                ".some(e => e.textContent.includes(arguments[1]))", css, XSS)


def no_overflow(b, where):
    """At both widths the page is no wider than the window."""
    for kind in ("desktop", "phone"):
        b.viewport(kind)
        time.sleep(0.2)
        w = b.js("return [document.documentElement.scrollWidth, "
                 "document.documentElement.clientWidth]")
        assert w[0] <= w[1] + 1, "%s at %s: page %d px wide in a %d px window: %s" % (
            where, kind, w[0], w[1], b.layout_problems())
    b.viewport("desktop")


def row_js(name):
    """JS for the dashboard row of the file whose path ends with /name (null when none)."""
    return ("return [...document.querySelectorAll('tr.file')].find("
            "r => (r.dataset.path || '').endsWith('/' + %r)) || null" % name)


def test_dashboard_live(b, live, live_cmd):
    """(a) Open the dashboard, start a run: its files appear and reach done without a reload."""
    b.get(live.url("/"))
    b.must("body[data-page=dashboard]")
    ch.wait_for(lambda: b.js("return document.body.dataset.live") == "on", 5,
                "body[data-live=on] (the event stream open)")
    assert b.js(row_js("first.mp4")).get_attribute("data-status") == "done"
    b.js("window.__noReload = 1")
    p = subprocess.Popen(live_cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        seen = set()

        def done():
            row = b.js(row_js("second.mp4"))
            if row is None:
                return False
            seen.add(row.get_attribute("data-status"))
            return row.get_attribute("data-status") == "done"
        ch.wait_for(done, 60, lambda: "the row of second.mp4 with data-status=done (seen: %s)"
                    % sorted(seen))
        _, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert b.js("return window.__noReload") == 1, "the page was reloaded"
    row = b.js(row_js("second.mp4"))
    assert row.get_attribute("id") == "file-" + row.get_attribute("data-id"), row
    assert b.must("#live").text.strip().lower() == "live", b.must("#live").text
    # The hostile name, rendered by app.js from /api/files: text, not markup.
    ch.wait_for(lambda: b.js(row_js(XSS_FILE)) is not None, 10, "the row of the XSS file")
    assert text_has_xss(b, "tr.file td.name"), "the XSS file's name is not shown as text"
    no_xss(b, "the live dashboard")
    # Rows built by app.js lay out like the server's, at both widths.
    no_overflow(b, "the live dashboard")
    b.shot("dashboard-live-desktop")
    b.viewport("phone")
    b.shot("dashboard-live-phone")
    b.viewport("desktop")
    assert b.js("return window.__noReload") == 1, "the page was reloaded"


def test_report(b, serve, c, files, src):
    """(b) The report of the landscape file: the violations `check --json` gives, and the
    source preview loads."""
    fid = files["landscape.mp4"]["id"]
    r = subprocess.run([c.binary, "check", "--json"] + c.args(*h.set_args())
                       + [os.path.join(src, "landscape.mp4")],
                       env=c.env, capture_output=True, text=True, timeout=60)
    want = sorted(v["code"] for v in json.loads(r.stdout)["files"][0]["violations"])
    assert want, r.stdout
    b.get(serve.url("/files/%d" % fid))
    b.must("body[data-page=file][data-id='%d']" % fid)
    got = sorted(li.get_attribute("data-code") for li in b.qa("#violations li.violation"))
    assert got == want, (got, want)
    for li in b.qa("#violations li.violation"):
        code = li.get_attribute("data-code")
        assert b.must(".code", li).text.strip() == code, li.text
        assert b.must(".message", li).text.strip(), "no message for %s" % code
        assert b.must(".hint", li).text.strip(), "no hint for %s" % code
    for css in ("#facts", "#plan", "#chunks", "#upload"):
        b.must(css)
    img = b.must("img#preview-source")
    assert img.get_attribute("src").endswith("/files/%d/preview.png?of=source" % fid), \
        img.get_attribute("src")
    b.wait_image("img#preview-source")
    if b.q("img#preview-output") is not None:
        b.wait_image("img#preview-output")
    links = [a.get_attribute("href") for a in b.qa("#outputs a")]
    assert links and all(re.search(r"/files/%d/outputs/\d+$" % fid, x) for x in links), links
    no_overflow(b, "the report")
    b.screenshot("report")

    # A failed file's report says why.
    b.get(serve.url("/files/%d" % files["broken.mp4"]["id"]))
    assert b.must("#error").text.strip(), "the failed file's report has an empty #error"
    assert not b.qa("img#preview-output")


def test_xss_file_name(b, serve, files):
    """(d) The hostile file name renders as text on the dashboard, its report and the review
    page; no alert, no <img src=x>."""
    fid = files[XSS_FILE]["id"]
    b.get(serve.url("/"))
    b.must("body[data-page=dashboard]")
    row = b.must("#file-%d" % fid)
    assert XSS in b.must("td.name", row).text, b.must("td.name", row).text
    assert text_has_xss(b, "td.name"), "no td.name holds the name as text"
    no_xss(b, "the dashboard")
    # Every filter link is there; the failed filter shows only failed rows.
    filters = sorted(a.get_attribute("data-filter") for a in b.qa("a.filter"))
    assert filters == sorted(["all", "failed", "awaiting_review", "done"]), filters
    assert b.js(row_js("broken.mp4")).get_attribute("data-status") == "failed"
    no_overflow(b, "the dashboard")
    b.screenshot("dashboard")
    b.get(serve.url("/?status=failed"))
    statuses = {r.get_attribute("data-status") for r in b.qa("tr.file")}
    assert statuses == {"failed"}, statuses
    b.get(serve.url("/files/%d" % fid))
    assert text_has_xss(b, "body *"), "the report does not show the name as text"
    no_xss(b, "the report of the XSS file")
    b.get(serve.url("/review"))
    form = b.must("form.review[data-id='%d']" % fid)
    assert b.must("textarea[name=caption]", form).get_attribute("value") == XSS
    no_xss(b, "the review page")


def set_value(b, el, value):
    """Set a text field's value as a paste would (an input event follows)."""
    b.js("arguments[0].value = arguments[1];"
         "arguments[0].dispatchEvent(new Event('input', {bubbles: true}))", el, value)


def click(b, el):
    """Click like a person: on the control, or on its label when the control is styled away."""
    from selenium.common.exceptions import (ElementClickInterceptedException,
                                            ElementNotInteractableException)
    try:
        el.click()
    except (ElementClickInterceptedException, ElementNotInteractableException):
        label = b.js("return arguments[0].closest('label') || (arguments[0].id && "
                     "document.querySelector('label[for=\"' + arguments[0].id + '\"]'))", el)
        assert label, "cannot click %s" % el.get_attribute("outerHTML")
        label.click()


def count_of(b, form):
    txt = b.must(".caption-count", form).text
    m = re.search(r"(\d+)\s*/\s*2200", txt)
    assert m, ".caption-count says %r" % txt
    return int(m.group(1))


def utf16_len(s):
    return len(s.encode("utf-16-le")) // 2


def test_review_and_post(b, serve, c, srv, files, nickname, work, src):
    """(c) The review page follows TikTok's rules; Post records exactly the chosen settings and
    the next run posts them."""
    fid = files["landscape.mp4"]["id"]
    b.get(serve.url("/review"))
    b.must("body[data-page=review]")
    assert b.q("#creator-error") is None, b.must("#creator-error").text
    nick = b.must("#creator .nickname")
    assert b.js("return arguments[0].textContent.trim()", nick) == nickname, nick.text
    b.wait_image("#creator img.avatar", 10)
    form = b.must("form.review[data-id='%d']" % fid)
    video = b.must("video", form)
    assert video.get_attribute("src").endswith("/files/%d/outputs/0" % fid)
    ch.wait_for(lambda: b.js("return arguments[0].readyState >= 1 && "
                             "arguments[0].duration > 0", video), 20,
                "the output video's metadata to load")
    assert b.js("return document.querySelectorAll('input[type=radio]:checked').length") == 0, \
        "a privacy level is preselected"
    radios = b.qa("input[type=radio][name='privacy_level-%d']" % fid, form)
    assert sorted(r.get_attribute("value") for r in radios) == sorted(PRIVACY), \
        [r.get_attribute("value") for r in radios]
    radio = {r.get_attribute("value"): r for r in radios}
    post = b.must("button.post", form)
    assert not post.is_enabled(), "Post is enabled before a privacy level is chosen"
    b.must("button.reject", form)
    box = {n: b.must("input[name=%s]" % n, form)
           for n in ("allow_comment", "allow_duet", "allow_stitch", "disclose",
                     "brand_organic", "brand_content")}
    assert not box["allow_duet"].is_enabled(), "allow_duet is enabled though the creator has duet off"
    assert "turned off in your TikTok settings" in form.text, form.text
    for n in ("allow_comment", "allow_stitch"):
        assert box[n].is_enabled() and not box[n].is_selected(), n
    assert not box["allow_duet"].is_selected()
    assert "Music Usage Confirmation" in b.must(".consent", form).text
    assert b.q(".consent a[href='https://www.tiktok.com/legal/page/global/"
               "music-usage-confirmation/en']", form), "no link to the Music Usage Confirmation"

    # The caption and its UTF-16 counter.
    cap = b.must("textarea[name=caption]", form)
    assert cap.get_attribute("value") == "landscape", cap.get_attribute("value")
    assert count_of(b, form) == len("landscape")
    cap.clear()
    cap.send_keys("Reviewed in the browser \u2713 <b>&amp;")
    caption = "Reviewed in the browser \u2713 <b>&amp;"
    ch.wait_for(lambda: count_of(b, form) == utf16_len(caption), 3,
                "the counter to follow typing")
    caption += " \U0001F3AC"  # outside the BMP (selenium cannot type it): two UTF-16 units
    set_value(b, cap, caption)
    ch.wait_for(lambda: count_of(b, form) == utf16_len(caption), 3,
                "the counter to count UTF-16 units")
    set_value(b, cap, "a" * 2201)
    ch.wait_for(lambda: count_of(b, form) == 2201, 3, "the counter at 2201")
    over = b.js("const c = arguments[0].querySelector('.caption-count'), t = "
                "arguments[0].querySelector('textarea[name=caption]');"
                "return /invalid|over|error/.test(c.className) || "
                "c.getAttribute('aria-invalid') === 'true' || !t.validity.valid || "
                "t.getAttribute('aria-invalid') === 'true'", form)
    assert over, "a caption over 2200 is not marked invalid"
    set_value(b, cap, caption)
    # The page's own checks have run (input events): still no privacy level, still no Post.
    time.sleep(0.2)
    assert not post.is_enabled(), "Post enabled without a privacy level (after an edit)"

    # A privacy level enables Post; disclosure without a choice disables it again.
    click(b, radio["SELF_ONLY"])
    ch.wait_for(lambda: post.is_enabled(), 3, "Post enabled once a privacy level is chosen")
    click(b, box["disclose"])
    ch.wait_for(lambda: not post.is_enabled(), 3, "Post disabled: disclosure, no box ticked")
    # Only me chosen: branded content cannot be ticked.
    ch.wait_for(lambda: not box["brand_content"].is_enabled(), 3,
                "brand_content disabled while Only me is chosen")
    assert "Branded content visibility cannot be set to private" in form.text
    click(b, box["brand_organic"])
    ch.wait_for(lambda: post.is_enabled(), 3, "Post enabled with Your brand ticked")
    assert "Promotional content" in form.text
    click(b, box["brand_organic"])
    # Branded content: Only me cannot be chosen.
    click(b, radio["PUBLIC_TO_EVERYONE"])
    ch.wait_for(lambda: box["brand_content"].is_enabled(), 3, "brand_content enabled again")
    click(b, box["brand_content"])
    assert box["brand_content"].is_selected()
    ch.wait_for(lambda: not radio["SELF_ONLY"].is_enabled(), 3,
                "SELF_ONLY disabled with branded content")
    assert "Paid partnership" in form.text
    assert b.q(".consent a[href='https://www.tiktok.com/legal/page/global/bc-policy/en']", form), \
        "no Branded Content Policy link with branded content on"
    try:  # a person clicking the disabled radio
        radio["SELF_ONLY"].click()
    except Exception:
        pass
    assert not radio["SELF_ONLY"].is_selected(), "Only me chosen with branded content"
    click(b, box["brand_content"])
    click(b, box["disclose"])
    ch.wait_for(lambda: radio["SELF_ONLY"].is_enabled(), 3, "SELF_ONLY enabled again")

    # The post: Only me, comments allowed.
    click(b, radio["SELF_ONLY"])
    click(b, box["allow_comment"])
    assert box["allow_comment"].is_selected() and radio["SELF_ONLY"].is_selected()
    ch.wait_for(lambda: post.is_enabled(), 3, "Post enabled")
    no_overflow(b, "the review page")
    b.screenshot("review")
    click(b, post)
    ch.wait_for(lambda: any("Queued" in r.text for r in b.qa(".result")), 10,
                "the result 'Queued for posting'")
    b.shot("review-posted-desktop", [r for r in b.qa(".result") if "Queued" in r.text][0])
    f = serve.api("/api/files/%d" % fid)
    f = f.get("file", f)
    assert f["status"] == "queued", f

    # The report of the file, open while the next run posts it, follows the run by itself.
    b.get(serve.url("/files/%d" % fid))
    ch.wait_for(lambda: b.js("return document.body.dataset.live") == "on", 5,
                "the report's event stream open")
    assert "PUBLISH_COMPLETE" not in b.must("#upload").text

    # The next run posts it with exactly these settings; the other parked file stays parked.
    assert srv.inspect()["publishes"] == []
    r = c.run("run --json", "-w", work, *h.set_args(), src, timeout=120)
    pubs = srv.inspect()["publishes"]
    assert len(pubs) == 1, (pubs, r.stderr)
    pi = pubs[0]["post_info"]
    want = {"privacy_level": "SELF_ONLY", "title": caption, "disable_comment": False,
            "disable_duet": True, "disable_stitch": True, "brand_content_toggle": False,
            "brand_organic_toggle": False}
    assert {k: pi.get(k) for k in want} == want, pi
    assert pubs[0]["complete"], pubs[0]
    ch.wait_for(lambda: "PUBLISH_COMPLETE" in b.must("#upload").text, 10,
                "the open report showing the post (drawn again when its row changed)")
    states = {os.path.basename(x["path"]): x["status"] for x in serve.api("/api/files")["files"]}
    assert states["landscape.mp4"] == "done", states
    assert states[XSS_FILE] == "awaiting_review", states


def test_posted_report(b, serve, srv, files, work):
    """The report of the file posted in test_review_and_post, opened as for the first time (no
    cached preview): the publish id and status; every preview it offers loads and every output
    link it offers answers (the TikTok sink removes the work copy once it is posted)."""
    fid = files["landscape.mp4"]["id"]
    pubs = srv.inspect()["publishes"]
    f = serve.api("/api/files/%d" % fid)
    f = f.get("file", f)
    if f["status"] != "done" or len(pubs) != 1:
        tprunner.skip("test_review_and_post did not post the file")
    shutil.rmtree(os.path.join(work, "serve-cache"), ignore_errors=True)
    b.get(serve.url("/files/%d" % fid))
    upload = b.must("#upload").text
    assert pubs[0]["publish_id"] in upload, upload
    assert "PUBLISH_COMPLETE" in upload, upload
    problems = []
    for css in ("img#preview-source", "img#preview-output"):
        if b.q(css) is not None:
            try:
                b.wait_image(css)
            except AssertionError as e:
                problems.append(str(e))
    for a in b.qa("#outputs a"):
        href = a.get_attribute("href")
        req = urllib.request.Request(href, headers={"Range": "bytes=0-0"})
        try:
            with ch._OPENER.open(req, timeout=10) as r:
                if r.status not in (200, 206):
                    problems.append("%s answers %d" % (href, r.status))
        except urllib.error.HTTPError as e:
            problems.append("the report links to %s, which answers %d" % (href, e.code))
    assert not problems, "\n".join(problems)


def check_no_console_errors(b):
    """(e) No page logged a SEVERE console entry (errors, failed loads, CSP violations)."""
    b.drain()
    assert b.visited
    assert not b.severe, "console errors:\n" + "\n".join("%s: %s" % e for e in b.severe)


def check_servers_stop(b, serve, live):
    """Both servers stop on SIGTERM with exit 0 and no sanitizer report (in an ASan build this
    is the leak check of everything the browser made them do)."""
    b.drain()  # the pages' event streams end with the servers: not a page's error
    b.driver.get("about:blank")
    for s in (serve, live):
        rc = s.stop()
        err = s.stderr()
        assert rc == 0, "tokprep serve exited %s:\n%s" % (rc, err[-3000:])
        assert "Sanitizer" not in err, err[-3000:]


def check_screenshots():
    """(f) Every page at both sizes was saved (a person looks at them)."""
    missing = [p for p in ("%s-%s.png" % (n, k) for n in ("dashboard", "report", "review")
                           for k in ("desktop", "phone"))
               if not os.path.exists(os.path.join(SHOTS, p))
               or not os.path.getsize(os.path.join(SHOTS, p))]
    assert not missing, missing


if __name__ == "__main__":
    sys.exit(tprunner.main(globals(), fixture=fixture, cleanup=TMP,
                           after=(check_no_console_errors, check_screenshots,
                                  check_servers_stop)))
