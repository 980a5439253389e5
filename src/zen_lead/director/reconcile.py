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
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from zen_lead.constants import ZONE_LABEL
from zen_lead.director.core import (
    endpoint_slice_name,
    is_leader_service,
    owns_leader_service,
    parse_config,
)
from zen_lead.director.core.decision import PlannedEvent, plan_leader, plan_slices, problem_events
from zen_lead.director.events import EventRecorder
from zen_lead.director.index import LabelIndex, OwnedIndex
from zen_lead.director.scope import ScopedInformers, collection_path
from zen_lead.kube.client import ApiClient
from zen_lead.kube.informer import object_key
from zen_lead.kube.structs import EndpointSlice, Node, Pod, Service
from zen_lead.observability.metrics import (
    ELIGIBLE_PODS,
    LEADER_CHANGES,
    MANAGED_SERVICES,
    SERVICES_WITHOUT_LEADER,
    forget_service,
)

SERVICE_API = ("v1", "services")
SLICE_API = ("discovery.k8s.io/v1", "endpointslices")
FAMILIES = ("IPv4", "IPv6")


class LeadershipLost(RuntimeError):
    """A write was about to be made after this replica's leadership ended."""


@dataclass(slots=True)
class Outcome:
    leader_changed: bool = False
    routed_at: float | None = None  # monotonic time the routing write landed
    requeue_after: float | None = None
    deferred: bool = False  # metadata left for a routine pass (failover lane: routing first)


def _path(api: tuple[str, str], namespace: str, name: str) -> str:
    return f"{collection_path(api[0], api[1], namespace)}/{name}"


@dataclass(slots=True)
class _Memory:
    """What the reconciler remembers between passes; never routing state (that is read from the API)."""

    standing: dict[tuple[str, str], tuple[str, ...]] = field(default_factory=dict)  # (key, topic) -> messages
    blocked_by: dict[tuple[str, str], set[str]] = field(default_factory=dict)
    leaderless: set[str] = field(default_factory=set)
    managed: dict[str, set[str]] = field(default_factory=dict)  # namespace -> opted-in source names
    written_slices: dict[str, str] = field(default_factory=dict)  # slice key -> resourceVersion we wrote


class Reconciler:
    def __init__(
        self,
        *,
        client: ApiClient,
        events: EventRecorder,
        services: ScopedInformers[Service],
        slices: ScopedInformers[EndpointSlice],
        nodes: ScopedInformers[Node] | None,
        pod_index: LabelIndex,
        leader_services: OwnedIndex,
        slices_by_service: OwnedIndex,
    ) -> None:
        self.client = client
        self.events = events
        self.services = services
        self.slices = slices
        self.nodes = nodes
        self.pod_index = pod_index
        self.leader_services = leader_services
        self.slices_by_service = slices_by_service
        self.memory = _Memory()
        self.may_write: Callable[[], bool] = lambda: True

    # ---- queries for the controller's handlers ------------------------------------------------
    def is_leaderless(self, key: str) -> bool:
        return key in self.memory.leaderless

    def sources_blocked_by(self, namespace: str, name: str) -> set[str]:
        return self.memory.blocked_by.pop((namespace, name), set())

    def wrote(self, slice_: EndpointSlice | None) -> bool:
        """Is this watch event the echo of our own write? (Then it needs no reconcile.)"""
        if slice_ is None:
            return False
        key = object_key(slice_.metadata.namespace, slice_.metadata.name)
        if self.memory.written_slices.get(key) == slice_.metadata.resource_version:
            del self.memory.written_slices[key]
            return True
        return False

    # ---- the reconcile ------------------------------------------------------------------------
    async def reconcile(self, key: str, *, urgent: bool = False) -> Outcome:
        """Converge one source. ``urgent`` (the failover lane) writes only what routes traffic and
        defers the leader Service's metadata to a routine pass, so a burst of failovers is not slowed
        by bookkeeping writes."""
        namespace, _, name = key.partition("/")
        source = self.services.get(namespace, name)
        if source is not None and is_leader_service(source):
            return Outcome()  # a leader Service is never a source, whatever its annotations say
        parsed = parse_config(source) if source is not None else None
        if source is not None and parsed is not None:
            self._standing(key, source, "problems", problem_events(parsed.problems))
        if source is None or parsed is None or not parsed.config.enabled:
            await self._remove_leader_services(namespace, name, keep=None, source=source)
            self._forget(key, namespace, name)
            return Outcome()

        config = parsed.config
        leader_name = config.leader_service_name
        observed = self.services.get(namespace, leader_name)
        observed_slices = self._observed_slices(namespace, leader_name)
        pods = self.pod_index.matching(namespace, source.spec.selector or {})
        plan = plan_leader(
            source=source,
            config=config,
            pods=pods,
            observed=observed,
            observed_slices=observed_slices,
            now=time.time(),
        )
        if plan.conflict:
            self.memory.blocked_by.setdefault((namespace, leader_name), set()).add(key)
            self._standing(key, source, "conflict", plan.events)
            return Outcome()
        self._standing(key, source, "conflict", ())
        self._track(key, namespace, name)
        await self._remove_leader_services(namespace, name, keep=leader_name, source=source)

        assert plan.service is not None
        assert plan.selection is not None
        if plan.replace_service and observed is not None:
            await self._delete(SERVICE_API, namespace, leader_name, observed.metadata.uid)
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
            await self._delete(SLICE_API, namespace, slice_name, None)
        if slice_plan.to_apply:
            await asyncio.gather(*(self._apply_slice(namespace, m) for m in slice_plan.to_apply))
        routed_at = time.monotonic()
        deferred = plan.update_service and urgent and bool(slice_plan.to_apply)
        if plan.update_service and not deferred:
            await self._apply_service(namespace, leader_name, plan.service)
        for slice_name in slice_plan.to_delete:
            await self._delete(SLICE_API, namespace, slice_name, None)

        for event in plan.events:
            self.events.record(source, event.type, event.reason, event.message)
        self._metrics(
            key,
            source,
            plan_changed=plan.leader_changed,
            leader=leader,
            eligible=plan.selection.eligible_count,
            reason=str(plan.selection.previous_ineligibility or plan.selection.reason),
        )
        return Outcome(
            leader_changed=plan.leader_changed,
            routed_at=routed_at if slice_plan.to_apply else None,
            requeue_after=plan.requeue_after,
            deferred=deferred,
        )

    # ---- reads --------------------------------------------------------------------------------
    def _observed_slices(self, namespace: str, leader_name: str) -> list[EndpointSlice]:
        names = self.slices_by_service.names(namespace, leader_name)
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
        self._check_fence()
        written = await self.client.apply(
            _path(SERVICE_API, namespace, name), manifest, Service, resource="services"
        )
        self.services.put(written)
        return written

    async def _apply_slice(self, namespace: str, manifest: dict[str, object]) -> None:
        name = str(manifest["metadata"]["name"])  # type: ignore[index]
        self._check_fence()
        written = await self.client.apply(
            _path(SLICE_API, namespace, name), manifest, EndpointSlice, resource="endpointslices"
        )
        self.memory.written_slices[object_key(namespace, name)] = written.metadata.resource_version
        self.slices.put(written)

    async def _delete(self, api: tuple[str, str], namespace: str, name: str, uid: str | None) -> None:
        informers = self.services if api is SERVICE_API else self.slices
        current = informers.get(namespace, name)
        guard = uid or (current.metadata.uid if current is not None else None)
        self._check_fence()
        await self.client.delete(_path(api, namespace, name), resource=api[1], uid=guard)
        informers.forget(namespace, name)

    async def _remove_leader_services(
        self, namespace: str, source_name: str, *, keep: str | None, source: Service | None
    ) -> None:
        """Delete this source's leader Services other than ``keep`` (rename, opt-out, source gone).

        Only Services labelled as ours for this source are candidates; while the source exists they must
        also be owned by it (ownerReference to its UID). Their slices follow by garbage collection."""
        for name in sorted(self.leader_services.names(namespace, source_name)):
            service = self.services.get(namespace, name)
            if service is None or name == keep or not is_leader_service(service):
                continue
            if source is not None and not owns_leader_service(service, source.metadata.uid):
                continue
            await self._delete(SERVICE_API, namespace, name, service.metadata.uid)

    def _check_fence(self) -> None:
        if not self.may_write():
            raise LeadershipLost("this replica's leadership ended: no more writes")

    # ---- events, metrics, memory ----------------------------------------------------------------
    def _standing(self, key: str, source: Service, topic: str, events: Iterable[PlannedEvent]) -> None:
        """Record standing conditions (bad annotations, name conflicts) once per change, not per pass."""
        planned = tuple(events)
        messages = tuple(e.message for e in planned)
        if self.memory.standing.get((key, topic), ()) == messages:
            return
        if messages:
            self.memory.standing[(key, topic)] = messages
        else:
            self.memory.standing.pop((key, topic), None)
        for event in planned:
            self.events.record(source, event.type, event.reason, event.message)

    def _track(self, key: str, namespace: str, name: str) -> None:
        managed = self.memory.managed.setdefault(namespace, set())
        if name not in managed:
            managed.add(name)
            MANAGED_SERVICES.labels(namespace).set(len(managed))

    def _metrics(
        self, key: str, source: Service, *, plan_changed: bool, leader: Pod | None, eligible: int, reason: str
    ) -> None:
        namespace, name = source.metadata.namespace, source.metadata.name
        ELIGIBLE_PODS.labels(namespace, name).set(eligible)
        if plan_changed:
            LEADER_CHANGES.labels(namespace, name, reason).inc()
        if leader is None:
            self.memory.leaderless.add(key)
        else:
            self.memory.leaderless.discard(key)
        SERVICES_WITHOUT_LEADER.labels(namespace).set(
            sum(1 for k in self.memory.leaderless if k.startswith(namespace + "/"))
        )

    def _forget(self, key: str, namespace: str, name: str) -> None:
        self.memory.leaderless.discard(key)
        for topic in ("problems", "conflict"):
            self.memory.standing.pop((key, topic), None)
        managed = self.memory.managed.get(namespace)
        if managed is not None and name in managed:
            managed.discard(name)
            MANAGED_SERVICES.labels(namespace).set(len(managed))
        SERVICES_WITHOUT_LEADER.labels(namespace).set(
            sum(1 for k in self.memory.leaderless if k.startswith(namespace + "/"))
        )
        forget_service(namespace, name)
