"""Benchmark 2: scale and cost on the large namespace (1,000 Services / 10,000 pods at full scale).

- ``cold_start``: the controller starts with no leader objects present; time to cache sync, to
  leadership, to every Service routing to one pod; RSS, CPU, event-loop lag, writes.
- ``quiet``: nothing changes for ``quiet_seconds``; requests counted by the controller and by the
  apiserver (its FlowSchema), CPU, RSS at steady state.
- ``warm_restart``: SIGTERM, start again, nothing changed in between: writes must be zero (counted by
  the controller, by the apiserver's APPLY counter, and by the watcher: no leader slice event at all).
- ``churn``: non-leader pods flipped NotReady and back (two pod events each, no failover needed): the
  controller's CPU seconds per 1,000 pod events, net of its idle rate.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from bench import apiserver
from bench.apiserver import Scrape
from bench.context import CONTROLLER_IDENTITY, Context, wait_converged
from bench.controller import Controller, cost, requests, writes
from bench.kube import bounded
from bench.observer import LEADER_SUFFIX, UPSTREAM, ZEN, SliceObserver
from bench.workload import Workload

log = logging.getLogger("bench")
SETTLE_SECONDS = 3.0
FIRST_PASS_TIMEOUT = 300.0


def loop_health(before: Scrape | None, after: Scrape) -> dict[str, dict[str, float]]:
    """A phase's ``event_loop_lag`` (wall-clock lateness of the loop's ticks) and ``event_loop_stall``
    (its upper bound caused by the controller's own work, see ``zen_lead.observability.looplag``)."""
    return {f"event_loop_{metric}": _loop_metric(before, after, metric) for metric in ("lag", "stall")}


def _loop_metric(before: Scrape | None, after: Scrape, metric: str) -> dict[str, float]:
    name = f"zen_lead_event_loop_{metric}_seconds"
    buckets = after.histogram(name)
    if before is not None:
        buckets = apiserver.histogram_delta(before.histogram(name), buckets)
    worst = after.total(f"zen_lead_event_loop_{metric}_max_seconds")
    return {
        "ticks": max(buckets.values(), default=0.0),
        # interpolated inside its bucket (as Prometheus does), capped by the worst tick ever seen
        "p99_seconds": min(apiserver.histogram_quantile(0.99, buckets), worst),
        "p99_bucket_le": next(
            (le for le, n in buckets.items() if n >= 0.99 * max(buckets.values(), default=0)), 0.0
        ),
        "max_seconds_since_start": worst,
    }


def api_latency(before: Scrape | None, after: Scrape, resource: str, verb: str = "apply") -> dict[str, float]:
    """The controller's own view of its requests (``zen_lead_api_request_duration_seconds``)."""
    return histogram_summary(
        before, after, "zen_lead_api_request_duration_seconds", verb=verb, resource=resource
    )


def histogram_summary(before: Scrape | None, after: Scrape, name: str, **labels: str) -> dict[str, float]:
    """Count, p50 and p99 of histogram ``name`` between two scrapes (interpolated in buckets)."""
    buckets = after.histogram(name, **labels)
    if before is not None:
        buckets = apiserver.histogram_delta(before.histogram(name, **labels), buckets)
    return {
        "count": max(buckets.values(), default=0.0),
        "p50": apiserver.histogram_quantile(0.5, buckets),
        "p99": apiserver.histogram_quantile(0.99, buckets),
    }


async def scrape_seconds(controller: Controller, samples: int = 3) -> list[float]:
    """How long one ``/metrics`` scrape takes (it is generated on the controller's event loop)."""
    found = []
    for _ in range(samples):
        started = time.monotonic()
        await controller.scrape()
        found.append(time.monotonic() - started)
        await asyncio.sleep(1.0)
    return found


async def cold_start(
    ctx: Context, workload: Workload, observer: SliceObserver
) -> tuple[Controller, dict[str, Any]]:
    controller = ctx.controller(workload.namespace, "controller-big")
    api_before = await apiserver.scrape(ctx.kube)
    since = observer.mark()
    await controller.start()
    synced = await controller.wait_log("caches synced")
    leading = await controller.wait_log("became leader")
    routed = await wait_converged(observer, workload, since=since)
    converged_cost = cost(controller)
    await asyncio.sleep(SETTLE_SECONDS)
    scrape = await controller.scrape()
    api_after = await apiserver.scrape(ctx.kube)
    result = {
        "services": len(workload.services),
        "pods": workload.pod_count,
        "start_to_cache_sync_seconds": synced - controller.started,
        "start_to_leadership_seconds": leading - controller.started,
        "start_to_converged_seconds": routed - controller.started,
        "cache_sync_to_converged_seconds": routed - synced,
        "leadership_to_converged_seconds": routed - leading,
        "at_convergence": converged_cost,
        "after_settle": cost(controller),
        **loop_health(None, scrape),
        "controller_writes": writes(scrape),
        "controller_requests": requests(scrape),
        "controller_apply_latency": {r: api_latency(None, scrape, r) for r in ("services", "endpointslices")},
        "apiserver_apply": apiserver.delta(api_before.applies(), api_after.applies()),
        "apiserver_requests": apiserver.delta(
            api_before.flow_requests(CONTROLLER_IDENTITY), api_after.flow_requests(CONTROLLER_IDENTITY)
        ),
    }
    log.info(
        "cold start: sync %.2fs, converged %.2fs after sync; RSS %.0f MB",
        result["start_to_cache_sync_seconds"],
        result["cache_sync_to_converged_seconds"],
        converged_cost["rss_bytes"] / 2**20,
    )
    return controller, result


async def quiet(ctx: Context, controller: Controller) -> dict[str, Any]:
    before, api_before = await controller.scrape(), await apiserver.scrape(ctx.kube)
    cpu_before, started = controller.cpu(), time.monotonic()
    await asyncio.sleep(ctx.profile.quiet_seconds)
    elapsed = time.monotonic() - started
    after, api_after = await controller.scrape(), await apiserver.scrape(ctx.kube)
    cpu = controller.cpu() - cpu_before
    scrapes = await scrape_seconds(controller)
    flow = apiserver.delta(
        api_before.flow_requests(CONTROLLER_IDENTITY), api_after.flow_requests(CONTROLLER_IDENTITY)
    )
    result = {
        "seconds": elapsed,
        "controller_requests": {
            k: v for k, v in apiserver.delta(requests(before), requests(after)).items() if v
        },
        "apiserver_requests": flow,
        "expected_lease_renewals": elapsed / 2.0,  # --retry-period 2 s: one renewal (PUT) each
        "apiserver_apply": apiserver.delta(api_before.applies(), api_after.applies()),
        "cpu_seconds": cpu,
        "cpu_seconds_per_minute": 60 * cpu / elapsed,
        "rss_bytes": controller.rss(),
        "peak_rss_bytes": controller.peak_rss(),
        **loop_health(before, after),
        "metrics_scrape_seconds": scrapes,
    }
    log.info(
        "quiet %.0fs: controller requests %s, apiserver %s, RSS %.0f MB",
        elapsed,
        result["controller_requests"],
        flow,
        controller.rss() / 2**20,
    )
    return result


async def _first_pass_done(controller: Controller, services: int) -> float:
    """Wait until the new controller reconciled every Service once and its queue is empty."""
    deadline = time.monotonic() + FIRST_PASS_TIMEOUT
    while time.monotonic() < deadline:
        scrape = await controller.scrape()
        reconciles = scrape.total("zen_lead_reconcile_duration_seconds_count")
        depth = scrape.total("zen_lead_workqueue_depth")
        if reconciles >= services and depth == 0:
            return time.monotonic()
        # each scrape costs the controller's event loop ~0.1 s at 1,000 Services: poll gently
        await asyncio.sleep(0.25)
    raise RuntimeError("the restarted controller did not finish its first pass")


async def warm_restart(
    ctx: Context, controller: Controller, workload: Workload, observer: SliceObserver
) -> tuple[Controller, dict[str, Any]]:
    api_before = await apiserver.scrape(ctx.kube)
    stopping = time.monotonic()
    await controller.stop()
    stopped = time.monotonic()
    since = observer.mark()
    restarted = ctx.controller(workload.namespace, "controller-big-restart")
    await restarted.start()
    synced = await restarted.wait_log("caches synced")
    leading = await restarted.wait_log("became leader")
    first_pass = await _first_pass_done(restarted, len(workload.services))
    await asyncio.sleep(SETTLE_SECONDS)
    scrape = await restarted.scrape()
    api_after = await apiserver.scrape(ctx.kube)
    with observer.lock:
        slice_events = sum(
            1
            for (managed_by, _), history in observer.history.items()
            if managed_by == ZEN
            for event in history.events
            if event.seq >= since
        )
    result = {
        "stop_seconds": stopped - stopping,
        "start_to_cache_sync_seconds": synced - restarted.started,
        "start_to_leadership_seconds": leading - restarted.started,
        "start_to_first_pass_done_seconds": first_pass - restarted.started,
        "controller_writes": writes(scrape),
        "controller_writes_total": sum(writes(scrape).values()),
        "apiserver_apply": apiserver.delta(api_before.applies(), api_after.applies()),
        "apiserver_requests": apiserver.delta(
            api_before.flow_requests(CONTROLLER_IDENTITY), api_after.flow_requests(CONTROLLER_IDENTITY)
        ),
        "leader_slice_events_observed": slice_events,
        "rss_bytes": restarted.rss(),
        **loop_health(None, scrape),
    }
    log.info(
        "warm restart: %s writes, %d leader-slice events", result["controller_writes_total"], slice_events
    )
    return restarted, result


async def churn(
    ctx: Context,
    controller: Controller,
    workload: Workload,
    observer: SliceObserver,
    idle_cpu_per_second: float,
) -> dict[str, Any]:
    leaders = {e.pod for e in observer.snapshot_leaders(workload.services).values() if e is not None}
    candidates = sorted(p for pods in workload.pods.values() for p in pods if p not in leaders)
    chosen = ctx.rng.sample(candidates, min(ctx.profile.churn_pods, len(candidates)))
    before = await controller.scrape()
    cpu_before, started = controller.cpu(), time.monotonic()
    for ready in (False, True):

        async def flip(pod: str, ready: bool = ready) -> float:
            return await ctx.kube.set_pod_ready(workload.namespace, pod, ready=ready)

        await bounded(chosen, flip, concurrency=ctx.profile.burst_concurrency)

    def restored() -> bool:
        return all(observer.upstream_ready(workload.service_of(p), p) is True for p in chosen)

    await observer.wait_until(restored, 120.0)
    await asyncio.sleep(1.0)  # the controller has seen the last events by now; let it finish them
    elapsed = time.monotonic() - started
    cpu = controller.cpu() - cpu_before
    after = await controller.scrape()
    events = 2 * len(chosen)
    moved = sum(
        1
        for service in workload.services
        for history in [observer.history.get((ZEN, service + LEADER_SUFFIX))]
        if history
        for e in history.events
        if e.t >= started
    )
    result = {
        "pod_events": events,
        "seconds": elapsed,
        "events_per_second": events / elapsed,
        "cpu_seconds": cpu,
        "cpu_seconds_per_1000_events": 1000 * cpu / events,
        "idle_cpu_seconds_per_second": idle_cpu_per_second,
        "net_cpu_seconds_per_1000_events": 1000 * max(0.0, cpu - idle_cpu_per_second * elapsed) / events,
        "controller_writes": apiserver.delta(writes(before), writes(after)),
        "leader_slice_events": moved,
        "upstream_slices": len({k for k in observer.history if k[0] == UPSTREAM}),
        **loop_health(before, after),
        "rss_bytes": controller.rss(),
    }
    log.info(
        "churn: %d pod events in %.1fs, %.3f CPU s per 1,000 events",
        events,
        elapsed,
        result["cpu_seconds_per_1000_events"],
    )
    return result
