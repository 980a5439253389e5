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

import httpx2
import pytest
from lightkube import ApiError, Client
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.apps_v1 import Deployment
from lightkube.resources.core_v1 import Node, Pod
from lightkube.resources.discovery_v1 import EndpointSlice

from tests.cluster.director.conftest import ENABLED, events, ready_pods, ready_since, restart_ready_clock
from tests.support.controller import ControllerProcess
from tests.support.wait import eventually, settled
from tests.support.workload import deployment, service, set_pod_ready
from zen_lead.localcluster import ClusterInfo
from zen_lead.localcluster.components import kwok_component
from zen_lead.localcluster.state import load_layout

pytestmark = pytest.mark.cluster
DEPLOYMENTS = 20
SERVICES_PER_DEPLOYMENT = 3
UNAFFECTED = 5  # Deployments whose leaders live off the victim node
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
    """Records, from a real watch, every leader slice's ready endpoints over time.

    It lists first and watches from the list's resourceVersion, and resumes from the last one it saw
    when the stream breaks, so it misses no change; one it cannot resume (410 Gone) or any other failure
    of its thread is raised when the ``with`` block ends, instead of leaving the checks on a history that
    stopped early."""

    def __init__(self, kube: Client, namespace: str) -> None:
        self.kube = kube
        self.namespace = namespace
        self.history: dict[str, list[tuple[str, ...]]] = {}  # slice name -> ready endpoints, in order
        self.events = 0
        self.error: BaseException | None = None
        self._listed = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @property
    def max_ready(self) -> int:
        return max((len(ready) for states in self.history.values() for ready in states), default=0)

    def _record(self, slice_: EndpointSlice) -> None:
        ready = tuple(sorted(e.targetRef.name for e in slice_.endpoints or [] if e.conditions.ready))
        states = self.history.setdefault(slice_.metadata.name, [])
        if not states or states[-1] != ready:
            states.append(ready)

    def _run(self) -> None:
        try:
            listing = self.kube.list(EndpointSlice, namespace=self.namespace, labels=OWNED)
            for slice_ in listing:
                self._record(slice_)
            version = listing.resourceVersion
            self._listed.set()
            while not self._stop.is_set():
                try:
                    for _, slice_ in self.kube.watch(
                        EndpointSlice, namespace=self.namespace, labels=OWNED, resource_version=version
                    ):
                        version = slice_.metadata.resourceVersion
                        self._record(slice_)
                        self.events += 1
                        if self._stop.is_set():
                            return
                except ApiError as error:
                    if error.status.code == 410:
                        raise  # cannot resume: changes were missed
                except httpx2.HTTPError:
                    pass  # the stream broke: resume from ``version``
        except BaseException as error:
            self.error = error
            self._listed.set()

    def __enter__(self) -> SliceWatcher:
        self._thread.start()
        self._listed.wait(30)
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        assert self.error is None, f"the slice watcher failed: {self.error!r}"
        assert self._thread.is_alive(), "the slice watcher stopped before the test ended"


def leaders(kube: Client, namespace: str) -> dict[str, tuple[str, str]]:
    """Service -> (leader pod, its node), from the leader slices."""
    found = {}
    for slice_ in kube.list(EndpointSlice, namespace=namespace, labels=OWNED):
        for endpoint in slice_.endpoints or []:
            found[slice_.metadata.labels["zen-lead.io/source-service"]] = (
                endpoint.targetRef.name,
                endpoint.nodeName,
            )
    return found


def arrange(kube: Client, namespace: str, pool: Pool) -> dict[str, tuple[str, str]]:
    """60 Services, 45 of them led from the victim ``pool.names[2]`` and 15 from ``pool.names[0]``, with
    two more replicas each spread over the pool — so the victim carries followers of the 15 too.

    The nodes a group must not use are cordoned while the first replica of its Deployments starts, so
    every leader is elected where intended; then each Deployment scales to three (sticky leaders stay)."""
    tag = kube.get(Node, pool.names[0]).metadata.labels[POOL_LABEL]
    groups = {pool.names[2]: range(UNAFFECTED, DEPLOYMENTS), pool.names[0]: range(UNAFFECTED)}
    for home, indices in groups.items():
        for name in pool.names:
            kube.patch(Node, name, obj={"spec": {"unschedulable": name != home}})
        for index in indices:
            workload = deployment(f"d{index}", namespace, replicas=1)
            workload.spec.template.spec.nodeSelector = {POOL_LABEL: tag}
            kube.create(workload)
            for copy in range(SERVICES_PER_DEPLOYMENT):
                kube.create(
                    service(f"s{index}-{copy}", namespace, selector={"app": f"d{index}"}, annotations=ENABLED)
                )
        count = SERVICES_PER_DEPLOYMENT * len(indices)
        eventually(
            lambda home=home, count=count: (
                len([svc for svc, (_, node) in leaders(kube, namespace).items() if node == home]) == count
            ),
            timeout=60,
            what=f"{count} leaders on {home}",
        )
    first = leaders(kube, namespace)
    assert len(first) == DEPLOYMENTS * SERVICES_PER_DEPLOYMENT
    for name in pool.names:
        kube.patch(Node, name, obj={"spec": {"unschedulable": False}})
    for index in range(DEPLOYMENTS):
        kube.patch(Deployment, f"d{index}", namespace=namespace, obj={"spec": {"replicas": 3}})
    pods = eventually(
        lambda: (found := ready_pods(kube, namespace, {})) and len(found) == DEPLOYMENTS * 3 and found,
        timeout=60,
        what="pods ready",
    )
    # Make each unaffected leader the pod Ready the shortest of its Deployment (its Ready condition gets a
    # new transition time, a whole second after every other pod's): from then on only stickiness keeps
    # it, so a controller that re-chose on the burst's follower changes would move it.
    off_victim = sorted({pod for pod, node in first.values() if node != pool.names[2]})
    restart_ready_clock(kube, namespace, off_victim, after=max(ready_since(p) for p in pods))
    settled(lambda: leaders(kube, namespace), what="the leaders after the Ready-time change")
    assert leaders(kube, namespace) == first
    return first


def assert_moved(
    kube: Client,
    namespace: str,
    controller: ControllerProcess,
    watcher: SliceWatcher,
    before: dict[str, tuple[str, str]],
    victim: str,
) -> None:
    affected = {svc for svc, (_, node) in before.items() if node == victim}
    unaffected = {svc: lead for svc, lead in before.items() if svc not in affected}
    assert len(affected) == (DEPLOYMENTS - UNAFFECTED) * SERVICES_PER_DEPLOYMENT
    assert len(unaffected) == UNAFFECTED * SERVICES_PER_DEPLOYMENT

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
    # The victim's pods include followers of the unaffected Services, whose reconciles come from the same
    # burst: once the controller's writes have settled, none of them may have moved — not now, and not
    # at any moment in between (the watcher saw every state of every leader slice).
    settled(controller.writes, quiet=2.0, timeout=60, what="the controller's writes")
    now = leaders(kube, namespace)
    assert {svc: now[svc] for svc in unaffected} == unaffected  # sticky: nobody else moved
    for svc, (pod, _) in unaffected.items():
        assert watcher.history[f"{svc}-leader-ipv4"] == [(pod,)], (svc, watcher.history[f"{svc}-leader-ipv4"])
    assert logged.isdisjoint(unaffected)


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
        assert_moved(kube, namespace, controller, watcher, before, victim)
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
        assert_moved(kube, namespace, controller, watcher, before, victim)
    assert watcher.max_ready == 1
