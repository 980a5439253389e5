"""The failover lane on the real controller (docs/director.md, "The engine"; docs/decisions.md):
routing first. When a pod that leads many Services stops being Ready while routine work is waiting,
every failover's EndpointSlice write lands before any leader-Service metadata (annotations), before
routine work (a new Service's leader Service) and before any Event.

The order is read from the apiserver: on this one-etcd cluster a resourceVersion is etcd's revision,
one counter for every write, so comparing them orders writes across resources. To make the failovers
and the routine work arrive together, the controller is frozen (SIGSTOP) while both are caused, and
thawed: its watches then deliver them in one go.
"""

from __future__ import annotations

import signal

import pytest
from lightkube import Client
from lightkube.resources.core_v1 import Event, Service
from lightkube.resources.discovery_v1 import EndpointSlice

from tests.cluster.director.conftest import ENABLED, leader_annotation, ready_pods, wait_leader
from tests.support import history
from tests.support.controller import ControllerProcess
from tests.support.wait import eventually, settled
from tests.support.workload import deployment, service, set_pod_ready
from zen_lead.constants import EVENT_SOURCE_COMPONENT

pytestmark = pytest.mark.cluster
SERVICES = [f"s{index}" for index in range(8)]


class Writes(history.Writes):
    def __init__(self, kube: Client, namespace: str) -> None:
        super().__init__(kube, namespace, (Service, EndpointSlice, Event))


def ours(write: history.Write) -> bool:
    """An Event zen-lead created (not another component's, not a later count update)."""
    return write.type == "ADDED" and write.obj.reportingComponent == EVENT_SOURCE_COMPONENT


def test_failover_slices_land_before_metadata_routine_work_and_events(
    kube: Client, namespace: str, controller: ControllerProcess
) -> None:
    kube.create(deployment("db", namespace, replicas=3))
    eventually(lambda: len(ready_pods(kube, namespace, {"app": "db"})) == 3, what="3 pods")
    for name in SERVICES:
        kube.create(service(name, namespace, selector={"app": "db"}, annotations=ENABLED))
    leaders = {wait_leader(kube, namespace, f"{name}-leader") for name in SERVICES}
    assert len(leaders) == 1  # one pod leads all eight (the one Ready longest)
    [leader] = leaders
    eventually(
        lambda: all(leader_annotation(kube, namespace, f"{name}-leader") == leader for name in SERVICES),
        what="the leader Services annotated",
    )
    settled(controller.writes, what="the controller's writes")

    with Writes(kube, namespace) as writes:
        assert controller.proc is not None
        controller.proc.send_signal(signal.SIGSTOP)
        try:
            set_pod_ready(kube, leader, namespace, ready=False)  # eight failovers
            kube.create(service("late", namespace, selector={"app": "db"}, annotations=ENABLED))  # routine
            eventually(  # both are stored, so the controller's watches hold them when it thaws
                lambda: writes.of("Service") and any(w.name == "late" for w in writes.of("Service")),
                what="the new Service stored",
            )
            frozen_until = max(w.revision for w in writes.seen)
        finally:
            controller.proc.send_signal(signal.SIGCONT)
        moved = {f"{name}-leader" for name in SERVICES}
        wait_leader(kube, namespace, "late-leader")
        for name in moved:
            wait_leader(kube, namespace, name, not_in={leader})
        eventually(
            lambda: all(leader_annotation(kube, namespace, name) not in (None, leader) for name in moved),
            what="the annotations follow",
        )
        eventually(
            lambda: len([w for w in writes.of("Event", after=frozen_until) if ours(w)]) >= len(SERVICES) + 1,
            what="a LeaderChanged Event per failover and late's LeaderElected",
        )
        settled(controller.writes, what="the controller's writes")

    failovers = [
        w
        for w in writes.of("EndpointSlice", after=frozen_until)
        if w.name.removesuffix("-ipv4") in moved and w.type == "MODIFIED"
    ]
    assert {w.name for w in failovers} == {f"{name}-ipv4" for name in moved}
    last_failover = max(w.revision for w in failovers)
    metadata = [w for w in writes.of("Service", after=frozen_until) if w.name in moved]
    assert metadata, "no leader Service metadata written after the failovers"
    assert min(w.revision for w in metadata) > last_failover, "metadata written while failovers were pending"
    [late] = [
        w for w in writes.of("Service", after=frozen_until) if w.name == "late-leader" and w.type == "ADDED"
    ]
    assert late.revision > last_failover, "routine work (a new Service) went before the failovers"
    posted = [w for w in writes.of("Event", after=frozen_until) if ours(w)]
    assert min(w.revision for w in posted) > last_failover, "an Event was posted while failovers were pending"
