"""``ApiClient``: the controller's one connection to the apiserver.

- A pool of keep-alive HTTP/1.1 connections (httpx2, TLS and auth set up by lightkube's kubeconfig
  loader): every in-flight write has its own connection, so no slow call blocks unrelated ones; each
  watch holds one connection. HTTP/2 multiplexing is available (``http2=True``) but off by default: with
  watch streams open on the same connection, a response body read stalled (flow control) in our tests —
  see docs/decisions.md.
- A client-side token bucket (``--qps``/``--burst``) with a failover lane: the lane of the current task
  is taken from a context variable (``use_lane``), so a reconcile marks all its calls at once.
- Honest pushback: 429 (and 503 with Retry-After) waits as told and retries, keeping its lane; nothing
  is dropped. Every other error status raises ``ApiError``.
- Every request is counted and timed by verb, resource and code (``zen_lead_api_*``).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import os
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any, TypeVar

import httpx2
import msgspec
from lightkube.config.client_adapter import ConnectionParams
from lightkube.config.kubeconfig import SingleConfig

from zen_lead.constants import FIELD_MANAGER
from zen_lead.kube.config import load_config
from zen_lead.kube.errors import ApiError
from zen_lead.kube.ratelimit import Lane, TokenBucket
from zen_lead.kube.structs import Status
from zen_lead.observability.metrics import API_LATENCY, API_REQUESTS, API_THROTTLED

T = TypeVar("T")

_LANE: contextvars.ContextVar[Lane] = contextvars.ContextVar("zen_lead_lane", default=Lane.ROUTINE)
_RETRYABLE = {429, 503}
MAX_PUSHBACK_RETRIES = 10
APPLY_CONTENT_TYPE = "application/apply-patch+yaml"
_status_decoder = msgspec.json.Decoder(Status)
# kube-apiserver closes connections idle for 90 s (k8s.io/apiserver secure_serving.go); closing ours at
# 60 s means we never send on a connection the server is closing, while a failover after a quiet minute
# still finds warm connections (httpx's default, 5 s, made every rare failover pay a TLS handshake).
KEEPALIVE_EXPIRY = 60.0


@contextlib.contextmanager
def use_lane(lane: Lane) -> Iterator[None]:
    token = _LANE.set(lane)
    try:
        yield
    finally:
        _LANE.reset(token)


def _retry_after(response: httpx2.Response) -> float:
    try:
        return max(0.05, min(30.0, float(response.headers.get("Retry-After", "1"))))
    except ValueError:
        return 1.0


def _error(response: httpx2.Response, body: bytes) -> ApiError:
    try:
        status = _status_decoder.decode(body)
        return ApiError(response.status_code, status.reason, status.message)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return ApiError(response.status_code, response.reason_phrase, body[:200].decode(errors="replace"))


class ApiClient:
    def __init__(
        self,
        config: SingleConfig,
        *,
        qps: float = 0.0,
        burst: int = 0,
        timeout: float = 10.0,
        http2: bool = False,
        max_connections: int = 256,
    ) -> None:
        self.config = config
        self.timeout = timeout
        self.bucket = TokenBucket(qps=qps, burst=burst or int(qps * 2) or 1)
        params = ConnectionParams(timeout=httpx2.Timeout(timeout), trust_env=False, http2=http2)
        self._http = httpx2.AsyncClient(
            **params.httpx_params(config),
            limits=httpx2.Limits(
                max_connections=max_connections,
                max_keepalive_connections=max_connections,
                keepalive_expiry=KEEPALIVE_EXPIRY,
            ),
        )

    @classmethod
    def from_kubeconfig(cls, kubeconfig: str | os.PathLike[str] | None = None, **kwargs: Any) -> ApiClient:
        return cls(load_config(kubeconfig), **kwargs)

    @property
    def namespace(self) -> str:
        return self.config.namespace or "default"

    async def aclose(self) -> None:
        await self._http.aclose()

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
        method = {
            "get": "GET",
            "list": "GET",
            "create": "POST",
            "apply": "PATCH",
            "patch": "PATCH",
            "update": "PUT",
            "delete": "DELETE",
        }[verb]
        headers = {"Content-Type": content_type, "Accept": "application/json"} if body is not None else None
        lane = _LANE.get()
        for _attempt in range(MAX_PUSHBACK_RETRIES):
            await self.bucket.acquire(lane)
            started = time.monotonic()
            code = "error"
            try:
                response = await self._http.request(
                    method,
                    path,
                    params=params,
                    content=body,
                    headers=headers,
                    timeout=httpx2.Timeout(timeout or self.timeout),
                )
                code = str(response.status_code)
                content = response.content
            finally:
                API_REQUESTS.labels(verb, resource, code).inc()
                API_LATENCY.labels(verb, resource).observe(time.monotonic() - started)
            if response.status_code < 400:
                return content
            if response.status_code in _RETRYABLE and "Retry-After" in response.headers:
                API_THROTTLED.labels(verb, resource).inc()
                await asyncio.sleep(_retry_after(response))
                continue
            raise _error(response, content)
        raise ApiError(429, "TooManyRequests", f"gave up after {MAX_PUSHBACK_RETRIES} Retry-After answers")

    async def get(self, path: str, kind: type[T], *, resource: str) -> T:
        return msgspec.json.decode(await self.request("get", path, resource=resource), type=kind)

    async def apply(self, path: str, manifest: dict[str, Any], kind: type[T], *, resource: str) -> T:
        """Server-side apply with the controller's one field manager, taking ownership on conflict."""
        content = await self.request(
            "apply",
            path,
            resource=resource,
            body=msgspec.json.encode(manifest),
            content_type=APPLY_CONTENT_TYPE,
            params={"fieldManager": FIELD_MANAGER, "force": "true"},
        )
        return msgspec.json.decode(content, type=kind)

    async def create(self, path: str, manifest: dict[str, Any], *, resource: str) -> bytes:
        return await self.request("create", path, resource=resource, body=msgspec.json.encode(manifest))

    async def delete(self, path: str, *, resource: str, uid: str | None = None) -> bool:
        """Delete, guarded by a UID precondition when given; False when it was already gone."""
        body = None
        if uid is not None:
            body = msgspec.json.encode(
                {"apiVersion": "v1", "kind": "DeleteOptions", "preconditions": {"uid": uid}}
            )
        try:
            await self.request("delete", path, resource=resource, body=body)
        except ApiError as error:
            if error.not_found:
                return False
            raise
        return True

    @contextlib.asynccontextmanager
    async def stream(
        self, path: str, *, params: dict[str, str], read_timeout: float
    ) -> AsyncIterator[httpx2.Response]:
        """An open watch stream; the read timeout is the watchdog for a stream that went silent."""
        timeout = httpx2.Timeout(self.timeout, read=read_timeout)
        async with self._http.stream("GET", path, params=params, timeout=timeout) as response:
            if response.status_code >= 400:
                raise _error(response, await response.aread())
            yield response
