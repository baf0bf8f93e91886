/* tokprep serve: the little JavaScript of the console. Dashboard: live updates from
 * /api/events (progress bars) and /api/files (rows patched in place). Report: a note where a
 * preview cannot be drawn. Review: the rules of TikTok's Direct Post UI while a person chooses,
 * then POST to /api/files/ID/approve|reject. Data is written with textContent only. */
(function () {
  "use strict";

  var CAPTION_MAX = 2200;
  var STATUSES = [
    ["running", "running"], ["queued", "queued"], ["awaiting_review", "awaiting review"],
    ["done", "done"], ["failed", "failed"], ["rejected", "rejected"], ["skipped", "skipped"]
  ];

  /* ---- helpers ---------------------------------------------------------------------- */

  function $(sel, root) { return (root || document).querySelector(sel); }
  function $all(sel, root) { return Array.prototype.slice.call((root || document).querySelectorAll(sel)); }

  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (k) {
        if (attrs[k] !== null && attrs[k] !== undefined) e.setAttribute(k, attrs[k]);
      });
    }
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }

  function csrfToken() {
    var m = $('meta[name="csrf-token"]');
    return m ? m.getAttribute("content") : "";
  }

  function statusLabel(s) {
    for (var i = 0; i < STATUSES.length; i++) if (STATUSES[i][0] === s) return STATUSES[i][1];
    return s || "";
  }

  function statusClass(s) {
    for (var i = 0; i < STATUSES.length; i++) if (STATUSES[i][0] === s) return s;
    return "other";
  }

  /* As pg_size() in cli/serve_pages.c. */
  function fmtSize(n) {
    if (!(n > 0)) return "—";
    if (n < 1024) return Math.round(n) + " B";
    var units = ["KiB", "MiB", "GiB", "TiB"], u = 0;
    n /= 1024;
    while (n >= 1024 && u + 1 < units.length) { n /= 1024; u++; }
    return (n < 100 ? n.toFixed(1) : Math.round(n)) + " " + units[u];
  }

  /* As pg_ago(). t: milliseconds since the epoch. */
  function ago(t) {
    var d = (Date.now() - t) / 1000;
    if (d < 45) return "just now";
    if (d < 3600) return Math.max(1, Math.floor(d / 60)) + " min ago";
    if (d < 86400) return Math.floor(d / 3600) + " h ago";
    if (d < 7 * 86400) return Math.floor(d / 86400) + " d ago";
    return new Date(t).toLocaleString();
  }

  function timeEl(iso) {
    var t = iso ? Date.parse(iso) : NaN;
    if (isNaN(t)) return document.createTextNode("—");
    return el("time", { datetime: iso, title: iso }, ago(t));
  }

  function refreshTimes() {
    $all("time[datetime]").forEach(function (e) {
      var t = Date.parse(e.getAttribute("datetime"));
      if (!isNaN(t)) e.textContent = ago(t);
    });
  }

  function basename(p) {
    p = String(p || "");
    var i = p.lastIndexOf("/");
    return i >= 0 && i + 1 < p.length ? p.slice(i + 1) : p;
  }

  /* UTF-16 code units, as TikTok counts a caption. */
  function utf16Length(s) {
    var n = 0;
    for (var ch of s) n += ch.codePointAt(0) > 0xffff ? 2 : 1;
    return n;
  }

  function getJSON(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) {
        return r.json().catch(function () { return {}; }).then(function (body) {
          if (!r.ok) throw new Error(body && body.message ? body.message : "HTTP " + r.status);
          return body;
        });
      });
  }

  function postJSON(url, data) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrfToken(), Accept: "application/json" },
      body: JSON.stringify(data)
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (body) {
        if (!r.ok) {
          var msg = body && body.message ? body.message : "The server answered " + r.status + ".";
          throw new Error(msg);
        }
        return body;
      });
    });
  }

  function setReviewCount(n) {
    var c = $("#review-count");
    if (!c || !(n >= 0)) return;
    c.textContent = String(n);
    c.classList.toggle("count-on", n > 0);
  }

  /* ---- dashboard ---------------------------------------------------------------------- */

  function showsProgress(f) {
    return f.status === "running" && (f.stage === "fit" || f.stage === "deliver");
  }

  function textCell(cls, label, text) {
    return el("td", { "class": cls, "data-label": label }, text ? text : "—");
  }

  /* The markup of dash_row() in cli/serve_pages.c. */
  function buildRow(f) {
    var tr = el("tr", { id: "file-" + f.id, "class": "file", "data-id": String(f.id) });
    var name = el("td", { "class": "name", "data-label": "File" });
    name.appendChild(el("a", { href: "/files/" + encodeURIComponent(f.id) }));
    tr.appendChild(name);
    var st = el("td", { "class": "status", "data-label": "Status" });
    st.appendChild(el("span", { "class": "badge" }));
    var prog = el("progress", { "class": "progress", max: "1" });
    prog.hidden = true;
    st.appendChild(prog);
    tr.appendChild(st);
    tr.appendChild(textCell("stage", "Stage"));
    tr.appendChild(textCell("verdict", "Verdict"));
    tr.appendChild(textCell("action", "Action"));
    tr.appendChild(textCell("size", "Size"));
    tr.appendChild(textCell("out-size", "Output"));
    tr.appendChild(el("td", { "class": "updated", "data-label": "Updated" }));
    updateRow(tr, f);
    return tr;
  }

  // A failure reason without a leading "PATH: " when PATH is the row's path (as the server's
  // pg_reason_text).
  function reasonText(path, reason) {
    var p = path ? String(path) : "";
    if (p && reason.length > p.length + 2 && reason.lastIndexOf(p + ": ", 0) === 0)
      return reason.slice(p.length + 2);
    return reason;
  }

  function setText(node, text) {
    if (node && node.textContent !== text) node.textContent = text;
  }

  function updateRow(tr, f) {
    var changed = tr.dataset.status !== f.status;
    tr.dataset.status = f.status || "";
    tr.dataset.path = f.path || "";
    var a = $("td.name a", tr);
    setText(a, basename(f.path));
    a.title = f.path || "";
    var why = $(".row-reason", tr);
    var reason = (f.status === "failed" || f.status === "rejected") && f.reason ? String(f.reason) : "";
    if (reason) {
      if (!why) { why = el("div", { "class": "row-reason" }); a.parentNode.appendChild(why); }
      setText(why, reasonText(f.path, reason));
      why.title = reason;
    } else if (why) {
      why.remove();
    }
    var badge = $("td.status .badge", tr);
    badge.className = "badge badge-" + statusClass(f.status);
    setText(badge, statusLabel(f.status));
    var prog = $("progress.progress", tr);
    if (prog) {
      var show = showsProgress(f);
      if (!show) prog.removeAttribute("value");
      prog.hidden = !show;
    }
    setText($("td.stage", tr), f.stage || "—");
    setText($("td.verdict", tr), f.verdict || "—");
    setText($("td.action", tr), f.action || "—");
    setText($("td.size", tr), fmtSize(f.source_size));
    setText($("td.out-size", tr), fmtSize(f.output_size));
    var upd = $("td.updated", tr);
    var iso = f.updated || f.created || "";
    var cur = $("time", upd);
    if (!cur || cur.getAttribute("datetime") !== iso) {
      upd.textContent = "";
      upd.appendChild(timeEl(iso));
    }
    return changed;
  }

  function flash(tr) {
    tr.classList.remove("flash");
    void tr.offsetWidth; /* restart the animation */
    tr.classList.add("flash");
  }

  function renderFiles(data, filter) {
    var files = (data && Array.isArray(data.files)) ? data.files : [];
    var counts = { all: files.length };
    files.forEach(function (f) { counts[f.status] = (counts[f.status] || 0) + 1; });
    $all("#summary .stat").forEach(function (s) {
      setText($(".n", s), String(counts[s.dataset.status] || 0));
    });
    setReviewCount(counts.awaiting_review || 0);

    var tbody = $("#files tbody");
    if (!tbody) return;
    var keep = {};
    var prev = null;
    files.forEach(function (f) {
      if (filter !== "all" && f.status !== filter) return;
      var tr = document.getElementById("file-" + f.id);
      if (tr) {
        if (updateRow(tr, f)) flash(tr);
      } else {
        tr = buildRow(f);
        flash(tr);
      }
      keep[tr.id] = true;
      /* Keep the ledger's order (by id) without moving rows that are in place. */
      var want = prev ? prev.nextSibling : tbody.firstChild;
      if (want !== tr) tbody.insertBefore(tr, want);
      prev = tr;
    });
    $all("tr.file", tbody).forEach(function (tr) { if (!keep[tr.id]) tr.remove(); });
    var empty = $("#empty");
    if (empty) {
      empty.hidden = Object.keys(keep).length > 0;
      var none = $(".empty-none", empty), other = $(".empty-filter", empty);
      if (none) none.hidden = files.length > 0;
      if (other) other.hidden = files.length === 0;
    }
  }

  function findRow(ev) {
    if (ev.id !== undefined && ev.id !== null) {
      var byId = document.getElementById("file-" + ev.id);
      if (byId) return byId;
    }
    var rows = $all("#files tr.file");
    for (var i = 0; i < rows.length; i++) if (rows[i].dataset.path === ev.path) return rows[i];
    return null;
  }

  function onProgress(ev) {
    var tr = findRow(ev);
    if (!tr) return;
    var prog = $("progress.progress", tr);
    var f = Number(ev.fraction);
    if (prog && isFinite(f)) {
      prog.hidden = false;
      prog.value = Math.max(0, Math.min(1, f));
      prog.title = Math.round(prog.value * 100) + " %";
    }
    setText($("td.stage", tr), ev.event === "fit_progress" ? "fit" : "deliver");
  }

  function initDashboard() {
    var filter = document.body.dataset.filter || "all";
    var live = $("#live");
    var inflight = false, again = false, last = 0;

    function refresh() {
      if (inflight) { again = true; return; }
      var wait = Math.max(0, last + 400 - Date.now()); /* at most a few fetches a second */
      inflight = true;
      setTimeout(function () {
        last = Date.now();
        getJSON("/api/files").then(function (data) {
          delete document.body.dataset.ledger;
          renderFiles(data, filter);
        })
          .catch(function () { /* the next event tries again */ })
          .then(function () {
            inflight = false;
            if (again) { again = false; refresh(); }
          });
      }, wait);
    }

    function setLive(on) {
      document.body.dataset.live = on ? "on" : "off";
      if (live) live.textContent = on ? "live" : "offline";
    }

    if (window.EventSource) {
      var es = new EventSource("/api/events");
      /* Catch up on what happened before the stream opened (nothing to read without a ledger:
       * the first event of a run brings it). */
      es.onopen = function () {
        setLive(true);
        if (document.body.dataset.ledger !== "none") refresh();
      };
      es.onerror = function () { setLive(false); };
      es.onmessage = function (msg) {
        var ev;
        try { ev = JSON.parse(msg.data); } catch (e) { return; }
        if (!ev || typeof ev !== "object") return;
        if (ev.event === "fit_progress" || ev.event === "upload_progress") onProgress(ev);
        else refresh();
      };
      window.addEventListener("pagehide", function () { es.close(); });
    }

    var queue = $("#queue");
    if (queue) {
      var loadQueue = function () {
        getJSON("/api/queue").then(function (q) { renderQueue(queue, q); })
          .catch(function (e) { renderQueueError(queue, e.message); });
      };
      loadQueue();
      setInterval(loadQueue, 10000);
    }
    setInterval(refreshTimes, 30000);
  }

  function fmtAge(s) {
    if (s === null || s === undefined || !isFinite(s)) return "—";
    if (s < 90) return Math.round(s) + " s";
    if (s < 5400) return Math.round(s / 60) + " min";
    return (s / 3600).toFixed(1) + " h";
  }

  function renderQueue(box, q) {
    var body = $(".queue-body", box);
    var dl = el("dl", { "class": "queue-body" });
    var inprog = q.in_progress && typeof q.in_progress === "object" ? q.in_progress.total : q.in_progress;
    var rows = [
      ["Waiting", q.pending], ["In progress", inprog], ["Done", q.done], ["Failed", q.failed],
      ["Rejected", q.rejected], ["Deferred", q.deferred], ["Dead letters", q.dead],
      ["Workers", Array.isArray(q.workers) ? q.workers.length : undefined],
      ["Oldest waiting", fmtAge(q.oldest_pending_age)]
    ];
    rows.forEach(function (r) {
      if (r[1] === undefined) return;
      var pair = el("div", { "class": "qstat" });
      pair.appendChild(el("dt", null, r[0]));
      pair.appendChild(el("dd", null, r[1] === null ? "—" : String(r[1])));
      dl.appendChild(pair);
    });
    if (q.exists === false) {
      var p = el("p", { "class": "muted queue-body" }, "No job was ever added to this queue.");
      body.replaceWith(p);
      return;
    }
    body.replaceWith(dl);
  }

  function renderQueueError(box, message) {
    var body = $(".queue-body", box);
    body.replaceWith(el("p", { "class": "muted queue-body" }, "The queue cannot be read: " + message));
  }

  /* ---- report --------------------------------------------------------------------------- */

  function initReport() {
    ["preview-source", "preview-output"].forEach(function (id) {
      var img = document.getElementById(id);
      if (!img) return;
      var failed = function () {
        if (img.hidden) return;
        img.hidden = true;
        img.parentNode.insertBefore(
          el("div", { "class": "preview-missing" }, "No frame to show: the preview could not be drawn."),
          img.nextSibling);
      };
      if (img.complete && img.naturalWidth === 0 && img.getAttribute("src")) failed();
      else img.addEventListener("error", failed);
    });
    /* Live: when an event arrives, look at the row; once it has changed since this page was
     * drawn (a stage ended, a post went out), draw the page again. */
    var id = document.body.dataset.id, drawn = parseFloat(document.body.dataset.updated || "0");
    if (!window.EventSource || !id) return;
    var es = new EventSource("/api/events"), busy = false, again = false;
    /* One look at a time; an event that arrives meanwhile asks for one more look after it (the
     * last event of a post may come while the look before it is still on its way). */
    var look = function () {
      if (busy) { again = true; return; }
      busy = true;
      getJSON("/api/files/" + encodeURIComponent(id)).then(function (f) {
        var t = f && f.updated ? Date.parse(f.updated) / 1000 : 0;
        if (t && Math.abs(t - drawn) > 0.002) { es.close(); again = false; location.reload(); }
      }).catch(function () { /* the next event tries again */ })
        .then(function () {
          busy = false;
          if (again) { again = false; look(); }
        });
    };
    /* The row's last write may come after the run's last event: while the file is in
     * progress, look every 2 s as well. */
    var st = document.body.dataset.status;
    if (st === "queued" || st === "running") setInterval(look, 2000);
    es.onopen = function () { document.body.dataset.live = "on"; };
    es.onerror = function () { document.body.dataset.live = "off"; };
    es.onmessage = function (msg) {
      var ev;
      try { ev = JSON.parse(msg.data); } catch (e) { return; }
      if (!ev || ev.event === "fit_progress" || ev.event === "upload_progress") return;
      look();
    };
    window.addEventListener("pagehide", function () { es.close(); });
  }

  /* ---- review ----------------------------------------------------------------------------- */

  var QUEUED = "Queued for posting: it goes out with the running pipeline or the next run; " +
    "TikTok may take a few minutes to process it.";
  var REJECTED = "Rejected: it will not be posted.";

  function initReviewForm(form) {
    var id = form.dataset.id;
    var blocked = form.dataset.blocked === "1";
    var caption = $('textarea[name="caption"]', form);
    var count = $(".caption-count", form);
    var radios = $all('input[type="radio"]', form);
    var disclose = $('input[name="disclose"]', form);
    var organic = $('input[name="brand_organic"]', form);
    var branded = $('input[name="brand_content"]', form);
    var options = $(".disclose-options", form);
    var post = $("button.post", form);
    var reject = $("button.reject", form);
    var why = $(".why", form);
    var result = $(".result", form);
    var busy = false;

    function chosen() {
      for (var i = 0; i < radios.length; i++) if (radios[i].checked) return radios[i].value;
      return "";
    }

    function show(sel, on) {
      var n = $(sel, form);
      if (n) n.hidden = !on;
    }

    function update() {
      var units = utf16Length(caption.value);
      var tooLong = units > CAPTION_MAX;
      count.textContent = units + " / " + CAPTION_MAX;
      count.classList.toggle("invalid", tooLong);
      caption.classList.toggle("invalid", tooLong);
      caption.setAttribute("aria-invalid", tooLong ? "true" : "false");

      if (!disclose.checked) { organic.checked = false; branded.checked = false; }
      options.hidden = !disclose.checked;
      var level = chosen();
      /* Branded content cannot be private: each choice greys out the other. */
      radios.forEach(function (r) {
        if (r.value === "SELF_ONLY") {
          r.disabled = branded.checked;
          r.parentNode.classList.toggle("disabled", r.disabled);
        }
      });
      branded.disabled = level === "SELF_ONLY";
      branded.parentNode.classList.toggle("disabled", branded.disabled);
      show(".private-note", branded.checked);
      show(".branded-note", level === "SELF_ONLY");
      show(".bc-consent", disclose.checked && branded.checked);
      show(".consent-music", !(disclose.checked && branded.checked));
      var needType = disclose.checked && !organic.checked && !branded.checked;
      show(".disclose-note", needType);

      var reason = "";
      if (blocked) reason = why.dataset.blocked || why.textContent;
      else if (!radios.length) reason = "Posting is off: TikTok offers this account no privacy level.";
      else if (!level) reason = "Choose who can watch this video to post it.";
      else if (tooLong) reason = "The caption is too long: TikTok takes at most " + CAPTION_MAX + " characters.";
      else if (needType) reason = "Choose Your brand, Branded content or both, or turn the disclosure off.";
      else if (branded.checked && level === "SELF_ONLY") reason = "Branded content visibility cannot be set to private.";
      else if (disclose.checked && branded.checked) reason = "Your video will be labeled 'Paid partnership'.";
      else if (disclose.checked && organic.checked) reason = "Your video will be labeled 'Promotional content'.";
      var ok = !blocked && radios.length > 0 && level && !tooLong && !needType &&
        !(branded.checked && level === "SELF_ONLY");
      post.disabled = !ok || busy;
      post.textContent = busy === "post" ? "Posting…" : "Post";
      reject.disabled = busy;
      why.textContent = reason;
      why.hidden = !reason;
    }

    function done(kind, text) {
      var box = el("section", { "class": "review-done " + kind, "data-id": id });
      var title = $(".review-title", form);
      box.appendChild(el("h2", { title: title ? title.title : "" }, title ? title.textContent : ""));
      box.appendChild(el("p", { "class": "result", role: "status" }, text));
      var link = el("a", { href: "/files/" + encodeURIComponent(id) }, "File report");
      var p = el("p", { "class": "muted small" });
      p.appendChild(link);
      box.appendChild(p);
      form.replaceWith(box);
      var left = $all("form.review").length;
      setReviewCount(left);
      if (!left) { var empty = $("#review-empty"); if (empty) empty.hidden = false; }
    }

    function failed(err) {
      busy = false;
      result.hidden = false;
      result.classList.add("error");
      result.textContent = err && err.message ? err.message : "It did not work. Try again.";
      update();
    }

    if (blocked) why.dataset.blocked = why.textContent;
    caption.addEventListener("input", update);
    form.addEventListener("change", update);
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      update();
      if (post.disabled) return;
      busy = "post";
      update();
      result.hidden = true;
      var allow = function (name) {
        var cb = $('input[name="' + name + '"]', form);
        return !!(cb && cb.checked && !cb.disabled);
      };
      postJSON("/api/files/" + encodeURIComponent(id) + "/approve", {
        privacy_level: chosen(),
        caption: caption.value,
        allow_comment: allow("allow_comment"),
        allow_duet: allow("allow_duet"),
        allow_stitch: allow("allow_stitch"),
        brand_organic: disclose.checked && organic.checked,
        brand_content: disclose.checked && branded.checked
      }).then(function () { done("ok", QUEUED); }, failed);
    });
    reject.addEventListener("click", function () {
      if (busy) return;
      busy = "reject";
      update();
      result.hidden = true;
      postJSON("/api/files/" + encodeURIComponent(id) + "/reject", {})
        .then(function () { done("rejected", REJECTED); }, failed);
    });
    update();
  }

  function initReview() {
    $all("form.review").forEach(initReviewForm);
  }

  /* ---- start ------------------------------------------------------------------------------ */

  var page = document.body.dataset.page;
  if (page === "dashboard") initDashboard();
  else if (page === "file") initReport();
  else if (page === "review") initReview();
  if (page !== "dashboard") setInterval(refreshTimes, 30000);
})();
