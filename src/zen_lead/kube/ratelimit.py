"""A client-side token bucket with two lanes: failover work is served before routine work.

The bucket holds up to ``burst`` tokens and refills at ``qps`` per second. A request takes one token;
when none is left it waits. Waiters of the failover lane always go before waiters of the routine lane,
so when the apiserver is busy (or the bucket is empty during a node-death burst) the writes that move
traffic off dead leaders are not stuck behind new-Service or resync work. Nothing is ever dropped.
``qps <= 0`` disables the limit.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from enum import IntEnum

from zen_lead.kube.metrics import RATE_LIMIT_WAIT


class Lane(IntEnum):
    FAILOVER = 0
    ROUTINE = 1


class TokenBucket:
    def __init__(self, *, qps: float, burst: int) -> None:
        self.qps = qps
        self.burst = max(1, burst)
        self._tokens = float(self.burst)
        self._stamp = time.monotonic()
        self._waiters: list[tuple[int, int, asyncio.Future[None]]] = []
        self._order = itertools.count()
        self._timer: asyncio.TimerHandle | None = None

    def _refill(self) -> None:
        now = time.monotonic()
        self._tokens = min(float(self.burst), self._tokens + (now - self._stamp) * self.qps)
        self._stamp = now

    async def acquire(self, lane: Lane = Lane.ROUTINE) -> None:
        if self.qps <= 0:
            return
        self._refill()
        if not self._waiters and self._tokens >= 1:
            self._tokens -= 1
            return
        started = time.monotonic()
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiters, (int(lane), next(self._order), future))
        self._schedule()
        try:
            await future
        finally:
            RATE_LIMIT_WAIT.labels(lane.name.lower()).observe(time.monotonic() - started)

    def _schedule(self) -> None:
        if self._timer is not None or not self._waiters:
            return
        delay = max(0.0, (1 - self._tokens) / self.qps)
        self._timer = asyncio.get_running_loop().call_later(delay, self._release)

    def _release(self) -> None:
        self._timer = None
        self._refill()
        while self._waiters and self._tokens >= 1:
            _, _, future = heapq.heappop(self._waiters)
            if future.done():  # cancelled waiter: its token stays in the bucket
                continue
            self._tokens -= 1
            future.set_result(None)
        self._schedule()
