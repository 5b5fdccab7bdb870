"""A small builder for self-contained HTML reports.

Every report of statcoder (evaluation, training-data quality, monitoring, estimation) is one
HTML file with inline CSS and inline SVG charts, so it opens offline and can be archived.
Every chart carries a text alternative (``<figcaption>`` plus ``role="img"``/``aria-label``).
"""

from __future__ import annotations

import html
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

_CSS = """
*{box-sizing:border-box}
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1d2433;background:#f7f8fa}
header{background:#1f3b5a;color:#fff;padding:1.2rem 2rem}header h1{margin:0;font-size:1.5rem}
header p{margin:.3rem 0 0;opacity:.85;overflow-wrap:anywhere}
nav{background:#fff;border-bottom:1px solid #dde2ea;padding:.5rem 2rem;font-size:.9rem}
nav a{margin-right:1rem;color:#1f3b5a;text-decoration:none;display:inline-block}
main{max-width:1100px;margin:0 auto;padding:1rem 2rem 3rem}
section{background:#fff;border:1px solid #dde2ea;border-radius:6px;padding:1rem 1.4rem;margin:1rem 0;min-width:0}
h2{font-size:1.2rem;margin:.2rem 0 .8rem;color:#1f3b5a}h3{font-size:1rem;margin:1rem 0 .4rem}
p,li{overflow-wrap:anywhere}
.table-wrap{max-width:100%;overflow-x:auto;margin:.4rem 0 .8rem}
table{border-collapse:collapse;font-size:.85rem}
caption{text-align:left;font-size:.85rem;color:#555;padding:.2rem 0}
th,td{border-bottom:1px solid #e4e8ee;padding:.25rem .6rem;vertical-align:top}
th{background:#eef2f7;cursor:pointer;position:sticky;top:0;text-align:left;overflow-wrap:normal}
td.num,th.num{text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums}
td.txt,th.txt{text-align:left;max-width:28rem;overflow-wrap:break-word}td.short{white-space:nowrap}
figure{margin:.6rem 0;max-width:100%}figure svg{max-width:100%;height:auto}figcaption{font-size:.8rem;color:#555}
pre{white-space:pre-wrap;overflow-wrap:anywhere;background:#f3f5f8;padding:.6rem;font-size:.8rem}
details.long>summary{cursor:pointer;color:#1f3b5a;margin:.4rem 0}
input.filter{margin:.3rem 0;padding:.25rem .4rem;width:min(24rem,100%)}
.flag{color:#b00020;font-weight:600}.ok{color:#1b7f3b}.note{font-size:.85rem;color:#555}
.kpis{display:flex;flex-wrap:wrap;gap:.8rem}.kpi{background:#eef2f7;border-radius:6px;padding:.5rem .9rem;max-width:100%}
.kpi b{display:block;font-size:1.3rem}.placeholder{background:#fff6d6;border-left:4px solid #e0b000;padding:.3rem .6rem}
.internal{background:#b00020;color:#fff;font-weight:700;text-align:center;padding:.35rem;position:sticky;top:0;z-index:9}
.internal-section{color:#b00020;font-weight:700;font-size:.8rem;margin:0 0 .4rem}
@media (max-width:900px){main{padding:.5rem .6rem 2rem}section{padding:.8rem}header,nav{padding-left:1rem;padding-right:1rem}}
@media print{.internal{position:fixed;top:0;left:0;right:0}section{break-inside:auto}}
"""

# Sorting by clicking a column header, and filtering long tables: small, dependency-free, no network.
_JS = """
document.querySelectorAll('table.sortable th').forEach(function(th,i){th.addEventListener('click',function(){
 var t=th.closest('table'),b=t.tBodies[0],r=Array.from(b.rows),asc=th.dataset.asc!=='1';th.dataset.asc=asc?'1':'0';
 r.sort(function(a,c){var x=a.cells[i].dataset.v||a.cells[i].textContent,y=c.cells[i].dataset.v||c.cells[i].textContent;
 var nx=parseFloat(x),ny=parseFloat(y);if(!isNaN(nx)&&!isNaN(ny)){return asc?nx-ny:ny-nx}return asc?x.localeCompare(y):y.localeCompare(x)});
 r.forEach(function(x){b.appendChild(x)})})});
document.querySelectorAll('input.filter').forEach(function(inp){inp.addEventListener('input',function(){
 var q=inp.value.toLowerCase(),t=document.getElementById(inp.dataset.table);
 Array.from(t.tBodies[0].rows).forEach(function(r){r.style.display=r.textContent.toLowerCase().indexOf(q)>=0?'':'none'})})});
"""

INTERNAL_MARK = "Internal — contains unredacted texts; not for publication"


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

    def __init__(self, title: str, *, subtitle: str = "", internal: bool = False) -> None:
        self.title = title
        self.subtitle = subtitle
        #: True when the report shows unredacted texts: marked internal at the top, on every
        #: section and on every printed page
        self.internal = internal
        self._sections: list[_Section] = []
        self._tables = 0

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
        self,
        frame: pd.DataFrame,
        *,
        caption: str = "",
        float_format: str | None = None,
        max_rows: int = 500,
        formats: Mapping[str, str | int] | None = None,
        collapse_after: int = 25,
        headers: Mapping[str, str] | None = None,
    ) -> HtmlReport:
        """Add a sortable table formatted for readers (see :mod:`statcoder.report.format`).

        Numbers are right-aligned with thousands separators and fixed decimals per column
        (``float_format`` such as ``"{:.4f}"`` fixes them for every float column; ``formats``
        per column: ``"pct"``, ``"int"``, ``"p"``, ``"text"`` or a number of decimals); text is
        left-aligned and escaped; missing values show as "—" with a footnote; headers are
        turned into words (``headers`` overrides). Tables longer than ``collapse_after`` rows
        are collapsed with a search box; rows past ``max_rows`` are cut with a note.
        """
        from statcoder.report import format as fmt

        shown = frame.head(max_rows)
        formats = dict(formats or {})
        default_places = fmt.decimals_from_format(float_format)
        columns = list(shown.columns)
        formatters, numeric, short, right = [], [], [], []
        for position, name in enumerate(columns):
            values = shown.iloc[:, position].tolist()
            spec = formats.get(str(name))
            kind = spec if isinstance(spec, str) else None
            places = spec if isinstance(spec, int) and not isinstance(spec, bool) else None
            if places is None and kind is None and default_places is not None and any(
                isinstance(v, float) for v in values
            ):
                places = default_places
            is_num = kind != "text" and fmt.is_numeric_column(values)
            numeric.append(is_num)
            all_missing = bool(values) and all(fmt.is_missing(v) for v in values)
            right.append(is_num or all_missing or (fmt.looks_numeric(values) and "code" not in str(name).lower()))
            short.append(not is_num and all(len(fmt.text_cell(v)) <= 16 for v in values))
            formatters.append(fmt.column_formatter(name, values, decimals=places, kind=kind))
        names = dict(headers or {})
        head = "".join(
            f'<th class="{"num" if is_right else "txt"}">{html.escape(names.get(str(c), fmt.header(c)))}</th>'
            for c, is_right in zip(columns, right, strict=True)
        )
        rows, any_na = [], False
        for record in shown.itertuples(index=False):
            cells = []
            for value, formatter, is_num, is_short, is_right in zip(record, formatters, numeric, short, right,
                                                                    strict=True):
                text = formatter(value)
                any_na = any_na or text == fmt.NA
                if is_num:
                    sort_key = "" if fmt.is_missing(value) else f' data-v="{float(value)!r}"'
                    cells.append(f'<td class="num"{sort_key}>{html.escape(text)}</td>')
                elif is_right:
                    cells.append(f'<td class="num">{html.escape(text)}</td>')
                else:
                    cells.append(f'<td class="txt{" short" if is_short else ""}">{html.escape(text)}</td>')
            rows.append("<tr>" + "".join(cells) + "</tr>")
        self._tables += 1
        table_id = f"t{self._tables}"
        cap = f"<caption>{html.escape(caption)}</caption>" if caption else ""
        table = (
            f'<div class="table-wrap"><table class="sortable" id="{table_id}">{cap}<thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table></div>"
        )
        if len(shown) > collapse_after:
            label = html.escape(caption or "table")
            table = (
                f'<details class="long"><summary>{label}: {len(shown):,} rows (click to show; search and sort '
                f'inside)</summary><input class="filter" type="search" placeholder="search rows" '
                f'aria-label="search rows of {label}" data-table="{table_id}">{table}</details>'
            )
        notes = []
        if any_na:
            notes.append(fmt.NA_FOOTNOTE)
        if len(frame) > max_rows:
            notes.append(f"{len(frame) - max_rows:,} more rows are in the JSON or CSV output.")
        more = "".join(f'<p class="note">{html.escape(n)}</p>' for n in notes)
        self._current().parts.append(table + more)
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
        mark = f'<p class="internal-section">{html.escape(INTERNAL_MARK)}</p>' if self.internal else ""
        body = "".join(
            f'<section id="{s.anchor}"><h2>{html.escape(s.title)}</h2>{mark}{"".join(s.parts)}</section>'
            for s in self._sections
        )
        sub = f"<p>{html.escape(self.subtitle)}</p>" if self.subtitle else ""
        banner = f'<div class="internal" role="note">{html.escape(INTERNAL_MARK)}</div>' if self.internal else ""
        title = f"[internal] {self.title}" if self.internal else self.title
        return (
            '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            f"<title>{html.escape(title)}</title>"
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<style>{_CSS}</style></head><body>{banner}<header><h1>{html.escape(self.title)}</h1>{sub}</header>"
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
