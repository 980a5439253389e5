"""What every benchmark of a run shares: the cluster, the harness's client, identities, logs, the profile."""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass, field
from pathlib import Path

from bench.controller import Controller
from bench.kube import Kube
from bench.observer import LEADER_SUFFIX, ZEN, Endpoint, SliceObserver
from bench.profiles import Profile
from bench.solo import SoloNode
from bench.workload import Workload

log = logging.getLogger("bench")
CONTROLLER_IDENTITY = "zen-lead"
CONVERGE_TIMEOUT = 600.0


@dataclass
class Context:
    profile: Profile
    kube: Kube
    admin_kubeconfig: Path
    controller_kubeconfig: Path
    nodes: list[str]  # the cluster's nodes; nodes[0] is victim A of the node benchmarks
    logs: Path
    solo: SoloNode | None = None  # victim B: a node whose heartbeat the harness can stop
    rng: random.Random = field(default_factory=lambda: random.Random(6))
    controllers: list[Controller] = field(default_factory=list)  # every one started: stopped at the end

    def controller(self, namespace: str, name: str, *, extra: tuple[str, ...] = ()) -> Controller:
        made = Controller(
            kubeconfig=self.controller_kubeconfig, namespace=namespace, logs=self.logs, name=name, extra=extra
        )
        self.controllers.append(made)
        return made

    def observer(self, namespace: str) -> SliceObserver:
        return SliceObserver(self.admin_kubeconfig, namespace, self.logs / f"watch-slices-{namespace}.log")


def converged(observer: SliceObserver, workload: Workload) -> bool:
    """Every Service routes to exactly one ready pod of its own (call from ``wait_until``)."""
    for service in workload.services:
        leader = observer.leader(service)
        if leader is None or workload.service_of(leader.pod) != service:
            return False
    return True


async def wait_converged(
    observer: SliceObserver, workload: Workload, *, since: int, seconds: float = CONVERGE_TIMEOUT
) -> float:
    """Wait until converged; return when the last Service first routed to one pod of its own
    (arrival time of that record, counting records from sequence ``since`` on)."""
    if not await observer.wait_until(lambda: converged(observer, workload), seconds):
        missing = [s for s in workload.services if observer.snapshot_leaders([s])[s] is None]
        raise RuntimeError(f"{len(missing)} Services without one leader after {seconds:.0f}s: {missing[:5]}")
    latest = 0.0
    for service in workload.services:

        def routed(endpoints: list[Endpoint], service: str = service) -> bool:
            ready = [e for e in endpoints if e.ready]
            return len(ready) == 1 and workload.service_of(ready[0].pod) == service

        found = observer.first_time(service + LEADER_SUFFIX, managed_by=ZEN, since=since, test=routed)
        if found is not None:
            latest = max(latest, found)
    return latest  # 0.0: every Service already routed before ``since``
