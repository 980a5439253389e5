"""The shared informer cache on the real apiserver: one list+watch however many ask, late handlers
replayed, and a resource that is not served (a CRD not installed) said plainly, without a hot loop,
and picked up once it is installed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import msgspec
import pytest
from lightkube import Client
from lightkube.models.apiextensions_v1 import (
    CustomResourceDefinitionNames,
    CustomResourceDefinitionSpec,
    CustomResourceDefinitionVersion,
    CustomResourceValidation,
    JSONSchemaProps,
)
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.apiextensions_v1 import CustomResourceDefinition
from lightkube.resources.core_v1 import Pod

from tests.support.wait import eventually
from tests.support.workload import deployment
from zen_lead.kube.client import ApiClient
from zen_lead.kube.informer import Change
from zen_lead.kube.metrics import API_REQUESTS
from zen_lead.kube.resources import PODS, Resource
from zen_lead.kube.structs import ObjectMeta as Meta
from zen_lead.localcluster import ClusterInfo
from zen_lead.runtime.cache import InformerCache

pytestmark = pytest.mark.cluster


class Widget(msgspec.Struct, rename="camel"):
    metadata: Meta = Meta()


@pytest.fixture
async def api(cluster: ClusterInfo) -> AsyncIterator[ApiClient]:
    client = ApiClient.from_kubeconfig(cluster.kubeconfig)
    yield client
    await client.aclose()


async def until(check: Callable[[], bool], what: str, within: float = 30) -> None:
    try:
        async with asyncio.timeout(within):
            while not check():  # noqa: ASYNC110 - the test observes from outside, bounded
                await asyncio.sleep(0.05)
    except TimeoutError:
        raise AssertionError(f"timed out after {within}s waiting for {what}") from None


async def test_every_component_shares_one_list_and_watch_and_late_handlers_are_replayed(
    api: ApiClient, kube: Client, namespace: str
) -> None:
    kube.create(deployment("db", namespace, replicas=2))
    eventually(lambda: len(list(kube.list(Pod, namespace=namespace))) == 2, what="2 pods")
    cache = InformerCache(api, namespaces=[namespace])
    first, second = cache.informer(PODS), cache.informer(PODS)
    assert first is second
    early: list[str] = []
    first.add_handler(lambda change, old, new: early.append(new.metadata.name if new else "-"))
    lists = API_REQUESTS.labels("list", "pods", "200")
    before = lists._value.get()
    task = asyncio.create_task(cache.run())
    try:
        await asyncio.wait_for(cache.wait_synced(), 20)
        assert lists._value.get() == before + 1  # one list for both askers
        assert cache.not_ready() == []
        late: list[tuple[Change, str]] = []
        second.add_handler(lambda change, old, new: late.append((change, new.metadata.name)))
        assert sorted(late) == sorted((Change.ADDED, name) for name in early)
        assert len(late) == 2
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_a_resource_that_is_not_served_is_named_not_retried_hot_and_picked_up_when_installed(
    api: ApiClient, kube: Client, namespace: str
) -> None:
    group = f"{namespace}.test.zen-lead.io"
    widgets: Resource[Widget] = Resource(group, "v1", "widgets", "Widget", True, Widget)
    cache = InformerCache(api, namespaces=[namespace])
    cache.informer(widgets)
    missing = API_REQUESTS.labels("list", "widgets", "404")
    before = missing._value.get()
    task = asyncio.create_task(cache.run())
    crd = f"widgets.{group}"
    try:
        await until(lambda: "CustomResourceDefinition installed" in " ".join(cache.not_ready()), "reason")
        assert crd in cache.not_ready()[0]
        await asyncio.sleep(3)
        # jittered backoff from 0.2 s, doubling: at most a handful of lists in 3 s, never a hot loop
        assert missing._value.get() - before <= 8
        assert not cache.synced
        kube.create(
            CustomResourceDefinition(
                metadata=ObjectMeta(name=crd),
                spec=CustomResourceDefinitionSpec(
                    group=group,
                    names=CustomResourceDefinitionNames(kind="Widget", plural="widgets"),
                    scope="Namespaced",
                    versions=[
                        CustomResourceDefinitionVersion(
                            name="v1",
                            served=True,
                            storage=True,
                            schema=CustomResourceValidation(openAPIV3Schema=JSONSchemaProps(type="object")),
                        )
                    ],
                ),
            )
        )
        try:
            await until(lambda: cache.synced, "synced after the CRD was installed", within=60)
            assert cache.not_ready() == []
        finally:
            kube.delete(CustomResourceDefinition, crd)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
