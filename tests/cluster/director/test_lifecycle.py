"""Lifecycle and safety: names, renames, opt-out, deletion, foreign objects, Service types, scale."""

from __future__ import annotations

import hashlib
import threading

import pytest
from lightkube import ApiError, Client
from lightkube.models.core_v1 import ServicePort, ServiceSpec
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Pod, Service
from lightkube.resources.discovery_v1 import EndpointSlice
from lightkube.types import CascadeType

from tests.cluster.director.conftest import (
    ENABLED,
    events,
    leader_annotation,
    leader_slices,
    ready_pods,
    wait_leader,
)
from tests.support.controller import ControllerProcess
from tests.support.wait import eventually, settled
from tests.support.workload import deployment, service

pytestmark = pytest.mark.cluster
STICKY = "zen-lead.io/sticky"


def pods_for(kube: Client, namespace: str, app: str, replicas: int = 2) -> None:
    kube.create(deployment(app, namespace, replicas=replicas))
    eventually(lambda: len(ready_pods(kube, namespace, {"app": app})) == replicas, what=f"{app} pods ready")


def gone(kube: Client, resource: type[Service], name: str, namespace: str) -> bool:
    try:
        kube.get(resource, name, namespace=namespace)
    except ApiError as error:
        return error.status.code == 404
    return False


def test_custom_name_rename_and_invalid_name(
    kube: Client, namespace: str, controller: ControllerProcess
) -> None:
    pods_for(kube, namespace, "db")
    kube.create(
        service(
            "db",
            namespace,
            selector={"app": "db"},
            annotations={**ENABLED, "zen-lead.io/leader-service-name": "primary"},
        )
    )
    wait_leader(kube, namespace, "primary")
    kube.patch(
        Service,
        "db",
        namespace=namespace,
        obj={"metadata": {"annotations": {"zen-lead.io/leader-service-name": "writer"}}},
    )
    wait_leader(kube, namespace, "writer")
    eventually(lambda: gone(kube, Service, "primary", namespace), what="old leader Service removed")
    kube.patch(
        Service,
        "db",
        namespace=namespace,
        obj={"metadata": {"annotations": {"zen-lead.io/leader-service-name": "Not_Valid"}}},
    )
    wait_leader(kube, namespace, "db-leader")
    eventually(lambda: gone(kube, Service, "writer", namespace), what="renamed Service removed")
    eventually(
        lambda: [e for e in events(kube, namespace, "InvalidAnnotation", "db") if "Not_Valid" in e.message],
        what="InvalidAnnotation event naming the bad value",
    )


def test_overlong_source_name_gets_a_hashed_leader_name(
    kube: Client, namespace: str, controller: ControllerProcess
) -> None:
    pods_for(kube, namespace, "long")
    source = "a" * 60
    kube.create(service(source, namespace, selector={"app": "long"}, annotations=ENABLED))
    expected = f"{source}-leader"

    def leader_name() -> str | None:
        names = [
            s.metadata.name
            for s in kube.list(Service, namespace=namespace, labels={"zen-lead.io/source-service": source})
        ]
        return names[0] if names else None

    name = eventually(leader_name, what="a leader Service for the long source")
    assert len(name) <= 63
    assert name != expected
    assert hashlib.sha256(expected.encode()).hexdigest()[:8] in name
    wait_leader(kube, namespace, name)


@pytest.mark.parametrize("value", ["True", "yes", "1"])
def test_enabled_spelled_otherwise_warns_and_does_nothing(
    kube: Client, namespace: str, controller: ControllerProcess, value: str
) -> None:
    pods_for(kube, namespace, "web", replicas=1)
    kube.create(
        service("web", namespace, selector={"app": "web"}, annotations={"zen-lead.io/enabled": value})
    )
    [warning] = eventually(lambda: events(kube, namespace, "InvalidAnnotation", "web"), what="a Warning")
    assert warning.type == "Warning"
    assert '"true"' in warning.message
    # The Event is posted off the reconcile: give a wrong write of the same pass time to land (the
    # controller's write counter, which counts the Event too, stops moving) before asserting absence.
    settled(controller.writes, what="the controller's writes")
    assert gone(kube, Service, "web-leader", namespace)
    assert not leader_slices(kube, namespace, "web-leader")


def test_invalid_min_ready_duration_warns_and_routes(
    kube: Client, namespace: str, controller: ControllerProcess
) -> None:
    pods_for(kube, namespace, "mr", replicas=1)
    kube.create(
        service(
            "mr",
            namespace,
            selector={"app": "mr"},
            annotations={**ENABLED, "zen-lead.io/min-ready-duration": "soon"},
        )
    )
    wait_leader(kube, namespace, "mr-leader")
    eventually(lambda: events(kube, namespace, "InvalidAnnotation", "mr"), what="InvalidAnnotation event")


def test_opt_out_and_source_deletion_remove_what_zen_lead_owned(
    kube: Client, namespace: str, controller: ControllerProcess
) -> None:
    pods_for(kube, namespace, "a")
    kube.create(service("a", namespace, selector={"app": "a"}, annotations=ENABLED))
    kube.create(service("b", namespace, selector={"app": "a"}, annotations=ENABLED))
    wait_leader(kube, namespace, "a-leader")
    wait_leader(kube, namespace, "b-leader")
    kube.patch(
        Service, "a", namespace=namespace, obj={"metadata": {"annotations": {"zen-lead.io/enabled": "false"}}}
    )
    eventually(lambda: gone(kube, Service, "a-leader", namespace), what="a-leader removed on opt-out")
    eventually(lambda: not leader_slices(kube, namespace, "a-leader"), what="a-leader slices removed")
    # "false" is a quiet opt-out. Events are posted in the order they were recorded, off the reconcile:
    # once an Event recorded after the opt-out's pass is visible, any Event of that pass is too.
    kube.patch(Service, "b", namespace=namespace, obj={"metadata": {"annotations": {STICKY: "maybe"}}})
    eventually(lambda: events(kube, namespace, "InvalidAnnotation", "b"), what="the later Event, for b")
    assert not events(kube, namespace, "InvalidAnnotation", "a")
    kube.delete(Service, "b", namespace=namespace)
    eventually(lambda: gone(kube, Service, "b-leader", namespace), what="b-leader removed with its source")
    eventually(lambda: not leader_slices(kube, namespace, "b-leader"), what="b-leader slices removed")


def test_foreign_service_with_the_leader_name_is_left_untouched(
    kube: Client, namespace: str, controller: ControllerProcess
) -> None:
    pods_for(kube, namespace, "db")
    foreign = kube.create(
        Service(
            metadata=ObjectMeta(name="db-leader", namespace=namespace, labels={"owner": "someone-else"}),
            spec=ServiceSpec(ports=[ServicePort(port=5432)]),
        )
    )
    kube.create(service("db", namespace, selector={"app": "db"}, annotations=ENABLED))
    eventually(lambda: events(kube, namespace, "NameConflict", "db"), what="NameConflict event")
    after = kube.get(Service, "db-leader", namespace=namespace)
    assert after.metadata.resourceVersion == foreign.metadata.resourceVersion
    assert not list(
        kube.list(
            EndpointSlice,
            namespace=namespace,
            labels={"endpointslice.kubernetes.io/managed-by": "endpointslice.zen-lead.io"},
        )
    )
    # Once the name is free, the director takes it.
    kube.delete(Service, "db-leader", namespace=namespace)
    wait_leader(kube, namespace, "db-leader")


def test_leader_services_are_never_sources(
    kube: Client, namespace: str, controller: ControllerProcess
) -> None:
    pods_for(kube, namespace, "db", replicas=1)
    kube.create(service("db", namespace, selector={"app": "db"}, annotations=ENABLED))
    leader = wait_leader(kube, namespace, "db-leader")
    eventually(lambda: leader_annotation(kube, namespace, "db-leader") == leader, what="db-leader annotated")
    before = settled(controller.writes, what="the controller's writes (LeaderElected Event)")
    reconciles = controller.metric("zen_lead_reconcile_duration_seconds_count")
    kube.patch(Service, "db-leader", namespace=namespace, obj={"metadata": {"annotations": ENABLED}})
    eventually(
        lambda: controller.metric("zen_lead_reconcile_duration_seconds_count") > reconciles,
        what="the patched leader Service reconciled (as its source's key)",
    )
    assert settled(controller.writes, what="the controller's writes") == before
    assert gone(kube, Service, "db-leader-leader", namespace)


def test_service_types(kube: Client, namespace: str, controller: ControllerProcess) -> None:
    pods_for(kube, namespace, "db", replicas=1)
    kube.create(service("headless", namespace, selector={"app": "db"}, annotations=ENABLED, clusterIP="None"))
    kube.create(service("np", namespace, selector={"app": "db"}, annotations=ENABLED, type="NodePort"))
    kube.create(service("lb", namespace, selector={"app": "db"}, annotations=ENABLED, type="LoadBalancer"))
    kube.create(
        service(
            "lb2",
            namespace,
            selector={"app": "db"},
            type="LoadBalancer",
            annotations={**ENABLED, "zen-lead.io/leader-service-type": "LoadBalancer"},
        )
    )
    for name in ("headless", "np", "lb", "lb2"):
        wait_leader(kube, namespace, f"{name}-leader")
    assert kube.get(Service, "headless-leader", namespace=namespace).spec.clusterIP == "None"
    np_source = kube.get(Service, "np", namespace=namespace)
    np_leader = kube.get(Service, "np-leader", namespace=namespace)
    assert np_leader.spec.type == "ClusterIP"  # no second node port unless asked for
    assert np_leader.spec.ports[0].nodePort is None
    assert np_source.spec.ports[0].nodePort is not None
    assert kube.get(Service, "lb-leader", namespace=namespace).spec.type == "ClusterIP"
    lb2 = kube.get(Service, "lb2-leader", namespace=namespace)
    assert lb2.spec.type == "LoadBalancer"  # a conscious choice
    assert lb2.spec.ports[0].nodePort != kube.get(Service, "lb2", namespace=namespace).spec.ports[0].nodePort


def test_selector_change_moves_the_leader(
    kube: Client, namespace: str, controller: ControllerProcess
) -> None:
    pods_for(kube, namespace, "blue", replicas=1)
    pods_for(kube, namespace, "green", replicas=1)
    kube.create(service("app", namespace, selector={"app": "blue"}, annotations=ENABLED))
    blue = wait_leader(kube, namespace, "app-leader")
    assert blue.startswith("blue-")
    kube.patch(Service, "app", namespace=namespace, obj={"spec": {"selector": {"app": "green"}}})
    green = wait_leader(kube, namespace, "app-leader", not_in={blue})
    assert green.startswith("green-")


def test_concurrent_annotation_updates_yield_one_leader_service(
    kube: Client, namespace: str, controller: ControllerProcess
) -> None:
    pods_for(kube, namespace, "db")
    kube.create(service("db", namespace, selector={"app": "db"}))

    def annotate(index: int) -> None:
        kube.patch(
            Service,
            "db",
            namespace=namespace,
            obj={"metadata": {"annotations": {**ENABLED, f"example.com/touch-{index}": "x"}}},
        )

    threads = [threading.Thread(target=annotate, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    leader = wait_leader(kube, namespace, "db-leader")
    settled(controller.writes, what="the controller's writes")
    leader_services = list(
        kube.list(Service, namespace=namespace, labels={"zen-lead.io/source-service": "db"})
    )
    assert [s.metadata.name for s in leader_services] == ["db-leader"]
    assert len(leader_slices(kube, namespace, "db-leader")) == 1
    # One Service's reconciles never overlap (the queue holds a key back while a worker has it): had two
    # passes run at once, each would have found no leader and elected one, and the recorder would have
    # counted the Event twice. Every pass but the first found the leader routed and wrote nothing.
    [elected] = eventually(lambda: events(kube, namespace, "LeaderElected", "db"), what="LeaderElected")
    assert elected.count == 1, elected
    assert leader in (elected.message or "")
    assert controller.metric("zen_lead_reconcile_errors_total") == 0


def test_many_services_in_one_namespace(kube: Client, namespace: str, controller: ControllerProcess) -> None:
    kube.create(deployment("pool", namespace, replicas=5))
    eventually(lambda: len(ready_pods(kube, namespace, {"app": "pool"})) == 5, what="5 pods")
    names = [f"svc-{index}" for index in range(40)]
    for name in names:
        kube.create(service(name, namespace, selector={"app": "pool"}, annotations=ENABLED))
    for name in names:
        wait_leader(kube, namespace, f"{name}-leader")
    victim = wait_leader(kube, namespace, "svc-0-leader")
    kube.delete(Pod, victim, namespace=namespace)
    for name in names:
        wait_leader(kube, namespace, f"{name}-leader", not_in={victim})


def test_orphans_left_while_the_controller_was_down_are_swept_at_start(
    kube: Client, namespace: str, controller: ControllerProcess
) -> None:
    pods_for(kube, namespace, "db", replicas=1)
    kube.create(service("db", namespace, selector={"app": "db"}, annotations=ENABLED))
    wait_leader(kube, namespace, "db-leader")
    controller.stop()
    # Orphan propagation: the garbage collector strips the ownerReference and keeps the leader Service,
    # so only zen-lead's own start-up sweep can remove it.
    kube.delete(Service, "db", namespace=namespace, cascade=CascadeType.ORPHAN)
    eventually(
        lambda: not kube.get(Service, "db-leader", namespace=namespace).metadata.ownerReferences,
        what="ownerReference removed by the garbage collector",
    )
    controller.start()
    eventually(lambda: gone(kube, Service, "db-leader", namespace), what="orphaned leader Service swept")


def test_external_name_and_selector_less_sources(
    kube: Client, namespace: str, controller: ControllerProcess
) -> None:
    """docs/director.md, "Source types": an ExternalName Service has no pods to lead — it is told so
    (``UnsupportedServiceType``, not an annotation problem) and gets no leader Service; a Service without
    a selector selects no pod — its leader Service routes nowhere (one slice, zero endpoints) and a
    Warning says why."""
    pods_for(kube, namespace, "db", replicas=1)  # pods exist; neither source can select them
    kube.create(
        Service(
            metadata=ObjectMeta(name="ext", namespace=namespace, annotations=ENABLED),
            spec=ServiceSpec(type="ExternalName", externalName="db.example.com"),
        )
    )
    kube.create(service("manual", namespace, selector=None, annotations=ENABLED))
    [warning] = eventually(
        lambda: events(kube, namespace, "UnsupportedServiceType", "ext"), what="ext's Warning"
    )
    assert warning.type == "Warning"
    assert "ExternalName" in (warning.message or "")
    assert not events(kube, namespace, "InvalidAnnotation", "ext")

    eventually(lambda: leader_slices(kube, namespace, "manual-leader"), what="manual's leader slice")
    [slice_] = leader_slices(kube, namespace, "manual-leader")
    assert not slice_.endpoints
    [no_pod] = eventually(lambda: events(kube, namespace, "NoEligiblePod", "manual"), what="manual's Warning")
    assert no_pod.type == "Warning"
    assert "no selector" in (no_pod.message or "")
    settled(controller.writes, what="the controller's writes")
    assert gone(kube, Service, "ext-leader", namespace)
    assert not leader_slices(kube, namespace, "ext-leader")
    assert leader_annotation(kube, namespace, "manual-leader") is None
