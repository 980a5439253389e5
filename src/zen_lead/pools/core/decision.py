"""One reconcile of one pool, as data: who leads, and what the pool's Lease must say.

The Lease (``coordination.k8s.io/v1``, named like the LeaderPolicy, client-go's format) is the one
source of truth: ``holderIdentity`` is the leader pod's name, ``leaseTransitions`` the pool's **term** —
its fencing token, which never decreases (a new tenure is ``max(transitions + 1, last term + 1)``, so
not even a Lease deleted by hand hands out an old term again: the last term is carried in the
policy's status).

Two kinds of members share one pool, and one rule keeps them apart — **a live tenure of a member that
campaigns is never written over**:

- A member that only joined (a vendor binary) cannot campaign: the controller holds the Lease on its
  behalf (``held-by`` annotation ``<pod>#<term>``), written when the leader changes and otherwise left
  alone — a quiet pool makes no writes. When members that campaign are in the pool too, the
  controller renews its hold every third of ``leaseDurationSeconds``, so that their electors see a
  live holder and wait, as they would for any candidate.
- A member that campaigns (``zen-lead/campaign: "true"``: zen-lead's or client-go's elector, identity
  the pod name) holds the Lease itself and keeps its own step-down guarantees. Its tenure is live while
  the controller has seen the record change within ``leaseDurationSeconds`` (the controller's own
  monotonic clock, as client-go's candidates judge it); the controller only reads it. When it is the
  best member and the controller holds the Lease, the controller releases it (client-go's released
  record) and *nominates* it (``spec.preferredHolder``, and the ``preferred-holder`` annotation where
  the apiserver drops that field) so that its elector takes the Lease at its next try. When a live
  campaigning holder is no longer eligible, the controller nominates the best member and waits: only
  the holder's own elector (client-go in coordinated mode yields to ``preferredHolder``) or the end
  of its tenure changes the holder.

The choice among eligible members is the shared ``eligibility`` core (running, Ready, not
terminating, an address, ``minReadySeconds``; sticky, then Ready the longest) — the director's rules.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

from zen_lead.election.record import LeaseRecord, released
from zen_lead.eligibility.selection import Rules, Selection, choose_leader
from zen_lead.kube.structs import LeaderPolicySpec, Pod


@dataclass(frozen=True, slots=True)
class Member:
    pod: Pod
    campaigns: bool


@dataclass(frozen=True, slots=True)
class LeaseView:
    """The pool's Lease as the controller sees it. ``unchanged_for``: seconds since the controller
    first saw this record (its own monotonic clock)."""

    record: LeaseRecord
    resource_version: str
    held_for: str | None = None  # the held-by annotation
    holder_uid: str | None = None
    nominee: str | None = None
    unchanged_for: float = 0.0

    @property
    def held_by_controller(self) -> bool:
        return self.record.held and self.held_for == held_for(self.record.holder, self.record.transitions)

    def live(self) -> bool:
        """Held, and renewed within its duration as far as the controller has seen."""
        return self.record.held and self.unchanged_for < self.record.lease_duration_seconds


@dataclass(frozen=True, slots=True)
class DesiredLease:
    """What the Lease must say (written when it differs from what it says)."""

    record: LeaseRecord
    held_for: str | None
    holder_uid: str | None
    nominee: str | None


@dataclass(frozen=True, slots=True)
class PoolPlan:
    leader: Member | None  # who leads now (holds the Lease, or is held for)
    term: int | None  # the current tenure's term, or the last one's
    selection: Selection
    lease: DesiredLease | None  # None: the Lease stays as it is
    create: bool  # the Lease does not exist: create it
    requeue_after: float | None


def held_for(holder: str, transitions: int) -> str:
    """The held-by annotation: which tenure the controller wrote (a candidate that takes the Lease
    over keeps the annotation, but not the holder and term it names)."""
    return f"{holder}#{transitions}"


def pool_rules(spec: LeaderPolicySpec) -> Rules:
    """The eligibility rules of a pool: its members are the candidates, either family; with a leader
    Service, a member must declare the named target ports it routes to (as for the director)."""
    ports = spec.leader_service.ports if spec.leader_service is not None else ()
    return Rules(
        selector=None, ports=ports, min_ready_seconds=float(spec.min_ready_seconds), sticky=spec.sticky
    )


def plan_pool(
    *,
    spec: LeaderPolicySpec,
    members: Sequence[Member],
    lease: LeaseView | None,
    last_term: int | None,
    now: float,
    timestamp: str,
    last_leader: str | None = None,
) -> PoolPlan:
    """Decide the pool's leader and Lease; ``now`` is wall time (ready-since comparisons), ``timestamp``
    the MicroTime written into the Lease; ``last_term`` and ``last_leader`` (a pod name) what the
    policy's status recorded."""
    by_name = {m.pod.metadata.name: m for m in members}
    holder = by_name.get(lease.record.holder) if lease is not None and lease.record.held else None
    campaigner_holds = lease is not None and not lease.held_by_controller and lease.live()
    current = None
    if holder is not None and (campaigner_holds or _holds_for(lease, holder)):
        current = holder.pod.metadata.uid
    selection = choose_leader(
        pods=[m.pod for m in members], rules=pool_rules(spec), current_leader_uid=current, now=now
    )
    best = by_name[selection.leader.metadata.name] if selection.leader is not None else None
    term = _term(lease, last_term)
    if campaigner_holds:
        assert lease is not None
        nominee = None if best is None or (holder is not None and best is holder) else best
        # the holder's tenure is its own; only a nomination may change — and the term, if the holder's
        # elector recreated a deleted Lease from zero (client-go does): lifted above the last one, a
        # new term for everyone (zen-lead's elector then steps down and campaigns again, fenced)
        desired = _nominate(lease, nominee)
        if last_term is not None and _term_reset(lease, last_term, last_leader):
            lifted = dataclasses.replace(lease.record, transitions=last_term + 1)
            desired = dataclasses.replace(desired, record=lifted)
        return _plan(
            selection,
            leader=holder,
            term=desired.record.transitions,
            lease=lease,
            desired=desired,
        )
    if best is None or best.campaigns:
        handover: DesiredLease | None = None
        if lease is not None:
            # ours, or a campaigner's that expired (what any candidate may take over): released
            record = released(lease.record, timestamp=timestamp) if lease.record.held else lease.record
            handover = DesiredLease(record, None, None, best.pod.metadata.name if best is not None else None)
        elif best is not None:  # the Lease must exist for the nominee to take it
            # the campaigner's acquisition adds one: a term above every earlier one
            record = LeaseRecord("", 1, timestamp, timestamp, last_term if last_term is not None else 0)
            handover = DesiredLease(record, None, None, best.pod.metadata.name)
        return _plan(selection, leader=None, term=term, lease=lease, desired=handover)
    name = best.pod.metadata.name
    if lease is not None and _holds_for(lease, best):
        renewal = _renewal(spec, members, lease, timestamp)
        return _plan(
            selection, leader=best, term=term, lease=lease, desired=renewal[0], requeue_after=renewal[1]
        )
    transitions = _next_term(lease, last_term)
    record = LeaseRecord(name, spec.lease_duration_seconds, timestamp, timestamp, transitions)
    desired = DesiredLease(record, held_for(name, transitions), best.pod.metadata.uid, None)
    return _plan(selection, leader=best, term=transitions, lease=lease, desired=desired)


def _plan(
    selection: Selection,
    *,
    leader: Member | None,
    term: int | None,
    lease: LeaseView | None,
    desired: DesiredLease | None,
    requeue_after: float | None = None,
) -> PoolPlan:
    if desired is not None and lease is not None and _says(lease, desired):
        desired = None  # nothing to write
    waits = [w for w in (selection.requeue_after, requeue_after) if w is not None]
    return PoolPlan(
        leader=leader,
        term=term,
        selection=selection,
        lease=desired,
        create=lease is None and desired is not None,
        requeue_after=min(waits) if waits else None,
    )


def _ours(lease: LeaseView | None) -> bool:
    return lease is not None and lease.held_by_controller


def _holds_for(lease: LeaseView | None, member: Member) -> bool:
    """The controller holds the Lease for this very pod (a pod re-created under the same name, as a
    StatefulSet's are, is another process: a new tenure, a new term)."""
    pod = member.pod.metadata
    return (
        _ours(lease) and lease is not None and lease.record.holder == pod.name and lease.holder_uid == pod.uid
    )


def _says(lease: LeaseView, desired: DesiredLease) -> bool:
    return (
        lease.record == desired.record
        and lease.held_for == desired.held_for
        and lease.holder_uid == desired.holder_uid
        and lease.nominee == desired.nominee
    )


def _term(lease: LeaseView | None, last_term: int | None) -> int | None:
    terms = [t for t in (lease.record.transitions if lease is not None else None, last_term) if t is not None]
    return max(terms) if terms else None


def _next_term(lease: LeaseView | None, last_term: int | None) -> int:
    """A new tenure's term: above the Lease's and above the last one the status recorded."""
    candidates = [0]
    if lease is not None:
        candidates.append(lease.record.transitions + 1)
    if last_term is not None:
        candidates.append(last_term + 1)
    return max(candidates)


def _term_reset(lease: LeaseView, last_term: int, last_leader: str | None) -> bool:
    """The Lease was recreated behind the pool's back (deleted by hand, then created by a member's
    elector from zero): its term is below the last one the status recorded, or equal to it under
    another holder than the leader it recorded (every acquisition adds one, so a term is one holder's;
    a holder that is not a member is recorded as no leader, and is not judged by this second rule)."""
    transitions, holder = lease.record.transitions, lease.record.holder
    return transitions < last_term or (
        transitions == last_term and last_leader is not None and holder != last_leader
    )


def _nominate(lease: LeaseView, nominee: Member | None) -> DesiredLease:
    name = nominee.pod.metadata.name if nominee is not None else None
    return DesiredLease(lease.record, lease.held_for, lease.holder_uid, name)


def _renewal(
    spec: LeaderPolicySpec, members: Sequence[Member], lease: LeaseView, timestamp: str
) -> tuple[DesiredLease | None, float | None]:
    """The controller's hold needs renewing only while members that campaign could take it over."""
    if not any(m.campaigns for m in members):
        return None, None
    period = spec.lease_duration_seconds / 3
    if lease.unchanged_for < period and lease.record.lease_duration_seconds == spec.lease_duration_seconds:
        return None, period - lease.unchanged_for
    record = LeaseRecord(
        lease.record.holder,
        spec.lease_duration_seconds,
        lease.record.acquire_time,
        timestamp,
        lease.record.transitions,
    )
    return DesiredLease(record, lease.held_for, lease.holder_uid, None), period
