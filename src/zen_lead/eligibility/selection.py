"""Leader selection, shared by every component that chooses one pod: the Service director (which pod
the leader Service routes to) and pools (which member leads). One core, one set of rules (``Rules``).

A pod is *eligible* when all of these hold (checked in this order; the first failure is its reason):

1. it matches the selector (every selector label equal; no or an empty selector matches nothing, as
   a selector-less Service selects no pods) — skipped for a pool, whose members are chosen already;
2. it is not terminating (no ``deletionTimestamp``);
3. its phase is ``Running``;
4. its ``Ready`` condition is ``True``;
5. it has an IP of a family the Service serves (a pool: of either family);
6. every named ``targetPort`` resolves on it (a pool has none);
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

from zen_lead.eligibility.addresses import FAMILIES, pod_addresses
from zen_lead.eligibility.ports import resolve_ports
from zen_lead.kube.structs import Pod, ServicePort
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
    check_selector: bool = True,
) -> Ineligibility | None:
    """The first rule of the module docstring that ``pod`` breaks, or ``None`` if it may lead.
    ``check_selector=False``: the caller chose the candidates (a pool's members), rule 1 is skipped."""
    if check_selector and not selects(selector, pod.metadata.labels):
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


@dataclass(frozen=True, slots=True)
class Rules:
    """What makes a pod eligible and how the leader is chosen, whoever asks (a Service, a pool).

    ``selector`` None means the caller chose the candidates itself (a pool's members): rule 1 is then
    not applied; an empty selector selects nothing, as for a Service. ``ports``: the named target
    ports every candidate must declare (none for a pool). ``families``: the address families of which
    a candidate needs an IP (a pool takes either)."""

    selector: Mapping[str, str] | None
    ports: Sequence[ServicePort] = ()
    families: Sequence[str] = FAMILIES
    min_ready_seconds: float = 0.0
    sticky: bool = True


def choose_leader(
    *, pods: Iterable[Pod], rules: Rules, current_leader_uid: str | None, now: float
) -> Selection:
    """Choose the leader among ``pods`` by ``rules``; see the module docstring."""
    candidates = list(pods)
    verdicts = {
        id(pod): _verdict(pod, rules=rules, current=current_leader_uid, now=now) for pod in candidates
    }
    eligible = [pod for pod in candidates if verdicts[id(pod)] is None]
    current = _find(candidates, current_leader_uid)
    previous = None
    if current_leader_uid is not None:
        previous = Ineligibility.NOT_FOUND if current is None else verdicts[id(current)]
    leader, reason = _choose(eligible, current=current, previous=previous, sticky=rules.sticky)
    return Selection(
        leader=leader,
        reason=reason,
        previous_ineligibility=None if reason is SelectionReason.STICKY else previous,
        eligible_count=len(eligible),
        requeue_after=_requeue_after(candidates, verdicts, rules.min_ready_seconds, now),
        ineligible=_selected_but_ineligible(candidates, verdicts),
    )


def _choose(
    eligible: Sequence[Pod], *, current: Pod | None, previous: Ineligibility | None, sticky: bool
) -> tuple[Pod | None, SelectionReason]:
    if sticky and current is not None and previous is None:
        return current, SelectionReason.STICKY
    if not eligible:
        return None, SelectionReason.NO_ELIGIBLE_POD
    leader = min(eligible, key=_seniority)
    if current is None and previous is None:
        return leader, SelectionReason.ELECTED
    if current is not None and leader.metadata.uid == current.metadata.uid:
        return leader, SelectionReason.STICKY
    return leader, SelectionReason.CHANGED


def _verdict(pod: Pod, *, rules: Rules, current: str | None, now: float) -> Ineligibility | None:
    return ineligibility(
        pod,
        selector=rules.selector,
        check_selector=rules.selector is not None,
        service_ports=rules.ports,
        ip_families=rules.families,
        now=now,
        min_ready_seconds=rules.min_ready_seconds,
        exempt_min_ready=rules.sticky and current is not None and pod.metadata.uid == current,
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
