"""``followerMode: scaleDown``: only the leader runs. zen-lead scales ``spec.scaleTarget`` (a Deployment
or StatefulSet, through its scale subresource) to one replica while a leader exists, and to two when
the leader is lost — so that a replacement starts, is elected, and the pool goes back to one.

- **The leader is protected** when scaling down: it carries ``controller.kubernetes.io/pod-deletion-cost``
  (a high value; the ReplicaSet controller deletes not-Ready pods first, then the lowest cost), so the
  follower — or the lost leader, not Ready — is the one removed. (A StatefulSet always removes its
  highest ordinal: there, the leader is kept only if it has the lowest; the status says what it did.)
- **The original replica count** is kept in the status (``status.scaleDown.originalReplicas``) before
  the first change, and restored when the mode goes back to standby or the policy is deleted (a
  finalizer, ``coordination.kube-zen.io/restore-replicas``, holds the deletion until it is).
- **Never a second writer of ``spec.replicas``**: a HorizontalPodAutoscaler (or a KEDA ScaledObject,
  which makes one) on the same target means a ``ScaleTargetConflict`` condition and Event, and no write.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from zen_lead.constants import ANNOTATION_DELETION_COST, FINALIZER_RESTORE_REPLICAS
from zen_lead.kube.client import ApiClient
from zen_lead.kube.errors import ApiError
from zen_lead.kube.meta import object_key
from zen_lead.kube.resources import HPAS, LEADER_POLICIES, PODS, SCALABLE
from zen_lead.kube.structs import Condition, HorizontalPodAutoscaler, LeaderPolicy, Pod, ScaleDownStatus
from zen_lead.pools.core.decision import PoolPlan
from zen_lead.pools.tracker import PoolTracker
from zen_lead.runtime.cache import ScopedInformer
from zen_lead.runtime.events import EventRecorder
from zen_lead.runtime.runnable import WriteGate

LEADER_DELETION_COST = "1000000"
SCALE_DOWN = "ScaleDown"


class ScaleDown:
    def __init__(
        self,
        *,
        client: ApiClient,
        gate: WriteGate,
        events: EventRecorder,
        hpas: ScopedInformer[HorizontalPodAutoscaler],
        pods: ScopedInformer[Pod],
        policies: ScopedInformer[LeaderPolicy],
        tracker: PoolTracker,
    ) -> None:
        self.client, self.gate, self.events = client, gate, events
        self.hpas, self.pods, self.policies, self.tracker = hpas, pods, policies, tracker

    async def converge(
        self, policy: LeaderPolicy, plan: PoolPlan
    ) -> tuple[tuple[Condition, ...], dict[str, Any] | None]:
        """Bring the target's replicas where the mode wants them; the conditions to show and the
        ``status.scaleDown`` to keep (None: none)."""
        spec, before = policy.spec, policy.status.scale_down
        active = spec.follower_mode == "scaleDown" and spec.scale_target is not None
        if not active or policy.metadata.deletion_timestamp is not None:
            await self._restore(policy, before)
            return (), None
        target = spec.scale_target
        assert target is not None
        namespace = policy.metadata.namespace
        conflict = self._hpa_for(namespace, target.kind, target.name)
        key = object_key(namespace, policy.metadata.name)
        if conflict is not None:
            message = (
                f"HorizontalPodAutoscaler {conflict} scales {target.kind} {target.name}: zen-lead does not "
                "write its replicas (use followerMode standby, or remove the autoscaler)"
            )
            if self.tracker.told(key, "scale-conflict", (message,)):
                self.events.record(LEADER_POLICIES.ref(policy), "Warning", "ScaleTargetConflict", message)
            return (Condition(SCALE_DOWN, "False", "ScaleTargetConflict", message),), _json(before)
        self.tracker.told(key, "scale-conflict", ())
        resource = SCALABLE[target.kind]
        try:
            scale = await self.client.get(resource, namespace, target.name, subresource="scale")
        except ApiError as error:
            if not error.not_found:
                raise
            message = f"{target.kind} {target.name} does not exist in {namespace}"
            return (Condition(SCALE_DOWN, "False", "ScaleTargetNotFound", message),), _json(before)
        same = before is not None and (before.kind, before.name) == (target.kind, target.name)
        recorded = before.original_replicas if same and before is not None else None
        original = scale.spec.replicas if recorded is None else recorded
        if original == 0:
            message = f"{target.kind} {target.name} was scaled to 0: left so (no member can lead)"
            condition = Condition(SCALE_DOWN, "False", "ScaledToZero", message)
            return (condition,), _status(original, target.kind, target.name)
        await self._hold(policy)
        if plan.leader is not None:
            await self._protect(plan.leader.pod)
        desired = 1 if plan.leader is not None else 2
        if scale.spec.replicas != desired:
            # the cache may not have seen an autoscaler created a moment ago: asked live before writing
            # (scale writes are rare — a failover of a scaleDown pool — so one list each is cheap)
            live = await self._live_hpa_for(namespace, target.kind, target.name)
            if live is not None:
                message = (
                    f"HorizontalPodAutoscaler {live} scales {target.kind} {target.name}: zen-lead does not "
                    "write its replicas (use followerMode standby, or remove the autoscaler)"
                )
                return (Condition(SCALE_DOWN, "False", "ScaleTargetConflict", message),), _json(before)
            self.gate.check()
            replicas = {"spec": {"replicas": desired}}
            await self.client.patch(resource, namespace, target.name, replicas, subresource="scale")
        why = "only the leader runs" if desired == 1 else "a replacement starts for the lost leader"
        message = f"{target.kind} {target.name} at {desired} replica(s): {why}; {original} when restored"
        return (Condition(SCALE_DOWN, "True", "Scaled", message),), _status(
            original, target.kind, target.name
        )

    # ---- steps --------------------------------------------------------------------------------
    async def _hold(self, policy: LeaderPolicy) -> None:
        """The finalizer that makes a deletion wait until the replicas are restored."""
        if FINALIZER_RESTORE_REPLICAS in policy.metadata.finalizers:
            return
        finalizers = [*policy.metadata.finalizers, FINALIZER_RESTORE_REPLICAS]
        self.gate.check()
        written = await self.client.patch(
            LEADER_POLICIES,
            policy.metadata.namespace,
            policy.metadata.name,
            {"metadata": {"resourceVersion": policy.metadata.resource_version, "finalizers": finalizers}},
        )
        self.policies.put(written)

    async def _protect(self, leader: Pod) -> None:
        if leader.metadata.annotations.get(ANNOTATION_DELETION_COST) == LEADER_DELETION_COST:
            return
        self.gate.check()
        patch = {"metadata": {"annotations": {ANNOTATION_DELETION_COST: LEADER_DELETION_COST}}}
        written = await self.client.patch(PODS, leader.metadata.namespace, leader.metadata.name, patch)
        self.pods.put(written)

    async def _restore(self, policy: LeaderPolicy, before: ScaleDownStatus | None) -> None:
        namespace = policy.metadata.namespace
        if before is not None and before.original_replicas is not None and before.kind in SCALABLE:
            resource = SCALABLE[before.kind]
            self.gate.check()
            try:
                await self.client.patch(
                    resource,
                    namespace,
                    before.name,
                    {"spec": {"replicas": before.original_replicas}},
                    subresource="scale",
                )
            except ApiError as error:
                if not error.not_found:
                    raise
        if FINALIZER_RESTORE_REPLICAS in policy.metadata.finalizers:
            rest = [f for f in policy.metadata.finalizers if f != FINALIZER_RESTORE_REPLICAS]
            self.gate.check()
            written = await self.client.patch(
                LEADER_POLICIES,
                namespace,
                policy.metadata.name,
                {"metadata": {"resourceVersion": policy.metadata.resource_version, "finalizers": rest}},
            )
            self.policies.put(written)

    async def _live_hpa_for(self, namespace: str, kind: str, name: str) -> str | None:
        return _targeting(await self.client.list(HPAS, namespace), namespace, kind, name)

    def _hpa_for(self, namespace: str, kind: str, name: str) -> str | None:
        return _targeting(self.hpas.items(), namespace, kind, name)


def _targeting(hpas: Iterable[HorizontalPodAutoscaler], namespace: str, kind: str, name: str) -> str | None:
    """The autoscaler (if any) whose scale target is ``kind``/``name`` in ``namespace``."""
    for hpa in hpas:
        ref = hpa.spec.scale_target_ref
        if hpa.metadata.namespace == namespace and (ref.kind, ref.name) == (kind, name):
            return hpa.metadata.name
    return None


def _status(original: int, kind: str, name: str) -> dict[str, Any]:
    return {"originalReplicas": original, "kind": kind, "name": name}


def _json(before: ScaleDownStatus | None) -> dict[str, Any] | None:
    if before is None or before.original_replicas is None:
        return None
    return _status(before.original_replicas, before.kind, before.name)
