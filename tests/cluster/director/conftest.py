"""Fixtures for director tests: a controller per test, scoped to the test's own namespace."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from lightkube import Client
from lightkube.resources.core_v1 import Event, Pod, Service
from lightkube.resources.discovery_v1 import EndpointSlice

from tests.support.controller import ControllerProcess
from tests.support.wait import eventually
from tests.support.workload import pod_ready
from zen_lead.localcluster import ClusterInfo

ENABLED = {"zen-lead.io/enabled": "true"}


@pytest.fixture
def controller(
    cluster: ClusterInfo, namespace: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[ControllerProcess]:
    process = ControllerProcess(
        kubeconfig=cluster.kubeconfig,
        namespace=namespace,
        log_dir=tmp_path,
        extra=["--no-leader-elect", "--node-zones"],
    )
    process.start()
    yield process
    process.stop()
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        print(f"--- controller log ({process.log_path}) ---\n{process.tail(80)}")


def leader_slices(kube: Client, namespace: str, leader_service: str) -> list[EndpointSlice]:
    return list(
        kube.list(EndpointSlice, namespace=namespace, labels={"kubernetes.io/service-name": leader_service})
    )


def leader_annotation(kube: Client, namespace: str, leader_service: str) -> str | None:
    """The pod the leader Service's ``zen-lead.io/leader-pod`` annotation names (None when absent).

    The annotations follow the routing write in a routine pass, so tests wait for them separately.
    """
    annotations = kube.get(Service, leader_service, namespace=namespace).metadata.annotations or {}
    return annotations.get("zen-lead.io/leader-pod")


def leader_endpoints(kube: Client, namespace: str, leader_service: str) -> list[tuple[str, str]]:
    """(pod name, address) of every endpoint in the leader Service's slices."""
    return [
        (ep.targetRef.name, address)
        for s in leader_slices(kube, namespace, leader_service)
        for ep in (s.endpoints or [])
        for address in ep.addresses
    ]


def wait_leader(
    kube: Client, namespace: str, leader_service: str, *, not_in: set[str] | None = None, timeout: float = 20
) -> str:
    """Wait until the leader slices route to exactly one pod (not in ``not_in``); return its name."""

    def check() -> str | None:
        names = {name for name, _ in leader_endpoints(kube, namespace, leader_service)}
        if len(names) == 1 and not (names & (not_in or set())):
            return names.pop()
        return None

    return eventually(check, timeout=timeout, what=f"one leader for {leader_service} (not {not_in})")


def ready_pods(kube: Client, namespace: str, selector: dict[str, str]) -> list[Pod]:
    return [
        p
        for p in kube.list(Pod, namespace=namespace, labels=selector)
        if p.status.phase == "Running"
        and pod_ready(p)
        and p.status.podIP
        and not p.metadata.deletionTimestamp
    ]


def ready_since(pod: Pod) -> datetime:
    """The transition time of the pod's ``Ready=True`` condition."""
    [ready] = [c for c in pod.status.conditions or [] if c.type == "Ready" and c.status == "True"]
    return ready.lastTransitionTime


def restart_ready_clock(kube: Client, namespace: str, names: list[str], *, after: datetime) -> None:
    """Make the pods ``names`` Ready for less time than any pod Ready at ``after``, while they stay Ready:
    their Ready condition gets a new transition time (as after a readiness blip nobody saw). Times have
    one-second resolution, so the wall clock first passes ``after`` by more than a second."""
    time.sleep(max(0.0, (after - datetime.now(UTC)).total_seconds() + 1.1))
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    for name in names:
        # Conditions merge by type; a Ready=True written again keeps its time (as a kubelet keeps it), so
        # the new time is written explicitly, as after a NotReady→Ready blip too short to be seen.
        patch = {
            "status": {
                "conditions": [
                    {"type": kind, "status": "True", "lastTransitionTime": now}
                    for kind in ("ContainersReady", "Ready")
                ]
            }
        }
        kube.patch(Pod.Status, name, namespace=namespace, obj=patch)
    for name in names:
        eventually(
            lambda name=name: ready_since(kube.get(Pod, name, namespace=namespace)) > after,
            what=f"{name}'s new Ready time",
        )


def events(
    kube: Client, namespace: str, reason: str | None = None, involved: str | None = None
) -> list[Event]:
    found = list(kube.list(Event, namespace=namespace))
    return [
        e
        for e in found
        if (reason is None or e.reason == reason) and (involved is None or e.involvedObject.name == involved)
    ]
