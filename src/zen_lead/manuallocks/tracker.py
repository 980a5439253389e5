"""``LockTracker``: what the manuallocks controller knows between reconciles, and which ManualLocks a
change concerns — fed by the informer handlers, read by the reconciler (the pools tracker's shape).

What it holds:

- ManualLocks by the Lease they name (``spec.lockName``), so that a change of a Lease — released,
  renewed, deleted, taken — queues exactly the ManualLocks waiting for or holding it: no polling;
- for each Lease, the ``election.record.Observation``: the record and the local monotonic time this
  controller FIRST saw it. Whether a holder's tenure may be taken over is judged on that clock alone,
  never on the times written in the Lease;
- the highest ``leaseTransitions`` seen per Lease, so that a Lease deleted and created again by the
  controller does not start its tokens at 0 again (within this process).
"""

from __future__ import annotations

import time

from zen_lead.election.record import Observation, observe, record_of
from zen_lead.kube.informer import Change
from zen_lead.kube.meta import is_older, object_key
from zen_lead.kube.ratelimit import Lane
from zen_lead.kube.structs import Lease, ManualLock
from zen_lead.runtime.index import OwnedIndex

Work = tuple[str, Lane]


class LockTracker:
    def __init__(self) -> None:
        self.locks_by_lease = OwnedIndex()  # (namespace, lockName) -> ManualLock names
        self._observations: dict[str, Observation] = {}  # Lease key -> what we saw, since when
        self._highest: dict[str, int] = {}  # Lease key -> the highest leaseTransitions seen

    # ---- changes in, work out ------------------------------------------------------------------
    def lock_changed(self, change: Change, old: ManualLock | None, new: ManualLock | None) -> list[Work]:
        lock = new or old
        assert lock is not None
        namespace, name = lock.metadata.namespace, lock.metadata.name
        if old is not None:
            self.locks_by_lease.remove(namespace, old.spec.lock_name, name)
        if new is not None:
            self.locks_by_lease.add(namespace, new.spec.lock_name, name)
        return [(object_key(namespace, name), Lane.ROUTINE)]

    def lease_changed(self, change: Change, old: Lease | None, new: Lease | None) -> list[Work]:
        lease = new or old
        assert lease is not None
        namespace, name = lease.metadata.namespace, lease.metadata.name
        key = object_key(namespace, name)
        if new is None:
            self._observations.pop(key, None)
        else:
            self.observe(new)
        locks = sorted(self.locks_by_lease.names(namespace, name))
        return [(object_key(namespace, lock), Lane.ROUTINE) for lock in locks]

    # ---- what the reconciler reads and tells ---------------------------------------------------
    def observe(self, lease: Lease, now: float | None = None) -> Observation:
        """Fold ``lease`` into what we saw of it (the clock restarts only when the record changed)."""
        key = object_key(lease.metadata.namespace, lease.metadata.name)
        current = self._observations.get(key)
        version = lease.metadata.resource_version
        if current is not None and is_older(version, current.resource_version):
            return current  # an event still in flight from before what we already know
        record = record_of(lease.spec)
        seen = observe(current, record, version, time.monotonic() if now is None else now)
        self._observations[key] = seen
        self._highest[key] = max(self._highest.get(key, -1), record.transitions)
        return seen

    def observation(self, lease: Lease) -> Observation:
        """The observation of ``lease`` as the cache holds it now."""
        key = object_key(lease.metadata.namespace, lease.metadata.name)
        current = self._observations.get(key)
        if current is not None and current.resource_version == lease.metadata.resource_version:
            return current
        return self.observe(lease)

    def min_token(self, namespace: str, lease: str) -> int:
        """The lowest token a new tenure of ``lease`` may have: above every one this process saw."""
        return self._highest.get(object_key(namespace, lease), -1) + 1
