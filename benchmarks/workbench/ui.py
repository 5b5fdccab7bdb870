"""Browser benchmark: 20 records coded keyboard-only in Chromium; search on a 30k-entry index.

The project has SOC 2018 (1,447 codes) and the US Census 2022 occupation index entries whose
code is a SOC 2018 code (about 29,800), so the search index holds about 31,200 entries. The
model (only there to give candidates) is trained on 5,000 O*NET alternate titles; the queue
holds O*NET reported titles. Server: real uvicorn on loopback, SQLite.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from common import DATA, REPO, read

sys.path.insert(0, str(REPO / "tests" / "web"))

from server import CHROMIUM_ARGS, running

from statcoder import Classification, train
from statcoder.api.app import create_app
from statcoder.service import accounts, projects, registry
from statcoder.service.settings import ServiceSettings
from statcoder.service.workbench import search_index, set_index_entries
from statcoder.store import utcnow
from statcoder.store.review import ReviewRepository

PASSWORD = "benchmark password"
# Every new document notes when Enter goes down and, when the page swaps in the next record
# without a new document (the coding forms do with JavaScript on), when the new body is in the
# DOM and when the frame after it is painted.
ENTER_PROBE = """
addEventListener('keydown', (e) => {
  if (e.key !== 'Enter') return;
  window.__enterAt = e.timeStamp;
  sessionStorage.setItem('enterAt', String(performance.timeOrigin + e.timeStamp));
}, true);
window.__swapped = [];
addEventListener('DOMContentLoaded', () => {
  new MutationObserver(() => {
    if (window.__enterAt === undefined) return;
    const at = window.__enterAt;
    const dom = performance.now() - at;
    requestAnimationFrame(() => setTimeout(() => window.__swapped.push([dom, performance.now() - at])));
  }).observe(document.documentElement, { childList: true });
});
"""
# (Enter -> next record in the DOM, Enter -> painted), in ms. A new document (a plain form
# submission): its DOMContentLoaded and first contentful paint, against the Enter of the page before.
SHOWN_AFTER_ENTER = """() => new Promise((resolve) => {
  if (window.__enterAt !== undefined) {  // swapped in place
    const poll = () => window.__swapped.length ? resolve(window.__swapped.shift()) : setTimeout(poll, 2);
    return poll();
  }
  const at = Number(sessionStorage.getItem('enterAt'));
  const nav = performance.getEntriesByType('navigation')[0];
  const dom = performance.timeOrigin + nav.domContentLoadedEventEnd - at;
  const done = (t) => resolve([dom, performance.timeOrigin + t - at]);
  const fcp = performance.getEntriesByName('first-contentful-paint')[0];
  if (fcp) return done(fcp.startTime);
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) if (e.name === 'first-contentful-paint') done(e.startTime);
  }).observe({ type: 'paint', buffered: true });
})"""


class CountRequests:
    """ASGI wrapper that counts the HTTP requests the server receives."""

    def __init__(self, app) -> None:
        self.app, self.count = app, 0

    async def __call__(self, scope, receive, send) -> None:
        """Count the request and pass it on."""
        if scope["type"] == "http":
            self.count += 1
        await self.app(scope, receive, send)


def _browser_cpu_s() -> float:
    """Return the CPU seconds (user + system) used so far by this benchmark's Chromium processes.

    Read from /proc: every process named chromium* that descends from this process (through the
    Playwright driver), so a Chromium of other work on the machine is not counted.
    """
    tick = os.sysconf("SC_CLK_TCK")
    procs: dict[int, tuple[int, str, float]] = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            head, _, rest = (proc / "stat").read_text().rpartition(")")
            fields = rest.split()
        except OSError:
            continue
        procs[int(proc.name)] = (int(fields[1]), head.partition("(")[2], (int(fields[11]) + int(fields[12])) / tick)
    me = os.getpid()

    def ours(pid: int) -> bool:
        for _ in range(20):
            if pid == me:
                return True
            if pid not in procs or pid <= 1:
                return False
            pid = procs[pid][0]
        return False

    return sum(cpu for pid, (_, name, cpu) in procs.items() if name.startswith("chromium") and ours(pid))


def _queries(texts: list[str], n: int, seed: int) -> list[str]:
    """Prefixes a coder types: 3-6 letters of one word, or a word and a prefix of the next."""
    rng = np.random.default_rng(seed)
    out = []
    for text in rng.choice(texts, size=n, replace=False):
        words = [w for w in str(text).split() if w.isalpha()]
        if not words:
            continue
        w = words[0]
        if len(words) > 1 and rng.random() < 0.4:
            out.append(f"{w} {words[1][:int(rng.integers(2, 5))]}")
        else:
            out.append(w[:int(rng.integers(3, 7))])
    return out


def run(workdir: Path, *, n_records: int = 20, log=print) -> dict:
    """Run the browser benchmark; returns the figures."""
    from playwright.sync_api import sync_playwright

    soc_path = DATA / "classifications" / "soc2018.csv"
    classification = Classification.from_csv(soc_path, name="SOC 2018")
    census = read("census2022_occupation_index.csv")
    census = census[census["code"].isin(set(classification.codes))]
    alternate = read("onet_alternate_titles.csv").sample(5000, random_state=0)
    reported = read("onet_reported_titles.csv").sample(n_records + 10, random_state=0)
    coder = train(alternate, text_columns=["text"], code_column="code", classification=classification, seed=0)
    app = create_app(ServiceSettings(data_dir=workdir, job_worker=False), start_worker=False)
    ctx = app.state.context
    figures: dict = {}
    counter = CountRequests(app)
    with running(counter) as base:
        projects.create_project(ctx, "soc", name="SOC", classification_csv=soc_path,
                                classification_name="SOC 2018", actor="bench")
        project = projects.get_project(ctx, "soc")
        row = registry.add_coder(ctx, project, coder, source="cli", actor="bench")
        registry.promote(ctx, "soc", row.version, actor="bench")
        project = projects.get_project(ctx, "soc")
        set_index_entries(ctx, project, census[["text", "code"]])
        started = time.perf_counter()
        index = search_index(ctx, project)
        figures["index_entries"] = len(index)
        figures["index_build_s"] = round(time.perf_counter() - started, 2)
        coded = coder.code(reported["text"].tolist(), top_k=5)
        rows = [{"project_id": "soc", "job_id": None, "record_id": str(i), "text": t, "reason": "review",
                 "predicted_code": p or "11-0000", "predicted_level": int(lv) or 1, "confidence": float(c),
                 "decision": "review", "candidates": cand, "model_version": row.version, "status": "open",
                 "created_at": utcnow()}
                for i, (t, p, lv, c, cand) in enumerate(zip(
                    reported["text"], coded["predicted_code"], coded["predicted_level"], coded["confidence"],
                    coded["candidates"], strict=True))]
        with ctx.db.write() as session:
            ReviewRepository(session).add_many(rows)
        accounts.create_account(ctx, "soc", username="coder", password=PASSWORD, role="coder", actor="bench")
        # in-process search latency on the prepared index
        queries = _queries(read("onet_reported_titles.csv")["text"].tolist(), 300, seed=1)
        times = []
        for q in queries:
            t0 = time.perf_counter()
            index.search(q, limit=20)
            times.append((time.perf_counter() - t0) * 1000)
        figures["search_queries"] = len(times)
        figures["search_ms_median"] = statistics.median(times)
        figures["search_ms_p95"] = float(np.percentile(times, 95))
        figures["search_ms_max"] = max(times)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.add_init_script(ENTER_PROBE)
            page.goto(base + "/ui/login")
            page.keyboard.type("coder")
            page.keyboard.press("Tab")
            page.keyboard.type(PASSWORD)
            with page.expect_navigation():
                page.keyboard.press("Enter")
            page.goto(base + "/ui/p/soc/next")
            in_dom, painted, wall = [], [], []
            seen = set()
            swapping = page.evaluate("!!document.querySelector('form[data-swap]')")
            # this process = the server's threads + the Playwright client (main thread); the browser
            # runs apart. Server CPU = process CPU minus the main thread's.
            cpu_start, main_start, browser_start = time.process_time(), time.thread_time(), _browser_cpu_s()
            requests_start = counter.count
            for _ in range(n_records):
                page.keyboard.press("1")
                t0 = time.perf_counter()
                if swapping:
                    page.evaluate("document.body.__old = true")
                    page.keyboard.press("Enter")
                    page.wait_for_function("!document.body.__old && document.getElementById('record-text')")
                else:
                    with page.expect_navigation(wait_until="domcontentloaded"):
                        page.keyboard.press("Enter")
                    page.wait_for_selector("#record-text")
                wall.append((time.perf_counter() - t0) * 1000)
                dom, paint = page.evaluate(SHOWN_AFTER_ENTER)
                in_dom.append(dom)
                painted.append(paint)
                seen.add(page.locator("#record-text").inner_text())
            process_cpu = (time.process_time() - cpu_start) * 1000 / n_records
            figures["browser_cpu_ms_per_record"] = (_browser_cpu_s() - browser_start) * 1000 / n_records
            main_cpu = (time.thread_time() - main_start) * 1000 / n_records
            figures["requests_per_record"] = (counter.count - requests_start) / n_records
            figures["process_cpu_ms_per_record"] = process_cpu
            figures["server_cpu_ms_per_record"] = process_cpu - main_cpu
            figures["records_coded"] = n_records
            figures["swapped_in_place"] = swapping
            figures["distinct_records_shown"] = len(seen)
            figures["page_bytes"] = len(page.content().encode())
            figures["next_record_ms_median_dom"] = statistics.median(in_dom)
            figures["next_record_ms_p95_dom"] = float(np.percentile(in_dom, 95))
            figures["next_record_ms_median_painted"] = statistics.median(painted)
            figures["next_record_ms_p95_painted"] = float(np.percentile(painted, 95))
            figures["next_record_ms_median_wall"] = statistics.median(wall)
            # live search round trips from the page (fetch + server search + HTML fragment)
            round_trips = page.evaluate("""async (qs) => {
                const out = [];
                for (const q of qs) {
                  const t0 = performance.now();
                  const r = await fetch('/ui/p/soc/search?q=' + encodeURIComponent(q));
                  await r.text();
                  out.push(performance.now() - t0);
                }
                return out; }""", queries[:100])
            figures["search_round_trip_ms_median"] = statistics.median(round_trips)
            figures["search_round_trip_ms_p95"] = float(np.percentile(round_trips, 95))
            browser.close()
    log(figures)
    return figures
