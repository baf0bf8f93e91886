"""Harness for the browser tests of `tokprep serve`: headless Chromium driven by Debian's
python3-selenium (run these tests with /usr/bin/python3), the `tokprep serve` process, and small
waiting helpers. A test skips (exit 77 through tprunner) when selenium, /usr/bin/chromium or
/usr/bin/chromedriver are missing or Chromium cannot start here.

Browser keeps every SEVERE entry of the browser console (console.error, a failed load, a CSP
violation) with the page it came from, so a test can assert that no page logged an error;
screenshot() saves NAME-desktop.png (1280x800) and NAME-phone.png (390x844, mobile) plus a
full-height NAME-desktop-full.png and NAME-phone-full.png (the whole page, for looking below
the fold)."""
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import tprunner  # noqa: E402

CHROMIUM = os.environ.get("TP_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("TP_CHROMEDRIVER", "/usr/bin/chromedriver")

# (width, height, mobile) of the CSS viewport; device scale factor 1 keeps the PNGs small.
VIEWPORTS = {"desktop": (1280, 800, False), "phone": (390, 844, True)}

# Runs in every document before its own scripts (CDP; not subject to the page's CSP): records
# every <img src="x"> the document ever holds (parsed or inserted, even if a script removes it
# later) and every Content-Security-Policy violation.
WATCH_JS = r"""
window.__tpSeen = {imgX: 0, csp: []};
new MutationObserver(function (ms) {
  for (const m of ms) for (const n of m.addedNodes) {
    if (n.nodeType !== 1) continue;
    const imgs = n.matches('img') ? [n] : [];
    imgs.push(...n.querySelectorAll('img'));
    for (const i of imgs) if (i.getAttribute('src') === 'x') window.__tpSeen.imgX++;
  }
}).observe(document, {childList: true, subtree: true});
document.addEventListener('securitypolicyviolation', function (e) {
  window.__tpSeen.csp.push(e.violatedDirective + ' ' + (e.blockedURI || '') + ' ' +
                           (e.sourceFile || '') + ':' + (e.lineNumber || ''));
});
"""

# Tests talk to 127.0.0.1 only: never through a proxy from the environment.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def require_browser():
    """Skip (tprunner.skip) unless selenium, Chromium and chromedriver are here."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        tprunner.skip("python3-selenium is not installed for %s (Debian's /usr/bin/python3 "
                      "has it)" % sys.executable)
    for path in (CHROMIUM, CHROMEDRIVER):
        if not os.access(path, os.X_OK):
            tprunner.skip("%s is missing (Debian packages chromium, chromium-driver)" % path)


def wait_for(cond, timeout=10.0, what="the condition", interval=0.1):
    """Poll cond() until it returns something true; return that. AssertionError naming `what`
    (a string, or a function giving one then) and the last exception cond raised, if any, when
    timeout seconds pass."""
    deadline = time.time() + timeout
    last = None
    while True:
        try:
            v = cond()
            if v:
                return v
            last = None
        except AssertionError:
            raise
        except Exception as e:  # a stale element, a page between loads
            last = e
        if time.time() > deadline:
            raise AssertionError("timed out after %.0f s waiting for %s%s"
                                 % (timeout, what() if callable(what) else what,
                                    " (last error: %r)" % last if last else ""))
        time.sleep(interval)


class Browser:
    """One headless Chromium. Skips the tests when it cannot start."""

    def __init__(self, shots_dir=None):
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
        from selenium.common.exceptions import WebDriverException
        o = webdriver.ChromeOptions()
        o.binary_location = CHROMIUM
        for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                  "--window-size=1280,800", "--no-proxy-server", "--no-first-run",
                  "--disable-extensions", "--disable-background-networking"):
            o.add_argument(a)
        o.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        # An alert stays open for the test to see (the default dismisses it silently).
        o.set_capability("unhandledPromptBehavior", "ignore")
        try:
            service = Service(CHROMEDRIVER, log_path=os.devnull)
            self.driver = webdriver.Chrome(service=service, options=o)
        except WebDriverException as e:
            tprunner.skip("Chromium cannot start here: %s" % str(e).strip().splitlines()[0])
        self.driver.set_page_load_timeout(30)
        self.driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": WATCH_JS})
        self.shots_dir = shots_dir
        self.severe = []   # (page URL, message) of every SEVERE console entry
        self.visited = []
        self.url = None
        self.viewport("desktop")

    # --- pages -----------------------------------------------------------------------------
    def get(self, url):
        """Load url (after collecting the previous page's console entries)."""
        self.drain()
        self.url = url
        self.visited.append(url)
        self.driver.get(url)

    def drain(self):
        """Move the browser console's SEVERE entries into self.severe; return the new ones."""
        new = []
        for e in self.driver.get_log("browser"):
            if e.get("level") == "SEVERE":
                new.append((self.url, e.get("message", "")))
        self.severe += new
        return new

    def js(self, script, *args):
        return self.driver.execute_script(script, *args)

    def q(self, css, root=None):
        """The first element matching css, or None."""
        from selenium.webdriver.common.by import By
        found = (root or self.driver).find_elements(By.CSS_SELECTOR, css)
        return found[0] if found else None

    def qa(self, css, root=None):
        from selenium.webdriver.common.by import By
        return (root or self.driver).find_elements(By.CSS_SELECTOR, css)

    def must(self, css, root=None):
        el = self.q(css, root)
        assert el is not None, "no element %s on %s" % (css, self.url)
        return el

    def alert_text(self):
        """The text of an open alert/confirm/prompt, or None."""
        from selenium.common.exceptions import NoAlertPresentException
        try:
            return self.driver.switch_to.alert.text
        except NoAlertPresentException:
            return None

    def seen(self):
        """What WATCH_JS recorded in the current document: {"imgX": N, "csp": [...]}."""
        return self.js("return window.__tpSeen || null")

    def image_loaded(self, el):
        return self.js("return arguments[0].complete && arguments[0].naturalWidth > 0", el)

    def wait_image(self, css, timeout=30):
        """Wait until the image css has loaded; AssertionError as soon as it is broken (with
        the console's new SEVERE entries) or after timeout seconds."""
        def state():
            el = self.must(css)
            st = self.js("const i = arguments[0]; return !i.complete ? 'loading' : "
                         "i.naturalWidth > 0 ? 'loaded' : 'broken'", el)
            if st == "broken":
                raise AssertionError("%s on %s did not load (%s): %s" % (
                    css, self.url, el.get_attribute("src"), self.drain() or "no console entry"))
            return st == "loaded"
        wait_for(state, timeout, "%s to load" % css)

    # --- viewports and screenshots -----------------------------------------------------------
    def viewport(self, kind, height=None):
        w, h, mobile = VIEWPORTS[kind]
        self.driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
            "width": w, "height": height or h, "deviceScaleFactor": 1, "mobile": mobile})
        self.kind = kind

    def screenshot(self, name):
        """NAME-desktop.png and NAME-phone.png of the top of the current page as it is (no
        reload), and NAME-desktop-full.png, NAME-phone-full.png (the whole height, up to 6000
        px). Returns the paths."""
        if not self.shots_dir:
            return []
        os.makedirs(self.shots_dir, exist_ok=True)
        paths = []
        for kind in ("desktop", "phone"):
            self.viewport(kind)
            self.js("window.scrollTo(0, 0)")
            time.sleep(0.3)  # layout after the resize, images at the new size
            p = os.path.join(self.shots_dir, "%s-%s.png" % (name, kind))
            self.driver.save_screenshot(p)
            paths.append(p)
            full = self.js("return Math.min(Math.max(document.documentElement.scrollHeight, "
                           "document.body.scrollHeight), 6000)")
            self.viewport(kind, height=max(int(full), VIEWPORTS[kind][1]))
            time.sleep(0.3)
            p = os.path.join(self.shots_dir, "%s-%s-full.png" % (name, kind))
            self.driver.save_screenshot(p)
            paths.append(p)
        self.viewport("desktop")
        time.sleep(0.2)
        return paths

    def shot(self, name, el=None):
        """One screenshot at the current viewport: of element el (scrolled into view) or of the
        window. Returns the path (None without a screenshot folder)."""
        if not self.shots_dir:
            return None
        os.makedirs(self.shots_dir, exist_ok=True)
        p = os.path.join(self.shots_dir, name + ".png")
        if el is not None:
            self.js("arguments[0].scrollIntoView({block: 'center'})", el)
            time.sleep(0.2)
        self.driver.save_screenshot(p)
        return p

    def layout_problems(self):
        """What overflows horizontally at the current viewport: the page wider than the
        window, or visible elements sticking out of it (a few, by tag#id.class)."""
        return self.js("""
            const W = document.documentElement.clientWidth, out = [];
            if (document.documentElement.scrollWidth > W + 1)
                out.push('page scrollWidth ' + document.documentElement.scrollWidth + ' > ' + W);
            for (const el of document.body.querySelectorAll('*')) {
                const r = el.getBoundingClientRect();
                if (!r.width || !r.height) continue;
                const cs = getComputedStyle(el);
                if (cs.visibility === 'hidden' || cs.display === 'none') continue;
                let p = el.parentElement, clipped = false;
                while (p && p !== document.body) {
                    const o = getComputedStyle(p).overflowX;
                    if (o === 'auto' || o === 'scroll' || o === 'hidden') { clipped = true; break; }
                    p = p.parentElement;
                }
                if (!clipped && r.right > W + 1) {
                    out.push(el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
                             (el.className && typeof el.className === 'string'
                              ? '.' + el.className.trim().split(/\\s+/).join('.') : '') +
                             ' right=' + Math.round(r.right));
                    if (out.length > 8) break;
                }
            }
            return out;""")

    def quit(self):
        try:
            self.drain()
        except Exception:
            pass
        try:
            self.driver.quit()
        except Exception:
            pass


class Serve:
    """`tokprep serve -w WORKDIR --listen 127.0.0.1:0` with extra arguments (profile, sets);
    stderr goes to a log file next to the work folder. stop() sends SIGTERM and returns the exit
    status (0 expected)."""

    def __init__(self, binary, workdir, args=(), env=None, logdir=None, timeout=20):
        logdir = logdir or os.path.dirname(os.path.abspath(workdir))
        tag = "%s.%d" % (os.path.basename(workdir.rstrip("/")), id(self))
        self.port_file = os.path.join(logdir, "serve-port.%s" % tag)
        self.log_path = os.path.join(logdir, "serve.%s.log" % tag)
        self.log = open(self.log_path, "w")
        self.cmd = [binary, "serve", "-w", workdir, "--listen", "127.0.0.1:0",
                    "--port-file", self.port_file] + list(args)
        self.proc = subprocess.Popen(self.cmd, env=env, stdout=self.log, stderr=self.log,
                                     stdin=subprocess.DEVNULL)
        try:
            wait_for(lambda: self.proc.poll() is not None or (
                os.path.exists(self.port_file) and open(self.port_file).read().strip()),
                timeout, "tokprep serve to write its port")
            if self.proc.poll() is not None:
                raise AssertionError("tokprep serve exited %d: %s" % (self.proc.returncode,
                                                                      self.stderr()))
            self.port = int(open(self.port_file).read().strip())
        except BaseException:
            self.stop()
            raise
        self.base = "http://127.0.0.1:%d" % self.port

    def url(self, path="/"):
        return self.base + path

    def api(self, path, timeout=20):
        with _OPENER.open(self.base + path, timeout=timeout) as r:
            return json.load(r)

    def stderr(self):
        if not self.log.closed:
            self.log.flush()
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if not self.log.closed:
            self.log.close()
        return self.proc.returncode
