"""The plan of one ManualLock: its phase, and the one Lease write (if any) that gets it there.

Inputs are plain values: the ManualLock (``LockView``), the Lease as this controller observed it
(``LeaseView``: the record, its resourceVersion and the LOCAL MONOTONIC time the controller first saw
that record, ``election.record.Observation``), ``now`` (monotonic) and ``wall`` (epoch seconds).

Two clocks, as ``election.record`` uses them:

- Whether a Lease held by SOMEONE ELSE may be taken is decided only by the controller's own
  observation: the record unchanged for ``leaseDurationSeconds`` since first seen (``now``). Times
  written by others are never compared with anything.
- A ManualLock's own expiry is a wall-clock instant (``spec.expiresAt``, or the acquisition + ttl),
  chosen by the controller and written on the Lease beside the tenure (annotations). The Lease's
  ``leaseDurationSeconds`` is the whole seconds from the write to that instant, so every other
  candidate — whose clock starts when it sees the write — waits at least until then, with or without
  this controller. There are no renewals; the Lease is rewritten only when the expiry moves.

Whose tenure. The Lease shows THIS ManualLock's tenure when it is held and its annotations name the
ManualLock (name and uid) and the tenure's token equals ``leaseTransitions``. Anyone else's write —
a library holder taking over an expired Lease, an admin's edit — changes the holder or the
transitions, so the tenure is over even though the (merge-patched) annotations may remain. The
Lease, not the ManualLock's status, is the truth: a status write lost after a Lease write is
repaired by the next reconcile.

The plan assumes its write succeeds; every write is conditional on the observed resourceVersion, so a
lost race is a 409 and a new plan from a fresh observation.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from zen_lead.constants import (
    ANNOTATION_MANUAL_LOCK,
    ANNOTATION_MANUAL_LOCK_EXPIRES,
    ANNOTATION_MANUAL_LOCK_TOKEN,
    ANNOTATION_MANUAL_LOCK_UID,
)
from zen_lead.election.record import LeaseRecord, Observation, Update, Wait, plan_acquire, released, renewed
from zen_lead.kube.structs import ManualLockSpec, ManualLockStatus
from zen_lead.kube.times import format_microtime, format_time, parse_time
from zen_lead.manuallocks.core.spec import expiry, expiry_problems, spec_problems

PENDING, HELD, EXPIRED, RELEASED = "Pending", "Held", "Expired", "Released"
# reasons of the Held condition
ACQUIRED, HELD_BY_OTHER, INVALID_SPEC = "Acquired", "HeldByOther", "InvalidSpec"
OUR_ANNOTATIONS = (
    ANNOTATION_MANUAL_LOCK,
    ANNOTATION_MANUAL_LOCK_UID,
    ANNOTATION_MANUAL_LOCK_TOKEN,
    ANNOTATION_MANUAL_LOCK_EXPIRES,
)


@dataclass(frozen=True, slots=True)
class LockView:
    """A ManualLock as the plan reads it."""

    name: str
    uid: str
    generation: int
    spec: ManualLockSpec
    status: ManualLockStatus
    deleting: bool = False


@dataclass(frozen=True, slots=True)
class LeaseView:
    """The lock's Lease as this controller observed it, with its annotations."""

    observation: Observation
    annotations: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class Tenure:
    """One tenure of a ManualLock, as its Lease records it. Times are whole epoch seconds."""

    token: int
    holder: str
    acquired_at: int
    expires_at: int


@dataclass(frozen=True, slots=True)
class LeaseWrite:
    """Write ``record`` and ``annotations`` (None: remove); create when ``resource_version`` is None,
    else only if the Lease is still at that version."""

    record: LeaseRecord
    annotations: Mapping[str, str | None]
    resource_version: str | None


@dataclass(frozen=True, slots=True)
class LockPlan:
    phase: str
    reason: str  # the Held condition's reason
    message: str
    write: LeaseWrite | None = None
    tenure: Tenure | None = None  # the tenure held once ``write`` succeeded (None: not held)
    problems: tuple[str, ...] = ()  # what is wrong with the spec (told as a Warning)
    requeue_after: float | None = None  # seconds until something changes with time alone
    finalize: bool = False  # deleting: the lock is let go, the finalizer may go

    @property
    def held(self) -> bool:
        return self.tenure is not None


def tenure_of(lease: LeaseView | None, *, name: str, uid: str) -> Tenure | None:
    """This ManualLock's tenure if the Lease still shows it (see the module docstring), else None."""
    if lease is None:
        return None
    record, notes = lease.observation.record, lease.annotations
    if (
        not record.held
        or notes.get(ANNOTATION_MANUAL_LOCK) != name
        or notes.get(ANNOTATION_MANUAL_LOCK_UID) != uid
    ):
        return None
    if notes.get(ANNOTATION_MANUAL_LOCK_TOKEN) != str(record.transitions):
        return None
    acquired, until = parse_time(record.acquire_time), parse_time(notes.get(ANNOTATION_MANUAL_LOCK_EXPIRES))
    if acquired is None or until is None:
        return None
    return Tenure(record.transitions, record.holder, math.floor(acquired), math.floor(until))


def plan_lock(
    lock: LockView,
    lease: LeaseView | None,
    *,
    now: float,
    wall: float,
    min_token: int = 0,
    reserved: str | None = None,
) -> LockPlan:
    """The plan for ``lock``. ``min_token``: the lowest token a new Lease may start at (the highest
    this controller saw for it + 1, so a deleted and re-created Lease does not hand out old tokens);
    ``reserved``: why the Lease is not a lock at all (an election Lease zen-lead writes), if it is not."""
    tenure = tenure_of(lease, name=lock.name, uid=lock.uid)
    stamp = format_microtime(datetime.fromtimestamp(wall, UTC))
    if lock.deleting:
        write = _release(lease, stamp) if tenure is not None else None
        return LockPlan(RELEASED, RELEASED, "deleted: the lock is released", write=write, finalize=True)
    status = lock.status
    if status.phase in (EXPIRED, RELEASED) and status.observed_generation == lock.generation:
        # settled for this generation (a spec change starts over); a tenure still shown is let go
        write = _release(lease, stamp) if tenure is not None else None
        return LockPlan(status.phase, status.phase, status.message or "", write=write)
    if lock.spec.release:
        write = _release(lease, stamp) if tenure is not None else None
        return LockPlan(RELEASED, RELEASED, "released: spec.release is true", write=write)
    if tenure is not None:
        assert lease is not None
        return _holding(lock, lease, tenure, wall=wall, stamp=stamp, min_token=min_token)
    if status.phase == HELD:
        return _lost(lock, lease, wall=wall)
    if reserved is not None:
        problem = f"spec.lockName: {reserved}"
        return LockPlan(PENDING, INVALID_SPEC, problem, problems=(problem,))
    return _acquiring(lock, lease, now=now, wall=wall, stamp=stamp, min_token=min_token)


# ---- the steps ------------------------------------------------------------------------------------
def _holding(
    lock: LockView, lease: LeaseView, tenure: Tenure, *, wall: float, stamp: str, min_token: int
) -> LockPlan:
    spec, name = lock.spec, lock.spec.lock_name
    problems = spec_problems(spec)
    if problems:
        return _unapplied(lease, tenure, problems, name=name, wall=wall, stamp=stamp)
    record = lease.observation.record
    if spec.holder != tenure.holder:  # hand over: a new tenure in one conditional write, no gap
        acquired = _second_of(stamp)
        until = expiry(spec, acquired_at=acquired)
        assert until is not None  # the spec is valid
        if until <= wall:
            return _expire(lease, tenure, stamp)
        problems = expiry_problems(spec, until=until, wall=wall)
        if problems:
            return _unapplied(lease, tenure, problems, name=name, wall=wall, stamp=stamp)
        new = Tenure(max(record.transitions + 1, min_token), spec.holder, acquired, until)
        held = LeaseRecord(spec.holder, math.ceil(until - wall), stamp, stamp, new.token)
        return _take(lock, lease.observation.resource_version, held, new, wall=wall)
    until = expiry(spec, acquired_at=tenure.acquired_at)
    assert until is not None
    if until == tenure.expires_at:
        if wall >= until:
            return _expire(lease, tenure, stamp)
        return LockPlan(HELD, ACQUIRED, _held(name, tenure), tenure=tenure, requeue_after=until - wall)
    if until <= wall:  # the expiry was moved to a time already past
        return _expire(
            lease, tenure, stamp, how=f"its expiry was moved to {format_time(until)}, already past"
        )
    problems = expiry_problems(spec, until=until, wall=wall)
    if problems:
        return _unapplied(lease, tenure, problems, name=name, wall=wall, stamp=stamp)
    moved = Tenure(tenure.token, tenure.holder, tenure.acquired_at, until)
    longer = renewed(record, lease_duration_seconds=math.ceil(until - wall), timestamp=stamp)
    write = LeaseWrite(longer, _ours(lock, moved), lease.observation.resource_version)
    return LockPlan(HELD, ACQUIRED, _held(name, moved), write=write, tenure=moved, requeue_after=until - wall)


def _lost(lock: LockView, lease: LeaseView | None, *, wall: float) -> LockPlan:
    """The status says Held, the Lease no longer shows the tenure: it ended without this controller."""
    until = parse_time(lock.status.expires_at)
    now_held = lease is not None and lease.observation.record.held
    if lease is None:
        how = "the Lease was deleted"
    elif now_held:
        record = lease.observation.record
        how = f"the Lease is held by {record.holder} now (token {record.transitions})"
    else:
        how = "the Lease was released by someone else"
    if until is not None and wall >= until:
        return LockPlan(EXPIRED, EXPIRED, f"expired at {format_time(until)}; {how}")
    return LockPlan(RELEASED, RELEASED, f"the lock was taken from this ManualLock: {how}")


def _acquiring(
    lock: LockView, lease: LeaseView | None, *, now: float, wall: float, stamp: str, min_token: int
) -> LockPlan:
    spec, name = lock.spec, lock.spec.lock_name
    problems = spec_problems(spec)
    acquired = _second_of(stamp)
    until = expiry(spec, acquired_at=acquired) if not problems else None
    if until is not None and until <= wall and _waited(lock.status):  # its time ran out while it waited
        return LockPlan(EXPIRED, EXPIRED, f"expired at {format_time(until)} before the lock could be taken")
    if until is not None:
        problems = expiry_problems(spec, until=until, wall=wall)
    if problems or until is None:
        return LockPlan(PENDING, INVALID_SPEC, "; ".join(problems), problems=tuple(problems))
    observation = lease.observation if lease is not None else None
    if observation is not None and observation.record.held and not observation.expired(now):
        assert lease is not None
        # woken by the Lease's changes; by time, when it would expire as we saw it or an expiresAt is up
        wake = observation.expires_at - now
        if spec.expires_at is not None:
            wake = min(wake, until - wall)
        return LockPlan(PENDING, HELD_BY_OTHER, _held_by_other(name, lease), requeue_after=wake)
    # free, released, or silent for leaseDurationSeconds as this controller observed it: take it
    plan = plan_acquire(
        observation,
        identity=spec.holder,
        lease_duration_seconds=math.ceil(until - wall),
        now=now,
        timestamp=stamp,
        min_transitions=min_token,
    )
    if isinstance(plan, Wait):  # pragma: no cover - excluded above: plan_acquire waits only for a live holder
        raise AssertionError(f"plan_acquire waits for {plan.holder}")
    version = plan.resource_version if isinstance(plan, Update) else None
    record = plan.record
    tenure = Tenure(record.transitions, spec.holder, acquired, until)
    return _take(lock, version, record, tenure, wall=wall)


# ---- building blocks -------------------------------------------------------------------------------
def _take(
    lock: LockView, version: str | None, record: LeaseRecord, tenure: Tenure, *, wall: float
) -> LockPlan:
    write = LeaseWrite(record, _ours(lock, tenure), version)
    message = _held(lock.spec.lock_name, tenure)
    return LockPlan(
        HELD, ACQUIRED, message, write=write, tenure=tenure, requeue_after=tenure.expires_at - wall
    )


def _unapplied(
    lease: LeaseView, tenure: Tenure, problems: list[str], *, name: str, wall: float, stamp: str
) -> LockPlan:
    """A spec that cannot be honoured never changes the Lease: held as it is, until its expiry."""
    if wall >= tenure.expires_at:
        return _expire(lease, tenure, stamp)
    message = f"{_held(name, tenure)}; the spec is not applied: {'; '.join(problems)}"
    return LockPlan(
        HELD,
        INVALID_SPEC,
        message,
        tenure=tenure,
        problems=tuple(problems),
        requeue_after=tenure.expires_at - wall,
    )


def _expire(lease: LeaseView, tenure: Tenure, stamp: str, *, how: str = "") -> LockPlan:
    message = f"expired at {format_time(tenure.expires_at)} (token {tenure.token}); the Lease is released"
    return LockPlan(EXPIRED, EXPIRED, f"{message}: {how}" if how else message, write=_release(lease, stamp))


def _release(lease: LeaseView | None, stamp: str) -> LeaseWrite:
    """client-go's release (``election.record.released``), and our annotations removed."""
    assert lease is not None  # only a Lease that shows our tenure is released
    observation = lease.observation
    record = released(observation.record, timestamp=stamp)
    return LeaseWrite(record, dict.fromkeys(OUR_ANNOTATIONS), observation.resource_version)


def _ours(lock: LockView, tenure: Tenure) -> dict[str, str | None]:
    return {
        ANNOTATION_MANUAL_LOCK: lock.name,
        ANNOTATION_MANUAL_LOCK_UID: lock.uid,
        ANNOTATION_MANUAL_LOCK_TOKEN: str(tenure.token),
        ANNOTATION_MANUAL_LOCK_EXPIRES: format_time(tenure.expires_at),
    }


def _held(name: str, tenure: Tenure) -> str:
    until = format_time(tenure.expires_at)
    return f"lock {name} is held by {tenure.holder} (token {tenure.token}) until {until}"


def _held_by_other(name: str, lease: LeaseView) -> str:
    record, notes = lease.observation.record, lease.annotations
    by = ""
    if notes.get(ANNOTATION_MANUAL_LOCK) and notes.get(ANNOTATION_MANUAL_LOCK_TOKEN) == str(
        record.transitions
    ):
        by = f", ManualLock {notes[ANNOTATION_MANUAL_LOCK]}"
    return (
        f"lock {name} is held by {record.holder} (token {record.transitions}{by}); "
        "waiting for it to be released or to expire"
    )


def _waited(status: ManualLockStatus) -> bool:
    """The status shows a ManualLock waiting for another holder (not one refused for its spec)."""
    held = next((c for c in status.conditions if c.type == "Held"), None)
    return status.phase == PENDING and held is not None and held.reason == HELD_BY_OTHER


def _second_of(stamp: str) -> int:
    """The whole second of a MicroTime we write (so that reading it back gives the same second)."""
    moment = parse_time(stamp)
    assert moment is not None
    return math.floor(moment)
