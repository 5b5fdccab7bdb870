"""Reading inputs chunk by chunk: CSV/TSV (streamed), Parquet files, directories and hive datasets.

A source yields :class:`Chunk` objects of at most ``chunk_size`` rows in a fixed order, so
chunk ``i`` is the same rows on every run of the same input (the basis of ``--resume``).
Every input is opened and its columns checked before any row is coded or written.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from statcoder.batch.chunks import check_text_columns
from statcoder.errors import InputError

CSV_SUFFIXES = (".csv", ".txt", ".csv.gz", ".txt.gz")
TSV_SUFFIXES = (".tsv", ".tab", ".tsv.gz")
PARQUET_SUFFIXES = (".parquet", ".pq")
#: Formats read whole (they are small by nature: Excel stops at ~1 M rows) then cut in chunks.
WHOLE_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".sav", ".zsav", ".dta")


@dataclass(frozen=True)
class Chunk:
    """Rows ``[start, start + len(frame))`` of the input; ``partition`` is its hive sub-path.

    ``frame`` is an Arrow table for Parquet inputs (the columns pass through the engine in
    Arrow) and a pandas DataFrame for the others.
    """

    index: int
    start: int
    frame: pa.Table | pd.DataFrame
    partition: str = ""


def _suffix(path: Path) -> str:
    if path.suffix.lower() == ".gz":
        return "".join(path.suffixes[-2:]).lower()
    return path.suffix.lower()


class Source:
    """An opened input: its columns, its row count (exact or estimated) and its chunks."""

    def __init__(self, path: str | Path, *, text_columns: Sequence[str], encoding: str | None = None) -> None:
        self.path = Path(path)
        self._encoding_given = encoding
        self.encoding = encoding or "utf-8"
        self.where = str(self.path)
        if not self.path.exists():
            raise InputError(f"input not found: {self.path}", hint="check the path")
        self.partition_columns: list[str] = []
        self.kind = self._open()
        check_text_columns(self.columns, text_columns, where=self.where)

    # ---- opening ------------------------------------------------------------------------
    def _open(self) -> str:
        if self.path.is_dir():
            return self._open_dataset()
        suffix = _suffix(self.path)
        if suffix in PARQUET_SUFFIXES:
            return self._open_dataset()
        if suffix in CSV_SUFFIXES or suffix in TSV_SUFFIXES:
            return self._open_csv(suffix)
        if suffix in WHOLE_SUFFIXES:
            from statcoder.io import read_table

            self._whole = read_table(self.path, encoding=self.encoding)
            self.columns = list(self._whole.columns)
            self.total_rows = len(self._whole)
            return "whole"
        raise InputError(f"cannot read files of type {suffix or '(none)'}", where=self.where,
                         hint="use csv, tsv, parquet, a directory of Parquet files, xlsx, sav or dta")

    def _open_dataset(self) -> str:
        try:
            if self.path.is_dir():
                dataset = ds.dataset(self.path, format="parquet", partitioning="hive",
                                     exclude_invalid_files=False)
            else:
                dataset = ds.dataset(self.path, format="parquet")
            fragments = sorted(dataset.get_fragments(), key=lambda f: f.path)
            total = sum(f.metadata.num_rows for f in fragments)
        except (pa.ArrowInvalid, OSError, ValueError) as exc:
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise InputError(f"cannot read the Parquet input: {first}", where=self.where,
                             hint="check that every file is valid Parquet") from None
        if not fragments:
            raise InputError("no Parquet files found", where=self.where, hint="point the input (CLI: --input) at .parquet files")
        self._fragments = fragments
        self._schema = dataset.schema
        file_columns = set(fragments[0].physical_schema.names)
        self.partition_columns = [n for n in dataset.schema.names if n not in file_columns]
        self.columns = list(dataset.schema.names)
        self.total_rows = total
        return "parquet"

    def _open_csv(self, suffix: str) -> str:
        import gzip

        from statcoder.io.tables import detect_text_encoding

        if self._encoding_given is None:  # as every other command reads text tables: a BOM names the encoding
            self.encoding = detect_text_encoding(self.path)
        opener = gzip.open if suffix.endswith(".gz") else open
        try:
            with opener(self.path, "rt", encoding=self.encoding, errors="replace", newline="") as handle:
                sample = handle.read(65536)
        except LookupError:
            raise InputError(f"unknown encoding {self.encoding!r}", where="--encoding",
                             hint="e.g. utf-8, cp1252, latin-1") from None
        except OSError as exc:
            raise InputError(f"cannot read the file ({exc.strerror or type(exc).__name__})", where=self.where,
                             hint="check the path and the file's permissions") from None
        if not sample.strip():
            raise InputError("the file is empty", where=self.where, hint="give a file with a header row")
        if suffix in TSV_SUFFIXES:
            self._delimiter = "\t"
        else:
            try:
                self._delimiter = csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
            except csv.Error:
                self._delimiter = ","
        header = next(csv.reader([sample.splitlines()[0]], delimiter=self._delimiter))
        self.columns = [h.strip() for h in header]
        self._raw_header = header
        # an estimate for the progress bar; exact counting would read the file twice
        size = os.path.getsize(self.path)
        lines = max(1, sample.count("\n"))
        self.total_rows = max(1, int(size / (len(sample.encode("utf-8", "replace")) / lines)) - 1)
        self._exact_total = False
        return "csv"

    @property
    def exact_total(self) -> bool:
        """True when ``total_rows`` is exact (Parquet and whole files), False for an estimate."""
        return getattr(self, "_exact_total", True)

    # ---- chunks -------------------------------------------------------------------------
    def chunks(self, chunk_size: int) -> Iterator[Chunk]:
        """Yield the input's chunks in order (at most ``chunk_size`` rows each)."""
        if self.kind == "parquet":
            yield from self._parquet_chunks(chunk_size)
        elif self.kind == "csv":
            yield from self._csv_chunks(chunk_size)
        else:
            for index, start in enumerate(range(0, len(self._whole), chunk_size)):
                yield Chunk(index, start, self._whole.iloc[start : start + chunk_size].reset_index(drop=True))

    def _parquet_chunks(self, chunk_size: int) -> Iterator[Chunk]:
        index = start = 0
        for fragment in self._fragments:
            keys = ds.get_partition_keys(fragment.partition_expression) if self.partition_columns else {}
            partition = "/".join(f"{k}={keys[k]}" for k in self.partition_columns if k in keys)
            try:
                # pre_buffer=False: with Arrow's default the reader keeps every row group it has read
                # until the file is closed, so memory would grow with the size of one large file
                batches = pq.ParquetFile(fragment.path, pre_buffer=False).iter_batches(batch_size=chunk_size)
                for batch in batches:
                    table = pa.Table.from_batches([batch])
                    for column in self.partition_columns:
                        kind = self._schema.field(column).type
                        table = table.append_column(pa.field(column, kind),
                                                    pa.array([keys.get(column)] * len(table), type=kind))
                    yield Chunk(index, start, table, partition)
                    index += 1
                    start += len(table)
            except (pa.ArrowInvalid, OSError) as exc:
                first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                raise InputError(f"cannot read the Parquet input: {first}", where=fragment.path,
                                 hint="check that the file is valid Parquet") from None

    def _csv_chunks(self, chunk_size: int) -> Iterator[Chunk]:
        import pyarrow.csv as pacsv

        names = [str(c) for c in self._raw_header]
        # a plain buffered stream (never a memory map, whose touched pages would count as resident)
        reader = pacsv.open_csv(
            pa.input_stream(str(self.path), compression="detect", buffer_size=1 << 20),
            read_options=pacsv.ReadOptions(block_size=1 << 20, column_names=names, skip_rows=1, use_threads=False,
                                           encoding=self.encoding),
            parse_options=pacsv.ParseOptions(delimiter=self._delimiter, newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(column_types={n: pa.binary() for n in names},
                                                 strings_can_be_null=False, quoted_strings_can_be_null=False),
        )
        pending: list[pa.Table] = []
        held = index = start = 0
        try:
            for batch in reader:
                pending.append(pa.Table.from_batches([batch]))
                held += batch.num_rows
                while held >= chunk_size:
                    table = pa.concat_tables(pending)
                    yield Chunk(index, start, self._decode(table.slice(0, chunk_size)))
                    index, start = index + 1, start + chunk_size
                    pending, held = [table.slice(chunk_size)], held - chunk_size
        except pa.ArrowInvalid as exc:
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise InputError(f"cannot read the CSV file: {first}", where=self.where,
                             hint="check the quoting and that every row has the header's columns") from None
        if held:
            yield Chunk(index, start, self._decode(pa.concat_tables(pending)))

    def _decode(self, table: pa.Table) -> pd.DataFrame:
        """Binary CSV columns as text; invalid UTF-8 is replaced by U+FFFD (flagged by the coder)."""
        columns = {}
        for name, raw in zip(self.columns, table.columns, strict=True):
            try:
                columns[name] = pc.cast(raw, pa.string()).to_pandas()
            except pa.ArrowInvalid:
                values = raw.to_pylist()
                columns[name] = pd.Series([v.decode("utf-8", errors="replace") if v is not None else ""
                                           for v in values], dtype=object)
        frame = pd.DataFrame(columns)
        # a decoded value that contains U+FFFD from the file itself is indistinguishable; rare
        return frame.astype(object) if len(frame) else frame

