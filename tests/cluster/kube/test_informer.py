"""The informer against the real apiserver: an expired watch (410 Gone) loses no deletion."""

from __future__ import annotations

import asyncio

import pytest
from lightkube import Client
from lightkube.resources.core_v1 import Service as ServiceResource

from tests.support.workload import service
from zen_lead.kube.client import ApiClient
from zen_lead.kube.informer import Change, Informer
from zen_lead.kube.structs import Service
from zen_lead.localcluster import ClusterInfo
from zen_lead.observability.metrics import WATCH_RESTARTS

pytestmark = pytest.mark.cluster


async def test_relist_after_410_delivers_deletions_made_during_the_gap(
    cluster: ClusterInfo, kube: Client, namespace: str
) -> None:
    for name in ("keep", "doomed"):
        kube.create(service(name, namespace, selector={"app": name}))
    client = ApiClient.from_kubeconfig(cluster.kubeconfig)
    seen: list[tuple[Change, str]] = []
    settled = asyncio.Event()

    def record(change: Change, old: Service | None, new: Service | None) -> None:
        changed = new or old
        assert changed is not None
        seen.append((change, changed.metadata.name))
        if (Change.DELETED, "doomed") in seen and (Change.ADDED, "born") in seen:
            settled.set()

    informer = Informer(
        client,
        resource="services",
        path=f"/api/v1/namespaces/{namespace}/services",
        kind=Service,
        handlers=[record],
    )
    try:
        task = asyncio.create_task(informer.run())
        await asyncio.wait_for(informer.synced.wait(), 10)
        task.cancel()  # the watch is gone: what happens now is only learnt by relisting
        assert sorted(informer.cache) == [f"{namespace}/doomed", f"{namespace}/keep"]
        kube.delete(ServiceResource, "doomed", namespace=namespace)
        kube.create(service("born", namespace, selector={"app": "born"}))
        informer.resource_version = "1"  # long compacted: the apiserver answers 410 Gone
        expired_before = WATCH_RESTARTS.labels("services", "expired")._value.get()
        seen.clear()
        task = asyncio.create_task(informer.run())

        await asyncio.wait_for(settled.wait(), 15)
        task.cancel()
        assert WATCH_RESTARTS.labels("services", "expired")._value.get() == expired_before + 1
        assert sorted(informer.cache) == [f"{namespace}/born", f"{namespace}/keep"]
        assert (Change.DELETED, "keep") not in seen
    finally:
        await client.aclose()
