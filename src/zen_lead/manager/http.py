"""The manager's HTTP endpoints: ``/metrics`` on the metrics address; ``/healthz`` and ``/readyz`` on the
probe address (both may be one address). ``/readyz`` turns 200 once every informer the enabled
components need has synced, and otherwise answers 503 with one line per reason (an informer not
synced yet, a CRD that is not installed, a namespace that does not exist); it reads only local state,
so it needs no permission beyond what the controller already has."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from zen_lead.runtime.binding import parse_bind_address, probe_bind, serve

__all__ = ["build_app", "parse_bind_address", "probe_bind", "serve"]


async def _metrics(_: web.Request) -> web.Response:
    # Rendering ~10 series per Service takes tens of milliseconds at 1,000 Services: in a thread, the
    # event loop keeps routing meanwhile (it gets the GIL back every switch interval, 5 ms) instead of
    # stalling for the whole scrape. prometheus_client's collection is thread-safe.
    body = await asyncio.to_thread(generate_latest)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


def build_app(*, metrics: bool, probes: bool, not_ready: Callable[[], list[str]]) -> web.Application:
    app = web.Application()
    if metrics:
        app.router.add_get("/metrics", _metrics)
    if probes:

        async def healthz(_: web.Request) -> web.Response:
            return web.Response(text="ok")

        async def readyz(_: web.Request) -> web.Response:
            reasons = not_ready()
            if not reasons:
                return web.Response(text="ok")
            return web.Response(status=503, text="not ready:\n" + "\n".join(reasons) + "\n")

        app.router.add_get("/healthz", healthz)
        app.router.add_get("/readyz", readyz)
    return app
