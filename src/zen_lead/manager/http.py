"""The manager's HTTP endpoints: ``/metrics`` on the metrics address; ``/healthz`` and ``/readyz`` on the
probe address (both may be one address). ``/readyz`` turns 200 once every informer the enabled
components need has synced, and otherwise answers 503 with one line per reason (an informer not
synced yet, a CRD that is not installed, a namespace that does not exist); it reads only local state,
so it needs no permission beyond what the controller already has."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest


def parse_bind_address(address: str) -> tuple[str, int] | None:
    """``:8080`` -> ("0.0.0.0", 8080); ``127.0.0.1:0`` -> any free port; ``[::1]:8080``; ``0`` disables."""
    if address in {"0", ""}:
        return None
    host, colon, port = address.rpartition(":")
    if not colon or not port.isdigit() or int(port) > 65535:
        raise ValueError(f"{address!r} is not [host]:port with a port from 0 to 65535 (0 alone disables it)")
    return (host.strip("[]") or "0.0.0.0", int(port))


def probe_bind(host: str, port: int) -> None:
    """Bind ``host:port`` and let go at once, as the server will bind it (``SO_REUSEADDR``, every address
    the host resolves to): a taken port or an address of another machine is an ``OSError`` here, before
    anything starts, instead of one from the middle of start-up."""
    for family, kind, proto, _, sockaddr in socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    ):
        with socket.socket(family, kind, proto) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)  # as asyncio's servers do
            sock.bind(sockaddr)


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


async def serve(app: web.Application, host: str, port: int) -> tuple[web.AppRunner, int]:
    """Start serving; return the runner and the bound port (useful with port 0)."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = port
    for address in runner.addresses:  # the real port when 0 was asked for
        bound = int(address[1])
    return runner, bound
