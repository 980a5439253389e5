"""The plan of one pool, property-tested: the term never goes back, a campaigner's live tenure is never
written over, the leader is eligible, no eligible member means no holder, and a plan carried out asks
for no further write (a quiet pool is quiet)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.director.builders import NOW, make_pod
from zen_lead.election.record import LeaseRecord
from zen_lead.eligibility.addresses import FAMILIES
from zen_lead.eligibility.selection import Ineligibility, ineligibility
from zen_lead.kube.structs import LeaderPolicySpec, Pod
from zen_lead.kube.times import format_microtime
from zen_lead.pools.core.decision import DesiredLease, LeaseView, Member, PoolPlan, held_for, plan_pool

NAMES = tuple(f"p-{i}" for i in range(4))
STAMP = format_microtime(datetime.fromtimestamp(NOW, UTC))


@st.composite
def members(draw: st.DrawFn) -> list[Member]:
    names = draw(st.lists(st.sampled_from(NAMES), unique=True, max_size=len(NAMES)))
    found = []
    for name in names:
        pod = make_pod(
            name,
            uid=draw(st.sampled_from([f"uid-{name}", f"uid-{name}-new"])),
            ready=draw(st.booleans()),
            ready_at=NOW - draw(st.integers(0, 50)),
            terminating=draw(st.booleans()),
        )
        found.append(Member(pod, campaigns=draw(st.booleans())))
    return found


@st.composite
def leases(draw: st.DrawFn) -> LeaseView | None:
    if draw(st.booleans()):
        return None
    holder = draw(st.sampled_from(["", "gone", *NAMES]))
    transitions = draw(st.integers(0, 20))
    duration = draw(st.sampled_from([1, 15]))
    record = LeaseRecord(holder, duration, STAMP, STAMP, transitions)
    ours = held_for(holder, transitions) if holder else None
    return LeaseView(
        record=record,
        resource_version="1",
        held_for=draw(st.sampled_from([ours, None, "someone#3"])),
        holder_uid=draw(st.sampled_from([f"uid-{holder}", f"uid-{holder}-new", None])),
        nominee=draw(st.sampled_from([None, *NAMES])),
        unchanged_for=draw(st.floats(0, 60)),
    )


SPECS = st.builds(
    LeaderPolicySpec,
    lease_duration_seconds=st.sampled_from([5, 15]),
    sticky=st.booleans(),
    min_ready_seconds=st.sampled_from([0, 30]),
)
LAST_TERMS = st.none() | st.integers(0, 25)


def plan(
    spec: LeaderPolicySpec,
    pool: list[Member],
    lease: LeaseView | None,
    last: int | None,
    last_leader: str | None = None,
) -> PoolPlan:
    return plan_pool(
        spec=spec,
        members=pool,
        lease=lease,
        last_term=last,
        last_leader=last_leader,
        now=NOW,
        timestamp=STAMP,
    )


def eligible(spec: LeaderPolicySpec, pod: Pod, *, incumbent: bool = False) -> bool:
    """The director's rules for a pool member (no selector, no ports, either family); the incumbent of
    a sticky pool is exempt from min-ready, as the director's leader is."""
    why = ineligibility(
        pod,
        selector=None,
        check_selector=False,
        service_ports=(),
        ip_families=FAMILIES,
        now=NOW,
        min_ready_seconds=float(spec.min_ready_seconds),
        exempt_min_ready=False,
    )
    return why is None or (incumbent and spec.sticky and why is Ineligibility.NOT_READY_LONG_ENOUGH)


def campaigner_live(lease: LeaseView | None) -> bool:
    return lease is not None and not lease.held_by_controller and lease.live()


def carried_out(lease: LeaseView | None, desired: DesiredLease | None) -> LeaseView | None:
    """The Lease once the plan's write has landed (seen by the controller just now)."""
    if desired is None:
        return lease
    # the controller's clock restarts only for a record that changed (annotations are not the record)
    same = lease is not None and lease.record == desired.record
    unchanged_for = lease.unchanged_for if same and lease is not None else 0.0
    return LeaseView(
        desired.record, "2", desired.held_for, desired.holder_uid, desired.nominee, unchanged_for
    )


@settings(max_examples=400)
@given(SPECS, members(), leases(), LAST_TERMS, st.none() | st.sampled_from(NAMES))
def test_the_term_never_goes_back(
    spec: LeaderPolicySpec,
    pool: list[Member],
    lease: LeaseView | None,
    last: int | None,
    last_leader: str | None,
) -> None:
    result = plan(spec, pool, lease, last, last_leader)
    known = [t for t in (lease.record.transitions if lease else None, last) if t is not None]
    if result.term is not None and known:
        assert result.term >= max(known)
    desired = result.lease
    if desired is not None and lease is not None:
        assert desired.record.transitions >= lease.record.transitions
    if desired is not None and desired.held_for is not None:
        new_tenure = (
            lease is None or desired.held_for != lease.held_for or desired.holder_uid != lease.holder_uid
        )
        if new_tenure:  # a tenure the controller begins has a term above every earlier one
            assert all(desired.record.transitions > t for t in known)


@settings(max_examples=400)
@given(SPECS, members(), leases(), LAST_TERMS)
def test_a_live_campaigners_tenure_is_never_written_over(
    spec: LeaderPolicySpec, pool: list[Member], lease: LeaseView | None, last: int | None
) -> None:
    result = plan(spec, pool, lease, last)
    if campaigner_live(lease):
        assert lease is not None
        assert result.leader is None or result.leader.pod.metadata.name == lease.record.holder
        if result.lease is not None:  # the nomination; the term only if the Lease was recreated below it
            same = dataclasses.replace(result.lease.record, transitions=lease.record.transitions)
            assert same == lease.record
            if result.lease.record.transitions != lease.record.transitions:
                assert last is not None
                assert lease.record.transitions <= last
                assert result.lease.record.transitions == last + 1


@settings(max_examples=400)
@given(SPECS, members(), leases(), LAST_TERMS)
def test_the_leader_the_controller_chooses_is_an_eligible_member(
    spec: LeaderPolicySpec, pool: list[Member], lease: LeaseView | None, last: int | None
) -> None:
    result = plan(spec, pool, lease, last)
    if result.leader is not None and not campaigner_live(lease):
        assert result.leader in pool
        held = lease is not None and lease.holder_uid == result.leader.pod.metadata.uid
        assert eligible(spec, result.leader.pod, incumbent=held)
        assert not result.leader.campaigns  # a campaigner is nominated, not held for

    def incumbent(m: Member) -> bool:
        return lease is not None and lease.holder_uid == m.pod.metadata.uid and lease.held_by_controller

    if not any(eligible(spec, m.pod, incumbent=incumbent(m)) for m in pool) and not campaigner_live(lease):
        assert result.leader is None
        if result.lease is not None:
            assert not result.lease.record.held  # fail-closed: the Lease held for nobody


@settings(max_examples=400)
@given(SPECS, members(), leases(), LAST_TERMS)
def test_a_plan_carried_out_asks_for_no_further_write(
    spec: LeaderPolicySpec, pool: list[Member], lease: LeaseView | None, last: int | None
) -> None:
    """Nothing changes but the controller's own writes: at most two writes (a handover to a campaigner
    is a release, then the nomination as the campaigner's min-ready wait is judged without the
    incumbency it lost), then none — no flip-flop, and a pool that is quiet is written nothing."""
    state, term, leader = lease, last, None
    writes = 0
    for _ in range(4):
        result = plan(spec, pool, state, term, leader)
        if result.lease is None:
            break
        writes += 1
        state = carried_out(state, result.lease)
        term = result.term if result.term is not None else term
        leader = result.leader.pod.metadata.name if result.leader is not None else None  # the status
    assert writes <= 2
    assert plan(spec, pool, state, term, leader).lease is None


@settings(max_examples=200)
@given(SPECS, members(), leases(), LAST_TERMS)
def test_a_controller_decided_tenure_is_written_once(
    spec: LeaderPolicySpec, pool: list[Member], lease: LeaseView | None, last: int | None
) -> None:
    """The critical path of a failover to a member that does not campaign is one write."""
    first = plan(spec, pool, lease, last)
    if first.lease is None or first.leader is None or campaigner_live(lease):
        return
    leader = first.leader.pod.metadata.name
    second = plan(spec, pool, carried_out(lease, first.lease), first.term, leader)
    assert second.lease is None
    assert second.leader is not None
    assert second.leader.pod.metadata.uid == first.leader.pod.metadata.uid
