"""What a ManualLock's plan means for users: its status and its Events — pure, compared with what the
object shows so that nothing is written, and nothing told, when nothing changed.

The status always carries every field (``None`` clears one in a merge patch): a Pending lock shows no
token or times; an Expired or Released one keeps those of its last tenure, for the record. Events
are edge-triggered against the status before the plan: taking the lock (a new token), moving its
expiry, its end, starting to wait for another holder, and — as a Warning, once per distinct
message — a spec that cannot be honoured.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from zen_lead.kube.structs import Condition, ManualLockStatus
from zen_lead.kube.times import format_time, parse_time
from zen_lead.manuallocks.core.plan import (
    EXPIRED,
    HELD,
    HELD_BY_OTHER,
    INVALID_SPEC,
    PENDING,
    RELEASED,
    LockPlan,
    LockView,
)

CONDITION_HELD = "Held"


@dataclass(frozen=True, slots=True)
class LockEvent:
    type: str  # Normal | Warning
    reason: str
    message: str


def lock_status(lock: LockView, plan: LockPlan, *, wall: float) -> dict[str, Any]:
    """The status to write (as JSON) once the plan's Lease write, if any, succeeded."""
    previous = lock.status
    token, acquired, expires = None, None, None
    if plan.tenure is not None:
        tenure = plan.tenure
        token, acquired, expires = (
            tenure.token,
            format_time(tenure.acquired_at),
            format_time(tenure.expires_at),
        )
    elif plan.phase in (EXPIRED, RELEASED):  # the last tenure, for the record
        token, acquired, expires = previous.token, previous.acquired_at, previous.expires_at
    condition = Condition(
        type=CONDITION_HELD,
        status="True" if plan.held else "False",
        reason=plan.reason,
        message=plan.message,
    )
    return {
        "phase": plan.phase,
        "token": token,
        "acquiredAt": acquired,
        "expiresAt": expires,
        "message": plan.message,
        "observedGeneration": lock.generation,
        "conditions": [_with_time(condition, previous, lock.generation, wall)],
    }


def lock_events(lock: LockView, plan: LockPlan) -> list[LockEvent]:
    """The Events of the change from the status ``lock`` shows to ``plan``."""
    before = lock.status
    name = lock.spec.lock_name
    was = _held_condition(before)
    events = []
    if plan.problems and (was is None or was.reason != INVALID_SPEC or was.message != plan.message):
        events.append(LockEvent("Warning", INVALID_SPEC, plan.message))
    tenure = plan.tenure
    if tenure is not None:
        expires = format_time(tenure.expires_at)
        if before.phase != HELD or before.token != tenure.token:
            message = f"lock {name} taken for {tenure.holder} (token {tenure.token}) until {expires}"
            events.append(LockEvent("Normal", "Acquired", message))
        elif parse_time(before.expires_at) != tenure.expires_at:
            message = (
                f"lock {name} (token {tenure.token}): expiry moved from {before.expires_at} to {expires}"
            )
            events.append(LockEvent("Normal", "ExpiryMoved", message))
    elif plan.phase != before.phase and plan.phase in (EXPIRED, RELEASED):
        events.append(LockEvent("Normal", plan.phase, plan.message))
    elif (
        plan.phase == PENDING
        and plan.reason == HELD_BY_OTHER
        and (was is None or was.reason != HELD_BY_OTHER)
    ):
        events.append(LockEvent("Normal", "Waiting", plan.message))
    return events


def _held_condition(status: ManualLockStatus) -> Condition | None:
    return next((c for c in status.conditions if c.type == CONDITION_HELD), None)


def _with_time(
    condition: Condition, previous: ManualLockStatus, generation: int, wall: float
) -> dict[str, Any]:
    """As JSON, keeping the previous lastTransitionTime while the condition's status stays the same."""
    old = _held_condition(previous)
    moment = old.last_transition_time if old is not None and old.status == condition.status else None
    return {
        "type": condition.type,
        "status": condition.status,
        "reason": condition.reason,
        "message": condition.message,
        "observedGeneration": generation,
        "lastTransitionTime": moment or format_time(wall),
    }
