"""Who is a member, and the role annotations: property-tested. A pod is a member exactly when both
annotations say so and the policy exists, and is told why otherwise; role patches touch members only,
demote before they promote, never show two leaders at any step, and once applied ask for nothing."""

from __future__ import annotations

import msgspec
from hypothesis import given
from hypothesis import strategies as st

from tests.unit.director.builders import make_pod
from zen_lead.constants import ANNOTATION_JOIN, ANNOTATION_POOL, ANNOTATION_ROLE, ANNOTATION_TERM
from zen_lead.eligibility.selection import Selection, SelectionReason
from zen_lead.kube.structs import Pod
from zen_lead.pools.core.decision import Member, PoolPlan
from zen_lead.pools.core.membership import membership
from zen_lead.pools.core.status import LEADER, role_patches

POOLS = ["db", "Db", "db_pool", "", "web.pool", "x" * 254]
JOINS = [None, "true", "True", "yes", "1", ""]


def annotated(pod: Pod, annotations: dict[str, str]) -> Pod:
    meta = msgspec.structs.replace(pod.metadata, annotations=annotations)
    return msgspec.structs.replace(pod, metadata=meta)


@given(st.sampled_from([None, *POOLS]), st.sampled_from(JOINS), st.sets(st.sampled_from(POOLS)))
def test_a_pod_is_a_member_exactly_when_both_annotations_say_so_and_the_policy_exists(
    pool: str | None, join: str | None, policies: set[str]
) -> None:
    annotations = {k: v for k, v in ((ANNOTATION_POOL, pool), (ANNOTATION_JOIN, join)) if v is not None}
    found = membership(annotated(make_pod(), annotations), policies)
    valid_name = pool in ("db", "web.pool")
    assert found.member == (valid_name and join == "true" and pool in policies)
    assert found.pool == pool
    # told why exactly when it names a pool and is not a member; the message names the annotation
    assert (found.problem is not None) == (pool is not None and not found.member)
    if found.problem is not None:
        assert ANNOTATION_POOL in found.problem or "LeaderPolicy" in found.problem


ROLES = st.sampled_from([None, "leader", "follower"])
TERMS = st.sampled_from([None, "1", "2", "7"])


@st.composite
def pools(draw: st.DrawFn) -> tuple[list[Member], PoolPlan]:
    count = draw(st.integers(0, 4))
    members, leaders = [], 0
    for i in range(count):
        role = draw(ROLES)
        if role == LEADER:
            if leaders:  # the state before: at most one pod says leader
                role = "follower"
            leaders += 1
        annotations = {k: v for k, v in ((ANNOTATION_ROLE, role), (ANNOTATION_TERM, draw(TERMS))) if v}
        members.append(Member(annotated(make_pod(f"p-{i}"), annotations), campaigns=False))
    leader = draw(st.none() | st.sampled_from(members)) if members else None
    selection = Selection(
        leader.pod if leader else None, SelectionReason.ELECTED, None, len(members), None, ()
    )
    term = draw(st.none() | st.integers(1, 9))
    plan = PoolPlan(
        leader=leader, term=term, selection=selection, lease=None, create=False, requeue_after=None
    )
    return members, plan


def apply(members: list[Member], patch_pod: str, annotations: dict[str, str | None]) -> list[Member]:
    out = []
    for m in members:
        if m.pod.metadata.name == patch_pod:
            merged = {**m.pod.metadata.annotations, **annotations}
            m = Member(annotated(m.pod, {k: v for k, v in merged.items() if v is not None}), m.campaigns)
        out.append(m)
    return out


@given(pools(), st.booleans())
def test_role_patches_never_show_two_leaders_and_converge(
    pool: tuple[list[Member], PoolPlan], enabled: bool
) -> None:
    members, plan = pool
    patches = role_patches(plan, members=members, enabled=enabled)
    names = {m.pod.metadata.name for m in members}
    assert all(p.pod in names for p in patches)
    assert len({p.pod for p in patches}) == len(patches)
    state = members
    for patch in patches:  # any prefix of the writes: at most one pod says leader
        state = apply(state, patch.pod, patch.annotations)
        assert sum(m.pod.metadata.annotations.get(ANNOTATION_ROLE) == LEADER for m in state) <= 1
    assert role_patches(plan, members=state, enabled=enabled) == []
    for m in state:
        role = m.pod.metadata.annotations.get(ANNOTATION_ROLE)
        if not enabled:
            assert role is None
            assert ANNOTATION_TERM not in m.pod.metadata.annotations
        elif plan.leader is not None and m.pod.metadata.uid == plan.leader.pod.metadata.uid:
            assert role == LEADER
        else:
            assert role == "follower"
