"""Two controller replicas: only the Lease holder writes; handoff on SIGTERM and on SIGKILL."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from lightkube import Client
from lightkube.models.coordination_v1 import LeaseSpec
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

    # Graceful: SIGTERM drains the workers and releases the Lease; the standby takes the released
    # record at once instead of waiting for it to expire. Judged on the times stored in the Lease: the
    # standby's acquireTime lies less than a lease duration after the last renewal read before the
    # SIGTERM (expected: a retry period plus the drain, about 1 s; waiting out the lease would make it
    # at least LEASE_DURATION).
    last_renewal = lease_spec(kube, namespace).renewTime
    first.stop(signal.SIGTERM)
    assert wait_single_leader([standby], timeout=LEASE_DURATION + 10) is standby  # a hang guard
    taken = lease_spec(kube, namespace)
    assert taken.holderIdentity == identity(standby)
    assert (taken.acquireTime - last_renewal).total_seconds() < LEASE_DURATION
    set_pod_ready(kube, leader_pod, namespace, ready=False)
    leader_pod = wait_leader(kube, namespace, "db-leader", not_in={leader_pod})  # the new leader routes

    # Crash: SIGKILL leaves the Lease held; the next replica waits it out, then takes over.
    replacement = replicas[2].start()
    # a warm standby: synced (start() waited for /readyz) and it has seen who leads
    eventually(
        lambda: any(
            r.get("msg", "").startswith("new leader observed") and r.get("holder") == identity(standby)
            for r in replacement.records()
        ),
        what="the replacement observed the leader",
    )
    assert not leading(replacement)
    standby.stop(signal.SIGKILL)
    killed = lease_spec(kube, namespace)  # nobody can renew or take it yet: its last renewal
    assert killed.holderIdentity == identity(standby)
    assert wait_single_leader([replacement], timeout=LEASE_DURATION + 10) is replacement  # a hang guard
    crashed = lease_spec(kube, namespace)
    assert crashed.holderIdentity == identity(replacement)
    # never before the lease ran out (both times are stamped on this machine's clock, by the writers)
    assert (crashed.acquireTime - killed.renewTime).total_seconds() >= LEASE_DURATION
    assert crashed.leaseTransitions == killed.leaseTransitions + 1
    set_pod_ready(kube, leader_pod, namespace, ready=False)
    wait_leader(kube, namespace, "db-leader", not_in={leader_pod})


def lease_spec(kube: Client, namespace: str) -> LeaseSpec:
    spec = kube.get(Lease, "zen-lead-manager", namespace=namespace).spec
    assert spec is not None
    return spec


def identity(process: ControllerProcess) -> str:
    """The Lease identity the replica announced at start-up."""
    [found] = [str(r["identity"]) for r in process.records() if r.get("msg") == "starting"]
    return found
