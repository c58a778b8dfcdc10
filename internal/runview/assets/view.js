// gtrun trace --html: folding, attributes on click, live refresh, and a
// self-check of the page (its result is <html data-selfcheck="ok">, or
// "fail: …" with a console error).
(function () {
  "use strict";
  var root = document.getElementById("run");
  var checking = false; // the self-check's clicks leave the address alone

  function attrsOf(node) {
    for (var c = node.firstElementChild; c; c = c.nextElementSibling) {
      if (c.classList.contains("attrs")) return c;
    }
    return null;
  }

  function toggle(row, onCaret) {
    var node = row.parentNode;
    var attrs = attrsOf(node);
    if (onCaret || !attrs) {
      if (node.classList.contains("group")) node.classList.toggle("collapsed");
      return;
    }
    attrs.hidden = !attrs.hidden;
    row.classList.toggle("open", !attrs.hidden);
    // The address names the open record, to link to it.
    if (!attrs.hidden && !checking && history.replaceState) {
      try { history.replaceState(null, "", "#" + encodeURIComponent(node.dataset.key)); } catch (e) { /* file: in some browsers */ }
    }
  }

  // #KEY in the address opens that record's attributes.
  function openFromHash() {
    var key = decodeURIComponent(location.hash.slice(1));
    if (!key) return;
    var node = root.querySelector('.node[data-key="' + CSS.escape(key) + '"]');
    var attrs = node && attrsOf(node);
    if (!attrs) return;
    attrs.hidden = false;
    node.firstElementChild.classList.add("open");
    node.scrollIntoView({ block: "nearest" });
  }

  root.addEventListener("click", function (ev) {
    var row = ev.target.closest(".row");
    if (row && root.contains(row)) toggle(row, !!ev.target.closest(".caret"));
  });
  root.addEventListener("keydown", function (ev) {
    var row = ev.target.closest && ev.target.closest(".row");
    if (!row || (ev.key !== "Enter" && ev.key !== " ")) return;
    ev.preventDefault();
    toggle(row, ev.shiftKey);
  });

  // What the reader opened or folded survives a live refresh.
  function saveState() {
    var s = { open: {}, folded: {} };
    root.querySelectorAll(".node").forEach(function (n) {
      var a = attrsOf(n);
      if (a && !a.hidden) s.open[n.dataset.key] = true;
      if (n.classList.contains("collapsed")) s.folded[n.dataset.key] = true;
    });
    return s;
  }
  function restoreState(s) {
    root.querySelectorAll(".node").forEach(function (n) {
      var a = attrsOf(n);
      if (a && s.open[n.dataset.key]) {
        a.hidden = false;
        n.firstElementChild.classList.add("open");
      }
      if (s.folded[n.dataset.key]) n.classList.add("collapsed");
    });
  }

  function selfCheck() {
    var problems = [];
    var tree = root.querySelector(".tree");
    if (!tree) {
      problems.push("no .tree");
    } else {
      var want = Number(tree.dataset.events);
      var recs = root.querySelectorAll("[data-record]");
      if (recs.length !== want) problems.push(recs.length + " records in the DOM, want " + want);
      var seen = {};
      var errors = 0;
      recs.forEach(function (r) {
        var i = r.dataset.record;
        if (seen[i]) problems.push("record " + i + " twice");
        seen[i] = true;
        var a = attrsOf(r.parentNode);
        if (!a || a.querySelectorAll("tr").length === 0) problems.push("record " + i + " has no attributes");
        if (r.dataset.status === "error") {
          errors++;
          if (!r.classList.contains("error")) problems.push("failed record " + i + " not marked");
        }
      });
      if (errors !== Number(tree.dataset.errors)) problems.push(errors + " failed records, want " + tree.dataset.errors);
      // A click shows the attributes, a second hides them again.
      var first = recs[0];
      if (first) {
        var a = attrsOf(first.parentNode);
        var was = a.hidden;
        checking = true;
        first.dispatchEvent(new MouseEvent("click", { bubbles: true }));
        if (a.hidden === was) problems.push("click does not toggle the attributes");
        first.dispatchEvent(new MouseEvent("click", { bubbles: true }));
        if (a.hidden !== was) problems.push("second click does not toggle back");
        checking = false;
      }
    }
    var result = problems.length ? "fail: " + problems.join("; ") : "ok";
    document.documentElement.setAttribute("data-selfcheck", result);
    if (problems.length) console.error("gtrun trace self-check " + result);
  }

  function live(url, every) {
    var last = null;
    var status = function (text, stale) {
      var el = document.getElementById("live-status");
      if (!el) return;
      el.textContent = text;
      el.classList.toggle("stale", !!stale);
    };
    var clock = function () {
      return new Date().toLocaleTimeString([], { hour12: false });
    };
    status("live · following");
    var refresh = function () {
      fetch(url, { cache: "no-store" })
        .then(function (resp) {
          if (!resp.ok) throw new Error("HTTP " + resp.status);
          return resp.json();
        })
        .then(function (j) {
          if (j.html !== last) {
            var s = saveState();
            root.innerHTML = j.html;
            restoreState(s);
            last = j.html;
            selfCheck();
          }
          if (j.error) status("live · " + j.error + " (showing " + clock() + ")", true);
          else status("live · " + j.events + " events · updated " + clock());
        })
        .catch(function (e) {
          status("live · gtrun trace --serve unreachable: " + e.message, true);
        })
        .finally(function () {
          setTimeout(refresh, every);
        });
    };
    setTimeout(refresh, every);
  }

  selfCheck();
  openFromHash();
  if (root.dataset.live) live(root.dataset.live, Number(root.dataset.liveEvery) || 2000);
})();
