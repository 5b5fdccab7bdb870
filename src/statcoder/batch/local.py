"""The local streaming engine: any input size, bounded memory, every core, resumable.

The main process reads the input chunk by chunk (:mod:`statcoder.batch.sources`) and hands
each chunk to a pool of worker processes; every worker loads the model directory once (hash
checked, never unpickled: only its path crosses the process boundary), codes its chunk with
:func:`statcoder.batch.chunks.code_chunk` and writes the chunk's part file. At most
``2 x workers`` chunks are in flight, so memory does not grow with the input. When every
chunk is written the parts are assembled in input order and renamed to the output path.
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from multiprocessing import get_context, parent_process
from multiprocessing.connection import wait as wait_for_ready
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from statcoder.batch.cache import DEFAULT_CACHE_SIZE
from statcoder.batch.chunks import cache_for, card_max_text_length, code_chunk, code_table
from statcoder.batch.sinks import (
    Assembler,
    PartWriter,
    finish,
    output_kind,
    output_schema,
    start_work,
)
from statcoder.batch.sources import Source
from statcoder.errors import InputError

ProgressFn = Callable[[int, int, str], None]
DEFAULT_CHUNK_SIZE = 20_000


@dataclass
class BatchResult:
    """What a batch run did: rows coded, time, decisions and problems by kind (row counts)."""

    output: Path
    rows: int = 0
    seconds: float = 0.0
    chunks: int = 0
    resumed_chunks: int = 0
    decisions: Counter = field(default_factory=Counter)
    problems: Counter = field(default_factory=Counter)

    @property
    def rate(self) -> float:
        """Rows coded per second of wall time in this run (resumed chunks excluded)."""
        return self.rows / self.seconds if self.seconds > 0 else 0.0


# ---- worker side ------------------------------------------------------------------------------
_WORKER: dict = {}


def _init_worker(model_dir: str, options: dict) -> None:
    """Load the model once in this worker process (hash-checked), keep the options, make its cache."""
    from statcoder.coder import Coder

    threading.Thread(target=_exit_with_parent, name="statcoder-parent-watch", daemon=True).start()
    _WORKER["coder"] = Coder.load(model_dir)
    _WORKER.update(options)
    _WORKER["cache"] = cache_for(_WORKER["coder"], options.get("cache_size", DEFAULT_CACHE_SIZE))


def _exit_with_parent() -> None:
    """End this worker as soon as the main process is gone (killed with SIGKILL, say).

    The pool's queues are shared with the other workers, so a worker never sees the end of its
    input when the main process dies: it would go on coding and writing part files beside the run
    that resumes the job. The parent's sentinel becomes ready when the parent exits.
    """
    parent = parent_process()
    if parent is not None:
        wait_for_ready([parent.sentinel])
        os._exit(1)


def _run_chunk(index: int, frame: pa.Table | pd.DataFrame, partition: str) -> tuple[int, int, dict, dict]:
    """Code and write one chunk; returns (index, rows, decision counts, problem counts)."""
    code = code_table if isinstance(frame, pa.Table) else code_chunk
    coded = code(_WORKER["coder"], frame, text_columns=_WORKER["text_columns"], top_k=_WORKER["top_k"],
                 max_text_length=_WORKER["max_text_length"], where=_WORKER["where"], cache=_WORKER["cache"])
    _WORKER["writer"].write(index, coded, partition)
    return index, len(coded), _counts(coded["decision"]), _counts(coded["problem"])


def _counts(values: pa.ChunkedArray | pd.Series) -> dict[str, int]:
    """{value: rows} of a string column, without the empty value (no problem)."""
    if isinstance(values, pd.Series):
        values = pa.chunked_array([pa.array(values.to_numpy(dtype=object).astype(str))])
    counted = pc.value_counts(values)
    return {str(v): int(c) for v, c in zip(counted.field("values").to_pylist(), counted.field("counts").to_pylist(),
                                           strict=True) if v}


def _input_state(source: Source) -> dict:
    """Identify the input by path, size and modification time of every file it reads."""
    path = source.path.resolve()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    return {"input": str(path), "files": [[str(p.relative_to(path)) if path.is_dir() else p.name,
                                           p.stat().st_size, p.stat().st_mtime_ns] for p in files]}


# ---- main side -----------------------------------------------------------------------------------
def check_not_input(input_path: Path, output: Path) -> None:
    """Raise InputError when writing ``output`` would replace or write into the input."""
    source, target = input_path.resolve(), output.resolve()
    if target == source:
        raise InputError("the output would replace the input file", where=str(output),
                         hint="write the coded records to another file (--out)")
    if source.is_dir() and target.is_relative_to(source):
        raise InputError("the output would be written inside the input directory (and read as input next time)",
                         where=str(output), hint="write the coded records outside the input directory (--out)")


def code_files(
    model_dir: str | Path, input_path: str | Path, output_path: str | Path, *,
    text_columns: Sequence[str] | None = None, top_k: int = 5, max_text_length: int | None = None,
    workers: int | None = None, chunk_size: int = DEFAULT_CHUNK_SIZE, resume: bool = False,
    encoding: str | None = None, on_progress: ProgressFn | None = None, cache_size: int = DEFAULT_CACHE_SIZE,
) -> BatchResult:
    """Code ``input_path`` with the model in ``model_dir`` and write ``output_path``.

    Returns a :class:`BatchResult`. ``workers`` defaults to every core (1 codes in this
    process). Nothing is written at ``output_path`` until the run is complete; with
    ``resume`` the chunks completed by an interrupted run with the same input, model and
    options are kept. Each worker keeps the results of up to ``cache_size`` short texts it
    has coded and reuses them in later chunks (0: no cache; the output is the same).
    Raises InputError/ModelFileError before any output on a missing text column, an
    unreadable input or a damaged model.
    """
    from statcoder.models.persistence import read_model_dir

    if top_k < 1:
        raise InputError(f"top_k must be at least 1, got {top_k}", hint="pass top_k >= 1, e.g. 5 (CLI: --top-k)")
    if chunk_size < 1:
        raise InputError(f"chunk size must be at least 1, got {chunk_size}", hint="e.g. 20000")
    card, _ = read_model_dir(model_dir)
    columns = list(text_columns or card.get("training_data", {}).get("text_columns", ["text"]))
    if max_text_length is None:  # the limit the model was trained with travels in its card
        max_text_length = card_max_text_length(card)
    output = Path(output_path)
    check_not_input(Path(input_path), output)
    source = Source(input_path, text_columns=columns, encoding=encoding)
    kind = output_kind(output)
    partitions = tuple(source.partition_columns) if kind == "dataset" else ()
    schema = _input_schema(source)
    writer = PartWriter(work="", kind=kind, schema=output_schema(schema, drop=partitions),
                        partition_columns=partitions)
    state = {"engine": "local", "model_version": card.get("version"), "text_columns": columns, "top_k": top_k,
             "max_text_length": max_text_length, "chunk_size": chunk_size, "output_kind": kind,
             **_input_state(source)}
    work, resumed = start_work(output, state, resume=resume)
    writer = PartWriter(work=str(work), kind=kind, schema=writer.schema, partition_columns=partitions)
    done = writer.done() if resumed else set()
    options = {"text_columns": columns, "top_k": top_k, "max_text_length": max_text_length,
               "where": source.where, "writer": writer, "cache_size": cache_size}
    n_workers = max(1, workers if workers is not None else (os.cpu_count() or 1))
    result = BatchResult(output=output, resumed_chunks=len(done))
    started = time.perf_counter()
    total = source.total_rows
    seen_done = [0]
    completed = set(done)
    assembler = Assembler(writer, [f.name for f in writer.schema if f.name not in partitions])

    def account(index: int, rows: int, decisions: dict, problems: dict) -> None:
        completed.add(index)
        assembler.advance(completed)
        result.rows += rows
        result.decisions.update(decisions)
        result.problems.update(problems)
        if on_progress is not None:
            on_progress(min(seen_done[0], total) if source.exact_total else seen_done[0],
                        max(total, seen_done[0]),
                        "coding" if source.exact_total or seen_done[0] >= total else "coding (total estimated)")

    try:
        seen = _code_all(source, chunk_size, done, str(model_dir), options, n_workers, seen_done, account)
    except BaseException:
        assembler.close()
        raise
    result.chunks = seen
    result.seconds = time.perf_counter() - started
    finish(writer, output, seen, [f.name for f in writer.schema if f.name not in partitions], assembler)
    if on_progress is not None:
        on_progress(seen_done[0], seen_done[0], "coding")
    return result


def _code_all(source: Source, chunk_size: int, done: set[int], model_dir: str, options: dict, n_workers: int,
              seen_done: list[int], account: Callable[..., None]) -> int:
    """Code every chunk not in ``done`` (in this process or a pool); returns the chunk count."""
    seen = 0
    if n_workers == 1:
        _init_worker(model_dir, options)
        try:
            for chunk in source.chunks(chunk_size):
                seen = chunk.index + 1
                if chunk.index in done:
                    seen_done[0] += len(chunk.frame)
                    continue
                index, rows, decisions, problems = _run_chunk(chunk.index, chunk.frame, chunk.partition)
                seen_done[0] += rows
                account(index, rows, decisions, problems)
        finally:
            _WORKER.clear()
        return seen
    return _run_pool(source, chunk_size, done, model_dir, options, n_workers, seen_done, account)


def _run_pool(source: Source, chunk_size: int, done: set[int], model_dir: str, options: dict,
              n_workers: int, seen_done: list[int], account: Callable[..., None]) -> int:
    """Feed chunks to ``n_workers`` processes, at most two per worker in flight; returns the chunk count."""
    pending: dict[Future, int] = {}
    seen = 0
    with ProcessPoolExecutor(max_workers=n_workers, mp_context=get_context("spawn"),
                             initializer=_init_worker, initargs=(model_dir, options)) as pool:
        try:
            for chunk in source.chunks(chunk_size):
                seen = chunk.index + 1
                if chunk.index in done:
                    seen_done[0] += len(chunk.frame)
                    continue
                while len(pending) >= 2 * n_workers:
                    _collect(pending, seen_done, account, wait(pending, return_when=FIRST_COMPLETED).done)
                pending[pool.submit(_run_chunk, chunk.index, chunk.frame, chunk.partition)] = len(chunk.frame)
            while pending:
                _collect(pending, seen_done, account, wait(pending, return_when=FIRST_COMPLETED).done)
        except BaseException:
            for future in pending:
                future.cancel()
            raise
    return seen


def _collect(pending: dict[Future, int], seen_done: list[int], account, finished) -> None:
    for future in finished:
        pending.pop(future)
        index, rows, decisions, problems = future.result()
        seen_done[0] += rows
        account(index, rows, decisions, problems)


def _input_schema(source: Source) -> pa.Schema:
    if source.kind == "parquet":
        return source._schema
    return pa.schema([(c, pa.string()) for c in source.columns])

