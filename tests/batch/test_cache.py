"""A worker's cache of coded texts: bounded, first in first out, and never changing the output.

(Resuming after a SIGKILL with the cache active is covered by
``test_local.py::test_resume_after_sigkill_is_byte_identical``: the cache is on by default.)
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from statcoder.batch import code_files
from statcoder.batch.cache import MAX_CACHED_CHARS, TextCache
from statcoder.batch.chunks import cache_for, code_chunk, code_table
from statcoder.coder import Coder


def test_text_cache_is_bounded_and_first_in_first_out():
    cache = TextCache(3, {"v": object, "n": np.int64})
    cache.store(["a", "b", "c", "d"], {"v": np.array(["A", "B", "C", "D"], dtype=object), "n": np.arange(4)})
    assert len(cache) == 3
    slots = cache.lookup(["a", "b", "c", "d", "zzz"])
    assert slots[0] == -1 and slots[4] == -1  # "a" was the oldest: evicted by "d"
    assert cache.gather(slots[1:4])["v"].tolist() == ["B", "C", "D"]
    assert cache.gather(slots[1:4])["n"].tolist() == [1, 2, 3]
    # more new keys than slots in one call: the last three own the slots, with their own values
    keys = ["k1", "k2", "k3", "k4", "k5"]
    cache.store(keys, {"v": np.array([k.upper() for k in keys], dtype=object), "n": np.arange(5)})
    slots = cache.lookup(keys)
    assert (slots[:2] == -1).all() and cache.gather(slots[2:])["v"].tolist() == ["K3", "K4", "K5"]
    # missing texts and long texts are not kept
    cache.store([None, "x" * (MAX_CACHED_CHARS + 1), ("a", None)], {"v": np.array(["-", "-", "T"], dtype=object),
                                                                  "n": np.zeros(3, dtype=np.int64)})
    assert cache.lookup([None, "x" * (MAX_CACHED_CHARS + 1)]).tolist() == [-1, -1]
    assert cache.gather(cache.lookup([("a", None)]))["v"].tolist() == ["T"]
    assert cache.hits == 7 and len(cache) == 3


def _two_column_records(records: pd.DataFrame) -> pd.DataFrame:
    """Records whose texts repeat across chunks, with a second text column and bad rows."""
    rows = pd.concat([records.iloc[:600]] * 3, ignore_index=True).sample(frac=1.0, random_state=3)
    rows = rows.reset_index(drop=True)
    rows["duties"] = np.where(np.arange(len(rows)) % 3 == 0, "repairs machines", None)
    rows.loc[5, "text"], rows.loc[6, "text"], rows.loc[7, "text"] = None, "12345", "caf\ufffd waiter"
    rows.loc[5, "duties"], rows.loc[6, "duties"] = None, None
    rows["rid"] = [f"r{i:05d}" for i in range(len(rows))]
    return rows


def test_cache_never_changes_the_output(model_dir, records, tmp_path):
    frame = _two_column_records(records)
    frame.to_parquet(tmp_path / "in.parquet", index=False)
    outputs = {}
    for size in (0, 40, 100_000):  # none, one that evicts all the time, the default
        out = tmp_path / f"out-{size}.csv"
        code_files(model_dir, tmp_path / "in.parquet", out, text_columns=["text", "duties"], workers=1,
                   chunk_size=250, cache_size=size)
        outputs[size] = out.read_bytes()
    assert outputs[0] == outputs[40] == outputs[100_000]
    coded = pd.read_csv(tmp_path / "out-0.csv", dtype=str, keep_default_na=False)
    assert coded.loc[5, "problem"] == "missing" and coded.loc[6, "problem"] == "not_text"
    assert coded.loc[7, "problem"] == "invalid_encoding" and len(coded) == len(frame)


def test_arrow_chunks_code_as_pandas_chunks_and_reuse_results(model_dir, records):
    coder = Coder.load(model_dir)
    frame = _two_column_records(records)
    first, second = frame.iloc[:900].reset_index(drop=True), frame.iloc[900:].reset_index(drop=True)
    cache = cache_for(coder, 10_000)
    code_table(coder, pa.Table.from_pandas(first, preserve_index=False), text_columns=["text", "duties"], cache=cache)
    misses = cache.misses
    table = code_table(coder, pa.Table.from_pandas(second, preserve_index=False), text_columns=["text", "duties"],
                       cache=cache)
    assert cache.hits > 0 and cache.misses - misses < second[["text", "duties"]].drop_duplicates().shape[0]
    expected = code_chunk(coder, second, text_columns=["text", "duties"])
    got = table.to_pandas()
    assert list(got.columns) == list(expected.columns)
    for column in expected.columns:
        assert got[column].astype(str).tolist() == expected[column].astype(str).tolist(), column
