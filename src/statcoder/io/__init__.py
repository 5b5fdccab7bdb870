"""Readers and writers for tables (CSV, Parquet, Excel, SPSS, Stata) and atomic writes."""

from statcoder.io.atomic import atomic_write_bytes, atomic_write_text, atomic_write_with
from statcoder.io.tables import read_table, require_columns, write_table_atomic

__all__ = [
    "atomic_write_bytes",
    "atomic_write_text",
    "atomic_write_with",
    "read_table",
    "require_columns",
    "write_table_atomic",
]
