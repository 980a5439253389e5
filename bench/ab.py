"""``python -m bench.ab --baseline <git revision>`` — the controller at two revisions, side by side.

Machines are noisy and runs of different days are not comparable, so a change to the controller is
judged here against its baseline **in one run, on one cluster, alternating** the two source trees
round by round. The baseline is checked out with ``git worktree`` into ``build/ab/``; both run with the
same virtualenv, as the admin user (APF-exempt, so the apiserver treats them alike).

Scenario: ``--services`` Services of ``--pods`` pods each. Per round, a fresh controller of one
variant syncs and routes everything; then its resident memory is read (``rss_bytes``: the cache of
every Service, pod and slice); then ``--isolated`` leaders are made NotReady one at a time, each timed
from sending its write to the controller's ``LeaderChanged`` record (its reconcile had written the
slice: the isolated failover); then every Service's current leader is made NotReady at once (status
writes, 128 in flight) — the node-death burst: the time from the first and from the last write's
response to the last ``LeaderChanged`` record, the controller's CPU seconds for the burst, and whether
it stopped within 15 s of SIGTERM. Results: ``bench/results/ab-burst.json``.

``--baseline-args`` / ``--candidate-args`` add flags to one variant's ``zen-lead run``: with
``--baseline HEAD`` the two source trees are the same and the A/B compares settings (``--workers``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shlex
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tests.support.controller import ControllerProcess

from bench.controller import log_wall_time
from bench.kube import JSON, Kube, bounded
from bench.machine import describe
from bench.procstat import cpu_seconds, rss_bytes
from bench.workload import APP_LABEL, ENABLED_ANNOTATION, spread
from zen_lead.localcluster import LocalCluster

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results"
WORK = REPO / "build" / "ab"
NAMESPACE = "ab"
SLICE_SELECTOR = "endpointslice.kubernetes.io/managed-by=endpointslice.zen-lead.io"


def _worktree(revision: str) -> Path:
    commit = subprocess.run(
        ["git", "rev-parse", "--short", revision], cwd=REPO, check=True, capture_output=True, text=True
    ).stdout.strip()
    path = WORK / commit
    if not path.exists():
        subprocess.run(["git", "worktree", "add", "--detach", "-f", str(path), commit], cwd=REPO, check=True)
    return path / "src"


async def _until(predicate: Any, *, within: float, what: str, poll: float = 0.5) -> Any:
    """Poll ``predicate`` (the harness's own reads) until it returns something true."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        value = await predicate()
        if value:
            return value
        await asyncio.sleep(poll)
    raise TimeoutError(what)


def _is_ready(pod: JSON) -> bool:
    conditions = pod.get("status", {}).get("conditions", [])
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


class Scenario:
    def __init__(self, kube: Kube, *, services: int, pods: int, nodes: list[str], isolated: int) -> None:
        self.kube = kube
        self.services = services
        self.pods = pods
        self.nodes = nodes
        self.isolated = isolated

    async def build(self) -> None:
        kube = self.kube
        await kube.create_namespace(NAMESPACE)

        plan = spread(self.services, self.pods, self.nodes)  # the benchmarks' names and placement

        def service(name: str) -> Any:
            return kube.create(
                f"/api/v1/namespaces/{NAMESPACE}/services",
                {
                    "apiVersion": "v1",
                    "kind": "Service",
                    "metadata": {"name": name, "annotations": {ENABLED_ANNOTATION: "true"}},
                    "spec": {"selector": {APP_LABEL: name}, "ports": [{"port": 80, "targetPort": 8080}]},
                },
                resource="services",
            )

        def pod(placed: tuple[str, str, str]) -> Any:
            name, service_, node = placed
            return kube.create(
                f"/api/v1/namespaces/{NAMESPACE}/pods",
                {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "metadata": {"name": name, "labels": {APP_LABEL: service_}},
                    "spec": {
                        "nodeName": node,
                        "containers": [{"name": "app", "image": "app", "ports": [{"containerPort": 8080}]}],
                    },
                },
                resource="pods",
            )

        await bounded(list(plan), service, concurrency=64)
        pods = [(name, svc, node) for svc, placed in plan.items() for name, node in placed]
        await bounded(pods, pod, concurrency=64)
        await _until(self._all_ready, within=900, what="pods Ready")

    async def _all_ready(self) -> bool:
        pods = await self.kube.list_all(f"/api/v1/namespaces/{NAMESPACE}/pods", resource="pods")
        ready = sum(1 for p in pods if _is_ready(p))
        return ready == self.services * self.pods

    async def leaders(self) -> list[str]:
        slices = await self.kube.list_all(
            f"/apis/discovery.k8s.io/v1/namespaces/{NAMESPACE}/endpointslices",
            resource="endpointslices",
            params={"labelSelector": SLICE_SELECTOR},
        )
        return [s["endpoints"][0]["targetRef"]["name"] for s in slices if s.get("endpoints")]

    async def round(
        self, *, name: str, source: Path, extra: list[str], kubeconfig: Path, logs: Path
    ) -> dict[str, Any]:
        controller = ControllerProcess(
            kubeconfig=kubeconfig,
            namespace=NAMESPACE,
            log_dir=logs,
            name=f"controller-{name}",
            extra=["--no-leader-elect", "--log-level", "info", *extra],
            env={"PYTHONPATH": str(source)},  # this variant's source tree, ahead of the installed one
            addresses_file=_knows_addresses_file(source),
        )
        await asyncio.to_thread(controller.start, wait_ready=False)
        assert controller.proc is not None
        pid = controller.proc.pid
        try:

            async def routed() -> list[str] | None:
                found = await self.leaders()
                return found if len(found) == self.services else None

            leaders = await _until(routed, within=300, what="every Service routed")
            await asyncio.sleep(8)  # the first pass and its Events are done
            rss = rss_bytes(pid)
            isolated = [await self._isolated(controller, pod) for pod in leaders[: self.isolated]]
            leaders = await _until(routed, within=300, what="every Service routed again")
            base, cpu_before = len(controller.records()), cpu_seconds(pid)
            landed: list[float] = []

            async def fail(pod: str) -> None:
                await self.kube.set_pod_ready(NAMESPACE, pod, ready=False)
                landed.append(time.time())

            first = time.time()
            await bounded(leaders, fail, concurrency=128)

            async def moved() -> list[float] | None:
                records = controller.records()[base:]
                changed = [log_wall_time(str(r["ts"])) for r in records if r.get("reason") == "LeaderChanged"]
                return changed if len(changed) >= len(leaders) else None

            changed = await _until(moved, within=300, what="every leader moved")
            cpu = cpu_seconds(pid) - cpu_before
        finally:
            code = await asyncio.to_thread(controller.stop, timeout=15)  # SIGTERM, then SIGKILL
            stopped = code != -signal.SIGKILL
        await bounded(leaders, lambda p: self.kube.set_pod_ready(NAMESPACE, p, ready=True), concurrency=128)
        await _until(self._all_ready, within=300, what="pods Ready again")
        return {
            "variant": name,
            "failovers": len(leaders),
            "writes_spread_seconds": max(landed) - first,
            "last_moved_after_first_write_seconds": max(changed) - first,
            "last_moved_after_last_write_seconds": max(changed) - max(landed),
            "cpu_seconds": cpu,
            "stopped_on_sigterm": stopped,
            "rss_bytes": rss,
            "isolated_failover_seconds": isolated,
            "isolated_failover_median_seconds": statistics.median(isolated) if isolated else None,
        }

    async def _isolated(self, controller: ControllerProcess, pod: str) -> float:
        """One leader made NotReady while nothing else happens: from sending the write (the one origin
        that is before the controller's reaction by causality, whatever the clocks' resolution) to the
        controller's ``LeaderChanged`` record. The pod is made Ready again before the next one."""
        base = len(controller.records())
        sent = time.time()
        await self.kube.set_pod_ready(NAMESPACE, pod, ready=False)

        async def moved() -> float | None:
            for record in controller.records()[base:]:
                if record.get("reason") == "LeaderChanged":
                    return log_wall_time(str(record["ts"]))
            return None

        changed = await _until(moved, within=60, what=f"the leader {pod} replaced", poll=0.02)
        await self.kube.set_pod_ready(NAMESPACE, pod, ready=True)
        return float(changed) - sent


async def _run(args: argparse.Namespace) -> dict[str, Any]:
    variants = {"baseline": _worktree(args.baseline), "candidate": REPO / "src"}
    extras = {"baseline": shlex.split(args.baseline_args), "candidate": shlex.split(args.candidate_args)}
    logs = REPO / "build" / "bench" / "ab"
    logs.mkdir(parents=True, exist_ok=True)
    local = LocalCluster(args.cluster, nodes=args.nodes, zones=3)
    info = local.up()
    kube = Kube(info.kubeconfig)
    try:
        scenario = Scenario(
            kube, services=args.services, pods=args.pods, nodes=list(info.nodes), isolated=args.isolated
        )
        await scenario.build()
        rounds = []
        for _ in range(args.rounds):
            for name, source in variants.items():
                result = await scenario.round(
                    name=name, source=source, extra=extras[name], kubeconfig=info.kubeconfig, logs=logs
                )
                print(json.dumps(result), flush=True)
                rounds.append(result)
    finally:
        await kube.aclose()
        local.down()
    summary = {
        name: {
            key: statistics.median(r[key] for r in rounds if r["variant"] == name)
            for key in (
                "last_moved_after_first_write_seconds",
                "last_moved_after_last_write_seconds",
                "cpu_seconds",
                "rss_bytes",
                "isolated_failover_median_seconds",
            )
            if all(r.get(key) is not None for r in rounds)
        }
        for name in variants
    }
    return {
        "machine": describe(kubernetes_version=info.kubernetes_version),
        "baseline": args.baseline,
        "candidate": "working tree",
        "controller_args": extras,
        "parameters": {
            "services": args.services,
            "pods": args.pods,
            "nodes": args.nodes,
            "isolated": args.isolated,
        },
        "rounds": rounds,
        "median": summary,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ab", description=__doc__)
    parser.add_argument("--baseline", required=True, help="git revision to compare the working tree with")
    parser.add_argument("--services", type=int, default=1000)
    parser.add_argument("--pods", type=int, default=3)
    parser.add_argument("--nodes", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--isolated", type=int, default=20, help="isolated failovers per round first")
    parser.add_argument("--baseline-args", default="", help="extra `zen-lead run` flags for the baseline")
    parser.add_argument("--candidate-args", default="", help="extra `zen-lead run` flags for the candidate")
    parser.add_argument("--cluster", default="bench-ab")
    parser.add_argument("--output", type=Path, default=RESULTS / "ab-burst.json")
    args = parser.parse_args(argv)
    results = asyncio.run(_run(args))
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    for name, values in results["median"].items():
        print(f"{name:>9}: " + ", ".join(f"{k} {v:.2f}" for k, v in values.items()))
    print(f"results: {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())


def _knows_addresses_file(source: Path) -> bool:
    """Whether the variant's ``zen-lead run`` has ``--addresses-file`` (its command line is the module
    ``zen_lead/cli.py`` in older revisions, the package ``zen_lead/cli/`` since)."""
    cli = source / "zen_lead" / "cli.py"
    texts = (
        [cli.read_text()]
        if cli.exists()
        else [f.read_text() for f in (source / "zen_lead" / "cli").glob("*.py")]
    )
    return any("--addresses-file" in text for text in texts)
