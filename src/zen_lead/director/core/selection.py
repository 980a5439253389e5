"""Leader selection: which one pod the leader Service routes to.

A pod is *eligible* when all of these hold (checked in this order; the first failure is its reason):

1. it matches the Service's selector (every selector label equal; no or an empty selector matches
   nothing, as a selector-less Service selects no pods);
2. it is not terminating (no ``deletionTimestamp``);
3. its phase is ``Running``;
4. its ``Ready`` condition is ``True``;
5. it has an IP of a family the Service serves;
6. every named ``targetPort`` resolves on it;
7. it has been Ready for at least ``min_ready_seconds`` ("Ready since" is the ``lastTransitionTime`` of
   its ``Ready=True`` condition; a pod whose time is missing never qualifies when a minimum is set).
   The current leader is exempt when sticky, so a minimum delays elections, never a kept leader.

Choice: when sticky (the default) the current leader (by UID) is kept while it stays eligible.
Otherwise the eligible pod Ready the longest wins (earliest Ready-since; missing times last), ties
broken by ``creationTimestamp`` (missing last), then name, then UID: a total order, so the result does
not depend on the order of the input and is stable from one call to the next, sticky or not.

"Ready since" and ``creationTimestamp`` are written by the kubelet and apiserver. Orderings between
pods only compare these timestamps with each other; ``min_ready_seconds`` compares them with ``now``,
so clock skew between node and controller shifts the wait by the skew, no more.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from zen_lead.director.core.addresses import pod_addresses, served_families
from zen_lead.director.core.config import DirectorConfig
from zen_lead.director.core.ports import resolve_ports
from zen_lead.kube.structs import Pod, Service, ServicePort
from zen_lead.kube.times import parse_time

RUNNING = "Running"
READY = "Ready"
TRUE = "True"


class Ineligibility(StrEnum):
    """Why a pod cannot lead; the values double as Event reasons and metric labels."""

    NOT_FOUND = "NotFound"  # not among the candidates any more (deleted, or no longer selected)
    SELECTOR_MISMATCH = "SelectorMismatch"
    TERMINATING = "Terminating"
    NOT_RUNNING = "NotRunning"
    NOT_READY = "NotReady"
    NO_ADDRESS = "NoAddress"
    PORT_UNRESOLVABLE = "PortUnresolvable"
    NOT_READY_LONG_ENOUGH = "NotReadyLongEnough"


class SelectionReason(StrEnum):
    """Why the selection came out as it did."""

    ELECTED = "Elected"  # there was no current leader
    STICKY = "Sticky"  # the current leader was kept
    CHANGED = "Changed"  # another pod replaced the current leader
    NO_ELIGIBLE_POD = "NoEligiblePod"


@dataclass(frozen=True, slots=True)
class Selection:
    """The outcome of ``select_leader``.

    ``previous_ineligibility`` says why the current leader was replaced or dropped (``None`` when it was
    kept, when there was none, or when a non-sticky choice preferred a pod Ready longer).
    ``requeue_after`` is in seconds from ``now`` (> 0): when the first pod held back only by
    ``min_ready_seconds`` becomes eligible; ``None`` when no pod is waiting for that.
    ``ineligible`` lists (pod name, reason) for selected pods that cannot lead, sorted by name.
    """

    leader: Pod | None
    reason: SelectionReason
    previous_ineligibility: Ineligibility | None
    eligible_count: int
    requeue_after: float | None
    ineligible: tuple[tuple[str, Ineligibility], ...] = ()


def ready_since(pod: Pod) -> float | None:
    """Epoch seconds at which the pod last became Ready, or ``None`` if not Ready or unknown."""
    for condition in pod.status.conditions:
        if condition.type == READY and condition.status == TRUE:
            return parse_time(condition.last_transition_time)
    return None


def selects(selector: Mapping[str, str] | None, labels: Mapping[str, str]) -> bool:
    """True when ``selector`` is non-empty and every one of its labels is on the pod."""
    return bool(selector) and all(labels.get(key) == value for key, value in (selector or {}).items())


def ineligibility(
    pod: Pod,
    *,
    selector: Mapping[str, str] | None,
    service_ports: Sequence[ServicePort],
    ip_families: Sequence[str],
    now: float,
    min_ready_seconds: float,
    exempt_min_ready: bool,
) -> Ineligibility | None:
    """The first rule of the module docstring that ``pod`` breaks, or ``None`` if it may lead."""
    if not selects(selector, pod.metadata.labels):
        return Ineligibility.SELECTOR_MISMATCH
    if pod.metadata.deletion_timestamp is not None:
        return Ineligibility.TERMINATING
    if pod.status.phase != RUNNING:
        return Ineligibility.NOT_RUNNING
    if not _is_ready(pod):
        return Ineligibility.NOT_READY
    if not any(pod_addresses(pod, family) for family in ip_families):
        return Ineligibility.NO_ADDRESS
    if resolve_ports(service_ports, pod).unresolved:
        return Ineligibility.PORT_UNRESOLVABLE
    if not exempt_min_ready and min_ready_seconds > 0 and _matures_at(pod, min_ready_seconds) > now:
        return Ineligibility.NOT_READY_LONG_ENOUGH
    return None


def select_leader(
    *,
    pods: Iterable[Pod],
    service: Service,
    config: DirectorConfig,
    current_leader_uid: str | None,
    now: float,
) -> Selection:
    """Choose the leader among ``pods`` for ``service``; see the module docstring for the rules."""
    candidates = list(pods)
    verdicts = {
        id(pod): _verdict(pod, service=service, config=config, current=current_leader_uid, now=now)
        for pod in candidates
    }
    eligible = [pod for pod in candidates if verdicts[id(pod)] is None]
    current = _find(candidates, current_leader_uid)
    previous = None
    if current_leader_uid is not None:
        previous = Ineligibility.NOT_FOUND if current is None else verdicts[id(current)]
    leader, reason = _choose(eligible, current=current, previous=previous, config=config)
    return Selection(
        leader=leader,
        reason=reason,
        previous_ineligibility=None if reason is SelectionReason.STICKY else previous,
        eligible_count=len(eligible),
        requeue_after=_requeue_after(candidates, verdicts, config.min_ready_seconds, now),
        ineligible=_selected_but_ineligible(candidates, verdicts),
    )


def _choose(
    eligible: Sequence[Pod], *, current: Pod | None, previous: Ineligibility | None, config: DirectorConfig
) -> tuple[Pod | None, SelectionReason]:
    if config.sticky and current is not None and previous is None:
        return current, SelectionReason.STICKY
    if not eligible:
        return None, SelectionReason.NO_ELIGIBLE_POD
    leader = min(eligible, key=_seniority)
    if current is None and previous is None:
        return leader, SelectionReason.ELECTED
    if current is not None and leader.metadata.uid == current.metadata.uid:
        return leader, SelectionReason.STICKY
    return leader, SelectionReason.CHANGED


def _verdict(
    pod: Pod, *, service: Service, config: DirectorConfig, current: str | None, now: float
) -> Ineligibility | None:
    return ineligibility(
        pod,
        selector=service.spec.selector,
        service_ports=service.spec.ports,
        ip_families=served_families(service),
        now=now,
        min_ready_seconds=config.min_ready_seconds,
        exempt_min_ready=config.sticky and current is not None and pod.metadata.uid == current,
    )


def _is_ready(pod: Pod) -> bool:
    return any(c.type == READY and c.status == TRUE for c in pod.status.conditions)


def _matures_at(pod: Pod, min_ready_seconds: float) -> float:
    since = ready_since(pod)
    return math.inf if since is None else since + min_ready_seconds


def _find(pods: Sequence[Pod], uid: str | None) -> Pod | None:
    if uid is None:
        return None
    matches = [pod for pod in pods if pod.metadata.uid == uid]
    return min(matches, key=_seniority) if matches else None


def _requeue_after(
    pods: Sequence[Pod], verdicts: Mapping[int, Ineligibility | None], min_ready_seconds: float, now: float
) -> float | None:
    waits = [
        _matures_at(pod, min_ready_seconds) - now
        for pod in pods
        if verdicts[id(pod)] is Ineligibility.NOT_READY_LONG_ENOUGH
    ]
    finite = [wait for wait in waits if math.isfinite(wait)]
    return min(finite) if finite else None


def _selected_but_ineligible(
    pods: Sequence[Pod], verdicts: Mapping[int, Ineligibility | None]
) -> tuple[tuple[str, Ineligibility], ...]:
    found = {
        (pod.metadata.name, verdict)
        for pod in pods
        if (verdict := verdicts[id(pod)]) is not None and verdict is not Ineligibility.SELECTOR_MISMATCH
    }
    return tuple(sorted(found))


def _seniority(pod: Pod) -> tuple[float, float, str, str]:
    """Sort key: Ready longest first, then oldest, then name, then UID; missing times sort last."""
    since = ready_since(pod)
    created = parse_time(pod.metadata.creation_timestamp)
    return (
        math.inf if since is None else since,
        math.inf if created is None else created,
        pod.metadata.name,
        pod.metadata.uid,
    )
