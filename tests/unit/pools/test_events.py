"""The Events of a leader change say why, truthfully: a pool whose leader is lost while members are
eligible (the best one campaigns and takes the Lease itself) is not told "none is eligible"."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tests.unit.pools.test_decision import LAST_TERMS, NAMES, SPECS, leases, members, plan
from zen_lead.kube.structs import LeaderPolicy, LeaderPolicySpec, LeaderPolicyStatus, ObjectMeta, PolicyLeader
from zen_lead.pools.core.decision import LeaseView, Member
from zen_lead.pools.core.status import pool_events


@given(
    spec=SPECS,
    pool=members(),
    lease=leases(),
    last=LAST_TERMS,
    was=st.sampled_from(NAMES),
)
def test_a_lost_leader_event_names_the_nominee_or_says_none_is_eligible_only_when_true(
    spec: LeaderPolicySpec, pool: list[Member], lease: LeaseView | None, last: int | None, was: str
) -> None:
    policy = LeaderPolicy(
        metadata=ObjectMeta(name="pool"),
        spec=spec,
        status=LeaderPolicyStatus(leader=PolicyLeader(pod=was, uid=f"uid-{was}-old")),
    )
    decided = plan(spec, pool, lease, last)
    for event in pool_events(policy, decided, members=pool):
        if event.reason != "LeaderLost":
            continue
        if decided.selection.eligible_count:
            assert decided.selection.leader is not None
            assert "none of" not in event.message, event.message
            assert f"{decided.selection.leader.metadata.name} is nominated" in event.message
        elif pool:
            assert "none of" in event.message, event.message
