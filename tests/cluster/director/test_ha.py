"""Two controller replicas: only the Lease holder writes; handoff on SIGTERM and on SIGKILL."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from lightkube import Client
from lightkube.models.coordination_v1 import LeaseSpec
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.models.rbac_v1 import PolicyRule, RoleRef, Subject
from lightkube.resources.coordination_v1 import Lease
from lightkube.resources.core_v1 import ServiceAccount
from lightkube.resources.rbac_authorization_v1 import ClusterRole, ClusterRoleBinding, Role, RoleBinding

from tests.cluster.director.conftest import ENABLED, leader_slices, ready_pods, wait_leader
from tests.support.controller import ControllerProcess
from tests.support.flows import counted_writes, dispatched
from tests.support.identity import service_account_kubeconfig
from tests.support.wait import eventually, settled
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


RW = ["get", "list", "watch", "create", "patch", "delete"]


def controller_identity(kube: Client, cluster: ClusterInfo, namespace: str, name: str, target: Path) -> Path:
    """A ServiceAccount with what ``zen-lead run --node-zones`` needs in ``namespace``; its kubeconfig."""
    kube.create(ServiceAccount(metadata=ObjectMeta(name=name, namespace=namespace)))
    kube.create(
        Role(
            metadata=ObjectMeta(name=name, namespace=namespace),
            rules=[
                PolicyRule(apiGroups=[""], resources=["services"], verbs=RW),
                PolicyRule(apiGroups=["discovery.k8s.io"], resources=["endpointslices"], verbs=RW),
                PolicyRule(apiGroups=[""], resources=["pods"], verbs=["get", "list", "watch"]),
                PolicyRule(apiGroups=[""], resources=["events"], verbs=["create", "patch"]),
                PolicyRule(
                    apiGroups=["coordination.k8s.io"],
                    resources=["leases"],
                    verbs=["create", "get", "watch", "patch"],
                ),
            ],
        )
    )
    subject = [Subject(kind="ServiceAccount", name=name, namespace=namespace)]
    kube.create(
        RoleBinding(
            metadata=ObjectMeta(name=name, namespace=namespace),
            roleRef=RoleRef(apiGroup="rbac.authorization.k8s.io", kind="Role", name=name),
            subjects=subject,
        )
    )
    nodes = f"zl-nodes-{namespace}"[:63]
    kube.create(
        ClusterRole(
            metadata=ObjectMeta(name=nodes),
            rules=[PolicyRule(apiGroups=[""], resources=["nodes"], verbs=["get", "list", "watch"])],
        )
    )
    kube.create(
        ClusterRoleBinding(
            metadata=ObjectMeta(name=nodes),
            roleRef=RoleRef(apiGroup="rbac.authorization.k8s.io", kind="ClusterRole", name=nodes),
            subjects=subject,
        )
    )
    return service_account_kubeconfig(kube, cluster, namespace=namespace, name=name, target=target)


def test_a_leader_that_cannot_renew_writes_nothing_after_its_lease_could_expire(
    kube: Client, cluster: ClusterInfo, namespace: str, tmp_path: Path
) -> None:
    """docs/deployment.md: "a leader that cannot renew for renewDeadline stops writing before its Lease
    can expire for the standby". The leader is paused (SIGSTOP) past its lease; the standby takes over
    and moves a leader; the old leader is resumed. Its write requests are counted by the apiserver
    (a FlowSchema of its own ServiceAccount): none may come after the pause.

    So that a stale writer would have something to write, the two replicas differ in one flag: the
    paused one fills endpoint zones (--node-zones), the standby does not, and rewrites the slices
    without them when it takes over."""
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
    account = "paused"
    kubeconfig = controller_identity(kube, cluster, namespace, account, tmp_path / "paused.kubeconfig")
    schema = f"zl-writes-{namespace}"[:63]
    try:
        with counted_writes(kube, name=schema, namespace=namespace, account=account):
            kube.create(deployment("db", namespace, replicas=3))
            eventually(lambda: len(ready_pods(kube, namespace, {"app": "db"})) == 3, what="3 pods")
            kube.create(service("db", namespace, selector={"app": "db"}, annotations=ENABLED))
            paused = ControllerProcess(
                kubeconfig=kubeconfig,
                namespace=namespace,
                log_dir=tmp_path,
                extra=[*timing, "--node-zones"],
                name="paused",
            ).start()
            standby = ControllerProcess(
                kubeconfig=cluster.kubeconfig,
                namespace=namespace,
                log_dir=tmp_path,
                extra=timing,
                name="standby",
            )
            try:
                assert wait_single_leader([paused]) is paused
                standby.start()
                eventually(
                    lambda: any(
                        r.get("msg", "").startswith("new leader observed") for r in standby.records()
                    ),
                    what="the standby observed the leader",
                )
                leader_pod = wait_leader(kube, namespace, "db-leader")
                eventually(
                    lambda: None not in (found := zones(kube, namespace)) and found, what="zones written"
                )
                settled(paused.writes, what="the leader's writes")
                assert dispatched(cluster.kubeconfig, schema) > 0  # its writes so far are counted

                assert paused.proc is not None
                paused.proc.send_signal(signal.SIGSTOP)
                try:
                    before = dispatched(cluster.kubeconfig, schema)
                    assert wait_single_leader([standby], timeout=LEASE_DURATION + 10) is standby
                    set_pod_ready(kube, leader_pod, namespace, ready=False)
                    moved = wait_leader(kube, namespace, "db-leader", not_in={leader_pod})
                    eventually(
                        lambda: zones(kube, namespace) == {None}, what="the standby's slice, without zone"
                    )
                finally:
                    paused.proc.send_signal(signal.SIGCONT)
                eventually(
                    lambda: paused.metric("zen_lead_is_leader") == 0, what="the old leader stepped down"
                )
                eventually(
                    lambda: any(r.get("msg", "").startswith("lost leadership") for r in paused.records()),
                    what="the old leader reports the loss",
                )
                # its informers have caught up (they saw the standby's slice) and everything settled
                eventually(
                    lambda: paused.metric("zen_lead_cached_objects", resource="endpointslices") >= 1,
                    what="the old leader's caches",
                )
                settled(
                    lambda: dispatched(cluster.kubeconfig, schema), quiet=3.0, what="the old leader's writes"
                )
                assert dispatched(cluster.kubeconfig, schema) == before
                assert wait_leader(kube, namespace, "db-leader") == moved
                assert zones(kube, namespace) == {None}
            finally:
                if paused.proc is not None:
                    paused.proc.send_signal(signal.SIGCONT)  # never leave it frozen
                paused.stop()
                standby.stop()
    finally:
        nodes = f"zl-nodes-{namespace}"[:63]
        kube.delete(ClusterRoleBinding, nodes)
        kube.delete(ClusterRole, nodes)


def zones(kube: Client, namespace: str) -> set[str | None]:
    return {ep.zone for s in leader_slices(kube, namespace, "db-leader") for ep in s.endpoints or []}
