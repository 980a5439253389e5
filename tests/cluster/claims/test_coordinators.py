"""Three claim coordinators (the example's) on the real cluster: one leads and places claims in
priority order; no host ever gets two consumers, no machine holds two hosts (checked on every
version the apiserver served, in revision order); the metrics move."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml  # type: ignore[import-untyped]
from lightkube import Client
from lightkube.generic_resource import create_namespaced_resource
from lightkube.resources.apiextensions_v1 import CustomResourceDefinition
from lightkube.resources.coordination_v1 import Lease

from tests.support.wait import eventually
from zen_lead.localcluster import ClusterInfo

pytestmark = pytest.mark.cluster
EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "claims"
Host = create_namespaced_resource("metal.example.kube-zen.io", "v1alpha1", "Host", "hosts")
Machine = create_namespaced_resource("metal.example.kube-zen.io", "v1alpha1", "Machine", "machines")
FAST = [
    "--enable-claim-coordinator-leader-election",
    "--claim-coordinator-lease-duration=4s",
    "--claim-coordinator-renew-deadline=3s",
    "--claim-coordinator-retry-period=500ms",
]


@pytest.fixture(scope="session")
def metal_crds(kube: Client) -> None:
    for manifest in yaml.safe_load_all((EXAMPLE / "crds.yaml").read_text()):
        kube.apply(CustomResourceDefinition.from_dict(manifest), field_manager="zen-lead-tests", force=True)

    def established() -> bool:
        for name in ("hosts.metal.example.kube-zen.io", "machines.metal.example.kube-zen.io"):
            found = kube.get(CustomResourceDefinition, name)
            if not any(
                c.type == "Established" and c.status == "True" for c in (found.status.conditions or [])
            ):
                return False
        return True

    eventually(established, what="the example CRDs established")


class Replica:
    def __init__(
        self, cluster: ClusterInfo, namespace: str, identity: str, tmp: Path, flags: list[str]
    ) -> None:
        self.identity = identity
        self.log = tmp / f"{identity}.log"
        self.addresses = tmp / f"{identity}.json"
        argv = [sys.executable, str(EXAMPLE / "coordinator.py"), "--kubeconfig", str(cluster.kubeconfig)]
        argv += [
            "--namespace",
            namespace,
            "--identity",
            identity,
            "--addresses-file",
            str(self.addresses),
            *flags,
        ]
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
        bound = eventually(
            lambda: self.addresses.exists() and json.loads(self.addresses.read_text()), what="port"
        )
        self.port = int(bound["metrics"].rsplit(":", 1)[1])

    def metric(self, name: str, **labels: str) -> float:
        text = urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=5).read().decode()
        total = 0.0
        for line in text.splitlines():
            if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
                total += float(line.rsplit(" ", 1)[1])
        return total

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def replicas(
    cluster: ClusterInfo, namespace: str, tmp_path: Path, metal_crds: None
) -> Iterator[list[Replica]]:
    started = [Replica(cluster, namespace, f"replica-{i}", tmp_path, FAST) for i in range(3)]
    yield started
    for replica in started:
        replica.stop()
    for replica in started:
        print(f"--- {replica.identity} ---\n" + "\n".join(replica.log.read_text().splitlines()[-30:]))


def holdings(kube: Client, namespace: str) -> dict[str, str]:
    """machine -> host, where both pointers agree; asserts the two one-field invariants."""
    hosts = {h.metadata.name: h for h in kube.list(Host, namespace=namespace)}
    machines = {m.metadata.name: m for m in kube.list(Machine, namespace=namespace)}
    consumers: dict[str, list[str]] = {}
    for host in hosts.values():
        ref = (host.get("spec") or {}).get("consumerRef")
        if ref:
            consumers.setdefault(ref["name"], []).append(host.metadata.name)
    for machine, claimed in consumers.items():
        assert len(claimed) <= 1, f"{machine} is the consumer of {claimed}"
    held = {}
    for name, machine in machines.items():
        reserved = ((machine.get("status") or {}).get("hostRef") or {}).get("name")
        if reserved and consumers.get(name) == [reserved]:
            held[name] = reserved
    return held


def test_three_coordinators_one_leader_priority_order_and_no_double_claims(
    kube: Client, namespace: str, replicas: list[Replica]
) -> None:
    lease = eventually(lambda: _holder(kube, namespace), timeout=30, what="a claim-coordinator leader")
    untagged, tagged = [], []
    for i in range(30):
        spec = {} if i % 3 else {"requiredTags": ["ssd"], "preferredTags": ["rack1"]}
        machine = kube.create(Machine(metadata={"name": f"m{i:02d}", "namespace": namespace}, spec=spec))
        (tagged if spec else untagged).append(machine)
        if i % 10 == 9:
            time.sleep(1.1)  # creationTimestamp has whole seconds: give the order something to follow
    for j in range(10):
        kube.create(
            Host(metadata={"name": f"h{j}", "namespace": namespace}, spec={"tags": ["ssd", f"rack{j % 2}"]})
        )
    held = eventually(
        lambda: (h := holdings(kube, namespace)) and len(h) == 10 and h, timeout=60, what="10 claims"
    )
    expected = sorted(untagged, key=lambda m: (m.metadata.creationTimestamp, m.metadata.uid))[:10]
    assert set(held) == {m.metadata.name for m in expected}, (
        "the untagged (+50), oldest first, win scarce hosts"
    )
    leader = next(r for r in replicas if r.identity == lease)
    assert leader.metric("metal_claim_coordinator_results_total", result_type="claimed") == 10
    assert leader.metric("metal_claim_coordinator_leader_election_total", event_type="became_leader") == 1
    assert (
        leader.metric("metal_claim_coordinator_processing_duration_seconds_count", result_type="claimed")
        == 10
    )
    others = [r for r in replicas if r is not leader]
    for other in others:
        assert other.metric("metal_claim_coordinator_results_total", result_type="fallback_claimed") == 0
        assert other.metric("metal_claim_coordinator_results_total", result_type="delegated") > 0
    # a held machine deleted: its host is released and goes to the next in line
    gone = expected[0].metadata.name
    kube.delete(Machine, gone, namespace=namespace)
    nxt = sorted(untagged, key=lambda m: (m.metadata.creationTimestamp, m.metadata.uid))[10].metadata.name
    eventually(
        lambda: nxt in holdings(kube, namespace) and gone not in holdings(kube, namespace),
        timeout=30,
        what=f"{gone}'s host released and given to {nxt}",
    )
    assert leader.metric("metal_claim_coordinator_results_total", result_type="released") == 1
    # the leader stopped gracefully: a standby leads, its tenure is observed
    leader.stop()
    eventually(lambda: _holder(kube, namespace) not in ("", lease), timeout=30, what="a new leader")
    assert len(holdings(kube, namespace)) == 10


def _holder(kube: Client, namespace: str) -> str:
    try:
        lease = kube.get(Lease, "metal-claim-coordinator-leader", namespace=namespace)
    except Exception:
        return ""
    return (lease.spec.holderIdentity or "") if lease.spec else ""
