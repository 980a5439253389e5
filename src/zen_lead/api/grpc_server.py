"""The gRPC front end (grpc.aio): ``zenlead.v1.Leaders`` and ``zenlead.v1.Locks`` over ``ApiService``,
with the standard health service (``grpc.health.v1``) and server reflection.

The caller's token is the ``authorization`` metadata (``Bearer <token>``). Status codes:
UNAUTHENTICATED, INVALID_ARGUMENT (the message names the field and the rule), PERMISSION_DENIED,
NOT_FOUND, FAILED_PRECONDITION (a lock held by another, a wrong token, holder or owner), ABORTED (a
lock that kept changing under a write: retry), UNAVAILABLE (a stale answer refused, a review the
apiserver could not give).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, NoReturn

import grpc
from google.protobuf.timestamp_pb2 import Timestamp
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from zen_lead.api.auth import Unavailable
from zen_lead.api.core import validate
from zen_lead.api.core.access import Operation
from zen_lead.api.core.leaders import Kind, LeaderState
from zen_lead.api.core.locks import LockView
from zen_lead.api.core.validate import Invalid
from zen_lead.api.locks import LockRefused, LockRequest
from zen_lead.api.pb import zenlead_pb2 as pb
from zen_lead.api.pb import zenlead_pb2_grpc as pb_grpc
from zen_lead.api.service import ApiService, Caller, Forbidden, NotServed, StaleRefused, Unauthenticated
from zen_lead.kube.errors import ApiError, TransportError
from zen_lead.kube.times import parse_time

_KINDS = {pb.KIND_POOL: Kind.POOL, pb.KIND_SERVICE: Kind.SERVICE, pb.KIND_LEASE: Kind.LEASE}
_PB_KINDS = {kind: number for number, kind in _KINDS.items()}
_EVENT_TYPES = {
    "snapshot": pb.WatchEvent.TYPE_SNAPSHOT,
    "change": pb.WatchEvent.TYPE_CHANGE,
    "heartbeat": pb.WatchEvent.TYPE_HEARTBEAT,
}
_REFUSAL_CODES = {
    "NotFound": grpc.StatusCode.NOT_FOUND,
    "Reserved": grpc.StatusCode.PERMISSION_DENIED,
    "Conflict": grpc.StatusCode.ABORTED,
}


async def _fail(context: grpc.aio.ServicerContext[Any, Any], error: Exception) -> NoReturn:
    if isinstance(error, Unauthenticated):
        await context.abort(grpc.StatusCode.UNAUTHENTICATED, str(error))
    if isinstance(error, Invalid):
        await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(error))
    if isinstance(error, Forbidden):
        await context.abort(grpc.StatusCode.PERMISSION_DENIED, str(error))
    if isinstance(error, NotServed):
        await context.abort(grpc.StatusCode.NOT_FOUND, str(error))
    if isinstance(error, StaleRefused | Unavailable):
        await context.abort(grpc.StatusCode.UNAVAILABLE, str(error))
    if isinstance(error, LockRefused):
        code = _REFUSAL_CODES.get(error.refusal.reason, grpc.StatusCode.FAILED_PRECONDITION)
        await context.abort(code, f"{error.refusal.reason}: {error.refusal.message}")
    if isinstance(error, ApiError):
        await context.abort(
            grpc.StatusCode.INTERNAL, f"the apiserver refused the write: HTTP {error.code}: {error.message}"
        )
    if isinstance(error, TransportError):
        await context.abort(grpc.StatusCode.UNAVAILABLE, f"the apiserver did not answer: {error}")
    raise error


def _timestamp(text: str | None) -> Timestamp | None:
    seconds = parse_time(text)
    if seconds is None:
        return None
    stamp = Timestamp()
    stamp.FromNanoseconds(int(seconds * 1e9))
    return stamp


def state_message(state: LeaderState) -> pb.LeaderState:
    message = pb.LeaderState(
        target=pb.Target(kind=_PB_KINDS[Kind(state.kind)], namespace=state.namespace, name=state.name),
        exists=state.exists,
        has_leader=state.hasLeader,
        term=state.term,
        no_leader_reason=state.noLeaderReason,
        stale=state.stale,
        stale_seconds=state.staleSeconds,
        served_by=state.servedBy,
    )
    if state.leader is not None:
        leader = state.leader
        message.leader.CopyFrom(
            pb.Leader(
                identity=leader.identity,
                pod=leader.pod,
                uid=leader.uid,
                pod_ip=leader.podIP,
                node=leader.node,
            )
        )
    since = _timestamp(state.since)
    if since is not None:
        message.since.CopyFrom(since)
    return message


def lock_message(lock: LockView) -> pb.Lock:
    message = pb.Lock(
        namespace=lock.namespace,
        name=lock.name,
        held=lock.held,
        holder=lock.holder,
        token=lock.token,
        ttl_seconds=lock.ttlSeconds,
        owner=lock.owner,
    )
    for field, text in (("acquired", lock.acquired), ("renewed", lock.renewed)):
        stamp = _timestamp(text)
        if stamp is not None:
            getattr(message, field).CopyFrom(stamp)
    return message


def _kind(number: int) -> Kind:
    for pb_kind, kind in _KINDS.items():
        if pb_kind == number:
            return kind
    raise Invalid("target.kind", "must be KIND_POOL, KIND_SERVICE or KIND_LEASE")


class _Base:
    def __init__(self, service: ApiService) -> None:
        self.service = service

    async def caller(self, context: grpc.aio.ServicerContext[Any, Any]) -> Caller:
        metadata = dict(context.invocation_metadata() or ())
        authorization = metadata.get("authorization")
        return await self.service.caller(authorization if isinstance(authorization, str) else None)


class LeadersServicer(_Base, pb_grpc.LeadersServicer):
    def __init__(self, service: ApiService) -> None:
        super().__init__(service)
        self._events: dict[tuple[int, str], tuple[LeaderState, pb.WatchEvent]] = {}

    async def Get(
        self, request: pb.GetLeaderRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.LeaderState:
        try:
            caller = await self.caller(context)
            target = self.service.target(
                caller, _kind(request.target.kind), request.target.name, request.target.namespace
            )
            await self.service.allow_leader(caller, Operation.GET, target)
            return state_message(self.service.leader(target, refuse_stale=request.refuse_stale))
        except Exception as error:
            await _fail(context, error)

    async def List(
        self, request: pb.ListLeadersRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.ListLeadersResponse:
        try:
            caller = await self.caller(context)
            namespace = self.service.namespace(caller, request.namespace)
            kinds = (
                {Kind.POOL, Kind.SERVICE} if request.kind == pb.KIND_UNSPECIFIED else {_kind(request.kind)}
            )
            targets = await self.service.allowed_targets(caller, namespace, kinds)
            states = [state_message(self.service.leader(t, refuse_stale=False)) for t in targets]
            return pb.ListLeadersResponse(leaders=states)
        except Exception as error:
            await _fail(context, error)

    async def Watch(
        self, request: pb.WatchLeaderRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[pb.WatchEvent]:
        try:
            caller = await self.caller(context)
            target = self.service.target(
                caller, _kind(request.target.kind), request.target.name, request.target.namespace
            )
            after_term = validate.term("after_term", request.after_term)
            heartbeat = validate.heartbeat("heartbeat_seconds", request.heartbeat_seconds)
            await self.service.allow_leader(caller, Operation.WATCH, target)
        except Exception as error:
            await _fail(context, error)
        async for kind, state in self.service.events(target, after_term=after_term, heartbeat=heartbeat):
            yield self._event(kind, state)

    def _event(self, kind: str, state: LeaderState) -> pb.WatchEvent:
        """The event for ``state``, made once however many watchers are sent it (the service hands
        every watcher of a change the same state object)."""
        key = (id(state), kind)
        cached = self._events.get(key)
        if cached is not None and cached[0] is state:
            return cached[1]
        event = pb.WatchEvent(type=_EVENT_TYPES[kind], state=state_message(state))
        if len(self._events) >= 1024:
            self._events.clear()
        self._events[key] = (state, event)
        return event


class LocksServicer(_Base, pb_grpc.LocksServicer):
    async def _request(
        self, context: grpc.aio.ServicerContext[Any, Any], namespace: str, name: str, holder: str
    ) -> LockRequest:
        caller = await self.caller(context)
        name = validate.dns_label("name", name)
        holder = validate.holder("holder", holder)
        resolved = self.service.namespace(caller, namespace)
        await self.service.allow_lock(caller, Operation.LOCK_WRITE, resolved, name)
        return LockRequest(resolved, name, holder, caller.user.name)

    async def Acquire(
        self, request: pb.AcquireLockRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.Lock:
        try:
            caller = await self.caller(context)
            name = validate.dns_label("name", request.name)
            holder = validate.holder("holder", request.holder)
            ttl = validate.ttl("ttl_seconds", request.ttl_seconds)
            wait = validate.wait("wait_seconds", request.wait_seconds)
            namespace = self.service.namespace(caller, request.namespace)
            await self.service.allow_lock(caller, Operation.LOCK_WRITE, namespace, name)
            lock = LockRequest(namespace, name, holder, caller.user.name)
            return lock_message(await self.service.locks.acquire(lock, ttl=ttl, wait=wait))
        except Exception as error:
            await _fail(context, error)

    async def Renew(
        self, request: pb.RenewLockRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.Lock:
        try:
            lock = await self._request(context, request.namespace, request.name, request.holder)
            return lock_message(await self.service.locks.renew(lock, validate.token("token", request.token)))
        except Exception as error:
            await _fail(context, error)

    async def KeepAlive(
        self,
        request_iterator: AsyncIterator[pb.RenewLockRequest],
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> AsyncIterator[pb.Lock]:
        lock: LockRequest | None = None
        asked: tuple[str, str, str] | None = None
        async for request in request_iterator:
            try:
                if lock is None or asked != (request.namespace, request.name, request.holder):
                    asked = (request.namespace, request.name, request.holder)
                    lock = await self._request(context, *asked)
                renewed = await self.service.locks.renew(lock, validate.token("token", request.token))
            except Exception as error:
                await _fail(context, error)
            yield lock_message(renewed)

    async def Release(
        self, request: pb.ReleaseLockRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.ReleaseLockResponse:
        try:
            lock = await self._request(context, request.namespace, request.name, request.holder)
            released = await self.service.locks.release(lock, validate.token("token", request.token))
            return pb.ReleaseLockResponse(released=released)
        except Exception as error:
            await _fail(context, error)

    async def Get(self, request: pb.GetLockRequest, context: grpc.aio.ServicerContext[Any, Any]) -> pb.Lock:
        try:
            caller = await self.caller(context)
            name = validate.dns_label("name", request.name)
            namespace = self.service.namespace(caller, request.namespace)
            await self.service.allow_lock(caller, Operation.LOCK_GET, namespace, name)
            return lock_message(self.service.locks.get(namespace, name))
        except Exception as error:
            await _fail(context, error)


def build_grpc_server(service: ApiService, *, max_message: int = 64 * 1024) -> grpc.aio.Server:
    server = grpc.aio.server(
        options=[
            ("grpc.max_receive_message_length", max_message),
            ("grpc.keepalive_time_ms", 30_000),
            ("grpc.http2.max_pings_without_data", 0),
        ]
    )
    pb_grpc.add_LeadersServicer_to_server(LeadersServicer(service), server)  # type: ignore[no-untyped-call]
    pb_grpc.add_LocksServicer_to_server(LocksServicer(service), server)  # type: ignore[no-untyped-call]
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    names = (
        pb.DESCRIPTOR.services_by_name["Leaders"].full_name,
        pb.DESCRIPTOR.services_by_name["Locks"].full_name,
        health.SERVICE_NAME,
        reflection.SERVICE_NAME,
    )
    reflection.enable_server_reflection(names, server)
    server.health = health_servicer  # type: ignore[attr-defined]
    return server


SERVING = health_pb2.HealthCheckResponse.SERVING
