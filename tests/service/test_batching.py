"""Micro-batching: concurrent calls share one model call and each gets exactly its rows."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from statcoder.service.batching import MicroBatcher

calls: list[int] = []


def upper(items: list[str]) -> list[str]:
    """A row-wise function standing in for a model call; records how many rows it saw."""
    calls.append(len(items))
    if "boom" in items:
        raise ValueError("bad record")
    return [t.upper() for t in items]


def slow_upper(items: list[str]) -> list[str]:
    """``upper`` that takes long enough for the next calls to queue behind it."""
    threading.Event().wait(0.15)
    return upper(items)


def test_concurrent_calls_are_coalesced_and_split_back():
    calls.clear()
    batcher = MicroBatcher(wait_s=0.2)
    parts = [[f"r{i}-{j}" for j in range(i + 1)] for i in range(8)]
    barrier = threading.Barrier(8)

    def call(items):
        barrier.wait()
        return batcher.run("model", items, upper)

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(call, parts))
    for items, result in zip(parts, results, strict=True):
        assert result == [t.upper() for t in items]
    assert len(calls) < 8 and sum(calls) == sum(len(p) for p in parts)
    assert batcher.calls == len(calls) and batcher.records == sum(calls)


def test_without_a_gather_wait_requests_queue_behind_a_running_call_and_share_the_next():
    calls.clear()
    batcher = MicroBatcher(wait_s=0)
    first = batcher.submit("m", ["first"], slow_upper)
    threading.Event().wait(0.05)  # the first call is running now
    later = [batcher.submit("m", [f"x{i}"], slow_upper) for i in range(10)]
    assert first.result(5) == ["FIRST"]
    assert [f.result(5) for f in later] == [[f"X{i}"] for i in range(10)]
    assert calls == [1, 10]  # a lone request is coded at once; the ten queued ones in one call


def test_a_failing_record_fails_only_its_own_request():
    calls.clear()
    batcher = MicroBatcher(wait_s=0.2)
    parts = [["ok1"], ["boom"], ["ok2"]]
    barrier = threading.Barrier(3)

    def call(items):
        barrier.wait()
        try:
            return batcher.run("model", items, upper)
        except ValueError:
            return "failed"

    with ThreadPoolExecutor(3) as pool:
        results = list(pool.map(call, parts))
    assert results == [["OK1"], "failed", ["OK2"]]


def test_a_code_function_returning_the_wrong_length_is_an_error_not_a_shifted_answer():
    batcher = MicroBatcher()
    with pytest.raises(RuntimeError, match="2 results for 1 items"):
        batcher.run("m", ["a"], lambda items: items * 2)


def test_different_keys_never_share_a_call_and_batching_can_be_turned_off():
    calls.clear()
    off = MicroBatcher(enabled=False)
    assert off.run("k", ["a"], upper) == ["A"] and off.calls == 1
    batcher = MicroBatcher(wait_s=0.1)
    barrier = threading.Barrier(2)

    def call(key):
        barrier.wait()
        return batcher.run(key, [key], upper)

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
        return batcher.run("m", [f"x{i}", f"y{i}"], upper)

    with ThreadPoolExecutor(4) as pool:
        assert list(pool.map(call, range(4))) == [[f"X{i}", f"Y{i}"] for i in range(4)]
    assert max(calls) <= cap and sum(calls) == 8


def test_a_key_waiting_behind_another_key_s_stream_is_served_next():
    order: list[str] = []

    def slow(items: list[str]) -> list[str]:
        order.append(items[0][0])
        threading.Event().wait(0.1)
        return items

    batcher = MicroBatcher(max_records=1)
    first = batcher.submit("A", ["a0"], slow)
    threading.Event().wait(0.03)  # A's first call is running
    stream = [batcher.submit("A", [f"a{i}"], slow) for i in range(1, 5)]
    other = batcher.submit("B", ["b0"], slow)
    assert other.result(5) == ["b0"] and first.result(5) == ["a0"]
    assert [f.result(5) for f in stream] == [[f"a{i}"] for i in range(1, 5)]
    assert order[:2] == ["a", "b"]  # B right after the call in progress, not after A's queue


def test_a_key_is_never_coded_by_two_threads_at_once():
    active: dict[str, int] = {}
    peak: dict[str, int] = {}
    guard = threading.Lock()

    def tracked(items: list[str]) -> list[str]:
        key = items[0][0]
        with guard:
            active[key] = active.get(key, 0) + 1
            peak[key] = max(peak.get(key, 0), active[key])
        threading.Event().wait(0.02)
        with guard:
            active[key] -= 1
        return items

    batcher = MicroBatcher(threads=3, max_records=1)
    futures = [batcher.submit(k, [f"{k}{i}"], tracked) for i in range(6) for k in "xy"]
    assert [f.result(5) for f in futures] == [[f"{k}{i}"] for i in range(6) for k in "xy"]
    assert peak == {"x": 1, "y": 1}


def test_run_now_codes_in_the_caller_s_thread_only_when_the_model_thread_is_idle():
    batcher = MicroBatcher()
    caller = threading.get_ident()
    assert batcher.run_now("m", ["a", "b"], lambda items: [(x, threading.get_ident()) for x in items]) == [
        ("a", caller), ("b", caller)]
    assert batcher.calls == 1 and batcher._running == 0  # no model thread was started
    slow, started, release = _held_call()
    future = batcher.submit("m", ["x"], slow)
    assert started.wait(10)
    assert batcher.run_now("other", ["y"], lambda items: items) is None  # a call is running: queue instead
    release.set()
    assert future.result(10) == ["x"]
    assert MicroBatcher(wait_s=0.01).run_now("m", ["a"], lambda items: items) is None  # gather time asked
    assert MicroBatcher(enabled=False).run_now("m", ["a"], lambda items: items) is None


def test_run_now_beside_codes_another_key_while_a_call_runs_never_its_own():
    batcher = MicroBatcher()
    slow, started, release = _held_call()
    busy = batcher.submit("busy project", ["x"], slow)
    assert started.wait(10)
    try:
        # the other project's lone small request does not wait for the busy project's call
        assert batcher.run_now("other project", ["y"], lambda items: items, beside=True) == ["y"]
        assert batcher.run_now("busy project", ["z"], lambda items: items, beside=True) is None
        assert not busy.done()
    finally:
        release.set()
    assert busy.result(10) == ["x"]


def _held_call():
    """A model call that signals ``started`` and then waits for ``release``: (call, started, release)."""
    started, release = threading.Event(), threading.Event()

    def slow(items):
        started.set()
        release.wait(10)
        return items

    return slow, started, release
