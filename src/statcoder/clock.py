"""Elapsed time as a reader reads it on a progress line (standard library only: the CLI imports it
at start-up)."""

from __future__ import annotations


def clock_text(seconds: float) -> str:
    """``"m:ss"`` below an hour, ``"h:mm:ss"`` above (whole seconds, never negative)."""
    seconds = max(0, round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"
