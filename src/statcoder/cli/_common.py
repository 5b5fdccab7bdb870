"""Shared pieces of the CLI: error reporting and progress bars."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from statcoder.errors import StatcoderError

console = Console()
err_console = Console(stderr=True)

F = TypeVar("F", bound=Callable[..., Any])


def report_errors(func: F) -> F:
    """Turn a StatcoderError into ``error: ... (where)`` / ``hint: ...`` on stderr and exit 2."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except StatcoderError as exc:
            where = f" ({exc.where})" if exc.where else ""
            err_console.print(f"[bold red]error:[/] {exc.message}{where}", highlight=False, soft_wrap=True)
            if exc.hint:
                err_console.print(f"[bold]hint:[/] {exc.hint}", highlight=False, soft_wrap=True)
            raise typer.Exit(code=2) from None

    return wrapper  # type: ignore[return-value]


class _Bar:
    """A callable ``on_progress(done, total, description)`` backed by a rich task."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self._tasks: dict[str, Any] = {}

    def __call__(self, done: int, total: int, description: str = "working") -> None:
        task = self._tasks.get(description)
        if task is None:
            task = self._progress.add_task(description, total=total)
            self._tasks[description] = task
        self._progress.update(task, completed=done, total=total)


@contextmanager
def progress() -> Iterator[_Bar]:
    """Context manager yielding an ``on_progress(done, total, description)`` callback.

    Bars are drawn on stderr, and only when stderr is a terminal, so piped output stays clean.
    """
    with Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err_console,
        disable=not sys.stderr.isatty(),
        transient=False,
    ) as bar:
        yield _Bar(bar)
