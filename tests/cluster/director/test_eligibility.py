"""Eligibility rules on the real API: terminating, IP loss, min-ready, IPv6 and dual-stack pods.

Pods here are bound to a Node that kwok does not manage, and the test writes their status as a kubelet
would: that is how a pod can stay Ready while terminating, lose its IP, or carry IPv6 addresses.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator

import pytest
from lightkube import Client
from lightkube.models.core_v1 import ServicePort
from lightkube.resources.core_v1 import Node, Pod, Service

from tests.cluster.director.conftest import ENABLED, leader_endpoints, leader_slices, wait_leader
from tests.support.controller import ControllerProcess
from tests.support.wait import eventually
from tests.support.workload import manual_node, manual_pod, service, write_pod_status

pytestmark = pytest.mark.cluster
HOLD = "zen-lead.io/test-hold"


@pytest.fixture
def node(kube: Client) -> Iterator[str]:
    name = f"zl-manual-{secrets.token_hex(3)}"
    manual_node(kube, name)
    yield name
    kube.delete(Node, name)


def release(kube: Client, namespace: str, names: list[str]) -> None:
    for name in names:
        kube.patch(Pod, name, namespace=namespace, obj={"metadata": {"finalizers": None}})


def test_terminating_but_ready_leader_loses_leadership(
    kube: Client, namespace: str, node: str, controller: ControllerProcess
) -> None:
    names = ["p0", "p1"]
    try:
        for index, name in enumerate(names):
            manual_pod(
                kube,
                name=name,
                namespace=namespace,
                node=node,
                labels={"app": "t"},
                ips=[f"10.9.1.{index + 1}"],
                finalizers=[HOLD],
            )
            time.sleep(1.1)  # distinct Ready times: p0 has been Ready longest
        kube.create(service("t", namespace, selector={"app": "t"}, annotations=ENABLED))
        assert wait_leader(kube, namespace, "t-leader") == "p0"
        kube.delete(Pod, "p0", namespace=namespace)
        pod = kube.get(Pod, "p0", namespace=namespace)
        assert pod.metadata.deletionTimestamp is not None
        assert any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions)
        assert wait_leader(kube, namespace, "t-leader", not_in={"p0"}) == "p1"
    finally:
        release(kube, namespace, names)


def test_leader_that_loses_its_ip_is_replaced(
    kube: Client, namespace: str, node: str, controller: ControllerProcess
) -> None:
    for index, name in enumerate(["p0", "p1"]):
        manual_pod(
            kube, name=name, namespace=namespace, node=node, labels={"app": "ip"}, ips=[f"10.9.2.{index + 1}"]
        )
        time.sleep(1.1)
    kube.create(service("ip", namespace, selector={"app": "ip"}, annotations=ENABLED))
    assert wait_leader(kube, namespace, "ip-leader") == "p0"
    write_pod_status(kube, name="p0", namespace=namespace, ips=[])
    assert wait_leader(kube, namespace, "ip-leader", not_in={"p0"}) == "p1"


def test_min_ready_duration_requeues_without_any_further_event(
    kube: Client, namespace: str, node: str, controller: ControllerProcess
) -> None:
    kube.create(
        service(
            "mr",
            namespace,
            selector={"app": "mr"},
            annotations={**ENABLED, "zen-lead.io/min-ready-duration": "3s"},
        )
    )
    ready_at = time.time()  # before the pod's Ready condition is stamped: a lower bound of its time
    manual_pod(kube, name="p0", namespace=namespace, node=node, labels={"app": "mr"}, ips=["10.9.3.1"])
    eventually(lambda: leader_slices(kube, namespace, "mr-leader"), what="the leader slice")
    assert leader_endpoints(kube, namespace, "mr-leader") == []  # not Ready for 3 s yet: fail closed
    wait_leader(kube, namespace, "mr-leader", timeout=15)
    # Ready times have one-second resolution, so the earliest legal moment is ready_at - 1 + 3.
    assert time.time() >= ready_at + 2.0


def test_ipv6_pods_get_an_ipv6_slice(
    kube: Client, namespace: str, node: str, controller: ControllerProcess
) -> None:
    manual_pod(kube, name="v6", namespace=namespace, node=node, labels={"app": "v6"}, ips=["fd00:9::1"])
    kube.create(
        service(
            "v6",
            namespace,
            selector={"app": "v6"},
            annotations=ENABLED,
            ipFamilies=["IPv6"],
            ipFamilyPolicy="SingleStack",
        )
    )
    wait_leader(kube, namespace, "v6-leader")
    [slice_] = leader_slices(kube, namespace, "v6-leader")
    assert slice_.addressType == "IPv6"
    assert slice_.endpoints[0].addresses == ["fd00:9::1"]
    assert kube.get(Service, "v6-leader", namespace=namespace).spec.ipFamilies == ["IPv6"]


def test_dual_stack_pods_get_one_slice_per_family_and_family_changes_replace_slices(
    kube: Client, namespace: str, node: str, controller: ControllerProcess
) -> None:
    manual_pod(
        kube, name="ds", namespace=namespace, node=node, labels={"app": "ds"}, ips=["10.9.4.1", "fd00:9::4"]
    )
    kube.create(
        service(
            "ds",
            namespace,
            selector={"app": "ds"},
            annotations=ENABLED,
            ipFamilies=["IPv4", "IPv6"],
            ipFamilyPolicy="RequireDualStack",
        )
    )

    def families() -> dict[str, list[str]]:
        return {
            s.addressType: [a for e in (s.endpoints or []) for a in e.addresses]
            for s in leader_slices(kube, namespace, "ds-leader")
        }

    eventually(lambda: families() == {"IPv4": ["10.9.4.1"], "IPv6": ["fd00:9::4"]}, what="two slices")
    leader_svc = kube.get(Service, "ds-leader", namespace=namespace)
    assert leader_svc.spec.ipFamilyPolicy == "RequireDualStack"
    assert leader_svc.spec.ipFamilies == ["IPv4", "IPv6"]
    # Dropping the secondary family removes its slice; the IPv4 slice stays routed.
    kube.patch(
        Service,
        "ds",
        namespace=namespace,
        obj={
            "spec": {
                "ipFamilyPolicy": "SingleStack",
                "ipFamilies": ["IPv4"],
                "clusterIPs": [kube.get(Service, "ds", namespace=namespace).spec.clusterIP],
            }
        },
    )
    eventually(lambda: families() == {"IPv4": ["10.9.4.1"]}, what="only the IPv4 slice")


def test_numeric_named_multi_and_missing_ports(
    kube: Client, namespace: str, node: str, controller: ControllerProcess
) -> None:
    manual_pod(
        kube,
        name="mp",
        namespace=namespace,
        node=node,
        labels={"app": "mp"},
        ips=["10.9.5.1"],
        ports=[("http", 8080), ("metrics", 9090)],
    )
    kube.create(
        service(
            "mp",
            namespace,
            selector={"app": "mp"},
            annotations=ENABLED,
            ports=[
                ServicePort(name="http", port=80, targetPort="http"),
                ServicePort(name="metrics", port=9000, targetPort="metrics", appProtocol="http"),
                ServicePort(name="raw", port=7000, targetPort=7001, protocol="UDP"),
            ],
        )
    )
    wait_leader(kube, namespace, "mp-leader")
    [slice_] = leader_slices(kube, namespace, "mp-leader")
    assert sorted((p.name, p.port, p.protocol, p.appProtocol) for p in slice_.ports) == [
        ("http", 8080, "TCP", None),
        ("metrics", 9090, "TCP", "http"),
        ("raw", 7001, "UDP", None),
    ]

    def leader_ports() -> dict[str, tuple[int, int | str]]:
        spec = kube.get(Service, "mp-leader", namespace=namespace).spec
        return {p.name: (p.port, p.targetPort) for p in spec.ports}

    # Named target ports resolve against the leader pod. If the Service was planned before the pod was
    # Ready, the resolved numbers follow the routing write in a routine pass: wait for them.
    expected = {"http": (80, 8080), "metrics": (9000, 9090), "raw": (7000, 7001)}
    eventually(lambda: leader_ports() == expected, what=f"mp-leader's ports {expected}")
    # A named targetPort no pod declares: no pod is eligible, zero endpoints, a Warning says why.
    kube.create(
        service(
            "missing",
            namespace,
            selector={"app": "mp"},
            annotations=ENABLED,
            ports=[ServicePort(name="grpc", port=81, targetPort="grpc")],
        )
    )
    eventually(lambda: leader_slices(kube, namespace, "missing-leader"), what="the leader slice")
    assert leader_endpoints(kube, namespace, "missing-leader") == []
    from tests.cluster.director.conftest import events

    eventually(lambda: events(kube, namespace, "PortUnresolvable", "missing"), what="PortUnresolvable event")
