"""Micro-batching: concurrent calls share one model call and each gets exactly its rows."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pandas as pd
import pytest

from statcoder.service.batching import MicroBatcher


def upper(frame: pd.DataFrame) -> pd.DataFrame:
    """A row-wise function standing in for a model call; records how many rows it saw."""
    calls.append(len(frame))
    if (frame["text"] == "boom").any():
        raise ValueError("bad record")
    return pd.DataFrame({"out": frame["text"].str.upper()})


calls: list[int] = []


def test_concurrent_calls_are_coalesced_and_split_back():
    calls.clear()
    batcher = MicroBatcher(wait_s=0.2)
    frames = [pd.DataFrame({"text": [f"r{i}-{j}" for j in range(i + 1)]}) for i in range(8)]
    barrier = threading.Barrier(8)

    def call(frame):
        barrier.wait()
        return batcher.run("model", frame, upper)

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(call, frames))
    for frame, result in zip(frames, results, strict=True):
        assert result["out"].tolist() == [t.upper() for t in frame["text"]]
    assert len(calls) < 8 and sum(calls) == sum(len(f) for f in frames)


def test_a_failing_record_fails_only_its_own_request():
    calls.clear()
    batcher = MicroBatcher(wait_s=0.2)
    frames = [pd.DataFrame({"text": ["ok1"]}), pd.DataFrame({"text": ["boom"]}), pd.DataFrame({"text": ["ok2"]})]
    barrier = threading.Barrier(3)

    def call(frame):
        barrier.wait()
        try:
            return batcher.run("model", frame, upper)["out"].tolist()
        except ValueError:
            return "failed"

    with ThreadPoolExecutor(3) as pool:
        results = list(pool.map(call, frames))
    assert results == [["OK1"], "failed", ["OK2"]]


def test_different_keys_never_share_a_call_and_zero_wait_disables_batching():
    calls.clear()
    assert MicroBatcher(wait_s=0).run("k", pd.DataFrame({"text": ["a"]}), upper)["out"].tolist() == ["A"]
    batcher = MicroBatcher(wait_s=0.1)
    barrier = threading.Barrier(2)

    def call(key):
        barrier.wait()
        return batcher.run(key, pd.DataFrame({"text": [key]}), upper)["out"].tolist()

    with ThreadPoolExecutor(2) as pool:
        assert list(pool.map(call, ["a", "b"])) == [["A"], ["B"]]
    assert calls[1:] == [1, 1]


@pytest.mark.parametrize("cap", [3])
def test_batches_are_capped_in_records(cap):
    calls.clear()
    batcher = MicroBatcher(wait_s=0.2, max_records=cap)
    barrier = threading.Barrier(4)

    def call(i):
        barrier.wait()
        return batcher.run("m", pd.DataFrame({"text": [f"x{i}", f"y{i}"]}), upper)

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(call, range(4)))
    assert max(calls) <= cap and sum(calls) == 8
