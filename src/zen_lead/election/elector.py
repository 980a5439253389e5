"""``LeaderElector``: campaign for a Lease, lead while it is held, step down hard, campaign again.

The life of an elector is a loop of tenures::

    acquire ──> lead: start the work, renew in parallel ──> lost (deadline, taken over, deleted)
       ^                         │                                 │
       │                         └── stop() / cancelled            └── cancel the work at once,
       │                               cancel the work, keep            drain it, on_stopped_leading
       │                               renewing while it drains,                 │
       │                               release, return                           │
       └─────────────────────────────────────────────────────────────────────────┘

The work is ``on_started_leading(leadership)``, run inside an ``asyncio.TaskGroup`` that belongs to the
tenure: everything it starts with ``leadership.start_soon`` is cancelled with it. Cancellation is the
step-down: it is requested the moment the renew deadline passes (``renew_deadline`` after the start of
the last successful renewal), which is at least ``lease_duration - renew_deadline`` before any other
candidate may take over. Work that ignores cancellation for longer than that grace period is logged as
an error: from then on two leaders may act, and only fencing (``leadership.fence``) protects you.

Differences from client-go that a reader of its code should know: API calls have their own time limit
(a hung renewal never delays the step-down), the elector campaigns again after a loss instead of
returning, the work is drained before ``on_stopped_leading`` runs and before the release, and every new
tenure (even of the same identity) increments ``leaseTransitions`` — the fencing token.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from types import TracebackType
from typing import Any, Self, TypeVar

from zen_lead.election import metrics
from zen_lead.election.claim import LeaseClaim
from zen_lead.election.fence import Fence
from zen_lead.election.identity import default_identity
from zen_lead.election.record import FencingToken, Timing
from zen_lead.election.store import LeaseRef

log = logging.getLogger("zen_lead.election")

T = TypeVar("T")
OnStartedLeading = Callable[["Leadership"], Coroutine[Any, Any, None]]
OnStoppedLeading = Callable[[], Awaitable[None] | None]
OnNewLeader = Callable[[str], Awaitable[None] | None]


class Leadership:
    """The scope of one tenure, given to ``on_started_leading``.

    - ``fence`` / ``token``: the fencing token of this tenure; pass it to downstream systems.
    - ``start_soon(coro)``: run more leader work; it is cancelled the instant leadership is lost.
    - ``valid()``: still leading, by local knowledge (no I/O).
    """

    def __init__(self, fence: Fence, task_group: asyncio.TaskGroup) -> None:
        self.fence = fence
        self._task_group = task_group

    @property
    def token(self) -> FencingToken:
        return self.fence.fencing_token

    @property
    def identity(self) -> str:
        return self.fence.identity

    def valid(self) -> bool:
        return self.fence.valid()

    def start_soon(self, coro: Coroutine[Any, Any, T], *, name: str | None = None) -> asyncio.Task[T]:
        return self._task_group.create_task(coro, name=name)

    def __repr__(self) -> str:
        return f"<Leadership {self.fence!r}>"


class LeaderElector:
    """Leader election on a ``coordination.k8s.io/v1`` Lease, compatible with client-go candidates.

    ``lease`` is the Lease: a name (in the pod's own namespace, reached through the default
    kubeconfig) or a ``LeaseRef`` saying namespace and client or kubeconfig. ``identity`` defaults to
    the pod name plus a random suffix; ``timing`` to client-go's 15 s / 10 s / 2 s.

    ``on_started_leading(leadership)`` is the leader work; when it returns the elector keeps leading
    (and renewing) until stopped — return early only if the tasks it started keep working. An
    exception from it ends the tenure (released) and is raised from ``run()``.
    ``on_stopped_leading()`` runs after each tenure, once the work has drained.
    ``on_new_leader(identity)`` runs (as a task) whenever a different holder is observed, ourselves
    included. ``leader_gauge=False`` leaves ``zen_lead_election_is_leader`` to a program that reports
    its role itself (``zen-lead run`` exports ``zen_lead_is_leader``, also without election).

    Run it with ``await elector.run()`` (until ``stop()`` or cancellation: both drain, release and
    return / re-raise), or ``async with elector:`` (runs in a background task, stops on exit). An
    elector runs once; make a new one to campaign again after ``stop()``.
    """

    def __init__(
        self,
        lease: str | LeaseRef,
        *,
        on_started_leading: OnStartedLeading,
        on_stopped_leading: OnStoppedLeading | None = None,
        on_new_leader: OnNewLeader | None = None,
        identity: str | None = None,
        timing: Timing | None = None,
        watch: bool = True,
        leader_gauge: bool = True,
    ) -> None:
        self.lease = LeaseRef.of(lease)
        self._gauge = leader_gauge
        if not callable(on_started_leading):
            raise TypeError("on_started_leading must be a coroutine function taking a Leadership")
        self._identity = identity if identity is not None else default_identity()
        if not self._identity:
            raise ValueError("identity must not be empty")
        self.timing = timing or Timing()
        self._on_started = on_started_leading
        self._on_stopped = on_stopped_leading
        self._on_new_leader = on_new_leader
        self._watch = watch
        self._fence: Fence | None = None
        self._leader = ""
        self._leading = asyncio.Event()
        self._stop = asyncio.Event()
        self._running = False
        self._background: set[asyncio.Task[None]] = set()
        self._runner: asyncio.Task[None] | None = None

    # ---- state ------------------------------------------------------------------------------------
    @property
    def identity(self) -> str:
        return self._identity

    @property
    def is_leader(self) -> bool:
        """True while this elector holds the Lease and its renew deadline has not passed."""
        return self._fence is not None and self._fence.valid()

    @property
    def fencing_token(self) -> FencingToken | None:
        """The current tenure's token, or None when not leading."""
        fence = self._fence
        return fence.fencing_token if fence is not None and fence.valid() else None

    @property
    def fence(self) -> Fence | None:
        return self._fence

    @property
    def leader(self) -> str:
        """The last observed holder ("" when none observed)."""
        return self._leader

    async def wait_until_leader(self) -> Fence:
        """Wait until this elector leads; return the fence of that tenure."""
        while True:
            await self._leading.wait()
            fence = self._fence
            if fence is not None and fence.valid():
                return fence
            await asyncio.sleep(0.05)  # a tenure just ended and is being wound up

    # ---- running ----------------------------------------------------------------------------------
    def stop(self) -> None:
        """Ask ``run()`` to finish: cancel the work, let it drain, release the Lease, return."""
        self._stop.set()

    async def run(self) -> None:
        if self._running:
            raise RuntimeError(f"elector {self._identity!r} for {self.lease} is already running")
        self._running = True
        try:
            async with self.lease.storage() as storage:
                claim = LeaseClaim(
                    storage,
                    identity=self._identity,
                    timing=self.timing,
                    on_holder=self._holder_observed,
                )
                watcher = None
                if self._watch:
                    watcher = asyncio.create_task(claim.watch(), name=f"watch {self.lease}")
                try:
                    await self._campaign(claim)
                finally:
                    if watcher is not None:
                        watcher.cancel()
                        await asyncio.gather(watcher, return_exceptions=True)
        finally:
            self._running = False
            self._set_gauge(0)

    async def _campaign(self, claim: LeaseClaim) -> None:
        log.info(
            "campaigning for %s as %s",
            self.lease,
            self._identity,
            extra=self._extra(),
        )
        while not self._stop.is_set():
            fence = await claim.acquire(stop=self._stop)
            if fence is None:
                return
            await self._lead(claim, fence)

    async def _lead(self, claim: LeaseClaim, fence: Fence) -> None:
        """One tenure: run the work and the renewals side by side until loss, stop or cancellation."""
        acquired = time.monotonic()
        self._became_leader(fence)
        work = asyncio.create_task(self._work(fence), name=f"leader work {self.lease}")
        hold = asyncio.create_task(claim.hold(fence), name=f"renew {self.lease}")
        stopping = asyncio.create_task(self._stop.wait())
        cancelled = False
        try:
            await asyncio.wait({work, hold, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if work.done() and not work.cancelled() and work.exception() is None:
                await asyncio.wait({hold, stopping}, return_when=asyncio.FIRST_COMPLETED)  # work returned
        except asyncio.CancelledError:
            cancelled = True
        finally:
            stopping.cancel()
            work.cancel()  # the step-down (or the start of a graceful stop): at once
            if hold.done():
                self._lost_leadership(fence, _outcome(hold))
            await self._drain(work, fence)
            hold.cancel()
            await asyncio.gather(hold, return_exceptions=True)
            if await claim.release(fence):
                log.info("released %s", self.lease, extra=self._extra())
            self._stopped_leading(fence, acquired)
            if self._on_stopped is not None:
                await _call(self._on_stopped)
        if cancelled:
            raise asyncio.CancelledError
        error = None if work.cancelled() else work.exception()
        if error is not None:
            raise _unwrap(error)

    async def _work(self, fence: Fence) -> None:
        async with asyncio.TaskGroup() as task_group:
            leadership = Leadership(fence, task_group)
            task_group.create_task(self._on_started(leadership), name=f"on_started_leading {self.lease}")

    async def _drain(self, work: asyncio.Task[None], fence: Fence) -> None:
        """Wait for the cancelled work to finish; complain loudly once others may already lead."""
        grace_ends = fence.deadline + (self.timing.lease_duration - self.timing.renew_deadline)
        done, _ = await asyncio.wait({work}, timeout=max(0.0, grace_ends - time.monotonic()))
        if not done and not fence.valid():
            log.error(
                "leader work for %s is still running after its lease may have expired: two leaders may act "
                "now; make the work react to cancellation and fence its side effects",
                self.lease,
                extra=self._extra(),
            )
        await asyncio.wait({work})

    # ---- reporting --------------------------------------------------------------------------------
    def _became_leader(self, fence: Fence) -> None:
        self._fence = fence
        self._leading.set()
        self._set_gauge(1)
        log.info(
            "became leader of %s as %s (token %d)",
            self.lease,
            self._identity,
            fence.token,
            extra=self._extra(token=fence.token),
        )

    def _lost_leadership(self, fence: Fence, reason: str) -> None:
        log.warning(
            "lost leadership of %s as %s (token %d): %s",
            self.lease,
            self._identity,
            fence.token,
            reason,
            extra=self._extra(token=fence.token, reason=reason),
        )

    def _stopped_leading(self, fence: Fence, acquired: float) -> None:
        self._fence = None
        self._leading.clear()
        self._set_gauge(0)
        metrics.LEADERSHIP_DURATION.labels(str(self.lease)).observe(time.monotonic() - acquired)
        log.info(
            "stopped leading %s as %s (token %d)",
            self.lease,
            self._identity,
            fence.token,
            extra=self._extra(token=fence.token),
        )

    def _holder_observed(self, holder: str) -> None:
        self._leader = holder
        log.info(
            "new leader observed for %s: %s",
            self.lease,
            holder,
            extra=self._extra(holder=holder),
        )
        if self._on_new_leader is not None:
            task = asyncio.create_task(_call(self._on_new_leader, holder))
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    def _set_gauge(self, value: int) -> None:
        if self._gauge:
            metrics.IS_LEADER.labels(str(self.lease)).set(value)

    def _extra(self, **fields: object) -> dict[str, object]:
        """Structured fields for log records (``record.lease``, ``record.identity``, ...)."""
        return {"lease": str(self.lease), "identity": self._identity, **fields}

    # ---- plumbing ---------------------------------------------------------------------------------
    async def __aenter__(self) -> Self:
        self._runner = asyncio.create_task(self.run(), name=f"elector {self.lease}")
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        runner, self._runner = self._runner, None
        if runner is None:
            return
        self.stop()
        await runner


async def _call(callback: Callable[..., Awaitable[None] | None], *args: Any) -> None:
    """Call a sync or async callback; log (never raise) its errors — it is not the leader work."""
    try:
        result = callback(*args)
        if inspect.isawaitable(result):
            await result
    except Exception:
        log.exception("election callback %r failed", callback)


def _outcome(hold: asyncio.Task[str]) -> str:
    if hold.cancelled():
        return "renewal cancelled"
    error = hold.exception()
    return hold.result() if error is None else f"renewal failed: {error!r}"


def _unwrap(error: BaseException) -> BaseException:
    """The leader work runs in a TaskGroup: give the caller the one exception, not a group of one."""
    while isinstance(error, BaseExceptionGroup) and len(error.exceptions) == 1:
        error = error.exceptions[0]
    return error
