"""The apiserver stops answering (SIGSTOP) for longer than the lease: the leader's work is cancelled
at its renew deadline — before the lease could expire for anyone else — and it campaigns again once
the apiserver is back (SIGCONT, always, in ``finally``). Only this test cluster's apiserver is touched.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from lightkube import AsyncClient

from tests.cluster.election.checks import assert_lawful_history, assert_no_overlap, tenures, wall
from tests.cluster.election.harness import LD, RP, LeaseWatch, first_of
from tests.cluster.election.test_election import start_candidates
from zen_lead.localcluster import ClusterInfo

pytestmark = pytest.mark.cluster


def apiserver_pid(cluster: ClusterInfo) -> int:
    status = json.loads((cluster.state / "status.json").read_text())
    return int(status["pids"]["kube-apiserver"])


async def test_frozen_apiserver_cancels_leader_work_before_the_lease_expires_and_it_campaigns_again(
    cluster: ClusterInfo, namespace: str, aclient: AsyncClient, logs: Path
) -> None:
    name = "outage"
    pid = apiserver_pid(cluster)
    async with LeaseWatch(aclient, namespace, name) as watch:
        procs = await start_candidates(
            2, cluster=cluster, namespace=namespace, name=name, logs=logs, prefix="o"
        )
        try:
            leader, _ = await first_of(procs, "became leader", within=30)
            standby = next(p for p in procs if p is not leader)
            await standby.wait_for(
                "new leader observed", within=10, where=lambda e: e["leader"] == leader.name
            )
            await asyncio.sleep(RP * 3)  # a few renewals

            stopped_at = time.monotonic()
            os.kill(pid, signal.SIGSTOP)
            try:
                cancelled = await leader.wait_for("work cancelled", after=stopped_at, within=LD + 2)
                # keep it frozen past the lease duration, so the standby finds the lease expired
                await asyncio.sleep(max(0.0, stopped_at + LD + 1 - time.monotonic()))
            finally:
                os.kill(pid, signal.SIGCONT)
            resumed_at = time.monotonic()

            # The leader stopped acting before anyone else could take over, judged from what the apiserver
            # stored, not from the deadline the code reports: the last renewal of its tenure is stamped
            # (renewTime, this machine's wall clock) just after that renewal started; any other candidate
            # observed it later than it was written, and waits a whole lease duration from then. So the
            # step-down must come before renewTime + LD. The design leaves LD - RD = 1 s to spare: this
            # fails only if the step-down came that much later than renew_deadline after the renewal.
            # (The watch resumes from its last resourceVersion, so a renewal stored just before the freeze
            # is in the history even if its event arrived after the thaw.)
            assert not [e for e in leader.named("work cancelled") if e["t"] < stopped_at]
            renewals = [
                wall(c.spec["renewTime"])
                for c in watch.changes
                if c.holder == leader.name and c.transitions == cancelled["token"]
            ]
            last_renewal = max(renewals)
            wall_offset = time.time() - time.monotonic()  # one host: both clocks advance together
            stepped_down = datetime.fromtimestamp(cancelled["t"] + wall_offset, UTC)
            assert stepped_down < last_renewal + timedelta(seconds=LD), (
                f"work cancelled at {stepped_down}, the lease renewed at {last_renewal} could expire "
                f"for others at {last_renewal + timedelta(seconds=LD)}"
            )
            assert not standby.named("became leader")  # nobody led during the outage

            # back: someone leads again; the ex-leader campaigns (it leads, or it takes over on release)
            winner, _ = await first_of(procs, "became leader", after=resumed_at, within=LD + RP + 10)
            if winner is standby:
                stopped = standby.signal(signal.SIGTERM)
                await leader.wait_for("became leader", after=stopped, within=RP + 5)
            leader_tenures = leader.named("became leader")
            assert len(leader_tenures) >= 2
            assert leader_tenures[-1]["token"] > leader_tenures[0]["token"]  # a new tenure, a new token

            assert_no_overlap(tenures(procs, died={}))
            assert_lawful_history(watch.changes, lease_duration=LD)
        finally:
            os.kill(pid, signal.SIGCONT)  # idempotent; never leave the apiserver frozen
            for proc in procs:
                await proc.kill()
