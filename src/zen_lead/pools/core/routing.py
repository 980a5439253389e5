"""A pool's optional leader Service (``spec.leaderService``), as data: a selector-less Service and one
EndpointSlice per address family, pointing at the pool's leader only — built by the same
``routing.manifests`` as the director's leader Services, so it behaves like one (fail-closed: no
leader, no endpoint; the leader's addresses and resolved target ports; never a node port).

It is owned by the LeaderPolicy (deleted with it), labelled ``app.kubernetes.io/managed-by: zen-lead``
(so the director never takes it for a source) and ``coordination.kube-zen.io/pool`` (so changes to it
reach the pool), and annotated like the director's (the policy's UID as owner, the leader's name, UID
and since-time). Its slices are owned by the Service, as the director's are.
"""

from __future__ import annotations

from dataclasses import dataclass

from zen_lead.constants import LABEL_MANAGED_BY, LABEL_POOL, MANAGED_BY_VALUE, POOL_GROUP, POOL_VERSION
from zen_lead.eligibility.addresses import served_families
from zen_lead.eligibility.ports import resolve_ports
from zen_lead.kube.structs import EndpointSlice, LeaderPolicy, Pod, Service
from zen_lead.routing.drift import (
    service_must_replace,
    service_needs_update,
    slice_must_replace,
    slice_needs_update,
)
from zen_lead.routing.manifests import (
    JsonObject,
    endpoint_slice_manifests,
    leader_annotations,
    leader_service_manifest,
    owner_reference,
)
from zen_lead.routing.names import fit_label
from zen_lead.routing.ownership import owns_leader_service, owns_slice

SUFFIX = "-leader"


def pool_service_name(policy: LeaderPolicy) -> str | None:
    """The pool's leader Service name (None: the policy asks for none)."""
    wanted = policy.spec.leader_service
    if wanted is None:
        return None
    return wanted.name or fit_label(policy.metadata.name + SUFFIX)


@dataclass(frozen=True, slots=True)
class PoolRoute:
    """What to write for the pool's leader Service: ``service`` (None: as it is), ``replace`` (delete
    it first: an immutable field changed), ``slices`` (those that differ), ``conflict`` (a Service of
    that name that is not this pool's: nothing is written)."""

    service: JsonObject | None
    replace: bool
    slices: tuple[JsonObject, ...]
    replace_slices: tuple[str, ...]
    conflict: str | None


def plan_route(
    policy: LeaderPolicy,
    *,
    leader: Pod | None,
    leader_since: str | None,
    observed: Service | None,
    observed_slices: dict[str, EndpointSlice],
) -> PoolRoute | None:
    """The writes that make the pool's leader Service route to ``leader`` (None: no leader Service)."""
    name, wanted = pool_service_name(policy), policy.spec.leader_service
    if name is None or wanted is None:
        return None
    meta = policy.metadata
    if observed is not None and not owns_leader_service(observed, meta.uid):
        who = "another pool's" if observed.metadata.labels.get(LABEL_POOL) else "not this pool's"
        return PoolRoute(None, False, (), (), f"Service {name} exists and is {who}: nothing is written to it")
    labels = {LABEL_MANAGED_BY: MANAGED_BY_VALUE, LABEL_POOL: meta.name}
    resolution = resolve_ports(wanted.ports, leader) if leader is not None else None
    service = leader_service_manifest(
        name=name,
        namespace=meta.namespace,
        service_type="ClusterIP",
        headless=wanted.headless,
        ports=wanted.ports,
        resolution=resolution,
        observed=observed,
        labels=labels,
        annotations=leader_annotations(meta.uid, leader, leader_since),
        owner=owner_reference(f"{POOL_GROUP}/{POOL_VERSION}", "LeaderPolicy", meta.name, meta.uid),
    )
    replace = observed is not None and service_must_replace(observed, service)
    write_service = observed is None or replace or service_needs_update(observed, service)
    if observed is None or replace:  # the slices need the Service's UID: the next pass writes them
        return PoolRoute(service, replace, (), (), None)
    slices = endpoint_slice_manifests(
        namespace=meta.namespace,
        leader_service_name=name,
        leader_service_uid=observed.metadata.uid,
        families=served_families(observed),
        leader=leader,
        resolution=resolution,
        zone=None,
        labels=labels,
    )
    changed, stale = [], []
    for manifest in slices:
        current = observed_slices.get(manifest["metadata"]["name"])
        if current is not None and (
            not owns_slice(current, observed.metadata.uid) or slice_must_replace(current, manifest)
        ):
            stale.append(manifest["metadata"]["name"])
            changed.append(manifest)
        elif current is None or slice_needs_update(current, manifest):
            changed.append(manifest)
    return PoolRoute(service if write_service else None, False, tuple(changed), tuple(stale), None)
