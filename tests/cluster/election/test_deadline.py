"""The step-down deadline as the elector computes it: ``renew_deadline`` after the START of the
acquisition or of the last successful renewal — not after its end, not a fixed time from "now".

That anchor is what makes the step-down safe: any other candidate saw the renewal after it was written,
so the leader stops at least ``lease_duration - renew_deadline`` before anyone may take over, however
long the request took. The elector runs in this process (``Leadership.fence.deadline`` is public), so
the test reads the deadline on the same monotonic clock. To tell "start" from "end" a renewal must take
long: the apiserver is frozen (SIGSTOP) while one is in flight and thawed (always, in ``finally``) well
before that call's time limit.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time

import pytest

from tests.cluster.election.harness import until
from tests.cluster.election.test_outage import apiserver_pid
from zen_lead.election import LeaderElector, Leadership, LeaseRef, Timing
from zen_lead.kube.client import ApiClient
from zen_lead.localcluster import ClusterInfo

pytestmark = pytest.mark.cluster
# renew_deadline below 5 s, so that a deadline of "now + 5 s" would lie after the safe one.
# api_timeout 3.5 s: a renewal that starts as the apiserver freezes for FROZEN seconds still has
# 3.5 - FROZEN = 2.5 s after the thaw to be answered; the leader keeps its tenure meanwhile (its
# deadline lies renew_deadline - retry_period = 3.5 s after the freeze at the earliest).
TIMING = Timing(lease_duration=5, renew_deadline=4, retry_period=0.5, api_timeout=3.5)
FROZEN = 1.0


async def test_the_deadline_is_renew_deadline_after_the_acquisition_or_renewal_started(
    cluster: ClusterInfo, namespace: str, api: ApiClient
) -> None:
    rd, rp = TIMING.renew_deadline, TIMING.retry_period
    entered: asyncio.Future[tuple[float, Leadership, float]] = asyncio.get_running_loop().create_future()

    async def lead(leadership: Leadership) -> None:
        entered.set_result((time.monotonic(), leadership, leadership.fence.deadline))
        await asyncio.Event().wait()

    elector = LeaderElector(
        LeaseRef("deadline", namespace, client=api),
        identity="d-1",
        timing=TIMING,
        on_started_leading=lead,
    )
    campaign_started = time.monotonic()
    runner = asyncio.create_task(elector.run())
    pid = apiserver_pid(cluster)
    try:
        leading_at, leadership, acquired_deadline = await asyncio.wait_for(entered, 30)
        # The acquisition's write started between the campaign's start and the work's entry.
        assert campaign_started + rd <= acquired_deadline <= leading_at + rd

        fence = leadership.fence
        await asyncio.sleep(rp * 3)  # a few ordinary renewals
        os.kill(pid, signal.SIGSTOP)
        try:
            await asyncio.sleep(FROZEN)  # a renewal starts meanwhile (every 0.5 s) and hangs
            before_thaw = fence.deadline
            thawed_at = time.monotonic()
        finally:
            os.kill(pid, signal.SIGCONT)
        # Checked at every turn of the event loop: once answered, the renewal that was frozen is
        # followed at once by the next one (its retry period is over), which moves the deadline again
        # a few milliseconds later. 10 s is a hang guard: the frozen call fails at its limit anyway.
        await until(
            lambda: fence.deadline != before_thaw, within=10, what="the deadline extended", interval=0
        )
        extended = fence.deadline
        # This renewal was answered after the thaw (the deadline had not moved before it) and began
        # before the thaw: anchored at its start, the deadline is below thaw + renew_deadline; anchored
        # at its end, or at "now + 5 s" after it, it would be above.
        assert extended < thawed_at + rd, (extended - thawed_at, rd)
        # ... and it began no earlier than one retry period after the previous renewal began (that one
        # set ``before_thaw``); timers may fire a clock tick early, hence the millisecond.
        assert extended >= before_thaw + rp - 1e-3
        assert fence.valid()
        assert elector.is_leader
    finally:
        os.kill(pid, signal.SIGCONT)  # idempotent; never leave the apiserver frozen
        elector.stop()
        await asyncio.wait_for(runner, 30)
