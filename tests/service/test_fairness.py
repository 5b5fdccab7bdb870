"""The fair admission gate of ``POST /code`` (issue 15): shares per project, round-robin turns."""

from __future__ import annotations

import asyncio
import time

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


def test_under_contention_a_busy_project_is_held_to_a_few_records_and_the_newcomer_goes_first():
    async def scenario():
        gate = FairGate(total_records=100, project_records=100, small_records=10, contended_records=3,
                        linger_s=3600)
        alone = [await asyncio.wait_for(gate.acquire("a", 1), 0.1) for _ in range(10)]  # alone: full share
        b = await asyncio.wait_for(gate.acquire("b", 1), 0.1)  # the newcomer is admitted at once
        assert gate.contended("a") and gate.contended("b")
        backlog = [asyncio.create_task(gate.acquire("a", 1)) for _ in range(5)]
        await asyncio.sleep(0)
        assert gate.waiting("a") == 5  # a holds 10 > 3 while b is active: its new requests wait
        for ticket in alone[:7]:  # a's own requests end; a stays above its contended share
            gate.release("a", ticket)
        await asyncio.sleep(0)
        assert gate.waiting("a") == 5 and gate.in_flight["a"] == 3
        b2 = await asyncio.wait_for(gate.acquire("b", 1), 0.1)  # b is never queued behind a's backlog
        gate.release("a", alone[7])  # one of a's ends: exactly one of its waiters takes its place
        await asyncio.sleep(0)
        assert gate.waiting("a") == 4 and gate.in_flight["a"] == 3
        for ticket in alone[8:]:
            gate.release("a", ticket)
        gate.release("b", b)
        gate.release("b", b2)
        for task in backlog:  # no starvation: a's backlog drains through its own releases
            gate.release("a", await asyncio.wait_for(task, 0.1))
        assert gate.in_flight == {} and gate.waiting("a") == 0

    run(scenario())


def test_contention_ends_after_the_linger_time_and_a_project_alone_gets_its_full_share():
    async def scenario():
        gate = FairGate(total_records=100, project_records=100, small_records=10, contended_records=2,
                        linger_s=0.0)
        b = await gate.acquire("b", 1)
        a = [await gate.acquire("a", 1) for _ in range(2)]
        waiting = asyncio.create_task(gate.acquire("a", 1))
        await asyncio.sleep(0)
        assert not waiting.done()
        gate.release("b", b)  # b done, linger 0: a is alone again
        gate.release("a", a[0])  # the next release of a admits its waiter, and more are admitted at once
        await asyncio.wait_for(waiting, 0.1)
        more = [await asyncio.wait_for(gate.acquire("a", 1), 0.1) for _ in range(20)]
        assert gate.in_flight["a"] == 22 and not gate.contended("a")
        for ticket in (a[1], waiting.result(), *more):
            gate.release("a", ticket)
        assert gate.in_flight == {}

    run(scenario())


def test_a_large_request_of_a_busy_project_waits_until_its_own_work_is_done():
    async def scenario():
        gate = FairGate(total_records=1000, project_records=500, small_records=10, contended_records=4,
                        linger_s=3600)
        b = await gate.acquire("b", 1)
        a1 = await gate.acquire("a", 1)  # nothing in flight: admitted even though b is active
        big = asyncio.create_task(gate.acquire("a", 100))  # 101 > 4 while contended: waits
        await asyncio.sleep(0)
        assert not big.done()
        gate.release("a", a1)
        ticket = await asyncio.wait_for(big, 0.1)  # a has nothing in flight: the large request goes
        gate.release("a", ticket)
        gate.release("b", b)

    run(scenario())


def test_the_gate_tells_a_lone_request_and_a_project_s_only_request():
    async def scenario():
        gate = FairGate(total_records=100, project_records=50, small_records=10)
        a1 = await gate.acquire("a", 1)
        assert gate.alone() and gate.only_one("a")
        a2 = await gate.acquire("a", 1)
        assert not gate.alone() and not gate.only_one("a")
        b = await gate.acquire("b", 1)
        assert gate.only_one("b") and not gate.only_one("a")  # b may go beside a's batches
        for project, ticket in (("a", a1), ("a", a2)):
            gate.release(project, ticket)
        gate.seen("b", ("127.0.0.1", 5001))
        assert gate.alone() and gate.only_one("b")
        # requests coded on the event loop keep other clients' requests unread: recent connections
        # tell one client from many, so a stream from several clients is batched, not serialised
        gate.seen("b", ["127.0.0.1", 5002])
        assert not gate.alone() and not gate.only_one("b")
        gate.seen("a", ("127.0.0.1", 5003))
        assert gate.connections("b") == 2 and gate.connections() == 3
        gate.release("b", b)
        assert gate.requests == 0 and gate.project_requests == {} and not gate.alone()

    run(scenario())


class FakeCpu:
    """A process CPU clock the test advances by hand."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_busy_project_is_held_to_its_cpu_share_while_a_light_project_is_active_and_resumes_on_refill():
    async def scenario():
        cpu = FakeCpu()
        gate = FairGate(total_records=100, project_records=100, small_records=10, contended_records=100,
                        linger_s=3600, contended_cpu_share=0.5, cpu_burst_s=0.01, cpu_clock=cpu)
        b = await gate.acquire("b", 1)  # the light project: one request at a time
        gate.release("b", b)
        a = [await gate.acquire("a", 1) for _ in range(2)]  # a first request, then a backlog: a is busy
        assert gate.light_active("a") and not gate.light_active("b")
        cpu.now += 0.03  # a's work burns 30 ms of CPU: over the 10 ms burst
        held = asyncio.create_task(gate.acquire("a", 1))
        await asyncio.sleep(0)
        assert not held.done() and gate.held_for_cpu >= 1 and gate.cpu_credit() < 0
        b = await asyncio.wait_for(gate.acquire("b", 1), 0.1)  # the light project is never held
        gate.release("b", b)
        for ticket in a:
            gate.release("a", ticket)
        assert not held.done()  # releases alone do not admit it: the credit is still negative
        ticket = await asyncio.wait_for(held, 1.0)  # admitted by the refill timer, not starved
        gate.release("a", ticket)
        assert gate.in_flight == {} and gate.waiting("a") == 0

    run(scenario())


def test_the_cpu_reserve_refills_with_wall_time_and_cpu_spent_on_light_projects_is_not_charged():
    async def scenario():
        cpu = FakeCpu()
        gate = FairGate(total_records=100, project_records=100, small_records=10, linger_s=3600,
                        contended_cpu_share=0.5, cpu_burst_s=0.01, cpu_clock=cpu)
        b = await gate.acquire("b", 1)  # only the light project in flight
        cpu.now += 5.0
        assert gate.cpu_credit() > 0  # its CPU is not the busy project's
        gate.release("b", b)
        a = [await gate.acquire("a", 1) for _ in range(2)]
        cpu.now += 0.2
        assert gate.cpu_credit() < 0  # the busy project's CPU is charged
        for ticket in a:
            gate.release("a", ticket)
        started = asyncio.get_running_loop().time()
        tickets = [await asyncio.wait_for(gate.acquire("a", 1), 2.0) for _ in range(2)]
        assert asyncio.get_running_loop().time() - started > 0.2  # waited ~0.4 s for 0.2 s of CPU at 0.5
        for ticket in tickets:
            gate.release("a", ticket)

    run(scenario())


def test_busy_projects_alone_together_are_not_held_for_cpu_and_a_light_request_goes_first():
    async def scenario():
        cpu = FakeCpu()
        gate = FairGate(total_records=100, project_records=100, small_records=10, linger_s=3600,
                        contended_cpu_share=0.1, cpu_clock=cpu)
        a = [await gate.acquire("a", 1) for _ in range(3)]
        c = [await gate.acquire("c", 1) for _ in range(3)]
        cpu.now += 10.0
        more = [await asyncio.wait_for(gate.acquire(p, 1), 0.1) for p in ("a", "c")]  # both busy: no reserve
        assert gate.held_for_cpu == 0 and not gate.light_active("a")
        for project, ticket in (*(("a", t) for t in a), *(("c", t) for t in c), ("a", more[0]), ("c", more[1])):
            gate.release(project, ticket)
        gate._cpu_credit = gate.cpu_burst_s = 1.0  # plenty of CPU credit from here on
        a1 = await gate.acquire("a", 1)
        b = await gate.acquire("b", 1)  # a light request in flight ...
        waiting = asyncio.create_task(gate.acquire("a", 1))
        await asyncio.sleep(0)
        assert not waiting.done()  # ... the busy project starts nothing new beside it
        gate.release("b", b)
        gate.release("a", await asyncio.wait_for(waiting, 0.1))
        gate.release("a", a1)
        assert gate.in_flight == {}

    run(scenario())


def test_the_activity_board_shows_other_processes_projects_light_or_busy(tmp_path):
    from statcoder.service.activity import ActivityBoard

    one, two = ActivityBoard(tmp_path / "board"), ActivityBoard(tmp_path / "board")  # two processes' views
    gate = FairGate(total_records=100, project_records=100, small_records=10, contended_records=2,
                    linger_s=3600, board=one)

    async def scenario():
        assert not gate.contended("a")
        two.note("b")  # b is served by the other process only
        gate._board_seen.clear()
        assert gate.contended("a") and gate.light_active("a")
        two.note("b", busy=True, now=time.monotonic() + 1)  # b has a backlog there
        gate._board_seen.clear()
        assert gate.contended("a") and not gate.light_active("a")
        ticket = await gate.acquire("a", 1)  # a shows up on the board for the other process
        assert two.others_since("b", time.monotonic() - 60) and two.light_since("b", time.monotonic() - 60)
        gate.release("a", ticket)

    run(scenario())
    one.close()
    two.close()


def test_a_cancelled_waiter_is_skipped_not_admitted():
    async def scenario():
        gate = FairGate(total_records=100, project_records=1, small_records=0)
        held = await gate.acquire("a", 1)
        gone = asyncio.create_task(gate.acquire("a", 1))
        nxt = asyncio.create_task(gate.acquire("a", 1))
        await asyncio.sleep(0)
        gone.cancel()  # the client left; its waiter is cancelled before its task runs again
        gate.release("a", held)  # must not set a result on the cancelled waiter
        gate.release("a", await asyncio.wait_for(nxt, 0.1))
        with pytest.raises(asyncio.CancelledError):
            await gone
        assert gate.in_flight == {} and gate.waiting("a") == 0

    run(scenario())
