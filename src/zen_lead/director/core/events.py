"""What the director tells users, as data: the Events of one plan, with their reasons and wording.

Two kinds, and the shell treats them differently (``director.reconcile``):

- **edge-triggered**, emitted once when something happens: ``LeaderElected``, ``LeaderChanged``;
- **standing conditions**, re-computed on every plan and told once per distinct state: annotation
  problems (``InvalidAnnotation``, ``UnsupportedServiceType``), ``NameConflict``, and having no leader
  (``leaderless_events``): ``NoEligiblePod`` (Warning, with ``PortUnresolvable`` when it explains why)
  at once when a leader is lost or waiting cannot help (no selector, unresolvable ports, no address);
  but a leader Service that has never had a leader is ``WaitingForEligiblePod`` (Normal) for
  ``startup_grace`` seconds while its pods may still be starting — a first deploy is not a warning.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from enum import StrEnum
from typing import NamedTuple

from zen_lead.constants import ANNOTATION_LEADER_SERVICE_NAME
from zen_lead.director.core.config import ConfigProblem
from zen_lead.eligibility.ports import resolve_ports
from zen_lead.eligibility.selection import Ineligibility, Selection
from zen_lead.kube.structs import Pod, Service

_EXAMPLES = 3
# Reasons a first deploy passes through on its own: pods not created yet, Pending, not Ready yet,
# not Ready for min-ready-duration yet. Anything else will not fix itself by waiting.
STARTING = frozenset(
    {Ineligibility.NOT_RUNNING, Ineligibility.NOT_READY, Ineligibility.NOT_READY_LONG_ENOUGH}
)


class EventType(StrEnum):
    NORMAL = "Normal"
    WARNING = "Warning"


class EventReason(StrEnum):
    LEADER_ELECTED = "LeaderElected"
    LEADER_CHANGED = "LeaderChanged"
    NO_ELIGIBLE_POD = "NoEligiblePod"
    WAITING_FOR_ELIGIBLE_POD = "WaitingForEligiblePod"
    PORT_UNRESOLVABLE = "PortUnresolvable"
    INVALID_ANNOTATION = "InvalidAnnotation"
    UNSUPPORTED_SERVICE_TYPE = "UnsupportedServiceType"
    NAME_CONFLICT = "NameConflict"


class PlannedEvent(NamedTuple):
    """An Event to record on the source Service."""

    type: EventType
    reason: EventReason
    message: str


def problem_events(problems: Iterable[ConfigProblem]) -> tuple[PlannedEvent, ...]:
    """One Warning per configuration problem, with the problem's reason."""
    return tuple(
        PlannedEvent(EventType.WARNING, EventReason(p.reason), f"{p.key}={p.value!r}: {p.message}")
        for p in problems
    )


def foreign_name_conflict(source: Service, *, holder: Service) -> PlannedEvent:
    """The leader Service name is held by a Service zen-lead does not manage."""
    message = (
        f"Service {holder.metadata.name} exists and is not managed by zen-lead for "
        f"{source.metadata.name}; it is left untouched. Set {ANNOTATION_LEADER_SERVICE_NAME} "
        "to choose another name"
    )
    return PlannedEvent(EventType.WARNING, EventReason.NAME_CONFLICT, message)


def rival_name_conflict(source: Service, *, name: str, rival: Service, holds: bool) -> PlannedEvent:
    """Another opted-in source asks for the same leader Service name and has it (``holds``) or is older."""
    why = "holds it" if holds else "is older and gets it"
    message = (
        f"the leader Service name {name} is also asked for by Service {rival.metadata.name}, which "
        f"{why}; {source.metadata.name} is not served until the name is free. Set "
        f"{ANNOTATION_LEADER_SERVICE_NAME} to choose another name"
    )
    return PlannedEvent(EventType.WARNING, EventReason.NAME_CONFLICT, message)


def leader_events(*, service: str, selection: Selection, previous: str | None) -> tuple[PlannedEvent, ...]:
    """The edge-triggered Events of a leader change (``previous``: the pod that led before, if any)."""
    leader = selection.leader
    if leader is None:
        return ()  # no leader is a standing condition (``leaderless_events``)
    if previous is None:
        message = f"pod {leader.metadata.name} leads {service} ({selection.eligible_count} eligible)"
        return (PlannedEvent(EventType.NORMAL, EventReason.LEADER_ELECTED, message),)
    why = (
        f"{previous} is {selection.previous_ineligibility}"
        if selection.previous_ineligibility is not None
        else f"{leader.metadata.name} has been Ready longer (sticky: false)"
    )
    message = f"leader of {service} changed from pod {previous} to {leader.metadata.name}: {why}"
    return (PlannedEvent(EventType.NORMAL, EventReason.LEADER_CHANGED, message),)


def leaderless_events(
    source: Service,
    *,
    service: str,
    selection: Selection,
    previous: str | None,
    pods: Sequence[Pod],
    waited: float,
    grace: float,
) -> tuple[PlannedEvent, ...]:
    """The standing condition of having no leader (empty with a leader). ``waited``: seconds since the
    leader Service was made; a leader Service that never had one (``previous`` None) waits for
    ``grace`` with a Normal Event while its pods may still be starting."""
    if selection.leader is not None:
        return ()
    reasons = {reason for _, reason in selection.ineligible}
    starting = bool(source.spec.selector) and reasons <= STARTING
    if previous is None and starting and waited < grace:
        message = (
            f"waiting for a pod to become eligible to lead {service} (pods are starting); "
            f"NoEligiblePod is reported if none is within {grace:g}s"
        )
        return (PlannedEvent(EventType.NORMAL, EventReason.WAITING_FOR_ELIGIBLE_POD, message),)
    return no_leader_events(source, service=service, selection=selection, previous=previous, pods=pods)


def no_leader_events(
    source: Service, *, service: str, selection: Selection, previous: str | None, pods: Sequence[Pod]
) -> tuple[PlannedEvent, ...]:
    counts = Counter(reason for _, reason in selection.ineligible)
    if not source.spec.selector:
        summary = "the Service has no selector, so no pod can lead"
    elif not counts:
        summary = "no pod matches the Service's selector"
    else:
        detail = ", ".join(f"{n} {reason}" for reason, n in sorted(counts.items()))
        summary = f"none of {sum(counts.values())} selected pods is eligible ({detail})"
    lost = f"; previous leader {previous} is {selection.previous_ineligibility}" if previous else ""
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
