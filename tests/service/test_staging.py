"""Job input staging: one Parquet row group per chunk, all text, clean errors for bad files."""

from __future__ import annotations

import pandas as pd
import pyarrow.parquet as pq
import pytest

from statcoder.errors import InputError
from statcoder.service.staging import stage_input


def test_csv_is_staged_in_exact_chunks_as_text(tmp_path):
    source = tmp_path / "in.csv"
    pd.DataFrame({"id": range(103), "text": [f"t{i}" for i in range(103)], "n": [""] * 103}).to_csv(source, index=False)
    seen = []
    n = stage_input(source, "csv", tmp_path / "s.parquet", chunk_size=25, text_columns=["text"], on_chunk=seen.append)
    staged = pq.ParquetFile(tmp_path / "s.parquet")
    assert n == 103 and seen == [25, 50, 75, 100, 103]
    assert [staged.metadata.row_group(i).num_rows for i in range(staged.num_row_groups)] == [25, 25, 25, 25, 3]
    frame = staged.read().to_pandas()
    assert frame["id"].tolist() == [str(i) for i in range(103)] and frame["n"].eq("").all()


def test_parquet_batches_are_recut_to_the_chunk_size(tmp_path):
    source = tmp_path / "in.parquet"
    pd.DataFrame({"text": [f"t{i}" for i in range(70)], "x": [1.5] * 70}).to_parquet(source, row_group_size=30)
    n = stage_input(source, "parquet", tmp_path / "s.parquet", chunk_size=20, text_columns=["text"])
    staged = pq.ParquetFile(tmp_path / "s.parquet")
    assert n == 70 and [staged.metadata.row_group(i).num_rows for i in range(4)] == [20, 20, 20, 10]
    assert staged.read().to_pandas()["x"].iloc[0] == "1.5"


def test_missing_text_column_and_unreadable_files_are_input_errors(tmp_path):
    source = tmp_path / "in.csv"
    source.write_text("id,label\n1,a\n", encoding="utf-8")
    with pytest.raises(InputError, match="text"):
        stage_input(source, "csv", tmp_path / "s.parquet", chunk_size=10, text_columns=["text"])
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"not parquet at all")
    with pytest.raises(InputError):
        stage_input(bad, "parquet", tmp_path / "s2.parquet", chunk_size=10, text_columns=["text"])
    empty = tmp_path / "empty.csv"
    empty.write_text("text\n", encoding="utf-8")
    with pytest.raises(InputError):
        stage_input(empty, "csv", tmp_path / "s3.parquet", chunk_size=10, text_columns=["text"])
    assert not (tmp_path / "s.parquet").exists()  # nothing half-written
