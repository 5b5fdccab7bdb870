"""The shared browser check of every HTML report (evaluation, quality, monitoring, estimation).

``check_report(path, shots)`` opens the report in Debian's chromium (playwright) at 1400 px and
800 px wide, opens every collapsed ``<details>``, saves a full-page screenshot of each width
under ``shots``, and fails when

* any element is wider than the viewport (``document.documentElement.scrollWidth > innerWidth``),
  naming the widest offenders, or
* the rendered text outside ``<code>`` contains ``nan``, ``NaN``, ``None``, ``inf`` or
  ``Infinity`` as a word (``<pre>`` counts: the embedded Markdown model card is generated text,
  and a ``nan-nan`` interval once hid there), or
* the page logs a JavaScript error.
"""

from __future__ import annotations

import re
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
WIDTHS = (1400, 800)
LEAKS = re.compile(r"\b(nan|NaN|None|inf|Infinity)\b")

_OVERFLOW_JS = """() => {
  const w = window.innerWidth, out = [];
  for (const el of document.querySelectorAll('body *')) {
    const r = el.getBoundingClientRect();
    if (r.right > w + 1 && getComputedStyle(el).position !== 'fixed') {
      let inside = false;  // content scrolled inside a wrapper that itself fits is fine
      for (let p = el.parentElement; p; p = p.parentElement) {
        const s = getComputedStyle(p);
        if ((s.overflowX === 'auto' || s.overflowX === 'scroll' || s.overflowX === 'hidden')
            && p.getBoundingClientRect().right <= w + 1) { inside = true; break; }
      }
      if (!inside) out.push(el.tagName.toLowerCase() + (el.className ? '.' + el.className : '')
                            + ' right=' + Math.round(r.right));
    }
  }
  return {scroll: document.documentElement.scrollWidth, inner: w, offenders: out.slice(0, 8)};
}"""

_TEXT_JS = """() => {
  const clone = document.body.cloneNode(true);
  clone.querySelectorAll('code, script, style').forEach(e => e.remove());
  return clone.innerText;
}"""


def check_report(path: Path, shots: Path, *, widths: tuple[int, ...] = WIDTHS) -> list[Path]:
    """Screenshot ``path`` at each width into ``shots`` and assert the rules above; returns the PNGs."""
    from playwright.sync_api import sync_playwright

    assert CHROMIUM.exists(), "run `bash scripts/system-deps.sh` to install Debian chromium"
    shots.mkdir(parents=True, exist_ok=True)
    pngs: list[Path] = []
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM), args=["--headless", "--no-sandbox", "--disable-background-networking"]
        )
        try:
            for width in widths:
                page = browser.new_page(viewport={"width": width, "height": 900})
                page.on("pageerror", lambda exc: errors.append(str(exc)))
                page.goto(path.as_uri())
                page.evaluate("() => document.querySelectorAll('details').forEach(d => d.open = true)")
                png = shots / f"{path.stem}-{width}.png"
                page.screenshot(path=str(png), full_page=True)
                pngs.append(png)
                overflow = page.evaluate(_OVERFLOW_JS)
                assert overflow["scroll"] <= overflow["inner"], (
                    f"{path.name} at {width} px: page is {overflow['scroll']} px wide; "
                    f"too wide: {overflow['offenders']}"
                )
                text = page.evaluate(_TEXT_JS)
                leaks = sorted({m.group(0) for m in LEAKS.finditer(text)})
                context = [text[max(0, m.start() - 60): m.end() + 30] for m in LEAKS.finditer(text)][:3]
                assert not leaks, f"{path.name}: {leaks} in the rendered text, e.g. {context}"
                page.close()
        finally:
            browser.close()
    assert errors == [], errors
    return pngs
