"""The manuallocks controller, assembled: a controller on the manager's shared cache over ManualLocks
and the Leases of their namespaces (every Lease: a lock's Lease may have been made by a library
holder, without a label to select it by).

Opt-in: it runs with ``zen-lead run --controllers=*,manuallocks`` and needs the ManualLock CRD
installed (``/readyz`` names it while it is not) and the RBAC in ``manuallocks.rbac``, which the chart
renders with ``manualLocks.enabled``.
"""

from __future__ import annotations

from zen_lead.kube.client import ApiClient
from zen_lead.kube.resources import LEASES, MANUAL_LOCKS
from zen_lead.manuallocks.reconcile import LockReconciler
from zen_lead.manuallocks.tracker import LockTracker
from zen_lead.runtime.cache import InformerCache
from zen_lead.runtime.controller import Controller
from zen_lead.runtime.events import EventRecorder
from zen_lead.runtime.runnable import WriteGate

NAME = "manuallocks"


def build_manuallocks(
    *,
    client: ApiClient,
    cache: InformerCache,
    events: EventRecorder,
    gate: WriteGate,
    workers: int,
    reserved: frozenset[tuple[str, str]] = frozenset(),
) -> Controller:
    """``reserved``: (namespace, name) of Leases that are not locks (the manager's election Lease)."""
    tracker = LockTracker()
    locks = cache.informer(MANUAL_LOCKS)
    leases = cache.informer(LEASES)
    reconciler = LockReconciler(
        client=client,
        events=events,
        gate=gate,
        locks=locks,
        leases=leases,
        tracker=tracker,
        reserved=reserved,
    )

    async def synced() -> None:
        await locks.wait_synced()
        await leases.wait_synced()

    controller = Controller(NAME, reconciler, workers=workers, events=events, synced=synced)
    locks.add_handler(controller.enqueuer(tracker.lock_changed))
    leases.add_handler(controller.enqueuer(tracker.lease_changed))
    return controller
