"""Benchmark 3 (issue 8): a node dies; every Service whose leader lived there must move.

- ``status_burst``: every pod of victim A is set NotReady through the status subresource, all writes
  in flight at once (bounded by ``burst_concurrency``). Measured from the moment the LAST write landed
  (its response arrived) to the last affected Service routing to a ready pod elsewhere (zen-lead), and
  to the last upstream slice marking the node's pods not ready.
- ``heartbeat``: victim B's own kwok process (``bench.solo``) is killed, so its Lease is no longer
  renewed (as when a kubelet dies). After ``--node-monitor-grace-period`` (20 s on the local cluster) the
  node lifecycle controller marks the node's pods NotReady itself, through kube-controller-manager's
  client (QPS 20). The pod watch stamps each of those updates; times are measured from them.

Both check safety from the watcher's records: no Service's leader slices ever held two ready endpoints,
and at the end every Service routes to one ready pod (each has nine eligible pods left).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable
from typing import Any

from bench import apiserver
from bench.context import CONTROLLER_IDENTITY, Context, converged
from bench.controller import Controller, writes
from bench.kube import bounded
from bench.observer import LEADER_SUFFIX, UPSTREAM, ZEN, Endpoint, SliceObserver
from bench.scale import api_latency, histogram_summary, loop_health
from bench.stats import summary
from bench.workload import Workload

log = logging.getLogger("bench")
BURST_TIMEOUT = 300.0
NODE_MONITOR_SECONDS = 5.0  # > --node-monitor-period (2 s) on the local cluster


def _affected(
    observer: SliceObserver, workload: Workload, victim: str
) -> tuple[list[str], list[str], set[str]]:
    """(Services led from the victim, Services with any pod on it, the victim's pods)."""
    pods = {p for p, node in workload.node_of.items() if node == victim}
    leaders = observer.snapshot_leaders(workload.services)
    led = [s for s, e in leaders.items() if e is not None and e.pod in pods]
    touched = sorted({workload.service_of(p) for p in pods})
    return led, touched, pods


def _routed_elsewhere(doomed: set[str]) -> Any:
    def test(endpoints: list[Endpoint]) -> bool:
        ready = [e for e in endpoints if e.ready]
        return len(ready) == 1 and ready[0].pod not in doomed

    return test


def _cleared(doomed: set[str]) -> Any:
    def test(endpoints: list[Endpoint]) -> bool:
        return not any(e.ready and e.pod in doomed for e in endpoints)

    return test


async def _wait_moved(
    observer: SliceObserver, led: list[str], touched: list[str], doomed: set[str], seconds: float
) -> bool:
    moved, cleared = _routed_elsewhere(doomed), _cleared(doomed)

    def done() -> bool:
        return all(moved(observer.endpoints(s + LEADER_SUFFIX, managed_by=ZEN)) for s in led) and all(
            cleared(observer.endpoints(s, managed_by=UPSTREAM)) for s in touched
        )

    return await observer.wait_until(done, seconds)


def _times(
    observer: SliceObserver, led: list[str], touched: list[str], doomed: set[str], since: int
) -> tuple[dict[str, float | None], dict[str, float | None]]:
    zen = {
        s: observer.first_time(s + LEADER_SUFFIX, managed_by=ZEN, since=since, test=_routed_elsewhere(doomed))
        for s in led
    }
    upstream = {
        s: observer.first_time(s, managed_by=UPSTREAM, since=since, test=_cleared(doomed)) for s in touched
    }
    return zen, upstream


def _after(times: dict[str, float | None], origin: float) -> dict[str, Any]:
    found = [t - origin for t in times.values() if t is not None]
    return {"last_seconds": max(found) if found else None, "missing": sum(t is None for t in times.values())}


def _timeline(
    zen: dict[str, float | None], upstream: dict[str, float | None], writes: Iterable[float], origin: float
) -> dict[str, list[float]]:
    """Seconds since ``origin`` (the first pod going NotReady) of every move, clearing and pod update."""
    return {
        "zen": sorted(t - origin for t in zen.values() if t is not None),
        "upstream": sorted(t - origin for t in upstream.values() if t is not None),
        "writes": sorted(t - origin for t in writes),
    }


def _safety(observer: SliceObserver, workload: Workload, started: float) -> dict[str, Any]:
    with observer.lock:
        violations = [v for v in observer.violations if v.t >= started]
        leaderless = [s for s in workload.services if observer.leader(s) is None]
        all_routed = converged(observer, workload)
    return {
        "two_ready_endpoints_observed": len(violations),
        "examples": [{"service": v.service, "pods": list(v.ready_pods)} for v in violations[:5]],
        "services_without_one_leader_at_end": len(leaderless),
        "all_services_routed_at_end": all_routed,
    }


async def _restore(ctx: Context, observer: SliceObserver, workload: Workload, pods: set[str]) -> None:
    """Ready again. Retried: the node lifecycle controller re-marks pods of a node it still sees as
    not ready (it does so on every pod update), until its next health check of the node."""
    for _attempt in range(5):
        await bounded(
            sorted(pods),
            lambda p: ctx.kube.set_pod_ready(workload.namespace, p, ready=True),
            concurrency=ctx.profile.burst_concurrency,
        )
        if await observer.wait_until(
            lambda: all(observer.upstream_ready(workload.service_of(p), p) is True for p in pods), 30.0
        ):
            return
    log.warning("pods of the victim node not all Ready again")


async def status_burst(
    ctx: Context,
    controller: Controller,
    workload: Workload,
    observer: SliceObserver,
    *,
    victim: str | None = None,
) -> dict[str, Any]:
    victim = victim or workload.victims[0]
    led, touched, doomed = _affected(observer, workload, victim)
    before, api_before = await controller.scrape(), await apiserver.scrape(ctx.kube)
    sockets_before = controller.sockets()
    since = observer.mark()
    landed: dict[str, float] = {}
    first_sent = time.monotonic()

    async def write(pod: str) -> None:
        landed[pod] = await ctx.kube.set_pod_ready(workload.namespace, pod, ready=False)

    await bounded(sorted(doomed), write, concurrency=ctx.profile.burst_concurrency)
    last_landed = max(landed.values())
    finished = await _wait_moved(observer, led, touched, doomed, BURST_TIMEOUT)
    after, api_after = await controller.scrape(), await apiserver.scrape(ctx.kube)
    zen, upstream = _times(observer, led, touched, doomed, since)
    leaders_after = observer.snapshot_leaders(led)
    result = {
        "victim": victim,
        "pods_made_not_ready": len(doomed),
        "services_led_from_victim": len(led),
        "services_with_pods_on_victim": len(touched),
        "finished_within_timeout": finished,
        "writes_spread_seconds": last_landed - first_sent,
        "zen_after_last_write": _after(zen, last_landed),
        "upstream_after_last_write": _after(upstream, last_landed),
        "zen_after_first_write": _after(zen, first_sent),
        "upstream_after_first_write": _after(upstream, first_sent),
        "zen_per_service_after_its_write": summary(
            [t - landed[_led_pod(s, workload, doomed)] for s, t in zen.items() if t is not None]
        ),
        "safety": _safety(observer, workload, first_sent),
        "timeline": _timeline(zen, upstream, landed.values(), first_sent),
        "controller_writes": apiserver.delta(writes(before), writes(after)),
        "controller_throttled_429": after.total("zen_lead_api_throttled_total")
        - before.total("zen_lead_api_throttled_total"),
        "apiserver_apply": apiserver.delta(api_before.applies(), api_after.applies()),
        **loop_health(before, after),
        "controller_sockets": {"before": sockets_before, "after": controller.sockets()},
        "controller_apply_slice_latency": api_latency(before, after, "endpointslices"),
        # the controller's own view, from the pod event it received to the slice write that landed,
        # and the part of it spent queued before a worker took the key; the rest of the per-Service
        # time above is the event's way from the harness's write to the controller
        "controller_failover_latency": histogram_summary(before, after, "zen_lead_failover_latency_seconds"),
        "controller_failover_queue_wait": histogram_summary(
            before, after, "zen_lead_workqueue_wait_seconds", lane="failover"
        ),
        "apiserver_flowcontrol_wait": histogram_summary(
            api_before,
            api_after,
            "apiserver_flowcontrol_request_wait_duration_seconds",
            flow_schema=f"bench-{CONTROLLER_IDENTITY}",
        ),
        "leaders_now_elsewhere": sum(
            1 for e in leaders_after.values() if e is not None and e.pod not in doomed
        ),
    }
    _log("status burst", result)
    await _restore(ctx, observer, workload, doomed)
    return result


def _led_pod(service: str, workload: Workload, doomed: set[str]) -> str:
    """The Service's pod on the victim (its leader before the burst: each Service has one there)."""
    return next(p for p in workload.pods[service] if p in doomed)


def _log(what: str, result: dict[str, Any]) -> None:
    log.info(
        "%s: %d leaders; zen last %.3fs, upstream last %.3fs after the last write",
        what,
        result["services_led_from_victim"],
        result["zen_after_last_write"]["last_seconds"] or float("nan"),
        result["upstream_after_last_write"]["last_seconds"] or float("nan"),
    )


async def heartbeat(
    ctx: Context, controller: Controller, workload: Workload, observer: SliceObserver
) -> dict[str, Any]:
    victim = workload.victims[1]
    assert ctx.solo is not None
    assert ctx.solo.name == victim
    led, touched, doomed = _affected(observer, workload, victim)
    before = await controller.scrape()
    since = observer.mark()
    stopped = time.monotonic()
    ctx.solo.kill()  # the node's kubelet dies: its Lease is no longer renewed
    finished = await _wait_moved(observer, led, touched, doomed, BURST_TIMEOUT)
    after = await controller.scrape()
    zen, upstream = _times(observer, led, touched, doomed, since)
    marked = {p: t for p in doomed if (t := observer.pod_unready_seen(p, since)) is not None}
    first_marked = min(marked.values()) if marked else stopped
    last_marked = max(marked.values()) if marked else stopped
    per_service = [
        t - marked[pod]
        for s, t in zen.items()
        if t is not None and (pod := _led_pod(s, workload, doomed)) in marked
    ]
    result = {
        "victim": victim,
        "pods_on_victim": len(doomed),
        "pods_marked_not_ready": len(marked),
        "services_led_from_victim": len(led),
        "services_with_pods_on_victim": len(touched),
        "finished_within_timeout": finished,
        "heartbeat_stop_to_first_pod_marked_seconds": first_marked - stopped,
        "pod_marking_spread_seconds": last_marked - first_marked,
        "zen_after_last_write": _after(zen, last_marked),
        "upstream_after_last_write": _after(upstream, last_marked),
        "zen_after_first_write": _after(zen, first_marked),
        "upstream_after_first_write": _after(upstream, first_marked),
        "zen_per_service_after_its_pod_marked": summary(per_service),
        "safety": _safety(observer, workload, stopped),
        "timeline": _timeline(zen, upstream, marked.values(), first_marked),
        "controller_writes": apiserver.delta(writes(before), writes(after)),
        **loop_health(before, after),
        "controller_failover_latency": histogram_summary(before, after, "zen_lead_failover_latency_seconds"),
    }
    _log("heartbeat stop", result)
    await ctx.solo.revive(ctx.kube)
    await asyncio.sleep(NODE_MONITOR_SECONDS)  # the node lifecycle controller sees the node healthy again
    await _restore(ctx, observer, workload, doomed)
    return result
