"""followerMode scaleDown on the real cluster (kube-controller-manager's ReplicaSet controller does the
scaling): only the leader runs and it is the pod kept; a lost leader gets a replacement; the original
replica count comes back when the mode or the policy goes; an HPA on the target means a condition and
an Event and not one write of its replicas."""

from __future__ import annotations

from typing import Any

import pytest
from lightkube import Client
from lightkube.models.autoscaling_v2 import (
    CrossVersionObjectReference,
    HorizontalPodAutoscalerSpec,
    MetricSpec,
    MetricTarget,
    ResourceMetricSource,
)
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.apps_v1 import Deployment
from lightkube.resources.autoscaling_v2 import HorizontalPodAutoscaler
from lightkube.resources.core_v1 import Pod
from lightkube.types import PatchType

from tests.cluster.pools.conftest import LeaderPolicy, members, policy, status
from tests.cluster.pools.test_pools import agreed_leader, member_pods, reasons
from tests.support.controller import ControllerProcess
from tests.support.wait import eventually, settled
from tests.support.workload import set_pod_ready

pytestmark = pytest.mark.cluster
TARGET = {"kind": "Deployment", "name": "db"}
COST = "controller.kubernetes.io/pod-deletion-cost"
FINALIZER = "coordination.kube-zen.io/restore-replicas"


def replicas(kube: Client, namespace: str) -> int:
    return int(kube.get(Deployment, "db", namespace=namespace).spec.replicas)


def running(kube: Client, namespace: str) -> set[str]:
    return {p.metadata.name for p in member_pods(kube, namespace)}


def condition(kube: Client, namespace: str, kind: str = "ScaleDown") -> dict[str, Any]:
    found = {c["type"]: c for c in status(kube, "pool", namespace).get("conditions", [])}
    return dict(found.get(kind) or {})


def test_only_the_leader_runs_a_lost_leader_is_replaced_and_the_replicas_come_back(
    kube: Client, namespace: str, pools_controller: ControllerProcess
) -> None:
    kube.create(members("db", namespace, pool="pool", replicas=3))
    eventually(lambda: len(running(kube, namespace)) == 3, what="three members")
    kube.create(policy("pool", namespace, followerMode="scaleDown", scaleTarget=TARGET))
    first = agreed_leader(kube, namespace)
    leader = first["leader"]["pod"]
    # the leader is the one pod kept: protected by its deletion cost when the ReplicaSet scales down
    eventually(lambda: running(kube, namespace) == {leader}, timeout=60, what=f"only {leader} left")
    assert replicas(kube, namespace) == 1
    pod = kube.get(Pod, leader, namespace=namespace)
    assert (pod.metadata.annotations or {}).get(COST) == "1000000"
    current = status(kube, "pool", namespace)
    assert current["scaleDown"] == {"originalReplicas": 3, **TARGET}
    assert current["leader"]["pod"] == leader  # never moved while scaling
    assert FINALIZER in kube.get(LeaderPolicy, "pool", namespace=namespace).metadata.finalizers
    assert condition(kube, namespace)["status"] == "True"

    # the leader lost: a replacement starts (2 replicas), is elected, and the pool goes back to one
    set_pod_ready(kube, leader, namespace, ready=False)
    second = agreed_leader(kube, namespace, not_in=frozenset({leader}))
    assert second["term"] == first["term"] + 1
    new = second["leader"]["pod"]
    eventually(lambda: running(kube, namespace) == {new}, timeout=60, what=f"only {new} left")
    assert replicas(kube, namespace) == 1

    # back to standby (the target goes with the mode): the original three again, the finalizer gone
    kube.patch(
        LeaderPolicy,
        "pool",
        {"spec": {"followerMode": "standby", "scaleTarget": None}},
        namespace=namespace,
        patch_type=PatchType.MERGE,
    )
    eventually(lambda: replicas(kube, namespace) == 3, what="the original replicas restored")
    eventually(
        lambda: (
            FINALIZER not in (kube.get(LeaderPolicy, "pool", namespace=namespace).metadata.finalizers or [])
        ),
        what="the finalizer removed",
    )
    eventually(lambda: "scaleDown" not in status(kube, "pool", namespace), what="status.scaleDown cleared")


def test_deleting_the_policy_restores_the_replicas_before_it_goes(
    kube: Client, namespace: str, pools_controller: ControllerProcess
) -> None:
    kube.create(members("db", namespace, pool="pool", replicas=2))
    kube.create(policy("pool", namespace, followerMode="scaleDown", scaleTarget=TARGET))
    eventually(lambda: replicas(kube, namespace) == 1, what="scaled to one")
    kube.delete(LeaderPolicy, "pool", namespace=namespace)

    def gone() -> bool:
        return not list(kube.list(LeaderPolicy, namespace=namespace))

    eventually(gone, what="the policy deleted once its finalizer is removed")
    assert replicas(kube, namespace) == 2


def test_with_an_hpa_on_the_target_its_replicas_are_never_written(
    kube: Client, namespace: str, pools_controller: ControllerProcess
) -> None:
    kube.create(members("db", namespace, pool="pool", replicas=3))
    kube.create(
        HorizontalPodAutoscaler(
            metadata=ObjectMeta(name="db", namespace=namespace),
            spec=HorizontalPodAutoscalerSpec(
                scaleTargetRef=CrossVersionObjectReference(apiVersion="apps/v1", **TARGET),
                minReplicas=3,
                maxReplicas=5,
                metrics=[
                    MetricSpec(
                        type="Resource",
                        resource=ResourceMetricSource(
                            name="cpu", target=MetricTarget(type="Utilization", averageUtilization=80)
                        ),
                    )
                ],
            ),
        )
    )
    generation = kube.get(Deployment, "db", namespace=namespace).metadata.generation
    kube.create(policy("pool", namespace, followerMode="scaleDown", scaleTarget=TARGET))
    agreed_leader(kube, namespace)
    told = eventually(
        lambda: condition(kube, namespace) if condition(kube, namespace).get("reason") else None,
        what="the ScaleDown condition",
    )
    assert told["status"] == "False"
    assert told["reason"] == "ScaleTargetConflict"
    assert "HorizontalPodAutoscaler db" in told["message"]
    eventually(lambda: reasons(kube, namespace, "ScaleTargetConflict"), what="the ScaleTargetConflict Event")
    settled(pools_controller.writes, what="the controller's writes")
    deployment = kube.get(Deployment, "db", namespace=namespace)
    assert deployment.spec.replicas == 3
    assert deployment.metadata.generation == generation  # spec never written, by anyone
    assert FINALIZER not in (kube.get(LeaderPolicy, "pool", namespace=namespace).metadata.finalizers or [])
