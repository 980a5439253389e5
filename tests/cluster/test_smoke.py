"""The local control plane behaves like a real cluster in every way later tests depend on."""

from __future__ import annotations

import pytest
from lightkube import ApiError, Client
from lightkube.models.coordination_v1 import LeaseSpec
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.apps_v1 import Deployment
from lightkube.resources.coordination_v1 import Lease
from lightkube.resources.core_v1 import Node, Pod
from lightkube.resources.discovery_v1 import EndpointSlice

from tests.support.wait import eventually
from tests.support.workload import deployment, pod_ready, service, set_pod_ready

pytestmark = pytest.mark.cluster


def running_ready_pods(kube: Client, namespace: str, app: str) -> list[Pod]:
    pods = list(kube.list(Pod, namespace=namespace, labels={"app": app}))
    return [p for p in pods if p.status.phase == "Running" and pod_ready(p) and p.status.podIP]


def upstream_slice_endpoints(kube: Client, namespace: str, svc: str) -> list[tuple[str, bool]]:
    slices = kube.list(EndpointSlice, namespace=namespace, labels={"kubernetes.io/service-name": svc})
    return [
        (ep.targetRef.name, bool(ep.conditions.ready))
        for s in slices
        if s.metadata.labels.get("endpointslice.kubernetes.io/managed-by")
        == "endpointslice-controller.k8s.io"
        for ep in (s.endpoints or [])
    ]


def test_nodes_are_ready_and_spread_over_zones(kube: Client) -> None:
    nodes = list(kube.list(Node, labels={"type": "kwok"}))
    assert len(nodes) >= 3
    zones = {n.metadata.labels["topology.kubernetes.io/zone"] for n in nodes}
    assert len(zones) >= 3
    assert all(any(c.type == "Ready" and c.status == "True" for c in n.status.conditions) for n in nodes)


def test_deployment_pods_run_on_fake_nodes_with_ips(kube: Client, namespace: str) -> None:
    kube.create(deployment("web", namespace, replicas=3))
    pods = eventually(
        lambda: (p := running_ready_pods(kube, namespace, "web")) and len(p) == 3 and p,
        what="3 running ready pods",
    )
    assert {p.spec.nodeName for p in pods} <= {n.metadata.name for n in kube.list(Node)}
    assert len({p.status.podIP for p in pods}) == 3


def test_upstream_endpointslice_lists_ready_pods_and_follows_not_ready(kube: Client, namespace: str) -> None:
    kube.create(deployment("db", namespace, replicas=3))
    kube.create(service("db", namespace, selector={"app": "db"}))
    eventually(
        lambda: sorted(r for _, r in upstream_slice_endpoints(kube, namespace, "db")) == [True] * 3,
        what="3 ready endpoints in the upstream slice",
    )
    victim = running_ready_pods(kube, namespace, "db")[0].metadata.name
    set_pod_ready(kube, victim, namespace, ready=False)
    eventually(
        lambda: (victim, False) in upstream_slice_endpoints(kube, namespace, "db"),
        what=f"{victim} not ready in the upstream slice",
    )
    # kwok must not undo a Ready=False written through the status subresource
    assert not pod_ready(kube.get(Pod, victim, namespace=namespace))


def test_deleting_a_deployment_garbage_collects_its_pods(kube: Client, namespace: str) -> None:
    kube.create(deployment("gc", namespace, replicas=2))
    eventually(
        lambda: len(list(kube.list(Pod, namespace=namespace, labels={"app": "gc"}))) == 2, what="2 pods"
    )
    kube.delete(Deployment, "gc", namespace=namespace)
    eventually(
        lambda: not list(kube.list(Pod, namespace=namespace, labels={"app": "gc"})),
        what="pods garbage-collected",
    )


def test_lease_update_with_stale_resource_version_conflicts(kube: Client, namespace: str) -> None:
    lease = kube.create(
        Lease(
            metadata=ObjectMeta(name="l", namespace=namespace),
            spec=LeaseSpec(holderIdentity="a", leaseDurationSeconds=10),
        )
    )
    stale = lease.metadata.resourceVersion
    lease.spec.holderIdentity = "b"
    kube.replace(lease)
    lease.spec.holderIdentity = "c"
    lease.metadata.resourceVersion = stale
    with pytest.raises(ApiError) as conflict:
        kube.replace(lease)
    assert conflict.value.status.code == 409
