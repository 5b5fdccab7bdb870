"""Self-contained HTML reports (inline SVG charts, readable offline) shared by every area."""

from statcoder.report.html import HtmlReport, figure_to_svg

__all__ = ["HtmlReport", "figure_to_svg"]
