"""``zen_lead.pools.role`` / ``is_leader`` for members, on the real cluster: the answer is the pool's
Lease (the same pod and term the status shows), for every member, and it follows a failover."""

from __future__ import annotations

import asyncio

import pytest
from lightkube import Client

from tests.cluster.pools.conftest import members, policy
from tests.cluster.pools.test_pools import agreed_leader, member_pods
from tests.support.controller import ControllerProcess
from tests.support.workload import set_pod_ready
from zen_lead.localcluster import ClusterInfo
from zen_lead.pools import is_leader_sync, role

pytestmark = pytest.mark.cluster


def test_every_member_reads_the_leader_and_the_term_from_the_lease(
    kube: Client, cluster: ClusterInfo, namespace: str, pools_controller: ControllerProcess
) -> None:
    kube.create(policy("pool", namespace))
    kube.create(members("db", namespace, pool="pool", replicas=3))
    first = agreed_leader(kube, namespace)
    names = [p.metadata.name for p in member_pods(kube, namespace)]

    async def ask() -> dict[str, tuple[bool, int | None]]:
        answers = await asyncio.gather(
            *(
                role("pool", pod=n, namespace=namespace, kubeconfig=cluster.kubeconfig, max_age=0)
                for n in names
            )
        )
        return {a.pod: (a.is_leader, a.term) for a in answers}

    leader = first["leader"]["pod"]
    assert asyncio.run(ask()) == {n: (n == leader, first["term"]) for n in names}
    assert is_leader_sync("pool", pod=leader, namespace=namespace, kubeconfig=cluster.kubeconfig)

    set_pod_ready(kube, leader, namespace, ready=False)
    second = agreed_leader(kube, namespace, not_in=frozenset({leader}))
    new = second["leader"]["pod"]
    assert asyncio.run(ask()) == {n: (n == new, second["term"]) for n in names}
    assert not is_leader_sync(
        "pool", pod=leader, namespace=namespace, kubeconfig=cluster.kubeconfig, max_age=0
    )
