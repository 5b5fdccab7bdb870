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

The gate lives on the event loop (asyncio); waiting holds no thread.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict, deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field


@dataclass
class _Waiter:
    cost: int
    small: bool
    future: asyncio.Future = field(repr=False)


class FairGate:
    """Admission by records in flight, per project and overall, round-robin between projects."""

    def __init__(
        self, *, total_records: int, project_records: int, small_records: int, contended_records: int = 0,
        linger_s: float = 1.0,
    ) -> None:
        self.total_records = total_records
        self.project_records = project_records
        self.small_records = small_records
        self.contended_records = contended_records  # 0: no contention limit
        self.linger_s = linger_s
        self.in_flight: dict[str, int] = {}
        self.shared = 0  # records of large requests in flight (the shared pool)
        self.requests = 0  # admitted requests in flight (all projects)
        self.project_requests: dict[str, int] = {}  # admitted requests in flight per project
        self._connections: dict[object, tuple[str, float]] = {}  # client connection -> (project, last seen)
        self._queues: OrderedDict[str, deque[_Waiter]] = OrderedDict()
        self._last_done: dict[str, float] = {}  # project -> monotonic time its last request ended

    def contended(self, project: str) -> bool:
        """True when another project is active here: in flight, waiting, or done within ``linger_s``."""
        if any(p != project for p in self.in_flight) or any(p != project for p in self._queues):
            return True
        since = time.monotonic() - self.linger_s
        return any(p != project and t > since for p, t in self._last_done.items())

    def _cost(self, n_records: int) -> int:
        return max(1, min(n_records, self.project_records))

    def _fits(self, project: str, cost: int, small: bool) -> bool:
        held = self.in_flight.get(project, 0)
        if held + cost > self.project_records:
            return False
        if (self.contended_records and held and held + cost > self.contended_records
                and self.contended(project)):
            return False  # a waiting request of this project is admitted when one of its own ends
        return small or self.shared + cost <= self.total_records

    def _take(self, project: str, cost: int, small: bool) -> None:
        self.requests += 1
        self.project_requests[project] = self.project_requests.get(project, 0) + 1
        self.in_flight[project] = self.in_flight.get(project, 0) + cost
        if not small:
            self.shared += cost

    async def acquire(self, project: str, n_records: int) -> tuple[int, bool]:
        """Wait for admission of ``n_records`` records of ``project``; returns the ticket."""
        cost, small = self._cost(n_records), n_records <= self.small_records
        if project not in self._queues and self._fits(project, cost, small):
            self._take(project, cost, small)
            return cost, small
        waiter = _Waiter(cost, small, asyncio.get_running_loop().create_future())
        self._queues.setdefault(project, deque()).append(waiter)
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
        if self.contended_records:
            now = time.monotonic()
            self._last_done[project] = now
            if len(self._last_done) > 64:  # forget projects idle for longer than the linger time
                self._last_done = {p: t for p, t in self._last_done.items() if t > now - self.linger_s}
        self._admit()

    def _admit(self) -> None:
        progress = True
        while progress and self._queues:
            progress = False
            for project in list(self._queues):  # round-robin: one admission per project per pass
                queue = self._queues[project]
                head = queue[0]
                if self._fits(project, head.cost, head.small):
                    queue.popleft()
                    self._queues.pop(project)
                    if queue:
                        self._queues[project] = queue  # to the back of the rotation
                    self._take(project, head.cost, head.small)
                    head.future.set_result(None)
                    progress = True

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
