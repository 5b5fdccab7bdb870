// statcoder workbench: keyboard-first coding and live search. Every page works without it.
(function () {
  "use strict";
  // the elements of the page on screen (set again when a coding form swaps in the next page)
  let decide, q, hitsBox, code;

  function typing(el) {
    if (!el) return false;
    const tag = el.tagName;
    return tag === "TEXTAREA" || tag === "SELECT" || (tag === "INPUT" && !["radio", "checkbox", "submit", "button"].includes(el.type));
  }
  function hitInputs() { return hitsBox ? Array.from(hitsBox.querySelectorAll("input[data-hit]")) : []; }
  let active = -1;
  function highlight(i) {
    const hits = hitInputs();
    hits.forEach((h, j) => h.closest(".hit").classList.toggle("active", j === i));
    active = i;
    if (hits[i]) hits[i].closest(".hit").scrollIntoView({ block: "nearest" });
  }
  function pick(input) {
    if (!input) return;
    input.checked = true;
    if (code) code.value = "";
    input.focus();
  }
  function submitCode() {
    const btn = document.getElementById("btn-code");
    if (decide && btn) decide.requestSubmit(btn);
  }

  let seq = 0;
  function init() {
    decide = document.getElementById("decide");
    q = document.getElementById("q");
    hitsBox = document.getElementById("hits");
    code = document.getElementById("code");
    active = -1;
    const auto = document.querySelector("[data-autofocus]");
    if (auto) auto.focus();
    bindSearch();
    if (code) code.addEventListener("input", function () {
      if (code.value) decide.querySelectorAll("input[name=choice]").forEach((r) => { r.checked = false; });
    });
  }

  // live search: the server renders the hits; a stale answer never replaces a newer one
  function bindSearch() {
    if (!(q && hitsBox && decide)) return;
    const url = q.dataset.searchUrl;
    let timer = null;
    q.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(async function () {
        const mine = ++seq;
        const r = await fetch(url + "?q=" + encodeURIComponent(q.value), { credentials: "same-origin" });
        if (!r.ok || mine !== seq) return;
        hitsBox.innerHTML = await r.text();
        active = -1;
        if (hitInputs().length) highlight(0);
        hitsBox.dataset.ready = String(mine);
      }, 60);
    });
    q.addEventListener("keydown", function (e) {
      const hits = hitInputs();
      if (e.key === "ArrowDown" && hits.length) { e.preventDefault(); highlight(Math.min(active + 1, hits.length - 1)); }
      else if (e.key === "ArrowUp" && hits.length) { e.preventDefault(); highlight(Math.max(active - 1, 0)); }
      else if (e.key === "Enter" && hits.length && active >= 0) { e.preventDefault(); e.stopPropagation(); pick(hits[active]); }
      else if (e.key === "Escape") { e.stopPropagation(); q.blur(); }
    });
  }
  init();

  // The coding forms (data-swap) answer with a whole page: the next record, the same record with
  // a message next to the field, or a message. With JavaScript that page replaces this one in
  // place (no new document: the next record is on screen sooner); without it, or if the request
  // fails, the browser submits the form as usual. Back/forward reload the page from the server.
  let swaps = 0;
  let busy = false;
  document.addEventListener("submit", async function (e) {
    const form = e.target;
    if (!form.matches("form[data-swap]") || form.dataset.plain || !window.fetch || !window.DOMParser) return;
    e.preventDefault();
    if (busy) return;  // one submission at a time: a double Enter never posts twice
    busy = true;
    const body = new URLSearchParams(new FormData(form));
    if (e.submitter && e.submitter.name) body.append(e.submitter.name, e.submitter.value);
    let page = null;
    let url = "";
    try {
      // getAttribute: the form.action property is shadowed by the buttons named "action"
      const r = await fetch(form.getAttribute("action"), { method: "POST", body: body, credentials: "same-origin" });
      if ((r.headers.get("content-type") || "").startsWith("text/html")) { page = await r.text(); url = r.url; }
    } catch (err) { page = null; }
    busy = false;
    if (page === null) {  // fall back to the plain form submission
      form.dataset.plain = "1";
      form.requestSubmit(e.submitter || undefined);
      return;
    }
    const doc = new DOMParser().parseFromString(page, "text/html");
    document.title = doc.title;
    document.body.replaceWith(document.adoptNode(doc.body));
    if (url && url !== location.href) history.pushState({ swapped: true }, "", url);
    shown = location.pathname + location.search;
    window.scrollTo(0, 0);
    init();
    const main = document.getElementById("main");
    if (main) main.focus({ preventScroll: true });  // screen readers start at the new content
    document.body.dataset.swap = String(++swaps);
  });
  let shown = location.pathname + location.search;
  window.addEventListener("popstate", function () {  // a hash change (the skip link) keeps the page
    if (location.pathname + location.search !== shown) location.reload();
  });

  document.addEventListener("keydown", function (e) {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    const el = document.activeElement;
    if (typing(el)) {
      if (e.key === "Escape") el.blur();
      else if (e.key === "Enter" && el.id === "level" && decide) { e.preventDefault(); submitCode(); }
      else if (e.key === "Enter" && el.id === "reason" && decide) {
        e.preventDefault(); decide.requestSubmit(document.getElementById("btn-uncodable"));
      }
      return;
    }
    if (!decide) return;
    if (/^[1-9]$/.test(e.key)) {
      const r = decide.querySelector('input[name=choice][data-n="' + e.key + '"]');
      if (r) {
        e.preventDefault();
        const folded = r.closest("details");
        if (folded) folded.open = true;
        pick(r);
      }
    } else if (e.key === "/") { e.preventDefault(); if (q) { q.focus(); q.select(); } }
    else if (e.key === "Enter") {
      if (el && (el.tagName === "BUTTON" || el.tagName === "A" || el.tagName === "SUMMARY")) return;
      e.preventDefault(); submitCode();
    }
    else if (e.key === "l") { e.preventDefault(); document.getElementById("level").focus(); }
    else if (e.key === "x") { e.preventDefault(); document.getElementById("reason").focus(); }
    else if (e.key === "n") { e.preventDefault(); document.getElementById("note").focus(); }
    else if (e.key === "s") { e.preventDefault(); decide.requestSubmit(document.getElementById("btn-skip")); }
    else if (e.key === "u") { e.preventDefault(); document.getElementById("undo-form").requestSubmit(); }
    else if (e.key === "?") { e.preventDefault(); const h = document.getElementById("help"); if (h) h.open = !h.open; }
    else if ((e.key === "ArrowDown" || e.key === "ArrowUp") && el && el.dataset && el.dataset.hit) {
      e.preventDefault();
      const hits = hitInputs(); const i = hits.indexOf(el);
      pick(hits[Math.max(0, Math.min(hits.length - 1, i + (e.key === "ArrowDown" ? 1 : -1)))]);
    }
  });
})();
