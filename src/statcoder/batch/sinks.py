"""Writing coded chunks: one part file per chunk in a work directory, assembled at the end.

Layout while a run is in progress (nothing exists at the final path)::

    <out parent>/.<out name>.statcoder-work/
        state.json                       what the run is (input, model, options)
        parts/part-000042.csv|parquet    one per completed chunk (temp file + rename)
        data/<k=v/...>/part-000042.parquet   instead, for a Parquet directory output

A chunk is complete exactly when its part file exists, so ``--resume`` codes only the
chunks without one. ``finish`` assembles the parts in input order into a temp file (or,
for a directory output, renames the data directory) and renames it to the final path.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from statcoder.batch.chunks import BATCH_TYPES
from statcoder.errors import InputError
from statcoder.io.atomic import atomic_write_with, current_umask

OUTPUT_KINDS = {".csv": "csv", ".tsv": "tsv", ".parquet": "parquet", ".pq": "parquet", ".xlsx": "xlsx"}


def output_kind(path: Path) -> str:
    """Return csv, tsv, parquet, xlsx or dataset (a directory of Parquet files, no extension)."""
    if path.suffix == "" or path.is_dir():
        return "dataset"
    kind = OUTPUT_KINDS.get(path.suffix.lower())
    if kind is None:
        raise InputError(f"cannot write files of type {path.suffix}", where=str(path),
                         hint="use .csv, .tsv, .parquet, .xlsx, or a directory name for a Parquet dataset")
    return kind


def output_schema(input_schema: pa.Schema, *, drop: Iterable[str] = ()) -> pa.Schema:
    """The output schema: input fields (dictionaries as plain values) then the batch columns."""
    dropped = set(drop)
    fields = []
    for field in input_schema:
        if field.name in dropped or field.name in BATCH_TYPES:
            continue
        kind = field.type.value_type if pa.types.is_dictionary(field.type) else field.type
        if pa.types.is_null(kind):
            kind = pa.string()
        fields.append(pa.field(field.name, kind))
    fields += [pa.field(name, kind) for name, kind in BATCH_TYPES.items()]
    return pa.schema(fields)


@dataclass(frozen=True)
class PartWriter:
    """Writes the part file of one chunk; picklable, so worker processes write their own parts."""

    work: str
    kind: str
    schema: pa.Schema
    partition_columns: tuple[str, ...] = ()

    def part_path(self, index: int, partition: str = "") -> Path:
        """Where chunk ``index`` is written."""
        if self.kind == "dataset":
            base = Path(self.work) / "data"
            return (base / partition if partition else base) / f"part-{index:06d}.parquet"
        suffix = "csv" if self.kind in ("csv", "tsv") else "parquet"
        return Path(self.work) / "parts" / f"part-{index:06d}.{suffix}"

    def write(self, index: int, frame: pd.DataFrame | pa.Table, partition: str = "") -> Path:
        """Write ``frame`` (coded chunk ``index``, pandas or Arrow) atomically; returns the part path."""
        target = self.part_path(index, partition)
        if isinstance(frame, pa.Table):
            table = frame.drop_columns([c for c in self.partition_columns if c in frame.column_names])
            if self.kind not in ("csv", "tsv"):
                table = table.cast(self.schema)
                return atomic_write_with(target, lambda tmp: pq.write_table(table, tmp, compression="zstd"))
            frame = table.to_pandas()
        frame = frame.drop(columns=[c for c in self.partition_columns if c in frame.columns])
        if self.kind in ("csv", "tsv"):
            text = frame.to_csv(index=False, header=False, sep="\t" if self.kind == "tsv" else ",",
                                lineterminator="\n")
            return atomic_write_with(target, lambda tmp: tmp.write_text(text, encoding="utf-8"))
        table = pa.Table.from_pandas(frame, schema=self.schema, preserve_index=False)
        return atomic_write_with(target, lambda tmp: pq.write_table(table, tmp, compression="zstd"))

    def done(self) -> set[int]:
        """Indexes of the chunks whose part file exists (completed chunks)."""
        root = Path(self.work) / ("data" if self.kind == "dataset" else "parts")
        if not root.is_dir():
            return set()
        return {int(p.name[5:11]) for p in root.rglob("part-*.*") if not p.name.endswith(".tmp")
                and p.name[5:11].isdigit()}


def work_dir(output: Path) -> Path:
    """The work directory of a run writing ``output``."""
    return output.parent / f".{output.name}.statcoder-work"


def finished_chunks(output: Path) -> int:
    """Return how many chunks an earlier (interrupted) run writing ``output`` completed (0: none)."""
    work = work_dir(output)
    if not work.is_dir():
        return 0
    return sum(1 for p in work.rglob("part-*.*") if not p.name.endswith(".tmp") and p.name[5:11].isdigit())


def start_work(output: Path, state: dict, *, resume: bool) -> tuple[Path, bool]:
    """Prepare the work directory; returns (its path, whether an earlier run is resumed).

    With ``resume`` an earlier run's parts are kept when its state matches ``state`` exactly;
    a different state is an InputError. Without ``resume`` any earlier work is discarded.
    """
    work = work_dir(output)
    state_file = work / "state.json"
    if work.is_dir() and resume and state_file.is_file():
        earlier = json.loads(state_file.read_text(encoding="utf-8"))
        if earlier != state:
            changed = sorted(k for k in set(earlier) | set(state) if earlier.get(k) != state.get(k))
            raise InputError(
                "the interrupted run was made with other input, model or options: " + ", ".join(changed),
                where=str(work), hint="run again with the same options, or without --resume to start over",
            )
        return work, True
    if resume:
        import warnings

        finished = "the earlier run finished" if output.exists() else "no interrupted run was found"
        warnings.warn(f"nothing to resume for {output.name}: {finished}; coding the whole input again",
                      stacklevel=2)
    if work.is_dir():
        kept = finished_chunks(output)
        if kept and not resume:
            import warnings

            warnings.warn(f"an interrupted run writing {output.name} had finished {kept} chunk(s); they are "
                          "discarded and the whole input is coded again (--resume, resume=True in Python, "
                          "continues an interrupted run instead)", stacklevel=2)
        shutil.rmtree(work)
    work.mkdir(parents=True)
    atomic_write_with(state_file, lambda tmp: tmp.write_text(json.dumps(state, sort_keys=True), encoding="utf-8"))
    return work, False


class Assembler:
    """Appends completed parts, in input order, to the output's temp file while the run goes on.

    For a single-file Parquet, CSV or TSV output: the main process calls :meth:`advance` as
    chunks complete, so the parts are copied into ``<work>/assembling.tmp`` during the run
    instead of all at the end. Only :func:`finish` renames it to the output (after fsync):
    an interrupted run leaves nothing at the output path, and a resumed run assembles again
    from its first part. Other kinds (xlsx, a dataset directory) are assembled by ``finish``.
    """

    def __init__(self, writer: PartWriter, columns: list[str]) -> None:
        self.writer = writer
        self.next = 0
        self.path = Path(writer.work) / "assembling.tmp"
        self._out = None
        if writer.kind == "parquet":
            self._out = pq.ParquetWriter(self.path, writer.schema, compression="zstd")
        elif writer.kind in ("csv", "tsv"):
            sep = "\t" if writer.kind == "tsv" else ","
            self._out = open(self.path, "wb")  # noqa: SIM115 - closed by close()
            self._out.write(pd.DataFrame(columns=columns).to_csv(index=False, sep=sep, lineterminator="\n").encode())

    @property
    def streaming(self) -> bool:
        """Whether this output kind is assembled during the run."""
        return self._out is not None

    def advance(self, completed: set[int]) -> None:
        """Append every part from the next one on that is in ``completed`` (stops at the first gap)."""
        if self._out is None:
            return
        while self.next in completed:
            part = self.writer.part_path(self.next)
            if isinstance(self._out, pq.ParquetWriter):
                self._out.write_table(pq.read_table(part, schema=self.writer.schema))
            else:
                with open(part, "rb") as handle:
                    shutil.copyfileobj(handle, self._out, 1 << 20)
            self.next += 1

    def close(self) -> None:
        """Close the temp file (fsynced); idempotent."""
        if self._out is None:
            return
        out, self._out = self._out, None
        if isinstance(out, pq.ParquetWriter):
            out.close()
            with open(self.path, "rb") as handle:
                os.fsync(handle.fileno())
        else:
            out.flush()
            os.fsync(out.fileno())
            out.close()


def finish(writer: PartWriter, output: Path, n_chunks: int, columns: list[str],
           assembler: Assembler | None = None) -> Path:
    """Assemble the parts in order at ``output`` (atomically) and remove the work directory.

    With an ``assembler`` that streamed the parts during the run, only the remaining parts
    are appended before the rename.
    """
    work = Path(writer.work)
    if assembler is not None and assembler.streaming:
        assembler.advance(set(range(n_chunks)))
        if assembler.next != n_chunks:
            raise RuntimeError(f"part {assembler.next} of {n_chunks} is missing in {work}")
        assembler.close()
        os.chmod(assembler.path, 0o666 & ~current_umask())
        os.replace(assembler.path, output)
        shutil.rmtree(work)
        return output
    if writer.kind == "dataset":
        data = work / "data"
        data.mkdir(exist_ok=True)
        if output.exists():
            if not output.is_dir() or any(output.iterdir()):
                raise InputError("the output directory exists and is not empty", where=str(output),
                                 hint="choose a new directory name, or remove it")
            output.rmdir()
        os.replace(data, output)
        shutil.rmtree(work)
        return output
    parts = [writer.part_path(i) for i in range(n_chunks)]
    if writer.kind in ("csv", "tsv"):
        sep = "\t" if writer.kind == "tsv" else ","

        def write(tmp: Path) -> None:
            with open(tmp, "wb") as out:
                out.write(pd.DataFrame(columns=columns).to_csv(index=False, sep=sep, lineterminator="\n").encode())
                for part in parts:
                    with open(part, "rb") as handle:
                        shutil.copyfileobj(handle, out, 1 << 20)

        atomic_write_with(output, write)
    elif writer.kind == "parquet":

        def write(tmp: Path) -> None:
            with pq.ParquetWriter(tmp, writer.schema, compression="zstd") as out:
                for part in parts:
                    out.write_table(pq.read_table(part, schema=writer.schema))

        atomic_write_with(output, write)
    else:  # xlsx: bounded by Excel itself (1,048,576 rows)
        from statcoder.io import write_table_atomic

        frame = pd.concat([pq.read_table(p, schema=writer.schema).to_pandas() for p in parts], ignore_index=True)
        write_table_atomic(frame, output)
    shutil.rmtree(work)
    return output
