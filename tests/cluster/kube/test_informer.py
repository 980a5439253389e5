"""The informer against the real apiserver: an expired watch (410 Gone) loses no deletion.

The watch expires for real: the test compacts etcd past the informer's resourceVersion, and the
resource (PodTemplates) is one the local cluster serves without a watch cache, so the apiserver's
answer to a watch from that version is 410 Gone at once, whatever the age of the cluster. The
informer is generic over resources; PodTemplates are a resource nothing else in the cluster touches.
"""

from __future__ import annotations

import asyncio
import json
import urllib.request

import msgspec
import pytest
from lightkube import Client
from lightkube.models.core_v1 import Container, PodSpec, PodTemplateSpec
from lightkube.models.meta_v1 import ObjectMeta as MetaModel
from lightkube.resources.core_v1 import PodTemplate

from zen_lead.kube.client import ApiClient
from zen_lead.kube.informer import Change, Informer
from zen_lead.kube.metrics import WATCH_RESTARTS
from zen_lead.kube.resources import Resource
from zen_lead.kube.structs import ObjectMeta
from zen_lead.localcluster import ClusterInfo
from zen_lead.localcluster.state import load_layout

pytestmark = pytest.mark.cluster


class Template(msgspec.Struct, rename="camel"):
    metadata: ObjectMeta = ObjectMeta()


PODTEMPLATES = Resource("", "v1", "podtemplates", "PodTemplate", True, Template)


def template(name: str, namespace: str) -> PodTemplate:
    spec = PodSpec(containers=[Container(name="app", image="app")])
    return PodTemplate(
        metadata=MetaModel(name=name, namespace=namespace), template=PodTemplateSpec(spec=spec)
    )


def compact_etcd(cluster: ClusterInfo, revision: int) -> None:
    """Compact etcd's history up to ``revision`` through its HTTP gateway (the local etcd is loopback)."""
    port = load_layout(cluster.state).etcd_client_port
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/v3/kv/compaction",
        data=json.dumps({"revision": str(revision), "physical": True}).encode(),
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200


async def test_relist_after_410_delivers_deletions_made_during_the_gap(
    cluster: ClusterInfo, kube: Client, namespace: str
) -> None:
    for name in ("keep", "doomed"):
        kube.create(template(name, namespace))
    client = ApiClient.from_kubeconfig(cluster.kubeconfig)
    seen: list[tuple[Change, str]] = []
    settled = asyncio.Event()

    def record(change: Change, old: Template | None, new: Template | None) -> None:
        changed = new or old
        assert changed is not None
        seen.append((change, changed.metadata.name))
        if (Change.DELETED, "doomed") in seen and (Change.ADDED, "born") in seen:
            settled.set()

    informer = Informer(client, PODTEMPLATES, namespace=namespace, handlers=[record])
    try:
        task = asyncio.create_task(informer.run())
        await asyncio.wait_for(informer.synced.wait(), 10)
        task.cancel()  # the watch is gone: what happens now is only learnt by relisting
        assert sorted(informer.cache) == [f"{namespace}/doomed", f"{namespace}/keep"]
        listed_at = int(informer.resource_version)
        kube.delete(PodTemplate, "doomed", namespace=namespace)
        born = kube.create(template("born", namespace))
        assert born.metadata is not None
        assert born.metadata.resourceVersion is not None
        compact_etcd(cluster, int(born.metadata.resourceVersion))  # the gap is gone from history
        assert int(informer.resource_version) == listed_at  # resumes from before the gap
        expired_before = WATCH_RESTARTS.labels("podtemplates", "expired")._value.get()
        seen.clear()
        task = asyncio.create_task(informer.run())

        await asyncio.wait_for(settled.wait(), 15)
        task.cancel()
        assert WATCH_RESTARTS.labels("podtemplates", "expired")._value.get() == expired_before + 1
        assert sorted(informer.cache) == [f"{namespace}/born", f"{namespace}/keep"]
        assert (Change.DELETED, "keep") not in seen
    finally:
        await client.aclose()
