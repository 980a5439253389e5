"""What the controller's metrics mean, on the real controller (docs/director.md, "Metrics"): not only
that the names exist (tests/cluster/deploy/test_monitoring.py), but that the values are right.

- ``zen_lead_eligible_pods{namespace, service}``: the Service's eligible pods, following changes;
- ``zen_lead_services_without_leader{namespace}``: opted-in Services routing to no pod;
- ``zen_lead_failover_latency_seconds``: from the watch event that triggered the failover to the slice
  write, so never longer than from the test's triggering write to the test seeing the count move;
- the series of a deleted Service are removed.
"""

from __future__ import annotations

import re
import time

import pytest
from lightkube import Client
from lightkube.resources.core_v1 import Service

from tests.cluster.director.conftest import ENABLED, ready_pods, wait_leader
from tests.support.controller import ControllerProcess
from tests.support.wait import eventually
from tests.support.workload import deployment, service, set_pod_ready

pytestmark = pytest.mark.cluster


def series(controller: ControllerProcess, service_name: str) -> list[str]:
    """Every sample line of /metrics that carries ``service="<service_name>"``."""
    label = re.compile(rf'[{{,]service="{re.escape(service_name)}"[,}}]')
    return [
        line for line in controller.metrics().splitlines() if not line.startswith("#") and label.search(line)
    ]


def test_metric_values_follow_what_happens(
    kube: Client, namespace: str, controller: ControllerProcess
) -> None:
    kube.create(deployment("db", namespace, replicas=3))
    eventually(lambda: len(ready_pods(kube, namespace, {"app": "db"})) == 3, what="3 pods")
    for name in ("db", "other"):
        kube.create(service(name, namespace, selector={"app": "db"}, annotations=ENABLED))
    kube.create(service("lonely", namespace, selector={"app": "nobody"}, annotations=ENABLED))
    leader = wait_leader(kube, namespace, "db-leader")
    assert wait_leader(kube, namespace, "other-leader") == leader  # the same pods, the same choice

    def gauge(name: str, **labels: str) -> float:
        return controller.metric(name, namespace=namespace, **labels)

    eventually(lambda: gauge("zen_lead_eligible_pods", service="db") == 3, what="3 eligible pods")
    eventually(lambda: gauge("zen_lead_services_without_leader") == 1, what="lonely counted without leader")
    assert gauge("zen_lead_eligible_pods", service="lonely") == 0

    # One failover per Service the pod led, each measured from the watch event the test's write caused.
    count = gauge("zen_lead_failover_latency_seconds_count")
    total = gauge("zen_lead_failover_latency_seconds_sum")
    triggered = time.monotonic()
    set_pod_ready(kube, leader, namespace, ready=False)
    eventually(lambda: gauge("zen_lead_failover_latency_seconds_count") == count + 2, what="two failovers")
    seen = time.monotonic()
    measured = gauge("zen_lead_failover_latency_seconds_sum") - total
    # Causality, no tolerance: the event came after the write began, the slice write before we saw it.
    assert 0 < measured <= 2 * (seen - triggered), (measured, seen - triggered)
    assert gauge("zen_lead_eligible_pods", service="db") == 2
    assert gauge("zen_lead_leader_changes_total", service="db") >= 2  # elected, then changed

    # Deleted Services leave no series behind; the Service without leader is no longer counted.
    assert series(controller, "other")
    kube.delete(Service, "other", namespace=namespace)
    kube.delete(Service, "lonely", namespace=namespace)
    eventually(lambda: not series(controller, "other"), what="other's series removed")
    eventually(lambda: gauge("zen_lead_services_without_leader") == 0, what="lonely no longer counted")
    assert not series(controller, "lonely")
    assert series(controller, "db")  # the remaining Service keeps its own
