"""A pool's leader Service on the real cluster: it routes to the pool's leader alone (the same pod the
Lease names), follows a failover, has no endpoint without a leader, is deleted when the spec stops
asking for it, and a Service of that name that is not the pool's is never written."""

from __future__ import annotations

from typing import Any

import pytest
from lightkube import Client
from lightkube.models.core_v1 import ServicePort as ServicePortModel
from lightkube.models.core_v1 import ServiceSpec
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Service
from lightkube.resources.discovery_v1 import EndpointSlice
from lightkube.types import PatchType

from tests.cluster.pools.conftest import LeaderPolicy, members, policy, status
from tests.cluster.pools.test_pools import agreed_leader, member_pods
from tests.support.controller import ControllerProcess
from tests.support.wait import eventually, settled
from tests.support.workload import set_pod_ready

pytestmark = pytest.mark.cluster
PORTS = {"ports": [{"name": "pg", "port": 5432, "targetPort": 5432}]}


def routed_to(kube: Client, namespace: str, name: str = "pool-leader") -> set[str] | None:
    """The pods the slices zen-lead writes for the leader Service route to (None: none yet)."""
    ours = {
        "kubernetes.io/service-name": name,
        "endpointslice.kubernetes.io/managed-by": "endpointslice.zen-lead.io",
    }
    slices = list(kube.list(EndpointSlice, namespace=namespace, labels=ours))
    if not slices:
        return None
    return {e.targetRef.name for s in slices for e in (s.endpoints or []) if e.targetRef}


def condition(kube: Client, namespace: str) -> dict[str, Any]:
    found = {c["type"]: c for c in status(kube, "pool", namespace).get("conditions", [])}
    return dict(found.get("LeaderService") or {})


def test_the_leader_service_routes_to_the_pools_leader_alone_and_follows_it(
    kube: Client, namespace: str, pools_controller: ControllerProcess
) -> None:
    kube.create(policy("pool", namespace, leaderService=PORTS))
    kube.create(members("db", namespace, pool="pool", replicas=3))
    first = agreed_leader(kube, namespace)["leader"]["pod"]
    eventually(lambda: routed_to(kube, namespace) == {first}, what=f"the leader Service routes to {first}")
    service = kube.get(Service, "pool-leader", namespace=namespace)
    assert service.spec.selector is None
    assert service.metadata.ownerReferences[0].kind == "LeaderPolicy"
    assert service.metadata.annotations["zen-lead.io/leader-pod"] == first
    [port] = service.spec.ports
    assert (port.name, port.port) == ("pg", 5432)

    set_pod_ready(kube, first, namespace, ready=False)
    second = agreed_leader(kube, namespace, not_in=frozenset({first}))["leader"]["pod"]
    eventually(lambda: routed_to(kube, namespace) == {second}, what=f"the leader Service moved to {second}")

    for pod in member_pods(kube, namespace):  # nobody eligible: fail-closed
        set_pod_ready(kube, pod.metadata.name, namespace, ready=False)
    eventually(lambda: routed_to(kube, namespace) == set(), what="no endpoint without a leader")

    kube.patch(
        LeaderPolicy,
        "pool",
        {"spec": {"leaderService": None}},
        namespace=namespace,
        patch_type=PatchType.MERGE,
    )
    eventually(
        lambda: (
            not list(
                kube.list(Service, namespace=namespace, labels={"coordination.kube-zen.io/pool": "pool"})
            )
        ),
        what="the leader Service deleted once the spec stops asking",
    )


def test_a_service_of_that_name_that_is_not_the_pools_is_never_written(
    kube: Client, namespace: str, pools_controller: ControllerProcess
) -> None:
    kube.create(
        Service(
            metadata=ObjectMeta(name="pool-leader", namespace=namespace, labels={"team": "theirs"}),
            spec=ServiceSpec(selector={"app": "other"}, ports=[ServicePortModel(port=80)]),
        )
    )
    before = kube.get(Service, "pool-leader", namespace=namespace).metadata.resourceVersion
    kube.create(policy("pool", namespace, leaderService=PORTS))
    kube.create(members("db", namespace, pool="pool", replicas=2))
    agreed_leader(kube, namespace)
    told = eventually(lambda: condition(kube, namespace) or None, what="the LeaderService condition")
    assert told["status"] == "False"
    assert told["reason"] == "NameConflict"
    settled(pools_controller.writes, what="the controller's writes")
    assert kube.get(Service, "pool-leader", namespace=namespace).metadata.resourceVersion == before
    assert routed_to(kube, namespace) is None  # no slice of ours (kube-controller-manager makes its own)
