"""The fair admission gate of ``POST /code`` (issue 15): shares per project, round-robin turns."""

from __future__ import annotations

import asyncio

import pytest

from statcoder.service.fairness import FairGate


def run(coro):
    return asyncio.run(coro)


def test_a_project_at_its_share_does_not_block_another_project():
    async def scenario():
        gate = FairGate(total_records=10, project_records=4, small_records=1)
        a1 = await gate.acquire("a", 4)  # project a holds its whole share
        blocked = asyncio.create_task(gate.acquire("a", 2))
        await asyncio.sleep(0)
        assert not blocked.done() and gate.waiting("a") == 1
        b = await asyncio.wait_for(gate.acquire("b", 3), 0.1)  # b is admitted at once
        gate.release("a", a1)
        await asyncio.wait_for(blocked, 0.1)
        gate.release("b", b)
        gate.release("a", blocked.result())
        assert gate.in_flight == {} and gate.shared == 0

    run(scenario())


def test_waiting_projects_are_served_round_robin_not_first_come():
    async def scenario():
        gate = FairGate(total_records=4, project_records=4, small_records=0)
        held = await gate.acquire("a", 4)  # the shared pool is full
        order: list[str] = []

        async def request(project: str):
            ticket = await gate.acquire(project, 4)
            order.append(project)
            await asyncio.sleep(0)
            gate.release(project, ticket)

        tasks = [asyncio.create_task(request("a")) for _ in range(3)]
        await asyncio.sleep(0)
        tasks.append(asyncio.create_task(request("b")))  # queued after a's three requests
        await asyncio.sleep(0)
        gate.release("a", held)
        await asyncio.gather(*tasks)
        assert order == ["a", "b", "a", "a"]  # b's turn comes second, not fourth

    run(scenario())


def test_small_requests_bypass_the_shared_pool_but_not_the_project_share():
    async def scenario():
        gate = FairGate(total_records=5, project_records=5, small_records=2)
        big = await gate.acquire("a", 5)  # pool exhausted by a large request
        small_b = await asyncio.wait_for(gate.acquire("b", 1), 0.1)
        small_a = asyncio.create_task(gate.acquire("a", 1))  # a is at its share: waits
        await asyncio.sleep(0)
        assert not small_a.done()
        gate.release("a", big)
        await asyncio.wait_for(small_a, 0.1)
        gate.release("b", small_b)
        gate.release("a", small_a.result())
        assert gate.in_flight == {} and gate.shared == 0

    run(scenario())


def test_a_cancelled_waiter_leaves_no_trace():
    async def scenario():
        gate = FairGate(total_records=2, project_records=2, small_records=0)
        held = await gate.acquire("a", 2)
        waiter = asyncio.create_task(gate.acquire("a", 2))
        await asyncio.sleep(0)
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        assert gate.waiting("a") == 0
        gate.release("a", held)
        assert gate.in_flight == {} and gate.shared == 0

    run(scenario())
