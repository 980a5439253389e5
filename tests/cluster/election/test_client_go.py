"""A real client-go candidate (``goelector/``, client-go v0.36.3 ``leaderelection``) and ours share a Lease.

- ours honours a Lease client-go wrote: no takeover while it renews, takeover only ``leaseDurationSeconds``
  after its last renewal when it dies, with ``leaseTransitions`` + 1;
- client-go honours ours: it reads our holder, does not take over while we renew, and takes over at
  its next retry when we release;
- field by field, the Lease we write has what client-go writes: the same five spec fields, the same
  types, the MicroTime format.
"""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import Any

import pytest
from lightkube import AsyncClient

from tests.cluster.election.checks import (
    SPEC_FIELDS,
    assert_client_go_shape,
    assert_handed_over_by_release,
    assert_lawful_history,
    owned_spec_fields,
    wall,
)
from tests.cluster.election.harness import (
    LD,
    RP,
    TIMING_ARGS,
    LeaseWatch,
    Proc,
    RawLease,
    python_script,
    spawn,
)
from zen_lead.localcluster import ClusterInfo

pytestmark = pytest.mark.cluster


async def go_candidate(
    goelector: Path, identity: str, *, cluster: ClusterInfo, namespace: str, logs: Path
) -> Proc:
    return await spawn(
        identity,
        [
            str(goelector),
            f"--kubeconfig={cluster.kubeconfig}",
            f"--namespace={namespace}",
            "--name=shared",
            f"--identity={identity}",
            f"--lease-duration={LD:g}s",
            "--renew-deadline=3s",
            f"--retry-period={int(RP * 1000)}ms",
        ],
        logs=logs,
    )


async def py_candidate(identity: str, *, cluster: ClusterInfo, namespace: str, logs: Path) -> Proc:
    args = ["--kubeconfig", str(cluster.kubeconfig), "--namespace", namespace, "--name", "shared"]
    return await spawn(
        identity, python_script("candidate.py", *args, "--identity", identity, *TIMING_ARGS), logs=logs
    )


async def raw_lease(aclient: AsyncClient, namespace: str) -> dict[str, Any]:
    return dict(await aclient.get(RawLease, "shared", namespace=namespace))


async def test_client_go_and_zen_lead_candidates_share_one_lease(
    cluster: ClusterInfo, namespace: str, aclient: AsyncClient, logs: Path, goelector: Path
) -> None:
    procs: list[Proc] = []
    async with LeaseWatch(aclient, namespace, "shared") as watch:
        try:
            # -- client-go leads; ours waits and reads its record correctly -------------------------
            go1 = await go_candidate(goelector, "go-1", cluster=cluster, namespace=namespace, logs=logs)
            procs.append(go1)
            await go1.wait_for("became leader", within=30)
            written_by_go = await raw_lease(aclient, namespace)
            assert_client_go_shape(written_by_go["spec"], holder="go-1", lease_duration=int(LD))
            go_fields = owned_spec_fields(written_by_go, "goelector")
            assert go_fields == SPEC_FIELDS, go_fields

            py1 = await py_candidate("py-1", cluster=cluster, namespace=namespace, logs=logs)
            procs.append(py1)
            await py1.wait_for("new leader observed", within=20, where=lambda e: e["leader"] == "go-1")
            await asyncio.sleep(LD + 1)  # client-go keeps renewing: ours must not take over
            assert not py1.named("became leader")

            # -- client-go dies: ours takes over only after the lease ran out -----------------------
            last_go = (await raw_lease(aclient, namespace))["spec"]
            killed_at = go1.signal(signal.SIGKILL)
            await go1.kill()
            # a hang guard, not a bound: when is checked exactly below, on the stored times
            took_over = await py1.wait_for("became leader", after=killed_at, within=LD + RP + 10)
            ours = await raw_lease(aclient, namespace)
            spec = ours["spec"]
            assert_client_go_shape(spec, holder="py-1", lease_duration=int(LD))
            # (field ownership moves only for changed values, so leaseDurationSeconds stays client-go's here;
            # test_facades checks that a Lease we create is owned by us field for field)
            assert owned_spec_fields(ours, "zen-lead") >= SPEC_FIELDS - {"leaseDurationSeconds"}
            assert spec["leaseTransitions"] >= last_go["leaseTransitions"] + 1
            assert took_over["token"] == spec["leaseTransitions"]
            history = [c for c in watch.changes if c.holder in ("go-1", "py-1")]
            last_renewal_by_go = [c for c in history if c.holder == "go-1"][-1].spec["renewTime"]
            assert (wall(spec["acquireTime"]) - wall(last_renewal_by_go)).total_seconds() >= LD

            # -- ours renews like client-go: acquireTime fixed, renewTime moving ---------------------
            await asyncio.sleep(RP * 3)
            renewed = (await raw_lease(aclient, namespace))["spec"]
            assert renewed["acquireTime"] == spec["acquireTime"]
            assert wall(renewed["renewTime"]) > wall(spec["renewTime"])
            assert renewed["leaseTransitions"] == spec["leaseTransitions"]

            # -- client-go honours ours: sees us, does not take over while we renew ------------------
            go2 = await go_candidate(goelector, "go-2", cluster=cluster, namespace=namespace, logs=logs)
            procs.append(go2)
            await go2.wait_for("new leader observed", within=30, where=lambda e: e["leader"] == "py-1")
            await asyncio.sleep(LD + 1)
            assert not go2.named("became leader")

            # -- we release: client-go takes over at its next (jittered) retry -----------------------
            stopped_at = py1.signal(signal.SIGTERM)
            assert await py1.exited(within=10) == 0
            await go2.wait_for("became leader", after=stopped_at, within=10)
            after = await raw_lease(aclient, namespace)
            assert after["spec"]["holderIdentity"] == "go-2"
            assert after["spec"]["leaseTransitions"] == spec["leaseTransitions"] + 1  # client-go counted it
            # client-go read our release record as free: it took the Lease at its next jittered retry
            # (within RP x (1 + 1.2) = 1.1 s), not after our lease would have run out
            await watch.wait_for(lambda c: c.holder == "go-2", within=5)
            assert_handed_over_by_release(watch.changes, old="py-1", new="go-2", lease_duration=LD)

            assert assert_lawful_history(watch.changes, lease_duration=LD) >= 1  # py-1's takeover from go-1
        finally:
            for proc in procs:
                await proc.kill()
