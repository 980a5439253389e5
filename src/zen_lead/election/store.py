"""The only module that talks to the API: read, create, conditionally update and watch one Lease.

Wire format. Requests carry our own msgspec structs, not lightkube's models, because lightkube models
time as ``datetime`` and msgspec drops the fraction of a time with zero microseconds — a MicroTime
the apiserver refuses (it parses ``RFC3339Micro`` strictly). Times travel as the strings
``record.format_microtime`` made.

Concurrency. Updates are JSON merge patches that carry ``metadata.resourceVersion``: the apiserver
applies them only if the Lease is still at that version (409 Conflict otherwise) — the same optimistic
concurrency as client-go's full Update, in one round trip, and without clobbering labels, annotations
or fields we do not know (``preferredHolder``, ``strategy``).

Time limits. Every call runs under ``asyncio.timeout``: a hung apiserver never holds a caller longer
than it asked. Failures come out as three exceptions the callers branch on: ``LeaseConflict`` (someone
else wrote first), ``LeaseMissing`` (no such Lease) and ``LeaseUnavailable`` (anything transient:
timeouts, connection errors, 5xx, also 403 — a missing RBAC rule is logged and retried).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx2
import msgspec
from lightkube import ApiError, AsyncClient
from lightkube.core.resource import ApiInfo, NamespacedResourceG, ResourceDef
from lightkube.types import PatchType

from zen_lead.election.record import LeaseRecord


@dataclass(frozen=True, slots=True)
class LeaseRef:
    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}"


class LeaseConflict(Exception):
    """The Lease changed (or was created) since the version we wrote against."""


class LeaseMissing(Exception):
    """The Lease does not exist (any more)."""


class LeaseUnavailable(Exception):
    """A transient failure: timeout, connection error, server error. Retry later."""


# ---- wire structs (camelCase attribute names: lightkube's watch reads ``metadata.resourceVersion``) ---
class _Meta(msgspec.Struct, omit_defaults=True, kw_only=True):
    name: str
    namespace: str
    resourceVersion: str | None = None  # the wire name: lightkube reads it


class _Spec(msgspec.Struct, omit_defaults=True, kw_only=True):
    holderIdentity: str | None = None
    leaseDurationSeconds: int | None = None
    acquireTime: str | None = None
    renewTime: str | None = None
    leaseTransitions: int | None = None


class LeaseObject(NamespacedResourceG, msgspec.Struct, kw_only=True):
    """A ``coordination.k8s.io/v1`` Lease as lightkube sends and decodes it, times kept as strings."""

    _api_info = ApiInfo(
        resource=ResourceDef("coordination.k8s.io", "v1", "Lease"),
        plural="leases",
        verbs=["delete", "get", "list", "patch", "post", "put", "watch"],
    )

    apiVersion: str = "coordination.k8s.io/v1"
    kind: str = "Lease"
    metadata: _Meta
    spec: _Spec = msgspec.field(default_factory=_Spec)


def record_of(spec: _Spec) -> LeaseRecord:
    """Read a spec the way client-go's ``LeaseSpecToLeaderElectionRecord`` does (missing -> zero)."""
    return LeaseRecord(
        holder=spec.holderIdentity or "",
        lease_duration_seconds=spec.leaseDurationSeconds or 0,
        acquire_time=spec.acquireTime,
        renew_time=spec.renewTime,
        transitions=spec.leaseTransitions or 0,
    )


def spec_fields(record: LeaseRecord) -> dict[str, Any]:
    """All five fields, always present, like client-go's ``LeaderElectionRecordToLeaseSpec``."""
    return {
        "holderIdentity": record.holder,
        "leaseDurationSeconds": record.lease_duration_seconds,
        "acquireTime": record.acquire_time,
        "renewTime": record.renew_time,
        "leaseTransitions": record.transitions,
    }


@dataclass(frozen=True, slots=True)
class Versioned:
    record: LeaseRecord
    resource_version: str


def _versioned(obj: LeaseObject) -> Versioned:
    return Versioned(record=record_of(obj.spec), resource_version=obj.metadata.resourceVersion or "")


class LeaseStore:
    """Read and write one Lease through a lightkube ``AsyncClient`` (owned by the caller)."""

    def __init__(self, client: AsyncClient, ref: LeaseRef) -> None:
        self.client = client
        self.ref = ref

    async def read(self, *, limit: float) -> Versioned | None:
        """The current record, or ``None`` when there is no such Lease."""
        try:
            async with _translated(limit, f"read {self.ref}"):
                obj: LeaseObject = await self.client.get(
                    LeaseObject, self.ref.name, namespace=self.ref.namespace
                )
        except LeaseMissing:
            return None
        return _versioned(obj)

    async def create(self, record: LeaseRecord, *, limit: float) -> Versioned:
        obj = LeaseObject(
            metadata=_Meta(name=self.ref.name, namespace=self.ref.namespace),
            spec=msgspec.convert(spec_fields(record), _Spec),
        )
        async with _translated(limit, f"create {self.ref}"):
            created: LeaseObject = await self.client.create(obj)
        return _versioned(created)

    async def update(self, record: LeaseRecord, *, resource_version: str, limit: float) -> Versioned:
        """Write ``record`` only if the Lease is still at ``resource_version`` (else ``LeaseConflict``)."""
        patch = {"metadata": {"resourceVersion": resource_version}, "spec": spec_fields(record)}
        async with _translated(limit, f"update {self.ref}"):
            updated: LeaseObject = await self.client.patch(
                LeaseObject, self.ref.name, patch, namespace=self.ref.namespace, patch_type=PatchType.MERGE
            )
        return _versioned(updated)

    async def changes(self, *, server_timeout: int = 300) -> AsyncIterator[Versioned | None]:
        """Every change of the Lease, starting with its current state; ``None`` when it is deleted.

        A hint stream only: it may lag or stall (lightkube sets no read timeout on watches), so
        nothing may wait on it without a timeout of its own. Errors end the iteration (the caller
        restarts it).
        """
        watch = self.client.watch(
            LeaseObject,
            namespace=self.ref.namespace,
            fields={"metadata.name": self.ref.name},
            server_timeout=server_timeout,
        )
        try:
            async for event_type, obj in watch:
                yield None if event_type == "DELETED" else _versioned(obj)
        except (ApiError, httpx2.HTTPError, OSError) as error:
            raise LeaseUnavailable(f"watch {self.ref}: {error}") from error


@asynccontextmanager
async def _translated(limit: float, what: str) -> AsyncIterator[None]:
    """``asyncio.timeout`` plus the mapping of client errors to the three store exceptions."""
    try:
        async with asyncio.timeout(max(limit, 0.0)):
            yield
    except TimeoutError as error:  # before OSError: TimeoutError is one
        raise LeaseUnavailable(f"{what}: no answer within {limit:.2f}s") from error
    except ApiError as error:
        code = error.status.code
        if code == 409:
            raise LeaseConflict(f"{what}: {error.status.message}") from error
        if code == 404:
            raise LeaseMissing(f"{what}: not found") from error
        raise LeaseUnavailable(f"{what}: HTTP {code}: {error.status.message}") from error
    except (httpx2.HTTPError, OSError) as error:
        raise LeaseUnavailable(f"{what}: {type(error).__name__}: {error}") from error
