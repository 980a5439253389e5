"""One reconcile's decisions for one source Service, as data: what to write, delete and tell.

The shell calls, in order (see the ``director.reconcile`` docstring for why this order):

1. ``plan_leader`` with the source, its parsed config, the candidate pods, the observed leader Service
   (the one named ``config.leader_service_name``, or ``None``) and the observed EndpointSlices. If
   ``plan.conflict``: emit ``plan.events`` and stop, the name is someone else's. If
   ``plan.replace_service``: delete the observed leader Service (UID precondition), then create.
   If ``plan.create_service``: apply ``plan.service`` first; its UID owns the slices.
2. ``plan_slices`` with the leader Service as it now exists: delete ``to_replace``, apply ``to_apply``
   (the routing write), then, if ``plan.update_service``, apply ``plan.service``; then delete
   ``to_delete``.
3. Emit ``plan.events``; requeue after ``plan.requeue_after`` seconds if set.

Who leads *now* is read from the routing truth, the endpoints of the slices zen-lead owns, and only
without such slices from the leader Service's annotation (an annotation write can fail after the slice
write that matters). Leader events are edge-triggered against that: ``LeaderElected``,
``LeaderChanged`` and ``NoEligiblePod`` (with ``PortUnresolvable`` when it explains why) are emitted
only when the leader changes, or when the leader Service is about to be created. ``NameConflict`` and
``problem_events`` describe standing conditions and come on every plan: the shell deduplicates them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import NamedTuple

from zen_lead.constants import (
    ANNOTATION_LEADER_POD,
    ANNOTATION_LEADER_POD_UID,
    ANNOTATION_LEADER_SERVICE_NAME,
    ANNOTATION_LEADER_SINCE,
)
from zen_lead.director.core.config import ConfigProblem, DirectorConfig
from zen_lead.director.core.desired import JsonObject, desired_endpoint_slices, desired_leader_service
from zen_lead.director.core.drift import (
    service_must_replace,
    service_needs_update,
    slice_must_replace,
    slice_needs_update,
)
from zen_lead.director.core.ownership import is_leader_service, owns_leader_service, owns_slice
from zen_lead.director.core.ports import PortResolution, resolve_ports
from zen_lead.director.core.selection import Ineligibility, Selection, select_leader
from zen_lead.kube.structs import EndpointSlice, Pod, Service
from zen_lead.kube.times import format_time

_EXAMPLES = 3


class EventType(StrEnum):
    NORMAL = "Normal"
    WARNING = "Warning"


class EventReason(StrEnum):
    LEADER_ELECTED = "LeaderElected"
    LEADER_CHANGED = "LeaderChanged"
    NO_ELIGIBLE_POD = "NoEligiblePod"
    PORT_UNRESOLVABLE = "PortUnresolvable"
    INVALID_ANNOTATION = "InvalidAnnotation"
    NAME_CONFLICT = "NameConflict"


class PlannedEvent(NamedTuple):
    """An Event to record on the source Service."""

    type: EventType
    reason: EventReason
    message: str


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
    events: tuple[PlannedEvent, ...]
    requeue_after: float | None


@dataclass(frozen=True, slots=True)
class SlicePlan:
    """Decisions about the EndpointSlices. ``blocked`` names desired slices held by an object zen-lead
    does not own (another manager's, or a previous leader Service's awaiting garbage collection)."""

    desired: tuple[JsonObject, ...]
    to_apply: tuple[JsonObject, ...]
    to_replace: tuple[str, ...]
    to_delete: tuple[str, ...]
    blocked: tuple[str, ...]


def problem_events(problems: Iterable[ConfigProblem]) -> tuple[PlannedEvent, ...]:
    """One ``InvalidAnnotation`` Warning per configuration problem."""
    return tuple(
        PlannedEvent(EventType.WARNING, EventReason.INVALID_ANNOTATION, f"{p.key}={p.value!r}: {p.message}")
        for p in problems
    )


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


def plan_leader(
    *,
    source: Service,
    config: DirectorConfig,
    pods: Iterable[Pod],
    observed: Service | None,
    observed_slices: Iterable[EndpointSlice],
    now: float,
) -> Plan:
    """Select the leader and decide the leader Service for an opted-in ``source``."""
    if observed is not None and not owns_leader_service(observed, source.metadata.uid):
        return _conflict(config, source=source, holder=observed)
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
    if changed or observed is None:
        events = _leader_events(
            source, config=config, selection=selection, previous=previous, pods=candidates
        )
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
        requeue_after=selection.requeue_after,
    )


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


def _conflict(config: DirectorConfig, *, source: Service, holder: Service) -> Plan:
    events: tuple[PlannedEvent, ...] = ()
    if not is_leader_service(holder):  # a zen-lead Service of an earlier incarnation: GC removes it
        message = (
            f"Service {holder.metadata.name} exists and is not managed by zen-lead for "
            f"{source.metadata.name}; it is left untouched. Set {ANNOTATION_LEADER_SERVICE_NAME} "
            "to choose another name"
        )
        events = (PlannedEvent(EventType.WARNING, EventReason.NAME_CONFLICT, message),)
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
        events=events,
        requeue_after=None,
    )


def _leader_since(observed: Service | None, *, leader: Pod | None, changed: bool, now: float) -> str | None:
    if leader is None:
        return None
    kept = None if changed or observed is None else observed.metadata.annotations.get(ANNOTATION_LEADER_SINCE)
    return kept or format_time(now)


def _leader_events(
    source: Service,
    *,
    config: DirectorConfig,
    selection: Selection,
    previous: LeaderRef | None,
    pods: Sequence[Pod],
) -> tuple[PlannedEvent, ...]:
    leader, service = selection.leader, config.leader_service_name
    if leader is not None and previous is None:
        message = f"pod {leader.metadata.name} leads {service} ({selection.eligible_count} eligible)"
        return (PlannedEvent(EventType.NORMAL, EventReason.LEADER_ELECTED, message),)
    if leader is not None and previous is not None:
        why = (
            f"{previous.name} is {selection.previous_ineligibility}"
            if selection.previous_ineligibility is not None
            else f"{leader.metadata.name} has been Ready longer (sticky: false)"
        )
        message = f"leader of {service} changed from pod {previous.name} to {leader.metadata.name}: {why}"
        return (PlannedEvent(EventType.NORMAL, EventReason.LEADER_CHANGED, message),)
    return _no_leader_events(source, service=service, selection=selection, previous=previous, pods=pods)


def _no_leader_events(
    source: Service, *, service: str, selection: Selection, previous: LeaderRef | None, pods: Sequence[Pod]
) -> tuple[PlannedEvent, ...]:
    counts = Counter(reason for _, reason in selection.ineligible)
    if not source.spec.selector:
        summary = "the Service has no selector, so no pod can lead"
    elif not counts:
        summary = "no pod matches the Service's selector"
    else:
        detail = ", ".join(f"{n} {reason}" for reason, n in sorted(counts.items()))
        summary = f"none of {sum(counts.values())} selected pods is eligible ({detail})"
    lost = f"; previous leader {previous.name} is {selection.previous_ineligibility}" if previous else ""
    message = f"{summary}{lost}; {service} has no endpoints until a pod becomes eligible"
    events = [PlannedEvent(EventType.WARNING, EventReason.NO_ELIGIBLE_POD, message)]
    unresolvable = [
        name for name, reason in selection.ineligible if reason is Ineligibility.PORT_UNRESOLVABLE
    ]
    if unresolvable:
        example = next(p for p in pods if p.metadata.name == unresolvable[0])
        missing = ", ".join(resolve_ports(source.spec.ports, example).unresolved)
        more = f" and {len(unresolvable) - _EXAMPLES} more" if len(unresolvable) > _EXAMPLES else ""
        examples = ", ".join(unresolvable[:_EXAMPLES])
        message = (
            f"named targetPort {missing} is not declared by pod(s) {examples}{more} "
            "(matched by name and protocol), so they cannot lead"
        )
        events.append(PlannedEvent(EventType.WARNING, EventReason.PORT_UNRESOLVABLE, message))
    return tuple(events)
