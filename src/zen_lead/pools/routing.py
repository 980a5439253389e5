"""Writes a pool's leader Service and its EndpointSlices (``spec.leaderService``), as the director writes
its own: server-side apply with zen-lead's one field manager, only what differs, slices first once the
Service exists (their owner), and a Service of that name that is not this pool's is never touched
(``LeaderService=False, reason NameConflict``, and a Warning once). A leader Service the spec no longer
asks for (removed, or renamed) is deleted, guarded by its UID."""

from __future__ import annotations

from zen_lead.constants import LABEL_POOL
from zen_lead.kube.client import ApiClient
from zen_lead.kube.meta import object_key
from zen_lead.kube.resources import ENDPOINT_SLICES, LEADER_POLICIES, SERVICES
from zen_lead.kube.structs import Condition, EndpointSlice, LeaderPolicy, Pod, Service
from zen_lead.pools.core.routing import PoolRoute, plan_route, pool_service_name
from zen_lead.pools.tracker import PoolTracker
from zen_lead.routing.names import endpoint_slice_name
from zen_lead.routing.ownership import owns_leader_service
from zen_lead.runtime.cache import ScopedInformer
from zen_lead.runtime.events import EventRecorder
from zen_lead.runtime.runnable import WriteGate

LEADER_SERVICE = "LeaderService"
_FAMILIES = ("IPv4", "IPv6")


class PoolRouting:
    def __init__(
        self,
        *,
        client: ApiClient,
        gate: WriteGate,
        events: EventRecorder,
        services: ScopedInformer[Service],
        slices: ScopedInformer[EndpointSlice],
        tracker: PoolTracker,
    ) -> None:
        self.client, self.gate, self.events = client, gate, events
        self.services, self.slices, self.tracker = services, slices, tracker

    async def converge(
        self, policy: LeaderPolicy, *, leader: Pod | None, leader_since: str | None
    ) -> tuple[Condition, ...]:
        """Route the pool's leader Service to ``leader``; the condition to show (none without one)."""
        namespace = policy.metadata.namespace
        name = pool_service_name(policy)
        await self._remove_unwanted(policy, keep=name)
        if name is None:
            return ()
        observed = self.services.get(namespace, name)
        route = plan_route(
            policy,
            leader=leader,
            leader_since=leader_since,
            observed=observed,
            observed_slices=self._observed_slices(namespace, name),
        )
        assert route is not None
        key = object_key(namespace, policy.metadata.name)
        if route.conflict is not None:
            if self.tracker.told(key, "leader-service", (route.conflict,)):
                self.events.record(LEADER_POLICIES.ref(policy), "Warning", "NameConflict", route.conflict)
            return (Condition(LEADER_SERVICE, "False", "NameConflict", route.conflict),)
        self.tracker.told(key, "leader-service", ())
        await self._write(namespace, name, observed, route)
        who = f"routes to {leader.metadata.name}" if leader is not None else "has no endpoint (no leader)"
        return (Condition(LEADER_SERVICE, "True", "Routing", f"Service {name} {who}"),)

    async def _write(self, namespace: str, name: str, observed: Service | None, route: PoolRoute) -> None:
        if route.replace and observed is not None:
            self.gate.check()
            await self.client.delete(SERVICES, namespace, name, uid=observed.metadata.uid)
            self.services.forget(namespace, name)
        for stale in route.replace_slices:
            current = self.slices.get(namespace, stale)
            self.gate.check()
            await self.client.delete(
                ENDPOINT_SLICES, namespace, stale, uid=current.metadata.uid if current else None
            )
            self.slices.forget(namespace, stale)
        for manifest in route.slices:  # the slices route traffic: first
            self.gate.check()
            written = await self.client.apply(
                ENDPOINT_SLICES, namespace, manifest["metadata"]["name"], manifest
            )
            self.slices.put(written)
        if route.service is not None:
            self.gate.check()
            service = await self.client.apply(SERVICES, namespace, name, route.service)
            self.services.put(service)

    async def _remove_unwanted(self, policy: LeaderPolicy, *, keep: str | None) -> None:
        """Delete this pool's leader Services other than ``keep`` (their slices go with them: owned)."""
        meta = policy.metadata
        for service in list(self.services.items()):
            smeta = service.metadata
            if (
                smeta.namespace != meta.namespace
                or smeta.name == keep
                or smeta.labels.get(LABEL_POOL) != meta.name
                or not owns_leader_service(service, meta.uid)
            ):
                continue
            self.gate.check()
            await self.client.delete(SERVICES, smeta.namespace, smeta.name, uid=smeta.uid)
            self.services.forget(smeta.namespace, smeta.name)

    def _observed_slices(self, namespace: str, name: str) -> dict[str, EndpointSlice]:
        found = {}
        for family in _FAMILIES:
            slice_name = endpoint_slice_name(name, family)
            current = self.slices.get(namespace, slice_name)
            if current is not None:
                found[slice_name] = current
        return found
