/* Audio/video player with a time-coded transcript (Lingnan Heritage Repository).
 * - the transcript line being spoken is highlighted (class is-current, aria-current="true")
 * - clicking (or Enter/Space on) a line or chapter seeks there and plays
 * - ?t=SECONDS starts playback there (data-start, validated by the server)
 * - the search box asks the server which lines match (trad/simp folding), marks them and
 *   jumps to the first; submitting the same text again goes to the next match
 * No framework: plain DOM, no inline script, so a strict Content-Security-Policy works. */
(function () {
  "use strict";

  function indexAt(starts, t) {
    var lo = 0, hi = starts.length - 1, found = -1;
    while (lo <= hi) {
      var mid = (lo + hi) >> 1;
      if (starts[mid] <= t + 0.05) { found = mid; lo = mid + 1; } else { hi = mid - 1; }
    }
    return found;
  }

  function markText(span, original, spans) {
    while (span.firstChild) span.removeChild(span.firstChild);
    var chars = Array.from(original), at = 0;  // spans count code points (Python str offsets)
    spans.forEach(function (s) {
      if (s[0] > at) span.appendChild(document.createTextNode(chars.slice(at, s[0]).join("")));
      var m = document.createElement("mark");
      m.textContent = chars.slice(s[0], s[1]).join("");
      span.appendChild(m);
      at = s[1];
    });
    if (at < chars.length) span.appendChild(document.createTextNode(chars.slice(at).join("")));
  }

  function init(root) {
    var media = root.querySelector(".av-element");
    var lines = Array.prototype.slice.call(root.querySelectorAll(".av-line"));
    var starts = lines.map(function (b) { return parseFloat(b.dataset.start); });
    var texts = lines.map(function (b) { var t = b.querySelector(".av-text"); return t ? t.textContent : ""; });
    var list = root.querySelector(".av-transcript");
    var current = -1;

    function setCurrent(i) {
      if (i === current) return;
      if (current >= 0 && lines[current]) {
        lines[current].classList.remove("is-current");
        lines[current].removeAttribute("aria-current");
      }
      current = i;
      if (i >= 0 && lines[i]) {
        lines[i].classList.add("is-current");
        lines[i].setAttribute("aria-current", "true");
        if (list && !list.matches(":hover")) {
          var top = lines[i].offsetTop - list.offsetTop;
          if (top < list.scrollTop || top > list.scrollTop + list.clientHeight - lines[i].offsetHeight) {
            list.scrollTop = Math.max(0, top - list.clientHeight / 3);
          }
        }
      }
    }

    function seek(t, play) {
      if (!media) return;
      media.currentTime = t;
      setCurrent(indexAt(starts, t));
      if (play) { var p = media.play(); if (p && p.catch) p.catch(function () {}); }
    }

    if (media) {
      media.addEventListener("timeupdate", function () { setCurrent(indexAt(starts, media.currentTime)); });
      media.addEventListener("seeked", function () { setCurrent(indexAt(starts, media.currentTime)); });
      var start = parseFloat(root.dataset.start || "0");
      if (start > 0) {
        var go = function () { seek(start, false); };
        if (media.readyState >= 1) go(); else media.addEventListener("loadedmetadata", go, { once: true });
      }
    }
    Array.prototype.forEach.call(root.querySelectorAll(".av-seek"), function (b) {
      b.addEventListener("click", function () { seek(parseFloat(b.dataset.start), true); });
    });

    var form = root.querySelector(".av-find");
    if (!form) return;
    var input = form.querySelector("input[name=q]");
    var status = form.querySelector(".av-find-status");
    var lastQ = null, matches = [], pos = -1;

    function say(template, n, total) {
      status.textContent = template.replace("{n}", n).replace("{total}", total);
    }

    function clearMarks() {
      lines.forEach(function (b, i) {
        b.classList.remove("is-match");
        var span = b.querySelector(".av-text");
        if (span) span.textContent = texts[i];
      });
    }

    function show(k) {
      pos = k;
      var m = matches[k];
      var line = lines[m.index];
      seek(m.start, false);
      if (line) line.focus();
      say(root.dataset.msgCount, k + 1, matches.length);
    }

    function find(q) {
      lastQ = q;
      clearMarks();
      matches = []; pos = -1;
      if (!q) { status.textContent = ""; return; }
      fetch(root.dataset.findUrl + "?q=" + encodeURIComponent(q), { headers: { Accept: "application/json" } })
        .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
        .then(function (data) {
          matches = data.matches || [];
          matches.forEach(function (m) {
            var line = lines[m.index];
            if (!line) return;
            line.classList.add("is-match");
            var span = line.querySelector(".av-text");
            if (span) markText(span, texts[m.index], m.spans);
          });
          if (matches.length) show(0); else status.textContent = root.dataset.msgNone;
        })
        .catch(function () { status.textContent = root.dataset.msgError; });
    }

    form.addEventListener("submit", function (e) {
      e.preventDefault();
      var q = input.value.trim();
      if (q === lastQ && matches.length) show((pos + 1) % matches.length); else find(q);
    });
    if (root.dataset.q) { find(root.dataset.q); }
  }

  function boot() { Array.prototype.forEach.call(document.querySelectorAll(".av-player"), init); }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", boot); else boot();
})();
