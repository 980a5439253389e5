"""The Event poster's deferral to failovers (no API involved: nothing is posted in these cases)."""

from __future__ import annotations

import asyncio
from typing import cast

from zen_lead.kube.client import ApiClient
from zen_lead.kube.meta import ObjectRef
from zen_lead.runtime.events import EventRecorder


async def test_cancelled_as_the_failovers_drain_the_poster_stops() -> None:
    """A shutdown's cancellation that arrives in the same loop iteration as the end of the deferral
    must stop the poster (Python 3.11's ``wait_for`` would swallow it and hang the shutdown)."""
    recorder = EventRecorder(cast(ApiClient, None), host="test")  # never reached: nothing is posted
    drained = asyncio.Event()
    recorder.yield_to = drained.wait
    service = ObjectRef("v1", "Service", "ns", "db", "u")
    recorder.record(service, "Normal", "LeaderChanged", "moved")
    task = asyncio.create_task(recorder.run())
    for _ in range(5):
        await asyncio.sleep(0)  # the poster took the note and waits for the failovers to drain
    drained.set()
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=2)
    assert task in done, "the poster ignored its cancellation"
    assert task.cancelled()
