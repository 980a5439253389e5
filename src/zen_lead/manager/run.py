"""The manager's main loop.

Start-up: informers start at once on every replica (standbys keep warm caches); ``/readyz`` turns ready
when they have synced; then ``gc.freeze()`` moves the now long-lived cached objects out of the garbage
collector's generations. Only the replica holding the manager Lease runs the workers that write; when
leadership is lost the workers are cancelled before the Lease can expire for others (the elector's hard
step-down), and the replica re-campaigns. SIGTERM releases the Lease after the workers have drained, so a
standby takes over within one retry period.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
from contextlib import AsyncExitStack

from zen_lead import __version__
from zen_lead.director.controller import Director, DirectorOptions
from zen_lead.director.events import EventRecorder
from zen_lead.kube.client import ApiClient
from zen_lead.manager.http import build_app, parse_bind_address, serve
from zen_lead.manager.leadership import run_with_leadership
from zen_lead.manager.options import ManagerOptions
from zen_lead.observability import logging as zl_logging
from zen_lead.observability.looplag import LoopLagMonitor
from zen_lead.observability.metrics import BUILD_INFO

log = logging.getLogger("zen_lead.manager")


async def run_manager(options: ManagerOptions) -> None:
    zl_logging.configure(options.log_level, options.log_format)
    BUILD_INFO.info({"version": __version__})
    client = ApiClient.from_kubeconfig(options.kubeconfig, qps=options.qps, burst=options.burst)
    events = EventRecorder(client, host=options.identity)
    director = Director(
        client,
        events,
        DirectorOptions(
            namespaces=options.namespaces, workers=options.workers, node_zones=options.node_zones
        ),
    )
    events.yield_to = director.queue.failovers_drained
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    log.info(
        "starting",
        extra={
            "version": __version__,
            "identity": options.identity,
            "namespaces": options.namespaces or "all",
            "qps": options.qps,
            "burst": options.burst,
            "workers": options.workers,
        },
    )
    async with AsyncExitStack() as stack:
        await _start_http(options, director, stack)
        async with asyncio.TaskGroup() as group:
            director.start_informers(group)
            group.create_task(events.run(), name="events")
            group.create_task(LoopLagMonitor().run(), name="loop-lag")
            group.create_task(_freeze_after_sync(director), name="gc-freeze")
            await run_with_leadership(options, director.run_workers, stop)
            for task in group._tasks:
                task.cancel()
    await client.aclose()
    log.info("stopped")


async def _freeze_after_sync(director: Director) -> None:
    await director.wait_synced()
    gc.collect()
    gc.freeze()
    log.info(
        "caches synced",
        extra={
            "services": len(director.services),
            "pods": len(director.pods),
            "slices": len(director.slices),
        },
    )


async def _start_http(options: ManagerOptions, director: Director, stack: AsyncExitStack) -> None:
    metrics = parse_bind_address(options.metrics_bind_address)
    probes = parse_bind_address(options.health_probe_bind_address)
    ready = lambda: director.synced  # noqa: E731
    if metrics is not None and metrics == probes:
        runner, port = await serve(build_app(metrics=True, probes=True, ready=ready), *metrics)
        stack.push_async_callback(runner.cleanup)
        log.info("serving metrics and probes", extra={"address": f"{metrics[0]}:{port}"})
        return
    for address, is_metrics in ((metrics, True), (probes, False)):
        if address is None:
            continue
        runner, port = await serve(
            build_app(metrics=is_metrics, probes=not is_metrics, ready=ready), *address
        )
        stack.push_async_callback(runner.cleanup)
        log.info(
            "serving " + ("metrics" if is_metrics else "probes"), extra={"address": f"{address[0]}:{port}"}
        )
