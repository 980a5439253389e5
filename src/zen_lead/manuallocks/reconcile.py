"""One reconcile of one ManualLock: read the caches, let the pure core plan, write what differs.

Order of writes:

1. **The finalizer** (``coordination.kube-zen.io/release-lock``), before the lock is ever taken, so
   that deleting the ManualLock always lets go of the Lease first.
2. **The Lease** — take, move the expiry, hand over, or release; conditional on the resourceVersion
   the plan was made on (a create fails with 409 if someone was faster), so a tenure this controller
   has not seen is never written over. Our own write goes into the cache and the tracker at once.
3. While deleting: the finalizer removed, once the Lease is let go. Otherwise **the status**
   (status subresource), only when it differs, then the Events.

Nothing is written when observed equals desired: a held lock costs no API call until its expiry,
which is a delayed requeue of the key (``Result.requeue_after``), not a poll.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import msgspec

from zen_lead.constants import FINALIZER_RELEASE_LOCK, LABEL_MANAGED_BY, LABEL_POOL, MANAGED_BY_VALUE
from zen_lead.election.store import spec_fields
from zen_lead.kube.client import ApiClient
from zen_lead.kube.errors import ApiError
from zen_lead.kube.meta import ObjectRef, object_key, split_key
from zen_lead.kube.resources import LEASES, MANUAL_LOCKS
from zen_lead.kube.structs import Lease, ManualLock, ManualLockStatus
from zen_lead.manuallocks.core.plan import LeaseView, LeaseWrite, LockPlan, LockView, plan_lock
from zen_lead.manuallocks.core.status import lock_events, lock_status
from zen_lead.manuallocks.tracker import LockTracker
from zen_lead.runtime.cache import ScopedInformer
from zen_lead.runtime.controller import Request, Result
from zen_lead.runtime.events import EventRecorder
from zen_lead.runtime.runnable import WriteGate


class LockReconciler:
    """The manuallocks controller's ``Reconciler``: keys are ManualLocks (``namespace/name``)."""

    def __init__(
        self,
        *,
        client: ApiClient,
        events: EventRecorder,
        gate: WriteGate,
        locks: ScopedInformer[ManualLock],
        leases: ScopedInformer[Lease],
        tracker: LockTracker,
        reserved: frozenset[tuple[str, str]] = frozenset(),
    ) -> None:
        self.client, self.events, self.gate = client, events, gate
        self.locks, self.leases = locks, leases
        self.tracker = tracker
        self.reserved = reserved  # (namespace, name) of the Leases zen-lead itself elects on

    # ---- what the generic controller asks -----------------------------------------------------
    def involved(self, key: str) -> ObjectRef | None:
        lock = self.locks.get(*split_key(key))
        return MANUAL_LOCKS.ref(lock) if lock is not None else None

    def startup_keys(self) -> Iterator[str]:
        for lock in self.locks.items():
            yield object_key(lock.metadata.namespace, lock.metadata.name)

    # ---- the reconcile ------------------------------------------------------------------------
    async def reconcile(self, request: Request) -> Result:
        lock = self.locks.get(*split_key(request.key))
        if lock is None:
            return Result()
        meta = lock.metadata
        ours = FINALIZER_RELEASE_LOCK in meta.finalizers
        deleting = meta.deletion_timestamp is not None
        if deleting and not ours:
            return Result()  # never held by us (or already let go): nothing to do
        if not ours:
            lock = await self._set_finalizer(lock, present=True)
        namespace, name = meta.namespace, lock.spec.lock_name
        lease = self.leases.get(namespace, name) if name else None
        view = None
        if lease is not None:
            view = LeaseView(self.tracker.observation(lease), lease.metadata.annotations)
        wall = time.time()
        plan = plan_lock(
            _view(lock),
            view,
            now=time.monotonic(),
            wall=wall,
            min_token=max(self.tracker.min_token(namespace, name), (lock.status.token or -1) + 1),
            reserved=self._reserved(namespace, name, lease),
        )
        if plan.write is not None:
            await self._write_lease(namespace, name, plan.write)
        if plan.finalize:
            await self._set_finalizer(lock, present=False)
            return Result()
        await self._write_status(lock, plan, wall=wall)
        for event in lock_events(_view(lock), plan):
            self.events.record(MANUAL_LOCKS.ref(lock), event.type, event.reason, event.message)
        return Result(requeue_after=plan.requeue_after)

    def _reserved(self, namespace: str, name: str, lease: Lease | None) -> str | None:
        """Why Lease ``name`` is not a lock (an election Lease zen-lead writes), or None."""
        if (namespace, name) in self.reserved:
            return f"Lease {name} is zen-lead's own election Lease: it cannot be locked"
        pool = lease.metadata.labels.get(LABEL_POOL) if lease is not None else None
        if pool:
            return f"Lease {name} is the election Lease of pool {pool} (a LeaderPolicy): it cannot be locked"
        return None

    # ---- writes -------------------------------------------------------------------------------
    async def _set_finalizer(self, lock: ManualLock, *, present: bool) -> ManualLock:
        meta = lock.metadata
        others = [f for f in meta.finalizers if f != FINALIZER_RELEASE_LOCK]
        finalizers = [*others, FINALIZER_RELEASE_LOCK] if present else others
        # the whole list is replaced: conditional on the version read, so no one else's is lost
        patch = {"metadata": {"resourceVersion": meta.resource_version, "finalizers": finalizers}}
        self.gate.check()
        try:
            written = await self.client.patch(MANUAL_LOCKS, meta.namespace, meta.name, patch)
        except ApiError as error:
            if error.not_found and not present:
                return lock  # already gone: our finalizer was the last (a watch event still in flight)
            raise
        self.locks.put(written)
        return written

    async def _write_lease(self, namespace: str, name: str, write: LeaseWrite) -> None:
        self.gate.check()
        if write.resource_version is None:
            manifest = {
                "apiVersion": LEASES.api_version,
                "kind": LEASES.kind,
                "metadata": {
                    "name": name,
                    "namespace": namespace,
                    "labels": {LABEL_MANAGED_BY: MANAGED_BY_VALUE},
                    "annotations": {k: v for k, v in write.annotations.items() if v is not None},
                },
                "spec": spec_fields(write.record),
            }
            written = await self.client.create(LEASES, namespace, manifest)
        else:
            metadata: dict[str, Any] = {
                "resourceVersion": write.resource_version,
                "annotations": dict(write.annotations),
            }
            if write.record.held:
                metadata["labels"] = {LABEL_MANAGED_BY: MANAGED_BY_VALUE}
            patch = {"metadata": metadata, "spec": spec_fields(write.record)}
            written = await self.client.patch(LEASES, namespace, name, patch)
        self.tracker.observe(written)
        self.leases.put(written)

    async def _write_status(self, lock: ManualLock, plan: LockPlan, *, wall: float) -> None:
        status = lock_status(_view(lock), plan, wall=wall)
        if msgspec.convert(status, ManualLockStatus) == lock.status:
            return
        meta = lock.metadata
        self.gate.check()
        written = await self.client.patch(
            MANUAL_LOCKS, meta.namespace, meta.name, {"status": status}, subresource="status"
        )
        self.locks.put(written)


def _view(lock: ManualLock) -> LockView:
    meta = lock.metadata
    return LockView(
        name=meta.name,
        uid=meta.uid,
        generation=meta.generation,
        spec=lock.spec,
        status=lock.status,
        deleting=meta.deletion_timestamp is not None,
    )
