"""One identity's claim on one Lease: observe it, acquire it, keep it renewed, release it.

Both the elector (which campaigns again after every loss) and the lock (which acquires once) are
thin loops over a ``LeaseClaim``. The steps, each a short method:

- ``try_acquire`` — read the Lease, ask ``record.plan_acquire`` what to do, write conditionally;
- ``acquire`` — ``try_acquire`` until it succeeds, sleeping a jittered retry period, or exactly
  until the observed holder's lease runs out, or until the watch reports the Lease free;
- ``hold`` — renew every retry period; step down when ``renew_deadline`` has passed since the start
  of the last successful renewal, or at once when the Lease shows a newer tenure or is gone;
- ``release`` — write client-go's released record, conditionally on our last write.

Observations come from three sources — reads, our own writes, and an optional watch (``watch``)
that turns "the holder released" into an immediate retry instead of a poll. The watch is only a
hint: every decision is still made on a fresh read and written with ``resourceVersion``.

Time: decisions use ``time.monotonic()``; the wall clock is only formatted into the record.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

from zen_lead.election import metrics
from zen_lead.election.fence import Fence, FenceControl
from zen_lead.election.record import (
    Create,
    FencingToken,
    LeaseRecord,
    Observation,
    Timing,
    Wait,
    jittered,
    leader_deadline,
    next_try_at,
    observe,
    plan_acquire,
    released,
    renewed,
    still_ours,
    supersedes,
)
from zen_lead.election.store import LeaseConflict, LeaseMissing, LeaseStorage, LeaseUnavailable, Versioned
from zen_lead.kube.meta import is_older
from zen_lead.kube.times import now_microtime

log = logging.getLogger("zen_lead.election")


class _Lost(Exception):
    """The Lease shows that our tenure is over."""


@dataclass(slots=True)
class _Tenure:
    control: FenceControl
    record: LeaseRecord
    resource_version: str
    renew_started: float

    @property
    def fence(self) -> Fence:
        return self.control.fence


class LeaseClaim:
    """Acquire, renew and release one Lease as one identity. One tenure at a time."""

    def __init__(
        self,
        store: LeaseStorage,
        *,
        identity: str,
        timing: Timing,
        on_holder: Callable[[str], None] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.store = store
        self.identity = identity
        self.timing = timing
        self.observation: Observation | None = None
        self._on_holder = on_holder
        self._rng = rng or random.Random()
        self._highest_transitions = -1
        self._reported_holder = ""
        self._free = asyncio.Event()  # set when an observation shows the Lease free or missing
        self._tenure: _Tenure | None = None
        self._lease = str(store.ref)

    # ---- observing --------------------------------------------------------------------------------
    def _observe(self, versioned: Versioned | None, now: float) -> None:
        if versioned is None:
            self.observation = None
            self._free.set()
            return
        current = self.observation
        if current is not None and is_older(versioned.resource_version, current.resource_version):
            return  # a watch event still in flight from before what we already know
        self.observation = observe(current, versioned.record, versioned.resource_version, now)
        record = versioned.record
        self._highest_transitions = max(self._highest_transitions, record.transitions)
        if not record.held:
            self._free.set()
        elif record.holder != self._reported_holder:
            self._reported_holder = record.holder
            metrics.TRANSITIONS.labels(self._lease).inc()
            if self._on_holder is not None:
                self._on_holder(record.holder)
        tenure = self._tenure
        if tenure is not None and supersedes(record, transitions=tenure.fence.token):
            tenure.control.lose(
                f"the Lease shows a newer tenure: {record.holder!r}, transitions {record.transitions}"
            )

    @property
    def holder(self) -> str:
        """The last observed holder ("" when none or unknown)."""
        return self.observation.record.holder if self.observation is not None else ""

    async def _refresh(self, *, limit: float) -> Versioned | None:
        current = await self.store.read(limit=limit)
        self._observe(current, time.monotonic())
        return current

    async def read(self) -> LeaseRecord | None:
        """A fresh read of the record (for ``Fence.confirm``)."""
        current = await self._refresh(limit=self.timing.call_timeout)
        return None if current is None else current.record

    async def watch(self) -> None:
        """Feed observations from a watch, forever; restart it after errors. Cancel to stop."""
        while True:
            try:
                async for versioned in self.store.changes():
                    self._observe(versioned, time.monotonic())
            except LeaseUnavailable as error:
                log.debug("lease watch interrupted: %s", error, extra={"lease": self._lease})
            except Exception:  # a hint stream must not take the elector down; polling still works
                log.exception("lease watch failed", extra={"lease": self._lease})
            await asyncio.sleep(self._delay())

    # ---- acquiring --------------------------------------------------------------------------------
    async def try_acquire(self) -> Fence | None:
        """One attempt: the fence of a new tenure, or None when someone else holds the Lease.

        Raises ``LeaseUnavailable`` when the API could not be reached.
        """
        if self._tenure is not None:
            if self._tenure.fence.valid():
                raise RuntimeError(f"{self.identity!r} already holds {self._lease}")
            self._tenure = None  # a lost tenure nobody released
        call_timeout = self.timing.call_timeout
        await self._refresh(limit=call_timeout)
        plan = plan_acquire(
            self.observation,
            identity=self.identity,
            lease_duration_seconds=self.timing.lease_duration_seconds,
            now=time.monotonic(),
            timestamp=now_microtime(),
            min_transitions=self._highest_transitions + 1,
        )
        if isinstance(plan, Wait):
            return None
        started = time.monotonic()
        try:
            if isinstance(plan, Create):
                written = await self.store.create(plan.record, limit=call_timeout)
            else:
                written = await self.store.update(
                    plan.record, resource_version=plan.resource_version, limit=call_timeout
                )
        except LeaseConflict:  # someone else wrote first: learn who, for the next decision
            await self._refresh(limit=call_timeout)
            return None
        except LeaseMissing:
            self._observe(None, time.monotonic())
            return None
        return self._begin_tenure(written, started)

    def _begin_tenure(self, written: Versioned, started: float) -> Fence:
        ref = self.store.ref
        control = FenceControl(
            token=FencingToken(ref.namespace, ref.name, written.record.transitions),
            identity=self.identity,
            deadline=leader_deadline(started, self.timing),
            read=self.read,
        )
        fence = control.fence
        self._tenure = _Tenure(
            control=control,
            record=written.record,
            resource_version=written.resource_version,
            renew_started=started,
        )
        self._observe(written, time.monotonic())
        return fence

    async def acquire(
        self, *, deadline: float | None = None, stop: asyncio.Event | None = None
    ) -> Fence | None:
        """Try until acquired. None when ``stop`` is set; ``TimeoutError`` when ``deadline`` passes."""
        while True:
            if stop is not None and stop.is_set():
                return None
            self._free.clear()
            failed = False
            try:
                fence = await self.try_acquire()
            except LeaseUnavailable as error:
                metrics.API_ERRORS.labels(self._lease, "acquire").inc()
                log.warning(
                    "could not try to acquire %s: %s", self._lease, error, extra={"lease": self._lease}
                )
                fence, failed = None, True
            if fence is not None:
                return fence
            now = time.monotonic()
            wake = next_try_at(self.observation, now=now, delay=self._delay(), failed=failed)
            if deadline is not None:
                if now >= deadline:
                    raise TimeoutError(f"{self._lease} is held by {self.holder or 'nobody we could see'}")
                wake = min(wake, deadline)
            events = [self._free] if stop is None else [self._free, stop]
            await _sleep_until(wake, *events)

    def _delay(self) -> float:
        return jittered(self.timing.retry_period, self.timing.jitter_factor, self._rng.random())

    # ---- holding ----------------------------------------------------------------------------------
    async def hold(self, fence: Fence) -> str:
        """Renew until the tenure is over; return why. Cancel it to stop renewing.

        Call ``release`` afterwards in both cases: it ends the tenure (and writes only when the Lease
        still shows it)."""
        tenure = self._tenure_of(fence)
        next_renewal = tenure.renew_started + self.timing.retry_period
        while fence.valid():
            await _sleep_until(min(next_renewal, fence.deadline), tenure.control.lost)
            if not fence.valid():
                break
            try:
                await self._renew(tenure)
                next_renewal = tenure.renew_started + self.timing.retry_period
            except LeaseUnavailable as error:
                metrics.API_ERRORS.labels(self._lease, "renew").inc()
                left = fence.deadline - time.monotonic()
                log.warning(
                    "could not renew %s (%.1fs left before stepping down): %s",
                    self._lease,
                    left,
                    error,
                    extra={"lease": self._lease, "identity": self.identity},
                )
                next_renewal = time.monotonic() + self.timing.retry_period / 2
            except _Lost as lost:
                tenure.control.lose(str(lost))
        tenure.control.lose(
            f"renew deadline passed: no successful renewal for {self.timing.renew_deadline:g}s"
        )
        return fence.lost_reason or "lost"

    async def _renew(self, tenure: _Tenure) -> None:
        fence = tenure.fence
        started = time.monotonic()
        record = renewed(
            tenure.record,
            lease_duration_seconds=self.timing.lease_duration_seconds,
            timestamp=now_microtime(),
        )
        version = tenure.resource_version
        for _ in range(2):
            try:
                written = await self.store.update(record, resource_version=version, limit=self._left(fence))
                break
            except LeaseMissing as error:
                raise _Lost("the Lease was deleted") from error
            except LeaseConflict:  # a write we did not see (ours timed out, or metadata changed): re-read
                current = await self._refresh(limit=self._left(fence))
                if current is None or not still_ours(
                    current.record, identity=self.identity, transitions=fence.token
                ):
                    shown = "no Lease" if current is None else repr(current.record.holder)
                    raise _Lost(f"the Lease now shows {shown}") from None
                version = current.resource_version
        else:
            raise LeaseUnavailable(f"renew {self._lease}: conflicting writes")
        tenure.record, tenure.resource_version, tenure.renew_started = (
            written.record,
            written.resource_version,
            started,
        )
        tenure.control.extend(leader_deadline(started, self.timing))
        self._observe(written, time.monotonic())

    def _left(self, fence: Fence) -> float:
        """A call's time limit while leading: the API timeout, but never past the step-down deadline."""
        return min(self.timing.call_timeout, fence.deadline - time.monotonic())

    def _tenure_of(self, fence: Fence) -> _Tenure:
        tenure = self._tenure
        if tenure is None or tenure.fence is not fence:
            raise RuntimeError(f"{fence!r} is not the current tenure of this claim")
        return tenure

    # ---- releasing --------------------------------------------------------------------------------
    async def release(self, fence: Fence) -> bool:
        """End the tenure; write client-go's released record if it was still valid.

        The fence is invalid from the start of the release. The write is conditional on our last
        resourceVersion, so it cannot erase anyone else's tenure. After a step-down nothing is written:
        the renewals that just failed would most likely fail again, and the Lease expires anyway.
        """
        tenure = self._tenure
        was_valid = fence.valid()
        if tenure is None or tenure.fence is not fence:
            return False  # an ended tenure's fence: already invalid
        tenure.control.lose("released")
        self._tenure = None
        if not was_valid:
            return False  # stepped down: the API failed us, or someone took over; nothing to release
        record = released(tenure.record, timestamp=now_microtime())
        version = tenure.resource_version
        call_timeout = self.timing.call_timeout
        try:
            for _ in range(2):
                try:
                    written = await self.store.update(record, resource_version=version, limit=call_timeout)
                except LeaseConflict:
                    current = await self._refresh(limit=call_timeout)
                    if current is None or not still_ours(
                        current.record, identity=self.identity, transitions=fence.token
                    ):
                        return False
                    version = current.resource_version
                    continue
                self._observe(written, time.monotonic())
                return True
        except LeaseMissing:
            return False
        except LeaseUnavailable as error:
            metrics.API_ERRORS.labels(self._lease, "release").inc()
            log.warning(
                "could not release %s, it will expire: %s", self._lease, error, extra={"lease": self._lease}
            )
        return False


async def _sleep_until(when: float, *events: asyncio.Event) -> None:
    """Sleep until local monotonic time ``when``, or until any of ``events`` is set."""
    delay = when - time.monotonic()
    if delay <= 0 or any(event.is_set() for event in events):
        return
    if not events:
        await asyncio.sleep(delay)
        return
    waiters = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        await asyncio.wait(waiters, timeout=delay, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
