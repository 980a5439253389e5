"""Event-loop lag: how late a periodic tick runs. A stall in our code shows up here and in
``zen_lead_event_loop_lag_seconds``; the worst value is kept for benchmarks and ``/metrics``."""

from __future__ import annotations

import asyncio

from zen_lead.observability.metrics import EVENT_LOOP_LAG, EVENT_LOOP_LAG_MAX


class LoopLagMonitor:
    def __init__(self, interval: float = 0.1) -> None:
        self.interval = interval
        self.worst = 0.0

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            expected = loop.time() + self.interval
            await asyncio.sleep(self.interval)
            lag = max(0.0, loop.time() - expected)
            EVENT_LOOP_LAG.observe(lag)
            if lag > self.worst:
                self.worst = lag
                EVENT_LOOP_LAG_MAX.set(lag)
