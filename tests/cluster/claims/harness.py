"""The example's coordinators as processes, and the two safety properties checked on every version
of every Host and Machine the apiserver served (not only on the state at the end)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any, Protocol

from lightkube import Client
from lightkube.generic_resource import create_namespaced_resource
from lightkube.resources.coordination_v1 import Lease

from tests.support.history import Writes
from tests.support.metrics import metric_sum, scrape
from tests.support.wait import eventually
from zen_lead.localcluster import ClusterInfo

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "claims"
Host = create_namespaced_resource("metal.example.kube-zen.io", "v1alpha1", "Host", "hosts")
Machine = create_namespaced_resource("metal.example.kube-zen.io", "v1alpha1", "Machine", "machines")
LEASE = "metal-claim-coordinator-leader"
CLAIMED_BY = "claims.zen-lead.io/claimed-by"
FAST = [
    "--enable-claim-coordinator-leader-election",
    "--claim-coordinator-lease-duration=4s",
    "--claim-coordinator-renew-deadline=3s",
    "--claim-coordinator-retry-period=500ms",
]


class Replica:
    """``examples/claims/coordinator.py`` as a process (``wait_port=False`` for one expected to exit)."""

    def __init__(
        self,
        cluster: ClusterInfo,
        namespace: str,
        identity: str,
        tmp: Path,
        flags: list[str],
        *,
        wait_port: bool = True,
    ) -> None:
        self.identity = identity
        self.log = tmp / f"{identity}.log"
        self.addresses = tmp / f"{identity}.json"
        self.addresses.unlink(missing_ok=True)
        argv = [sys.executable, str(EXAMPLE / "coordinator.py"), "--kubeconfig", str(cluster.kubeconfig)]
        argv += ["--namespace", namespace, "--identity", identity, "--addresses-file", str(self.addresses)]
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen([*argv, *flags], stdout=out, stderr=subprocess.STDOUT)
        self.port = 0
        if wait_port:
            bound = eventually(self._bound, what=f"{identity}'s metrics port")
            self.port = int(bound["metrics"].rsplit(":", 1)[1])

    def _bound(self) -> dict[str, str] | None:
        if self.proc.poll() is not None:
            raise RuntimeError(f"{self.identity} exited with {self.proc.returncode}:\n{self.tail()}")
        return json.loads(self.addresses.read_text()) if self.addresses.exists() else None

    def metric(self, name: str, **labels: str) -> float:
        return metric_sum(scrape(self.port), f"metal_claim_coordinator_{name}", **labels)

    def results(self, result_type: str) -> float:
        return self.metric("results_total", result_type=result_type)

    def tail(self, lines: int = 30) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def signal(self, signum: int) -> None:
        self.proc.send_signal(signum)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)  # a paused replica cannot act on SIGTERM
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class Launch(Protocol):
    def __call__(self, identity: str, flags: list[str] = ..., *, wait_port: bool = True) -> Replica: ...


def holder(kube: Client, namespace: str) -> str:
    try:
        lease = kube.get(Lease, LEASE, namespace=namespace)
    except Exception:
        return ""
    return (lease.spec.holderIdentity or "") if lease.spec else ""


def _consumer(host: Any) -> tuple[str, str] | None:
    ref = (host.get("spec") or {}).get("consumerRef")
    return (ref["name"], ref["uid"]) if ref else None


def holdings(kube: Client, namespace: str) -> dict[str, str]:
    """machine -> host where both pointers agree (the claims that are made), read now."""
    consumers = {}
    for host in kube.list(Host, namespace=namespace):
        found = _consumer(host)
        if found:
            consumers[found[0]] = host.metadata.name
    held = {}
    for machine in kube.list(Machine, namespace=namespace):
        reserved = ((machine.get("status") or {}).get("hostRef") or {}).get("name")
        if reserved and consumers.get(machine.metadata.name) == reserved:
            held[machine.metadata.name] = reserved
    return held


def claimed_by(kube: Client, namespace: str) -> Counter[str]:
    """How many of the Hosts' current claims each identity wrote."""
    return Counter(
        (host.metadata.annotations or {}).get(CLAIMED_BY, "")
        for host in kube.list(Host, namespace=namespace)
        if _consumer(host)
    )


def assert_safe_history(writes: Writes) -> int:
    """Replay every Host version in revision order: a Host's consumer only ever goes from none to one
    Machine and back (never straight to another: that would take a claim away), and no Machine is
    the consumer of two Hosts at any revision. Returns how many Host versions were checked."""
    consumer_of: dict[str, tuple[str, str]] = {}  # host -> (machine, uid)
    checked = 0
    for write in writes.in_order():
        if write.kind != "Host":
            continue
        checked += 1
        before = consumer_of.get(write.name)
        after = None if write.type == "DELETED" else _consumer(write.obj)
        assert before is None or after is None or before == after, (
            f"revision {write.revision}: Host {write.name} passed from {before} to {after} unreleased"
        )
        if after is None:
            consumer_of.pop(write.name, None)
        else:
            consumer_of[write.name] = after
        per_machine = Counter(machine for machine, _uid in consumer_of.values())
        doubled = [machine for machine, count in per_machine.items() if count > 1]
        assert not doubled, f"revision {write.revision}: {doubled} consume two Hosts: {consumer_of}"
    return checked
