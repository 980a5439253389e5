"""Routing: the leader Service and its EndpointSlice point at exactly one eligible pod, and move."""

from __future__ import annotations

import pytest
from lightkube import Client
from lightkube.resources.core_v1 import Pod, Service

from tests.cluster.director.conftest import (
    ENABLED,
    events,
    leader_annotation,
    leader_endpoints,
    leader_slices,
    ready_pods,
    ready_since,
    restart_ready_clock,
    wait_leader,
)
from tests.support.controller import ControllerProcess
from tests.support.wait import eventually, settled
from tests.support.workload import deployment, service, set_pod_ready

pytestmark = pytest.mark.cluster


def workload(
    kube: Client,
    namespace: str,
    name: str = "db",
    replicas: int = 3,
    annotations: dict[str, str] | None = None,
) -> list[Pod]:
    kube.create(deployment(name, namespace, replicas=replicas))
    kube.create(
        service(name, namespace, selector={"app": name}, annotations={**ENABLED, **(annotations or {})})
    )
    return eventually(
        lambda: (p := ready_pods(kube, namespace, {"app": name})) and len(p) == replicas and p,
        what=f"{replicas} ready pods",
    )


def test_leader_service_and_slice_are_created(
    kube: Client, namespace: str, controller: ControllerProcess
) -> None:
    pods = workload(kube, namespace)
    leader = wait_leader(kube, namespace, "db-leader")
    # The leader Service's annotations (and, when the Service was planned before any pod was Ready, its
    # resolved target ports) follow the routing write in a routine pass, so wait for them first.
    eventually(
        lambda: leader_annotation(kube, namespace, "db-leader") == leader, what="db-leader names its leader"
    )
    source = kube.get(Service, "db", namespace=namespace)
    leader_svc = kube.get(Service, "db-leader", namespace=namespace)
    assert leader_svc.spec.selector is None
    assert leader_svc.metadata.labels["app.kubernetes.io/managed-by"] == "zen-lead"
    assert leader_svc.metadata.labels["zen-lead.io/source-service"] == "db"
    [owner] = leader_svc.metadata.ownerReferences
    assert (owner.kind, owner.name, owner.uid, owner.controller) == (
        "Service",
        "db",
        source.metadata.uid,
        True,
    )
    [port] = leader_svc.spec.ports
    assert (port.name, port.port, port.protocol, port.targetPort) == ("http", 80, "TCP", 8080)
    [slice_] = leader_slices(kube, namespace, "db-leader")
    assert slice_.addressType == "IPv4"
    assert slice_.metadata.labels["endpointslice.kubernetes.io/managed-by"] == "endpointslice.zen-lead.io"
    assert slice_.metadata.ownerReferences[0].uid == leader_svc.metadata.uid
    [endpoint] = slice_.endpoints
    pod = next(p for p in pods if p.metadata.name == leader)
    assert endpoint.addresses == [pod.status.podIP]
    assert (endpoint.conditions.ready, endpoint.conditions.serving, endpoint.conditions.terminating) == (
        True,
        True,
        False,
    )
    assert endpoint.targetRef.uid == pod.metadata.uid
    assert endpoint.nodeName == pod.spec.nodeName
    assert endpoint.zone
    assert endpoint.zone.startswith("zone-")
    assert [(p.name, p.port, p.protocol) for p in slice_.ports] == [("http", 8080, "TCP")]
    eventually(lambda: events(kube, namespace, "LeaderElected", "db"), what="LeaderElected event")


def test_failover_when_leader_becomes_not_ready(
    kube: Client, namespace: str, controller: ControllerProcess
) -> None:
    workload(kube, namespace)
    first = wait_leader(kube, namespace, "db-leader")
    set_pod_ready(kube, first, namespace, ready=False)
    second = wait_leader(kube, namespace, "db-leader", not_in={first})
    set_pod_ready(kube, second, namespace, ready=False)
    third = wait_leader(kube, namespace, "db-leader", not_in={first, second})
    assert len({first, second, third}) == 3
    eventually(lambda: events(kube, namespace, "LeaderChanged", "db"), what="LeaderChanged event")
    # Counted once the slice apply's response is processed, a moment after the watch shows the slice.
    eventually(
        lambda: controller.metric("zen_lead_leader_changes_total", namespace=namespace, service="db") >= 3,
        what="three leader changes counted",
    )
    assert controller.metric("zen_lead_failover_latency_seconds_count", namespace=namespace) >= 2


def test_failover_when_leader_is_deleted(kube: Client, namespace: str, controller: ControllerProcess) -> None:
    workload(kube, namespace)
    first = wait_leader(kube, namespace, "db-leader")
    kube.delete(Pod, first, namespace=namespace)
    wait_leader(kube, namespace, "db-leader", not_in={first})


def test_no_eligible_pod_means_zero_endpoints_then_recovery(
    kube: Client, namespace: str, controller: ControllerProcess
) -> None:
    pods = workload(kube, namespace, replicas=2)
    wait_leader(kube, namespace, "db-leader")
    for pod in pods:
        set_pod_ready(kube, pod.metadata.name, namespace, ready=False)

    def empty() -> bool:
        slices = leader_slices(kube, namespace, "db-leader")
        return len(slices) == 1 and not slices[0].endpoints

    eventually(empty, what="the leader slice exists with zero endpoints")
    eventually(lambda: events(kube, namespace, "NoEligiblePod", "db"), what="NoEligiblePod event")

    # The failover lane writes only the slice; the leader Service's annotations follow in a routine
    # pass (docs/director.md), so they are cleared shortly after the endpoints, not with them.
    eventually(
        lambda: leader_annotation(kube, namespace, "db-leader") is None,
        what="db-leader no longer names a leader",
    )
    set_pod_ready(kube, pods[1].metadata.name, namespace, ready=True)
    assert wait_leader(kube, namespace, "db-leader") == pods[1].metadata.name


def test_sticky_keeps_a_leader_that_others_outrank_and_sticky_false_moves_it(
    kube: Client, namespace: str, controller: ControllerProcess
) -> None:
    """Stickiness must be the only reason the leader stays: another pod becomes the one Ready longest.
    The same pods back a sticky Service and a ``sticky: "false"`` one, so the non-sticky one moving shows
    that the change was seen and acted on; the sticky one must stay — then across a restart, and
    through updates that change nothing."""
    kube.create(deployment("db", namespace, replicas=3))
    pods = eventually(
        lambda: (p := ready_pods(kube, namespace, {"app": "db"})) and len(p) == 3 and p, what="3 ready pods"
    )
    # opted in once all three are Ready, so that both elect the pod Ready longest of the three
    kube.create(service("db", namespace, selector={"app": "db"}, annotations=ENABLED))
    sticky_false = {**ENABLED, "zen-lead.io/sticky": "false"}
    kube.create(service("ns", namespace, selector={"app": "db"}, annotations=sticky_false))
    leader = wait_leader(kube, namespace, "db-leader")
    assert wait_leader(kube, namespace, "ns-leader") == leader
    others = [p for p in pods if p.metadata.name != leader]
    restart_ready_clock(kube, namespace, [leader], after=max(ready_since(p) for p in others))

    senior = wait_leader(kube, namespace, "ns-leader", not_in={leader})  # sticky: false re-chooses
    assert senior in {p.metadata.name for p in others}
    eventually(
        lambda: [e for e in events(kube, namespace, "LeaderChanged", "ns") if "sticky: false" in e.message],
        what="ns's LeaderChanged Event naming the reason",
    )
    settled(controller.writes, what="the controller's writes")  # db's pass, made from the same pod event
    assert leader_endpoints(kube, namespace, "db-leader")[0][0] == leader
    assert not events(kube, namespace, "LeaderChanged", "db")

    # A restart forgets nothing: the leader is read back from the slice, and stays.
    controller.stop()
    controller.start()
    eventually(
        lambda: controller.metric("zen_lead_reconcile_duration_seconds_count") >= 2, what="the first pass"
    )
    settled(controller.writes, what="the restarted controller's writes")
    assert controller.writes() == 0
    assert leader_endpoints(kube, namespace, "db-leader")[0][0] == leader
    assert leader_endpoints(kube, namespace, "ns-leader")[0][0] == senior

    # Updates that change nothing a decision depends on change nothing either.
    for pod in kube.list(Pod, namespace=namespace, labels={"app": "db"}):
        kube.patch(
            Pod, pod.metadata.name, namespace=namespace, obj={"metadata": {"labels": {"unrelated": "x"}}}
        )
    kube.patch(Service, "db", namespace=namespace, obj={"metadata": {"annotations": {"unrelated": "y"}}})
    eventually(
        lambda: controller.metric("zen_lead_reconcile_duration_seconds_count") >= 3,
        what="db reconciled after its annotation changed",
    )
    settled(controller.writes, what="the controller's writes")
    assert controller.writes() == 0
    assert leader_endpoints(kube, namespace, "db-leader")[0][0] == leader


def test_the_leader_is_read_from_the_slice_not_from_the_annotations(
    kube: Client, namespace: str, controller: ControllerProcess
) -> None:
    """docs/director.md: the current leader is read from the routing truth, the slices. While the
    controller is down its leader annotations are rewritten to name another eligible pod — the one
    Ready longest, which a fresh election would pick too. After the restart the slice must still route to
    the real leader, no change may be announced, and the annotations are repaired."""
    kube.create(deployment("db", namespace, replicas=3))
    pods = eventually(
        lambda: (p := ready_pods(kube, namespace, {"app": "db"})) and len(p) == 3 and p, what="3 ready pods"
    )
    kube.create(service("db", namespace, selector={"app": "db"}, annotations=ENABLED))
    leader = wait_leader(kube, namespace, "db-leader")
    others = [p for p in pods if p.metadata.name != leader]
    restart_ready_clock(kube, namespace, [leader], after=max(ready_since(p) for p in others))
    eventually(lambda: leader_annotation(kube, namespace, "db-leader") == leader, what="db-leader annotated")
    settled(controller.writes, what="the controller's writes")
    controller.stop()

    decoy = min(others, key=lambda p: (ready_since(p), p.metadata.creationTimestamp, p.metadata.name))
    kube.patch(
        Service,
        "db-leader",
        namespace=namespace,
        obj={
            "metadata": {
                "annotations": {
                    "zen-lead.io/leader-pod": decoy.metadata.name,
                    "zen-lead.io/leader-pod-uid": decoy.metadata.uid,
                }
            }
        },
    )
    controller.start()
    eventually(
        lambda: leader_annotation(kube, namespace, "db-leader") == leader, what="the annotations repaired"
    )
    settled(controller.writes, what="the restarted controller's writes")
    assert {name for name, _ in leader_endpoints(kube, namespace, "db-leader")} == {leader}
    assert not events(kube, namespace, "LeaderChanged", "db")
    annotations = kube.get(Service, "db-leader", namespace=namespace).metadata.annotations or {}
    assert (
        annotations["zen-lead.io/leader-pod-uid"]
        == next(p for p in pods if p.metadata.name == leader).metadata.uid
    )
