"""Locks through the API, decided: what to write to take, renew or release one, and why a request is
refused. A lock is a Lease in the election library's format (``election.record``), so library holders
(``zen_lead.election.lock()``), API holders and ManualLocks exclude each other; the fencing token is
the Lease's ``leaseTransitions``.

Two additions to the library's record, both in the Lease's metadata: the Kubernetes user that took the
lock through the API (``zen-lead.io/lock-owner``; only that user may renew or release it, so knowing a
lock's public token is not enough to steal it) and the managed-by label on a Lease the API created.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec

from zen_lead.constants import LABEL_MANAGED_BY, MANAGED_BY_VALUE, PREFIX
from zen_lead.election.record import (
    Create,
    LeaseRecord,
    Observation,
    Update,
    Wait,
    plan_acquire,
    record_of,
    released,
    renewed,
)
from zen_lead.kube.structs import Lease

ANNOTATION_LOCK_OWNER = f"{PREFIX}/lock-owner"


class LockView(msgspec.Struct, frozen=True):
    """A lock as the API shows it (``held`` false: free; ``token`` is still the last one given)."""

    namespace: str
    name: str
    held: bool
    holder: str
    token: int
    ttlSeconds: int
    acquired: str | None
    renewed: str | None
    owner: str


def view(namespace: str, name: str, lease: Lease, observation: Observation | None, now: float) -> LockView:
    record = record_of(lease.spec)
    expired = observation is not None and observation.record == record and observation.expired(now)
    return LockView(
        namespace=namespace,
        name=name,
        held=record.held and not expired,
        holder=record.holder,
        token=record.transitions,
        ttlSeconds=record.lease_duration_seconds,
        acquired=record.acquire_time,
        renewed=record.renew_time,
        owner=lease.metadata.annotations.get(ANNOTATION_LOCK_OWNER, ""),
    )


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a lock operation is refused. ``reason`` is a stable word; ``message`` says the rest."""

    reason: str  # NotFound | HeldByOther | TokenMismatch | NotHolder | NotOwner | Reserved
    message: str


@dataclass(frozen=True, slots=True)
class Write:
    """Write ``record`` (and ``owner`` into the Lease's metadata; None: remove it). ``resource_version``
    None: create the Lease."""

    record: LeaseRecord
    owner: str | None
    resource_version: str | None


@dataclass(frozen=True, slots=True)
class Retry:
    """Held by someone else whose Lease has not run out by our observation: try again at ``until``."""

    holder: str
    token: int
    until: float


def plan_take(
    observation: Observation | None,
    owner_of_record: str,
    *,
    holder: str,
    owner: str,
    ttl: int,
    now: float,
    timestamp: str,
    min_token: int = 0,
) -> Write | Retry:
    """Taking a lock. The same (holder, owner) asking again while it holds the lock gets its tenure
    back, renewed (an acquire retried after a lost answer must not look like someone else's). A new
    tenure's token is at least ``min_token`` (one more than the highest this server has seen on a Lease
    of this name: a deleted and re-created Lease does not hand out old tokens again)."""
    if observation is not None and observation.record.held and not observation.expired(now):
        record = observation.record
        if record.holder == holder and owner_of_record == owner:
            return Write(
                renewed(record, lease_duration_seconds=ttl, timestamp=timestamp),
                owner,
                observation.resource_version,
            )
        if record.holder == holder:  # the same name, someone else's tenure: not ours to take over
            return Retry(holder=record.holder, token=record.transitions, until=observation.expires_at)
    plan = plan_acquire(
        observation,
        identity=holder,
        lease_duration_seconds=ttl,
        now=now,
        timestamp=timestamp,
        min_transitions=min_token,
    )
    if isinstance(plan, Wait):
        token = observation.record.transitions if observation is not None else 0
        return Retry(holder=plan.holder, token=token, until=plan.until)
    if isinstance(plan, Create):
        return Write(plan.record, owner, None)
    assert isinstance(plan, Update)
    return Write(plan.record, owner, plan.resource_version)


def check_tenure(
    record: LeaseRecord | None, owner_of_record: str, *, name: str, holder: str, token: int, owner: str
) -> Refusal | None:
    """None when (holder, token) is the lock's current tenure and ``owner`` took it; else why not."""
    if record is None:
        return Refusal("NotFound", f"lock {name} does not exist")
    if record.transitions != token:
        newer = "taken again since" if record.transitions > token else "not given yet"
        return Refusal(
            "TokenMismatch",
            f"token {token} is not lock {name}'s current token {record.transitions} ({newer})",
        )
    if not record.held:
        return Refusal("NotHolder", f"lock {name} was released (token {token})")
    if record.holder != holder:
        return Refusal("NotHolder", f"lock {name} is held by {record.holder!r}, not {holder!r}")
    if owner_of_record != owner:
        taken_by = owner_of_record or "a holder outside the API"
        return Refusal("NotOwner", f"lock {name} was taken by {taken_by}, not {owner}")
    return None


def plan_renew(record: LeaseRecord, *, owner: str, timestamp: str, resource_version: str) -> Write:
    return Write(
        renewed(record, lease_duration_seconds=record.lease_duration_seconds, timestamp=timestamp),
        owner,
        resource_version,
    )


def plan_release(record: LeaseRecord, *, timestamp: str, resource_version: str) -> Write:
    return Write(released(record, timestamp=timestamp), None, resource_version)


def lease_manifest(namespace: str, name: str, write: Write, spec: dict[str, Any]) -> dict[str, Any]:
    """The whole Lease the API creates (``spec``: the record's five fields)."""
    metadata: dict[str, Any] = {
        "name": name,
        "namespace": namespace,
        "labels": {LABEL_MANAGED_BY: MANAGED_BY_VALUE},
    }
    if write.owner is not None:
        metadata["annotations"] = {ANNOTATION_LOCK_OWNER: write.owner}
    return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": metadata, "spec": spec}


def lease_patch(write: Write, spec: dict[str, Any]) -> dict[str, Any]:
    """The merge patch that writes ``write`` on the condition of its resourceVersion."""
    return {
        "metadata": {
            "resourceVersion": write.resource_version,
            "annotations": {ANNOTATION_LOCK_OWNER: write.owner},
        },
        "spec": spec,
    }
