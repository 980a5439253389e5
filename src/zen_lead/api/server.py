"""The status API as a runnable of ``zen-lead run``: on every replica (leader or standby), from the
shared caches, HTTP on ``--api-bind-address`` and gRPC on ``--grpc-bind-address``.

Off unless one of the addresses is given (it needs ``system:auth-delegator`` for its reviews). With
TLS, both servers load the certificate and key from files; the HTTP server picks up renewed files on
the next handshake (its SSL context reloads them when their modification time changes), the gRPC
server through its certificate-configuration fetcher.
"""

from __future__ import annotations

import asyncio
import logging
import os
import ssl
from collections.abc import Callable
from pathlib import Path

import grpc
from aiohttp import web

from zen_lead.api.auth import Authenticator
from zen_lead.api.core.access import CachePolicy
from zen_lead.api.freshness import Freshness
from zen_lead.api.http import build_api_app
from zen_lead.api.locks import LockService
from zen_lead.api.options import ApiOptions
from zen_lead.api.service import ApiService
from zen_lead.api.views import LeaderViews
from zen_lead.kube.client import ApiClient
from zen_lead.runtime.binding import serve
from zen_lead.runtime.cache import InformerCache

log = logging.getLogger(__name__)


class ApiServer:
    name = "status-api"
    needs_leader_election = False

    def __init__(
        self,
        client: ApiClient,
        cache: InformerCache,
        options: ApiOptions,
        *,
        identity: str,
        pools: bool,
        reserved: frozenset[tuple[str, str]],
        on_bound: Callable[[dict[str, str]], None] | None = None,
    ) -> None:
        self.options = options
        self.views = LeaderViews(cache, pools=pools)
        self.freshness = Freshness(
            client, self.views.informers(), bound=options.stale_after, on_flip=self.views.publish_all
        )
        self.service = ApiService(
            auth=Authenticator(client, CachePolicy(options.auth_allow_ttl, options.auth_deny_ttl)),
            views=self.views,
            locks=LockService(client, self.views, reserved=reserved),
            freshness=self.freshness,
            identity=identity,
        )
        self.on_bound = on_bound
        self.bound: dict[str, str] = {}

    async def run(self) -> None:
        addresses = self.options.addresses
        http, grpc_address = addresses["--api-bind-address"], addresses["--grpc-bind-address"]
        runner: web.AppRunner | None = None
        server: grpc.aio.Server | None = None
        try:
            if http is not None:
                app = build_api_app(self.service)
                runner, port = await serve(app, *http, ssl_context=self._ssl_context())
                self.bound["api"] = f"{http[0]}:{port}"
            if grpc_address is not None:
                server, port = await self._start_grpc(*grpc_address)
                self.bound["grpc"] = f"{grpc_address[0]}:{port}"
            log.info("serving the status API", extra={**self.bound, "tls": self.options.tls})
            if self.on_bound is not None:
                self.on_bound(self.bound)
            async with asyncio.TaskGroup() as group:
                group.create_task(self.freshness.run(), name="api freshness")
                group.create_task(self.views.run_expiries(), name="api expiries")
        finally:
            if server is not None:
                await server.stop(grace=1.0)
            if runner is not None:
                await runner.cleanup()

    async def _start_grpc(self, host: str, port: int) -> tuple[grpc.aio.Server, int]:
        from zen_lead.api.grpc_server import SERVING, build_grpc_server

        server = build_grpc_server(self.service)
        address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        if self.options.tls:
            credentials = grpc.dynamic_ssl_server_credentials(
                self._grpc_certificates(), self._grpc_certificates, require_client_authentication=False
            )
            bound = server.add_secure_port(address, credentials)
        else:
            bound = server.add_insecure_port(address)
        await server.start()
        for service_name in ("", "zenlead.v1.Leaders", "zenlead.v1.Locks"):
            await server.health.set(service_name, SERVING)  # type: ignore[attr-defined]
        return server, bound

    def _grpc_certificates(self) -> grpc.ServerCertificateConfiguration:
        assert self.options.tls_cert_file is not None
        assert self.options.tls_key_file is not None
        key = Path(self.options.tls_key_file).read_bytes()
        cert = Path(self.options.tls_cert_file).read_bytes()
        return grpc.ssl_server_certificate_configuration([(key, cert)])

    def _ssl_context(self) -> ssl.SSLContext | None:
        if not self.options.tls:
            return None
        assert self.options.tls_cert_file is not None
        assert self.options.tls_key_file is not None
        return reloading_context(self.options.tls_cert_file, self.options.tls_key_file)


def reloading_context(cert_file: str, key_file: str) -> ssl.SSLContext:
    """A server context that serves the pair as it is on disk: when either file changed since it was
    loaded (checked at each handshake), a context with the new pair takes over that connection and the
    ones after it."""

    def make() -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(cert_file, key_file)
        return context

    def stamp() -> tuple[float, float]:
        return (os.stat(cert_file).st_mtime, os.stat(key_file).st_mtime)

    outer = make()
    current = [outer, stamp()]

    def on_hello(sock: ssl.SSLObject | ssl.SSLSocket, server_name: str | None, ctx: ssl.SSLContext) -> None:
        try:
            now = stamp()
            if now != current[1]:
                current[:] = [make(), now]
                log.info("reloaded the status API's certificate", extra={"file": cert_file})
        except (OSError, ssl.SSLError) as error:
            log.warning("cannot reload the status API's certificate", extra={"error": str(error)})
        if current[0] is not outer:
            sock.context = current[0]  # type: ignore[assignment]

    outer.sni_callback = on_hello
    return outer
