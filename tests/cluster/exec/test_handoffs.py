"""Three wrappers around a worker that stamps its own life: one worker at a time through a graceful
handoff, a crashed wrapper, a crashed worker and a frozen apiserver; tokens strictly increase and are
the Lease's; every takeover in the watched history is lawful."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from pathlib import Path

import pytest
from lightkube import AsyncClient

from tests.cluster.election.checks import assert_handed_over_by_release, assert_lawful_history, wall
from tests.cluster.election.harness import LeaseWatch, Proc, until
from tests.cluster.exec.harness import (
    LD,
    Ledger,
    assert_one_at_a_time,
    assert_tokens_are_the_leases,
    gone,
    start_wrapper,
)
from zen_lead.localcluster import ClusterInfo

pytestmark = pytest.mark.cluster


def by_identity(wrappers: list[Proc], identity: str) -> Proc:
    return next(w for w in wrappers if w.name == identity)


async def test_one_worker_at_a_time_through_handoff_wrapper_crash_and_worker_crash(
    impl: Path | None, cluster: ClusterInfo, namespace: str, aclient: AsyncClient, ledger: Ledger, logs: Path
) -> None:
    async with LeaseWatch(aclient, namespace, "exec") as watch:
        wrappers = [
            await start_wrapper(impl, f"w{i}", cluster=cluster, namespace=namespace, ledger=ledger, logs=logs)
            for i in range(3)
        ]
        try:
            # graceful: SIGTERM reaches the worker (exit 0), the wrapper releases, a standby's worker starts
            first = (await ledger.wait_runs(1, within=60))[0]
            leader = by_identity(wrappers, first.identity)
            leader.signal(signal.SIGTERM)
            assert await leader.exited(within=30) == 0
            second = (await ledger.wait_runs(2, within=30))[1]
            assert ledger.runs()[0].signals == ["SIGTERM"]
            assert ledger.runs()[0].stopped is not None
            assert_handed_over_by_release(
                watch.changes, old=first.identity, new=second.identity, lease_duration=LD
            )

            # the wrapper SIGKILLed: its worker dies with it (the kernel's parent-death signal), at once
            leader = by_identity(wrappers, second.identity)
            leader.signal(signal.SIGKILL)
            await until(
                lambda: gone(second.pid), within=LD, what=f"worker {second.pid} to die with its wrapper"
            )
            third = (await ledger.wait_runs(3, within=LD + 30))[2]
            assert ledger.runs()[1].stopped is None  # killed, not stopped

            # the worker SIGKILLed: the wrapper exits with 128 + 9 and releases; the last wrapper takes over
            os.kill(third.pid, signal.SIGKILL)
            assert await by_identity(wrappers, third.identity).exited(within=30) == 137
            await until(
                lambda: any(c.holder == "" and c.transitions == third.token for c in watch.changes),
                within=10,
                what="the release after the worker died",
            )
        finally:
            ledger.kill_all()
            for wrapper in wrappers:
                await wrapper.kill()
    runs = ledger.runs()
    assert len(runs) == 3, [r.start for r in runs]
    assert len({r.identity for r in runs}) == 3
    assert_one_at_a_time(runs)
    assert_tokens_are_the_leases(runs, watch.changes)
    assert assert_lawful_history(watch.changes, lease_duration=LD) == 1  # the crash waited for expiry


def apiserver_pid(cluster: ClusterInfo) -> int:
    status = json.loads((cluster.state / "status.json").read_text())
    return int(status["pids"]["kube-apiserver"])


async def test_a_frozen_apiserver_gets_a_worker_that_ignores_sigterm_killed_before_the_lease_expires(
    impl: Path | None, cluster: ClusterInfo, namespace: str, aclient: AsyncClient, ledger: Ledger, logs: Path
) -> None:
    """The apiserver stops answering (SIGSTOP) past the renew deadline: the wrapper cannot renew, sends
    SIGTERM at its deadline (ignored) and SIGKILL ``grace`` later. The worker's last stamp is earlier
    than the last renewal the apiserver stored plus the lease duration — the earliest moment anyone else
    may lead. Once the apiserver is back a worker runs again, with a higher token."""
    pid = apiserver_pid(cluster)
    async with LeaseWatch(aclient, namespace, "exec") as watch:
        wrappers = [
            await start_wrapper(
                impl,
                f"f{i}",
                cluster=cluster,
                namespace=namespace,
                ledger=ledger,
                logs=logs,
                worker=("--ignore-term",),
            )
            for i in range(2)
        ]
        try:
            first = (await ledger.wait_runs(1, within=60))[0]
            await watch.wait_for(
                lambda c: c.holder == first.identity and c.transitions == first.token, within=10
            )
            await asyncio.sleep(1.5)  # a few renewals (retry period 0.5 s)
            os.kill(pid, signal.SIGSTOP)
            try:
                await until(lambda: gone(first.pid), within=LD + 2, what="the worker to be killed")
                stopped = time.monotonic()
                await asyncio.sleep(max(0.0, stopped + 1 - time.monotonic()))
            finally:
                os.kill(pid, signal.SIGCONT)
            second = (await ledger.wait_runs(2, within=LD + 60))[1]
        finally:
            ledger.kill_all()
            for wrapper in wrappers:
                await wrapper.kill()
    runs = ledger.runs()
    last_renewal = max(
        wall(c.spec["renewTime"]).timestamp()
        for c in watch.changes
        if c.holder == first.identity and c.transitions == first.token
    )
    assert runs[0].signals == ["SIGTERM"], "the worker should have been asked first"
    assert runs[0].last_wall < last_renewal + LD, (
        f"the worker lived until {runs[0].last_wall - last_renewal:.3f}s after the last renewal; "
        f"others may lead from {LD}s"
    )
    assert second.token > first.token
    assert_one_at_a_time(runs)
    assert_tokens_are_the_leases(runs, watch.changes)
    assert_lawful_history(watch.changes, lease_duration=LD)


async def test_the_python_and_the_static_wrapper_share_one_lease(
    static_wrapper: Path,
    cluster: ClusterInfo,
    namespace: str,
    aclient: AsyncClient,
    ledger: Ledger,
    logs: Path,
) -> None:
    """One of each on one Lease: handoffs both ways (SIGTERM), one worker at a time, tokens rising."""
    common = {"cluster": cluster, "namespace": namespace, "ledger": ledger, "logs": logs}
    impls = {"go": static_wrapper, "py": None}
    async with LeaseWatch(aclient, namespace, "exec") as watch:
        wrappers = [await start_wrapper(impls[kind], f"{kind}0", **common) for kind in ("go", "py")]
        first = (await ledger.wait_runs(1, within=60))[0]
        leader = by_identity(wrappers, first.identity)
        leader.signal(signal.SIGTERM)
        assert await leader.exited(within=30) == 0
        second = (await ledger.wait_runs(2, within=30))[1]
        assert {first.identity[:2], second.identity[:2]} == {"go", "py"}

        # the first one's kind again, as the standby; then the handoff the other way
        standby = await start_wrapper(impls[first.identity[:2]], f"{first.identity[:2]}1", **common)
        await until(
            lambda: "campaigning for" in standby.log.read_text(errors="replace"),
            within=30,
            what="the new standby to campaign",
        )
        leader = by_identity(wrappers, second.identity)
        leader.signal(signal.SIGTERM)
        assert await leader.exited(within=30) == 0
        third = (await ledger.wait_runs(3, within=30))[2]
        assert third.identity == standby.name
        assert_handed_over_by_release(
            watch.changes, old=second.identity, new=third.identity, lease_duration=LD
        )
    runs = ledger.runs()
    assert_one_at_a_time(runs)
    assert_tokens_are_the_leases(runs, watch.changes)
    assert_lawful_history(watch.changes, lease_duration=LD)
