"""No writes when nothing changed: after a restart, and over a quiet minute (no polling either)."""

from __future__ import annotations

import time

import pytest
from lightkube import Client
from lightkube.resources.core_v1 import Service
from lightkube.resources.discovery_v1 import EndpointSlice

from tests.cluster.director.conftest import ENABLED, leader_annotation, ready_pods, wait_leader
from tests.support.controller import ControllerProcess
from tests.support.wait import eventually
from tests.support.workload import deployment, service

pytestmark = pytest.mark.cluster


def versions(kube: Client, namespace: str) -> dict[str, str]:
    """resourceVersions of every object zen-lead owns here: the apiserver's own record of writes."""
    owned = list(kube.list(Service, namespace=namespace, labels={"app.kubernetes.io/managed-by": "zen-lead"}))
    owned += list(
        kube.list(EndpointSlice, namespace=namespace, labels={"app.kubernetes.io/managed-by": "zen-lead"})
    )
    return {f"{type(o).__name__}/{o.metadata.name}": str(o.metadata.resourceVersion) for o in owned}


def test_restart_with_nothing_changed_and_a_quiet_minute_write_nothing(
    kube: Client, namespace: str, controller: ControllerProcess
) -> None:
    kube.create(deployment("db", namespace, replicas=3))
    eventually(lambda: len(ready_pods(kube, namespace, {"app": "db"})) == 3, what="3 pods")
    for index in range(5):
        kube.create(service(f"db-{index}", namespace, selector={"app": "db"}, annotations=ENABLED))
    leaders = {f"db-{i}-leader": wait_leader(kube, namespace, f"db-{i}-leader") for i in range(5)}
    # the leader Services' annotations follow the slice writes: wait until they too are in place
    eventually(
        lambda: all(leader_annotation(kube, namespace, name) == pod for name, pod in leaders.items()),
        what="the five leader Services annotated",
    )
    before = versions(kube, namespace)
    assert len(before) == 10

    controller.stop()
    controller.start()
    eventually(lambda: controller.metric("zen_lead_reconcile_duration_seconds_count") >= 5, what="first pass")
    assert controller.writes() == 0
    assert versions(kube, namespace) == before

    requests = controller.requests_but_leases()  # the manager Lease is renewed every retry period
    time.sleep(60)
    assert controller.requests_but_leases() == requests  # no writes, and no polling reads
    assert versions(kube, namespace) == before
