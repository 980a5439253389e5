"""Channels and typed call handles, built from the generated descriptors (the one proto).

The generated ``zenlead_pb2_grpc`` stubs are untyped; the handles here are grpc's typed
multi-callables over the same method paths, taken from the file descriptor, so that no method name is
written twice."""

from __future__ import annotations

from dataclasses import dataclass

import grpc
import grpc.aio

from zen_lead.api.pb import zenlead_pb2 as pb
from zen_lead.client.auth import Tls
from zen_lead.client.core import Kind
from zen_lead.client.errors import ApiError, api_error

# The status codes after which a stream (watch, keep-alive) is opened again rather than given up.
RECONNECT = frozenset({grpc.StatusCode.UNAVAILABLE})
# The answers to a renewal that end the tenure at once: someone else holds the lock or the token is
# stale (FAILED_PRECONDITION), or its Lease is gone (NOT_FOUND) — anyone may create it again right
# away, so waiting for the renew deadline would leave two holders.
NOT_OURS = frozenset({grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.NOT_FOUND})


def method_path(service: str, method: str) -> str:
    """``/zenlead.v1.Leaders/Get`` for ("Leaders", "Get"); KeyError for a name the proto lacks."""
    descriptor = pb.DESCRIPTOR.services_by_name[service]
    return f"/{descriptor.full_name}/{descriptor.methods_by_name[method].name}"


def channel_options(tls: Tls) -> list[tuple[str, str | int]]:
    options: list[tuple[str, str | int]] = []
    if tls.server_name is not None:
        options.append(("grpc.ssl_target_name_override", tls.server_name))
    return options


def channel_credentials(tls: Tls) -> grpc.ChannelCredentials:
    roots, key, chain = tls.files()
    return grpc.ssl_channel_credentials(root_certificates=roots, private_key=key, certificate_chain=chain)


def aio_channel(address: str, tls: Tls) -> grpc.aio.Channel:
    tls.check(address)
    if tls.insecure:
        return grpc.aio.insecure_channel(address, options=channel_options(tls))
    return grpc.aio.secure_channel(address, channel_credentials(tls), options=channel_options(tls))


def sync_channel(address: str, tls: Tls) -> grpc.Channel:
    tls.check(address)
    if tls.insecure:
        return grpc.insecure_channel(address, options=channel_options(tls))
    return grpc.secure_channel(address, channel_credentials(tls), options=channel_options(tls))


def error_of(error: grpc.RpcError, method: str) -> ApiError:
    """The ``ApiError`` for a failed call (``grpc.RpcError`` carries its code and details)."""
    code = error.code()
    return api_error(code.name if code is not None else "UNKNOWN", error.details() or "", method=method)


@dataclass(frozen=True)
class AioCalls:
    leader: grpc.aio.UnaryUnaryMultiCallable[pb.GetLeaderRequest, pb.LeaderState]
    leaders: grpc.aio.UnaryUnaryMultiCallable[pb.ListLeadersRequest, pb.ListLeadersResponse]
    watch: grpc.aio.UnaryStreamMultiCallable[pb.WatchLeaderRequest, pb.WatchEvent]
    acquire: grpc.aio.UnaryUnaryMultiCallable[pb.AcquireLockRequest, pb.Lock]
    renew: grpc.aio.UnaryUnaryMultiCallable[pb.RenewLockRequest, pb.Lock]
    keep_alive: grpc.aio.StreamStreamMultiCallable[pb.RenewLockRequest, pb.Lock]
    release: grpc.aio.UnaryUnaryMultiCallable[pb.ReleaseLockRequest, pb.ReleaseLockResponse]
    lock: grpc.aio.UnaryUnaryMultiCallable[pb.GetLockRequest, pb.Lock]

    @classmethod
    def on(cls, channel: grpc.aio.Channel) -> AioCalls:
        return cls(
            leader=channel.unary_unary(
                method_path("Leaders", "Get"),
                pb.GetLeaderRequest.SerializeToString,
                pb.LeaderState.FromString,
            ),
            leaders=channel.unary_unary(
                method_path("Leaders", "List"),
                pb.ListLeadersRequest.SerializeToString,
                pb.ListLeadersResponse.FromString,
            ),
            watch=channel.unary_stream(
                method_path("Leaders", "Watch"),
                pb.WatchLeaderRequest.SerializeToString,
                pb.WatchEvent.FromString,
            ),
            acquire=channel.unary_unary(
                method_path("Locks", "Acquire"), pb.AcquireLockRequest.SerializeToString, pb.Lock.FromString
            ),
            renew=channel.unary_unary(
                method_path("Locks", "Renew"), pb.RenewLockRequest.SerializeToString, pb.Lock.FromString
            ),
            keep_alive=channel.stream_stream(
                method_path("Locks", "KeepAlive"), pb.RenewLockRequest.SerializeToString, pb.Lock.FromString
            ),
            release=channel.unary_unary(
                method_path("Locks", "Release"),
                pb.ReleaseLockRequest.SerializeToString,
                pb.ReleaseLockResponse.FromString,
            ),
            lock=channel.unary_unary(
                method_path("Locks", "Get"), pb.GetLockRequest.SerializeToString, pb.Lock.FromString
            ),
        )


@dataclass(frozen=True)
class SyncCalls:
    leader: grpc.UnaryUnaryMultiCallable[pb.GetLeaderRequest, pb.LeaderState]
    leaders: grpc.UnaryUnaryMultiCallable[pb.ListLeadersRequest, pb.ListLeadersResponse]
    watch: grpc.UnaryStreamMultiCallable[pb.WatchLeaderRequest, pb.WatchEvent]
    acquire: grpc.UnaryUnaryMultiCallable[pb.AcquireLockRequest, pb.Lock]
    renew: grpc.UnaryUnaryMultiCallable[pb.RenewLockRequest, pb.Lock]
    keep_alive: grpc.StreamStreamMultiCallable[pb.RenewLockRequest, pb.Lock]
    release: grpc.UnaryUnaryMultiCallable[pb.ReleaseLockRequest, pb.ReleaseLockResponse]
    lock: grpc.UnaryUnaryMultiCallable[pb.GetLockRequest, pb.Lock]

    @classmethod
    def on(cls, channel: grpc.Channel) -> SyncCalls:
        return cls(
            leader=channel.unary_unary(
                method_path("Leaders", "Get"),
                pb.GetLeaderRequest.SerializeToString,
                pb.LeaderState.FromString,
            ),
            leaders=channel.unary_unary(
                method_path("Leaders", "List"),
                pb.ListLeadersRequest.SerializeToString,
                pb.ListLeadersResponse.FromString,
            ),
            watch=channel.unary_stream(
                method_path("Leaders", "Watch"),
                pb.WatchLeaderRequest.SerializeToString,
                pb.WatchEvent.FromString,
            ),
            acquire=channel.unary_unary(
                method_path("Locks", "Acquire"), pb.AcquireLockRequest.SerializeToString, pb.Lock.FromString
            ),
            renew=channel.unary_unary(
                method_path("Locks", "Renew"), pb.RenewLockRequest.SerializeToString, pb.Lock.FromString
            ),
            keep_alive=channel.stream_stream(
                method_path("Locks", "KeepAlive"), pb.RenewLockRequest.SerializeToString, pb.Lock.FromString
            ),
            release=channel.unary_unary(
                method_path("Locks", "Release"),
                pb.ReleaseLockRequest.SerializeToString,
                pb.ReleaseLockResponse.FromString,
            ),
            lock=channel.unary_unary(
                method_path("Locks", "Get"), pb.GetLockRequest.SerializeToString, pb.Lock.FromString
            ),
        )


def target_message(kind: Kind, name: str, namespace: str | None) -> pb.Target:
    return pb.Target(kind=f"KIND_{kind.name}", namespace=namespace or "", name=name)


def kind_filter(kind: Kind | None) -> str:
    """ListLeadersRequest.kind: KIND_UNSPECIFIED (pools and Services) when None."""
    return "KIND_UNSPECIFIED" if kind is None else f"KIND_{kind.name}"
