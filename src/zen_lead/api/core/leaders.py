"""Who leads a pool, a Service or a plain Lease: the answer, decided from what the caches hold.

The three kinds answer the same shape (``LeaderState``):

- **pool** — the pool's Lease (named as the LeaderPolicy) names the leading pod; the term is its
  ``leaseTransitions``, "since" its ``acquireTime``. A Lease the pools controller holds on a member's
  behalf (``held-by`` annotation naming this tenure) is written only when the leader changes, so it
  has no expiry; one a member campaigns on itself is expired when it has not changed for its
  duration **since this server first saw it** (its own monotonic clock, never the writer's).
- **service** — the director's leader EndpointSlices: the pod of their endpoint is the leader (what
  traffic reaches), the term is ``zen-lead.io/leader-term`` on the slices; "since" comes from the leader
  Service's ``leader-since`` once it names the same pod (it is written just after the slices).
- **lease** — any Lease: its holder (a pod only when a pod of that name exists in the namespace).

"No leader" is explicit (``has_leader`` false with a reason); so is a possibly stale answer (``stale``:
the server has not heard from the apiserver for longer than its bound).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import Enum

import msgspec

from zen_lead.constants import (
    ANNOTATION_HELD_BY,
    ANNOTATION_HOLDER_UID,
    ANNOTATION_LEADER_POD_UID,
    ANNOTATION_LEADER_SINCE,
    ANNOTATION_LEADER_TERM,
)
from zen_lead.election.record import Observation, record_of
from zen_lead.kube.structs import EndpointSlice, Lease, Pod, Service
from zen_lead.pools.core.decision import held_for


class Kind(Enum):
    POOL = "pool"
    SERVICE = "service"
    LEASE = "lease"


@dataclass(frozen=True, slots=True, order=True)
class Target:
    kind: Kind
    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.kind.value} {self.namespace}/{self.name}"


class Leader(msgspec.Struct, frozen=True, omit_defaults=True):
    identity: str
    pod: str = ""
    uid: str = ""
    podIP: str = ""
    node: str = ""


class LeaderState(msgspec.Struct, frozen=True):
    """One answer. Equal states (``same_as``) are one state: a watcher is told only of changes."""

    kind: str
    namespace: str
    name: str
    exists: bool
    hasLeader: bool
    leader: Leader | None
    term: int
    since: str | None
    noLeaderReason: str
    stale: bool = False
    staleSeconds: float = 0.0
    servedBy: str = ""

    def same_as(self, other: LeaderState | None) -> bool:
        """The same state apart from how long the server has been cut off (which changes every read)."""
        return other is not None and _essence(self) == _essence(other)


def _essence(state: LeaderState) -> tuple[object, ...]:
    return (
        state.exists,
        state.hasLeader,
        state.leader,
        state.term,
        state.since,
        state.noLeaderReason,
        state.stale,
    )


PodLookup = Callable[[str], Pod | None]  # a pod of the target's namespace by name


def _none(target: Target, *, exists: bool, reason: str, term: int = 0) -> LeaderState:
    return LeaderState(
        kind=target.kind.value,
        namespace=target.namespace,
        name=target.name,
        exists=exists,
        hasLeader=False,
        leader=None,
        term=term,
        since=None,
        noLeaderReason=reason,
    )


def _led(target: Target, leader: Leader, *, term: int, since: str | None) -> LeaderState:
    return LeaderState(
        kind=target.kind.value,
        namespace=target.namespace,
        name=target.name,
        exists=True,
        hasLeader=True,
        leader=leader,
        term=term,
        since=since,
        noLeaderReason="",
    )


def _pod_leader(identity: str, pod: Pod | None, *, uid: str = "") -> Leader:
    if pod is None:
        return Leader(identity=identity, pod=identity if uid else "", uid=uid)
    return Leader(
        identity=identity,
        pod=pod.metadata.name,
        uid=pod.metadata.uid,
        podIP=pod.status.pod_ip or "",
        node=pod.spec.node_name or "",
    )


def lease_holder_state(
    target: Target, lease: Lease | None, observation: Observation | None, *, now: float, pods: PodLookup
) -> LeaderState:
    """A plain Lease: its holder, unless released or (by this server's observation) expired."""
    if lease is None:
        return _none(target, exists=False, reason="not found")
    record = record_of(lease.spec)
    if not record.held:
        return _none(target, exists=True, reason="released", term=record.transitions)
    if observation is not None and observation.record == record and observation.expired(now):
        return _none(target, exists=True, reason="expired", term=record.transitions)
    pod = pods(record.holder)
    return _led(target, _pod_leader(record.holder, pod), term=record.transitions, since=record.acquire_time)


def pool_state(
    target: Target,
    *,
    policy_exists: bool,
    lease: Lease | None,
    observation: Observation | None,
    now: float,
    pods: PodLookup,
) -> LeaderState:
    """A pool: its Lease's holder pod (see the module doc for when a member's own Lease expires)."""
    if not policy_exists:
        return _none(target, exists=False, reason="not found")
    if lease is None:
        return _none(target, exists=True, reason="no leader elected yet")
    record = record_of(lease.spec)
    if not record.held:
        return _none(target, exists=True, reason="released", term=record.transitions)
    annotations = lease.metadata.annotations
    held_by_controller = annotations.get(ANNOTATION_HELD_BY) == held_for(record.holder, record.transitions)
    member_lease = not held_by_controller and observation is not None and observation.record == record
    if member_lease and observation is not None and observation.expired(now):
        return _none(target, exists=True, reason="expired", term=record.transitions)
    pod = pods(record.holder)
    recorded_uid = annotations.get(ANNOTATION_HOLDER_UID, "") if held_by_controller else ""
    if pod is not None and recorded_uid and pod.metadata.uid != recorded_uid:
        pod = None  # a pod re-created under the leader's name is not the leader
    return _led(
        target,
        _pod_leader(record.holder, pod, uid=recorded_uid),
        term=record.transitions,
        since=record.acquire_time,
    )


def service_state(
    target: Target,
    *,
    source_exists: bool,
    opted_in: bool,
    leader_service: Service | None,
    slices: Iterable[EndpointSlice],
    pods: PodLookup,
) -> LeaderState:
    """A Service the director manages: the pod its leader slices route to."""
    if not source_exists:
        return _none(target, exists=False, reason="not found")
    if not opted_in:
        return _none(
            target, exists=True, reason='not managed by zen-lead (zen-lead.io/enabled is not "true")'
        )
    if leader_service is None:
        return _none(target, exists=True, reason="no leader Service yet")
    uid = leader_service.metadata.uid
    owned = sorted(
        (s for s in slices if any(ref.uid == uid for ref in s.metadata.owner_references)),
        key=lambda s: s.metadata.name,
    )
    term = max((_term(s) for s in owned), default=0)
    for endpoint_slice in owned:
        for endpoint in endpoint_slice.endpoints or ():
            ref = endpoint.target_ref
            if ref is None or not ref.uid:
                continue
            pod = pods(ref.name)
            if pod is not None and pod.metadata.uid != ref.uid:
                pod = None
            leader = (
                _pod_leader(ref.name, pod)
                if pod is not None
                else Leader(
                    identity=ref.name,
                    pod=ref.name,
                    uid=ref.uid,
                    podIP=(endpoint.addresses or ("",))[0],
                    node=endpoint.node_name or "",
                )
            )
            annotations = leader_service.metadata.annotations
            since = (
                annotations.get(ANNOTATION_LEADER_SINCE)
                if annotations.get(ANNOTATION_LEADER_POD_UID) == ref.uid
                else None
            )
            return _led(target, leader, term=term, since=since)
    reason = "no eligible pod" if owned else "no leader EndpointSlice yet"
    return _none(target, exists=True, reason=reason, term=term)


def _term(endpoint_slice: EndpointSlice) -> int:
    text = endpoint_slice.metadata.annotations.get(ANNOTATION_LEADER_TERM, "")
    return int(text) if text.isdigit() and len(text) < 19 else 0


def with_freshness(state: LeaderState, *, stale_seconds: float, bound: float, served_by: str) -> LeaderState:
    """The state as served: how long the server has been cut off, and whether that is past ``bound``."""
    return msgspec.structs.replace(
        state, stale=stale_seconds > bound, staleSeconds=round(stale_seconds, 3), servedBy=served_by
    )
