"""The storage seam of election and locks: ``LeaseStorage``, and its one implementation on the API.

``LeaseStorage`` is the Protocol every layer above talks to (client-go's ``resourcelock.Interface``
is the model: read, create, conditional update, and a watch of one record); ``ApiLeaseStorage``
implements it on zen-lead's ``ApiClient`` — the same HTTP stack, error types and metrics as the
controller's data path. A test, or another backend, can stand behind the same Protocol.

``LeaseRef`` is the one value that says which Lease, and how to reach it: name, namespace (default:
the pod's own), and an ``ApiClient`` to use or a kubeconfig to open one from. The elector, the locks
and the queries each take one; ``storage()`` opens (and afterwards closes) what it names.

Wire format. Requests carry all five of client-go's fields, times as the MicroTime strings
``kube.times`` writes (six fractional digits always: the apiserver parses ``RFC3339Micro`` strictly).

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
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

import msgspec

from zen_lead.election.identity import default_namespace
from zen_lead.election.names import validate_lease_name
from zen_lead.election.record import LeaseRecord, record_of
from zen_lead.kube.client import ApiClient
from zen_lead.kube.errors import ApiError, TransportError
from zen_lead.kube.resources import LEASES
from zen_lead.kube.structs import Lease

WATCH_SERVER_TIMEOUT = 300


class LeaseConflict(Exception):
    """The Lease changed (or was created) since the version we wrote against."""


class LeaseMissing(Exception):
    """The Lease does not exist (any more)."""


class LeaseUnavailable(Exception):
    """A transient failure: timeout, connection error, server error. Retry later."""


@dataclass(frozen=True, slots=True)
class Versioned:
    record: LeaseRecord
    resource_version: str


class LeaseStorage(Protocol):
    """Read and write one Lease record (see the module docstring for the semantics)."""

    @property
    def ref(self) -> LeaseRef: ...

    async def read(self, *, limit: float) -> Versioned | None:
        """The current record, or ``None`` when there is no such Lease."""

    async def create(self, record: LeaseRecord, *, limit: float) -> Versioned:
        """Create the Lease holding ``record`` (``LeaseConflict`` when it exists)."""

    async def update(self, record: LeaseRecord, *, resource_version: str, limit: float) -> Versioned:
        """Write ``record`` only if the Lease is still at ``resource_version`` (else ``LeaseConflict``)."""

    def changes(self) -> AsyncIterator[Versioned | None]:
        """Every change, starting with the current state; ``None`` when deleted. A hint stream only:
        nothing may wait on it without a timeout of its own. Errors end it (the caller restarts it)."""


@dataclass(frozen=True, slots=True)
class LeaseRef:
    """Which Lease, and how to reach it. ``namespace`` defaults to the pod's own; ``client`` is used as
    is (and kept open), else a client is made from ``kubeconfig`` (``KUBECONFIG``, the in-cluster
    service account, ``~/.kube/config``) for as long as it is needed."""

    name: str
    namespace: str = ""
    client: ApiClient | None = field(default=None, compare=False, repr=False)
    kubeconfig: str | os.PathLike[str] | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        validate_lease_name(self.name)
        if not self.namespace:
            object.__setattr__(self, "namespace", default_namespace())

    @classmethod
    def of(cls, lease: str | LeaseRef) -> LeaseRef:
        return lease if isinstance(lease, LeaseRef) else cls(lease)

    @asynccontextmanager
    async def storage(self) -> AsyncIterator[ApiLeaseStorage]:
        """The Lease's storage on ``client``, or on a client opened (and closed) for the purpose."""
        if self.client is not None:
            yield ApiLeaseStorage(self.client, self)
            return
        client = ApiClient.from_kubeconfig(self.kubeconfig)
        try:
            yield ApiLeaseStorage(client, self)
        finally:
            await client.aclose()

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}"


def spec_fields(record: LeaseRecord) -> dict[str, Any]:
    """All five fields, always present, like client-go's ``LeaderElectionRecordToLeaseSpec``."""
    return {
        "holderIdentity": record.holder,
        "leaseDurationSeconds": record.lease_duration_seconds,
        "acquireTime": record.acquire_time,
        "renewTime": record.renew_time,
        "leaseTransitions": record.transitions,
    }


def versioned(lease: Lease) -> Versioned:
    return Versioned(record=record_of(lease.spec), resource_version=lease.metadata.resource_version)


class _WatchEvent(msgspec.Struct):
    type: str
    object: msgspec.Raw


_event_decoder = msgspec.json.Decoder(_WatchEvent)
_lease_decoder = msgspec.json.Decoder(Lease)


class ApiLeaseStorage:
    """``LeaseStorage`` on an ``ApiClient`` (owned by the caller)."""

    def __init__(self, client: ApiClient, ref: LeaseRef) -> None:
        self.client = client
        self._ref = ref

    @property
    def ref(self) -> LeaseRef:
        return self._ref

    async def read(self, *, limit: float) -> Versioned | None:
        try:
            async with _translated(limit, f"read {self._ref}"):
                lease = await self.client.get(LEASES, self._ref.namespace, self._ref.name)
        except LeaseMissing:
            return None
        return versioned(lease)

    async def create(self, record: LeaseRecord, *, limit: float) -> Versioned:
        manifest = {
            "apiVersion": LEASES.api_version,
            "kind": LEASES.kind,
            "metadata": {"name": self._ref.name, "namespace": self._ref.namespace},
            "spec": spec_fields(record),
        }
        async with _translated(limit, f"create {self._ref}"):
            created = await self.client.create(LEASES, self._ref.namespace, manifest)
        return versioned(created)

    async def update(self, record: LeaseRecord, *, resource_version: str, limit: float) -> Versioned:
        patch = {"metadata": {"resourceVersion": resource_version}, "spec": spec_fields(record)}
        async with _translated(limit, f"update {self._ref}"):
            updated = await self.client.patch(LEASES, self._ref.namespace, self._ref.name, patch)
        return versioned(updated)

    async def changes(self) -> AsyncIterator[Versioned | None]:
        params = {
            "watch": "1",
            "fieldSelector": f"metadata.name={self._ref.name}",
            "timeoutSeconds": str(WATCH_SERVER_TIMEOUT),
        }
        path = LEASES.collection(self._ref.namespace)
        try:
            async with self.client.stream(
                path, params=params, read_timeout=WATCH_SERVER_TIMEOUT + 30
            ) as lines:
                async for line in lines:
                    event = _event_decoder.decode(line)
                    if event.type == "ERROR":
                        raise LeaseUnavailable(f"watch {self._ref}: {bytes(event.object)[:200]!r}")
                    if event.type == "DELETED":
                        yield None
                    elif event.type in ("ADDED", "MODIFIED"):
                        yield versioned(_lease_decoder.decode(event.object))
        except (ApiError, TransportError, msgspec.DecodeError) as error:
            raise LeaseUnavailable(f"watch {self._ref}: {error}") from error


@asynccontextmanager
async def _translated(limit: float, what: str) -> AsyncIterator[None]:
    """``asyncio.timeout`` plus the mapping of client errors to the three store exceptions."""
    try:
        async with asyncio.timeout(max(limit, 0.0)):
            yield
    except TimeoutError as error:  # before OSError: TimeoutError is one
        raise LeaseUnavailable(f"{what}: no answer within {limit:.2f}s") from error
    except ApiError as error:
        if error.conflict:
            raise LeaseConflict(f"{what}: {error.message}") from error
        if error.not_found:
            raise LeaseMissing(f"{what}: not found") from error
        raise LeaseUnavailable(f"{what}: HTTP {error.code}: {error.message}") from error
    except OSError as error:  # TransportError included
        raise LeaseUnavailable(f"{what}: {type(error).__name__}: {error}") from error
