"""Progress of a batch run: a rich bar with rows/s and ETA on a terminal, log lines otherwise."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TextColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from statcoder.batch.local import ProgressFn
from statcoder.clock import clock_text


class _RateColumn(ProgressColumn):
    def render(self, task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("" if speed is None else f"{speed:,.0f} rows/s")


def _eta(seconds: float) -> str:
    seconds = int(max(0, seconds))
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m" if seconds >= 3600 else f"{seconds // 60}m{seconds % 60:02d}s"


@contextmanager
def batch_progress(*, quiet: bool = False, console: Console | None = None,
                   every_s: float = 10.0) -> Iterator[ProgressFn | None]:
    """Yield an ``on_progress(done, total, description)`` callback (None when ``quiet``).

    On a terminal (stderr) a bar with rows, rows/s and time remaining; when stderr is captured,
    one line every ``every_s`` seconds with the same figures (never any record content).
    """
    if quiet:
        yield None
        return
    err = console or Console(stderr=True)
    if sys.stderr.isatty():
        with Progress(TextColumn("[progress.description]{task.description}"), BarColumn(), MofNCompleteColumn(),
                      _RateColumn(), TimeRemainingColumn(), console=err, transient=False) as bar:
            task = bar.add_task("coding", total=None)

            def update(done: int, total: int, description: str = "coding") -> None:
                bar.update(task, completed=done, total=total, description=description)

            yield update
        return
    started = time.perf_counter()
    last = [started]
    printed: list[tuple[int, int] | None] = [None]

    def log(done: int, total: int, description: str = "coding") -> None:
        now = time.perf_counter()
        if (done, total) == printed[0] or (now - last[0] < every_s and done < total):
            return  # the same figures again (the engine reports its end twice), or too soon
        printed[0] = (done, total)
        last[0] = now
        rate = done / max(now - started, 1e-9)
        eta = (total - done) / rate if rate > 0 else 0.0
        when = "done" if done >= total else f"about {_eta(eta)} left"
        # the same line format as the command line's other stages: "[statcoder m:ss] stage: ..."
        print(f"[statcoder {clock_text(now - started)}] {description}: {done:,} / {total:,} rows "
              f"({done / max(total, 1):.0%}), {rate:,.0f} rows/s, {when}", file=sys.stderr, flush=True)

    yield log
