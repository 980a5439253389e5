"""The measured workload: S annotated Services, each selecting P pods of its own, placed on nodes.

Pods are created by the harness with ``spec.nodeName`` set (kwok runs them), not by Deployments: the
ReplicaSet controller creates pods through kube-controller-manager's client at its default 20 QPS —
measured here at ~17 pods/s, ten minutes for 10,000 pods — while the harness creates them concurrently
at ~60 pods/s on this machine, and chooses where each pod (and so each first leader) runs. Neither
controller under test reads owner references, so nothing they do differs. When a trial deletes a pod,
the harness creates its replacement (as a ReplicaSet would), after the measurement.

Placement: pod ``j`` of Service ``i`` on node ``(i + j) mod N`` (each Service's pods on distinct nodes).
For the node benchmarks (``victims``), pod 0 of the first half of the Services runs on victim A and pod
0 of the second half on victim B (a node with a kwok process of its own, ``bench.solo``, so that its
heartbeat can be stopped); the other pods avoid both. Pod 0 is created (and Ready) more than a
second before its siblings, so it is elected first: zen-lead keeps the pod Ready the longest. Every node
then carries about the same number of pods (S/2 on each victim, S*(P-1)/(N-1) elsewhere) and the victims
carry one leader per pod — the worst case for a node death, as in issue 8's measurement.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.kube import Kube, bounded
from bench.observer import PodObserver

log = logging.getLogger("bench")
APP_LABEL = "app"
ENABLED_ANNOTATION = "zen-lead.io/enabled"
READY_TIMEOUT = 900.0


def service_name(index: int) -> str:
    return f"s{index:04d}"


@dataclass(slots=True)
class Workload:
    namespace: str
    services: list[str]
    pods: dict[str, list[str]]  # service -> its pods (current names)
    node_of: dict[str, str]  # pod -> node
    victims: tuple[str, ...] = ()
    _generation: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def pod_count(self) -> int:
        return sum(len(p) for p in self.pods.values())

    def service_of(self, pod: str) -> str:
        return pod.split("-", 1)[0]

    def replacement_name(self, pod: str) -> str:
        base = pod.split("-r", 1)[0]
        return f"{base}-r{next(self._generation)}"


def spread(services: int, pods: int, nodes: list[str]) -> dict[str, list[tuple[str, str]]]:
    """service -> [(pod, node)], pod j of Service i on node (i + j) mod N."""
    return {
        service_name(i): [(f"{service_name(i)}-{j}", nodes[(i + j) % len(nodes)]) for j in range(pods)]
        for i in range(services)
    }


def with_victims(
    services: int, pods: int, victims: tuple[str, str], others: list[str]
) -> dict[str, list[tuple[str, str]]]:
    """Pod 0 of the first half on victims[0], of the second half on victims[1]; the rest on ``others``."""
    if not others:
        raise ValueError("the node benchmarks need nodes besides the two victims")
    plan = {}
    for i in range(services):
        name = service_name(i)
        first = (f"{name}-0", victims[0] if i < services / 2 else victims[1])
        rest = [(f"{name}-{j}", others[(i + j) % len(others)]) for j in range(1, pods)]
        plan[name] = [first, *rest]
    return plan


def service_manifest(namespace: str, name: str) -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": namespace, "annotations": {ENABLED_ANNOTATION: "true"}},
        "spec": {
            "selector": {APP_LABEL: name},
            "ports": [{"name": "http", "port": 80, "targetPort": "http"}],
        },
    }


def pod_manifest(namespace: str, name: str, service: str, node: str) -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": {APP_LABEL: service}},
        "spec": {
            "nodeName": node,
            "containers": [
                {
                    "name": "app",
                    "image": "example.invalid/app:1",
                    "ports": [{"name": "http", "containerPort": 8080}],
                }
            ],
        },
    }


async def create_pods(
    kube: Kube, namespace: str, pods: list[tuple[str, str, str]], *, concurrency: int
) -> None:
    """Create (pod, service, node) triples concurrently."""

    async def one(item: tuple[str, str, str]) -> None:
        pod, service, node = item
        await kube.create(
            f"/api/v1/namespaces/{namespace}/pods",
            pod_manifest(namespace, pod, service, node),
            resource="pods",
        )

    await bounded(pods, one, concurrency=concurrency)


async def build(
    kube: Kube,
    *,
    namespace: str,
    plan: dict[str, list[tuple[str, str]]],
    kubeconfig: Path,
    logs: Path,
    concurrency: int,
    victims: tuple[str, ...] = (),
) -> Workload:
    """Create the namespace, the Services and their pods (pod 0 of each first); wait until all are Ready."""
    started = time.monotonic()
    await kube.create_namespace(namespace)
    await bounded(
        list(plan),
        lambda name: kube.create(
            f"/api/v1/namespaces/{namespace}/services", service_manifest(namespace, name), resource="services"
        ),
        concurrency=concurrency,
    )
    pods = PodObserver(kubeconfig, namespace, None, logs / f"watch-pods-{namespace}.log")
    await pods.start()
    try:
        first = [(placed[0][0], name, placed[0][1]) for name, placed in plan.items()]
        rest = [(pod, name, node) for name, placed in plan.items() for pod, node in placed[1:]]
        await create_pods(kube, namespace, first, concurrency=concurrency)
        await _wait_ready(pods, {pod for pod, _, _ in first})
        await asyncio.sleep(1.1)  # Ready-since has whole-second resolution: pod 0 must be strictly older
        await create_pods(kube, namespace, rest, concurrency=concurrency)
        await _wait_ready(pods, {pod for pod, _, _ in first + rest})
    finally:
        pods.stop()
    log.info(
        "workload %s ready: %d services, %d pods in %.1fs",
        namespace,
        len(plan),
        sum(len(p) for p in plan.values()),
        time.monotonic() - started,
    )
    return Workload(
        namespace=namespace,
        services=list(plan),
        pods={name: [pod for pod, _ in placed] for name, placed in plan.items()},
        node_of={pod: node for placed in plan.values() for pod, node in placed},
        victims=victims,
    )


async def _wait_ready(pods: PodObserver, names: set[str]) -> None:
    def done() -> bool:
        return pods.ready_count >= len(names) and all(pods.ready.get(n) for n in names)

    if not await pods.wait_until(done, READY_TIMEOUT):
        missing = sum(1 for n in names if not pods.ready.get(n))
        raise RuntimeError(f"{missing} of {len(names)} pods not Ready after {READY_TIMEOUT:.0f}s")
