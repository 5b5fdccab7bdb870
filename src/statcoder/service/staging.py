"""Staging of a job's input: the file is rewritten once as Parquet with one row group per chunk.

Chunk ``i`` of a job is then row group ``i`` of the staged file, read directly on resume.
Every column is text (missing values -> ""), as everywhere in statcoder.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from statcoder.batch.chunks import check_text_columns
from statcoder.errors import InputError
from statcoder.io import atomic_write_with


def _csv_frames(path: Path, size: int) -> Iterator[pd.DataFrame]:
    try:
        # a byte that is not UTF-8 becomes U+FFFD: that record is coded review with problem
        # invalid_encoding (batch/chunks.py), as the command line does; the file is not refused
        reader = pd.read_csv(
            path, dtype=str, keep_default_na=False, chunksize=size, encoding="utf-8", encoding_errors="replace",
        )
        yield from reader
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise InputError(
            f"the CSV file cannot be read ({type(exc).__name__})", where="job input",
            hint="send UTF-8 CSV with a header row",
        ) from None


def _parquet_frames(path: Path, size: int) -> Iterator[pd.DataFrame]:
    try:
        parquet = pq.ParquetFile(path, pre_buffer=False)  # read row groups are not kept (batch/sources.py)
        for batch in parquet.iter_batches(batch_size=size):
            frame = batch.to_pandas()
            for i, field in enumerate(batch.schema):  # bytes columns: text, with U+FFFD for bytes that are not UTF-8
                if pa.types.is_binary(field.type) or pa.types.is_large_binary(field.type):
                    frame[field.name] = [v.decode("utf-8", "replace") if v is not None else ""
                                         for v in batch.column(i).to_pylist()]
            yield frame.astype(object).where(frame.notna(), "").astype(str)
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputError(
            f"the Parquet file cannot be read ({type(exc).__name__})", where="job input",
            hint="send a valid Parquet file",
        ) from None


def _exact_chunks(frames: Iterator[pd.DataFrame], size: int) -> Iterator[pd.DataFrame]:
    """Re-cut frames of any length into frames of exactly ``size`` rows (the last may be shorter)."""
    pending: list[pd.DataFrame] = []
    held = 0
    for frame in frames:
        pending.append(frame)
        held += len(frame)
        while held >= size:
            joined = pd.concat(pending, ignore_index=True)
            yield joined.iloc[:size]
            rest = joined.iloc[size:]
            pending, held = [rest], len(rest)
    if held:
        yield pd.concat(pending, ignore_index=True)


def stage_input(
    source: Path, fmt: str, target: Path, *, chunk_size: int, text_columns: list[str],
    on_chunk: Callable[[int], None] | None = None,
) -> int:
    """Write ``source`` to ``target`` as Parquet, one row group per chunk; returns the row count.

    Raises InputError for unreadable files or missing text columns. ``on_chunk(rows so far)``
    is called after each chunk (the worker renews its lease there).
    """
    frames = _csv_frames(source, chunk_size) if fmt == "csv" else _parquet_frames(source, chunk_size)
    total = 0

    def write(tmp: Path) -> None:
        nonlocal total
        writer = None
        schema = None
        for chunk in _exact_chunks(frames, chunk_size):
            if not len(chunk):
                continue
            if writer is None:  # missing text columns, or output columns the coding would overwrite
                check_text_columns([str(c) for c in chunk.columns], text_columns, where="job input")
                schema = pa.schema([(str(c), pa.string()) for c in chunk.columns])
                writer = pq.ParquetWriter(tmp, schema, compression="zstd")
            table = pa.Table.from_pandas(chunk.astype(str), schema=schema, preserve_index=False)
            writer.write_table(table, row_group_size=chunk_size)
            total += len(chunk)
            if on_chunk is not None:
                on_chunk(total)
        if writer is None:
            raise InputError("the job file has no rows", where="job input", hint="send a file with records")
        writer.close()

    atomic_write_with(target, write)
    return total


def snapshot_checked_file(
    resolved: Path, target: Path, *, allowed: Callable[[Path], bool], max_bytes: int
) -> int:
    """Copy the regular file ``resolved`` to ``target`` through ONE descriptor; returns its size.

    The file is opened without following a final symlink, and the descriptor's real path is
    checked again with ``allowed`` (a directory swapped for a link after the caller resolved
    the path is caught here). What is copied is therefore exactly the file that was checked:
    replacing the path by a link after submission changes nothing for the job. InputError
    for anything but a regular file, PathNotAllowedError for a file with hard links (its other
    name may lie anywhere), PayloadTooLargeError past ``max_bytes``.
    """
    from statcoder.service.errors import PathNotAllowedError, PayloadTooLargeError

    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(resolved, flags)
    except OSError as exc:
        raise InputError(f"the file cannot be opened ({_os_reason(exc)})", where="path",
                         hint="check the path and the file's permissions") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise InputError("the path is not a regular file", where="path", hint="give the path of a file")
        if info.st_nlink > 1:  # a hard link made elsewhere (another project's file) passes every path check
            raise PathNotAllowedError("the file has other names (hard links)", where="path",
                                      hint="copy the file into the directory instead of linking it")
        proc_link = Path(f"/proc/self/fd/{fd}")
        opened = Path(os.readlink(proc_link)) if proc_link.is_symlink() else resolved
        if opened != resolved or not allowed(opened):
            raise PathNotAllowedError(
                "the path changed while it was checked", where="path",
                hint="place the file in one of the directories set in STATCODER_ALLOWED_JOB_DIRS",
            )
        if not proc_link.is_symlink():  # no /proc: the descriptor must be the checked inode
            checked = os.stat(resolved, follow_symlinks=False)
            if (checked.st_dev, checked.st_ino) != (info.st_dev, info.st_ino):
                raise PathNotAllowedError("the path changed while it was checked", where="path",
                                          hint="submit the job again")
        if info.st_size > max_bytes:
            raise PayloadTooLargeError(f"the file is larger than {max_bytes} bytes", where="path",
                                       hint="split the file, or ask the operator to raise STATCODER_MAX_UPLOAD_BYTES")
        os.set_blocking(fd, True)
        copied = 0

        def write(tmp: Path) -> None:
            nonlocal copied
            with open(tmp, "wb") as out:
                while block := os.read(fd, 1 << 20):
                    copied += len(block)
                    if copied > max_bytes:  # the file grew after the check
                        raise PayloadTooLargeError(f"the file is larger than {max_bytes} bytes", where="path",
                                                   hint="split the file")
                    out.write(block)

        atomic_write_with(target, write)
        return copied
    finally:
        os.close(fd)


def _os_reason(exc: OSError) -> str:
    """Return the OS error's short name (never its message: that holds the path)."""
    import errno

    return errno.errorcode.get(exc.errno or 0, type(exc).__name__)
