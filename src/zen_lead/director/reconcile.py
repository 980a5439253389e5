"""One reconcile of one source Service: read the caches, let the pure core plan, write differences.

Order of writes (the plan's contract, ``director.core.decision``), chosen for failover latency:

1. If the leader Service does not exist yet (or must be replaced), create it: its UID owns the slices.
2. **EndpointSlices** — they are what routes traffic. On a failover this is the only write on the
   critical path; the moment it lands is the reported failover latency.
3. Then the leader Service's metadata (leader annotations), off the critical path.
4. Then deletions: slices no longer desired, leader Services left behind by a rename or an opt-out.

Nothing is written when observed equals desired. Every write is a server-side apply with the one field
manager, and the returned object is written through to the cache, so the next reconcile compares with
what was written. Objects zen-lead does not own are never written or deleted.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Iterator

from zen_lead.constants import LABEL_SOURCE_SERVICE, ZONE_LABEL
from zen_lead.director.core import (
    STARTUP_GRACE,
    PlannedEvent,
    endpoint_slice_name,
    is_leader_service,
    mentions_zen_lead,
    owns_leader_service,
    parse_config,
    plan_leader,
    plan_slices,
    problem_events,
    told_problems,
)
from zen_lead.director.metrics import (
    ELIGIBLE_PODS,
    FAILOVER_LATENCY,
    LEADER_CHANGES,
    MANAGED_SERVICES,
    NAME_CONFLICTS,
    PER_SERVICE,
    SERVICES_WITHOUT_LEADER,
    forget_service,
)
from zen_lead.director.tracker import Tracker
from zen_lead.eligibility.addresses import FAMILIES
from zen_lead.kube.client import ApiClient
from zen_lead.kube.meta import ObjectRef, object_key, split_key
from zen_lead.kube.resources import ENDPOINT_SLICES, SERVICES, Resource
from zen_lead.kube.structs import EndpointSlice, Node, Pod, Service
from zen_lead.runtime.cache import ScopedInformer
from zen_lead.runtime.controller import Request, Result
from zen_lead.runtime.events import EventRecorder
from zen_lead.runtime.runnable import WriteGate


class ServiceReconciler:
    """The director's ``Reconciler``: keys are source Services (``namespace/name``)."""

    def __init__(
        self,
        *,
        client: ApiClient,
        events: EventRecorder,
        gate: WriteGate,
        services: ScopedInformer[Service],
        slices: ScopedInformer[EndpointSlice],
        nodes: ScopedInformer[Node] | None,
        tracker: Tracker,
        startup_grace: float = STARTUP_GRACE,
    ) -> None:
        self.startup_grace = startup_grace
        self.client = client
        self.events = events
        self.gate = gate
        self.services = services
        self.slices = slices
        self.nodes = nodes
        self.tracker = tracker

    # ---- what the generic controller asks -----------------------------------------------------
    def involved(self, key: str) -> ObjectRef | None:
        namespace, name = split_key(key)
        source = self.services.get(namespace, name)
        return SERVICES.ref(source) if source is not None else None

    def startup_keys(self) -> Iterator[str]:
        """Every opted-in source, and every source our objects name (orphans are swept this way)."""
        for service in self.services.items():
            meta = service.metadata
            if is_leader_service(service):
                source = meta.labels.get(LABEL_SOURCE_SERVICE)
                if source:
                    yield object_key(meta.namespace, source)
            elif mentions_zen_lead(meta.annotations):
                yield object_key(meta.namespace, meta.name)
        for slice_ in self.slices.items():
            source = slice_.metadata.labels.get(LABEL_SOURCE_SERVICE)
            if source:
                yield object_key(slice_.metadata.namespace, source)

    # ---- the reconcile ------------------------------------------------------------------------
    async def reconcile(self, request: Request) -> Result:
        """Converge one source. The failover lane writes only what routes traffic and defers the
        leader Service's metadata to a routine pass, so a burst of failovers is not slowed by
        bookkeeping writes."""
        key = request.key
        namespace, name = split_key(key)
        source = self.services.get(namespace, name)
        if source is not None and is_leader_service(source):
            return Result()  # a leader Service is never a source, whatever its annotations say
        parsed = parse_config(source) if source is not None else None
        if source is not None and parsed is not None:
            self._standing(key, source, "problems", problem_events(told_problems(parsed)))
        if source is None or parsed is None or not parsed.config.enabled:
            await self._remove_leader_services(namespace, name, keep=None, source=source)
            self._forget(key, gone=source is None)
            return Result()

        config = parsed.config
        leader_name = config.leader_service_name
        observed = self.services.get(namespace, leader_name)
        observed_slices = self._observed_slices(namespace, leader_name)
        pods = self.tracker.pods.matching(namespace, source.spec.selector or {})
        plan = plan_leader(
            source=source,
            config=config,
            pods=pods,
            observed=observed,
            observed_slices=observed_slices,
            now=time.time(),
            rivals=[
                s for n in self.tracker.rivals(key, leader_name) if (s := self.services.get(namespace, n))
            ],
            startup_grace=self.startup_grace,
        )
        if plan.conflict:
            self.tracker.wait_for_name(namespace, leader_name, key)
            self._standing(key, source, "conflict", plan.conflicts)
            NAME_CONFLICTS.labels(namespace).set(self.tracker.set_conflicted(key, bool(plan.conflicts)))
            return Result()
        self._standing(key, source, "conflict", ())
        NAME_CONFLICTS.labels(namespace).set(self.tracker.set_conflicted(key, False))
        self._count_managed(key, opted_in=True)
        await self._remove_leader_services(namespace, name, keep=leader_name, source=source)

        assert plan.service is not None
        assert plan.selection is not None
        if plan.replace_service and observed is not None:
            await self._delete(SERVICES, namespace, leader_name, observed.metadata.uid)
            observed, observed_slices = None, []
        if plan.create_service or observed is None:
            observed = await self._apply_service(namespace, leader_name, plan.service)
        leader = plan.selection.leader
        slice_plan = plan_slices(
            source=source,
            plan=plan,
            leader_service=observed,
            observed_slices=observed_slices,
            zone=self._zone(leader),
        )
        for slice_name in slice_plan.to_replace:  # addressType is immutable
            await self._delete(ENDPOINT_SLICES, namespace, slice_name, None)
        if slice_plan.to_apply:
            await asyncio.gather(*(self._apply_slice(namespace, m) for m in slice_plan.to_apply))
            if plan.leader_changed:
                FAILOVER_LATENCY.labels(namespace).observe(time.monotonic() - request.since)
        deferred = plan.update_service and request.urgent and bool(slice_plan.to_apply)
        if plan.update_service and not deferred:
            await self._apply_service(namespace, leader_name, plan.service)
        for slice_name in slice_plan.to_delete:
            await self._delete(ENDPOINT_SLICES, namespace, slice_name, None)

        for event in plan.events:
            self.events.record(SERVICES.ref(source), event.type, event.reason, event.message)
        self._standing(key, source, "leaderless", plan.leaderless, by_reason=True)
        self._metrics(
            key,
            source,
            plan_changed=plan.leader_changed,
            leader=leader,
            eligible=plan.selection.eligible_count,
            reason=str(plan.selection.previous_ineligibility or plan.selection.reason),
        )
        return Result(requeue_after=plan.requeue_after, requeue=deferred)

    # ---- reads --------------------------------------------------------------------------------
    def _observed_slices(self, namespace: str, leader_name: str) -> list[EndpointSlice]:
        names = self.tracker.slices_by_service.names(namespace, leader_name)
        names.update(endpoint_slice_name(leader_name, family) for family in FAMILIES)
        found = (self.slices.get(namespace, slice_name) for slice_name in sorted(names))
        return [s for s in found if s is not None]

    def _zone(self, pod: Pod | None) -> str | None:
        if pod is None or self.nodes is None or not pod.spec.node_name:
            return None
        node = self.nodes.get("", pod.spec.node_name)
        return node.metadata.labels.get(ZONE_LABEL) if node is not None else None

    # ---- writes -------------------------------------------------------------------------------
    async def _apply_service(self, namespace: str, name: str, manifest: dict[str, object]) -> Service:
        self.gate.check()
        written = await self.client.apply(SERVICES, namespace, name, manifest)
        self.services.put(written)
        return written

    async def _apply_slice(self, namespace: str, manifest: dict[str, object]) -> None:
        name = str(manifest["metadata"]["name"])  # type: ignore[index]
        self.gate.check()
        written = await self.client.apply(ENDPOINT_SLICES, namespace, name, manifest)
        self.tracker.wrote_slice(namespace, name, written.metadata.resource_version)
        self.slices.put(written)

    async def _delete(
        self,
        resource: Resource[Service] | Resource[EndpointSlice],
        namespace: str,
        name: str,
        uid: str | None,
    ) -> None:
        informers: ScopedInformer[Service] | ScopedInformer[EndpointSlice] = (
            self.services if resource is SERVICES else self.slices
        )
        current = informers.get(namespace, name)
        guard = uid or (current.metadata.uid if current is not None else None)
        self.gate.check()
        await self.client.delete(resource, namespace, name, uid=guard)
        informers.forget(namespace, name)

    async def _remove_leader_services(
        self, namespace: str, source_name: str, *, keep: str | None, source: Service | None
    ) -> None:
        """Delete this source's leader Services other than ``keep`` (rename, opt-out, source gone).

        Only Services labelled as ours for this source are candidates; while the source exists they must
        also be owned by it (ownerReference to its UID). Their slices follow by garbage collection."""
        for name in sorted(self.tracker.leader_services.names(namespace, source_name)):
            service = self.services.get(namespace, name)
            if service is None or name == keep or not is_leader_service(service):
                continue
            if source is not None and not owns_leader_service(service, source.metadata.uid):
                continue
            await self._delete(SERVICES, namespace, name, service.metadata.uid)

    # ---- events, metrics, memory ----------------------------------------------------------------
    def _standing(
        self,
        key: str,
        source: Service,
        topic: str,
        events: Iterable[PlannedEvent],
        *,
        by_reason: bool = False,
    ) -> None:
        """Record standing conditions (bad annotations, name conflicts, no leader) once per change, not
        per pass. ``by_reason``: a change of wording alone (counts of pods) is not told again."""
        planned = tuple(events)
        told = tuple(e.reason if by_reason else e.message for e in planned)
        if self.tracker.told(key, topic, told):
            for event in planned:
                self.events.record(SERVICES.ref(source), event.type, event.reason, event.message)

    def _count_managed(self, key: str, *, opted_in: bool) -> None:
        count = self.tracker.managed(key, opted_in=opted_in)
        if count is not None:
            MANAGED_SERVICES.labels(split_key(key)[0]).set(count)

    def _metrics(
        self, key: str, source: Service, *, plan_changed: bool, leader: Pod | None, eligible: int, reason: str
    ) -> None:
        owner = (source.metadata.namespace, source.metadata.name)
        PER_SERVICE.labels(ELIGIBLE_PODS, owner).set(eligible)
        if plan_changed:
            PER_SERVICE.labels(LEADER_CHANGES, owner, reason).inc()
        without = self.tracker.set_leaderless(key, leader is None)
        SERVICES_WITHOUT_LEADER.labels(owner[0]).set(without)

    def _forget(self, key: str, *, gone: bool) -> None:
        """``key`` is not (or no longer) opted in, or ``gone``; what was told about its annotations is
        kept while it exists, so a Service that stays misconfigured is not told again on every pass."""
        namespace, name = split_key(key)
        self.tracker.forget(key, keep=() if gone else ("problems",))
        NAME_CONFLICTS.labels(namespace).set(self.tracker.set_conflicted(key, False))
        self._count_managed(key, opted_in=False)
        SERVICES_WITHOUT_LEADER.labels(namespace).set(self.tracker.leaderless_in(namespace))
        forget_service(namespace, name)
