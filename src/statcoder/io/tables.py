"""Reading and writing tables: CSV/TSV, Parquet, Excel, SPSS and Stata.

Every column is read as text (codes keep leading zeros; missing values become ""), because
statcoder never guesses types for codes or free text. Writing goes through a temp file and a
rename, so a crash leaves either the old file or the new one.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from statcoder.errors import InputError
from statcoder.io.atomic import atomic_write_with

READABLE = (".csv", ".tsv", ".tab", ".txt", ".parquet", ".pq", ".xlsx", ".xlsm", ".xls", ".sav", ".zsav", ".dta", ".gz")
WRITABLE = (".csv", ".tsv", ".parquet", ".xlsx")


def _as_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Every column as str; NaN/None -> ''; floats that are whole numbers lose the '.0'."""
    out = {}
    for name in frame.columns:
        col = frame[name]
        if pd.api.types.is_float_dtype(col):
            whole = col.dropna()
            if len(whole) and (whole == whole.round()).all():
                col = col.astype("Int64")
        text = col.astype(object).where(col.notna(), "")
        out[str(name)] = text.map(lambda v: v if isinstance(v, str) else str(v))
    return pd.DataFrame(out, index=frame.index)


TEXT_SUFFIXES = (".csv", ".txt", ".csv.gz", ".txt.gz", ".tsv", ".tab", ".tsv.gz")
_BOMS = ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16"))


def read_table(path: str | Path, *, sheet: str | int | None = None, encoding: str | None = None) -> pd.DataFrame:
    """Read a table file into a DataFrame of strings (missing values as "").

    Formats by extension: .csv/.txt (comma or sniffed), .tsv/.tab, .csv.gz, .parquet,
    .xlsx/.xls (``sheet`` name or index, first by default), .sav/.zsav (SPSS), .dta (Stata).
    SPSS/Stata value labels are not applied: the stored codes are returned as text.
    ``encoding`` applies to text files and SPSS/Stata files; by default text files are UTF-8,
    or UTF-8/UTF-16 when they start with a byte-order mark. A text file that looks binary
    (NUL bytes and no UTF-16 mark) is refused with an error that says so.
    """
    path = Path(path)
    if not path.is_file():
        if path.is_dir():
            raise InputError(f"expected a file, got a directory: {path}", hint="give the path of a table file")
        raise InputError(f"input file not found: {path}", hint="check the path and that the file exists")
    suffix = "".join(path.suffixes[-2:]).lower() if path.suffix.lower() == ".gz" else path.suffix.lower()
    if encoding is not None:
        _check_encoding(encoding)
    text_encoding = encoding
    if suffix in TEXT_SUFFIXES:
        text_encoding = encoding or detect_text_encoding(path)
    try:
        if suffix in (".csv", ".txt", ".csv.gz", ".txt.gz"):
            frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding=text_encoding,
                                sep=_sniff_delimiter(path, text_encoding or "utf-8"))
        elif suffix in (".tsv", ".tab", ".tsv.gz"):
            frame = pd.read_csv(path, dtype=str, keep_default_na=False, sep="\t", encoding=text_encoding)
        elif suffix in (".parquet", ".pq"):
            frame = _as_text(pd.read_parquet(path))
        elif suffix in (".xlsx", ".xlsm", ".xls"):
            frame = _as_text(pd.read_excel(path, sheet_name=0 if sheet is None else sheet, dtype=object))
        elif suffix in (".sav", ".zsav"):
            import pyreadstat

            raw, _meta = pyreadstat.read_sav(str(path), apply_value_formats=False, encoding=encoding)
            frame = _as_text(raw)
        elif suffix == ".dta":
            import pyreadstat

            raw, _meta = pyreadstat.read_dta(str(path), apply_value_formats=False, encoding=encoding)
            frame = _as_text(raw)
        else:
            raise InputError(
                f"cannot read files of type {suffix or '(none)'}",
                where=str(path),
                hint=f"use one of: {', '.join(READABLE)}",
            )
    except InputError:
        raise
    except UnicodeDecodeError as exc:
        name = text_encoding or "UTF-8"
        offset, line, reason = first_undecodable(path, text_encoding or "utf-8")
        place = f"{reason} at byte {offset:,}, line {line:,}" if offset is not None else exc.reason
        raise InputError(
            f"the file is not {name} text ({place})",
            where=str(path),
            hint="pass its encoding, e.g. cp1250 or latin-1 (CLI: --encoding), or save it as UTF-8 "
            "(in Excel: 'CSV UTF-8')",
        ) from None
    except pd.errors.EmptyDataError:
        raise InputError("the file is empty", where=str(path), hint="give a file with a header row") from None
    except (pd.errors.ParserError, ValueError, OSError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(f"cannot read the file: {first}", where=str(path), hint="check that the file is a valid " + suffix.lstrip(".") + " file") from None
    except Exception as exc:  # noqa: BLE001 - readers of binary formats raise their own exception types
        raise InputError(
            f"cannot read the file ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})",
            where=str(path),
            hint="check that the file is not damaged and matches its extension",
        ) from None
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame


def _check_encoding(encoding: str) -> None:
    import codecs

    try:
        codecs.lookup(encoding)
    except LookupError:
        raise InputError(f"unknown encoding {encoding!r}", where="--encoding",
                         hint="e.g. utf-8, utf-8-sig, cp1250, cp1252, latin-1, utf-16") from None


def _head(path: Path, size: int = 8192) -> bytes:
    import gzip

    opener = gzip.open if path.suffix.lower() == ".gz" else open
    try:
        with opener(path, "rb") as handle:
            return handle.read(size)
    except (OSError, EOFError) as exc:
        raise InputError(f"cannot read the file: {exc}", where=str(path),
                         hint="check that the file is not damaged and matches its extension") from None


def first_undecodable(path: Path, encoding: str, *, block: int = 1 << 20) -> tuple[int | None, int, str]:
    """Return (byte offset counted from 0, line number counted from 1, the decoder's reason) of
    the first byte ``path`` cannot be decoded at in ``encoding``; (None, 0, "") when it decodes
    (or is unreadable).

    The reader's own error counts within its buffer; this reads the file again, a block at a
    time (only on the error path), so a message can point at the place."""
    import codecs
    import gzip

    decoder = codecs.getincrementaldecoder(encoding)()
    opener = gzip.open if path.suffix.lower() == ".gz" else open
    offset, lines = 0, 1
    try:
        with opener(path, "rb") as handle:
            while chunk := handle.read(block):
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError as exc:
                    before = decoder.getstate()[0] if hasattr(decoder, "getstate") else b""
                    start = offset + max(0, exc.start - len(before))
                    return start, lines + chunk[: max(0, exc.start - len(before))].count(b"\n"), exc.reason
                offset += len(chunk)
                lines += chunk.count(b"\n")
    except (OSError, EOFError, LookupError):
        pass
    return None, 0, ""


def detect_text_encoding(path: Path) -> str:
    """The encoding of a text table given without ``--encoding``: UTF-8, or the one its
    byte-order mark names (``utf-8-sig``, ``utf-16``); InputError for a file that looks binary."""
    head = _head(path)
    for bom, name in _BOMS:
        if head.startswith(bom):
            return name
    if b"\x00" in head:
        raise InputError(
            "the file looks binary, not like a text table (it contains NUL bytes)",
            where=str(path),
            hint="give a CSV/TSV text file, or a file whose extension matches its format "
            "(.parquet, .xlsx, .sav, .dta)",
        )
    return "utf-8"


def _sniff_delimiter(path: Path, encoding: str = "utf-8") -> str:
    """Comma, semicolon, tab or pipe, whichever the first lines use consistently (comma by default).

    Spaces are never taken as the delimiter: a one-column file of texts has spaces in every line.
    """
    import csv
    import gzip

    opener = gzip.open if path.suffix.lower() == ".gz" else open
    try:
        with opener(path, "rt", encoding=encoding, newline="") as handle:
            sample = handle.read(65536)
    except UnicodeDecodeError:
        return ","  # the full read reports the decoding error with its position
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        return ","


def require_columns(frame: pd.DataFrame, columns: list[str], *, where: str) -> None:
    """Raise InputError naming the missing columns (and the ones that exist)."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InputError(
            f"column(s) {', '.join(repr(c) for c in missing)} not found",
            where=where,
            hint=f"the columns are: {', '.join(map(str, frame.columns[:30]))}",
        )


def write_table_atomic(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write ``frame`` to ``path`` (format from the extension) atomically; returns the path."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in WRITABLE:
        raise InputError(
            f"cannot write files of type {suffix or '(none)'}", where=str(path), hint=f"use one of: {', '.join(WRITABLE)}"
        )

    def write(tmp: Path) -> None:
        if suffix == ".csv":
            frame.to_csv(tmp, index=False)
        elif suffix == ".tsv":
            frame.to_csv(tmp, index=False, sep="\t")
        elif suffix == ".parquet":
            frame.to_parquet(tmp, index=False)
        else:
            frame.to_excel(tmp, index=False, engine="openpyxl")

    return atomic_write_with(path, write)
