"""One run of the benchmarks, in an order that keeps them from disturbing each other:

1. a fresh local cluster (``LocalCluster(name, nodes=N, zones=3)``), kube-controller-manager with its
   defaults (client QPS 20 / burst 30) unless ``ZEN_LEAD_KUBE_CONTROLLER_MANAGER_FLAGS`` says otherwise;
2. failover trials on each small (S, P) configuration, each in its own namespace with its own controller
   (pods kept off the two victim nodes, namespaces left in place: deleting them would churn);
3. the large namespace: cold start, quiet period, warm restart, node burst by status writes, node
   heartbeat stop, failover trials, pod churn — one controller, restarted once;
4. pools (``bench.pools``): N LeaderPolicies in a namespace of their own, one controller with
   ``--controllers=*,pools``; the director's failovers of step 2-3 are put beside them;
5. the electors;
6. JSON (``bench/results/<profile>.json``), plots, and the cluster taken down.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from bench import burst, elector, failover, plots, pools, scale
from bench.context import CONTROLLER_IDENTITY, Context
from bench.kube import Kube
from bench.machine import describe, load_average
from bench.profiles import Profile
from bench.solo import SoloNode
from bench.stats import clean
from bench.targets import evaluate
from bench.workload import Workload, build, with_victims
from zen_lead.localcluster import LocalCluster
from zen_lead.manager.options import DEFAULT_BURST, DEFAULT_QPS, DEFAULT_WORKERS

log = logging.getLogger("bench")
BENCHMARKS = ("failover", "scale", "burst", "pools", "elector")
REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results"
LOGS = REPO / "build" / "bench"
DOCS_IMG = REPO / "docs" / "img"


def _cluster_flags() -> dict[str, str]:
    names = ("ETCD", "KUBE_APISERVER", "KUBE_CONTROLLER_MANAGER", "KUBE_SCHEDULER", "KWOK")
    return {name: os.environ.get(f"ZEN_LEAD_{name}_FLAGS", "") for name in names}


def _fresh(directory: Path) -> None:
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)


async def _big(ctx: Context, results: dict[str, Any], only: set[str]) -> None:
    profile = ctx.profile
    namespace = f"big-{profile.big_services}x{profile.big_pods}"
    assert ctx.solo is not None
    victims = (ctx.nodes[0], ctx.solo.name)
    workload: Workload = await build(
        ctx.kube,
        namespace=namespace,
        plan=with_victims(profile.big_services, profile.big_pods, victims, ctx.nodes[1:]),
        kubeconfig=ctx.admin_kubeconfig,
        logs=ctx.logs,
        concurrency=profile.create_concurrency,
        victims=victims,
    )
    observer = ctx.observer(namespace)
    await observer.start()
    controller = None
    try:
        controller, cold = await scale.cold_start(ctx, workload, observer)
        results["scale"] = {"cold_start": cold}
        idle_rate = 0.0
        if "scale" in only:
            quiet = await scale.quiet(ctx, controller)
            results["scale"]["quiet"] = quiet
            idle_rate = quiet["cpu_seconds"] / quiet["seconds"]
            controller, results["scale"]["warm_restart"] = await scale.warm_restart(
                ctx, controller, workload, observer
            )
        if "burst" in only:
            results["burst"] = {
                "status_writes": await burst.status_burst(ctx, controller, workload, observer)
            }
            if profile.heartbeat:
                results["burst"]["heartbeat_stop"] = await burst.heartbeat(
                    ctx, controller, workload, observer
                )
        if "failover" in only:
            trials = await failover.run_trials(ctx, workload, observer, controller, idle=True)
            trials["safety"] = {
                "max_ready_endpoints": observer.max_ready,
                "violations": len(observer.violations),
            }
            results.setdefault("failover", {})[f"{profile.big_services}x{profile.big_pods}"] = trials
        if "scale" in only:
            results["scale"]["churn"] = await scale.churn(ctx, controller, workload, observer, idle_rate)
    finally:
        if controller is not None:
            await controller.stop()
        observer.stop()


async def run(
    profile: Profile,
    *,
    cluster_name: str = "bench",
    only: set[str] | None = None,
    results_dir: Path = RESULTS,
    logs_dir: Path | None = None,
    keep_cluster: bool = False,
    plots_to_docs: bool | None = None,
) -> dict[str, Any]:
    only = set(only or BENCHMARKS)
    # The watcher reader thread shares the GIL with the harness: hand it over quickly, so a write's
    # response is not left waiting the default 5 ms before it is stamped.
    switch_interval = sys.getswitchinterval()
    sys.setswitchinterval(0.0005)
    try:
        return await _run(
            profile,
            cluster_name=cluster_name,
            only=only,
            results_dir=results_dir,
            logs_dir=logs_dir,
            keep_cluster=keep_cluster,
            plots_to_docs=plots_to_docs,
        )
    finally:
        sys.setswitchinterval(switch_interval)


async def _run(
    profile: Profile,
    *,
    cluster_name: str,
    only: set[str],
    results_dir: Path,
    logs_dir: Path | None,
    keep_cluster: bool,
    plots_to_docs: bool | None,
) -> dict[str, Any]:
    logs = logs_dir or LOGS / profile.name
    _fresh(logs)
    started_wall, started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), time.monotonic()
    cluster = LocalCluster(cluster_name, nodes=profile.nodes, zones=3)
    await asyncio.to_thread(cluster.down)  # a fresh cluster: no leftovers from earlier runs
    info = await asyncio.to_thread(cluster.up, owner_pid=None if keep_cluster else os.getpid())
    kube = Kube(info.kubeconfig)
    results: dict[str, Any] = {
        "schema": 1,
        "profile": profile.as_dict(),
        "benchmarks": sorted(only),
        "machine": describe(kubernetes_version=info.kubernetes_version),
        "started_at": started_wall,
        "cluster": {
            "name": cluster_name,
            "nodes": len(info.nodes),
            "kubernetes": info.kubernetes_version,
            "extra_component_flags": _cluster_flags(),
            "kube_controller_manager_client": "defaults (--kube-api-qps 20, --kube-api-burst 30) unless "
            "extra flags above say otherwise",
        },
        "controller": {
            "flags": "--leader-elect --log-level info; defaults otherwise",
            "qps": DEFAULT_QPS,
            "burst": DEFAULT_BURST,
            "workers": DEFAULT_WORKERS,
            "apf_priority_level": "workload-low (a ServiceAccount's default)",
        },
        "logs": str(logs),
    }
    ctx: Context | None = None
    try:
        ctx = Context(
            profile=profile,
            kube=kube,
            admin_kubeconfig=info.kubeconfig,
            controller_kubeconfig=await kube.identity(CONTROLLER_IDENTITY, logs / "zen-lead.kubeconfig"),
            nodes=list(info.nodes)[: profile.nodes],
            logs=logs,
        )
        ctx.rng.seed(profile.seed)
        if only & {"failover", "scale", "burst"}:
            ctx.solo = SoloNode(info, "zl-bench-solo", "zone-b", logs / "kwok-solo.log")
            await ctx.solo.start(kube)
        if "failover" in only:
            results["failover"] = {}
            for services, pods in profile.failover_configs:
                log.info("failover: %d Services x %d pods", services, pods)
                results["failover"][f"{services}x{pods}"] = await failover.standalone(ctx, services, pods)
        if only & {"failover", "scale", "burst"}:
            await _big(ctx, results, only)
        if "pools" in only:
            results["pools"] = await pools.run(ctx)
            results["pools"]["director_beside"] = pools.director_beside(results.get("failover") or {})
        if "elector" in only:
            results["elector"] = await elector.run(ctx)
    finally:
        if ctx is not None:
            for controller in ctx.controllers:  # no-op for those already stopped
                await controller.stop()
            if ctx.solo is not None:
                ctx.solo.stop()
        await kube.aclose()
        if not keep_cluster:
            await asyncio.to_thread(cluster.down)
    results["finished_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    results["duration_seconds"] = time.monotonic() - started
    results["machine"]["load_average_at_end"] = load_average()
    results["targets"] = evaluate(results)
    cleaned = clean(results)
    assert isinstance(cleaned, dict)
    to_docs = plots_to_docs if plots_to_docs is not None else profile.name == "full"
    _save(cleaned, results_dir, profile.name, to_docs=to_docs)
    return cleaned


def _save(results: dict[str, Any], directory: Path, name: str, *, to_docs: bool) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{name}.json").write_text(json.dumps(results, indent=1) + "\n")
    made = plots.all_plots(results, directory, f"{name}-")
    if to_docs:
        DOCS_IMG.mkdir(parents=True, exist_ok=True)
        for path in made:
            shutil.copy(path, DOCS_IMG / path.name.replace(f"{name}-", "bench-"))
