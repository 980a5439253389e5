"""Run the controller's writers only while this replica holds the manager Lease.

With election (the default, and always on in the manifests): informers run on every replica, but the
reconcile workers run only inside the elector's leadership scope. The elector cancels them the moment
the renew deadline passes without a successful renewal — before the Lease can expire for a standby —
and campaigns again afterwards. On SIGTERM the workers are cancelled and drained first, then the Lease
is released (empty holder), so a standby takes over within one retry period.

The elector gets its own API client (its own connections): a burst of reconcile traffic can never delay
a renewal.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from zen_lead.election import LeaderElector, Leadership
from zen_lead.manager.options import ManagerOptions
from zen_lead.observability.metrics import IS_LEADER

log = logging.getLogger("zen_lead.manager")
Work = Callable[[Callable[[], bool] | None], Coroutine[Any, Any, None]]


async def run_with_leadership(options: ManagerOptions, work: Work, stop: asyncio.Event) -> None:
    """Run ``work`` while leading (or, without election, until ``stop``); return after ``stop``."""
    if not options.leader_elect:
        await _run_until(work, stop)
        return

    async def lead(leadership: Leadership) -> None:
        log.info("leading: starting reconcile workers", extra={"fence": str(leadership.token)})
        IS_LEADER.set(1)
        try:
            await work(leadership.valid)
        finally:
            IS_LEADER.set(0)

    elector = LeaderElector(
        options.leader_election_id,
        namespace=options.leader_election_namespace,
        identity=options.identity,
        kubeconfig=options.kubeconfig,
        timing=options.timing,
        on_started_leading=lead,
    )
    runner = asyncio.create_task(elector.run(), name="elector")
    stopping = asyncio.create_task(stop.wait(), name="stop")
    await asyncio.wait({runner, stopping}, return_when=asyncio.FIRST_COMPLETED)
    elector.stop()
    stopping.cancel()
    await runner  # drains the workers, then releases the Lease


async def _run_until(work: Work, stop: asyncio.Event) -> None:
    IS_LEADER.set(1)
    task = asyncio.create_task(work(None))
    await stop.wait()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    IS_LEADER.set(0)
