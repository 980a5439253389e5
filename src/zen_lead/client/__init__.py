"""zen-lead's API client: who leads a pool, a Service or a Lease, told the moment it changes, and
fenced locks — over gRPC, from any process that has a Kubernetes token (docs/clients.md).

    async with AsyncClient("zen-lead-api.zen-lead:8443", ca_file="ca.crt") as client:
        state = await client.leader("pool", "postgres")
        async for state in client.watch("pool", "postgres"):
            ...
        async with client.lock("nightly-report", ttl=30) as fence:
            ...  # cancelled, and LockLostError raised, if the lock is lost

``Client`` is the blocking twin. Layers: ``core`` (pure: values, the loss rule, backoff, the term
filter), ``errors``, ``auth`` (token, TLS files) below ``transport`` (grpc channels, typed calls from
the generated ``zen_lead.api.pb``) below ``aio`` and ``sync``. Of zen-lead, only the generated code is
imported (a contract in pyproject.toml); grpc only when a client is first used, so that this package
and its values import without the ``api`` extra.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from zen_lead.client.core import Kind, Leader, LeaderState, LockFence, LockInfo, Target
from zen_lead.client.errors import (
    ApiError,
    ClientError,
    LockLostError,
    LockNotAcquiredError,
    PermissionDeniedError,
    UnauthenticatedError,
    UnavailableError,
)

if TYPE_CHECKING:
    from zen_lead.client.aio import AsyncClient, AsyncLock
    from zen_lead.client.sync import Client, Lock

_LAZY = {"AsyncClient": "aio", "AsyncLock": "aio", "Client": "sync", "Lock": "sync"}

__all__ = [
    "ApiError",
    "AsyncClient",
    "AsyncLock",
    "Client",
    "ClientError",
    "Kind",
    "Leader",
    "LeaderState",
    "Lock",
    "LockFence",
    "LockInfo",
    "LockLostError",
    "LockNotAcquiredError",
    "PermissionDeniedError",
    "Target",
    "UnauthenticatedError",
    "UnavailableError",
]


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    try:
        imported = __import__(f"{__name__}.{module}", fromlist=[name])
    except ImportError as error:
        raise ImportError(
            f"zen_lead.client.{name} needs grpcio and protobuf: pip install 'zen-lead[api]' ({error})"
        ) from error
    return getattr(imported, name)
