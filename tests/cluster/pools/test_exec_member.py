"""``zen-lead exec --pool``: vendor programs in member pods that campaign, through the wrapper, with
their pod's name as identity. The pools controller releases the Lease to them; one program runs at a
time; a graceful stop hands the pool to the other member, whose program starts with a higher term."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import pytest
from lightkube import AsyncClient, Client
from lightkube.resources.core_v1 import Pod

from tests.cluster.election.checks import assert_handed_over_by_release, assert_lawful_history
from tests.cluster.election.harness import LeaseWatch, Proc
from tests.cluster.exec.harness import LD, Ledger, assert_one_at_a_time, start_wrapper
from tests.cluster.pools.conftest import members, policy, status
from tests.support.controller import ControllerProcess
from tests.support.wait import eventually, settled
from tests.support.workload import set_pod_ready
from zen_lead.localcluster import ClusterInfo

pytestmark = pytest.mark.cluster


async def campaigning_members(kube: Client, namespace: str) -> list[str]:
    """A pool and two member pods that campaign (their programs run under ``zen-lead exec --pool``)."""
    kube.create(policy("pool", namespace, leaseDurationSeconds=LD))
    campaigners = members("camp", namespace, pool="pool", replicas=2)
    campaigners.spec.template.metadata.annotations["zen-lead/campaign"] = "true"  # type: ignore[union-attr]
    kube.create(campaigners)
    pods: list[str] = await asyncio.to_thread(
        eventually,
        lambda: (
            found
            if len(found := sorted(p.metadata.name for p in kube.list(Pod, namespace=namespace))) == 2
            else None
        ),
        what="2 member pods",
    )
    return pods


async def wrap(impl: Path | None, pod: str, *, cluster: ClusterInfo, namespace: str, ledger: Ledger) -> Proc:
    return await start_wrapper(
        impl,
        pod,
        cluster=cluster,
        namespace=namespace,
        ledger=ledger,
        logs=ledger.path.parent,
        lease="",
        flags=("--pool", "pool"),
        env={"POD_NAME": pod},
    )


async def test_wrapped_programs_in_a_pool_follow_the_pools_lease(
    impl: Path | None,
    cluster: ClusterInfo,
    kube: Client,
    aclient: AsyncClient,
    namespace: str,
    pools_controller: ControllerProcess,
    ledger: Ledger,
    tmp_path: Path,
) -> None:
    pods = await campaigning_members(kube, namespace)
    wrappers: list[Proc] = []
    async with LeaseWatch(aclient, namespace, "pool") as watch:
        try:
            for pod in pods:
                wrappers.append(await wrap(impl, pod, cluster=cluster, namespace=namespace, ledger=ledger))
            first = (await ledger.wait_runs(1, within=60))[0]
            assert first.identity in pods
            assert first.start["lease"] == f"{namespace}/pool"
            await asyncio.to_thread(
                eventually,
                lambda: (status(kube, "pool", namespace).get("leader") or {}).get("pod") == first.identity,
                what="the pool's status to name the wrapped program's pod",
            )
            next(w for w in wrappers if w.name == first.identity).signal(signal.SIGTERM)
            second = (await ledger.wait_runs(2, within=60))[1]
            assert {first.identity, second.identity} == set(pods)
            assert second.token > first.token
            await asyncio.to_thread(
                eventually,
                lambda: (status(kube, "pool", namespace).get("leader") or {}).get("pod") == second.identity,
                what="the status to follow",
            )
        finally:
            ledger.kill_all()
            for wrapper in wrappers:
                await wrapper.kill()
    assert_one_at_a_time(ledger.runs())
    assert_lawful_history(watch.changes, lease_duration=LD)


async def test_a_wrapped_program_hands_over_when_the_pool_nominates_another_member(
    impl: Path | None,
    cluster: ClusterInfo,
    kube: Client,
    aclient: AsyncClient,
    namespace: str,
    pools_controller: ControllerProcess,
    ledger: Ledger,
    tmp_path: Path,
) -> None:
    """The leader's pod turns NotReady: the controller nominates the other member, the leader's wrapper
    stops its program and releases (it keeps running, as a standby that waits), the nominee's program
    starts with a higher term, and the NotReady pod does not take the Lease back."""
    pods = await campaigning_members(kube, namespace)
    wrappers: dict[str, Proc] = {}
    async with LeaseWatch(aclient, namespace, "pool") as watch:
        for pod in pods:
            wrappers[pod] = await wrap(impl, pod, cluster=cluster, namespace=namespace, ledger=ledger)
        first = (await ledger.wait_runs(1, within=60))[0]
        other = next(p for p in pods if p != first.identity)
        set_pod_ready(kube, first.identity, namespace, ready=False)
        second = (await ledger.wait_runs(2, within=60))[1]
        assert second.identity == other
        assert second.token > first.token
        assert ledger.runs()[0].signals == ["SIGTERM"]
        assert_handed_over_by_release(watch.changes, old=first.identity, new=other, lease_duration=LD)
        # nothing more happens: the NotReady pod's wrapper waits while the other is nominated
        runs = await asyncio.to_thread(settled, lambda: len(ledger.runs()), quiet=2 * LD, what="the runs")
        assert runs == 2
        assert wrappers[first.identity].process.returncode is None, "the wrapper should wait, not exit"
        assert watch.changes[-1].holder == other
    assert_one_at_a_time(ledger.runs())
    assert_lawful_history(watch.changes, lease_duration=LD)
