"""Small server-rendered SVG charts (no JavaScript): bars, and points with intervals.

Each returns a self-contained ``<svg>`` string with a ``<title>`` and ``aria-label`` so
screen readers announce what it shows; the numbers are always in a table next to it too.
"""

from __future__ import annotations

from html import escape

from markupsafe import Markup

WIDTH = 360
ROW = 18


def _fmt(value: float, percent: bool) -> str:
    return f"{value:.1%}" if percent else f"{value:,.0f}" if float(value).is_integer() else f"{value:.2f}"


def _open(label: str, height: int) -> str:
    return (f'<svg class="chart" role="img" aria-label="{escape(label)}" width="{WIDTH}" '
            f'height="{height}" viewBox="0 0 {WIDTH} {height}"><title>{escape(label)}</title>')


def bar_chart(items: list[tuple[str, float]], *, label: str, percent: bool = False) -> Markup:
    """Return a horizontal bar chart of (name, value) pairs."""
    if not items:
        return Markup("")
    top = max(v for _, v in items) or 1.0
    height = ROW * len(items) + 4
    parts = [_open(label, height)]
    for i, (name, value) in enumerate(items):
        y = i * ROW + 2
        w = max(1.0, 180 * value / top)
        parts.append(f'<text x="0" y="{y + 12}" class="lbl">{escape(name[:22])}</text>'
                     f'<rect x="120" y="{y + 2}" width="{w:.1f}" height="{ROW - 6}" class="bar"/>'
                     f'<text x="{124 + w:.1f}" y="{y + 12}" class="val">{_fmt(value, percent)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def interval_chart(items: list[tuple[str, float, float, float]], *, label: str,
                   reference: float | None = None) -> Markup:
    """Return points with 95 % intervals on a 0-100 % axis: (name, value, lower, upper).

    ``reference`` draws a dashed vertical line (e.g. the promised accuracy).
    """
    if not items:
        return Markup("")
    height = ROW * len(items) + 20
    x0, span = 120, 220

    def x(v: float) -> float:
        return x0 + span * min(max(v, 0.0), 1.0)

    parts = [_open(label, height)]
    for i, (name, value, lo, hi) in enumerate(items):
        y = i * ROW + 10
        parts.append(f'<text x="0" y="{y + 4}" class="lbl">{escape(name[:22])}</text>'
                     f'<line x1="{x(lo):.1f}" x2="{x(hi):.1f}" y1="{y}" y2="{y}" class="ci"/>'
                     f'<circle cx="{x(value):.1f}" cy="{y}" r="3.5" class="pt"/>')
    base = height - 8
    parts.append(f'<line x1="{x0}" x2="{x0 + span}" y1="{base}" y2="{base}" class="axis"/>'
                 f'<text x="{x0}" y="{height}" class="val">0%</text>'
                 f'<text x="{x0 + span - 22}" y="{height}" class="val">100%</text>')
    if reference is not None:
        parts.append(f'<line x1="{x(reference):.1f}" x2="{x(reference):.1f}" y1="0" y2="{base}" '
                     f'class="ref"><title>promised {reference:.0%}</title></line>')
    parts.append("</svg>")
    return Markup("".join(parts))
