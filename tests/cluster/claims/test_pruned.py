"""A claimant kind whose schema drops the reservation's ``attempt`` nonce cannot be claimed safely
(a restamp would not change it, ``core.steps`` rule 1): the coordinator binds nothing, counts an
error and says which field to declare."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import pytest
from lightkube import Client
from prometheus_client import CollectorRegistry

from tests.cluster.claims.harness import Host, Machine, holdings
from zen_lead.claims import ClaimCoordinator, ClaimCoordinatorOptions, ClaimDescriptor, ClaimMetrics
from zen_lead.kube.client import ApiClient
from zen_lead.kube.resources import Resource
from zen_lead.kube.structs import GenericObject
from zen_lead.localcluster import ClusterInfo

pytestmark = pytest.mark.cluster

GROUP = "metal.example.kube-zen.io"
HOSTS = Resource(GROUP, "v1alpha1", "hosts", "Host", True, GenericObject)
MACHINES = Resource(GROUP, "v1alpha1", "machines", "Machine", True, GenericObject)


@pytest.fixture
async def api(cluster: ClusterInfo) -> AsyncIterator[ApiClient]:
    client = ApiClient.from_kubeconfig(cluster.kubeconfig)
    yield client
    await client.aclose()


async def test_a_reservation_field_the_schema_prunes_is_refused_with_the_field_named(
    api: ApiClient, kube: Client, namespace: str, metal_crds: None, caplog: pytest.LogCaptureFixture
) -> None:
    kube.create(Host(metadata={"name": "h0", "namespace": namespace}, spec={"tags": ["ssd"]}))
    kube.create(Machine(metadata={"name": "m0", "namespace": namespace}, spec={}))
    # status.slotRef is not in the Machine schema: the apiserver drops the whole reservation
    descriptor = ClaimDescriptor(claimable=HOSTS, claimant=MACHINES, reservation_field="status.slotRef")
    metrics = ClaimMetrics(prefix="pruned", registry=CollectorRegistry())
    options = ClaimCoordinatorOptions()
    coordinator = ClaimCoordinator(
        api, descriptor, name="pruned", namespace=namespace, options=options, metrics=metrics
    )
    errors = metrics.results.labels(namespace, "error")
    task = asyncio.create_task(coordinator.run())
    try:
        with caplog.at_level(logging.ERROR, logger="zen_lead.claims"):
            async with asyncio.timeout(30):
                while errors._value.get() < 1:  # noqa: ASYNC110 - observed from outside, bounded
                    await asyncio.sleep(0.05)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert "status.slotRef.attempt of Machine was not stored" in caplog.text
    assert holdings(kube, namespace) == {}
    host = kube.get(Host, "h0", namespace=namespace)
    assert not (host.get("spec") or {}).get("consumerRef"), "no bind without a stored attempt"
    assert metrics.results.labels(namespace, "fallback_claimed")._value.get() == 0
