"""The synchronous facade, the read-only queries, and the examples, on the real cluster."""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from lightkube import AsyncClient, Client
from lightkube.models.meta_v1 import ObjectMeta

from tests.cluster.election.checks import SPEC_FIELDS, assert_client_go_shape, owned_spec_fields
from tests.cluster.election.harness import LD, RD, RP, RawLease
from zen_lead.election import LeaseRef, SyncLeaderElector, SyncLeadership, Timing, current_leader, is_leader
from zen_lead.kube.client import ApiClient
from zen_lead.kube.times import format_microtime
from zen_lead.localcluster import ClusterInfo

pytestmark = pytest.mark.cluster
EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def test_sync_facade_leads_in_a_thread_and_releases_after_the_work_returned(
    cluster: ClusterInfo, namespace: str, kube: Client
) -> None:
    steps: list[str] = []
    work_thread: list[str] = []

    def work(leadership: SyncLeadership) -> None:
        work_thread.append(threading.current_thread().name)
        while not leadership.wait_lost(0.05):
            leadership.check()
        steps.append("work returned")
        time.sleep(0.3)  # a slow drain: the release must wait for it

    elector = SyncLeaderElector(
        LeaseRef("sync", namespace, kubeconfig=cluster.kubeconfig),
        identity="sync-1",
        timing=Timing(lease_duration=LD, renew_deadline=RD, retry_period=RP),
        on_started_leading=work,
        on_stopped_leading=lambda: steps.append("stopped leading"),
    )
    with elector:
        assert elector.wait_until_leader(timeout=20)
        assert elector.is_leader()
        token = elector.fencing_token()
        assert token is not None
        lease = dict(kube.get(RawLease, "sync", namespace=namespace))
        assert_client_go_shape(lease["spec"], holder="sync-1", lease_duration=int(LD))
        assert owned_spec_fields(lease, "zen-lead") == SPEC_FIELDS  # a Lease we create: every field is ours
        assert lease["spec"]["leaseTransitions"] == token.transitions
    assert steps == ["work returned", "stopped leading"]
    assert work_thread[0] != threading.main_thread().name
    assert not elector.is_leader()
    released = dict(kube.get(RawLease, "sync", namespace=namespace))["spec"]
    assert released["holderIdentity"] == ""
    assert released["leaseDurationSeconds"] == 1


async def test_queries_answer_for_missing_held_released_and_expired_leases(
    namespace: str, aclient: AsyncClient, api: ApiClient
) -> None:
    assert await current_leader(LeaseRef("nobody", namespace, client=api)) is None
    assert await is_leader(LeaseRef("nobody", namespace, client=api), "x") is False

    now = datetime.now(UTC)

    def lease(name: str, holder: str, renewed: datetime) -> RawLease:
        return RawLease(
            apiVersion="coordination.k8s.io/v1",
            kind="Lease",
            metadata=ObjectMeta(name=name, namespace=namespace).to_dict(),
            spec={
                "holderIdentity": holder,
                "leaseDurationSeconds": 15,
                "acquireTime": format_microtime(renewed),
                "renewTime": format_microtime(renewed),
                "leaseTransitions": 3,
            },
        )

    await aclient.create(lease("fresh", "alive", now))
    await aclient.create(lease("stale", "ghost", now - timedelta(hours=1)))
    await aclient.create(lease("free", "", now))
    assert await current_leader(LeaseRef("fresh", namespace, client=api)) == "alive"
    assert await is_leader(LeaseRef("fresh", namespace, client=api), "alive")
    assert not await is_leader(LeaseRef("fresh", namespace, client=api), "someone-else")
    assert await current_leader(LeaseRef("stale", namespace, client=api)) is None
    assert await current_leader(LeaseRef("free", namespace, client=api)) is None

    # the cache: a change is not seen before max_age has passed, and is seen after
    await aclient.patch(RawLease, "fresh", {"spec": {"holderIdentity": "successor"}}, namespace=namespace)
    assert await current_leader(LeaseRef("fresh", namespace, client=api), max_age=60) == "alive"
    assert await current_leader(LeaseRef("fresh", namespace, client=api), max_age=0) == "successor"


@pytest.mark.parametrize(
    ("script", "extra", "first", "others"),
    [
        ("exclusive_cron.py", ["--period", "2024-05-06"], "ran 2024-05-06", "skipped"),
        ("expensive_operation.py", ["--version", "7"], "computed", "reused"),
    ],
)
async def test_examples_run_once_among_concurrent_replicas(
    cluster: ClusterInfo, namespace: str, script: str, extra: list[str], first: str, others: str
) -> None:
    args = ["--kubeconfig", str(cluster.kubeconfig), "--namespace", namespace, *extra]
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            str(EXAMPLES / script),
            *args,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        for _ in range(3)
    ]
    results = [await proc.communicate() for proc in procs]
    assert all(proc.returncode == 0 for proc in procs), [err.decode() for _, err in results]
    lines = sorted(out.decode().strip() for out, _ in results)
    assert sum(line.startswith(first) for line in lines) == 1, lines
    assert sum(line.startswith(others) for line in lines) == 2, lines
