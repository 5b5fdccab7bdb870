"""A small builder for self-contained HTML reports.

Every report of statcoder (evaluation, training-data quality, monitoring, estimation) is one
HTML file with inline CSS and inline SVG charts, so it opens offline and can be archived.
Every chart carries a text alternative (``<figcaption>`` plus ``role="img"``/``aria-label``).
"""

from __future__ import annotations

import html
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1d2433;background:#f7f8fa}
header{background:#1f3b5a;color:#fff;padding:1.2rem 2rem}header h1{margin:0;font-size:1.5rem}
header p{margin:.3rem 0 0;opacity:.85}
nav{background:#fff;border-bottom:1px solid #dde2ea;padding:.5rem 2rem;font-size:.9rem}
nav a{margin-right:1rem;color:#1f3b5a;text-decoration:none}
main{max-width:1100px;margin:0 auto;padding:1rem 2rem 3rem}
section{background:#fff;border:1px solid #dde2ea;border-radius:6px;padding:1rem 1.4rem;margin:1rem 0}
h2{font-size:1.2rem;margin:.2rem 0 .8rem;color:#1f3b5a}h3{font-size:1rem;margin:1rem 0 .4rem}
table{border-collapse:collapse;font-size:.85rem;margin:.4rem 0 .8rem}
th,td{border-bottom:1px solid #e4e8ee;padding:.25rem .6rem;text-align:right}
th{background:#eef2f7;cursor:pointer;position:sticky;top:0}td:first-child,th:first-child{text-align:left}
figure{margin:.6rem 0}figcaption{font-size:.8rem;color:#555}
.flag{color:#b00020;font-weight:600}.ok{color:#1b7f3b}.note{font-size:.85rem;color:#555}
.kpis{display:flex;flex-wrap:wrap;gap:.8rem}.kpi{background:#eef2f7;border-radius:6px;padding:.5rem .9rem}
.kpi b{display:block;font-size:1.3rem}.placeholder{background:#fff6d6;border-left:4px solid #e0b000;padding:.3rem .6rem}
"""

# Sorting by clicking a column header: small, dependency-free, no network.
_JS = """
document.querySelectorAll('table.sortable th').forEach(function(th,i){th.addEventListener('click',function(){
 var t=th.closest('table'),b=t.tBodies[0],r=Array.from(b.rows),asc=th.dataset.asc!=='1';th.dataset.asc=asc?'1':'0';
 r.sort(function(a,c){var x=a.cells[i].dataset.v||a.cells[i].textContent,y=c.cells[i].dataset.v||c.cells[i].textContent;
 var nx=parseFloat(x),ny=parseFloat(y);if(!isNaN(nx)&&!isNaN(ny)){return asc?nx-ny:ny-nx}return asc?x.localeCompare(y):y.localeCompare(x)});
 r.forEach(function(x){b.appendChild(x)})})});
"""


def figure_to_svg(fig: Any) -> str:
    """Render a matplotlib Figure to an inline SVG string (and close the figure)."""
    import matplotlib.pyplot as plt

    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight")
    plt.close(fig)
    svg = buffer.getvalue()
    return svg[svg.find("<svg") :]


@dataclass
class _Section:
    title: str
    anchor: str
    parts: list[str] = field(default_factory=list)


class HtmlReport:
    """Build a report section by section, then ``render()`` or ``write(path)``."""

    def __init__(self, title: str, *, subtitle: str = "") -> None:
        self.title = title
        self.subtitle = subtitle
        self._sections: list[_Section] = []

    def section(self, title: str) -> HtmlReport:
        """Start a new section; later ``add_*`` calls go into it. Returns self."""
        anchor = f"s{len(self._sections) + 1}"
        self._sections.append(_Section(title, anchor))
        return self

    def _current(self) -> _Section:
        if not self._sections:
            self.section("Overview")
        return self._sections[-1]

    def add_heading(self, text: str) -> HtmlReport:
        """Add a sub-heading to the current section."""
        self._current().parts.append(f"<h3>{html.escape(text)}</h3>")
        return self

    def add_text(self, text: str, *, css_class: str = "") -> HtmlReport:
        """Add a paragraph of plain text (escaped)."""
        cls = f' class="{css_class}"' if css_class else ""
        self._current().parts.append(f"<p{cls}>{html.escape(text)}</p>")
        return self

    def add_html(self, fragment: str) -> HtmlReport:
        """Add a trusted HTML fragment (built by statcoder, never from user text)."""
        self._current().parts.append(fragment)
        return self

    def add_kpis(self, items: Sequence[tuple[str, str]]) -> HtmlReport:
        """Add a row of headline figures: (label, formatted value) pairs."""
        cells = "".join(
            f'<div class="kpi"><b>{html.escape(v)}</b>{html.escape(k)}</div>' for k, v in items
        )
        self._current().parts.append(f'<div class="kpis">{cells}</div>')
        return self

    def add_table(
        self, frame: pd.DataFrame, *, caption: str = "", float_format: str = "{:.3f}", max_rows: int = 500
    ) -> HtmlReport:
        """Add a sortable table; floats are formatted, text is escaped, rows past max_rows are cut."""
        shown = frame.head(max_rows)
        head = "".join(f"<th>{html.escape(str(c))}</th>" for c in shown.columns)
        rows = []
        for record in shown.itertuples(index=False):
            cells = []
            for value in record:
                if isinstance(value, float):
                    text = "" if pd.isna(value) else float_format.format(value)
                    cells.append(f'<td data-v="{value!r}">{text}</td>')
                else:
                    cells.append(f"<td>{html.escape(str(value))}</td>")
            rows.append("<tr>" + "".join(cells) + "</tr>")
        cap = f"<caption>{html.escape(caption)}</caption>" if caption else ""
        more = (
            f'<p class="note">{len(frame) - max_rows} more rows are in the JSON output.</p>'
            if len(frame) > max_rows
            else ""
        )
        self._current().parts.append(
            f'<table class="sortable">{cap}<thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table>{more}"
        )
        return self

    def add_figure(self, fig: Any, *, alt: str) -> HtmlReport:
        """Add a matplotlib figure as inline SVG with ``alt`` as its text alternative."""
        svg = figure_to_svg(fig)
        svg = svg.replace("<svg", f'<svg role="img" aria-label="{html.escape(alt)}"', 1)
        self._current().parts.append(
            f"<figure>{svg}<figcaption>{html.escape(alt)}</figcaption></figure>"
        )
        return self

    def render(self) -> str:
        """Return the whole report as one HTML string."""
        nav = "".join(f'<a href="#{s.anchor}">{html.escape(s.title)}</a>' for s in self._sections)
        body = "".join(
            f'<section id="{s.anchor}"><h2>{html.escape(s.title)}</h2>{"".join(s.parts)}</section>'
            for s in self._sections
        )
        sub = f"<p>{html.escape(self.subtitle)}</p>" if self.subtitle else ""
        return (
            '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            f"<title>{html.escape(self.title)}</title>"
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<style>{_CSS}</style></head><body><header><h1>{html.escape(self.title)}</h1>{sub}</header>"
            f"<nav>{nav}</nav><main>{body}</main><script>{_JS}</script></body></html>"
        )

    def write(self, path: str | Path) -> Path:
        """Write the report atomically to ``path`` and return it."""
        from statcoder.io.atomic import atomic_write_text

        return atomic_write_text(Path(path), self.render())


def json_ready(value: Any) -> Any:
    """Convert numpy/pandas scalars and frames into plain JSON-serialisable Python values."""
    return json.loads(json.dumps(value, default=_default))


def _default(obj: Any) -> Any:
    import numpy as np

    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return None if np.isnan(obj) else float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, pd.DataFrame):
        return obj.to_dict(orient="records")
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")
