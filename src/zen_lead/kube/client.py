"""``ApiClient``: the controller's one connection to the apiserver.

- A pool of keep-alive HTTP/1.1 connections (aiohttp; TLS and credentials from the kubeconfig through
  lightkube's loader, see ``kube.credentials``): every in-flight write has its own connection, so no
  slow call blocks unrelated ones; each watch holds one. aiohttp, not lightkube's httpx transport, on
  this path: measured on the local cluster it spends a quarter of the CPU per request
  (``bench/transport.py``; docs/decisions.md) — CPU the apiserver shares on small machines.
- A client-side token bucket (``--qps``/``--burst``) with a failover lane: the lane of the current task
  is taken from a context variable (``use_lane``), so a reconcile marks all its calls at once.
- Honest pushback: 429 (and 503 with Retry-After) waits as told and retries, keeping its lane; nothing
  is dropped. A 401 renews the credentials once (rotated token) and retries. Every other error status
  raises ``ApiError``; a request that does not complete raises ``TransportError`` (an ``OSError``).
- Every request is counted and timed by verb, resource and code (``zen_lead_api_*``).
"""

from __future__ import annotations

import asyncio
import asyncio.sslproto
import contextlib
import contextvars
import os
import ssl
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any, TypeVar

import aiohttp
import msgspec
from lightkube.config.client_adapter import user_auth, verify_cluster
from lightkube.config.kubeconfig import SingleConfig

from zen_lead.constants import FIELD_MANAGER
from zen_lead.kube.config import load_config
from zen_lead.kube.credentials import Credentials
from zen_lead.kube.errors import ApiError, TransportError
from zen_lead.kube.metrics import API_LATENCY, API_REQUESTS, API_THROTTLED
from zen_lead.kube.ratelimit import Lane, TokenBucket
from zen_lead.kube.resources import Resource
from zen_lead.kube.structs import Status, list_of

T = TypeVar("T")

_LANE: contextvars.ContextVar[Lane] = contextvars.ContextVar("zen_lead_lane", default=Lane.ROUTINE)
_RETRYABLE = {429, 503}
MAX_PUSHBACK_RETRIES = 10
APPLY_CONTENT_TYPE = "application/apply-patch+yaml"
MERGE_PATCH = "application/merge-patch+json"
_MANAGED = {"fieldManager": FIELD_MANAGER}  # every write names the one field manager
_status_decoder = msgspec.json.Decoder(Status)
# kube-apiserver closes connections idle for 90 s (k8s.io/apiserver secure_serving.go); closing ours at
# 60 s means we never send on a connection the server is closing, while a failover after a quiet minute
# still finds warm connections (httpx's default, 5 s, made every rare failover pay a TLS handshake).
KEEPALIVE_EXPIRY = 60.0
# asyncio's TLS transport (which aiohttp uses) gives every connection a zero-filled 256 KiB read buffer:
# with a write connection per worker plus the watches, ~70 connections held ~18 MB of RSS. Reads of
# 64 KiB (four TLS records) cost no measurable CPU more and 4x less memory (measured: 64 connections
# 19.6 MB -> 7.7 MB). The attribute is the class's own knob ("buffer size passed to read()").
TLS_READ_BUFFER = 64 * 1024
if getattr(asyncio.sslproto.SSLProtocol, "max_size", 0) > TLS_READ_BUFFER:
    asyncio.sslproto.SSLProtocol.max_size = TLS_READ_BUFFER
# A watch event is one line holding one object; objects are at most ~1.5 MiB (etcd's request limit).
MAX_EVENT_BYTES = 16 << 20
_METHODS = {
    "get": "GET",
    "list": "GET",
    "create": "POST",
    "apply": "PATCH",
    "patch": "PATCH",
    "update": "PUT",
    "delete": "DELETE",
}


@contextlib.contextmanager
def use_lane(lane: Lane) -> Iterator[None]:
    token = _LANE.set(lane)
    try:
        yield
    finally:
        _LANE.reset(token)


def _retry_after(response: aiohttp.ClientResponse) -> float:
    try:
        return max(0.05, min(30.0, float(response.headers.get("Retry-After", "1"))))
    except ValueError:
        return 1.0


def _error(code: int, phrase: str, body: bytes) -> ApiError:
    try:
        status = _status_decoder.decode(body)
        return ApiError(code, status.reason, status.message)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return ApiError(code, phrase, body[:200].decode(errors="replace"))


@contextlib.contextmanager
def _transport_errors(what: str) -> Iterator[None]:
    """aiohttp's exceptions (and timeouts) as one ``TransportError``."""
    try:
        yield
    except TimeoutError as error:  # also aiohttp's ServerTimeoutError (a read went silent)
        raise TransportError(f"{what}: timed out", timeout=True) from error
    except aiohttp.ClientError as error:
        raise TransportError(f"{what}: {type(error).__name__}: {error}") from error


class ApiClient:
    def __init__(
        self,
        config: SingleConfig,
        *,
        qps: float = 0.0,
        burst: int = 0,
        timeout: float = 10.0,
        max_connections: int = 256,
    ) -> None:
        self.config = config
        self.timeout = timeout
        self.bucket = TokenBucket(qps=qps, burst=burst or int(qps * 2) or 1)
        self._base = config.cluster.server.rstrip("/")
        self._ssl: ssl.SSLContext | None = None
        if self._base.startswith("https:"):
            assert config.user is not None, "lightkube's loader always gives a user"
            self._ssl = verify_cluster(config.cluster, config.user, config.abs_file, trust_env=False)
        self.credentials = Credentials(user_auth(config.user) if config.user is not None else None)
        self._max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None

    @classmethod
    def from_kubeconfig(cls, kubeconfig: str | os.PathLike[str] | None = None, **kwargs: Any) -> ApiClient:
        return cls(load_config(kubeconfig), **kwargs)

    @property
    def namespace(self) -> str:
        return self.config.namespace or "default"

    def _http(self) -> aiohttp.ClientSession:
        """The session, made on first use: aiohttp binds it to the running event loop."""
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(
                    ssl=self._ssl if self._ssl is not None else False,
                    limit=self._max_connections,
                    keepalive_timeout=KEEPALIVE_EXPIRY,
                ),
                trust_env=False,
            )
        return self._session

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _headers(self, content_type: str | None) -> dict[str, str]:
        headers = {"Accept": "application/json"}
        if content_type is not None:
            headers["Content-Type"] = content_type
        authorization = await self.credentials.header()
        if authorization is not None:
            headers["Authorization"] = authorization
        return headers

    async def request(
        self,
        verb: str,
        path: str,
        *,
        resource: str,
        params: dict[str, str] | None = None,
        body: bytes | None = None,
        content_type: str = "application/json",
        timeout: float | None = None,  # noqa: ASYNC109 - an HTTP timeout for this one request
    ) -> bytes:
        method = _METHODS[verb]
        limit = aiohttp.ClientTimeout(total=timeout or self.timeout)
        lane = _LANE.get()
        renewed = False
        for _attempt in range(MAX_PUSHBACK_RETRIES):
            await self.bucket.acquire(lane)
            headers = await self._headers(content_type if body is not None else None)
            started = time.monotonic()
            code = "error"
            try:
                with _transport_errors(f"{verb} {resource}"):
                    async with self._http().request(
                        method, self._base + path, params=params, data=body, headers=headers, timeout=limit
                    ) as response:
                        status, phrase = response.status, response.reason or ""
                        content = await response.read()
                code = str(status)
            finally:
                API_REQUESTS.labels(verb, resource, code).inc()
                API_LATENCY.labels(verb, resource).observe(time.monotonic() - started)
            if status < 400:
                return content
            if status == 401 and not renewed:
                renewed = True
                await self.credentials.renew(headers.get("Authorization"))
                continue
            if status in _RETRYABLE and "Retry-After" in response.headers:
                API_THROTTLED.labels(verb, resource).inc()
                await asyncio.sleep(_retry_after(response))
                continue
            raise _error(status, phrase, content)
        raise ApiError(429, "TooManyRequests", f"gave up after {MAX_PUSHBACK_RETRIES} Retry-After answers")

    # ---- typed requests: one object of a described resource ------------------------------------------
    async def get(
        self, resource: Resource[T], namespace: str | None, name: str, *, subresource: str | None = None
    ) -> T:
        content = await self.request(
            "get", resource.path(namespace, name, subresource), resource=_label(resource, subresource)
        )
        return msgspec.json.decode(content, type=resource.struct)

    async def list(self, resource: Resource[T], namespace: str | None) -> list[T]:
        """Every object of a collection, read now (all pages): for the rare check a cache cannot
        answer — whether an object the cache may not have seen yet exists."""
        decoder = msgspec.json.Decoder(list_of(resource.struct))
        params: dict[str, str] = {"limit": "500"}
        found: list[T] = []
        while True:
            page = decoder.decode(
                await self.request(
                    "list", resource.collection(namespace), resource=resource.plural, params=params
                )
            )
            found.extend(page.items)
            if not page.metadata.continue_:
                return found
            params["continue"] = page.metadata.continue_

    async def apply(
        self,
        resource: Resource[T],
        namespace: str | None,
        name: str,
        manifest: dict[str, Any],
        *,
        subresource: str | None = None,
    ) -> T:
        """Server-side apply with the controller's one field manager, taking ownership on conflict."""
        content = await self.request(
            "apply",
            resource.path(namespace, name, subresource),
            resource=_label(resource, subresource),
            body=msgspec.json.encode(manifest),
            content_type=APPLY_CONTENT_TYPE,
            params={"fieldManager": FIELD_MANAGER, "force": "true"},
        )
        return msgspec.json.decode(content, type=resource.struct)

    async def create(self, resource: Resource[T], namespace: str | None, manifest: dict[str, Any]) -> T:
        content = await self.request(
            "create",
            resource.collection(namespace),
            resource=resource.plural,
            body=msgspec.json.encode(manifest),
            params=_MANAGED,
        )
        return msgspec.json.decode(content, type=resource.struct)

    async def patch(
        self,
        resource: Resource[T],
        namespace: str | None,
        name: str,
        patch: dict[str, Any],
        *,
        subresource: str | None = None,
        content_type: str = MERGE_PATCH,
        timeout: float | None = None,  # noqa: ASYNC109 - an HTTP timeout for this one request
    ) -> T:
        """A JSON merge patch (by default). With ``metadata.resourceVersion`` in it, it applies only
        if the object is still at that version (409 Conflict otherwise)."""
        content = await self.request(
            "patch",
            resource.path(namespace, name, subresource),
            resource=_label(resource, subresource),
            body=msgspec.json.encode(patch),
            content_type=content_type,
            params=_MANAGED,
            timeout=timeout,
        )
        return msgspec.json.decode(content, type=resource.struct)

    async def delete(
        self, resource: Resource[Any], namespace: str | None, name: str, *, uid: str | None = None
    ) -> bool:
        """Delete, guarded by a UID precondition when given; False when it was already gone."""
        body = None
        if uid is not None:
            body = msgspec.json.encode(
                {"apiVersion": "v1", "kind": "DeleteOptions", "preconditions": {"uid": uid}}
            )
        try:
            await self.request("delete", resource.path(namespace, name), resource=resource.plural, body=body)
        except ApiError as error:
            if error.not_found:
                return False
            raise
        return True

    @contextlib.asynccontextmanager
    async def stream(
        self, path: str, *, params: dict[str, str], read_timeout: float
    ) -> AsyncIterator[AsyncIterator[bytes]]:
        """An open watch stream as its non-empty lines (one event each). The read timeout is the
        watchdog for a stream that went silent; a broken stream raises ``TransportError``."""
        limit = aiohttp.ClientTimeout(total=None, connect=self.timeout, sock_read=read_timeout)
        headers = await self._headers(None)
        with _transport_errors("watch"):
            async with self._http().get(
                self._base + path, params=params, headers=headers, timeout=limit
            ) as response:
                if response.status >= 400:
                    if response.status == 401:
                        await self.credentials.renew(headers.get("Authorization"))
                    raise _error(response.status, response.reason or "", await response.read())
                yield _lines(response)


def _label(resource: Resource[Any], subresource: str | None) -> str:
    return f"{resource.plural}/{subresource}" if subresource else resource.plural


async def _lines(response: aiohttp.ClientResponse) -> AsyncIterator[bytes]:
    with _transport_errors("watch"):
        while True:
            line = await response.content.readline(max_line_length=MAX_EVENT_BYTES)
            if not line:
                return
            if not line.isspace():
                yield line
