"""Locks across processes: mutual exclusion, growing tokens, expiry of a dead holder, stale fences."""

from __future__ import annotations

import asyncio
import itertools
import signal
import time
from pathlib import Path

import pytest
from lightkube import AsyncClient

from tests.cluster.election.checks import wall
from tests.cluster.election.harness import FencedFile, LeaseWatch, Proc, RawLease, python_script, spawn
from zen_lead.election import LeaseRef, LockNotAcquiredError, lock
from zen_lead.kube.client import ApiClient
from zen_lead.localcluster import ClusterInfo

pytestmark = pytest.mark.cluster
TTL = 3.0
RENEW_EVERY = TTL / 6  # what Timing.for_ttl uses


async def locker(
    mode: str,
    name: str,
    *,
    cluster: ClusterInfo,
    namespace: str,
    logs: Path,
    lock_name: str,
    extra: tuple[str, ...] = (),
) -> Proc:
    argv = python_script(
        "locker.py",
        mode,
        "--kubeconfig",
        str(cluster.kubeconfig),
        "--namespace",
        namespace,
        "--name",
        lock_name,
        "--ttl",
        str(TTL),
        *extra,
    )
    return await spawn(name, argv, logs=logs, stdin=mode == "stale")


async def test_contending_processes_exclude_each_other_and_tokens_strictly_increase(
    cluster: ClusterInfo, namespace: str, logs: Path
) -> None:
    procs = [
        await locker("rounds", f"l{i}", cluster=cluster, namespace=namespace, logs=logs, lock_name="mutex")
        for i in range(4)
    ]
    try:
        for proc in procs:
            assert await proc.exited(within=60) == 0, proc.log
        sections = sorted(
            (enter["t"], exit_["t"], enter["token"], proc.name, exit_["valid"])
            for proc in procs
            for enter, exit_ in zip(proc.named("enter"), proc.named("exit"), strict=True)
        )
        assert len(sections) == 4 * 3
        assert all(valid for *_, valid in sections), "a holder left its critical section with a stale fence"
        for (_, end, token, who, _), (start, _, next_token, next_who, _) in itertools.pairwise(sections):
            assert start >= end, f"{next_who} entered at {start:.3f} before {who} left at {end:.3f}"
            assert next_token > token, f"token {next_token} of {next_who} is not above {token} of {who}"
    finally:
        for proc in procs:
            await proc.kill()


async def test_a_holder_killed_in_its_critical_section_loses_the_lock_after_the_ttl(
    cluster: ClusterInfo, namespace: str, aclient: AsyncClient, logs: Path, api: ApiClient
) -> None:
    holder = await locker(
        "hang", "holder", cluster=cluster, namespace=namespace, logs=logs, lock_name="crash"
    )
    async with LeaseWatch(aclient, namespace, "crash") as watch:
        try:
            entered = await holder.wait_for("enter", within=30)
            await asyncio.sleep(RENEW_EVERY * 3)
            holder.signal(signal.SIGKILL)
            await holder.kill()
            # the lock's timeout is a hang guard here; when it was taken is checked on the stored times
            async with lock(LeaseRef("crash", namespace, client=api), ttl=TTL, timeout=TTL * 3) as fence:
                assert fence.token > entered["token"]
            token = fence.token
            ours = await watch.wait_for(lambda c: c.transitions == token and bool(c.holder), within=10)
            last_renewal = [c for c in watch.changes if c.holder == entered["identity"]][-1]
            gap = (wall(ours.spec["acquireTime"]) - wall(last_renewal.spec["renewTime"])).total_seconds()
            assert gap >= TTL
        finally:
            await holder.kill()


async def test_a_paused_holder_finds_its_fence_stale_and_its_write_rejected(
    cluster: ClusterInfo, namespace: str, aclient: AsyncClient, logs: Path, tmp_path: Path, api: ApiClient
) -> None:
    """The classic: a holder pauses (SIGSTOP: GC, VM migration), the lock expires and is taken, the
    holder wakes and carries on. The fence tells it, and the storage refuses its lower token."""
    store = FencedFile(tmp_path / "store.json")
    paused = await locker(
        "stale",
        "paused",
        cluster=cluster,
        namespace=namespace,
        logs=logs,
        lock_name="stale",
        extra=("--store", str(store.path)),
    )
    try:
        entered = await paused.wait_for("enter", within=30)
        paused.signal(signal.SIGSTOP)
        try:
            async with lock(LeaseRef("stale", namespace, client=api), ttl=TTL, timeout=TTL * 3) as fence:
                assert fence.token > entered["token"]
                store.write(fence.token, "from the new holder")
        finally:
            paused.signal(signal.SIGCONT)
        assert paused.process.stdin is not None
        paused.process.stdin.write(b"go\n")
        await paused.process.stdin.drain()
        report = await paused.wait_for("report", within=15)
        assert report["valid"] is False
        assert report["check"].startswith("StaleFenceError")
        assert report["confirm"].startswith("StaleFenceError")
        assert report["write"].startswith("rejected")
        assert store.read() == {"token": fence.token, "data": "from the new holder"}
    finally:
        paused.signal(signal.SIGCONT)
        await paused.kill()


async def test_a_lock_that_cannot_be_renewed_cancels_its_body(
    cluster: ClusterInfo, namespace: str, aclient: AsyncClient, logs: Path
) -> None:
    holder = await locker(
        "cancel", "holder", cluster=cluster, namespace=namespace, logs=logs, lock_name="cancel"
    )
    try:
        await holder.wait_for("enter", within=30)
        holder.signal(signal.SIGSTOP)  # its renewals stop; its monotonic clock keeps running
        await asyncio.sleep(TTL * 2 / 3 + 0.5)  # past its renew deadline
        resumed_at = holder.signal(signal.SIGCONT)
        lost = await holder.wait_for("lock lost", after=resumed_at, within=10)
        # the deadline ended it (no renewal had a chance to fail first: that reason would differ)
        assert "renew deadline passed" in lost["reason"]
        assert await holder.exited(within=10) == 0
    finally:
        holder.signal(signal.SIGCONT)
        await holder.kill()


async def test_try_acquire_wait_false_timeout_and_holder(
    namespace: str, aclient: AsyncClient, api: ApiClient
) -> None:
    from zen_lead.election import holder, try_acquire

    first = await try_acquire(LeaseRef("single", namespace, client=api), ttl=TTL, identity="first")
    assert first is not None
    async with first as fence:
        assert await holder(LeaseRef("single", namespace, client=api), max_age=0) == "first"
        assert await try_acquire(LeaseRef("single", namespace, client=api), ttl=TTL) is None
        with pytest.raises(LockNotAcquiredError, match="held by 'first'"):
            async with lock(LeaseRef("single", namespace, client=api), ttl=TTL, wait=False):
                pass
        started = time.monotonic()
        async with asyncio.timeout(30):  # a hang guard: a timeout that never fired would wait for ever
            with pytest.raises(LockNotAcquiredError, match=r"not acquired within 0\.5s"):
                async with lock(LeaseRef("single", namespace, client=api), ttl=TTL, timeout=0.5):
                    pass
        assert time.monotonic() - started >= 0.5  # it tried for its whole timeout before giving up
        await fence.confirm()
    # released on exit: client-go's release record, and the lock is free at once
    released = dict(await aclient.get(RawLease, "single", namespace=namespace))["spec"]
    assert released["holderIdentity"] == ""
    assert released["leaseDurationSeconds"] == 1
    assert await holder(LeaseRef("single", namespace, client=api), max_age=0) is None
    # free at once: taken without waiting (wait=False fails at once on a held Lease, see above)
    async with lock(LeaseRef("single", namespace, client=api), ttl=TTL, wait=False) as second:
        assert second.token == fence.token + 1
