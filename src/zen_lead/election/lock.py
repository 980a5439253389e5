"""Fenced locks on Leases: ``async with lock("nightly-report", ttl=30) as fence: ...``.

A lock is one tenure of a ``LeaseClaim``: acquire (waiting, with an optional timeout, or a single try),
renew in the background every ``ttl / 6`` while held, release on exit. A holder that dies stops
renewing and the lock is free ``ttl`` seconds after the others last saw it renewed.

If renewals fail for ``2/3 * ttl`` (the renew deadline) the lock is lost: the fence turns stale and —
unless ``cancel_on_loss=False`` — the body of the ``async with`` is cancelled, the way
``asyncio.timeout`` cancels, and ``LockLostError`` is raised from it. The fence's ``token`` (the Lease's
``leaseTransitions``) is strictly greater than that of every earlier holder: give it to the storage you
write to so it can refuse writes from a holder that lost the lock but does not know it yet.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from types import TracebackType

from zen_lead.election import metrics
from zen_lead.election.claim import LeaseClaim
from zen_lead.election.fence import Fence
from zen_lead.election.identity import default_identity
from zen_lead.election.query import current_leader
from zen_lead.election.record import Timing
from zen_lead.election.store import LeaseRef, LeaseUnavailable


class LockNotAcquiredError(TimeoutError):
    """The lock is held by someone else (after ``timeout``, or at once with ``wait=False``)."""


class LockLostError(Exception):
    """The lock was lost while its body ran (renewals failed, or someone else holds it now)."""


class LeaseLock:
    """A lock on the Lease ``lease`` (a name or a ``LeaseRef``), held for ``ttl`` seconds between
    renewals."""

    def __init__(
        self,
        lease: str | LeaseRef,
        *,
        ttl: float,
        identity: str | None = None,
        timeout: float | None = None,
        wait: bool = True,
        cancel_on_loss: bool = True,
    ) -> None:
        self.ref = LeaseRef.of(lease)
        if not ttl >= 1:
            raise ValueError(f"ttl must be at least 1 second (got {ttl!r}): the Lease counts whole seconds")
        if timeout is not None and not timeout >= 0:
            raise ValueError(f"timeout must be None (wait forever) or >= 0 (got {timeout!r})")
        self.identity = identity or default_identity()
        self.timing = Timing.for_ttl(ttl)
        self.timeout = timeout
        self.wait = wait
        self.cancel_on_loss = cancel_on_loss
        self._connection = contextlib.AsyncExitStack()
        self._claim: LeaseClaim | None = None
        self._watcher: asyncio.Task[None] | None = None
        self._keeper: asyncio.Task[None] | None = None
        self._fence: Fence | None = None
        self._acquired_at = 0.0
        self._body: asyncio.Task[object] | None = None
        self._cancelled_body = False

    @property
    def fence(self) -> Fence | None:
        return self._fence

    @property
    def held(self) -> bool:
        return self._fence is not None and self._fence.valid()

    # ---- acquire / release --------------------------------------------------------------------
    async def acquire(self) -> Fence:
        """Acquire (``wait`` and ``timeout`` as configured) and start renewing; return the fence."""
        if self._fence is not None:
            raise RuntimeError(f"lock {self.ref} is already held by this object")
        try:
            storage = await self._connection.enter_async_context(self.ref.storage())
            claim = self._claim = LeaseClaim(storage, identity=self.identity, timing=self.timing)
            fence = await self._acquire(claim)
        except BaseException:
            await self._close()
            raise
        self._fence = fence
        self._acquired_at = time.monotonic()
        metrics.IS_LEADER.labels(str(self.ref)).set(1)
        self._keeper = asyncio.create_task(self._keep(claim, fence), name=f"renew lock {self.ref}")
        return fence

    async def _acquire(self, claim: LeaseClaim) -> Fence:
        if not self.wait:
            try:
                fence = await claim.try_acquire()
            except LeaseUnavailable as error:
                raise LockNotAcquiredError(f"lock {self.ref}: {error}") from error
            if fence is None:
                raise LockNotAcquiredError(f"lock {self.ref} is held by {claim.holder!r}")
            return fence
        self._watcher = asyncio.create_task(claim.watch(), name=f"watch lock {self.ref}")
        deadline = None if self.timeout is None else time.monotonic() + self.timeout
        try:
            acquired = await claim.acquire(deadline=deadline)
        except TimeoutError as error:
            raise LockNotAcquiredError(
                f"lock {self.ref} not acquired within {self.timeout:g}s: {error}"
            ) from error
        assert acquired is not None  # no stop event was given
        return acquired

    async def _keep(self, claim: LeaseClaim, fence: Fence) -> None:
        """Renew until lost; then cancel the body (if asked to) — the lock's hard step-down."""
        await claim.hold(fence)
        body = self._body
        if self.cancel_on_loss and body is not None and not body.done() and not self._cancelled_body:
            self._cancelled_body = True
            body.cancel(f"lock {self.ref} lost: {fence.lost_reason}")

    async def release(self) -> None:
        """Stop renewing and give the lock back (no-op when not held)."""
        fence, keeper, claim = self._fence, self._keeper, self._claim
        self._fence = self._keeper = None
        try:
            if keeper is not None:
                keeper.cancel()
                await asyncio.gather(keeper, return_exceptions=True)
            if fence is not None and claim is not None:
                await claim.release(fence)
                metrics.IS_LEADER.labels(str(self.ref)).set(0)
                metrics.LEADERSHIP_DURATION.labels(str(self.ref)).observe(
                    time.monotonic() - self._acquired_at
                )
        finally:
            await self._close()

    async def _close(self) -> None:
        watcher, self._watcher = self._watcher, None
        if watcher is not None:
            watcher.cancel()
            await asyncio.gather(watcher, return_exceptions=True)
        await self._connection.aclose()

    # ---- async with ---------------------------------------------------------------------------
    async def __aenter__(self) -> Fence:
        fence = self._fence if self._fence is not None else await self.acquire()
        self._body = asyncio.current_task()
        self._cancelled_body = False
        return fence

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        body, self._body = self._body, None
        lost = self._cancelled_body
        fence = self._fence
        reason = fence.lost_reason if fence is not None else None
        others_cancelled = False
        if lost and body is not None:
            others_cancelled = body.uncancel() > 0  # someone besides us cancelled the body too
            if exc_type is None:
                # the body finished before our cancellation reached it: absorb the pending request
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.sleep(0)
        await self.release()
        if lost and not others_cancelled and exc_type in (None, asyncio.CancelledError):
            raise LockLostError(f"lock {self.ref} was lost while held: {reason}") from exc


def lock(
    lease: str | LeaseRef,
    *,
    ttl: float,
    identity: str | None = None,
    timeout: float | None = None,
    wait: bool = True,
    cancel_on_loss: bool = True,
) -> LeaseLock:
    """``async with lock(lease, ttl=...) as fence:`` — see ``LeaseLock``.

    ``wait=True`` waits (up to ``timeout`` seconds, or forever) for the lock; ``wait=False`` tries once.
    Both raise ``LockNotAcquiredError`` (a ``TimeoutError``) when the lock stays held by someone else.
    """
    return LeaseLock(
        lease, ttl=ttl, identity=identity, timeout=timeout, wait=wait, cancel_on_loss=cancel_on_loss
    )


async def try_acquire(
    lease: str | LeaseRef, *, ttl: float, identity: str | None = None, cancel_on_loss: bool = True
) -> LeaseLock | None:
    """One attempt. A held ``LeaseLock`` (use ``async with`` on it to run and release) or None."""
    held = lock(lease, ttl=ttl, identity=identity, wait=False, cancel_on_loss=cancel_on_loss)
    try:
        await held.acquire()
    except LockNotAcquiredError:
        return None
    return held


async def holder(lease: str | LeaseRef, *, max_age: float = 1.0) -> str | None:
    """Who holds lock ``lease`` now, or None — ``query.current_leader``'s semantics and cache."""
    return await current_leader(lease, max_age=max_age)
