"""Leader election, fenced locks and leader queries on ``coordination.k8s.io/v1`` Leases.

- ``LeaderElector`` (asyncio) / ``SyncLeaderElector`` (a background thread): campaign for a Lease, run
  ``on_started_leading(leadership)`` while holding it, step down hard, campaign again.
- ``lock(name, ttl=...)`` / ``try_acquire`` / ``holder``: a Lease used as a mutex with a fence.
- ``current_leader(name)`` / ``is_leader(name, identity)``: read-only, cached questions.

Every entry point takes the Lease as a name (the pod's own namespace, the default kubeconfig) or a
``LeaseRef(name, namespace, client=... | kubeconfig=...)``.

Layering: ``record`` (pure decisions and timing) <- ``store`` (the ``LeaseStorage`` seam and its
implementation on ``kube.ApiClient``: the only API calls) <- ``claim`` (one tenure: acquire, renew,
release) <- ``elector``, ``lock`` <- ``sync``. ``query`` uses ``store``.

What it guarantees:

- The Lease is client-go's: the five fields in client-go's format (MicroTime with six fractional
  digits), ``leaseTransitions`` incremented on every new tenure, client-go's release (empty holder,
  ``leaseDurationSeconds: 1``). Go and Python candidates can share one Lease.
- Decisions use only the local monotonic clock, never timestamps written by others: a holder is
  replaced only after its record stayed unchanged for ``leaseDurationSeconds`` as observed locally.
  Every write is conditional on the ``resourceVersion`` it was decided on.
- A leader's work is cancelled when ``renew_deadline`` has passed since the start of its last
  successful renewal — ``lease_duration - renew_deadline`` before any other candidate may take over —
  and every API call has a time limit below that deadline, so a hung apiserver cannot delay it.
- On graceful stop the work is cancelled and drained while the Lease is still renewed, then the
  Lease is released, so a standby takes over at once instead of after ``lease_duration``.
- Each tenure has a fencing token (Lease namespace/name + ``leaseTransitions``) that is strictly
  greater than that of every earlier tenure of the same Lease.

What it does NOT guarantee (as client-go's package comment says of itself, it "does not guarantee
that only one client is acting as a leader"):

- Mutual exclusion of side effects. A process that is paused (GC, SIGSTOP, a blocked event loop, a
  thread that ignores ``leadership.lost``) or whose work ignores cancellation can still act after its
  tenure ended. Fencing is what makes it safe: pass ``fence.token`` with every write and have the
  downstream system reject tokens lower than the highest it has seen; check ``fence.valid()`` before
  side effects you cannot fence.
- Tolerance of clock RATE skew beyond ``lease_duration / renew_deadline`` (clock offsets do not matter).
- Fencing tokens across deletion of the Lease: a deleted Lease restarts ``leaseTransitions`` at 0
  (this process carries its highest seen value forward, other processes cannot). Do not delete
  election Leases.
- Progress while the apiserver is unreachable: nobody leads until it is back.
- ``current_leader`` / ``is_leader`` (the query helpers) judge expiry with the wall clock: hints only.
"""

from zen_lead.election.elector import LeaderElector, Leadership
from zen_lead.election.fence import Fence, StaleFenceError
from zen_lead.election.identity import default_identity, default_namespace
from zen_lead.election.lock import LeaseLock, LockLostError, LockNotAcquiredError, holder, lock, try_acquire
from zen_lead.election.query import current_leader, is_leader
from zen_lead.election.record import FencingToken, LeaseRecord, Timing
from zen_lead.election.store import LeaseRef, LeaseStorage, LeaseUnavailable
from zen_lead.election.sync import SyncLeaderElector, SyncLeadership

__all__ = [
    "Fence",
    "FencingToken",
    "LeaderElector",
    "Leadership",
    "LeaseLock",
    "LeaseRecord",
    "LeaseRef",
    "LeaseStorage",
    "LeaseUnavailable",
    "LockLostError",
    "LockNotAcquiredError",
    "StaleFenceError",
    "SyncLeaderElector",
    "SyncLeadership",
    "Timing",
    "current_leader",
    "default_identity",
    "default_namespace",
    "holder",
    "is_leader",
    "lock",
    "try_acquire",
]
