"""One reconcile's decisions for one source Service, as data: what to write, delete and tell.

The shell calls, in order (see the ``director.reconcile`` docstring for why this order):

1. ``plan_leader`` with the source, its parsed config, the candidate pods, the observed leader Service
   (the one named ``config.leader_service_name``, or ``None``), the observed EndpointSlices and the
   other opted-in sources asking for the same leader Service name (``rivals``). If ``plan.conflict``:
   tell ``plan.conflicts`` and stop, the name is someone else's. If ``plan.replace_service``: delete
   the observed leader Service (UID precondition), then create. If ``plan.create_service``: apply
   ``plan.service`` first; its UID owns the slices.
2. ``plan_slices`` with the leader Service as it now exists: delete ``to_replace``, apply ``to_apply``
   (the routing write), then, if ``plan.update_service``, apply ``plan.service``; then delete
   ``to_delete``.
3. Emit ``plan.events``, tell ``plan.leaderless``; requeue after ``plan.requeue_after`` seconds if set.

Who leads *now* is read from the routing truth, the endpoints of the slices zen-lead owns, and only
without such slices from the leader Service's annotation (an annotation write can fail after the slice
write that matters). ``LeaderElected`` and ``LeaderChanged`` are edge-triggered against that: emitted
only when the leader changes. Having no leader is a standing condition (``plan.leaderless``, see
``core.events``): a leader just lost is a Warning at once; a leader Service that never had a leader is
Normal ``WaitingForEligiblePod`` for ``startup_grace`` seconds after it was made while its pods may be
starting. ``plan.conflicts`` is standing too. The shell tells standing conditions once per change.

Leader Service names are unique per namespace, so two sources may ask for one (``NameConflict``). The
winner is deterministic: the source that holds the name keeps it while it asks for it (no routing is
taken away); a free name goes to the oldest source asking (creation time, then name). The others are
not served until the name is free, and are told who has it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from zen_lead.constants import (
    ANNOTATION_LEADER_POD,
    ANNOTATION_LEADER_POD_UID,
    ANNOTATION_LEADER_SINCE,
    ANNOTATION_LEADER_TERM,
)
from zen_lead.director.core.config import DirectorConfig
from zen_lead.director.core.desired import JsonObject, desired_endpoint_slices, desired_leader_service
from zen_lead.director.core.events import (
    PlannedEvent,
    foreign_name_conflict,
    leader_events,
    leaderless_events,
    rival_name_conflict,
)
from zen_lead.director.core.selection import select_leader
from zen_lead.eligibility.ports import PortResolution, resolve_ports
from zen_lead.eligibility.selection import Selection
from zen_lead.kube.structs import EndpointSlice, Pod, Service
from zen_lead.kube.times import format_time, parse_time
from zen_lead.routing.drift import (
    service_must_replace,
    service_needs_update,
    slice_must_replace,
    slice_needs_update,
)
from zen_lead.routing.ownership import is_leader_service, owns_leader_service, owns_slice

# How long a new leader Service may wait for its first eligible pod before NoEligiblePod is a Warning
# (``zen-lead run --startup-grace``): a Deployment applied with its Service passes through it.
STARTUP_GRACE = 60.0


class LeaderRef(NamedTuple):
    uid: str
    name: str


@dataclass(frozen=True, slots=True)
class Plan:
    """Decisions about the leader Service (see the module docstring for how the shell uses them)."""

    config: DirectorConfig
    conflict: bool
    selection: Selection | None
    resolution: PortResolution | None
    service: JsonObject | None
    create_service: bool
    update_service: bool
    replace_service: bool
    leader_changed: bool
    events: tuple[PlannedEvent, ...]  # edge-triggered: LeaderElected, LeaderChanged
    requeue_after: float | None
    leaderless: tuple[PlannedEvent, ...] = ()  # standing: no leader (Normal while starting, or Warnings)
    conflicts: tuple[PlannedEvent, ...] = ()  # standing: the name is someone else's
    term: int = 0  # the leader's term: written on the slices, one more with every new leader


@dataclass(frozen=True, slots=True)
class SlicePlan:
    """Decisions about the EndpointSlices. ``blocked`` names desired slices held by an object zen-lead
    does not own (another manager's, or a previous leader Service's awaiting garbage collection)."""

    desired: tuple[JsonObject, ...]
    to_apply: tuple[JsonObject, ...]
    to_replace: tuple[str, ...]
    to_delete: tuple[str, ...]
    blocked: tuple[str, ...]


def current_leader(*, leader_service: Service | None, slices: Iterable[EndpointSlice]) -> LeaderRef | None:
    """The pod the leader Service routes to now: the first endpoint of the slices it owns (by name), or,
    when it owns no slice, the leader annotations; ``None`` when it routes nowhere."""
    if leader_service is None:
        return None
    owned = sorted(
        (s for s in slices if owns_slice(s, leader_service.metadata.uid)), key=lambda s: s.metadata.name
    )
    for endpoint_slice in owned:
        for endpoint in endpoint_slice.endpoints or ():
            ref = endpoint.target_ref
            if ref is not None and ref.uid:
                return LeaderRef(uid=ref.uid, name=ref.name)
    annotations = leader_service.metadata.annotations
    uid = annotations.get(ANNOTATION_LEADER_POD_UID)
    if owned or not uid:
        return None
    return LeaderRef(uid=uid, name=annotations.get(ANNOTATION_LEADER_POD, uid))


def observed_term(*, leader_service: Service | None, slices: Iterable[EndpointSlice]) -> int:
    """The term the leader Service's slices record (the highest; 0 when none records one)."""
    if leader_service is None:
        return 0
    terms = [0]
    for endpoint_slice in slices:
        if owns_slice(endpoint_slice, leader_service.metadata.uid):
            text = endpoint_slice.metadata.annotations.get(ANNOTATION_LEADER_TERM, "")
            if text.isdigit() and len(text) < 19:
                terms.append(int(text))
    return max(terms)


def plan_leader(
    *,
    source: Service,
    config: DirectorConfig,
    pods: Iterable[Pod],
    observed: Service | None,
    observed_slices: Iterable[EndpointSlice],
    now: float,
    rivals: Sequence[Service] = (),
    startup_grace: float = STARTUP_GRACE,
) -> Plan:
    """Select the leader and decide the leader Service for an opted-in ``source``."""
    conflicts = name_conflicts(source, name=config.leader_service_name, observed=observed, rivals=rivals)
    if conflicts is not None:
        return _conflict(config, conflicts)
    candidates = list(pods)
    previous = current_leader(leader_service=observed, slices=observed_slices)
    selection = select_leader(
        pods=candidates,
        service=source,
        config=config,
        current_leader_uid=previous.uid if previous else None,
        now=now,
    )
    leader = selection.leader
    changed = (leader.metadata.uid if leader else None) != (previous.uid if previous else None)
    term = observed_term(leader_service=observed, slices=observed_slices)
    if changed and leader is not None:
        term += 1
    resolution = resolve_ports(source.spec.ports, leader) if leader is not None else None
    service = desired_leader_service(
        source=source,
        config=config,
        name=config.leader_service_name,
        leader=leader,
        resolution=resolution,
        leader_since=_leader_since(observed, leader=leader, changed=changed, now=now),
        observed=observed,
    )
    replace = observed is not None and service_must_replace(observed, service)
    events: tuple[PlannedEvent, ...] = ()
    if changed:
        events = leader_events(
            service=config.leader_service_name,
            selection=selection,
            previous=previous.name if previous else None,
        )
    waited = _age(observed, now)
    leaderless = leaderless_events(
        source,
        service=config.leader_service_name,
        selection=selection,
        previous=previous.name if previous else None,
        pods=candidates,
        waited=waited,
        grace=startup_grace,
    )
    requeue_after = selection.requeue_after
    if leader is None and previous is None and waited < startup_grace:
        requeue_after = min(requeue_after or math.inf, startup_grace - waited)  # the Warning is due then
    return Plan(
        config=config,
        conflict=False,
        selection=selection,
        resolution=resolution,
        service=service,
        create_service=observed is None or replace,
        update_service=observed is not None and not replace and service_needs_update(observed, service),
        replace_service=replace,
        leader_changed=changed,
        events=events,
        requeue_after=requeue_after,
        leaderless=leaderless,
        term=term,
    )


def name_conflicts(
    source: Service, *, name: str, observed: Service | None, rivals: Sequence[Service]
) -> tuple[PlannedEvent, ...] | None:
    """``None`` when ``source`` may have the leader Service name; else the conflict to tell (empty:
    the name is held by a leader Service of an earlier incarnation, which garbage collection removes)."""
    if observed is not None and owns_leader_service(observed, source.metadata.uid):
        return None
    if observed is not None:
        holder = next((r for r in rivals if owns_leader_service(observed, r.metadata.uid)), None)
        if holder is not None:
            return (rival_name_conflict(source, name=name, rival=holder, holds=True),)
        if not is_leader_service(observed):
            return (foreign_name_conflict(source, holder=observed),)
        return ()
    older = [r for r in rivals if _seniority(r) < _seniority(source)]
    if older:
        return (rival_name_conflict(source, name=name, rival=min(older, key=_seniority), holds=False),)
    return None


def _seniority(service: Service) -> tuple[float, str]:
    created = parse_time(service.metadata.creation_timestamp)
    return (math.inf if created is None else created, service.metadata.name)


def _age(observed: Service | None, now: float) -> float:
    """Seconds since the leader Service was made (0: it is about to be; unknown: older than any grace)."""
    if observed is None:
        return 0.0
    created = parse_time(observed.metadata.creation_timestamp)
    return math.inf if created is None else max(0.0, now - created)


def plan_slices(
    *,
    source: Service,
    plan: Plan,
    leader_service: Service,
    observed_slices: Iterable[EndpointSlice],
    zone: str | None,
) -> SlicePlan:
    """Decide the EndpointSlices of ``leader_service`` (as it exists now, with its UID)."""
    uid = leader_service.metadata.uid
    leader = plan.selection.leader if plan.selection is not None else None
    desired = desired_endpoint_slices(
        source=source,
        leader_service_name=leader_service.metadata.name,
        leader_service_uid=uid,
        leader=leader,
        resolution=plan.resolution,
        zone=zone,
        term=plan.term,
    )
    namespace = source.metadata.namespace
    observed = {s.metadata.name: s for s in observed_slices if s.metadata.namespace == namespace}
    to_apply: list[JsonObject] = []
    to_replace: list[str] = []
    blocked: list[str] = []
    for manifest in desired:
        name = manifest["metadata"]["name"]
        current = observed.get(name)
        if current is not None and not owns_slice(current, uid):
            blocked.append(name)
        elif current is None or slice_needs_update(current, manifest):
            to_apply.append(manifest)
            if current is not None and slice_must_replace(current, manifest):
                to_replace.append(name)
    wanted = {manifest["metadata"]["name"] for manifest in desired}
    to_delete = sorted(name for name, s in observed.items() if owns_slice(s, uid) and name not in wanted)
    return SlicePlan(
        desired=tuple(desired),
        to_apply=tuple(to_apply),
        to_replace=tuple(to_replace),
        to_delete=tuple(to_delete),
        blocked=tuple(blocked),
    )


def _conflict(config: DirectorConfig, conflicts: tuple[PlannedEvent, ...]) -> Plan:
    return Plan(
        config=config,
        conflict=True,
        selection=None,
        resolution=None,
        service=None,
        create_service=False,
        update_service=False,
        replace_service=False,
        leader_changed=False,
        events=(),
        requeue_after=None,
        conflicts=conflicts,
    )


def _leader_since(observed: Service | None, *, leader: Pod | None, changed: bool, now: float) -> str | None:
    if leader is None:
        return None
    kept = None if changed or observed is None else observed.metadata.annotations.get(ANNOTATION_LEADER_SINCE)
    return kept or format_time(now)
