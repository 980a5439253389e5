"""The pools controller's metrics. Labels: namespace and pool (a LeaderPolicy's name) at most, never a
pod's name; a deleted policy's series are removed."""

from __future__ import annotations

from collections.abc import Sequence

from prometheus_client import Counter, Gauge, Histogram

from zen_lead.kube.structs import LeaderPolicy
from zen_lead.observability.metrics import LATENCY_BUCKETS, LabelledSeries
from zen_lead.pools.core.decision import Member, PoolPlan

MEMBERS = Gauge(
    "zen_lead_pool_members",
    "Members of a pool, by role (leader, follower, ineligible).",
    ["namespace", "pool", "role"],
)
HAS_LEADER = Gauge("zen_lead_pool_has_leader", "1 while the pool has a leader.", ["namespace", "pool"])
TERM = Gauge("zen_lead_pool_term", "The pool's term (its Lease's leaseTransitions).", ["namespace", "pool"])
LEADER_CHANGES = Counter(
    "zen_lead_pool_leader_changes_total",
    "Leader changes of pools, by reason (the previous leader's ineligibility, or Elected).",
    ["namespace", "pool", "reason"],
)
FAILOVER_LATENCY = Histogram(
    "zen_lead_pool_failover_latency_seconds",
    "From the watch event that made a pool's leader change necessary to the Lease write naming the new one.",
    ["namespace"],
    buckets=LATENCY_BUCKETS,
)


class PoolMetrics:
    def __init__(self) -> None:
        self._series = LabelledSeries()
        self._leaders: dict[tuple[str, str], str] = {}

    def observe(self, policy: LeaderPolicy, plan: PoolPlan, members: Sequence[Member]) -> None:
        owner = (policy.metadata.namespace, policy.metadata.name)
        leader = plan.leader.pod.metadata.uid if plan.leader is not None else ""
        eligible = plan.selection.eligible_count
        counts = {
            "leader": 1 if plan.leader is not None else 0,
            "follower": max(0, eligible - (1 if plan.leader is not None else 0)),
            "ineligible": len(members) - eligible,
        }
        for role, count in counts.items():
            self._series.labels(MEMBERS, owner, role).set(count)
        self._series.labels(HAS_LEADER, owner).set(1 if plan.leader is not None else 0)
        if plan.term is not None:
            self._series.labels(TERM, owner).set(plan.term)
        if self._leaders.get(owner, "") != leader and leader:
            reason = str(plan.selection.previous_ineligibility or "Elected")
            self._series.labels(LEADER_CHANGES, owner, reason).inc()
        self._leaders[owner] = leader

    def failover(self, namespace: str, seconds: float, *, urgent: bool) -> None:
        if urgent:
            FAILOVER_LATENCY.labels(namespace).observe(seconds)

    def forget(self, namespace: str, pool: str) -> None:
        self._series.forget((namespace, pool))
        self._leaders.pop((namespace, pool), None)
