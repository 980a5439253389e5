"""What a pool's plan means for users: the policy's status, its Events, and the member pods' role
annotations — all pure, compared with what is there so that nothing is written when nothing changed.

Role annotations (``zen-lead/role``: ``leader`` | ``follower``, and ``zen-lead/term``) are a hint for
the application and for humans; the Lease is authoritative, and a reader that acts compares terms. The
patches are ordered so that two pods never both say ``leader`` for one term: demotions first, then
followers, the promotion last. With ``roleAnnotations: false`` no pod is written — but a pod still
carrying annotations from before is cleared once (a stale ``leader`` would lie).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from zen_lead.constants import ANNOTATION_ROLE, ANNOTATION_TERM
from zen_lead.kube.structs import Condition, LeaderPolicy, LeaderPolicyStatus
from zen_lead.kube.times import format_time
from zen_lead.pools.core.decision import Member, PoolPlan

LEADER, FOLLOWER = "leader", "follower"
LEADER_ELECTED = "LeaderElected"
NO_ELIGIBLE_CANDIDATE = "NoEligibleCandidate"


@dataclass(frozen=True, slots=True)
class PoolEvent:
    type: str  # Normal | Warning
    reason: str
    message: str


@dataclass(frozen=True, slots=True)
class RolePatch:
    pod: str
    annotations: dict[str, str | None]  # None: remove


def pool_status(
    policy: LeaderPolicy,
    plan: PoolPlan,
    *,
    members: Sequence[Member],
    since: str | None,
    now: float,
    extra: Sequence[Condition] = (),
) -> dict[str, Any]:
    """The status to write (as JSON); ``since``: when the leader's tenure began (the Lease's
    acquireTime); ``extra``: more conditions (scaleDown, coordinated election) in their final form."""
    leader = plan.leader
    status: dict[str, Any] = {
        "observedGeneration": policy.metadata.generation,
        "members": {"total": len(members), "eligible": plan.selection.eligible_count},
    }
    if plan.term is not None:
        status["term"] = plan.term
    if leader is not None:
        pod = leader.pod
        entry: dict[str, Any] = {
            "pod": pod.metadata.name,
            "uid": pod.metadata.uid,
            "campaigns": leader.campaigns,
        }
        if pod.status.pod_ip:
            entry["podIP"] = pod.status.pod_ip
        if pod.spec.node_name:
            entry["nodeName"] = pod.spec.node_name
        if since:
            entry["since"] = since
        status["leader"] = entry
    else:
        status["leader"] = None
    conditions = [*leadership_conditions(plan, members=members), *extra]
    status["conditions"] = [
        _with_times(c, policy.status, policy.metadata.generation, now) for c in conditions
    ]
    return status


def leadership_conditions(plan: PoolPlan, *, members: Sequence[Member]) -> list[Condition]:
    leader, selection = plan.leader, plan.selection
    if leader is not None:
        how = "holds the Lease itself" if leader.campaigns else "is held for by zen-lead"
        elected = Condition(
            type=LEADER_ELECTED,
            status="True",
            reason="Campaigned" if leader.campaigns else "Elected",
            message=f"pod {leader.pod.metadata.name} leads (term {plan.term}); it {how}",
        )
    elif selection.leader is not None:  # the best member campaigns: it takes the Lease itself
        elected = Condition(
            type=LEADER_ELECTED,
            status="False",
            reason="WaitingForCandidate",
            message=f"pod {selection.leader.metadata.name} is nominated and campaigns for the Lease itself",
        )
    else:
        elected = Condition(
            type=LEADER_ELECTED, status="False", reason=NO_ELIGIBLE_CANDIDATE, message="no leader"
        )
    if selection.eligible_count:
        none = Condition(type=NO_ELIGIBLE_CANDIDATE, status="False", reason="Eligible", message="")
    else:
        none = Condition(
            type=NO_ELIGIBLE_CANDIDATE,
            status="True",
            reason=_why_none(plan, members),
            message=_summary(plan, members),
        )
    return [elected, none]


def pool_events(policy: LeaderPolicy, plan: PoolPlan, *, members: Sequence[Member]) -> list[PoolEvent]:
    """The edge-triggered Events of a leader change, against the status the policy shows."""
    before = policy.status.leader
    leader = plan.leader
    name = policy.metadata.name
    was = before.pod if before is not None and before.pod else None
    now_leads = leader.pod.metadata.name if leader is not None else None
    same = leader is not None and before is not None and before.uid == leader.pod.metadata.uid
    if same or (was is None and now_leads is None):
        return []
    why = (
        f": {was} is {plan.selection.previous_ineligibility}"
        if was and plan.selection.previous_ineligibility
        else ""
    )
    if now_leads is not None:
        eligible = f"{plan.selection.eligible_count} of {len(members)} members eligible"
        message = f"pod {now_leads} leads pool {name} (term {plan.term}, {eligible})"
        return [
            PoolEvent("Normal", LEADER_ELECTED, message + (f"; previous leader {was}{why}" if was else ""))
        ]
    message = f"pod {was} no longer leads pool {name}{why}; {_summary(plan, members)}"
    return [PoolEvent("Warning", "LeaderLost", message)]


def role_patches(plan: PoolPlan, *, members: Sequence[Member], enabled: bool) -> list[RolePatch]:
    """The member pods whose role annotations differ from what they must say, demotions first."""
    leader = plan.leader.pod.metadata.uid if plan.leader is not None else None
    demote, keep, promote = [], [], []
    for member in members:
        pod = member.pod
        current = pod.metadata.annotations
        if enabled:
            role = LEADER if pod.metadata.uid == leader else FOLLOWER
            wanted: dict[str, str | None] = {ANNOTATION_ROLE: role, ANNOTATION_TERM: _term_text(plan.term)}
        else:
            wanted = {ANNOTATION_ROLE: None, ANNOTATION_TERM: None}
        if all(current.get(k) == v for k, v in wanted.items()):
            continue
        patch = RolePatch(pod.metadata.name, wanted)
        if wanted[ANNOTATION_ROLE] == LEADER:
            promote.append(patch)
        elif current.get(ANNOTATION_ROLE) == LEADER:
            demote.append(patch)
        else:
            keep.append(patch)
    return [*demote, *keep, *promote]


def _term_text(term: int | None) -> str | None:
    return None if term is None else str(term)


def _why_none(plan: PoolPlan, members: Sequence[Member]) -> str:
    return "NoMembers" if not members else "NoneEligible"


def _summary(plan: PoolPlan, members: Sequence[Member]) -> str:
    if not members:
        return 'no pod has joined the pool (zen-lead/pool: <name> and zen-lead/join: "true")'
    nominee = plan.selection.leader
    if nominee is not None:  # eligible, but campaigns: the Lease is released to it, it takes it itself
        return (
            f"{nominee.metadata.name} is nominated ({plan.selection.eligible_count} of {len(members)} "
            "members eligible) and takes the Lease at its next try: it campaigns itself"
        )
    counts: dict[str, int] = {}
    for _, reason in plan.selection.ineligible:
        counts[str(reason)] = counts.get(str(reason), 0) + 1
    detail = ", ".join(f"{n} {reason}" for reason, n in sorted(counts.items()))
    return f"none of {len(members)} members is eligible ({detail})"


def _with_times(
    condition: Condition, previous: LeaderPolicyStatus, generation: int, now: float
) -> dict[str, Any]:
    """As JSON, keeping the previous lastTransitionTime while the status stays the same."""
    before: Mapping[str, Condition] = {c.type: c for c in previous.conditions}
    old = before.get(condition.type)
    moment = old.last_transition_time if old is not None and old.status == condition.status else None
    return {
        "type": condition.type,
        "status": condition.status,
        "reason": condition.reason,
        "message": condition.message,
        "observedGeneration": generation,
        "lastTransitionTime": moment or format_time(now),
    }
