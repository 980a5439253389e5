"""The loop-lag monitor tells a stall of our own code from time the OS gave to other processes."""

from __future__ import annotations

import asyncio
import time

from zen_lead.observability.looplag import LoopLagMonitor


async def _one_tick_with(block: object) -> LoopLagMonitor:
    monitor = LoopLagMonitor(interval=0.01)
    task = asyncio.create_task(monitor.run())
    await asyncio.sleep(0.02)  # a tick or two while the loop is free
    assert callable(block)
    block()  # the loop cannot run the monitor's tick meanwhile
    await asyncio.sleep(0.05)
    task.cancel()
    return monitor


async def test_a_busy_callback_is_a_stall() -> None:
    def burn() -> None:
        end = time.thread_time() + 0.2
        while time.thread_time() < end:
            pass

    monitor = await _one_tick_with(burn)
    assert monitor.worst >= 0.15
    assert monitor.worst_stall >= 0.15


async def test_a_blocked_thread_that_uses_no_cpu_is_lag_but_no_stall() -> None:
    # time.sleep stands for being descheduled (and shows the bound's blind spot: a blocking call of
    # our own would look the same): the tick is late, but our thread spent no CPU on it.
    monitor = await _one_tick_with(lambda: time.sleep(0.2))
    assert monitor.worst >= 0.15
    assert monitor.worst_stall < 0.05
