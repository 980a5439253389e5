"""Kubernetes Events about any object (a source Service, a LeaderPolicy, ...), recorded off the
critical path.

Reconciles call ``record`` (never awaits the API); a background task posts core/v1 Events. Repeats of
the same (object, type, reason, message) within ten minutes increase ``count`` on the existing Event
(like client-go's correlator) instead of creating new ones, so a flapping pod cannot flood etcd.
The queue is bounded: when full, Events are dropped and counted (``zen_lead_events_dropped_total``) —
routing never waits for bookkeeping.

Events are off the critical path in CPU and API capacity too: while failovers are pending (``yield_to``,
the work queue's ``failovers_drained``) the poster waits, up to ``MAX_DEFERRAL`` seconds, so that during
a node-death burst the event loop and the apiserver serve the EndpointSlice writes first. The bound
keeps Events flowing under endless churn.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from zen_lead.constants import EVENT_SOURCE_COMPONENT
from zen_lead.kube.client import ApiClient
from zen_lead.kube.errors import ApiError
from zen_lead.kube.meta import ObjectRef
from zen_lead.kube.resources import EVENTS
from zen_lead.kube.times import format_time
from zen_lead.runtime.metrics import EVENTS_DROPPED
from zen_lead.runtime.queue import ROUTINE_HOLDBACK

log = logging.getLogger(__name__)
AGGREGATION_WINDOW = 600.0
MAX_DEFERRAL = ROUTINE_HOLDBACK  # as long as routine reconciles may be held back


@dataclass(frozen=True, slots=True)
class EventNote:
    involved: ObjectRef
    type: str  # Normal | Warning
    reason: str
    message: str


class EventRecorder:
    name = "events"
    needs_leader_election = False

    def __init__(self, client: ApiClient, *, host: str, max_queued: int = 10_000) -> None:
        self.client = client
        self.host = host
        self._queue: asyncio.Queue[EventNote] = asyncio.Queue(max_queued)
        self._seen: dict[str, tuple[str, int, float]] = {}  # digest -> (event name, count, first seen)
        self.yield_to: Callable[[], Awaitable[None]] | None = None

    def record(self, involved: ObjectRef, type_: str, reason: str, message: str) -> None:
        """Queue an Event about ``involved`` (and log it at once: the log is never deferred)."""
        note = EventNote(involved, type_, reason, message)
        log.log(
            logging.WARNING if type_ == "Warning" else logging.INFO,
            message,
            extra={"namespace": involved.namespace, involved.kind.lower(): involved.name, "reason": reason},
        )
        try:
            self._queue.put_nowait(note)
        except asyncio.QueueFull:
            EVENTS_DROPPED.inc()

    async def run(self) -> None:
        while True:
            note = await self._queue.get()
            if self.yield_to is not None:
                # asyncio.timeout, not wait_for: Python 3.11's wait_for swallows a cancellation that
                # arrives as the awaited thing completes — shutdown then hung in the next get().
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(MAX_DEFERRAL):
                        await self.yield_to()
            try:
                await self._post(note)
            except (ApiError, OSError) as error:
                EVENTS_DROPPED.inc()
                log.warning("could not record event", extra={"reason": note.reason, "error": str(error)})

    async def _post(self, note: EventNote) -> None:
        involved = note.involved
        identity = f"{involved.kind}|{involved.uid}|{note.type}|{note.reason}|{note.message}"
        digest = hashlib.sha256(identity.encode()).hexdigest()[:16]
        now = format_time(time.time())
        seen = self._seen.get(digest)
        if seen is not None and time.monotonic() - seen[2] < AGGREGATION_WINDOW:
            name, count, first = seen
            self._seen[digest] = (name, count + 1, first)
            try:
                await self.client.patch(
                    EVENTS, involved.namespace, name, {"count": count + 1, "lastTimestamp": now}
                )
                return
            except ApiError as error:
                if not error.not_found:
                    raise
        name = f"{involved.name}.{digest}.{int(time.time() * 1000):x}"
        self._seen[digest] = (name, 1, time.monotonic())
        if len(self._seen) > 50_000:
            self._seen.clear()
        await self.client.create(
            EVENTS,
            involved.namespace,
            {
                "apiVersion": "v1",
                "kind": "Event",
                "metadata": {"name": name, "namespace": involved.namespace},
                "involvedObject": involved.as_json(),
                "type": note.type,
                "reason": note.reason,
                "message": note.message[:1024],
                "source": {"component": EVENT_SOURCE_COMPONENT, "host": self.host},
                "reportingComponent": EVENT_SOURCE_COMPONENT,
                "reportingInstance": self.host,
                "firstTimestamp": now,
                "lastTimestamp": now,
                "count": 1,
            },
        )
