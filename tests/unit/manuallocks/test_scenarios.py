"""The decisions of docs/decisions.md ("ManualLock"), one scenario each, told as the controller lives
them: plan, carry out, plan again later."""

from __future__ import annotations

import dataclasses

import msgspec

from tests.unit.manuallocks.strategies import NOW, WALL, stamp
from tests.unit.manuallocks.test_plan import carry_out
from zen_lead.election.record import LeaseRecord, Observation
from zen_lead.kube.structs import ManualLockSpec, ManualLockStatus
from zen_lead.kube.times import format_time
from zen_lead.manuallocks.core.plan import LeaseView, LockPlan, LockView, plan_lock
from zen_lead.manuallocks.core.status import lock_events, lock_status


def lock(name: str = "freeze", **spec: object) -> LockView:
    fields: dict[str, object] = {"lock_name": "db", "holder": "ops", "ttl": "30m", **spec}
    return LockView(name, f"uid-{name}", 1, ManualLockSpec(**fields), ManualLockStatus())  # type: ignore[arg-type]


def step(
    view: LockView, lease: LeaseView | None, *, wall: float = WALL, now: float = NOW, **kwargs: object
) -> tuple[LockView, LeaseView | None, LockPlan]:
    """Plan, and carry the plan out: the Lease written, the status written."""
    plan = plan_lock(view, lease, now=now, wall=wall, **kwargs)  # type: ignore[arg-type]
    if plan.write is not None:
        lease = carry_out(lease, plan.write)
    status = msgspec.convert(lock_status(view, plan, wall=wall), ManualLockStatus)
    return dataclasses.replace(view, status=status), lease, plan


def edit(view: LockView, **spec: object) -> LockView:
    return dataclasses.replace(
        view, generation=view.generation + 1, spec=msgspec.structs.replace(view.spec, **spec)
    )


def test_a_free_lock_is_taken_and_a_second_manual_lock_waits_for_it_naming_the_holder() -> None:
    first, lease, plan = step(lock(), None)
    assert plan.phase == "Held"
    assert plan.tenure is not None
    assert plan.tenure.token == 0
    assert lease is not None
    assert lease.observation.record.holder == "ops"
    assert lease.observation.record.lease_duration_seconds == 1800
    second, lease, waiting = step(lock("other", holder="ci"), lease)
    assert waiting.phase == "Pending"
    assert waiting.reason == "HeldByOther"
    assert "held by ops (token 0, ManualLock freeze)" in waiting.message
    assert waiting.requeue_after == 1800  # when the Lease would expire by our own observation
    # the first is deleted: released; the second takes it with the next token
    _, lease, gone = step(dataclasses.replace(first, deleting=True), lease)
    assert gone.finalize
    assert lease is not None
    assert not lease.observation.record.held
    _, lease, taken = step(second, lease)
    assert taken.phase == "Held"
    assert taken.tenure is not None
    assert taken.tenure.token == 1


def test_a_lease_held_by_someone_with_the_same_name_is_not_taken_over() -> None:
    """A library holder (or another ManualLock) whose identity is spec.holder is someone else."""
    library = LeaseView(Observation(LeaseRecord("ops", 15, stamp(WALL), stamp(WALL), 4), "7", NOW), {})
    _, _, plan = step(lock(), library)
    assert plan.phase == "Pending"
    assert plan.write is None
    _, _, later = step(lock(), library, now=NOW + 15)  # silent for its duration, as we saw it: take it
    assert later.phase == "Held"
    assert later.tenure is not None
    assert later.tenure.token == 5


def test_a_holder_change_hands_over_in_one_write_with_a_new_token_and_a_fresh_ttl() -> None:
    held, lease, _ = step(lock(), None)
    held, lease, plan = step(edit(held, holder="ci"), lease, wall=WALL + 600)
    assert plan.write is not None
    assert plan.write.record.holder == "ci"
    assert plan.tenure is not None
    assert plan.tenure.token == 1
    assert plan.tenure.expires_at == int(WALL + 600) + 1800


def test_a_longer_or_shorter_ttl_moves_the_expiry_and_rewrites_the_duration_only() -> None:
    held, lease, first = step(lock(), None)
    assert first.tenure is not None
    edited = edit(held, ttl="2h")
    held, lease, longer = step(edited, lease, wall=WALL + 60)
    assert longer.write is not None
    assert longer.tenure is not None
    assert longer.tenure.token == first.tenure.token
    assert longer.tenure.acquired_at == first.tenure.acquired_at
    assert longer.write.record.lease_duration_seconds == first.tenure.acquired_at + 7200 - int(WALL + 60)
    [moved] = lock_events(edited, longer)
    assert moved.reason == "ExpiryMoved"
    assert format_time(first.tenure.acquired_at + 7200) in moved.message
    assert lock_events(held, longer) == []  # told once: the status shows it now
    _, lease, past = step(edit(held, ttl="10s"), lease, wall=WALL + 120)
    assert past.phase == "Expired"
    assert lease is not None
    assert not lease.observation.record.held
    assert "moved to" in past.message


def test_spec_release_lets_go_keeps_the_record_and_a_new_generation_takes_it_again() -> None:
    held, lease, _ = step(lock(), None)
    released, lease, plan = step(edit(held, release=True), lease)
    assert plan.phase == "Released"
    assert lease is not None
    assert not lease.observation.record.held
    assert released.status.token == 0  # the last tenure, for the record
    _, _, still = step(released, lease)
    assert still.phase == "Released"
    assert still.write is None
    _, _, again = step(edit(released, release=False), lease)
    assert again.phase == "Held"
    assert again.tenure is not None
    assert again.tenure.token == 1


def test_a_lease_taken_some_other_way_is_released_or_expired_as_its_time_says() -> None:
    held, lease, _ = step(lock(), None)
    assert lease is not None
    taken = LeaseView(
        Observation(LeaseRecord("admin", 15, stamp(WALL), stamp(WALL), 1), "9", NOW), lease.annotations
    )
    _, _, plan = step(held, taken, wall=WALL + 60)
    assert plan.phase == "Released"
    assert "held by admin now (token 1)" in plan.message
    _, _, late = step(held, taken, wall=WALL + 1800)
    assert late.phase == "Expired"
    _, _, deleted = step(held, None, wall=WALL + 60)
    assert deleted.phase == "Released"
    assert "deleted" in deleted.message


def test_an_expiry_in_the_past_is_invalid_with_a_warning_told_once() -> None:
    past = lock(ttl=None, expires_at=format_time(WALL - 60))
    told, _, plan = step(past, None)
    assert plan.phase == "Pending"
    assert plan.reason == "InvalidSpec"
    assert plan.write is None
    assert plan.message.startswith("spec.expiresAt:")
    assert "in the past" in plan.message
    [warning] = lock_events(past, plan)
    assert warning.type == "Warning"
    assert warning.reason == "InvalidSpec"
    _, _, again = step(told, None)
    assert lock_events(told, again) == []


def test_an_election_lease_of_zen_lead_is_not_a_lock() -> None:
    _, _, plan = step(lock(), None, reserved="Lease db is zen-lead's own election Lease: it cannot be locked")
    assert plan.phase == "Pending"
    assert plan.write is None
    assert plan.problems == ("spec.lockName: Lease db is zen-lead's own election Lease: it cannot be locked",)


def test_a_deleted_and_recreated_lease_does_not_hand_out_an_old_token() -> None:
    _, lease, plan = step(lock(), None, min_token=7)
    assert plan.tenure is not None
    assert plan.tenure.token == 7
    assert lease is not None
    assert lease.observation.record.transitions == 7


def test_an_expiry_reached_while_waiting_is_expired_not_invalid() -> None:
    other = LeaseView(Observation(LeaseRecord("worker", 15, stamp(WALL), stamp(WALL), 2), "3", NOW), {})
    waiting, _, plan = step(lock(ttl=None, expires_at=format_time(WALL + 10)), other)
    assert plan.phase == "Pending"
    assert plan.requeue_after == 10 - (WALL - int(WALL))  # woken when its own time is up, before the Lease
    later = dataclasses.replace(
        other, observation=dataclasses.replace(other.observation, observed_at=NOW + 10)
    )
    _, _, expired = step(waiting, later, wall=WALL + 10, now=NOW + 10)
    assert expired.phase == "Expired"
    assert expired.write is None
    assert not expired.problems  # no Warning: it waited, its spec was fine
