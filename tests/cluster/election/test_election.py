"""Five candidate processes on one Lease: one leader, no overlap, fast graceful and lawful crash takeover.

Timings: lease 4 s, renew deadline 3 s, retry period 0.5 s (``harness.LD/RD/RP``).
"""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import pytest
from lightkube import AsyncClient

from tests.cluster.election.checks import (
    assert_handed_over_by_release,
    assert_lawful_history,
    assert_no_overlap,
    tenures,
)
from tests.cluster.election.harness import (
    LD,
    RP,
    TIMING_ARGS,
    LeaseWatch,
    Proc,
    first_of,
    python_script,
    spawn,
)
from zen_lead.localcluster import ClusterInfo

pytestmark = pytest.mark.cluster


async def start_candidates(
    count: int, *, cluster: ClusterInfo, namespace: str, name: str, logs: Path, prefix: str = "c"
) -> list[Proc]:
    return [
        await spawn(
            f"{prefix}{i}",
            python_script(
                "candidate.py",
                "--kubeconfig",
                str(cluster.kubeconfig),
                "--namespace",
                namespace,
                "--name",
                name,
                "--identity",
                f"{prefix}{i}",
                *TIMING_ARGS,
            ),
            logs=logs,
        )
        for i in range(count)
    ]


async def test_five_candidates_one_leader_no_overlap_fast_release_lawful_crash_takeover(
    cluster: ClusterInfo, namespace: str, aclient: AsyncClient, logs: Path
) -> None:
    name = "five"
    died: dict[str, float] = {}
    async with LeaseWatch(aclient, namespace, name) as watch:
        procs = await start_candidates(5, cluster=cluster, namespace=namespace, name=name, logs=logs)
        try:
            # -- convergence: exactly one leader, and everybody sees it ---------------------------------
            leader, _ = await first_of(procs, "became leader", within=30)
            for proc in procs:
                await proc.wait_for(
                    "new leader observed", within=10, where=lambda e: e["leader"] == leader.name
                )
            await asyncio.sleep(LD + 1)  # longer than a lease: a second leader would have appeared by now
            assert [p.name for p in procs if p.named("became leader")] == [leader.name]

            # -- graceful stop: drained, released, a standby leads within the retry period ----------
            standbys = [p for p in procs if p is not leader]
            stopped_at = leader.signal(signal.SIGTERM)
            assert await leader.exited(within=10) == 0
            second, _ = await first_of(standbys, "became leader", after=stopped_at, within=RP + 5)
            released = await watch.wait_for(lambda c: c.holder == "" and c.transitions >= 0, within=5)
            assert released.spec["leaseDurationSeconds"] == 1  # client-go's release record
            # taken at once from the release (the standby's watch woke it), not after the lease ran out
            await watch.wait_for(lambda c: c.holder == second.name, within=5)
            assert_handed_over_by_release(watch.changes, old=leader.name, new=second.name, lease_duration=LD)
            drained = leader.named("work cancelled")[-1]["t"]
            assert leader.named("stopped leading")[-1]["t"] >= drained  # on_stopped_leading after the drain

            # -- crash: SIGKILL, the lease runs out, then (and only then) a standby takes over -------
            remaining = [p for p in standbys if p is not second]
            killed_at = died[second.name] = second.signal(signal.SIGKILL)
            await second.kill()
            # a hang guard, not a bound: the takeover comes a lease duration after the last renewal
            # (checked exactly, on the stored times, by assert_lawful_history below)
            await first_of(remaining, "became leader", after=killed_at, within=LD + RP + 10)

            await asyncio.sleep(RP * 2)
            assert_no_overlap(tenures(procs, died=died))
            assert assert_lawful_history(watch.changes, lease_duration=LD) >= 1  # the crash takeover
            tokens = [e["token"] for p in procs for e in p.named("became leader")]
            assert sorted(tokens) == sorted(set(tokens))  # each tenure its own token
        finally:
            for proc in procs:
                await proc.kill()


async def test_stopping_a_standby_does_not_disturb_the_leader(
    cluster: ClusterInfo, namespace: str, aclient: AsyncClient, logs: Path
) -> None:
    """A standby's graceful stop must not write the Lease (it holds nothing to release)."""
    name = "standby"
    async with LeaseWatch(aclient, namespace, name) as watch:
        procs = await start_candidates(
            2, cluster=cluster, namespace=namespace, name=name, logs=logs, prefix="s"
        )
        try:
            leader, _ = await first_of(procs, "became leader", within=30)
            standby = next(p for p in procs if p is not leader)
            await standby.wait_for("new leader observed", within=10)
            stopped_at = standby.signal(signal.SIGTERM)
            assert await standby.exited(within=10) == 0
            await asyncio.sleep(RP * 3)
            await watch.wait_for(lambda c: c.t > stopped_at, within=10)  # the leader kept renewing
            after_stop = [c for c in watch.changes if c.t > stopped_at]
            token = leader.named("became leader")[0]["token"]
            # every record written since is the leader's, in the same tenure: no release, no new tenure
            assert all(c.holder == leader.name and c.transitions == token for c in after_stop), (
                watch.history()
            )
            assert not leader.named("work cancelled")
        finally:
            for proc in procs:
                await proc.kill()
