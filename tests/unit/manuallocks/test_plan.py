"""The plan of one ManualLock, property-tested: a live tenure of anyone else is never written over, only
this ManualLock's own tenure is ever released, every acquisition is a new token above every earlier
one whose Lease lasts until the expiry, Held means a tenure, and a plan carried out asks for nothing
more (a held lock is quiet until its expiry)."""

from __future__ import annotations

import dataclasses
import math

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.manuallocks.strategies import NOW, WALL, leases, locks
from zen_lead.constants import ANNOTATION_MANUAL_LOCK_EXPIRES, ANNOTATION_MANUAL_LOCK_TOKEN
from zen_lead.election.record import RELEASED_LEASE_DURATION_SECONDS, observe
from zen_lead.kube.structs import ManualLockStatus
from zen_lead.kube.times import parse_time
from zen_lead.manuallocks.core.plan import (
    HELD,
    OUR_ANNOTATIONS,
    PENDING,
    LeaseView,
    LeaseWrite,
    LockPlan,
    LockView,
    plan_lock,
    tenure_of,
)
from zen_lead.manuallocks.core.status import lock_status

MIN_TOKENS = st.integers(0, 12)


def plan(lock: LockView, lease: LeaseView | None, min_token: int = 0, *, wall: float = WALL) -> LockPlan:
    return plan_lock(lock, lease, now=NOW, wall=wall, min_token=min_token)


def carry_out(lease: LeaseView | None, write: LeaseWrite) -> LeaseView:
    """The Lease after the apiserver accepted ``write`` (a merge patch of annotations, the record)."""
    annotations = dict(lease.annotations) if lease is not None and write.resource_version else {}
    for key, value in write.annotations.items():
        if value is None:
            annotations.pop(key, None)
        else:
            annotations[key] = value
    version = str(int(lease.observation.resource_version) + 1) if lease is not None else "1"
    previous = lease.observation if lease is not None else None
    return LeaseView(observe(previous, write.record, version, NOW), annotations)


@given(locks(), leases(), MIN_TOKENS)
@settings(max_examples=1500)
def test_a_live_tenure_of_anyone_else_is_never_written_over(
    lock: LockView, lease: LeaseView | None, min_token: int
) -> None:
    result = plan(lock, lease, min_token)
    if result.write is None or lease is None:
        return
    mine = tenure_of(lease, name=lock.name, uid=lock.uid)
    record = lease.observation.record
    if mine is None and record.held:
        assert lease.observation.expired(NOW), (result, lease)
    assert result.write.resource_version == lease.observation.resource_version  # conditional, always


@given(locks(), leases(), MIN_TOKENS)
@settings(max_examples=1500)
def test_only_this_locks_own_tenure_is_released_and_then_entirely(
    lock: LockView, lease: LeaseView | None, min_token: int
) -> None:
    result = plan(lock, lease, min_token)
    write = result.write
    if write is None or write.record.held:
        return
    assert lease is not None
    assert tenure_of(lease, name=lock.name, uid=lock.uid) is not None
    assert write.record.transitions == lease.observation.record.transitions  # the token is kept
    assert write.record.lease_duration_seconds == RELEASED_LEASE_DURATION_SECONDS
    assert dict(write.annotations) == dict.fromkeys(OUR_ANNOTATIONS)
    assert not result.held


@given(locks(), leases(), MIN_TOKENS)
@settings(max_examples=1500)
def test_an_acquisition_is_a_new_token_whose_lease_lasts_until_the_expiry(
    lock: LockView, lease: LeaseView | None, min_token: int
) -> None:
    result = plan(lock, lease, min_token)
    write, tenure = result.write, result.tenure
    if write is None or tenure is None:
        return
    mine = tenure_of(lease, name=lock.name, uid=lock.uid)
    record = write.record
    assert record.holder == tenure.holder == lock.spec.holder
    assert write.annotations[ANNOTATION_MANUAL_LOCK_TOKEN] == str(record.transitions) == str(tenure.token)
    assert parse_time(write.annotations[ANNOTATION_MANUAL_LOCK_EXPIRES]) == tenure.expires_at
    assert tenure.expires_at > WALL
    # every other candidate's clock starts when it sees this write: it waits at least until the expiry
    assert record.lease_duration_seconds == math.ceil(tenure.expires_at - WALL) >= 1
    if mine is not None and mine.token == tenure.token:  # the expiry moved, the tenure is the same
        assert record.acquire_time == lease.observation.record.acquire_time  # type: ignore[union-attr]
        return
    assert record.transitions >= min_token
    if lease is not None:
        assert record.transitions == max(lease.observation.record.transitions + 1, min_token)
    assert record.acquire_time == record.renew_time
    assert tenure.acquired_at == math.floor(WALL)


@given(locks(), leases(), MIN_TOKENS)
@settings(max_examples=1000)
def test_held_means_a_tenure_that_ends_in_the_future(
    lock: LockView, lease: LeaseView | None, min_token: int
) -> None:
    result = plan(lock, lease, min_token)
    assert (result.phase == HELD) == (result.tenure is not None)
    if result.tenure is not None:
        assert result.requeue_after == result.tenure.expires_at - WALL > 0
    if result.problems:
        assert result.reason == "InvalidSpec"
        assert all(p.startswith("spec") for p in result.problems)
    status = lock_status(lock, result, wall=WALL)
    if result.phase == PENDING:
        assert status["token"] is None
        assert status["expiresAt"] is None


@given(locks(), leases(), MIN_TOKENS)
@settings(max_examples=1000)
def test_deleting_lets_go_and_then_the_finalizer(
    lock: LockView, lease: LeaseView | None, min_token: int
) -> None:
    lock = dataclasses.replace(lock, deleting=True)
    result = plan(lock, lease, min_token)
    assert result.finalize
    assert not result.held
    mine = tenure_of(lease, name=lock.name, uid=lock.uid)
    assert (result.write is not None) == (mine is not None)


@given(locks(), leases(), MIN_TOKENS)
@settings(max_examples=1500)
def test_a_plan_carried_out_asks_for_nothing_more(
    lock: LockView, lease: LeaseView | None, min_token: int
) -> None:
    first = plan(lock, lease, min_token)
    if first.finalize:
        return
    after = carry_out(lease, first.write) if first.write is not None else lease
    status = msgspec.convert(lock_status(lock, first, wall=WALL), ManualLockStatus)
    settled = dataclasses.replace(lock, status=status)
    second = plan(settled, after, min_token)
    assert second.write is None, (first, second)
    assert second.phase == first.phase
    assert lock_status(settled, second, wall=WALL) == lock_status(lock, first, wall=WALL)


@given(locks(), leases(), MIN_TOKENS, st.integers(1, 40 * 86400))
@settings(max_examples=1000)
def test_a_held_lock_is_quiet_until_its_expiry_and_then_released(
    lock: LockView, lease: LeaseView | None, min_token: int, later: int
) -> None:
    first = plan(lock, lease, min_token)
    if first.tenure is None:
        return
    after = carry_out(lease, first.write) if first.write is not None else lease
    status = msgspec.convert(lock_status(lock, first, wall=WALL), ManualLockStatus)
    held = dataclasses.replace(lock, status=status)
    expires = first.tenure.expires_at
    for wall in (WALL + later, expires - 0.001, expires):  # and the two instants around the expiry
        then = plan(held, after, min_token, wall=wall)
        if wall < expires:
            assert then.write is None
            assert then.phase == HELD
        else:
            assert then.phase == "Expired"
            assert then.write is not None
            assert not then.write.record.held
