"""Event-loop lag: how late a periodic tick runs, and how much of that our own code can have caused.

A tick that should have run after ``interval`` runs ``lag`` seconds late. Two causes look alike from
inside: a callback of ours that ran too long (a stall), or the operating system running other
processes (on a machine the controller shares with the apiserver, both are busy at once). The CPU
time the loop's thread used during the tick tells them apart: a stall of our code cannot be longer
than the CPU our thread spent, so ``min(lag, thread CPU during the tick)`` is an upper bound of the
stall — of a CPU-bound stall, that is: a blocking system call on the loop uses no CPU and would count
as the other kind (the controller makes none on the loop but its log writes to stdout), and so would
our own work in another thread holding the GIL (``/metrics`` renders in one). Both are
exported (``zen_lead_event_loop_lag_seconds`` and ``..._stall_seconds``) with their worst values, for
benchmarks and ``/metrics``.
"""

from __future__ import annotations

import asyncio
import time

from zen_lead.observability.metrics import (
    EVENT_LOOP_LAG,
    EVENT_LOOP_LAG_MAX,
    EVENT_LOOP_STALL,
    EVENT_LOOP_STALL_MAX,
)


class LoopLagMonitor:
    name = "loop-lag"
    needs_leader_election = False

    def __init__(self, interval: float = 0.1) -> None:
        self.interval = interval
        self.worst = 0.0
        self.worst_stall = 0.0

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            expected = loop.time() + self.interval
            cpu = time.thread_time()
            await asyncio.sleep(self.interval)
            lag = max(0.0, loop.time() - expected)
            stall = min(lag, time.thread_time() - cpu)
            EVENT_LOOP_LAG.observe(lag)
            EVENT_LOOP_STALL.observe(stall)
            if lag > self.worst:
                self.worst = lag
                EVENT_LOOP_LAG_MAX.set(lag)
            if stall > self.worst_stall:
                self.worst_stall = stall
                EVENT_LOOP_STALL_MAX.set(stall)
