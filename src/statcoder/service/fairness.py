"""Fair admission of coding requests: one project's load cannot starve another's.

Work is counted in records. A project may have at most ``project_records`` records in
flight; all projects together at most ``total_records``. A request that does not fit waits
in its project's queue (first in, first out), and when capacity frees up the waiting
projects are served round-robin, so a tenant with many queued requests gets one turn like
any other. Requests of at most ``small_records`` records only count against their project's
share, never against the shared pool: a 1-record request of one project is never queued
behind another project's large requests.

**Contention.** While another project is active in the process (a request of it in flight or
waiting, or one finished less than ``linger_s`` ago), a project already holding records in
flight is admitted only up to ``contended_records`` records. Everything a newcomer can find
ahead of it - the model call in progress, the answers waiting for the event loop, the
group commit of review tasks - is then the work of at most that many records of the busy
project, so its latency no longer grows with the busy project's client count; the busy
project's excess requests wait in its queue, holding no thread and no model capacity. A
project with nothing in flight is always admitted (no starvation), and admissions stay
round-robin. Alone in the process, a project gets its full share (``project_records``).

**CPU reserve.** While a *light* project is active - one whose requests come one at a time
(no backlog within ``linger_s``), here or in another server process (``board``) - a busy
project - one with requests in flight or waiting - is also held to ``contended_cpu_share`` of one core for the whole process (its CPU time, all
threads, as a token bucket refilled at that rate and holding at most ``cpu_burst_s``): while
the process has used more, the busy project's next request waits for the bucket to refill. A
request of a project with nothing in flight or waiting is never held, and while one is in
flight in the process the busy project starts nothing new. So a busy project cannot
keep a process (and, with several processes, the machine's cores) saturated while another
project is active: a newcomer's request finds idle CPU, an uncontended interpreter lock, a
short run queue and an idle writer instead of queueing behind the busy project's work, and the
busy project's closed-loop clients slow down with it.

The gate lives on the event loop (asyncio); waiting holds no thread.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from statcoder.service.activity import WRITE_EVERY_S, ActivityBoard


@dataclass
class _Waiter:
    cost: int
    small: bool
    future: asyncio.Future = field(repr=False)


class FairGate:
    """Admission by records in flight, per project and overall, round-robin between projects."""

    def __init__(
        self, *, total_records: int, project_records: int, small_records: int, contended_records: int = 0,
        linger_s: float = 1.0, contended_cpu_share: float = 0.0, cpu_burst_s: float = 0.01,
        cpu_clock: Callable[[], float] = time.process_time, board: ActivityBoard | None = None,
        on_cpu_hold: Callable[[], None] | None = None,
    ) -> None:
        self.total_records = total_records
        self.project_records = project_records
        self.small_records = small_records
        self.contended_records = contended_records  # 0: no contention limit
        self.linger_s = linger_s
        self.board = board  # other processes' projects (None: this process only)
        self._board_seen: dict[tuple[str, str], tuple[float, bool]] = {}  # (question, project) -> (read at, answer)
        self.contended_cpu_share = contended_cpu_share  # 0: no CPU reserve
        self.cpu_burst_s = cpu_burst_s
        self._cpu_clock = cpu_clock
        self._cpu_seen = (time.monotonic(), cpu_clock())  # (wall, process CPU) at the last refill
        self._cpu_credit = cpu_burst_s  # CPU seconds a busy project may still use now
        self._refill: asyncio.TimerHandle | None = None
        self.held_for_cpu = 0  # admissions deferred by the CPU reserve; read by tests and metrics
        self.on_cpu_hold = on_cpu_hold  # told of each of them (e.g. a metrics counter)
        self._cpu_held = False  # the last admission pass held a request for CPU
        self.in_flight: dict[str, int] = {}
        self.shared = 0  # records of large requests in flight (the shared pool)
        self.requests = 0  # admitted requests in flight (all projects)
        self.project_requests: dict[str, int] = {}  # admitted requests in flight per project
        self._connections: dict[object, tuple[str, float]] = {}  # client connection -> (project, last seen)
        self._queues: OrderedDict[str, deque[_Waiter]] = OrderedDict()
        self._last_done: dict[str, float] = {}  # project -> monotonic time its last request ended
        self._busy_at: dict[str, float] = {}  # project -> last time it had a backlog here

    def contended(self, project: str) -> bool:
        """True when another project is active: in flight, waiting, or done within ``linger_s`` here,
        or (with a ``board``) seen by another server process within ``linger_s``."""
        if any(p != project for p in self.in_flight) or any(p != project for p in self._queues):
            return True
        now = time.monotonic()
        since = now - self.linger_s
        if any(p != project and t > since for p, t in self._last_done.items()):
            return True
        return self._on_board("others", project, now, since)

    def light_active(self, project: str) -> bool:
        """True when another project is active (see :meth:`contended`) without a backlog within
        ``linger_s`` (here, or with a ``board`` in any server process): the projects the CPU
        reserve keeps room for. Two busy projects alone share a process round-robin, unthrottled."""
        now = time.monotonic()
        since = now - self.linger_s
        for p in {*self.in_flight, *self._queues, *self._last_done}:
            if p != project and self._busy_at.get(p, -1.0) <= since and (
                    p in self.in_flight or p in self._queues or self._last_done.get(p, -1.0) > since):
                return True
        return self._on_board("light", project, now, since)

    def _on_board(self, what: str, project: str, now: float, since: float) -> bool:
        """Ask the board (read at most every ``WRITE_EVERY_S`` per question) whether other projects are active."""
        if self.board is None:
            return False
        read_at, answer = self._board_seen.get((what, project), (-1.0, False))
        if now - read_at > WRITE_EVERY_S:
            if what == "others":
                answer = self.board.others_since(project, since)
            else:
                answer = self.board.light_since(project, since)
            if len(self._board_seen) > 1024:
                self._board_seen.clear()
            self._board_seen[(what, project)] = (now, answer)
        return answer

    def _note(self, project: str, busy: bool) -> None:
        """Record a request event of ``project`` (``busy``: it has a backlog) here and on the board."""
        if busy:
            if len(self._busy_at) > 1024:
                since = time.monotonic() - self.linger_s
                self._busy_at = {p: t for p, t in self._busy_at.items() if t > since}
            self._busy_at[project] = time.monotonic()
        if self.board is not None:
            self.board.note(project, busy=busy)

    def _busy(self, project: str) -> bool:
        """True when ``project`` has a backlog: two or more requests in flight, or any waiting."""
        return self.project_requests.get(project, 0) >= 2 or project in self._queues

    def cpu_credit(self) -> float:
        """Return the CPU seconds a busy project may use now (negative: it waits), refilled to now.

        The process's CPU time since the last look is charged only if a busy, contended project
        had requests in flight meanwhile (the state between two gate events is constant): what
        the process spends on the other projects alone never holds the busy one back.
        """
        wall, cpu = time.monotonic(), self._cpu_clock()
        last_wall, last_cpu = self._cpu_seen
        self._cpu_seen = (wall, cpu)
        credit = self._cpu_credit + self.contended_cpu_share * (wall - last_wall)
        if any(self._busy(p) and self.light_active(p) for p in self.project_requests):
            credit -= cpu - last_cpu
        self._cpu_credit = min(credit, self.cpu_burst_s)
        return self._cpu_credit

    def _light_in_flight(self, project: str) -> bool:
        """True when a request of another project without a backlog (within ``linger_s``) is in flight here."""
        since = time.monotonic() - self.linger_s
        return any(p != project and not self._busy(p) and self._busy_at.get(p, -1.0) <= since
                   for p in self.project_requests)

    def _arm_refill(self) -> None:
        """Admit again once the CPU credit is back above zero (waiters held for CPU have no release to wait for)."""
        if self._refill is not None or not self._queues:
            return
        delay = max(0.0005, -self._cpu_credit / self.contended_cpu_share)
        self._refill = asyncio.get_running_loop().call_later(delay, self._refilled)

    def _refilled(self) -> None:
        self._refill = None
        self._admit()

    def _cost(self, n_records: int) -> int:
        return max(1, min(n_records, self.project_records))

    def _fits(self, project: str, cost: int, small: bool, queued: bool = False) -> bool:
        held = self.in_flight.get(project, 0)
        if held + cost > self.project_records:
            return False
        if (self.contended_records and held and held + cost > self.contended_records
                and self.contended(project)):
            return False  # a waiting request of this project is admitted when one of its own ends
        if not (small or self.shared + cost <= self.total_records):
            return False
        if self.contended_cpu_share and (held or queued):  # a busy project, with the CPU reserve on
            if self._light_in_flight(project):
                return False  # a light project's request goes first; admitted when it ends
            if self.cpu_credit() <= 0 and self.light_active(project):
                self.held_for_cpu += 1
                if self.on_cpu_hold is not None:
                    self.on_cpu_hold()
                self._cpu_held = True
                return False  # admitted when the CPU credit is back (_arm_refill) or at a release
        return True

    def _take(self, project: str, cost: int, small: bool) -> None:
        self.requests += 1
        self.project_requests[project] = self.project_requests.get(project, 0) + 1
        self.in_flight[project] = self.in_flight.get(project, 0) + cost
        if not small:
            self.shared += cost

    async def acquire(self, project: str, n_records: int) -> tuple[int, bool]:
        """Wait for admission of ``n_records`` records of ``project``; returns the ticket."""
        cost, small = self._cost(n_records), n_records <= self.small_records
        self._note(project, busy=project in self.project_requests or project in self._queues)
        self._cpu_held = False
        if self.contended_cpu_share:
            self.cpu_credit()  # charge the time up to this event to the state before it
        if project not in self._queues and self._fits(project, cost, small):
            self._take(project, cost, small)
            return cost, small
        waiter = _Waiter(cost, small, asyncio.get_running_loop().create_future())
        self._queues.setdefault(project, deque()).append(waiter)
        if self._cpu_held:
            self._arm_refill()
        try:
            await waiter.future
        except BaseException:
            if waiter.future.done() and not waiter.future.cancelled():
                self.release(project, (cost, small))  # admitted and cancelled at once
            else:
                queue = self._queues.get(project)
                if queue is not None and waiter in queue:
                    queue.remove(waiter)
                    if not queue:
                        del self._queues[project]
            raise
        return cost, small

    def release(self, project: str, ticket: tuple[int, bool]) -> None:
        """Return a ticket's capacity and admit waiting requests, one project at a time."""
        cost, small = ticket
        self._note(project, busy=self._busy(project))
        if self.contended_cpu_share:
            self.cpu_credit()
        self.requests -= 1
        if self.project_requests.get(project, 0) > 1:
            self.project_requests[project] -= 1
        else:
            self.project_requests.pop(project, None)
        left = self.in_flight.get(project, 0) - cost
        if left > 0:
            self.in_flight[project] = left
        else:
            self.in_flight.pop(project, None)
        if not small:
            self.shared -= cost
        if self.contended_records or self.contended_cpu_share:
            now = time.monotonic()
            self._last_done[project] = now
            if len(self._last_done) > 64:  # forget projects idle for longer than the linger time
                self._last_done = {p: t for p, t in self._last_done.items() if t > now - self.linger_s}
        self._admit()

    def _admit(self) -> None:
        self._cpu_held = False
        progress = True
        while progress and self._queues:
            progress = False
            for project in list(self._queues):  # round-robin: one admission per project per pass
                queue = self._queues[project]
                while queue and queue[0].future.done():  # cancelled (client gone): not admitted
                    queue.popleft()
                if not queue:
                    del self._queues[project]
                    progress = True
                    continue
                head = queue[0]
                if self._fits(project, head.cost, head.small, queued=True):
                    queue.popleft()
                    self._queues.pop(project)
                    if queue:
                        self._queues[project] = queue  # to the back of the rotation
                    self._take(project, head.cost, head.small)
                    head.future.set_result(None)
                    progress = True
        if self._cpu_held and self._queues:
            self._arm_refill()

    @asynccontextmanager
    async def admitted(self, project: str, n_records: int) -> AsyncIterator[None]:
        """``async with gate.admitted(project, n):`` runs the body once admitted."""
        ticket = await self.acquire(project, n_records)
        try:
            yield
        finally:
            self.release(project, ticket)

    def seen(self, project: str, connection: object) -> None:
        """Note a request of ``project`` on client ``connection`` (e.g. the peer's address and port)."""
        now = time.monotonic()
        self._connections[tuple(connection) if isinstance(connection, list) else connection] = (project, now)
        if len(self._connections) > 512:  # forget connections idle for longer than the linger time
            self._connections = {c: v for c, v in self._connections.items() if v[1] > now - self.linger_s}

    def connections(self, project: str | None = None) -> int:
        """Client connections (of ``project``, or all) that sent a request within ``linger_s``."""
        since = time.monotonic() - self.linger_s
        return sum(1 for p, t in self._connections.values() if t > since and (project is None or p == project))

    def alone(self) -> bool:
        """True when exactly one request is admitted and none waits (the caller's, in its body)
        and at most one client connection sent requests lately.

        Requests in flight alone do not tell a single client from many: a request coded on the
        event loop keeps the others unread in their sockets, so they would look absent and the
        process would code them one by one instead of batching them. Recent connections do.
        """
        return self.requests == 1 and not self._queues and self.connections() <= 1

    def only_one(self, project: str) -> bool:
        """True when the caller's request is the only one of ``project`` admitted, none waits, and
        at most one client connection of ``project`` sent requests lately (see :meth:`alone`)."""
        return (self.project_requests.get(project, 0) == 1 and project not in self._queues
                and self.connections(project) <= 1)

    def waiting(self, project: str) -> int:
        """Return how many requests of ``project`` are queued."""
        return len(self._queues.get(project, ()))
