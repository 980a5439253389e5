"""The manager's main loop: compose the runnables, serve probes and metrics, lead or stand by.

Start-up: the enabled controllers are built on one API client, one informer cache, one Event recorder
and one write gate; each registers the informers it reads. Every replica then runs the runnables that
need no leadership — the cache (standbys keep warm caches), the Event poster, the event-loop monitor,
and ``gc.freeze()`` once the caches have synced (the long-lived cached objects leave the garbage
collector's generations) — and ``/readyz`` turns ready when the cache has synced. Only the replica
holding the manager Lease runs the controllers; when leadership is lost they are cancelled before the
Lease can expire for others (the elector's hard step-down), and the replica re-campaigns. SIGTERM
releases the Lease after the controllers have drained, so a standby takes over within one retry period.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import signal
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from pathlib import Path

from prometheus_client import disable_created_metrics

from zen_lead import __version__
from zen_lead.kube.client import ApiClient
from zen_lead.manager.controllers import CONTROLLERS, Shared
from zen_lead.manager.http import build_app, parse_bind_address, serve
from zen_lead.manager.leadership import run_with_leadership
from zen_lead.manager.options import ManagerOptions
from zen_lead.observability import logging as zl_logging
from zen_lead.observability.looplag import LoopLagMonitor
from zen_lead.observability.metrics import BUILD_INFO
from zen_lead.runtime.cache import InformerCache
from zen_lead.runtime.controller import Controller
from zen_lead.runtime.events import EventRecorder
from zen_lead.runtime.runnable import Runnable, WriteGate

log = logging.getLogger("zen_lead.manager")


async def run_manager(options: ManagerOptions) -> None:
    zl_logging.configure(options.log_level, options.log_format)
    disable_created_metrics()  # type: ignore[no-untyped-call]  # no ``_created`` series beside every counter and histogram
    BUILD_INFO.info({"version": __version__})
    client = ApiClient.from_kubeconfig(options.kubeconfig, qps=options.qps, burst=options.burst)
    cache = InformerCache(client, namespaces=options.namespaces)
    events = EventRecorder(client, host=options.identity)
    shared = Shared(client=client, cache=cache, events=events, gate=WriteGate(), options=options)
    controllers = [CONTROLLERS[name].build(shared) for name in sorted(options.controllers)]
    events.yield_to = _failovers_drained(controllers)
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
            "controllers": sorted(options.controllers),
            "qps": options.qps,
            "burst": options.burst,
            "workers": options.workers,
        },
    )
    everywhere: list[Runnable] = [cache, events, LoopLagMonitor(), _FreezeAfterSync(cache)]
    async with AsyncExitStack() as stack:
        bound = await _start_http(options, cache, stack)
        if options.api.enabled:
            everywhere.append(_api_server(options, client, cache, bound))
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(runnable.run(), name=runnable.name) for runnable in everywhere]
            await run_with_leadership(options, controllers, shared.gate, stop)
            for task in tasks:
                task.cancel()
    await client.aclose()
    log.info("stopped")


def _failovers_drained(controllers: list[Controller]) -> Callable[[], Awaitable[None]]:
    """What the Event poster waits for: no failover queued or in flight in any controller."""

    async def drained() -> None:
        for controller in controllers:
            await controller.queue.failovers_drained()

    return drained


class _FreezeAfterSync:
    name = "gc-freeze"
    needs_leader_election = False

    def __init__(self, cache: InformerCache) -> None:
        self.cache = cache

    async def run(self) -> None:
        await self.cache.wait_synced()
        gc.collect()
        gc.freeze()
        log.info("caches synced", extra=self.cache.sizes())


def _api_server(
    options: ManagerOptions, client: ApiClient, cache: InformerCache, bound: dict[str, str]
) -> Runnable:
    # imported here: the API (grpcio, about 10 MB) costs nothing where it is not enabled
    from zen_lead.api.server import ApiServer

    def on_bound(addresses: dict[str, str]) -> None:
        bound.update(addresses)
        if options.addresses_file:
            _write_atomically(Path(options.addresses_file), json.dumps(bound))

    return ApiServer(
        client,
        cache,
        options.api,
        identity=options.identity,
        pools="pools" in options.controllers,
        reserved=frozenset({(options.leader_election_namespace, options.leader_election_id)}),
        on_bound=on_bound,
    )


async def _start_http(options: ManagerOptions, cache: InformerCache, stack: AsyncExitStack) -> dict[str, str]:
    metrics = parse_bind_address(options.metrics_bind_address)
    probes = parse_bind_address(options.health_probe_bind_address)
    bound: dict[str, str] = {}
    if metrics is not None and metrics == probes:
        runner, port = await serve(build_app(metrics=True, probes=True, not_ready=cache.not_ready), *metrics)
        stack.push_async_callback(runner.cleanup)
        bound["metrics"] = bound["probes"] = f"{metrics[0]}:{port}"
        log.info("serving metrics and probes", extra={"address": bound["metrics"]})
    else:
        for address, role in ((metrics, "metrics"), (probes, "probes")):
            if address is None:
                continue
            app = build_app(metrics=role == "metrics", probes=role == "probes", not_ready=cache.not_ready)
            runner, port = await serve(app, *address)
            stack.push_async_callback(runner.cleanup)
            bound[role] = f"{address[0]}:{port}"
            log.info(f"serving {role}", extra={"address": bound[role]})
    if options.addresses_file and not options.api.enabled:  # with the API: once it is bound too
        _write_atomically(Path(options.addresses_file), json.dumps(bound))
    return bound


def _write_atomically(path: Path, text: str) -> None:
    """Readers see the whole file or none of it (written beside, then renamed)."""
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text)
    partial.replace(path)
