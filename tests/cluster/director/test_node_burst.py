"""A node dies: every Service whose leader lived there moves, none ever routes to two pods.

Scaled down from the benchmark (60 Services over 3 dedicated nodes). Two ways the node's pods go
NotReady: all at once through the status subresource (what a burst of kubelet reports looks like), and
the realistic path — the node stops heartbeating, and the node lifecycle controller marks its pods.
"""

from __future__ import annotations

import secrets
import socket
import subprocess
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
from lightkube import Client
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.apps_v1 import Deployment
from lightkube.resources.core_v1 import Node, Pod
from lightkube.resources.discovery_v1 import EndpointSlice

from tests.cluster.director.conftest import ENABLED, events, ready_pods
from tests.support.controller import ControllerProcess
from tests.support.wait import eventually
from tests.support.workload import deployment, service, set_pod_ready
from zen_lead.localcluster import ClusterInfo
from zen_lead.localcluster.components import kwok_component
from zen_lead.localcluster.state import load_layout

pytestmark = pytest.mark.cluster
DEPLOYMENTS = 20
SERVICES_PER_DEPLOYMENT = 3
POOL_LABEL = "zen-lead.io/test-pool"
OWNED = {"app.kubernetes.io/managed-by": "zen-lead"}


@dataclass
class Pool:
    names: list[str]
    kubelet: subprocess.Popen[bytes]  # the kwok process that alone simulates names[2]


@pytest.fixture
def pool(kube: Client, cluster: ClusterInfo, tmp_path: Path) -> Iterator[Pool]:
    """Three kwok nodes of this test's own, so killing one disturbs no other test. The last one is
    simulated by a kwok process of its own (its "kubelet"), which a test may kill."""
    tag = secrets.token_hex(3)
    names = [f"zl-pool-{tag}-{index}" for index in range(3)]
    solo = f"solo-{tag}"
    layout = load_layout(cluster.state)
    argv = kwok_component(layout, node_selector=solo, port=free_port(), cidr="10.245.0.1/16").argv
    with open(tmp_path / "kwok-solo.log", "wb") as log:
        kubelet = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
    for index, name in enumerate(names):
        kube.create(
            Node(
                metadata=ObjectMeta(
                    name=name,
                    annotations={"kwok.x-k8s.io/node": solo if index == 2 else "fake"},
                    labels={
                        POOL_LABEL: tag,
                        "topology.kubernetes.io/zone": f"zone-{'abc'[index]}",
                        "type": "kwok",
                    },
                )
            )
        )
    try:
        eventually(
            lambda: all(
                any(c.type == "Ready" and c.status == "True" for c in (n.status.conditions or []))
                for n in (kube.get(Node, name) for name in names)
            ),
            what="pool nodes Ready",
        )
        yield Pool(names, kubelet)
    finally:
        kubelet.kill()
        kubelet.wait()
        for name in names:
            kube.delete(Node, name)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class SliceWatcher:
    """Records, from a real watch, the most ready endpoints any leader slice ever held at once."""

    def __init__(self, kube: Client, namespace: str) -> None:
        self.kube = kube
        self.namespace = namespace
        self.max_ready = 0
        self.events = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            for _, slice_ in self.kube.watch(
                EndpointSlice, namespace=self.namespace, labels={"app.kubernetes.io/managed-by": "zen-lead"}
            ):
                ready = sum(1 for e in (slice_.endpoints or []) if e.conditions.ready)
                self.max_ready = max(self.max_ready, ready)
                self.events += 1
                if self._stop.is_set():
                    return

    def __enter__(self) -> SliceWatcher:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()


def leaders(kube: Client, namespace: str) -> dict[str, tuple[str, str]]:
    """Service -> (leader pod, its node), from the leader slices."""
    found = {}
    for slice_ in kube.list(
        EndpointSlice, namespace=namespace, labels={"app.kubernetes.io/managed-by": "zen-lead"}
    ):
        for endpoint in slice_.endpoints or []:
            found[slice_.metadata.labels["zen-lead.io/source-service"]] = (
                endpoint.targetRef.name,
                endpoint.nodeName,
            )
    return found


def arrange(kube: Client, namespace: str, pool: Pool) -> dict[str, tuple[str, str]]:
    """60 Services whose leaders all live on ``pool.names[2]``, with two more replicas each elsewhere.

    The other nodes are cordoned while the first replica of each Deployment starts, so every leader is
    elected on the victim node; then each Deployment scales to three (sticky leaders stay put)."""
    tag = kube.get(Node, pool.names[0]).metadata.labels[POOL_LABEL]
    for name in pool.names[:2]:
        kube.patch(Node, name, obj={"spec": {"unschedulable": True}})
    for index in range(DEPLOYMENTS):
        workload = deployment(f"d{index}", namespace, replicas=1)
        workload.spec.template.spec.nodeSelector = {POOL_LABEL: tag}
        kube.create(workload)
        for copy in range(SERVICES_PER_DEPLOYMENT):
            kube.create(
                service(f"s{index}-{copy}", namespace, selector={"app": f"d{index}"}, annotations=ENABLED)
            )
    total = DEPLOYMENTS * SERVICES_PER_DEPLOYMENT
    first = eventually(
        lambda: (found := leaders(kube, namespace)) and len(found) == total and found,
        timeout=60,
        what=f"{total} leaders",
    )
    assert {node for _, node in first.values()} == {pool.names[2]}
    for name in pool.names[:2]:
        kube.patch(Node, name, obj={"spec": {"unschedulable": False}})
    for index in range(DEPLOYMENTS):
        kube.patch(Deployment, f"d{index}", namespace=namespace, obj={"spec": {"replicas": 3}})
    eventually(lambda: len(ready_pods(kube, namespace, {})) == DEPLOYMENTS * 3, timeout=60, what="pods ready")
    assert leaders(kube, namespace) == first
    return first


def assert_moved(
    kube: Client,
    namespace: str,
    controller: ControllerProcess,
    before: dict[str, tuple[str, str]],
    victim: str,
) -> None:
    affected = {svc for svc, (_, node) in before.items() if node == victim}
    assert affected, "the scheduler put no leader on the victim node"

    def moved() -> bool:
        now = leaders(kube, namespace)
        return all(svc in now and now[svc][1] != victim for svc in affected)

    eventually(moved, timeout=60, what=f"{len(affected)} leaders moved off {victim}")
    eventually(
        lambda: affected <= {e.involvedObject.name for e in events(kube, namespace, "LeaderChanged")},
        what="a LeaderChanged Event for each move (recorded off the critical path)",
    )
    logged = {r.get("service") for r in controller.records() if r.get("reason") == "LeaderChanged"}
    assert affected <= logged
    unaffected = {svc: lead for svc, lead in before.items() if svc not in affected}
    now = leaders(kube, namespace)
    assert {svc: now[svc] for svc in unaffected} == unaffected  # sticky: nobody else moved


def test_all_pods_of_a_node_not_ready_at_once(
    kube: Client, namespace: str, pool: Pool, controller: ControllerProcess
) -> None:
    before = arrange(kube, namespace, pool)
    victim = pool.names[2]
    with SliceWatcher(kube, namespace) as watcher:
        doomed = [
            p.metadata.name for p in kube.list(Pod, namespace=namespace, fields={"spec.nodeName": victim})
        ]
        with ThreadPoolExecutor(16) as writers:
            list(writers.map(lambda name: set_pod_ready(kube, name, namespace, ready=False), doomed))
        assert_moved(kube, namespace, controller, before, victim)
    assert watcher.events > 0
    assert watcher.max_ready == 1


def test_node_heartbeat_stops(
    kube: Client, namespace: str, pool: Pool, controller: ControllerProcess
) -> None:
    before = arrange(kube, namespace, pool)
    victim = pool.names[2]
    with SliceWatcher(kube, namespace) as watcher:
        # The node's "kubelet" dies: no more Lease renewals; the node lifecycle controller declares the node
        # unreachable after its grace period (20 s on the local cluster) and marks every pod on it NotReady.
        pool.kubelet.kill()
        assert_moved(kube, namespace, controller, before, victim)
    assert watcher.max_ready == 1
