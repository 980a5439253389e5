"""``WorkQueue``: a controller's one queue of keys (``namespace/name``), level-triggered.

Semantics (the same contract as client-go's workqueue, plus lanes):

- **Deduplicated**: a key is at most once in the queue. Adding a queued key again is a no-op, except
  that it may **upgrade** its lane: failover work (a leader stopped being eligible) goes before routine
  work (new Services, metadata, resyncs), and a key queued as routine that becomes urgent moves ahead.
- **Routine work yields to failovers in flight**, not only to queued ones: a routine key is handed out
  only when no failover key is queued or being processed, or when it has waited ``routine_holdback``
  seconds (so endless churn cannot starve it). During a node death the apiserver is the bottleneck;
  without this, every lull between two failovers let routine writes (the leader Services' metadata,
  one per failover) compete with the failovers still arriving.
- **Never processed twice at once**: a key added while a worker holds it is marked dirty and re-queued
  when the worker calls ``done`` — so no update is lost and no two workers race on one Service.
- **Delayed adds** (``add_after``) run on the event loop's timer: this is how "becomes eligible at
  exactly time t" (min-ready-duration) is expressed without polling. The earliest pending time wins.
- **Retry backoff** per key (``retry``): exponential from ``base_delay`` to ``max_delay``, in the lane
  the key failed in; ``forget`` resets it after a success. Nothing is ever dropped.
- Each key carries the monotonic time of the first event that caused it, so the reconcile can report
  failover latency from the triggering watch event.
- ``failovers_drained()`` waits until no failover-lane key is queued or being processed: bookkeeping
  that shares the event loop and the apiserver with routing (Events) defers itself to it.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

from zen_lead.kube.ratelimit import Lane
from zen_lead.runtime.metrics import QUEUE_DEPTH, QUEUE_RETRIES, QUEUE_WAIT

K = TypeVar("K", bound=Hashable)


@dataclass(slots=True)
class Item(Generic[K]):
    key: K
    lane: Lane
    since: float  # monotonic time of the first event behind this item


# How long routine keys wait for failovers at most (see the module docstring); the Event poster
# defers to failovers for as long (``zen_lead.runtime.events``).
ROUTINE_HOLDBACK = 5.0


class WorkQueue(Generic[K]):
    def __init__(
        self,
        *,
        name: str = "",
        base_delay: float = 0.005,
        max_delay: float = 60.0,
        routine_holdback: float = ROUTINE_HOLDBACK,
    ) -> None:
        self.name = name  # the controller's, for the metrics' ``controller`` label
        self._lanes: dict[Lane, deque[K]] = {lane: deque() for lane in Lane}
        self._queued: dict[K, Item[K]] = {}
        self._processing: set[K] = set()
        self._urgent: set[K] = set()  # failover-lane keys queued or being processed
        self._drained = asyncio.Event()
        self._drained.set()
        self._dirty: dict[K, Item[K]] = {}
        self._timers: dict[K, tuple[float, asyncio.TimerHandle]] = {}
        self._failures: dict[K, int] = {}
        self._wakeup = asyncio.Event()
        self._holdback_timer: asyncio.TimerHandle | None = None
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.routine_holdback = routine_holdback
        self._depth = {lane: QUEUE_DEPTH.labels(name, lane.name.lower()) for lane in Lane}
        self._wait = {lane: QUEUE_WAIT.labels(name, lane.name.lower()) for lane in Lane}
        self._retries = QUEUE_RETRIES.labels(name)

    def __len__(self) -> int:
        return len(self._queued)

    def add(self, key: K, lane: Lane = Lane.ROUTINE, *, since: float | None = None) -> None:
        now = time.monotonic() if since is None else since
        if lane is Lane.FAILOVER:
            self._urgent.add(key)
            self._drained.clear()
        if key in self._processing:
            dirty = self._dirty.get(key)
            if dirty is None:
                self._dirty[key] = Item(key, lane, now)
            else:
                dirty.lane = min(dirty.lane, lane)
                dirty.since = min(dirty.since, now)
            return
        queued = self._queued.get(key)
        if queued is not None:
            queued.since = min(queued.since, now)
            if lane < queued.lane:
                self._lanes[queued.lane].remove(key)
                queued.lane = lane
                self._lanes[lane].append(key)
                self._metrics()
            return
        self._queued[key] = Item(key, lane, now)
        self._lanes[lane].append(key)
        self._metrics()
        self._wakeup.set()

    def add_after(self, key: K, delay: float, lane: Lane = Lane.ROUTINE) -> None:
        if delay <= 0:
            self.add(key, lane)
            return
        loop = asyncio.get_running_loop()
        when = loop.time() + delay
        pending = self._timers.get(key)
        if pending is not None:
            if pending[0] <= when:
                return
            pending[1].cancel()
        handle = loop.call_at(when, self._fire, key, lane)
        self._timers[key] = (when, handle)

    def _fire(self, key: K, lane: Lane) -> None:
        self._timers.pop(key, None)
        self.add(key, lane)

    def retry(self, key: K, lane: Lane = Lane.ROUTINE) -> None:
        failures = self._failures.get(key, 0)
        self._failures[key] = failures + 1
        self._retries.inc()
        self.add_after(key, min(self.max_delay, self.base_delay * (2**failures)), lane)

    def forget(self, key: K) -> None:
        self._failures.pop(key, None)

    def cancel_delayed(self, key: K) -> None:
        pending = self._timers.pop(key, None)
        if pending is not None:
            pending[1].cancel()

    async def get(self) -> Item[K]:
        while True:
            lane = self._ready_lane()
            if lane is not None:
                key = self._lanes[lane].popleft()
                item = self._queued.pop(key)
                self._processing.add(key)
                self._wait[lane].observe(time.monotonic() - item.since)
                self._metrics()
                return item
            self._wakeup.clear()
            await self._wakeup.wait()

    def _ready_lane(self) -> Lane | None:
        """The lane to take the next key from, if any may be taken now."""
        if self._lanes[Lane.FAILOVER]:
            return Lane.FAILOVER
        routine = self._lanes[Lane.ROUTINE]
        if not routine:
            return None
        if not self._urgent:
            return Lane.ROUTINE
        release = self._queued[routine[0]].since + self.routine_holdback
        if time.monotonic() >= release:
            return Lane.ROUTINE
        if self._holdback_timer is None:  # wake the workers when the oldest routine key's wait is up
            delay = release - time.monotonic()
            self._holdback_timer = asyncio.get_running_loop().call_later(delay, self._holdback_over)
        return None

    def _holdback_over(self) -> None:
        self._holdback_timer = None
        self._wakeup.set()

    def done(self, key: K) -> None:
        self._processing.discard(key)
        dirty = self._dirty.pop(key, None)
        if dirty is not None:
            self.add(dirty.key, dirty.lane, since=dirty.since)
        queued = self._queued.get(key)
        if key in self._urgent and (queued is None or queued.lane is not Lane.FAILOVER):
            self._urgent.discard(key)
            if not self._urgent:
                self._drained.set()
                self._wakeup.set()  # routine keys held back for the failovers may go now

    async def failovers_drained(self) -> None:
        """Return once no failover-lane key is queued or being processed (at once if none is)."""
        await self._drained.wait()

    def _metrics(self) -> None:
        for lane, keys in self._lanes.items():
            self._depth[lane].set(len(keys))
