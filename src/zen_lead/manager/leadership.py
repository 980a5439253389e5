"""Run the runnables that write only while this replica holds the manager Lease.

With election (the default, and always on in the manifests): the cache and the other runnables that
need no leadership run on every replica, but the controllers run only inside the elector's leadership
scope. The elector cancels them the moment the renew deadline passes without a successful renewal —
before the Lease can expire for a standby — and campaigns again afterwards; the ``WriteGate`` is shut
at the same deadline, so not even a write already on its way leaves after it. On SIGTERM the
controllers are cancelled and drained first, then the Lease is released (empty holder), so a standby
takes over within one retry period.

The elector gets its own API client (its own connections): a burst of reconcile traffic can never
delay a renewal.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence

from zen_lead.election import LeaderElector, Leadership, LeaseRef
from zen_lead.manager.options import ManagerOptions
from zen_lead.observability.metrics import IS_LEADER
from zen_lead.runtime.runnable import Runnable, WriteGate, run_all

log = logging.getLogger("zen_lead.manager")


async def run_with_leadership(
    options: ManagerOptions, runnables: Sequence[Runnable], gate: WriteGate, stop: asyncio.Event
) -> None:
    """Run ``runnables`` while leading (or, without election, until ``stop``); return after ``stop``."""
    if not options.leader_elect:
        await _run_until(runnables, gate, stop)
        return

    async def lead(leadership: Leadership) -> None:
        log.info("leading: starting controllers", extra={"fence": str(leadership.token)})
        IS_LEADER.set(1)
        gate.open(leadership.valid)
        try:
            await run_all(runnables)
        finally:
            gate.close()
            IS_LEADER.set(0)

    elector = LeaderElector(
        LeaseRef(
            options.leader_election_id, options.leader_election_namespace, kubeconfig=options.kubeconfig
        ),
        identity=options.identity,
        timing=options.timing,
        on_started_leading=lead,
        leader_gauge=False,  # zen_lead_is_leader says it (and also without election): one gauge
    )
    runner = asyncio.create_task(elector.run(), name="elector")
    stopping = asyncio.create_task(stop.wait(), name="stop")
    await asyncio.wait({runner, stopping}, return_when=asyncio.FIRST_COMPLETED)
    elector.stop()
    stopping.cancel()
    await runner  # drains the controllers, then releases the Lease


async def _run_until(runnables: Sequence[Runnable], gate: WriteGate, stop: asyncio.Event) -> None:
    IS_LEADER.set(1)
    gate.open()
    task = asyncio.create_task(run_all(runnables))
    await stop.wait()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    gate.close()
    IS_LEADER.set(0)
