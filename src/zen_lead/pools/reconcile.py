"""One reconcile of one pool: read the caches, let the pure core plan, write what differs.

Order of writes, chosen for failover latency and for readers:

1. **The Lease** — the one write on a failover's critical path: from its landing the pool has its new
   leader and term. Conditional on the resourceVersion it was decided on (a 409 is retried from a
   fresh read), so it cannot overwrite a campaigning member's tenure the controller has not seen.
2. The pool's **leader Service**, if it asks for one (``pools.routing``: its slices first).
3. **The policy's status** (status subresource): leader, term, members, conditions.
4. **Role annotations** on member pods, demotions first (``core.status.role_patches``).
5. scaleDown's replica changes (``pools.scaledown``), then Events.

Nothing is written when observed equals desired. Objects zen-lead does not own are never written:
its own Leases and leader Services (label ``coordination.kube-zen.io/pool``, owned by the policy), the
policy's status, and — only for pods that joined — their role annotations and pod-deletion cost.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import msgspec

from zen_lead.constants import (
    ANNOTATION_HELD_BY,
    ANNOTATION_HOLDER_UID,
    ANNOTATION_NOMINEE,
    LABEL_MANAGED_BY,
    LABEL_POOL,
    MANAGED_BY_VALUE,
)
from zen_lead.election.record import record_of
from zen_lead.election.store import spec_fields
from zen_lead.kube.client import ApiClient
from zen_lead.kube.errors import ApiError
from zen_lead.kube.meta import ObjectRef, object_key, split_key
from zen_lead.kube.resources import LEADER_POLICIES, LEASES, PODS
from zen_lead.kube.structs import Condition, LeaderPolicy, LeaderPolicyStatus, Lease, Pod
from zen_lead.kube.times import now_microtime
from zen_lead.pools.core.decision import DesiredLease, LeaseView, Member, PoolPlan, plan_pool
from zen_lead.pools.core.membership import membership
from zen_lead.pools.core.status import (
    PoolEvent,
    leadership_conditions,
    pool_events,
    pool_status,
    role_patches,
)
from zen_lead.pools.metrics import PoolMetrics
from zen_lead.pools.routing import PoolRouting
from zen_lead.pools.scaledown import ScaleDown
from zen_lead.pools.tracker import PoolTracker
from zen_lead.runtime.cache import ScopedInformer
from zen_lead.runtime.controller import Request, Result
from zen_lead.runtime.events import EventRecorder
from zen_lead.runtime.runnable import WriteGate


class _PoliciesIn:
    """``membership`` asks whether a policy exists: answered from the cache, for one namespace."""

    def __init__(self, policies: ScopedInformer[LeaderPolicy], namespace: str) -> None:
        self.policies, self.namespace = policies, namespace

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.policies.get(self.namespace, name) is not None


class PoolReconciler:
    """The pools controller's ``Reconciler``: keys are pools (``namespace/policy``)."""

    def __init__(
        self,
        *,
        client: ApiClient,
        events: EventRecorder,
        gate: WriteGate,
        policies: ScopedInformer[LeaderPolicy],
        pods: ScopedInformer[Pod],
        leases: ScopedInformer[Lease],
        tracker: PoolTracker,
        scaledown: ScaleDown,
        routing: PoolRouting,
    ) -> None:
        self.client, self.events, self.gate = client, events, gate
        self.policies, self.pods, self.leases = policies, pods, leases
        self.tracker = tracker
        self.scaledown, self.routing = scaledown, routing
        self.metrics = PoolMetrics()

    # ---- what the generic controller asks -----------------------------------------------------
    def involved(self, key: str) -> ObjectRef | None:
        policy = self.policies.get(*split_key(key))
        return LEADER_POLICIES.ref(policy) if policy is not None else None

    def startup_keys(self) -> Iterator[str]:
        for policy in self.policies.items():
            yield object_key(policy.metadata.namespace, policy.metadata.name)
        for pod in self.pods.items():
            pool = pod.metadata.annotations.get("zen-lead/pool")
            if pool:
                yield object_key(pod.metadata.namespace, pool)

    # ---- the reconcile ------------------------------------------------------------------------
    async def reconcile(self, request: Request) -> Result:
        key = request.key
        namespace, name = split_key(key)
        policy = self.policies.get(namespace, name)
        members = self._members(namespace, key)
        if policy is None:
            self.tracker.forget(key)
            self.metrics.forget(namespace, name)
            return Result()
        lease = self.leases.get(namespace, name)
        view = self._view(key, lease)
        plan = plan_pool(
            spec=policy.spec,
            members=members,
            lease=view,
            last_term=policy.status.term,
            last_leader=policy.status.leader.pod if policy.status.leader is not None else None,
            now=time.time(),
            timestamp=now_microtime(),
        )
        written = lease
        if plan.lease is not None:
            written = await self._write_lease(policy, lease, plan.lease, create=plan.create)
            if plan.leader is not None and plan.lease.record.holder:
                self.metrics.failover(namespace, time.monotonic() - request.since, urgent=request.urgent)
        self.tracker.set_leader(key, plan.leader.pod.metadata.name if plan.leader is not None else None)
        routed = await self.routing.converge(
            policy,
            leader=routable(plan),
            leader_since=written.spec.acquire_time if written is not None and plan.leader else None,
        )
        scaled, scale_status = await self.scaledown.converge(policy, plan)
        await self._write_status(
            policy,
            plan,
            members,
            written,
            extra=(*routed, *scaled, *_nomination(plan, written)),
            scale_down=scale_status,
        )
        await self._write_roles(policy, plan, members)
        self._tell(policy, plan, members)
        self.metrics.observe(policy, plan, members)
        return Result(requeue_after=plan.requeue_after)

    # ---- reads --------------------------------------------------------------------------------
    def _members(self, namespace: str, key: str) -> list[Member]:
        policies = _PoliciesIn(self.policies, namespace)
        members = []
        for pod_name in sorted(self.tracker.members(key)):
            pod = self.pods.get(namespace, pod_name)
            if pod is None:
                continue
            found = membership(pod, policies)
            self._tell_pod(pod, found.problem)
            if found.member:
                members.append(Member(pod, found.campaigns))
        return members

    def _view(self, key: str, lease: Lease | None) -> LeaseView | None:
        if lease is None:
            return None
        annotations = lease.metadata.annotations
        return LeaseView(
            record=record_of(lease.spec),
            resource_version=lease.metadata.resource_version,
            held_for=annotations.get(ANNOTATION_HELD_BY),
            holder_uid=annotations.get(ANNOTATION_HOLDER_UID),
            nominee=annotations.get(ANNOTATION_NOMINEE),
            unchanged_for=self.tracker.unchanged_for(key),
        )

    # ---- writes -------------------------------------------------------------------------------
    async def _write_lease(
        self, policy: LeaderPolicy, lease: Lease | None, desired: DesiredLease, *, create: bool
    ) -> Lease:
        namespace, name = policy.metadata.namespace, policy.metadata.name
        annotations = {
            ANNOTATION_HELD_BY: desired.held_for,
            ANNOTATION_HOLDER_UID: desired.holder_uid,
            ANNOTATION_NOMINEE: desired.nominee,
        }
        spec = {**spec_fields(desired.record), "preferredHolder": desired.nominee}
        self.gate.check()
        if create:
            try:
                written = await self.client.create(
                    LEASES,
                    namespace,
                    {
                        "apiVersion": LEASES.api_version,
                        "kind": LEASES.kind,
                        "metadata": {
                            "name": name,
                            "namespace": namespace,
                            "labels": _labels(name),
                            "annotations": {k: v for k, v in annotations.items() if v is not None},
                            "ownerReferences": [_owner(policy)],
                        },
                        "spec": {k: v for k, v in spec.items() if v is not None},
                    },
                )
            except ApiError as error:
                if not error.conflict:
                    raise
                # It exists, made by a member's elector before the policy: adopt it (labels and
                # owner only; the record is the member's) and decide again on what it says.
                await self._adopt(policy)
                raise
        else:
            assert lease is not None
            patch = {
                "metadata": {"resourceVersion": lease.metadata.resource_version, "annotations": annotations},
                "spec": spec,
            }
            written = await self.client.patch(LEASES, namespace, name, patch)
        self.tracker.wrote_lease(object_key(namespace, name), written)
        self.leases.put(written)
        return written

    async def _adopt(self, policy: LeaderPolicy) -> None:
        namespace, name = policy.metadata.namespace, policy.metadata.name
        patch = {"metadata": {"labels": _labels(name), "ownerReferences": [_owner(policy)]}}
        self.gate.check()
        await self.client.patch(LEASES, namespace, name, patch)

    async def _write_status(
        self,
        policy: LeaderPolicy,
        plan: PoolPlan,
        members: list[Member],
        lease: Lease | None,
        *,
        extra: tuple[Condition, ...],
        scale_down: dict[str, Any] | None,
    ) -> None:
        since = lease.spec.acquire_time if lease is not None and plan.leader is not None else None
        status = pool_status(policy, plan, members=members, since=since, now=time.time(), extra=extra)
        status["scaleDown"] = scale_down
        if msgspec.convert(status, LeaderPolicyStatus) == policy.status:
            return
        self.gate.check()
        written = await self.client.patch(
            LEADER_POLICIES,
            policy.metadata.namespace,
            policy.metadata.name,
            {"status": status},
            subresource="status",
        )
        self.policies.put(written)

    async def _write_roles(self, policy: LeaderPolicy, plan: PoolPlan, members: list[Member]) -> None:
        for patch in role_patches(plan, members=members, enabled=policy.spec.role_annotations):
            self.gate.check()
            written = await self.client.patch(
                PODS, policy.metadata.namespace, patch.pod, {"metadata": {"annotations": patch.annotations}}
            )
            self.pods.put(written)

    # ---- telling ------------------------------------------------------------------------------
    def _tell(self, policy: LeaderPolicy, plan: PoolPlan, members: list[Member]) -> None:
        ref = LEADER_POLICIES.ref(policy)
        for event in pool_events(policy, plan, members=members):
            self._record(ref, event)
        key = object_key(policy.metadata.namespace, policy.metadata.name)
        none = [c for c in leadership_conditions(plan, members=members) if c.type == "NoEligibleCandidate"]
        standing = tuple(c.reason for c in none if c.status == "True")
        if self.tracker.told(key, "no-eligible", standing) and standing:
            self._record(ref, PoolEvent("Warning", "NoEligibleCandidate", none[0].message))

    def _tell_pod(self, pod: Pod, problem: str | None) -> None:
        key = object_key(pod.metadata.namespace, pod.metadata.name)
        if self.tracker.told(key, "membership", (problem,) if problem else ()) and problem:
            self.events.record(PODS.ref(pod), "Warning", "NotAPoolMember", problem)

    def _record(self, ref: ObjectRef, event: PoolEvent) -> None:
        self.events.record(ref, event.type, event.reason, event.message)


def _nomination(plan: PoolPlan, lease: Lease | None) -> tuple[Condition, ...]:
    """Where the apiserver drops ``spec.preferredHolder`` (Coordinated Leader Election not served),
    the nomination lives on in the annotation only: say so instead of silently losing it."""
    nominee = plan.lease.nominee if plan.lease is not None else None
    if lease is not None:
        nominee = nominee or lease.metadata.annotations.get(ANNOTATION_NOMINEE)
    if not nominee or lease is None:
        return ()
    if lease.spec.preferred_holder == nominee:
        return (Condition("CoordinatedElection", "True", "Served", f"spec.preferredHolder is {nominee}"),)
    message = (
        f"{nominee} is nominated in the {ANNOTATION_NOMINEE} annotation; the apiserver drops "
        "spec.preferredHolder (feature gate CoordinatedLeaderElection off), so client-go candidates "
        "in coordinated mode are not told"
    )
    return (Condition("CoordinatedElection", "False", "NotServed", message),)


def routable(plan: PoolPlan) -> Pod | None:
    """The leader traffic may go to: the pool's leader while it is eligible (a campaigning holder that
    stopped being Ready keeps the Lease until its elector lets go, but gets no traffic: fail-closed)."""
    chosen = plan.selection.leader
    if plan.leader is None or chosen is None or chosen.metadata.uid != plan.leader.pod.metadata.uid:
        return None
    return plan.leader.pod


def _labels(pool: str) -> dict[str, str]:
    return {LABEL_MANAGED_BY: MANAGED_BY_VALUE, LABEL_POOL: pool}


def _owner(policy: LeaderPolicy) -> dict[str, Any]:
    return {
        "apiVersion": LEADER_POLICIES.api_version,
        "kind": LEADER_POLICIES.kind,
        "name": policy.metadata.name,
        "uid": policy.metadata.uid,
        "controller": True,
    }
