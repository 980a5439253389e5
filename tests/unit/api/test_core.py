"""The status API's pure core: request rules, leader states and lock decisions, property-tested."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from zen_lead.api.core import validate
from zen_lead.api.core.access import Operation, leader_attributes, lock_attributes, service_account_namespace
from zen_lead.api.core.leaders import Kind, Target, lease_holder_state, pool_state, with_freshness
from zen_lead.api.core.locks import Retry, Write, check_tenure, plan_take
from zen_lead.api.core.validate import Invalid
from zen_lead.constants import ANNOTATION_HELD_BY
from zen_lead.election.record import LeaseRecord, Observation
from zen_lead.kube.structs import Lease, LeaseSpec, ObjectMeta

TARGET = Target(Kind.LEASE, "ns", "job")
POOL = Target(Kind.POOL, "ns", "db")


def _lease(
    holder: str, transitions: int, duration: int = 10, annotations: dict[str, str] | None = None
) -> Lease:
    return Lease(
        metadata=ObjectMeta(name="job", namespace="ns", resource_version="7", annotations=annotations or {}),
        spec=LeaseSpec(
            holder_identity=holder, lease_duration_seconds=duration, lease_transitions=transitions
        ),
    )


def _observed(lease: Lease, at: float) -> Observation:
    spec = lease.spec
    record = LeaseRecord(
        holder=spec.holder_identity or "",
        lease_duration_seconds=spec.lease_duration_seconds or 0,
        transitions=spec.lease_transitions or 0,
    )
    return Observation(record=record, resource_version="7", observed_at=at)


# ---- request rules -------------------------------------------------------------------------------
@given(st.integers(min_value=-(2**40), max_value=2**40))
def test_ttl_accepts_exactly_its_range(value: int) -> None:
    if validate.TTL_MIN <= value <= validate.TTL_MAX:
        assert validate.ttl("ttlSeconds", value) == value
    else:
        with pytest.raises(Invalid) as refused:
            validate.ttl("ttlSeconds", value)
        assert refused.value.field == "ttlSeconds"
        assert "2 to 3600" in refused.value.rule


@pytest.mark.parametrize("value", [True, 3.0, "30", None])
def test_ttl_refuses_other_types(value: object) -> None:
    with pytest.raises(Invalid):
        validate.ttl("ttlSeconds", value)


@given(st.text(max_size=80))
def test_dns_label_rule(text: str) -> None:
    import re

    valid = len(text) <= 63 and re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", text) is not None
    if valid:
        assert validate.dns_label("name", text) == text
    else:
        with pytest.raises(Invalid, match="DNS-1123 label"):
            validate.dns_label("name", text)


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_wait_is_finite_and_bounded(value: float) -> None:
    ok = value == value and 0 <= value <= validate.WAIT_MAX
    if ok:
        assert validate.wait("waitSeconds", value) == value
    else:
        with pytest.raises(Invalid):
            validate.wait("waitSeconds", value)


def test_heartbeat_zero_is_the_default() -> None:
    assert validate.heartbeat("h", 0) == validate.HEARTBEAT_DEFAULT
    with pytest.raises(Invalid):
        validate.heartbeat("h", 0.5)


# ---- access --------------------------------------------------------------------------------------
@given(st.sampled_from(list(Kind)), st.sampled_from([Operation.GET, Operation.WATCH, Operation.LIST]))
def test_leader_attributes_are_fixed_by_kind_and_operation(kind: Kind, operation: Operation) -> None:
    attributes = leader_attributes(operation, kind, "ns", "x")
    assert attributes.verb == operation.value
    assert (attributes.group, attributes.resource) == {
        Kind.POOL: ("coordination.kube-zen.io", "leaderpolicies"),
        Kind.SERVICE: ("", "services"),
        Kind.LEASE: ("coordination.k8s.io", "leases"),
    }[kind]


def test_lock_attributes() -> None:
    assert lock_attributes(Operation.LOCK_GET, "ns", "a").verb == "get"
    write = lock_attributes(Operation.LOCK_WRITE, "ns", "a")
    assert (write.verb, write.group, write.resource) == ("update", "coordination.kube-zen.io", "locks")


@pytest.mark.parametrize(
    ("user", "namespace"),
    [("system:serviceaccount:team:app", "team"), ("alice", None), ("system:serviceaccount::x", None)],
)
def test_service_account_namespace(user: str, namespace: str | None) -> None:
    assert service_account_namespace(user) == namespace


# ---- leader states -------------------------------------------------------------------------------
@given(st.integers(min_value=1, max_value=100), st.floats(min_value=0, max_value=200))
def test_a_silent_holder_expires_by_our_own_observation_only(duration: int, elapsed: float) -> None:
    lease = _lease("a", 3, duration)
    state = lease_holder_state(
        TARGET, lease, _observed(lease, 1000.0), now=1000.0 + elapsed, pods=lambda _: None
    )
    if elapsed >= duration:
        assert (state.hasLeader, state.noLeaderReason) == (False, "expired")
    else:
        assert state.hasLeader
        assert state.leader is not None
        assert state.leader.identity == "a"
    assert state.term == 3


def test_released_and_missing_leases_say_so() -> None:
    assert lease_holder_state(TARGET, None, None, now=0, pods=lambda _: None).noLeaderReason == "not found"
    released = lease_holder_state(TARGET, _lease("", 5), None, now=0, pods=lambda _: None)
    assert (released.exists, released.hasLeader, released.noLeaderReason, released.term) == (
        True,
        False,
        "released",
        5,
    )


@given(st.floats(min_value=0, max_value=1000))
def test_a_pool_lease_the_controller_holds_never_expires(elapsed: float) -> None:
    lease = _lease("db-0", 2, 5, {ANNOTATION_HELD_BY: "db-0#2"})
    state = pool_state(
        POOL,
        policy_exists=True,
        lease=lease,
        observation=_observed(lease, 0.0),
        now=elapsed,
        pods=lambda _: None,
    )
    assert state.hasLeader
    assert state.term == 2


@given(st.floats(min_value=0, max_value=100), st.floats(min_value=0.1, max_value=50))
def test_freshness_marks_stale_only_past_the_bound(cut_off: float, bound: float) -> None:
    state = lease_holder_state(TARGET, None, None, now=0, pods=lambda _: None)
    served = with_freshness(state, stale_seconds=cut_off, bound=bound, served_by="r")
    assert served.stale == (cut_off > bound)
    assert served.same_as(state) == (not served.stale)  # staleness is a change a watcher is told of


# ---- locks ---------------------------------------------------------------------------------------
@given(st.integers(min_value=0, max_value=10**6), st.floats(min_value=0, max_value=100))
def test_taking_a_held_lock_waits_for_its_expiry_then_raises_the_token(
    transitions: int, elapsed: float
) -> None:
    lease = _lease("other", transitions, 10)
    plan = plan_take(_observed(lease, 0.0), "", holder="me", owner="u", ttl=5, now=elapsed, timestamp="t")
    if elapsed < 10:
        assert isinstance(plan, Retry)
        assert plan.holder == "other"
        assert plan.until == 10
    else:
        assert isinstance(plan, Write)
        assert plan.record.transitions == transitions + 1
        assert plan.record.holder == "me"
        assert plan.resource_version == "7"
        assert plan.owner == "u"


def test_the_same_holder_and_owner_get_their_tenure_back() -> None:
    lease = _lease("me", 4, 10)
    plan = plan_take(_observed(lease, 0.0), "u", holder="me", owner="u", ttl=10, now=1, timestamp="t")
    assert isinstance(plan, Write)
    assert plan.record.transitions == 4
    other_owner = plan_take(_observed(lease, 0.0), "v", holder="me", owner="u", ttl=10, now=1, timestamp="t")
    assert isinstance(other_owner, Retry)


def test_no_lease_is_created() -> None:
    plan = plan_take(None, "", holder="me", owner="u", ttl=10, now=0, timestamp="t")
    assert isinstance(plan, Write)
    assert plan.resource_version is None


@given(st.integers(min_value=0, max_value=100), st.integers(min_value=0, max_value=100))
def test_tenure_checks_name_what_is_wrong(current: int, given_token: int) -> None:
    record = LeaseRecord(holder="me", lease_duration_seconds=10, transitions=current)
    refusal = check_tenure(record, "u", name="job", holder="me", token=given_token, owner="u")
    if current == given_token:
        assert refusal is None
    else:
        assert refusal is not None
        assert refusal.reason == "TokenMismatch"
        assert f"token {given_token} is not lock job's current token {current}" in refusal.message
    holder = check_tenure(record, "u", name="job", holder="you", token=current, owner="u")
    assert holder is not None
    assert holder.reason == "NotHolder"
    owner = check_tenure(record, "u", name="job", holder="me", token=current, owner="v")
    assert owner is not None
    assert owner.reason == "NotOwner"
    assert check_tenure(None, "", name="job", holder="me", token=0, owner="u").reason == "NotFound"  # type: ignore[union-attr]


@given(
    st.sampled_from(["me", "you"]),
    st.sampled_from(["", "u", "v"]),
    st.sampled_from(["me", "you"]),
    st.floats(min_value=0, max_value=9.9),
)
def test_an_unexpired_tenure_is_never_taken_over(
    holder: str, owner_of_record: str, asker: str, elapsed: float
) -> None:
    lease = _lease(holder, 3, 10)
    plan = plan_take(
        _observed(lease, 0.0), owner_of_record, holder=asker, owner="u", ttl=5, now=elapsed, timestamp="t"
    )
    if (holder, owner_of_record) == (asker, "u"):
        assert isinstance(plan, Write)
        assert plan.record.transitions == 3
    else:
        assert isinstance(plan, Retry)
