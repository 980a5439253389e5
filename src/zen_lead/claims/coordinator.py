"""``ClaimCoordinator``: claims made by one leader in priority order, or optimistically by everyone.

Every replica runs the same coordinator. Each keeps shared informer caches of the claimables, the
claimants and the coordinator Lease ``<name>-claim-coordinator-leader``, and after every change asks
the core what to do (``core.mode``):

- **leader** (it holds the Lease): derive the claim state from the caches, plan every pending claim
  in priority order (``core.plan.leader_plan``) and write the plan — a few writes at a time, each
  conditional, each checked against the tenure's fence first and stamped with identity and token;
- **delegate** (another replica renewed the Lease within one lease duration): leave the claims to it;
- **fallback** (no leader seen, or coordination disabled): claim each pending claimant itself, as
  plain optimistic locking does — the same conditional writes, so it is as safe, only noisier.

The pending queue is never stored: it is what the caches show, so a new leader rebuilds it from the
cluster and nothing is lost with a crashed one. Claims whose claimant is gone, or reserves another
claimable, are released after a live read confirms it (``core.model.release_reason``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Iterable
from typing import Any

from zen_lead.claims.core.mode import Mode, mode
from zen_lead.claims.core.model import Claimant, ClaimState, claim_state, release_reason
from zen_lead.claims.core.plan import Bind, choose, fallback_order, leader_plan
from zen_lead.claims.core.priority import Priority, default_priority
from zen_lead.claims.core.steps import Fence, Reserve, claim_steps
from zen_lead.claims.descriptor import CLAIM_MODE, CLAIMED_BY, TOKEN, ClaimDescriptor
from zen_lead.claims.leadership import DuplicateIdentityError, LeaseView
from zen_lead.claims.metrics import ClaimMetrics
from zen_lead.claims.options import ClaimCoordinatorOptions
from zen_lead.election import LeaderElector, LeaseRef, default_identity
from zen_lead.kube.client import ApiClient
from zen_lead.kube.errors import ApiError, TransportError
from zen_lead.kube.resources import LEASES, Resource
from zen_lead.kube.structs import GenericObject, Lease
from zen_lead.runtime.cache import InformerCache

log = logging.getLogger("zen_lead.claims")
RETRY_AFTER_ERROR = 1.0  # seconds before a pass that hit a transport error is tried again


def lease_name(name: str) -> str:
    return f"{name}-claim-coordinator-leader"


class ClaimCoordinator:
    """A runnable: ``await coordinator.run()`` until cancelled (raises ``DuplicateIdentityError``)."""

    needs_leader_election = False  # it elects its own leader on its own Lease

    def __init__(
        self,
        client: ApiClient,
        descriptor: ClaimDescriptor,
        *,
        name: str,
        namespace: str,
        options: ClaimCoordinatorOptions,
        identity: str | None = None,
        priority: Priority = default_priority,
        metrics: ClaimMetrics | None = None,
        concurrency: int = 8,
        cache: InformerCache | None = None,
    ) -> None:
        self.client = client
        self.descriptor = descriptor
        self.namespace = namespace
        self.options = options
        self.identity = identity or default_identity()
        self.priority = priority
        self.metrics = metrics or ClaimMetrics()
        self.lease = lease_name(name)
        self.name = f"claim-coordinator {namespace}/{name}"
        self._cache = cache or InformerCache(client, namespaces=[namespace])
        self._own_cache = cache is None
        self._claimables = self._cache.informer(descriptor.claimable)
        self._claimants = self._cache.informer(descriptor.claimant)
        self._leases = self._cache.informer(LEASES)
        self.view = LeaseView(identity=self.identity, namespace=namespace, metrics=self.metrics)
        self._slots = asyncio.Semaphore(concurrency)
        self._mode: Mode | None = None
        self._delegated: set[str] = set()  # claimants told "delegated" since the mode was entered
        self._unmatched: set[str] = set()  # claimants counted "no_match" since the mode was entered
        for informer in (self._claimables, self._claimants):
            informer.add_handler(lambda _change, _old, _new: self.view.changed.set())
        self._leases.add_handler(self._lease_changed)

    def _lease_changed(self, _change: Any, old: Lease | None, new: Lease | None) -> None:
        changed = new if new is not None else old
        if changed is not None and changed.metadata.name == self.lease:
            self.view.observe(new)

    # ---- running ----------------------------------------------------------------------------------
    async def run(self) -> None:
        try:
            await self._run()
        except* DuplicateIdentityError as group:
            raise group.exceptions[0] from None  # as the docstring says: not wrapped in a group

    async def _run(self) -> None:
        async with asyncio.TaskGroup() as group:
            if self._own_cache:
                group.create_task(self._cache.run(), name="claim informers")
            await self._cache.wait_synced()
            self.view.observe(self._leases.get(self.namespace, self.lease))
            if self.options.enabled:
                await self.view.check_identity_free(self.options.timing.lease_duration)
                elector = LeaderElector(
                    LeaseRef(self.lease, self.namespace, client=self.client),
                    identity=self.identity,
                    timing=self.options.timing,
                    on_started_leading=self.view.lead,
                    on_new_leader=self.view.new_leader,
                    leader_gauge=False,
                )
                group.create_task(elector.run(), name="claim coordinator elector")
            group.create_task(self._loop(), name="claim coordinator loop")

    async def _loop(self) -> None:
        while True:
            self.view.raise_if_duplicate()
            self.view.changed.clear()
            now = time.monotonic()
            current = mode(
                enabled=self.options.enabled,
                leading=self.view.leadership is not None and self.view.leadership.valid(),
                leader_seen_at=self.view.leader_seen_at,
                now=now,
                lease_duration=self.options.timing.lease_duration,
            )
            self._entered(current)
            timeout = None
            try:
                await self._pass(current)
            except TransportError as error:
                log.warning("claim pass interrupted: %s", error)
                timeout = RETRY_AFTER_ERROR
            if current is Mode.DELEGATE and self.view.leader_seen_at is not None:
                expires = self.view.leader_seen_at + self.options.timing.lease_duration - time.monotonic()
                timeout = max(0.0, expires) if timeout is None else min(timeout, max(0.0, expires))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.view.changed.wait(), timeout=timeout)

    def _entered(self, current: Mode) -> None:
        if current is self._mode:
            return
        self._mode = current
        self._delegated.clear()
        self._unmatched.clear()
        if current is Mode.FALLBACK:
            log.info("Using fallback coordinator (no leader or leader election disabled)")

    async def _pass(self, current: Mode) -> None:
        state = self._state()
        if current is Mode.DELEGATE:
            for claimant in state.pending:
                if claimant.uid not in self._delegated:
                    self._delegated.add(claimant.uid)
                    self.metrics.result(self.namespace, "delegated")
                    log.info(
                        "Delegating claim to leader",
                        extra={"claimant": claimant.name, "leader": self.view.current_holder()},
                    )
            return
        await self._release(state)
        if current is Mode.LEADER:
            await self._lead(state)
        else:
            await self._fallback(state)

    def _state(self) -> ClaimState:
        return claim_state(
            (self.descriptor.to_claimant(o) for o in self._claimants.items()),
            (self.descriptor.to_claimable(o) for o in self._claimables.items()),
        )

    # ---- leader -----------------------------------------------------------------------------------
    async def _lead(self, state: ClaimState) -> None:
        leadership = self.view.leadership
        if leadership is None:
            return
        plan = leader_plan(state, now=time.time(), priority=self.priority)
        self._no_match(plan.unmatched)
        stamp = {CLAIMED_BY: self.identity, TOKEN: str(leadership.token.transitions), CLAIM_MODE: "leader"}

        async def one(bind: Bind) -> None:
            async with self._slots:
                if not leadership.valid():
                    return  # the tenure ended: the next leader plans again from the cluster
                log.info(
                    "Processing claim as leader",
                    extra={"claimant": bind.claimant.name, "claimable": bind.claimable.name},
                )
                await self._claim(bind, stamp, "claimed", leadership.valid)

        async with asyncio.TaskGroup() as group:
            for bind in plan.binds:
                group.create_task(one(bind))

    def _no_match(self, claimants: Iterable[Claimant]) -> None:
        for claimant in claimants:
            if claimant.uid not in self._unmatched:
                self._unmatched.add(claimant.uid)
                self.metrics.result(self.namespace, "no_match")

    # ---- fallback ---------------------------------------------------------------------------------
    async def _fallback(self, state: ClaimState) -> None:
        stamp = {CLAIMED_BY: self.identity, TOKEN: "", CLAIM_MODE: "fallback"}
        for claimant in fallback_order(state, now=time.time(), priority=self.priority):
            if self.options.enabled and self.view.leadership is not None:
                return  # became leader meanwhile: the leader pass takes over
            fresh = self._state()  # our own writes are in the cache already (write-through)
            if claimant.name in fresh.held:
                continue
            live = {c.name: c for c in fresh.pending}.get(claimant.name)
            if live is None:
                continue
            bind = choose(live, {c.name: c for c in fresh.free})
            if bind is None:
                self._no_match([live])
                continue
            await self._claim(bind, stamp, "fallback_claimed", lambda: True)

    # ---- writes -----------------------------------------------------------------------------------
    async def _claim(self, bind: Bind, stamp: dict[str, str], result: str, valid: Any) -> None:
        """The writes of ``core.steps.claim_steps``, in order, each conditional on the versions this
        attempt decides on: the claimant, the target and the claimable a reservation leaves, read
        from the caches here, together, before the first write (a plan made earlier may be stale)."""
        d = self.descriptor
        started = time.monotonic()
        claimant = self._claimants.get(self.namespace, bind.claimant.name)
        claimable = self._claimables.get(self.namespace, bind.claimable.name)
        if claimant is None or claimable is None:
            return
        now = Bind(d.to_claimant(claimant), d.to_claimable(claimable), bind.reserved)
        if now.claimant.host != bind.claimant.host or now.claimable.consumer is not None:
            return  # the caches moved on since the plan: the pass they triggered plans again
        left = self._claimables.get(self.namespace, now.claimant.host) if now.claimant.host else None
        attempt = secrets.token_hex(8)
        try:
            for step in claim_steps(now):
                if isinstance(step, Fence):
                    if not await self._fence(step.claimable, left, now.claimant, attempt):
                        return  # the claimant holds what it reserved: nothing to move
                elif isinstance(step, Reserve):
                    patch = d.reserve_patch(claimant, claimable, attempt=attempt, stamp=stamp)
                    claimant = await self._write(d.claimant, claimant, patch, d.reservation_field)
                    self._claimants.put(claimant)
                    if d.attempt(claimant) != attempt:
                        self._pruned()
                        return
                    if not valid():
                        return  # reserved but not bound: whoever leads next finishes it
                else:
                    patch = d.bind_patch(claimable, claimant, stamp=stamp)
                    self._claimables.put(await self._write(d.claimable, claimable, patch, d.consumer_field))
        except ApiError as error:
            kind = "conflict" if error.conflict else "error"
            if not error.conflict and not error.not_found:
                log.warning("claim of %s for %s failed: %s", bind.claimable.name, bind.claimant.name, error)
            self.metrics.result(self.namespace, kind, time.monotonic() - started)
            return
        self.metrics.result(self.namespace, result, time.monotonic() - started)

    async def _fence(self, name: str, obj: GenericObject | None, claimant: Claimant, attempt: str) -> bool:
        """A new version of the claimable ``claimant``'s reservation leaves, conditional on the version
        decided on (``obj``; read live if the cache has none). False if ``claimant`` holds it after all;
        one that does not exist needs no fence."""
        d = self.descriptor
        if obj is None:
            try:
                obj = await self.client.get(d.claimable, self.namespace, name)
            except ApiError as error:
                if error.not_found:
                    return True
                raise
        consumer = d.to_claimable(obj).consumer
        if consumer is not None and consumer.uid == claimant.uid:
            return False
        try:
            self._claimables.put(await self._write(d.claimable, obj, d.fence_patch(obj, attempt=attempt), ""))
        except ApiError as error:
            if not error.not_found:
                raise
        return True

    def _pruned(self) -> None:
        """The reservation came back without its attempt: the claimant's schema drops the field, so
        restamps would not change the claimant and binds could not be made safe. Refuse to bind."""
        self.metrics.result(self.namespace, "error")
        log.error(
            "%s.attempt of %s was not stored (pruned by its schema?): declare it, or claims stay unmade",
            self.descriptor.reservation_field,
            self.descriptor.claimant.kind,
        )

    async def _release(self, state: ClaimState) -> None:
        d = self.descriptor
        for suspect in state.suspect:
            consumer = suspect.consumer
            if consumer is None:
                continue
            started = time.monotonic()
            try:
                live_obj: GenericObject | None = await self.client.get(
                    d.claimant, self.namespace, consumer.name
                )
            except ApiError as error:
                if not error.not_found:
                    log.warning("could not read claimant %s to check its claim: %s", consumer.name, error)
                    continue
                live_obj = None
            reason = release_reason(suspect, d.to_claimant(live_obj) if live_obj is not None else None)
            obj = self._claimables.get(self.namespace, suspect.name)
            if reason is None or obj is None:
                continue
            try:
                self._claimables.put(
                    await self._write(d.claimable, obj, d.release_patch(obj), d.consumer_field)
                )
            except ApiError as error:
                self.metrics.result(self.namespace, "conflict" if error.conflict else "error")
                continue
            self.metrics.result(self.namespace, "released", time.monotonic() - started)
            log.info("released claim on %s: %s", suspect.name, reason)

    async def _write(
        self, resource: Resource[GenericObject], obj: GenericObject, patch: dict[str, Any], field: str
    ) -> GenericObject:
        meta = obj.metadata
        return await self.client.patch(
            resource, meta.namespace, meta.name, patch, subresource=self.descriptor.subresource(field)
        )
