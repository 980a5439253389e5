"""Run the controller's writers only while this replica holds the manager Lease."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine
from typing import Any

from zen_lead.kube.client import ApiClient
from zen_lead.manager.options import ManagerOptions
from zen_lead.observability.metrics import IS_LEADER


async def run_with_leadership(
    options: ManagerOptions,
    client: ApiClient,
    work: Callable[[], Coroutine[Any, Any, None]],
    stop: asyncio.Event,
) -> None:
    """Without election (``--leader-elect=false``): run ``work`` until ``stop``."""
    del client
    if options.leader_elect:
        raise NotImplementedError("leader election is wired in by the election module")
    IS_LEADER.set(1)
    task = asyncio.create_task(work())
    await stop.wait()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    IS_LEADER.set(0)
