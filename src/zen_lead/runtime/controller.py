"""``Controller``: the generic loop every zen-lead controller runs — queue, workers, retries, metrics.

A controller is a ``Reconciler`` (one idempotent, level-triggered ``reconcile(request)``) plus this
loop, the shape controller-runtime gives Go controllers:

- keys are ``namespace/name`` strings in a lane-aware, deduplicating ``WorkQueue``; the component's
  event handlers (registered on the shared ``InformerCache``) add them, in the failover lane when the
  change moves traffic;
- ``workers`` tasks take keys and call ``reconcile`` with a ``Request`` (key, lane, and the monotonic
  time of the first event behind it, so a reconciler can report latency from the triggering event);
- the ``Result`` says what is left: ``requeue_after`` seconds (time-based conditions, never a sleep),
  or ``requeue`` (deferred work, queued routine);
- a transient failure (a transport error, a 409 or 5xx, a write refused because leadership ended) is
  retried with per-key exponential backoff in the lane it failed in; a **terminal** one — the
  apiserver refused the request itself (400, 403, 422) or the reconciler raised ``TerminalError`` — is
  not: it is logged, counted, told as a Warning Event on the object the reconciler names, and retried
  only when a relevant change adds the key again (a 403 retried every minute forever helps nobody);
- metrics around every reconcile, labelled ``controller``.

``run()`` waits for the caches, queues the reconciler's start-up keys (a full pass: that is how
orphans are swept after a restart or a new tenure) and runs the workers until cancelled. It runs only
while the replica leads (the manager runs it as a leader-only runnable); writes check the ``WriteGate``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from zen_lead.kube.client import use_lane
from zen_lead.kube.errors import ApiError
from zen_lead.kube.informer import Change, Handler
from zen_lead.kube.meta import ObjectRef, split_key
from zen_lead.kube.ratelimit import Lane
from zen_lead.runtime.events import EventRecorder
from zen_lead.runtime.metrics import RECONCILE_DURATION, RECONCILE_ERRORS, RECONCILE_TERMINAL_ERRORS
from zen_lead.runtime.queue import WorkQueue
from zen_lead.runtime.runnable import LeadershipLost

log = logging.getLogger(__name__)

# The apiserver refused the request as such: the same request will be refused again.
TERMINAL_CODES = frozenset({400, 403, 422})


@dataclass(frozen=True, slots=True)
class Request:
    key: str  # namespace/name
    lane: Lane
    since: float  # monotonic time of the first event behind this request

    @property
    def urgent(self) -> bool:
        return self.lane is Lane.FAILOVER


@dataclass(frozen=True, slots=True)
class Result:
    requeue_after: float | None = None  # reconcile again after this many seconds
    requeue: bool = False  # reconcile again soon, in the routine lane (work deferred behind failovers)


class TerminalError(Exception):
    """A failure that retrying cannot fix; ``reason`` is a CamelCase Event reason."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


class Reconciler(Protocol):
    async def reconcile(self, request: Request) -> Result:
        """Converge the object ``request.key`` names; raise on failure (the loop retries)."""

    def involved(self, key: str) -> ObjectRef | None:
        """The object a terminal failure of ``key`` is reported on (None: only logged and counted)."""

    def startup_keys(self) -> Iterable[str]:
        """The keys of a full pass, queued when the controller starts (e.g. every opted-in object)."""


def classify(error: BaseException) -> TerminalError | None:
    """The terminal form of ``error``, or None when a retry may succeed."""
    if isinstance(error, TerminalError):
        return error
    if isinstance(error, ApiError) and error.code in TERMINAL_CODES:
        reason = "WriteForbidden" if error.code == 403 else "WriteRejected"
        return TerminalError(reason, f"the apiserver refused a request: {error}")
    return None


class Controller:
    """The loop around one ``Reconciler``; see the module docstring."""

    needs_leader_election = True

    def __init__(
        self,
        name: str,
        reconciler: Reconciler,
        *,
        workers: int,
        events: EventRecorder | None,
        synced: Callable[[], Awaitable[None]],
    ) -> None:
        self.name = name
        self.reconciler = reconciler
        self.workers = workers
        self.events = events
        self.queue: WorkQueue[str] = WorkQueue(name=name)
        self._synced = synced
        self._duration = RECONCILE_DURATION.labels(name)

    def enqueuer(self, changed: Callable[[Change, Any, Any], Iterable[tuple[str, Lane]]]) -> Handler:
        """An informer handler that queues the ``(key, lane)`` pairs ``changed`` answers for a change
        (a tracker's method: the component maps changes to keys, the loop queues them)."""
        queue = self.queue

        def handler(change: Change, old: Any, new: Any) -> None:
            for key, lane in changed(change, old, new):
                queue.add(key, lane)

        return handler

    async def run(self) -> None:
        """Reconcile until cancelled; starts with a full pass once the caches have synced."""
        await self._synced()
        for key in self.reconciler.startup_keys():
            self.queue.add(key)
        async with asyncio.TaskGroup() as group:
            for index in range(self.workers):
                group.create_task(self._worker(), name=f"{self.name}-worker-{index}")

    async def _worker(self) -> None:
        while True:
            item = await self.queue.get()
            request = Request(item.key, item.lane, item.since)
            started = time.monotonic()
            try:
                with use_lane(item.lane):
                    result = await self.reconciler.reconcile(request)
            except Exception as error:  # every failure is handled here; nothing escapes a worker
                self._failed(request, error)
            else:
                self._succeeded(request, result)
            finally:
                self._duration.observe(time.monotonic() - started)
                self.queue.done(item.key)
            # A reconcile that writes nothing never suspends, and ``get`` returns at once while keys
            # are queued: without this, one worker would drain the whole queue in a single stall of
            # the event loop (watches, Lease renewals and probes waiting meanwhile).
            await asyncio.sleep(0)

    def _succeeded(self, request: Request, result: Result) -> None:
        log.debug(
            "reconciled",
            extra={
                "controller": self.name,
                "key": request.key,
                "lane": request.lane.name.lower(),
                "requeue_after": result.requeue_after,
            },
        )
        self.queue.forget(request.key)
        if result.requeue:
            self.queue.add(request.key, Lane.ROUTINE)  # marked dirty: runs after the failovers
        if result.requeue_after is not None:
            self.queue.add_after(request.key, result.requeue_after)
        else:
            self.queue.cancel_delayed(request.key)

    def _failed(self, request: Request, error: Exception) -> None:
        namespace, _ = split_key(request.key)
        terminal = classify(error)
        if terminal is not None:
            RECONCILE_TERMINAL_ERRORS.labels(self.name, namespace, terminal.reason).inc()
            log.warning(
                "reconcile failed; not retried until the object or what it depends on changes",
                extra={"controller": self.name, "key": request.key, "error": str(error)},
            )
            self.queue.forget(request.key)
            involved = self.reconciler.involved(request.key)
            if involved is not None and self.events is not None:
                message = f"{terminal.message}; zen-lead retries when this object or its inputs change"
                self.events.record(involved, "Warning", terminal.reason, message)
            return
        RECONCILE_ERRORS.labels(self.name, namespace).inc()
        if isinstance(error, ApiError | OSError | LeadershipLost):
            log.warning(
                "reconcile failed, retrying",
                extra={"controller": self.name, "key": request.key, "error": str(error)},
            )
        else:
            log.exception("reconcile crashed, retrying", extra={"controller": self.name, "key": request.key})
        self.queue.retry(request.key, request.lane)
