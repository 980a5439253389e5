"""The HTTP/JSON front end (aiohttp): leader routes (JSON, or a Server-Sent Events stream with
``Accept: text/event-stream``), lock routes, and the OpenAPI document (``openapi.yaml``, in the package).

Errors are ``{"code", "reason", "message", "field"?}`` with the HTTP status as ``code``. Bodies are
limited to ``MAX_BODY`` bytes (413 beyond); unknown fields, wrong types and rule breaks name the field.
An event stream whose reader stops reading is dropped once a write has waited ``WRITE_TIMEOUT``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from importlib import resources
from typing import Any

import msgspec
import yaml  # type: ignore[import-untyped]  # PyYAML comes with lightkube; no stubs installed
from aiohttp import web

from zen_lead.api.auth import Unavailable
from zen_lead.api.core import validate
from zen_lead.api.core.access import Operation
from zen_lead.api.core.leaders import Kind, LeaderState, Target
from zen_lead.api.core.validate import Invalid
from zen_lead.api.locks import LockRefused, LockRequest
from zen_lead.api.service import ApiService, Caller, Forbidden, NotServed, StaleRefused, Unauthenticated
from zen_lead.kube.errors import ApiError, TransportError

MAX_BODY = 16 * 1024
WRITE_TIMEOUT = 30.0
_STATUS_OF_REFUSAL = {"NotFound": 404, "Reserved": 403, "Conflict": 409}
_SERVICE_KEY: web.AppKey[ApiService] = web.AppKey("service", ApiService)
_STREAMS_KEY: web.AppKey[set[asyncio.Task[object]]] = web.AppKey("streams")
_STOPPING_KEY: web.AppKey[bool] = web.AppKey("stopping")
_CALLER = "zen-lead.caller"
_encoder = msgspec.json.Encoder()


class AcquireBody(msgspec.Struct, forbid_unknown_fields=True):
    holder: str
    ttlSeconds: int
    waitSeconds: float = 0.0


class TenureBody(msgspec.Struct, forbid_unknown_fields=True):
    holder: str
    token: int


def openapi_document() -> str:
    return resources.files("zen_lead.api").joinpath("openapi.yaml").read_text()


def _error(status: int, reason: str, message: str, field: str | None = None) -> web.Response:
    body: dict[str, Any] = {"code": status, "reason": reason, "message": message}
    if field is not None:
        body["field"] = field
    headers = {"WWW-Authenticate": 'Bearer realm="zen-lead"'} if status == 401 else None
    return web.Response(
        status=status, body=_encoder.encode(body), content_type="application/json", headers=headers
    )


def _json(obj: object) -> web.Response:
    return web.Response(body=_encoder.encode(obj), content_type="application/json")


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def _errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    service = request.app[_SERVICE_KEY]
    try:
        if request.path.startswith("/v1/"):
            request[_CALLER] = await service.caller(request.headers.get("Authorization"))
        return await handler(request)
    except Unauthenticated as error:
        return _error(401, "Unauthorized", str(error))
    except Invalid as error:
        return _error(400, "Invalid", str(error), error.field)
    except Forbidden as error:
        return _error(403, "Forbidden", str(error))
    except NotServed as error:
        return _error(404, "NotServed", str(error))
    except StaleRefused as error:
        return _error(503, "Stale", str(error))
    except LockRefused as error:
        status = _STATUS_OF_REFUSAL.get(error.refusal.reason, 409)
        return _error(status, error.refusal.reason, error.refusal.message)
    except Unavailable as error:
        return _error(503, "Unavailable", str(error))
    except ApiError as error:  # the apiserver refused our write: say so, with its words
        return _error(
            502, "ApiserverRefused", f"the apiserver refused the write: HTTP {error.code}: {error.message}"
        )
    except TransportError as error:
        return _error(503, "Unavailable", f"the apiserver did not answer: {error}")
    except web.HTTPRequestEntityTooLarge:
        return _error(413, "TooLarge", f"the body is larger than {MAX_BODY} bytes")


def _query_bool(request: web.Request, name: str) -> bool:
    value = request.query.get(name, "false").lower()
    if value not in ("true", "false", "1", "0"):
        raise Invalid(name, "must be true or false")
    return value in ("true", "1")


def _caller(request: web.Request) -> Caller:
    caller: Caller = request[_CALLER]
    return caller


async def _leader(request: web.Request, kind: Kind, name: str, namespace: str | None) -> web.StreamResponse:
    service = request.app[_SERVICE_KEY]
    caller = _caller(request)
    target = service.target(caller, kind, name, namespace)
    # Every query parameter is checked, whether it applies to this answer (JSON or a stream) or not:
    # a parameter that breaks its rule is refused, naming it, never served as if it were absent.
    refuse_stale = _query_bool(request, "fresh")
    after_term = validate.term("afterTerm", request.query.get("afterTerm", "0"))
    heartbeat = validate.heartbeat("heartbeatSeconds", _float(request.query.get("heartbeatSeconds", "0")))
    if "text/event-stream" in request.headers.get("Accept", ""):
        if last_event_id := request.headers.get("Last-Event-ID"):  # a resume: it wins over afterTerm
            after_term = validate.term("Last-Event-ID", last_event_id)
        await service.allow_leader(caller, Operation.WATCH, target)
        return await _stream(request, service, target, after_term=after_term, heartbeat=heartbeat)
    await service.allow_leader(caller, Operation.GET, target)
    return _json(service.leader(target, refuse_stale=refuse_stale))


def _float(text: str) -> object:
    try:
        return float(text)
    except ValueError:
        return text


async def _stream(
    request: web.Request, service: ApiService, target: Target, *, after_term: int, heartbeat: float
) -> web.StreamResponse:
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    )
    await response.prepare(request)
    streams = request.app[_STREAMS_KEY]
    task: asyncio.Task[object] | None = asyncio.current_task()
    if task is not None:
        streams.add(task)
    try:
        async for kind, state in service.events(target, after_term=after_term, heartbeat=heartbeat):
            try:
                async with asyncio.timeout(WRITE_TIMEOUT):
                    await response.write(_frame(kind, state))
            except TimeoutError:
                # A reader that does not read: drop its connection (and the frames buffered for it).
                # Ending the response instead would wait on the same full buffer, for ever.
                if request.transport is not None:
                    request.transport.abort()
                break
            except ConnectionResetError:
                break  # a reader that is gone costs nothing more
    except asyncio.CancelledError:
        if request.app.get(_STOPPING_KEY):
            return response  # the server stops: the stream ends, the client resumes elsewhere
        raise
    finally:
        if task is not None:
            streams.discard(task)
    return response


def _frame(kind: str, state: LeaderState) -> bytes:
    return b"id: %d\nevent: %s\ndata: %s\n\n" % (state.term, kind.encode(), _encoder.encode(state))


async def pool_leader(request: web.Request) -> web.StreamResponse:
    return await _leader(request, Kind.POOL, request.match_info["name"], request.query.get("namespace"))


async def lease_leader(request: web.Request) -> web.StreamResponse:
    return await _leader(request, Kind.LEASE, request.match_info["name"], request.query.get("namespace"))


async def service_leader(request: web.Request) -> web.StreamResponse:
    namespace = validate.dns_label("namespace", request.match_info["namespace"])
    return await _leader(request, Kind.SERVICE, request.match_info["name"], namespace)


async def list_leaders(request: web.Request) -> web.StreamResponse:
    service = request.app[_SERVICE_KEY]
    caller = _caller(request)
    namespace = service.namespace(caller, request.query.get("namespace"))
    kinds = {Kind.POOL, Kind.SERVICE}
    if "kind" in request.query:
        try:
            kinds = {Kind(request.query["kind"])}
        except ValueError:
            raise Invalid("kind", "must be pool, service or lease") from None
    targets = await service.allowed_targets(caller, namespace, kinds)
    return _json({"leaders": [service.leader(t, refuse_stale=False) for t in targets]})


# ---- locks ---------------------------------------------------------------------------------------
async def get_lock(request: web.Request) -> web.StreamResponse:
    service = request.app[_SERVICE_KEY]
    caller = _caller(request)
    name = validate.dns_label("name", request.match_info["name"])
    namespace = service.namespace(caller, request.query.get("namespace"))
    await service.allow_lock(caller, Operation.LOCK_GET, namespace, name)
    return _json(service.locks.get(namespace, name))


async def lock_action(request: web.Request) -> web.StreamResponse:
    service = request.app[_SERVICE_KEY]
    caller = _caller(request)
    name, colon, action = request.match_info["action"].partition(":")
    if not colon or action not in ("acquire", "renew", "release"):
        raise Invalid("path", "must end in /locks/{name}:acquire, :renew or :release")
    name = validate.dns_label("name", name)
    namespace = service.namespace(caller, request.query.get("namespace"))
    raw = await request.read()
    if action == "acquire":
        acquire = _decode(raw, AcquireBody)
        holder = validate.holder("holder", acquire.holder)
        ttl = validate.ttl("ttlSeconds", acquire.ttlSeconds)
        wait = validate.wait("waitSeconds", acquire.waitSeconds)
        await service.allow_lock(caller, Operation.LOCK_WRITE, namespace, name)
        lock = LockRequest(namespace, name, holder, caller.user.name)
        return _json(await service.locks.acquire(lock, ttl=ttl, wait=wait))
    tenure = _decode(raw, TenureBody)
    holder = validate.holder("holder", tenure.holder)
    token = validate.token("token", tenure.token)
    await service.allow_lock(caller, Operation.LOCK_WRITE, namespace, name)
    lock = LockRequest(namespace, name, holder, caller.user.name)
    if action == "renew":
        return _json(await service.locks.renew(lock, token))
    return _json({"released": await service.locks.release(lock, token)})


def _decode(raw: bytes, kind: type[msgspec.Struct]) -> Any:
    try:
        return msgspec.json.decode(raw, type=kind)
    except msgspec.ValidationError as error:
        text = str(error)
        field = text.rpartition("at `$.")[2].rstrip("`") if "at `$." in text else "body"
        if "unknown field" in text or "missing required field" in text:
            field = text.split("`")[1] if "`" in text else "body"
        raise Invalid(field, text) from error
    except msgspec.DecodeError as error:
        raise Invalid("body", f"must be a JSON object: {error}") from error


# ---- the document --------------------------------------------------------------------------------
def build_api_app(service: ApiService) -> web.Application:
    app = web.Application(client_max_size=MAX_BODY, middlewares=[_errors])
    app[_SERVICE_KEY] = service
    app[_STREAMS_KEY] = set()

    async def end_streams(app: web.Application) -> None:
        """On shutdown, end the event streams at once (they would otherwise hold it up until their next
        heartbeat): their clients resume on another replica with Last-Event-ID."""
        app[_STOPPING_KEY] = True
        streams: set[asyncio.Task[object]] = app[_STREAMS_KEY]
        for task in list(streams):
            task.cancel()

    app.on_shutdown.append(end_streams)
    document = openapi_document()
    as_json = json.dumps(yaml.safe_load(document))

    async def openapi_yaml(_: web.Request) -> web.Response:
        return web.Response(text=document, content_type="application/yaml")

    async def openapi_json(_: web.Request) -> web.Response:
        return web.Response(text=as_json, content_type="application/json")

    app.router.add_get("/openapi.yaml", openapi_yaml)
    app.router.add_get("/openapi.json", openapi_json)
    app.router.add_get("/v1/leader/pool/{name}", pool_leader)
    app.router.add_get("/v1/leader/lease/{name}", lease_leader)
    app.router.add_get("/v1/leader/service/{namespace}/{name}", service_leader)
    app.router.add_get("/v1/leaders", list_leaders)
    app.router.add_get("/v1/locks/{name}", get_lock)
    app.router.add_post("/v1/locks/{action}", lock_action)
    return app
