"""Benchmark 1: failover latency, zen-lead vs the upstream EndpointSlice controller, trial by trial.

A trial takes one Service's current leader (as zen-lead's slice shows it) and either sets its Ready
condition to False through the status subresource, or deletes it. From the moment the write's response
arrived (the write had landed), the watcher's stamps give

- (a) zen-lead: the first leader-slice event that routes to another pod and no longer to the old one;
- (b) upstream: the first event of the source Service's own slices where the old pod is not ready (or
  gone, for a deletion).

Then the harness undoes the trial — the old pod is Ready again, or a replacement pod is created — and
waits for the upstream slice to show it ready, so trials never overlap. Trials run one at a time on
Services chosen at random (seeded), in three series:

- ``ready`` and ``delete``: paced (``PACE_SECONDS`` between trials) — isolated failovers; neither
  controller is held back by its own client-side rate limit;
- ``ready_back_to_back``: no pause, ~10 trials a second — the upstream controller then spends its whole
  client budget (20 QPS) and waits for its token bucket, as it does whenever pods churn at that rate;
- ``ready_after_idle`` (large namespace only): ``IDLE_SECONDS`` of quiet before each trial — a rare
  failover in production, after HTTP keep-alive connections have expired.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import asdict, dataclass
from typing import Any

from bench import apiserver
from bench.context import Context, wait_converged
from bench.controller import Controller, writes
from bench.kube import Kube
from bench.observer import LEADER_SUFFIX, UPSTREAM, ZEN, Endpoint, SliceObserver
from bench.profiles import IDLE_SECONDS, PACE_SECONDS
from bench.stats import ratio, summary
from bench.workload import Workload, build, create_pods, spread

log = logging.getLogger("bench")
TRIAL_TIMEOUT = 60.0


@dataclass(frozen=True, slots=True)
class Trial:
    mode: str  # "ready" | "delete"
    service: str
    old: str
    sent: float  # monotonic: the write was sent ...
    landed: float  # ... its response arrived (the write had landed): the origin of (a) and (b)
    visible: float | None  # ... the watcher saw the pod change (what both controllers react to)
    zen: float | None  # (a) seconds after landed
    upstream: float | None  # (b) seconds after landed
    upstream_at_start: bool | None  # the old pod's readiness in the upstream slice before the write

    def from_visible(self, value: float | None) -> float | None:
        if value is None or self.visible is None:
            return None
        return value + self.landed - self.visible


def _moved(old: str) -> Any:
    def test(endpoints: list[Endpoint]) -> bool:
        ready = {e.pod for e in endpoints if e.ready}
        return bool(ready) and old not in ready

    return test


def _upstream_dropped(old: str) -> Any:
    def test(endpoints: list[Endpoint]) -> bool:
        return not any(e.pod == old and e.ready for e in endpoints)

    return test


async def _current_leader(observer: SliceObserver, service: str) -> Endpoint:
    if not await observer.wait_until(lambda: observer.leader(service) is not None, TRIAL_TIMEOUT):
        raise RuntimeError(f"{service} has no single leader")
    leader = observer.snapshot_leaders([service])[service]
    assert leader is not None
    return leader


async def trial(kube: Kube, observer: SliceObserver, workload: Workload, service: str, *, mode: str) -> Trial:
    namespace = workload.namespace
    old = (await _current_leader(observer, service)).pod
    with observer.lock:
        upstream_at_start = observer.upstream_ready(service, old)
    since = observer.mark()
    sent = time.monotonic()
    if mode == "ready":
        landed = await kube.set_pod_ready(namespace, old, ready=False)
    else:
        landed = await kube.delete_pod(namespace, old)
    moved, dropped = _moved(old), _upstream_dropped(old)
    await observer.wait_until(
        lambda: (
            moved(observer.endpoints(service + LEADER_SUFFIX, managed_by=ZEN))
            and dropped(observer.endpoints(service, managed_by=UPSTREAM))
        ),
        TRIAL_TIMEOUT,
    )
    a = observer.first_time(service + LEADER_SUFFIX, managed_by=ZEN, since=since, test=moved)
    b = observer.first_time(service, managed_by=UPSTREAM, since=since, test=dropped)
    result = Trial(
        mode=mode,
        service=service,
        old=old,
        sent=sent,
        landed=landed,
        visible=observer.pod_unready_seen(old, since),
        zen=None if a is None else a - landed,
        upstream=None if b is None else b - landed,
        upstream_at_start=upstream_at_start,
    )
    await _undo(kube, observer, workload, service, old, mode=mode)
    return result


async def _undo(
    kube: Kube, observer: SliceObserver, workload: Workload, service: str, old: str, *, mode: str
) -> None:
    """Make the Service whole again: the old pod Ready again, or a replacement for a deleted one."""
    pod = old
    if mode == "ready":
        await kube.set_pod_ready(workload.namespace, old, ready=True)
    else:
        pod = workload.replacement_name(old)
        node = workload.node_of.pop(old)
        workload.node_of[pod] = node
        workload.pods[service] = [pod if p == old else p for p in workload.pods[service]]
        await create_pods(kube, workload.namespace, [(pod, service, node)], concurrency=1)
    if not await observer.wait_until(lambda: observer.upstream_ready(service, pod) is True, TRIAL_TIMEOUT):
        log.warning(
            "%s/%s not back in the upstream slice after %.0fs", workload.namespace, pod, TRIAL_TIMEOUT
        )


def summarize(trials: list[Trial]) -> dict[str, Any]:
    complete = [t for t in trials if t.zen is not None and t.upstream is not None]
    zen = [t.zen for t in complete if t.zen is not None]
    upstream = [t.upstream for t in complete if t.upstream is not None]
    # a/b per trial; undefined when (b) arrived before the write's response (b <= 0: a loaded harness)
    ratios = [ratio(a, b) for a, b in zip(zen, upstream, strict=True) if b > 0]
    zen_summary, upstream_summary = summary(zen), summary(upstream)
    visible = [t for t in complete if t.visible is not None]
    return {
        "trials": len(trials),
        "complete": len(complete),
        "origin": "the write's response arrived at the harness (the write had landed)",
        "zen_seconds": zen_summary,
        "upstream_seconds": upstream_summary,
        "ratio_per_trial": summary(ratios),
        "ratio_of_p50": ratio(float(zen_summary["p50"]), float(upstream_summary["p50"])),
        "ratio_of_p99": ratio(float(zen_summary["p99"]), float(upstream_summary["p99"])),
        "write_round_trip_seconds": summary([t.landed - t.sent for t in trials]),
        "from_pod_event_seen": {
            "origin": "the watcher saw the pod change (the event both controllers react to)",
            "zen_seconds": summary([v for t in visible if (v := t.from_visible(t.zen)) is not None]),
            "upstream_seconds": summary(
                [v for t in visible if (v := t.from_visible(t.upstream)) is not None]
            ),
        },
        "samples": [asdict(t) for t in trials],
    }


async def run_trials(
    ctx: Context, workload: Workload, observer: SliceObserver, controller: Controller, *, idle: bool = False
) -> dict[str, Any]:
    """Readiness trials, then deletion trials, on one converged workload; with their API cost. With
    ``idle``, also readiness trials that each follow ``IDLE_SECONDS`` of quiet (``ready_after_idle``)."""
    results: dict[str, Any] = {
        "services": len(workload.services),
        "pods_per_service": len(next(iter(workload.pods.values()))),
        "namespace": workload.namespace,
    }
    plan = [
        ("ready", "ready", ctx.profile.ready_trials, PACE_SECONDS),
        ("delete", "delete", ctx.profile.delete_trials, PACE_SECONDS),
        ("ready_back_to_back", "ready", ctx.profile.ready_trials, 0.0),
    ]
    if idle:
        plan.append(("ready_after_idle", "ready", ctx.profile.idle_trials, IDLE_SECONDS))
    for name, mode, count, pause in plan:
        before_ctl, before_api = await controller.scrape(), await apiserver.scrape(ctx.kube)
        trials = []
        for _ in range(count):
            service = ctx.rng.choice(workload.services)
            await asyncio.sleep(pause)
            trials.append(await trial(ctx.kube, observer, workload, service, mode=mode))
        after_ctl, after_api = await controller.scrape(), await apiserver.scrape(ctx.kube)
        summary_ = summarize(trials)
        moves = max(1, summary_["complete"])
        ctl_writes = apiserver.delta(writes(before_ctl), writes(after_ctl))
        api_applies = apiserver.delta(before_api.applies(), after_api.applies())
        latency = apiserver.histogram_delta(
            before_ctl.histogram("zen_lead_failover_latency_seconds"),
            after_ctl.histogram("zen_lead_failover_latency_seconds"),
        )
        summary_["writes_per_failover"] = {
            "controller_metrics": {k: v / moves for k, v in ctl_writes.items()},
            "apiserver_apply": {k: v / moves for k, v in api_applies.items()},
            "note": "slice apply is the critical-path write; the leader Service's annotations and the "
            "Event follow it; undoing a trial (pod Ready again / replacement pod) is included",
        }
        summary_["controller_failover_latency"] = {
            "count": max(latency.values(), default=0.0),
            "p50": apiserver.histogram_quantile(0.5, latency),
            "p99": apiserver.histogram_quantile(0.99, latency),
        }
        results[name] = summary_
        log.info(
            "%s S=%d %s: zen p50 %.1f ms p99 %.1f ms | upstream p50 %.1f ms p99 %.1f ms",
            workload.namespace,
            len(workload.services),
            name,
            1000 * summary_["zen_seconds"]["p50"],
            1000 * summary_["zen_seconds"]["p99"],
            1000 * summary_["upstream_seconds"]["p50"],
            1000 * summary_["upstream_seconds"]["p99"],
        )
    return results


async def standalone(ctx: Context, services: int, pods: int) -> dict[str, Any]:
    """One (S, P) configuration in a namespace of its own, with a controller of its own.

    Pods avoid the victim nodes of the node benchmarks, so a later node death touches only the large
    namespace."""
    namespace = f"fo-{services}x{pods}"
    plan = spread(services, pods, ctx.nodes[1:] or ctx.nodes)
    workload = await build(
        ctx.kube,
        namespace=namespace,
        plan=plan,
        kubeconfig=ctx.admin_kubeconfig,
        logs=ctx.logs,
        concurrency=ctx.profile.create_concurrency,
    )
    observer = ctx.observer(namespace)
    await observer.start()
    controller = ctx.controller(namespace, f"controller-{namespace}")
    try:
        since = observer.mark()
        await controller.start()
        await wait_converged(observer, workload, since=since)
        started = time.monotonic()
        results = await run_trials(ctx, workload, observer, controller)
        results["seconds"] = time.monotonic() - started
        results["safety"] = {
            "max_ready_endpoints": observer.max_ready,
            "violations": len(observer.violations),
        }
    finally:
        await controller.stop()
        observer.stop()
    return results
