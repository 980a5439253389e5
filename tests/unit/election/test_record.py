"""Properties of the pure core: time format, timing validation, the acquire/renew/release decisions."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from zen_lead.election.record import (
    Create,
    FencingToken,
    LeaseRecord,
    Observation,
    Timing,
    Update,
    Wait,
    expired_by_wall_clock,
    jittered,
    leader_deadline,
    next_try_at,
    observe,
    plan_acquire,
    released,
    renewed,
    still_ours,
    supersedes,
    timing_problems,
)
from zen_lead.kube.times import format_microtime

identities = st.text(alphabet="abcdefghij-_0123456789", min_size=1, max_size=12)
mono = st.floats(min_value=0, max_value=1e7, allow_nan=False)
durations = st.integers(min_value=1, max_value=3600)
records = st.builds(
    LeaseRecord,
    holder=st.one_of(st.just(""), identities),
    lease_duration_seconds=st.integers(min_value=0, max_value=3600),
    acquire_time=st.none() | st.just("2024-01-01T00:00:00.000000Z"),
    renew_time=st.none() | st.just("2024-01-01T00:00:01.000000Z"),
    transitions=st.integers(min_value=0, max_value=2**31 - 2),
)
TS = "2024-05-06T07:08:09.000000Z"


# ---- timing ---------------------------------------------------------------------------------------
def test_defaults_are_client_gos() -> None:
    timing = Timing()
    assert (timing.lease_duration, timing.renew_deadline, timing.retry_period, timing.jitter_factor) == (
        15.0,
        10.0,
        2.0,
        1.2,
    )
    assert timing.lease_duration_seconds == 15
    assert 0 < timing.call_timeout < timing.renew_deadline


positive = st.floats(min_value=0.01, max_value=100, allow_nan=False)


@given(ld=st.integers(1, 100).map(float) | positive, rd=positive, rp=positive, jf=st.floats(0, 3))
def test_timing_is_valid_exactly_when_client_go_would_accept_it(
    ld: float, rd: float, rp: float, jf: float
) -> None:
    valid = ld > rd > jf * rp and ld == int(ld)
    if valid:
        Timing(lease_duration=ld, renew_deadline=rd, retry_period=rp, jitter_factor=jf)
    else:
        with pytest.raises(ValueError, match="invalid leader-election timing"):
            Timing(lease_duration=ld, renew_deadline=rd, retry_period=rp, jitter_factor=jf)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"lease_duration": 10, "renew_deadline": 10},
            r"lease_duration \(10s\) must be greater than renew_deadline",
        ),
        (
            {"renew_deadline": 2, "retry_period": 2},
            r"renew_deadline \(2s\) must be greater than jitter_factor x retry_period \(1.2 x 2s = 2.4s\)",
        ),
        ({"retry_period": 0}, r"retry_period must be greater than zero \(got 0\)"),
        ({"lease_duration": -1}, r"lease_duration must be greater than zero"),
        ({"renew_deadline": math.nan}, r"renew_deadline must be greater than zero \(got nan\)"),
        ({"lease_duration": 4.5, "renew_deadline": 3}, r"whole number of seconds \(got 4.5\)"),
        ({"api_timeout": 10}, r"api_timeout \(10s\) must be greater than zero and below renew_deadline"),
    ],
)
def test_timing_errors_name_the_rule_and_the_values(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Timing(**kwargs)


def test_all_problems_are_reported_at_once() -> None:
    timing = _unchecked(lease_duration=3.5, renew_deadline=4, retry_period=4, jitter_factor=1.2)
    problems = timing_problems(timing)
    assert len(problems) == 3, problems  # not whole seconds, LD <= RD, RD <= 1.2 x RP


def _unchecked(**kwargs: float) -> Timing:
    """A Timing that skipped validation, to feed ``timing_problems`` directly."""
    timing = object.__new__(Timing)
    for key, value in {"api_timeout": None, **kwargs}.items():
        object.__setattr__(timing, key, value)
    return timing


@given(st.floats(min_value=1, max_value=86400, allow_nan=False))
def test_lock_timing_for_any_ttl_is_valid_and_covers_the_ttl(ttl: float) -> None:
    timing = Timing.for_ttl(ttl)
    assert timing.lease_duration_seconds >= ttl
    assert timing.renew_deadline < timing.lease_duration


@given(period=positive, factor=st.floats(0, 3), rand=st.floats(0, 1, exclude_max=True))
def test_jitter_stays_within_client_gos_range(period: float, factor: float, rand: float) -> None:
    assert period <= jittered(period, factor, rand) <= period * (1 + factor)


# ---- observation ----------------------------------------------------------------------------------
@given(records, records, mono, mono)
def test_observed_time_restarts_only_when_the_record_changes(
    first: LeaseRecord, second: LeaseRecord, t1: float, t2: float
) -> None:
    before = observe(None, first, "1", t1)
    after = observe(before, second, "2", max(t1, t2))
    assert after.resource_version == "2"
    assert after.observed_at == (t1 if first == second else max(t1, t2))


# ---- acquire --------------------------------------------------------------------------------------
@given(record=records, me=identities, observed_at=mono, elapsed=st.floats(0, 7200, allow_nan=False))
def test_never_takes_a_lease_held_by_someone_else_before_it_expired_on_our_clock(
    record: LeaseRecord, me: str, observed_at: float, elapsed: float
) -> None:
    observation = Observation(record, "7", observed_at)
    now = observed_at + elapsed
    plan = plan_acquire(observation, identity=me, lease_duration_seconds=4, now=now, timestamp=TS)
    foreign = record.held and record.holder != me
    if foreign and elapsed < record.lease_duration_seconds:
        assert plan == Wait(holder=record.holder, until=observed_at + record.lease_duration_seconds)
    else:
        assert isinstance(plan, Update)
        assert plan.resource_version == "7"  # conditional on exactly what we decided on
        assert plan.record.holder == me
        assert plan.record.transitions == record.transitions + 1  # every tenure is a new token
        assert plan.record.acquire_time == plan.record.renew_time == TS
        assert plan.record.lease_duration_seconds == 4


@given(me=identities, floor=st.integers(0, 1000))
def test_a_missing_lease_is_created_without_reusing_tokens_we_have_seen(me: str, floor: int) -> None:
    plan = plan_acquire(
        None, identity=me, lease_duration_seconds=15, now=0.0, timestamp=TS, min_transitions=floor
    )
    assert plan == Create(LeaseRecord(me, 15, TS, TS, floor))


@given(record=records, me=identities, floor=st.integers(0, 2**31 - 1))
def test_tokens_never_go_below_the_floor(record: LeaseRecord, me: str, floor: int) -> None:
    plan = plan_acquire(
        Observation(record, "1", 0.0),
        identity=me,
        lease_duration_seconds=4,
        now=1e9,
        timestamp=TS,
        min_transitions=floor,
    )
    assert isinstance(plan, Update)
    assert plan.record.transitions >= floor
    assert plan.record.transitions > record.transitions


def test_a_released_lease_is_taken_at_once() -> None:
    record = released(LeaseRecord("old", 15, TS, TS, 3), timestamp=TS)
    plan = plan_acquire(
        Observation(record, "9", 100.0), identity="me", lease_duration_seconds=15, now=100.0, timestamp=TS
    )
    assert isinstance(plan, Update)
    assert plan.record.transitions == 4


def test_empty_identity_is_refused() -> None:
    with pytest.raises(ValueError, match="identity"):
        plan_acquire(None, identity="", lease_duration_seconds=4, now=0, timestamp=TS)


# ---- renew / release / fencing -------------------------------------------------------------------
@given(records)
def test_renewal_changes_only_the_renew_time_and_duration(record: LeaseRecord) -> None:
    out = renewed(record, lease_duration_seconds=9, timestamp="2030-01-01T00:00:00.000000Z")
    assert (out.holder, out.acquire_time, out.transitions) == (
        record.holder,
        record.acquire_time,
        record.transitions,
    )
    assert (out.renew_time, out.lease_duration_seconds) == ("2030-01-01T00:00:00.000000Z", 9)


@given(records)
def test_release_writes_what_client_go_writes(record: LeaseRecord) -> None:
    out = released(record, timestamp=TS)
    assert out == LeaseRecord(
        holder="", lease_duration_seconds=1, acquire_time=TS, renew_time=TS, transitions=record.transitions
    )
    assert not out.held


def test_the_deadline_is_renew_deadline_after_the_start_it_is_given() -> None:
    """Only the arithmetic; that the elector passes the START of each renewal (and why that keeps the
    step-down ahead of any takeover) is tested where the deadline is computed, on the real apiserver:
    tests/cluster/election/test_deadline.py, and against the stored Lease in test_outage.py."""
    assert leader_deadline(100.0, Timing(lease_duration=4, renew_deadline=3, retry_period=0.5)) == 103.0
    assert leader_deadline(0.0, Timing()) == 10.0


@given(record=records, me=identities, mine=st.integers(0, 2**31 - 1))
def test_ownership_and_supersession(record: LeaseRecord, me: str, mine: int) -> None:
    assert still_ours(record, identity=me, transitions=mine) == (
        record.holder == me and record.transitions == mine
    )
    assert supersedes(record, transitions=mine) == (record.transitions > mine)
    assert not still_ours(None, identity=me, transitions=mine)


@given(st.integers(0, 10**6), st.integers(0, 10**6))
def test_fencing_tokens_order_by_transitions_within_one_lease(a: int, b: int) -> None:
    ta, tb = FencingToken("ns", "lease", a), FencingToken("ns", "lease", b)
    assert (ta < tb) == (a < b)
    assert (ta <= tb) == (a <= b)
    assert (ta > tb) == (a > b)
    assert (ta >= tb) == (a >= b)
    assert (ta == tb) == (a == b)
    assert str(ta) == f"ns/lease#{a}"


def test_fencing_tokens_of_different_leases_do_not_compare() -> None:
    with pytest.raises(ValueError, match="different leases"):
        assert FencingToken("ns", "a", 1) < FencingToken("ns", "b", 2)
    with pytest.raises(TypeError):
        assert FencingToken("ns", "a", 1) < 2


@given(record=records, observed_at=mono, now_offset=st.floats(0, 100, allow_nan=False), delay=positive)
def test_next_try_is_never_later_than_the_delay_nor_in_the_past(
    record: LeaseRecord, observed_at: float, now_offset: float, delay: float
) -> None:
    now = observed_at + now_offset
    at = next_try_at(Observation(record, "1", observed_at), now=now, delay=delay)
    assert now <= at <= now + delay
    if record.held and observed_at + record.lease_duration_seconds > now:
        assert at == min(now + delay, observed_at + record.lease_duration_seconds)


@given(record=records, observed_at=mono, now_offset=st.floats(0, 100, allow_nan=False), delay=positive)
def test_after_a_try_that_could_not_reach_the_api_the_next_is_a_full_delay_away(
    record: LeaseRecord, observed_at: float, now_offset: float, delay: float
) -> None:
    """An observation of a lease that ran out long ago must not make a failing candidate retry at once
    (it did: an elector whose apiserver was gone spun at 100 % CPU, logging each refused connection)."""
    now = observed_at + now_offset
    for observation in (Observation(record, "1", observed_at), None):
        assert next_try_at(observation, now=now, delay=delay, failed=True) == now + delay


# ---- wall-clock heuristic (query helpers only) ----------------------------------------------------
@given(
    seconds_since_renew=st.floats(-100, 100, allow_nan=False),
    ld=st.integers(1, 60),
)
def test_wall_clock_expiry(seconds_since_renew: float, ld: int) -> None:
    renewed_at = datetime(2024, 1, 1, tzinfo=UTC)
    record = LeaseRecord("x", ld, TS, format_microtime(renewed_at), 0)
    now = renewed_at + timedelta(seconds=seconds_since_renew)
    assume(abs(seconds_since_renew - ld) > 1e-3)
    assert expired_by_wall_clock(record, now) == (seconds_since_renew > ld)


def test_wall_clock_expiry_edge_cases() -> None:
    now = datetime(2024, 1, 1, tzinfo=UTC)
    assert expired_by_wall_clock(LeaseRecord("", 15, TS, TS, 0), now)  # released
    assert not expired_by_wall_clock(LeaseRecord("x", 15, None, None, 0), now)  # cannot judge
    assert not expired_by_wall_clock(LeaseRecord("x", 15, None, "garbage", 0), now)
