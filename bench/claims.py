"""``python -m bench.claims [--claims N]`` — the claim coordinator: N Machines onto N Hosts with three
replicas of ``examples/claims/coordinator.py``, leader-coordinated against optimistic-only (the same
replicas without ``--enable-claim-coordinator-leader-election``), in one run on one local cluster.

Measured per mode: conflicts (409s, ``result_type="conflict"``) per placed claim, the time from the
first Machine created to every Machine holding a Host, and the replicas' CPU seconds. Results go to
``bench/results/claims-<N>.json``. Not part of ``python -m bench`` yet (its own cluster, a few minutes).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]
from lightkube import ApiError, Client, KubeConfig
from lightkube.generic_resource import create_namespaced_resource
from lightkube.resources.apiextensions_v1 import CustomResourceDefinition
from lightkube.resources.coordination_v1 import Lease
from lightkube.resources.core_v1 import Namespace
from prometheus_client.parser import text_string_to_metric_families

from bench.procstat import cpu_seconds
from zen_lead.localcluster import LocalCluster

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "claims"
RESULTS = ROOT / "bench" / "results"
Host = create_namespaced_resource("metal.example.kube-zen.io", "v1alpha1", "Host", "hosts")
Machine = create_namespaced_resource("metal.example.kube-zen.io", "v1alpha1", "Machine", "machines")
LEADER = [
    "--enable-claim-coordinator-leader-election",
    "--claim-coordinator-lease-duration=15s",
    "--claim-coordinator-renew-deadline=10s",
    "--claim-coordinator-retry-period=2s",
]


def _until(check: Any, timeout: float, what: str, interval: float = 0.25) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = check()
        except ApiError:
            result = None
        if result:
            return result
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def _install(kube: Client) -> None:
    for manifest in yaml.safe_load_all((EXAMPLE / "crds.yaml").read_text()):
        kube.apply(CustomResourceDefinition.from_dict(manifest), field_manager="bench", force=True)
    for kind in (Host, Machine):  # an ApiError (not yet served) is retried by _until
        _until(lambda kind=kind: list(kube.list(kind, namespace="default")) is not None, 60, "the CRDs")


def _scrape(port: int) -> dict[str, float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "metal_claim_coordinator_results_total":
                kind = sample.labels["result_type"]
                out[kind] = out.get(kind, 0.0) + sample.value
    return out


def _leader(kube: Client, namespace: str) -> str | None:
    lease = kube.get(Lease, "metal-claim-coordinator-leader", namespace=namespace)
    return lease.spec.holderIdentity if lease.spec else None


def _held(kube: Client, namespace: str) -> int:
    consumers = {
        (h.get("spec") or {}).get("consumerRef", {}).get("name"): h.metadata.name
        for h in kube.list(Host, namespace=namespace)
        if (h.get("spec") or {}).get("consumerRef")
    }
    return sum(
        1
        for m in kube.list(Machine, namespace=namespace)
        if ((m.get("status") or {}).get("hostRef") or {}).get("name") == consumers.get(m.metadata.name)
        and m.metadata.name in consumers
    )


def one_mode(kube: Client, kubeconfig: Path, mode: str, claims: int, tmp: Path) -> dict[str, Any]:
    namespace = f"claims-{mode}"
    kube.create(Namespace(metadata={"name": namespace}))
    with ThreadPoolExecutor(16) as pool:
        list(
            pool.map(
                lambda j: kube.create(
                    Host(metadata={"name": f"h{j:04d}", "namespace": namespace}, spec={"tags": ["ssd"]})
                ),
                range(claims),
            )
        )
    replicas = []
    for i in range(3):
        addresses = tmp / f"{mode}-{i}.json"
        argv = [sys.executable, str(EXAMPLE / "coordinator.py"), "--kubeconfig", str(kubeconfig)]
        argv += ["--namespace", namespace, "--identity", f"replica-{i}", "--addresses-file", str(addresses)]
        flags = LEADER if mode == "leader" else []
        log = open(tmp / f"{mode}-{i}.log", "wb")  # noqa: SIM115 - closed with the process
        replicas.append((subprocess.Popen([*argv, *flags], stdout=log, stderr=subprocess.STDOUT), addresses))
    ports = [
        int(
            json.loads(_until(lambda a=a: a.exists() and a.read_text(), 60, "a replica"))["metrics"].split(
                ":"
            )[1]
        )
        for _, a in replicas
    ]
    if mode == "leader":
        _until(lambda: _leader(kube, namespace), 60, "a leader")
    cpu_before = [cpu_seconds(p.pid) for p, _ in replicas]
    started = time.monotonic()
    with ThreadPoolExecutor(16) as pool:
        list(
            pool.map(
                lambda i: kube.create(
                    Machine(metadata={"name": f"m{i:04d}", "namespace": namespace}, spec={})
                ),
                range(claims),
            )
        )
    _until(lambda: _held(kube, namespace) == claims, 900, f"{claims} claims ({mode})", interval=0.5)
    elapsed = time.monotonic() - started
    cpu = sum(cpu_seconds(p.pid) - before for (p, _), before in zip(replicas, cpu_before, strict=True))
    results = [_scrape(port) for port in ports]
    for proc, _ in replicas:
        proc.send_signal(signal.SIGTERM)
    for proc, _ in replicas:
        proc.wait(30)
    conflicts = sum(r.get("conflict", 0) for r in results)
    return {
        "mode": mode,
        "claims": claims,
        "seconds_to_place_all": round(elapsed, 2),
        "conflicts": conflicts,
        "conflicts_per_claim": round(conflicts / claims, 3),
        "replica_cpu_seconds": round(cpu, 2),
        "results_by_replica": results,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.claims", description=__doc__)
    parser.add_argument("--claims", type=int, default=500)
    parser.add_argument("--cluster", default="bench-claims")
    args = parser.parse_args(argv)
    cluster = LocalCluster(args.cluster, nodes=1)
    cluster.down()
    info = cluster.up(owner_pid=os.getpid())
    try:
        kube = Client(KubeConfig.from_file(str(info.kubeconfig)))
        _install(kube)
        with tempfile.TemporaryDirectory() as tmp:
            modes = [
                one_mode(kube, info.kubeconfig, m, args.claims, Path(tmp)) for m in ("optimistic", "leader")
            ]
    finally:
        cluster.down()
    optimistic, leader = modes
    summary = {
        "claims": args.claims,
        "replicas": 3,
        "kubernetes": info.kubernetes_version,
        "modes": modes,
        "conflict_ratio_optimistic_over_leader": (
            round(optimistic["conflicts"] / leader["conflicts"], 1) if leader["conflicts"] else None
        ),
        "time_ratio_leader_over_optimistic": round(
            leader["seconds_to_place_all"] / optimistic["seconds_to_place_all"], 2
        ),
        "cpu_ratio_leader_over_optimistic": round(
            leader["replica_cpu_seconds"] / max(optimistic["replica_cpu_seconds"], 1e-9), 2
        ),
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"claims-{args.claims}.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps({k: v for k, v in summary.items() if k != "modes"}, indent=2))
    for mode in modes:
        print(json.dumps({k: v for k, v in mode.items() if k != "results_by_replica"}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
