"""Shared pieces of the CLI: error reporting, progress, input reading and the common options.

Every option that means the same thing in several commands is defined once here (name, help
and checks), so ``--text``, ``--code``, ``--data``, ``--model``, ``--out``, ``--encoding``,
``--cv-folds``, ``--seed``, ``--target-accuracy`` and ``--top-k`` read and fail the same way
everywhere. Old spellings live on as hidden options that warn (:func:`use_alias`).

Only the standard library, typer and rich are imported at module level: ``statcoder --help``
must not pay for pandas, scikit-learn or matplotlib.
"""

from __future__ import annotations

import functools
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console

from statcoder.clock import clock_text
from statcoder.errors import ConfigurationError, StatcoderError

if TYPE_CHECKING:
    import pandas as pd

def _width(stream: Any) -> int | None:
    """Rich's own width on a terminal or with COLUMNS set; 120 columns when output is captured
    (rich would use 80, which truncates the tables of estimates)."""
    try:
        terminal = stream.isatty()
    except (AttributeError, ValueError):
        terminal = False
    return None if terminal or os.environ.get("COLUMNS") else 120


def _soft_wrap(stream: Any) -> bool:
    """True when output is captured: lines are written whole (a log reader or grep gets one line per
    message); a terminal gets rich's word wrap."""
    try:
        return not stream.isatty()
    except (AttributeError, ValueError):
        return True


console = Console(width=_width(sys.stdout), soft_wrap=_soft_wrap(sys.stdout))
err_console = Console(stderr=True, width=_width(sys.stderr), soft_wrap=_soft_wrap(sys.stderr))

F = TypeVar("F", bound=Callable[..., Any])


def report_errors(func: F) -> F:
    """Turn a StatcoderError into ``error: ... (where)`` / ``hint: ...`` on stderr and exit 2."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except StatcoderError as exc:
            _print_error(exc)
            raise typer.Exit(code=2) from None
        except ValidationError as exc:
            if exc.title not in _SETTINGS_CLASSES:
                raise
            _print_error(settings_error(exc))
            raise typer.Exit(code=2) from None

    return wrapper  # type: ignore[return-value]


#: the settings classes whose validation errors are the user's environment (STATCODER_*)
_SETTINGS_CLASSES = ("Settings", "ServiceSettings")


def settings_error(exc: ValidationError) -> ConfigurationError:
    """Return the project's error for an invalid ``STATCODER_*`` setting: which variable, what was wrong."""
    first = exc.errors()[0]
    name = "STATCODER_" + "_".join(str(part) for part in first["loc"]).upper()
    return ConfigurationError(f"setting {name} is invalid: {first['msg']}", where=name,
                              hint=f"fix the environment variable {name} or the option that sets it, or unset it (the README lists every setting)")


def _print_error(exc: StatcoderError) -> None:
    where = f" ({exc.where})" if exc.where else ""
    err_console.print(f"[bold red]error:[/] {exc.message}{where}", highlight=False, soft_wrap=True)
    if exc.hint:
        err_console.print(f"[bold]hint:[/] {exc.hint}", highlight=False, soft_wrap=True)


def warn(message: str) -> None:
    """Print ``warning: message`` on stderr (never free text from the data)."""
    err_console.print(f"[bold yellow]warning:[/] {message}", highlight=False, soft_wrap=True)


# ---- the common options ------------------------------------------------------------------------
# One definition each; commands use them as parameter annotations.

TEXT_HELP = "Text column(s); repeat or comma-separate for several (joined with \" | \")."
DataOpt = Annotated[Path, typer.Option("--data", help="Input records (csv, tsv, parquet, xlsx, sav, dta).")]
CodeOpt = Annotated[str, typer.Option("--code", help="Column holding the true (given) codes.")]
TextOpt = Annotated[list[str] | None, typer.Option("--text", help=TEXT_HELP + " Default: text.")]
#: --text of a command that takes a --model: the same option, defaulting to the model's text columns
ModelTextOpt = Annotated[list[str] | None, typer.Option(
    "--text", help=TEXT_HELP + " Default: the model's text columns (from its card), else text.")]
ModelOpt = Annotated[Path, typer.Option("--model", help="Model directory written by `statcoder train`.")]
OutOpt = Annotated[Path, typer.Option("--out", help="Where to write the output.")]
EncodingOpt = Annotated[
    str | None,
    typer.Option("--encoding", help="Encoding of text input files (e.g. cp1250, latin-1); default UTF-8, "
                 "or UTF-8/UTF-16 when the file starts with a byte-order mark."),
]
CvFoldsOpt = Annotated[
    int | None, typer.Option("--cv-folds", help="Cross-validation folds, at least 2 (default 5, or 3 above 20,000 records).")
]
#: seeds go to numpy's generators, which take 0 ... 2**32 - 1
SEED_MIN, SEED_MAX = 0, 2**32 - 1
SeedOpt = Annotated[int, typer.Option("--seed", min=SEED_MIN, max=SEED_MAX,
                                      help="Random seed (folds, solvers, sampling), 0 or more.")]
TargetAccuracyOpt = Annotated[
    float, typer.Option("--target-accuracy", help="Accuracy that auto-coded records must reach (between 0 and 1).")
]
TopKOpt = Annotated[int, typer.Option("--top-k", help="Candidates per record / k of top-k accuracy (at least 1).")]
MaxTextLengthOpt = Annotated[
    int | None,
    typer.Option("--max-text-length", help="Longest text in characters (default: the model's limit, else "
                 "STATCODER_MAX_TEXT_LENGTH, 10,000)."),
]
#: the same option where no model is given yet (``train``, ``quality``): a trained model keeps the limit
TrainMaxTextLengthOpt = Annotated[
    int | None,
    typer.Option("--max-text-length", help="Longest text in characters; longer ones are cut and counted (default: "
                 "STATCODER_MAX_TEXT_LENGTH, 10,000; a trained model keeps its limit for coding)."),
]
ShowTextsOpt = Annotated[
    bool,
    typer.Option("--show-texts", help="Show texts in the report unredacted; the report is then marked internal "
                 "on every page. By default texts pass through the personal-data redaction."),
]


def hidden_alias(*names: str, type_help: str = "") -> Any:
    """A hidden option for an old spelling (see :func:`use_alias`)."""
    return typer.Option(*names, hidden=True, help=type_help or "Deprecated spelling.")


def use_alias(value: Any, old_value: Any, *, old: str, new: str, default: Any = None) -> Any:
    """The value of option ``new``, taking ``old_value`` (given under the old spelling) with a warning.

    Giving both spellings with different values is an error.
    """
    if old_value is None or old_value == [] or old_value is False:
        return value
    warn(f"{old} is deprecated; use {new} (same meaning)")
    if value not in (None, [], default) and value != old_value:
        raise ConfigurationError(f"both {new} and {old} were given", where=f"{new} / {old}",
                                 hint=f"use only {new}")
    return old_value


def check_cv_folds(value: int | None) -> int | None:
    """None (the default rule) or an integer >= 2; 0 and 1 are refused with the same message."""
    if value is not None and value < 2:
        raise ConfigurationError(
            f"--cv-folds must be at least 2, got {value}", where="--cv-folds",
            hint="leave it out for the default (5, or 3 above 20,000 records), or give 2 or more",
        )
    return value


def check_target_accuracy(value: float) -> float:
    """A target accuracy strictly between 0 and 1."""
    if not 0.0 < value < 1.0:
        raise ConfigurationError(f"--target-accuracy must be between 0 and 1, got {value}",
                                 where="--target-accuracy", hint="e.g. 0.95")
    return value


def check_top_k(value: int) -> int:
    """An integer >= 1."""
    if value < 1:
        raise ConfigurationError(f"--top-k must be at least 1, got {value}", where="--top-k", hint="e.g. 5")
    return value


def check_max_text_length(value: int | None, coder: Any = None) -> int:
    """The text-length limit: ``value``, else the model's, else the setting; at least 1."""
    if value is None and coder is not None:
        value = model_limits(coder)["max_text_length"]
    if value is None:
        from statcoder.settings import get_settings

        value = get_settings().max_text_length
    if value < 1:
        raise ConfigurationError(f"--max-text-length must be at least 1, got {value}", where="--max-text-length",
                                 hint="e.g. 10000")
    return int(value)


def required(value: Any, option: str, what: str) -> Any:
    """``value``, or a ConfigurationError naming the missing ``option``."""
    if value is None:
        raise ConfigurationError(f"missing option {option}", where="command line", hint=f"pass {option} {what}")
    return value


def text_columns(value: list[str] | None, default: list[str] | None = None) -> list[str]:
    """The text columns given (comma-separated values split too), else ``default`` or ``["text"]``."""
    parts = [p.strip() for v in value or [] for p in v.split(",") if p.strip()]
    return parts or list(default or ["text"])


def read_input(path: Path, *, encoding: str | None = None, option: str = "--data") -> pd.DataFrame:
    """Read a table for a command; warns when it has a header but no records."""
    from statcoder.io import read_table

    frame = read_table(path, encoding=encoding)
    if len(frame) == 0:
        warn(f"{path} ({option}) has 0 records (a header only); the results below describe no data")
    return frame


def model_limits(coder: Any) -> dict[str, Any]:
    """What a model was trained with: ``text_columns``, ``code_column`` and ``max_text_length``
    (None when unknown).

    Reads the typed card when it has these fields, or the older dict card.
    """
    card = getattr(coder, "card", None)
    get = (lambda k, d=None: card.get(k, d)) if isinstance(card, dict) else (lambda k, d=None: getattr(card, k, d))
    training = get("training_data", {}) or {}
    read = (lambda k: training.get(k)) if isinstance(training, dict) else (lambda k: getattr(training, k, None))
    limits = get("limits", None)
    max_len = None
    if limits is not None:
        max_len = limits.get("max_text_length") if isinstance(limits, dict) else getattr(limits, "max_text_length", None)
    return {"text_columns": read("text_columns") or None, "code_column": read("code_column") or None,
            "max_text_length": max_len or read("max_text_length")}


# ---- progress ------------------------------------------------------------------------------------


class _Stage:
    def __init__(self, name: str, now: float) -> None:
        self.name, self.started, self.last_print, self.done, self.total = name, now, 0.0, 0, 0
        self.updates = 0
        self.finished = False
        self.prev_time, self.prev_done = now, 0
        self.alike = True  # every interval so far took about the mean time per step


class ProgressLog:
    """``on_progress(done, total, description)``: log lines on stderr when it is not a terminal.

    Two kinds of stage. Named stages (:meth:`stage`: reading a file, training, writing) get a
    line when they start and one with their duration when the next named stage starts. Counted
    stages (the callback: folds, chunks of records, periods) get a line when first reported, at
    most one every ``every`` seconds while they run, and one when complete, each with the elapsed
    time and the rate. The ETA is per counted stage, from that stage's own rate, shown only once
    two reports of a stage with at least 3 steps are in and only while its steps take alike times
    (each interval within a factor 2 of the mean step) and after at least 5 s; it is never
    extrapolated across stages or across unequal steps.
    """

    def __init__(self, stream: Any = None, *, every: float = 10.0, clock: Callable[[], float] = time.monotonic):
        self._stream = stream if stream is not None else sys.stderr
        self._every, self._clock = every, clock
        self._counted: dict[str, _Stage] = {}
        self._named: _Stage | None = None
        self._started = clock()
        self._last_event = self._started  # a counted stage whose first report is "1 done" began here

    def _write(self, line: str) -> None:
        print(f"[statcoder {clock_text(self._clock() - self._started)}] {line}", file=self._stream, flush=True)

    def stage(self, name: str) -> None:
        """Start a named stage (and end the previous one)."""
        self._end_named()
        self._last_event = self._clock()
        self._named = _Stage(name, self._last_event)
        self._write(f"{name} ...")

    def _end_named(self) -> None:
        if self._named is not None:
            self._write(f"{self._named.name}: done in {self._clock() - self._named.started:.1f} s")
            self._named = None

    def __call__(self, done: int, total: int, description: str = "working") -> None:
        now = self._clock()
        st = self._counted.get(description)
        new = st is None or st.finished
        if new:
            st = _Stage(description, now if done == 0 else self._last_event)
            self._counted[description] = st
        assert st is not None
        elapsed = now - st.started
        if done > st.prev_done and elapsed > 0:
            step = (now - st.prev_time) / (done - st.prev_done)
            mean = elapsed / done
            st.alike = st.alike and (mean == 0 or 0.5 <= step / mean <= 2.0)
            st.prev_time, st.prev_done = now, done
        st.done, st.total, st.updates = done, total, st.updates + 1
        self._last_event = now
        if total and done >= total:
            st.finished = True
            rate = f", {done / elapsed:,.2f} steps/s" if elapsed > 0 and total > 1 else ""
            self._write(f"{description}: {done:,}/{total:,} done in {elapsed:.1f} s{rate}")
            return
        if done == 0:
            self._write(f"{description}: started ({total:,} step{'' if total == 1 else 's'})")
            st.last_print = now
            return
        if not new and now - st.last_print < self._every:
            return
        st.last_print = now
        rate = done / elapsed if elapsed > 0 else 0.0
        eta = ""
        if total >= 3 and st.updates >= 2 and rate > 0 and st.alike and elapsed >= 5.0:
            eta = f", this stage about {clock_text((total - done) / rate)} left"
        self._write(f"{description}: {done:,}/{total:,} ({done / total:.0%}) after {elapsed:.1f} s, "
                    f"{rate:,.2f} steps/s{eta}")

    def close(self, *, failed: bool = False) -> None:
        """End the named stage still open; ``failed``: it stopped on an error, so it is not "done"."""
        if failed and self._named is not None:
            self._write(f"{self._named.name}: stopped after {self._clock() - self._named.started:.1f} s")
            self._named = None
        self._end_named()


class _Bar:
    """A callable ``on_progress(done, total, description)`` backed by a rich task."""

    def __init__(self, progress: Any) -> None:
        self._progress = progress
        self._tasks: dict[str, Any] = {}
        self._stage_task: Any = None

    def stage(self, name: str) -> None:
        if self._stage_task is not None:
            self._progress.update(self._stage_task, completed=1, total=1)
        self._stage_task = self._progress.add_task(name, total=None)

    def __call__(self, done: int, total: int, description: str = "working") -> None:
        task = self._tasks.get(description)
        if task is None:
            task = self._progress.add_task(description, total=total)
            self._tasks[description] = task
        self._progress.update(task, completed=done, total=total)

    def close(self, *, failed: bool = False) -> None:
        if self._stage_task is not None and not failed:  # a stage that hit an error stays unfinished
            self._progress.update(self._stage_task, completed=1, total=1)


def _failure(exc: BaseException) -> bool:
    """False for the ways a command ends on purpose with success (``typer.Exit()``, exit code 0)."""
    code = getattr(exc, "exit_code", getattr(exc, "code", 1))
    return not (isinstance(exc, SystemExit | RuntimeError) and code in (0, None))


def _is_terminal(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


@contextmanager
def progress() -> Iterator[Any]:
    """Context manager yielding an ``on_progress(done, total, description)`` callback with ``.stage(name)``.

    On a terminal: rich bars on stderr (an ETA only for stages of many alike steps). Otherwise
    (output captured, CI, cron): :class:`ProgressLog` lines on stderr, so long work is never silent.
    """
    if not _is_terminal(sys.stderr):
        log = ProgressLog()
        try:
            yield log
        except BaseException as exc:
            log.close(failed=_failure(exc))
            raise
        log.close()
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from statcoder.cli._eta import StageEtaColumn

    with Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        StageEtaColumn(),
        console=err_console,
        transient=False,
    ) as bar:
        wrapped = _Bar(bar)
        try:
            yield wrapped
        except BaseException as exc:
            wrapped.close(failed=_failure(exc))
            raise
        wrapped.close()
