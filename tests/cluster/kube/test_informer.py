"""The informer against the real apiserver: an expired watch (410 Gone) loses no deletion; the list is
read in pages; bookmarks move the resume point; a broken or silent stream resumes from where it was.

The watch expires for real: the test compacts etcd past the informer's resourceVersion, and the
resource (PodTemplates) is one the local cluster serves without a watch cache, so the apiserver's
answer to a watch from that version is 410 Gone at once, whatever the age of the cluster. The
informer is generic over resources; PodTemplates are a resource nothing else in the cluster touches.
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import msgspec
import pytest
import yaml  # type: ignore[import-untyped]  # PyYAML comes with lightkube; no stubs installed
from lightkube import Client
from lightkube.models.core_v1 import Container, PodSpec, PodTemplateSpec
from lightkube.models.meta_v1 import ObjectMeta as MetaModel
from lightkube.resources.core_v1 import ConfigMap, PodTemplate

from tests.support.proxy import Relay
from zen_lead.kube.client import ApiClient
from zen_lead.kube.informer import Change, Informer
from zen_lead.kube.metrics import API_REQUESTS, WATCH_RESTARTS
from zen_lead.kube.resources import Resource
from zen_lead.kube.structs import ObjectMeta
from zen_lead.localcluster import ClusterInfo
from zen_lead.localcluster.state import load_layout

pytestmark = pytest.mark.cluster


class Template(msgspec.Struct, rename="camel"):
    metadata: ObjectMeta = ObjectMeta()


PODTEMPLATES = Resource("", "v1", "podtemplates", "PodTemplate", True, Template)
CONFIGMAPS = Resource("", "v1", "configmaps", "ConfigMap", True, Template)


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


# ---- paging, bookmarks, a broken and a silent stream ---------------------------------------------------
def requests_made(verb: str, resource: str) -> float:
    """This process's requests of ``verb`` on ``resource`` (the client's own counter, any code)."""
    return sum(
        sample.value
        for metric in API_REQUESTS.collect()
        for sample in metric.samples
        if sample.name == "zen_lead_api_requests_total"
        and sample.labels["verb"] == verb
        and sample.labels["resource"] == resource
    )


def templates_informer(
    client: ApiClient, namespace: str, seen: list[tuple[Change, str]], **kwargs: Any
) -> Informer[Template]:
    def record(change: Change, old: Template | None, new: Template | None) -> None:
        changed = new or old
        assert changed is not None
        seen.append((change, changed.metadata.name))

    return Informer(client, PODTEMPLATES, namespace=namespace, handlers=[record], **kwargs)


async def until(check: Callable[[], bool], *, within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within}s waiting for {what}")
        await asyncio.sleep(0.05)


async def test_the_list_is_read_in_pages_and_every_page_is_cached(
    cluster: ClusterInfo, kube: Client, namespace: str
) -> None:
    names = [f"t{index}" for index in range(5)]
    for name in names:
        kube.create(template(name, namespace))
    client = ApiClient.from_kubeconfig(cluster.kubeconfig)
    seen: list[tuple[Change, str]] = []
    informer = templates_informer(client, namespace, seen, page_size=2)
    lists_before = requests_made("list", "podtemplates")
    task = asyncio.create_task(informer.run())
    try:
        await asyncio.wait_for(informer.synced.wait(), 10)
        assert requests_made("list", "podtemplates") - lists_before == 3  # pages of 2, 2 and 1
        assert sorted(informer.cache) == [f"{namespace}/{name}" for name in names]
        assert sorted(seen) == [(Change.ADDED, name) for name in names]
    finally:
        task.cancel()
        await client.aclose()


async def test_bookmarks_move_the_resume_point_of_a_quiet_stream(
    cluster: ClusterInfo, kube: Client, namespace: str
) -> None:
    """Nothing changes in the watched namespace while a ConfigMap changes in another: the informer's
    watch delivers no event, but the apiserver's bookmark — sent shortly before the watch's timeout
    (3-6 s here) — carries the newer resourceVersion, so a restarted watch resumes from there, not from
    the list's ever older one. ConfigMaps, not PodTemplates: bookmarks come from the watch cache, which
    PodTemplates lack here."""
    # the namespace's root CA ConfigMap, which kube-controller-manager adds to every new namespace a
    # moment after it is made: there before the informer lists, so that nothing changes after that
    await until(
        lambda: any(True for _ in kube.list(ConfigMap, namespace=namespace)),
        within=30,
        what="kube-root-ca.crt",
    )
    client = ApiClient.from_kubeconfig(cluster.kubeconfig)
    changes: list[Change] = []
    informer: Informer[Template] = Informer(
        client,
        CONFIGMAPS,
        namespace=namespace,
        watch_timeout=3,
        handlers=[lambda change, old, new: changes.append(change)],
    )
    task = asyncio.create_task(informer.run())
    elsewhere = f"zl-bookmark-{namespace}"[:63]
    try:
        await asyncio.wait_for(informer.synced.wait(), 10)
        changes.clear()  # the list's ADDED (the namespace's root CA ConfigMap)
        written = kube.create(ConfigMap(metadata=MetaModel(name=elsewhere, namespace="default")))
        assert written.metadata is not None
        assert written.metadata.resourceVersion is not None
        later = int(written.metadata.resourceVersion)
        await until(lambda: int(informer.resource_version) >= later, within=30, what="a bookmark")
        assert changes == []  # nothing changed here: the resume point moved on a bookmark
    finally:
        task.cancel()
        await client.aclose()
        kube.delete(ConfigMap, elsewhere, namespace="default")


async def test_a_broken_or_ended_stream_resumes_where_it_was_without_a_relist(
    cluster: ClusterInfo, kube: Client, namespace: str, tmp_path: Path
) -> None:
    kube.create(template("first", namespace))
    upstream = urlsplit(yaml.safe_load(cluster.kubeconfig.read_text())["clusters"][0]["cluster"]["server"])
    async with Relay(upstream.hostname or "127.0.0.1", upstream.port or 443) as relay:
        client = ApiClient.from_kubeconfig(
            relay.kubeconfig(cluster.kubeconfig, tmp_path / "relay.kubeconfig")
        )
        seen: list[tuple[Change, str]] = []
        informer = templates_informer(client, namespace, seen, watch_timeout=1)
        task = asyncio.create_task(informer.run())
        try:
            await asyncio.wait_for(informer.synced.wait(), 10)
            lists = requests_made("list", "podtemplates")
            relay.reset()  # the watch stream ends mid-flight (seen as its end, or as a broken connection)
            kube.create(template("second", namespace))  # made while it may be reconnecting
            await until(
                lambda: (Change.ADDED, "second") in seen, within=15, what="the change after the break"
            )
            # The apiserver ends every watch of this informer after timeoutSeconds (1 or 2 s): past that,
            # at least one stream has also ended the ordinary way, and been resumed.
            await asyncio.sleep(2.5)
            kube.create(template("third", namespace))
            await until(lambda: (Change.ADDED, "third") in seen, within=15, what="the change after a timeout")
            assert requests_made("list", "podtemplates") == lists  # resumed from its resourceVersion
            assert seen.count((Change.ADDED, "first")) == 1  # nothing replayed
        finally:
            task.cancel()
            await client.aclose()


async def test_a_silent_stream_is_ended_by_the_read_timeout_and_resumed(
    cluster: ClusterInfo, kube: Client, namespace: str, tmp_path: Path
) -> None:
    """A watch whose connection stays open but delivers nothing (a dead peer, a stuck middlebox) is
    detected by the read timeout — the request's timeoutSeconds plus 30 s, so about 31-32 s here
    (watch_timeout=1) — and restarted from the last resourceVersion; what happened meanwhile arrives."""
    upstream = urlsplit(yaml.safe_load(cluster.kubeconfig.read_text())["clusters"][0]["cluster"]["server"])
    async with Relay(upstream.hostname or "127.0.0.1", upstream.port or 443) as relay:
        client = ApiClient.from_kubeconfig(
            relay.kubeconfig(cluster.kubeconfig, tmp_path / "relay.kubeconfig")
        )
        seen: list[tuple[Change, str]] = []
        informer = templates_informer(client, namespace, seen, watch_timeout=1)
        task = asyncio.create_task(informer.run())
        try:
            await asyncio.wait_for(informer.synced.wait(), 10)
            lists = requests_made("list", "podtemplates")
            timeouts = WATCH_RESTARTS.labels("podtemplates", "timeout")._value.get()
            relay.freeze()  # the open watch goes silent; the apiserver's own end of it never arrives
            kube.create(template("meanwhile", namespace))
            await until(
                lambda: WATCH_RESTARTS.labels("podtemplates", "timeout")._value.get() > timeouts,
                within=60,  # a hang guard around the 31-32 s the read timeout takes
                what="the read timeout",
            )
            relay.thaw()  # pooled connections frozen with it may be reused now
            await until(
                lambda: (Change.ADDED, "meanwhile") in seen, within=15, what="the change made meanwhile"
            )
            assert requests_made("list", "podtemplates") == lists  # resumed, not relisted
        finally:
            relay.thaw()
            task.cancel()
            await client.aclose()
