"""Two kinds of members in one pool: a vendor pod zen-lead holds the Lease for, and members that campaign
themselves — a zen-lead ``LeaderElector`` and a client-go candidate, each with its pod's name as
identity. The controller never writes over a live tenure of a campaigning member, and the members never
lead at once (checked on the Lease's whole watched history, by its stored times)."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import pytest
from lightkube import AsyncClient, Client
from lightkube.resources.coordination_v1 import Lease
from lightkube.resources.core_v1 import Pod

from tests.cluster.election.checks import assert_lawful_history
from tests.cluster.election.harness import LD, RP, TIMING_ARGS, LeaseWatch, Proc, python_script, spawn
from tests.cluster.pools.conftest import members, policy, status
from tests.support.controller import ControllerProcess
from tests.support.wait import eventually
from tests.support.workload import set_pod_ready
from zen_lead.localcluster import ClusterInfo

pytestmark = pytest.mark.cluster


def pods(kube: Client, namespace: str, app: str) -> list[str]:
    return sorted(p.metadata.name for p in kube.list(Pod, namespace=namespace, labels={"app": app}))


def leader(kube: Client, namespace: str) -> str | None:
    return (status(kube, "pool", namespace).get("leader") or {}).get("pod")


async def zen_candidate(identity: str, *, cluster: ClusterInfo, namespace: str, logs: Path) -> Proc:
    args = ["--kubeconfig", str(cluster.kubeconfig), "--namespace", namespace, "--name", "pool"]
    return await spawn(
        identity, python_script("candidate.py", *args, "--identity", identity, *TIMING_ARGS), logs=logs
    )


async def go_candidate(
    goelector: Path, identity: str, *, cluster: ClusterInfo, namespace: str, logs: Path
) -> Proc:
    argv = [
        str(goelector),
        f"--kubeconfig={cluster.kubeconfig}",
        f"--namespace={namespace}",
        "--name=pool",
        f"--identity={identity}",
        f"--lease-duration={LD:g}s",
        "--renew-deadline=3s",
        f"--retry-period={int(RP * 1000)}ms",
    ]
    return await spawn(identity, argv, logs=logs)


async def test_campaigning_members_and_a_vendor_member_share_a_pool(
    cluster: ClusterInfo,
    kube: Client,
    aclient: AsyncClient,
    namespace: str,
    pools_controller: ControllerProcess,
    goelector: Path,
    logs: Path,
) -> None:
    kube.create(policy("pool", namespace, leaseDurationSeconds=int(LD)))
    kube.create(members("vendor", namespace, pool="pool", replicas=1))
    [vendor] = await asyncio.to_thread(
        eventually, lambda: pods(kube, namespace, "vendor"), what="the vendor pod"
    )
    await asyncio.to_thread(eventually, lambda: leader(kube, namespace) == vendor, what="the vendor leads")
    campaigners = members("camp", namespace, pool="pool", replicas=2)
    campaigners.spec.template.metadata.annotations["zen-lead/campaign"] = "true"  # type: ignore[union-attr]
    kube.create(campaigners)
    zen_pod, go_pod = await asyncio.to_thread(
        eventually, lambda: found if len(found := pods(kube, namespace, "camp")) == 2 else None, what="2 pods"
    )
    procs: list[Proc] = []
    async with LeaseWatch(aclient, namespace, "pool") as watch:
        try:
            procs.append(await zen_candidate(zen_pod, cluster=cluster, namespace=namespace, logs=logs))
            procs.append(
                await go_candidate(goelector, go_pod, cluster=cluster, namespace=namespace, logs=logs)
            )
            # held for the vendor and renewed while campaigners watch: neither takes it over
            await procs[0].wait_for("new leader observed", within=30, where=lambda e: e["leader"] == vendor)
            await asyncio.sleep(LD * 2)
            assert not any(p.named("became leader") for p in procs)
            assert leader(kube, namespace) == vendor

            # the vendor is lost: zen-lead releases the Lease and a campaigner takes it itself
            set_pod_ready(kube, vendor, namespace, ready=False)
            first = await watch.wait_for(lambda c: c.holder in (zen_pod, go_pod), within=30)
            holder, other = (first.holder, go_pod if first.holder == zen_pod else zen_pod)
            await asyncio.to_thread(
                eventually, lambda: leader(kube, namespace) == holder, what="status names it"
            )
            assert status(kube, "pool", namespace)["leader"]["campaigns"] is True

            # the holder stops being eligible: zen-lead nominates the other, but never writes over
            # the holder's live tenure; the holder's own elector ends it (here: it stops, gracefully)
            set_pod_ready(kube, holder, namespace, ready=False)

            def nominated() -> bool:
                lease = kube.get(Lease, "pool", namespace=namespace)
                annotations = lease.metadata.annotations or {}
                conditions = {c["type"]: c for c in status(kube, "pool", namespace).get("conditions", [])}
                told = conditions.get("CoordinatedElection", {})
                # the local apiserver runs without the CoordinatedLeaderElection gate: the field is dropped
                return annotations.get("coordination.kube-zen.io/preferred-holder") == other and (
                    told.get("status"),
                    told.get("reason"),
                ) == ("False", "NotServed")

            await asyncio.to_thread(eventually, nominated, what="the other campaigner nominated")
            await asyncio.sleep(LD * 1.5)
            assert watch.changes[-1].holder == holder  # still the holder's: renewed by it alone
            stopping = next(p for p in procs if p.name == holder)
            stopping.signal(signal.SIGTERM)
            await stopping.exited(within=20)
            await watch.wait_for(lambda c: c.holder == other, within=30)
            await asyncio.to_thread(
                eventually, lambda: leader(kube, namespace) == other, what="status names it"
            )
        finally:
            for proc in procs:
                await proc.kill()
    # the whole history: terms never go back, a new tenure only after a release or a lease run out
    assert_lawful_history(watch.changes, lease_duration=LD)
