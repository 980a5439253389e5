"""Lock operations on Leases, shared by the HTTP and gRPC front ends (``core.locks`` decides).

Stateless: every decision reads the Lease from the shared cache (with this server's observation of
it) and writes with a resourceVersion precondition, so any replica can serve any step of a lock's life
and a client resumes on another replica with (name, holder, token). A precondition that fails means the
cache was behind: the Lease is read once from the apiserver and the decision is made again.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from zen_lead.api.core import locks as core
from zen_lead.api.core.locks import LockView, Refusal, Retry, Write
from zen_lead.api.views import LeaderViews
from zen_lead.constants import LABEL_POOL
from zen_lead.election.record import LeaseRecord, Observation, record_of
from zen_lead.election.store import spec_fields
from zen_lead.kube.client import ApiClient
from zen_lead.kube.errors import ApiError
from zen_lead.kube.resources import LEASES
from zen_lead.kube.structs import Lease
from zen_lead.kube.times import now_microtime

ATTEMPTS = 3


class LockRefused(Exception):
    def __init__(self, refusal: Refusal, lock: LockView | None = None) -> None:
        super().__init__(refusal.message)
        self.refusal = refusal
        self.lock = lock


@dataclass(frozen=True, slots=True)
class LockRequest:
    namespace: str
    name: str
    holder: str
    owner: str  # the authenticated user


class LockService:
    def __init__(
        self, client: ApiClient, views: LeaderViews, *, reserved: frozenset[tuple[str, str]]
    ) -> None:
        self.client = client
        self.views = views
        self.reserved = reserved  # (namespace, name) of Leases zen-lead itself elects on

    def get(self, namespace: str, name: str) -> LockView:
        lease = self.views.leases.get(namespace, name)
        if lease is None:
            raise LockRefused(Refusal("NotFound", f"lock {name} does not exist in {namespace}"))
        return core.view(namespace, name, lease, self.views.observation(namespace, name), time.monotonic())

    async def acquire(self, request: LockRequest, *, ttl: int, wait: float) -> LockView:
        self._check_reserved(request.namespace, request.name)
        deadline = time.monotonic() + wait
        fresh = False
        while True:
            lease = self.views.leases.get(request.namespace, request.name)
            self._check_foreign(lease, request.name)
            observation = self.views.observation(request.namespace, request.name)
            now = time.monotonic()
            plan = core.plan_take(
                observation,
                _owner(lease),
                min_token=self.views.next_token(request.namespace, request.name),
                holder=request.holder,
                owner=request.owner,
                ttl=ttl,
                now=now,
                timestamp=now_microtime(),
            )
            if isinstance(plan, Retry):
                if now >= deadline:
                    held = self.get(request.namespace, request.name)
                    raise LockRefused(
                        Refusal(
                            "HeldByOther",
                            f"lock {request.name} is held by {plan.holder!r} (token {plan.token})",
                        ),
                        held,
                    )
                await self.views.lease_changed(
                    request.namespace, request.name, min(deadline, plan.until) - now
                )
                continue
            written = await self._write(request.namespace, request.name, plan)
            if written is not None:
                return written
            if fresh and time.monotonic() >= deadline:
                raise LockRefused(
                    Refusal("HeldByOther", f"lock {request.name} was taken by another just now")
                )
            await self._reread(request.namespace, request.name)
            fresh = True

    async def renew(self, request: LockRequest, token: int) -> LockView:
        reread = False
        for _ in range(ATTEMPTS):
            try:
                _, observation, record = self._held(request, token)
            except LockRefused:
                if reread:
                    raise
                # refused by what the cache holds: it may be behind our own write on another replica;
                # the apiserver decides before a holder is told its lock is gone
                await self._reread(request.namespace, request.name)
                reread = True
                continue
            plan = core.plan_renew(
                record,
                owner=request.owner,
                timestamp=now_microtime(),
                resource_version=observation.resource_version,
            )
            written = await self._write(request.namespace, request.name, plan)
            if written is not None:
                return written
            await self._reread(request.namespace, request.name)
            reread = True
        raise LockRefused(
            Refusal("Conflict", f"lock {request.name} kept changing under the renewal; try again")
        )

    def _held(self, request: LockRequest, token: int) -> tuple[Lease, Observation, LeaseRecord]:
        current = self._current(request.namespace, request.name)
        if current is None:
            raise LockRefused(
                Refusal("NotFound", f"lock {request.name} does not exist in {request.namespace}")
            )
        lease, observation = current
        return lease, observation, self._tenure(lease, request, token)

    async def release(self, request: LockRequest, token: int) -> bool:
        """True when released; a tenure that is over already (any refusal but NotOwner, confirmed by the
        apiserver) is False."""
        reread = False
        for _ in range(ATTEMPTS):
            try:
                _, observation, record = self._held(request, token)
            except LockRefused as refused:
                if refused.refusal.reason == "NotOwner":
                    raise
                if reread:
                    return False
                await self._reread(request.namespace, request.name)
                reread = True
                continue
            plan = core.plan_release(
                record, timestamp=now_microtime(), resource_version=observation.resource_version
            )
            if await self._write(request.namespace, request.name, plan) is not None:
                return True
            await self._reread(request.namespace, request.name)
            reread = True
        raise LockRefused(
            Refusal("Conflict", f"lock {request.name} kept changing under the release; try again")
        )

    # ---- helpers -----------------------------------------------------------------------------
    def _check_reserved(self, namespace: str, name: str) -> None:
        if (namespace, name) in self.reserved:
            raise LockRefused(Refusal("Reserved", f"Lease {namespace}/{name} is zen-lead's own election"))

    def _check_foreign(self, lease: Lease | None, name: str) -> None:
        if lease is not None and LABEL_POOL in lease.metadata.labels:
            raise LockRefused(
                Refusal("Reserved", f"Lease {name} is a pool's (LeaderPolicy): it cannot be locked")
            )

    def _current(self, namespace: str, name: str) -> tuple[Lease, Observation] | None:
        lease = self.views.leases.get(namespace, name)
        return None if lease is None else (lease, self.views.fold(lease, time.monotonic()))

    def _tenure(self, lease: Lease | None, request: LockRequest, token: int) -> LeaseRecord:
        record = record_of(lease.spec) if lease is not None else None
        refusal = core.check_tenure(
            record, _owner(lease), name=request.name, holder=request.holder, token=token, owner=request.owner
        )
        if refusal is not None:
            raise LockRefused(refusal)
        assert record is not None
        return record

    async def _write(self, namespace: str, name: str, plan: Write) -> LockView | None:
        """Write ``plan``; None when its precondition failed (someone wrote first)."""
        spec = spec_fields(plan.record)
        try:
            if plan.resource_version is None:
                lease = await self.client.create(
                    LEASES, namespace, core.lease_manifest(namespace, name, plan, spec)
                )
            else:
                lease = await self.client.patch(LEASES, namespace, name, core.lease_patch(plan, spec))
        except ApiError as error:
            if error.conflict or error.not_found:
                return None
            raise
        self.views.leases.put(lease)
        observation = self.views.fold(lease, time.monotonic())
        return core.view(namespace, name, lease, observation, time.monotonic())

    async def _reread(self, namespace: str, name: str) -> None:
        try:
            lease = await self.client.get(LEASES, namespace, name)
        except ApiError as error:
            if error.not_found:
                self.views.leases.forget(namespace, name)
                return
            raise
        self.views.leases.put(lease)
        self.views.fold(lease, time.monotonic())


def _owner(lease: Lease | None) -> str:
    return lease.metadata.annotations.get(core.ANNOTATION_LOCK_OWNER, "") if lease is not None else ""
