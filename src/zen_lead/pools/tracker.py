"""``PoolTracker``: what the pools controller knows between reconciles, and which pools a change
concerns — shared one way, as the director's tracker is: handlers feed it changes and queue the
``(namespace/pool, lane)`` pairs it answers; the reconciler reads it and tells it what it wrote.

What it holds:

- pods by the pool their ``zen-lead/pool`` annotation names, member or not (a pod naming a pool that
  does not exist must still be told why it is not a member);
- for each pool Lease, the record and the local monotonic time the controller first saw it — how
  long it has stayed unchanged is what tells a live tenure of a campaigning member from a dead one
  (the controller's own clock, never the timestamps in the Lease);
- the resourceVersions of the Leases it wrote (their watch echo needs no reconcile), and the standing
  conditions it has told (pod membership problems, policy conditions) so they are told once.

Lanes: a change to a pod that leads a pool, or to a member of a pool without a leader, and the
deletion of a pool's Lease, are failover work; the rest is routine.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from zen_lead.constants import LABEL_POOL
from zen_lead.election.record import LeaseRecord, record_of
from zen_lead.kube.informer import Change
from zen_lead.kube.meta import object_key, split_key
from zen_lead.kube.ratelimit import Lane
from zen_lead.kube.structs import EndpointSlice, HorizontalPodAutoscaler, LeaderPolicy, Lease, Pod, Service
from zen_lead.pools.core.membership import pool_of
from zen_lead.runtime.index import OwnedIndex

Work = tuple[str, Lane]


def pool_signature(pod: Pod | None) -> tuple[Any, ...] | None:
    """What a pool decision reads of a pod (its role annotations, which zen-lead writes, are not)."""
    if pod is None:
        return None
    meta, status = pod.metadata, pod.status
    annotations = {k: v for k, v in meta.annotations.items() if k.startswith("zen-lead/") and k not in _OURS}
    return (
        meta.uid,
        meta.deletion_timestamp,
        tuple(sorted(annotations.items())),
        pod.spec.node_name,
        status.phase,
        status.pod_ip,
        status.pod_ips,
        tuple(c for c in status.conditions if c.type == "Ready"),
    )


_OURS = frozenset({"zen-lead/role", "zen-lead/term"})


@dataclass(frozen=True, slots=True)
class Seen:
    record: LeaseRecord
    first_seen: float  # local monotonic time


class PoolTracker:
    def __init__(self) -> None:
        self.pods_by_pool = OwnedIndex()  # (namespace, pool) -> pod names
        self._leases: dict[str, Seen] = {}  # pool key -> the record as first seen
        self._written: dict[str, str] = {}  # pool key -> resourceVersion of our last Lease write
        self._leaders: dict[str, str] = {}  # pool key -> the leader pod's name (as last decided)
        self._told: dict[tuple[str, str], tuple[str, ...]] = {}
        self._scale_targets: dict[tuple[str, str, str], set[str]] = {}  # (ns, kind, name) -> pools

    # ---- changes in, work out ------------------------------------------------------------------
    def policy_changed(
        self, change: Change, old: LeaderPolicy | None, new: LeaderPolicy | None
    ) -> list[Work]:
        policy = new or old
        assert policy is not None
        key = object_key(policy.metadata.namespace, policy.metadata.name)
        for version in (old, new):
            target = version.spec.scale_target if version is not None else None
            if target is not None:
                pools = self._scale_targets.setdefault(
                    (policy.metadata.namespace, target.kind, target.name), set()
                )
                pools.discard(key)
        if new is not None and new.spec.scale_target is not None:
            target = new.spec.scale_target
            self._scale_targets.setdefault((policy.metadata.namespace, target.kind, target.name), set()).add(
                key
            )
        return [(key, Lane.ROUTINE)]

    def pod_changed(self, change: Change, old: Pod | None, new: Pod | None) -> list[Work]:
        pod = new or old
        assert pod is not None
        namespace, name = pod.metadata.namespace, pod.metadata.name
        pools = {p for p in (pool_of(old) if old else None, pool_of(new) if new else None) if p}
        for version, present in ((old, False), (new, True)):
            pool = pool_of(version) if version is not None else None
            if pool is not None:
                if present:
                    self.pods_by_pool.add(namespace, pool, name)
                else:
                    self.pods_by_pool.remove(namespace, pool, name)
        if new is None:
            for key, topic in [k for k in self._told if k[0] == object_key(namespace, name)]:
                del self._told[(key, topic)]
        if change is Change.MODIFIED and pool_signature(old) == pool_signature(new):
            return []
        work = []
        for pool in sorted(pools):
            key = object_key(namespace, pool)
            leads = self._leaders.get(key)
            urgent = leads == name or leads is None
            work.append((key, Lane.FAILOVER if urgent else Lane.ROUTINE))
        return work

    def lease_changed(self, change: Change, old: Lease | None, new: Lease | None) -> list[Work]:
        lease = new or old
        assert lease is not None
        pool = lease.metadata.labels.get(LABEL_POOL)
        if not pool:
            return []
        key = object_key(lease.metadata.namespace, pool)
        if new is None:
            self._leases.pop(key, None)
            return [(key, Lane.FAILOVER)]
        self.observe(key, new)
        if self._written.get(key) == new.metadata.resource_version:
            del self._written[key]
            return []  # the echo of our own write
        return [(key, Lane.ROUTINE)]

    def hpa_changed(
        self, change: Change, old: HorizontalPodAutoscaler | None, new: HorizontalPodAutoscaler | None
    ) -> list[Work]:
        found: set[str] = set()
        for version in (old, new):
            if version is not None:
                ref = version.spec.scale_target_ref
                found |= self._scale_targets.get((version.metadata.namespace, ref.kind, ref.name), set())
        return [(key, Lane.ROUTINE) for key in sorted(found)]

    def routed_changed(
        self, change: Change, old: Service | EndpointSlice | None, new: Service | EndpointSlice | None
    ) -> list[Work]:
        """A pool's leader Service or one of its slices changed (label ``coordination.kube-zen.io/pool``):
        repaired by the pool, urgently when deleted (it routes traffic)."""
        obj = new or old
        assert obj is not None
        pool = obj.metadata.labels.get(LABEL_POOL)
        if not pool:
            return []
        lane = Lane.FAILOVER if change is Change.DELETED else Lane.ROUTINE
        return [(object_key(obj.metadata.namespace, pool), lane)]

    # ---- what the reconciler reads and tells ---------------------------------------------------
    def observe(self, key: str, lease: Lease, now: float | None = None) -> None:
        record = record_of(lease.spec)
        seen = self._leases.get(key)
        if seen is None or seen.record != record:
            self._leases[key] = Seen(record, time.monotonic() if now is None else now)

    def unchanged_for(self, key: str, now: float | None = None) -> float:
        """Seconds the controller has seen the pool's Lease record unchanged (0 when never seen)."""
        seen = self._leases.get(key)
        return 0.0 if seen is None else (time.monotonic() if now is None else now) - seen.first_seen

    def wrote_lease(self, key: str, lease: Lease) -> None:
        self._written[key] = lease.metadata.resource_version
        self.observe(key, lease)

    def set_leader(self, key: str, pod: str | None) -> None:
        if pod is None:
            self._leaders.pop(key, None)
        else:
            self._leaders[key] = pod

    def told(self, key: str, topic: str, messages: tuple[str, ...]) -> bool:
        """Remember a standing condition; False when it was already told exactly so."""
        if self._told.get((key, topic), ()) == messages:
            return False
        if messages:
            self._told[(key, topic)] = messages
        else:
            self._told.pop((key, topic), None)
        return True

    def members(self, key: str) -> set[str]:
        namespace, pool = split_key(key)
        return self.pods_by_pool.names(namespace, pool)

    def forget(self, key: str) -> None:
        self._leases.pop(key, None)
        self._written.pop(key, None)
        self._leaders.pop(key, None)
