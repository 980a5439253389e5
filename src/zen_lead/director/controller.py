"""The Service director's shell: informers -> handlers -> work queue -> workers -> reconcile.

Informers (list + watch) over Services, Pods, zen-lead's own EndpointSlices (label-selected) and, when
permitted, Nodes (for endpoint zones) keep slim caches. Handlers turn changes into queue keys
(``namespace/source-service``) — failover lane when the changed pod currently leads a Service, or when
a Service has no leader — and workers reconcile keys concurrently (bounded by ``workers``; each
in-flight call has a pooled connection of its own, see ``kube.client``). The reconcile itself lives in
``reconcile.py``; everything it decides comes from the pure ``director.core``.

Writes only happen while ``run_workers`` runs, i.e. while this replica leads: informers run on standby
replicas too, so a new leader starts with warm caches and its first pass writes only differences.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from zen_lead.constants import (
    ENDPOINTSLICE_MANAGED_BY_VALUE,
    LABEL_ENDPOINTSLICE_MANAGED_BY,
    LABEL_SERVICE_NAME,
    LABEL_SOURCE_SERVICE,
)
from zen_lead.director.core import is_leader_service, mentions_zen_lead
from zen_lead.director.events import EventRecorder
from zen_lead.director.index import LabelIndex, LeaderIndex, OwnedIndex, SelectorIndex
from zen_lead.director.reconcile import LeadershipLost, Reconciler
from zen_lead.director.scope import ScopedInformers
from zen_lead.kube.client import ApiClient, use_lane
from zen_lead.kube.errors import ApiError
from zen_lead.kube.informer import Change, object_key
from zen_lead.kube.ratelimit import Lane
from zen_lead.kube.structs import EndpointSlice, Node, Pod, Service
from zen_lead.observability.metrics import FAILOVER_LATENCY, RECONCILE_DURATION, RECONCILE_ERRORS
from zen_lead.workqueue import WorkQueue

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DirectorOptions:
    namespaces: list[str] | None  # None: all namespaces
    workers: int = 64
    node_zones: bool = True


def _pod_signature(pod: Pod | None) -> tuple[Any, ...] | None:
    """The fields of a pod that can change a decision; other updates (e.g. unrelated status) are ignored."""
    if pod is None:
        return None
    status = pod.status
    return (
        pod.metadata.uid,
        pod.metadata.deletion_timestamp,
        pod.metadata.labels,
        pod.spec.node_name,
        pod.spec.containers,
        pod.spec.init_containers,
        status.phase,
        status.pod_ip,
        status.pod_i_ps,
        tuple(c for c in status.conditions if c.type == "Ready"),
    )


class Director:
    def __init__(self, client: ApiClient, events: EventRecorder, options: DirectorOptions) -> None:
        self.client = client
        self.options = options
        self.queue: WorkQueue[str] = WorkQueue()
        self.pod_index = LabelIndex()
        self.selector_index = SelectorIndex()
        self.leader_index = LeaderIndex()
        self.leader_services = OwnedIndex()
        self.slices_by_service = OwnedIndex()
        namespaces = options.namespaces
        self.services: ScopedInformers[Service] = ScopedInformers(
            client,
            api="v1",
            plural="services",
            kind=Service,
            namespaces=namespaces,
            handlers=[self._on_service],
        )
        self.pods: ScopedInformers[Pod] = ScopedInformers(
            client,
            api="v1",
            plural="pods",
            kind=Pod,
            namespaces=namespaces,
            handlers=[self._on_pod],
        )
        self.slices: ScopedInformers[EndpointSlice] = ScopedInformers(
            client,
            api="discovery.k8s.io/v1",
            plural="endpointslices",
            kind=EndpointSlice,
            namespaces=namespaces,
            label_selector=f"{LABEL_ENDPOINTSLICE_MANAGED_BY}={ENDPOINTSLICE_MANAGED_BY_VALUE}",
            handlers=[self._on_slice],
        )
        self.nodes: ScopedInformers[Node] | None = (
            ScopedInformers(client, api="v1", plural="nodes", kind=Node, namespaces=None)
            if options.node_zones
            else None
        )
        self.reconciler = Reconciler(
            client=client,
            events=events,
            services=self.services,
            slices=self.slices,
            nodes=self.nodes,
            pod_index=self.pod_index,
            leader_services=self.leader_services,
            slices_by_service=self.slices_by_service,
        )

    # ---- lifecycle ----------------------------------------------------------------------------
    def start_informers(self, group: asyncio.TaskGroup) -> None:
        for informers in (self.services, self.pods, self.slices, self.nodes):
            if informers is not None:
                informers.run_tasks(group)

    @property
    def synced(self) -> bool:
        return all(i.synced for i in (self.services, self.pods, self.slices, self.nodes) if i is not None)

    async def wait_synced(self) -> None:
        for informers in (self.services, self.pods, self.slices, self.nodes):
            if informers is not None:
                await informers.wait_synced()

    async def run_workers(self, may_write: Callable[[], bool] | None = None) -> None:
        """Reconcile until cancelled (leadership lost or shutdown). Starts with a full pass.

        ``may_write`` (the leadership fence) is checked before every write: a replica whose tenure has
        ended never writes, even before the cancellation of its workers has been delivered."""
        self.reconciler.may_write = may_write or (lambda: True)
        await self.wait_synced()
        self.enqueue_all()
        async with asyncio.TaskGroup() as group:
            for index in range(self.options.workers):
                group.create_task(self._worker(), name=f"worker-{index}")

    def enqueue_all(self) -> None:
        """Every opted-in source, and every source our objects name (orphans are swept this way)."""
        for service in self.services.items():
            meta = service.metadata
            if is_leader_service(service):
                source = meta.labels.get(LABEL_SOURCE_SERVICE)
                if source:
                    self.queue.add(object_key(meta.namespace, source))
            elif mentions_zen_lead(meta.annotations):
                self.queue.add(object_key(meta.namespace, meta.name))
        for slice_ in self.slices.items():
            source = slice_.metadata.labels.get(LABEL_SOURCE_SERVICE)
            if source:
                self.queue.add(object_key(slice_.metadata.namespace, source))

    async def _worker(self) -> None:
        while True:
            item = await self.queue.get()
            started = time.monotonic()
            try:
                with use_lane(item.lane):
                    outcome = await self.reconciler.reconcile(item.key, urgent=item.lane is Lane.FAILOVER)
            except (ApiError, OSError, LeadershipLost) as error:
                RECONCILE_ERRORS.labels(item.key.partition("/")[0]).inc()
                log.warning("reconcile failed, retrying", extra={"key": item.key, "error": str(error)})
                self.queue.retry(item.key, item.lane)
            except Exception:
                RECONCILE_ERRORS.labels(item.key.partition("/")[0]).inc()
                log.exception("reconcile crashed, retrying", extra={"key": item.key})
                self.queue.retry(item.key, item.lane)
            else:
                log.debug(
                    "reconciled",
                    extra={
                        "key": item.key,
                        "lane": item.lane.name.lower(),
                        "leader_changed": outcome.leader_changed,
                        "requeue_after": outcome.requeue_after,
                    },
                )
                self.queue.forget(item.key)
                if outcome.routed_at is not None and outcome.leader_changed:
                    FAILOVER_LATENCY.labels(item.key.partition("/")[0]).observe(
                        outcome.routed_at - item.since
                    )
                if outcome.deferred:
                    self.queue.add(item.key, Lane.ROUTINE)  # marked dirty: runs after the failovers
                if outcome.requeue_after is not None:
                    self.queue.add_after(item.key, outcome.requeue_after)
                else:
                    self.queue.cancel_delayed(item.key)
            finally:
                RECONCILE_DURATION.observe(time.monotonic() - started)
                self.queue.done(item.key)
            # A reconcile that writes nothing never suspends, and ``get`` returns at once while keys
            # are queued: without this, one worker would drain the whole queue in a single stall of
            # the event loop (watches, Lease renewals and probes waiting meanwhile).
            await asyncio.sleep(0)

    # ---- event handlers (synchronous, quick) --------------------------------------------------
    def _on_service(self, change: Change, old: Service | None, new: Service | None) -> None:
        service = new or old
        assert service is not None
        meta = service.metadata
        for version in (old, new):
            if version is not None and is_leader_service(version):
                source = version.metadata.labels.get(LABEL_SOURCE_SERVICE)
                if source:
                    self.leader_services.remove(meta.namespace, source, meta.name)
        if new is not None and is_leader_service(new) and new.metadata.labels.get(LABEL_SOURCE_SERVICE):
            self.leader_services.add(meta.namespace, new.metadata.labels[LABEL_SOURCE_SERVICE], meta.name)
        if is_leader_service(service):
            source = meta.labels.get(LABEL_SOURCE_SERVICE)
            if source:  # someone changed or deleted our leader Service: repair (urgent when deleted)
                lane = Lane.FAILOVER if change is Change.DELETED else Lane.ROUTINE
                self.queue.add(object_key(meta.namespace, source), lane)
            return
        key = object_key(meta.namespace, meta.name)
        relevant = (new is not None and mentions_zen_lead(new.metadata.annotations)) or (
            old is not None and mentions_zen_lead(old.metadata.annotations)
        )
        if new is not None and relevant:
            self.selector_index.upsert(key, meta.namespace, new.spec.selector)
        else:
            self.selector_index.remove(key)
        if relevant:
            self.queue.add(key)
        for blocked in self.reconciler.sources_blocked_by(meta.namespace, meta.name):
            self.queue.add(blocked)

    def _on_pod(self, change: Change, old: Pod | None, new: Pod | None) -> None:
        pod = new or old
        assert pod is not None
        key = object_key(pod.metadata.namespace, pod.metadata.name)
        if new is None:
            self.pod_index.remove(key)
        else:
            self.pod_index.upsert(key, new)
        if change is Change.MODIFIED and _pod_signature(old) == _pod_signature(new):
            return
        namespace = pod.metadata.namespace
        sources: set[str] = set()
        for version in (old, new):
            if version is not None:
                sources |= self.selector_index.sources_for(namespace, version.metadata.labels)
        led = self.leader_index.sources_led_by(pod.metadata.uid)
        for source in sources | led:
            urgent = source in led or self.reconciler.is_leaderless(source)
            self.queue.add(source, Lane.FAILOVER if urgent else Lane.ROUTINE)

    def _on_slice(self, change: Change, old: EndpointSlice | None, new: EndpointSlice | None) -> None:
        slice_ = new or old
        assert slice_ is not None
        meta = slice_.metadata
        slice_key = object_key(meta.namespace, meta.name)
        source = meta.labels.get(LABEL_SOURCE_SERVICE)
        for version in (old, new):
            if version is not None and LABEL_SERVICE_NAME in version.metadata.labels:
                self.slices_by_service.remove(
                    meta.namespace, version.metadata.labels[LABEL_SERVICE_NAME], meta.name
                )
        if new is not None and LABEL_SERVICE_NAME in new.metadata.labels:
            self.slices_by_service.add(meta.namespace, new.metadata.labels[LABEL_SERVICE_NAME], meta.name)
        if new is None or source is None:
            self.leader_index.remove_slice(slice_key)
        else:
            uids = [ep.target_ref.uid for ep in new.endpoints or () if ep.target_ref is not None]
            self.leader_index.update_slice(slice_key, object_key(meta.namespace, source), uids)
        if source is not None and (change is Change.DELETED or not self.reconciler.wrote(new)):
            lane = Lane.FAILOVER if change is Change.DELETED else Lane.ROUTINE
            self.queue.add(object_key(meta.namespace, source), lane)
