"""Listening addresses: the ``[host]:port`` flags' syntax, a bind check before start-up, and serving an
aiohttp application on one (the manager's probes and metrics, the status API)."""

from __future__ import annotations

import socket
import ssl

from aiohttp import web


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


async def serve(
    app: web.Application, host: str, port: int, *, ssl_context: ssl.SSLContext | None = None
) -> tuple[web.AppRunner, int]:
    """Start serving (over TLS with ``ssl_context``); return the runner and the bound port (useful with
    port 0)."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port, ssl_context=ssl_context)
    await site.start()
    bound = port
    for address in runner.addresses:  # the real port when 0 was asked for
        bound = int(address[1])
    return runner, bound
