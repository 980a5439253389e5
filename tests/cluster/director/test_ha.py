"""Two controller replicas: only the Lease holder writes; handoff on SIGTERM and on SIGKILL."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from lightkube import Client
from lightkube.resources.coordination_v1 import Lease

from tests.cluster.director.conftest import ENABLED, ready_pods, wait_leader
from tests.support.controller import ControllerProcess
from tests.support.wait import eventually
from tests.support.workload import deployment, service, set_pod_ready
from zen_lead.localcluster import ClusterInfo

pytestmark = pytest.mark.cluster
LEASE_DURATION, RENEW_DEADLINE, RETRY_PERIOD = 4, 3, 0.5


@pytest.fixture
def replicas(cluster: ClusterInfo, namespace: str, tmp_path: Path) -> Iterator[list[ControllerProcess]]:
    timing = [
        "--lease-duration",
        str(LEASE_DURATION),
        "--renew-deadline",
        str(RENEW_DEADLINE),
        "--retry-period",
        str(RETRY_PERIOD),
        "--leader-election-namespace",
        namespace,
    ]
    processes = [
        ControllerProcess(
            kubeconfig=cluster.kubeconfig,
            namespace=namespace,
            log_dir=tmp_path,
            extra=timing,
            name=f"replica-{index}",
        )
        for index in range(3)
    ]
    for process in processes[:2]:
        process.start()
    yield processes
    for process in processes:
        process.stop()


def leading(process: ControllerProcess) -> bool:
    return (
        process.proc is not None and process.proc.poll() is None and process.metric("zen_lead_is_leader") == 1
    )


def wait_single_leader(processes: list[ControllerProcess], timeout: float = 15) -> ControllerProcess:
    def check() -> ControllerProcess | None:
        alive = [p for p in processes if p.proc is not None and p.proc.poll() is None]
        leaders = [p for p in alive if leading(p)]
        return leaders[0] if len(leaders) == 1 else None

    return eventually(check, timeout=timeout, interval=0.02, what="exactly one leading replica")


def test_only_the_lease_holder_writes_and_handoff_is_fast(
    kube: Client, namespace: str, replicas: list[ControllerProcess]
) -> None:
    first = wait_single_leader(replicas[:2])
    standby = replicas[1] if first is replicas[0] else replicas[0]
    kube.create(deployment("db", namespace, replicas=4))  # three failovers below, one pod left
    eventually(lambda: len(ready_pods(kube, namespace, {"app": "db"})) == 4, what="4 pods")
    kube.create(service("db", namespace, selector={"app": "db"}, annotations=ENABLED))
    leader_pod = wait_leader(kube, namespace, "db-leader")
    set_pod_ready(kube, leader_pod, namespace, ready=False)
    leader_pod = wait_leader(kube, namespace, "db-leader", not_in={leader_pod})
    assert first.writes() > 0
    assert standby.writes() == 0  # the standby watched everything and wrote nothing
    holder = kube.get(Lease, "zen-lead-manager", namespace=namespace).spec.holderIdentity
    assert any(r.get("identity") == holder for r in first.records() if r.get("msg") == "starting")

    # Graceful: SIGTERM releases the Lease after draining; the standby leads within a retry period.
    stopped = time.monotonic()
    first.stop(signal.SIGTERM)
    assert wait_single_leader([standby], timeout=5) is standby
    handoff = time.monotonic() - stopped
    assert handoff < 2.0, f"graceful handoff took {handoff:.2f}s"
    set_pod_ready(kube, leader_pod, namespace, ready=False)
    leader_pod = wait_leader(kube, namespace, "db-leader", not_in={leader_pod})  # the new leader routes

    # Crash: SIGKILL leaves the Lease held; the next replica waits it out, then takes over.
    replacement = replicas[2].start()
    time.sleep(RETRY_PERIOD * 3)  # the replacement is a warm standby now
    assert not leading(replacement)
    killed = time.monotonic()
    standby.stop(signal.SIGKILL)
    assert wait_single_leader([replacement], timeout=LEASE_DURATION + 5) is replacement
    takeover = time.monotonic() - killed
    assert takeover <= LEASE_DURATION + RETRY_PERIOD * 2.2 + 1.0, f"crash takeover took {takeover:.2f}s"
    set_pod_ready(kube, leader_pod, namespace, ready=False)
    wait_leader(kube, namespace, "db-leader", not_in={leader_pod})
