"""``Tracker``: everything the director knows between reconciles, and which keys a change concerns.

One object, shared one way (as upstream's ``endpointSliceTracker``): the informer handlers feed it
every change and get back the work it implies — ``(source key, lane)`` pairs, which they queue; the
reconciler reads its indexes and tells it what it wrote and decided. Handlers never ask the
reconciler anything, and the reconciler never queues.

What it holds:

- indexes over the caches, so no event costs a scan of a namespace (``director.index``): pods by
  label, source Services by a selector label, pod UID -> the sources it leads (from our observed
  EndpointSlices), leader Services by source, EndpointSlices by leader Service;
- which leader Service name each opted-in source asks for (from its annotations, at every change),
  so that sources asking for the same name can be told apart and a free name goes to the right one
  (``director.core.decision``), and so that a freed name wakes the sources waiting for it;
- the reconciler's memory — never routing state, which is always read from the API objects: the
  resourceVersions of the slices it wrote (so their watch echo needs no reconcile), which sources
  are leaderless, which wait for a leader Service name a foreign Service holds or another source
  has, the standing conditions already told as Events, the opted-in sources per namespace.

Lanes: a change to a pod that leads a source, or to any selected pod of a source without a leader,
is failover work; so is the deletion of one of our leader Services or slices. Everything else is
routine.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from zen_lead.constants import LABEL_SERVICE_NAME, LABEL_SOURCE_SERVICE
from zen_lead.director.core import is_leader_service, mentions_zen_lead, parse_config
from zen_lead.director.index import LabelIndex, LeaderIndex, OwnedIndex, SelectorIndex
from zen_lead.kube.informer import Change
from zen_lead.kube.meta import object_key, split_key
from zen_lead.kube.ratelimit import Lane
from zen_lead.kube.structs import EndpointSlice, Pod, Service

Work = tuple[str, Lane]


def pod_signature(pod: Pod | None) -> tuple[Any, ...] | None:
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
        status.pod_ips,
        tuple(c for c in status.conditions if c.type == "Ready"),
    )


@dataclass(slots=True)
class _Memory:
    written_slices: dict[str, str] = field(default_factory=dict)  # slice key -> resourceVersion we wrote
    leaderless: set[str] = field(default_factory=set)
    blocked_by: dict[tuple[str, str], set[str]] = field(default_factory=dict)  # (ns, name) -> sources
    standing: dict[tuple[str, str], tuple[str, ...]] = field(default_factory=dict)  # (key, topic) -> told
    managed: dict[str, set[str]] = field(default_factory=dict)  # namespace -> opted-in source names
    conflicted: set[str] = field(default_factory=set)  # sources not served: their name is taken


class Tracker:
    def __init__(self) -> None:
        self.pods = LabelIndex()
        self.selectors = SelectorIndex()
        self.leaders = LeaderIndex()
        self.leader_services = OwnedIndex()  # (namespace, source) -> leader Service names
        self.slices_by_service = OwnedIndex()  # (namespace, leader Service) -> slice names
        self._claims: dict[str, str] = {}  # source key -> the leader Service name it asks for
        self._claimants = OwnedIndex()  # (namespace, leader Service name) -> source names asking
        self._memory = _Memory()

    # ---- changes in, work out (the handlers' side) ---------------------------------------------
    def service_changed(self, change: Change, old: Service | None, new: Service | None) -> list[Work]:
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
        waiting = self._waiting_for(meta.namespace, meta.name, change)
        if is_leader_service(service):
            source = meta.labels.get(LABEL_SOURCE_SERVICE)
            if not source:
                return waiting
            # someone changed or deleted our leader Service: repair (urgent when deleted)
            lane = Lane.FAILOVER if change is Change.DELETED else Lane.ROUTINE
            return [(object_key(meta.namespace, source), lane), *waiting]
        key = object_key(meta.namespace, meta.name)
        waiting += self._claim(key, new if new is not None and not is_leader_service(new) else None)
        relevant = (new is not None and mentions_zen_lead(new.metadata.annotations)) or (
            old is not None and mentions_zen_lead(old.metadata.annotations)
        )
        if new is not None and relevant:
            self.selectors.upsert(key, meta.namespace, new.spec.selector)
        else:
            self.selectors.remove(key)
        work: list[Work] = [(key, Lane.ROUTINE)] if relevant else []
        return work + [w for w in waiting if w[0] != key]

    def _waiting_for(self, namespace: str, name: str, change: Change) -> list[Work]:
        """Sources that wait for the Service ``name`` to change (a foreign holder of their name), and,
        when it goes away, every source asking for that name: one of them may have it now."""
        waiting = self._memory.blocked_by.pop((namespace, name), set())
        if change is Change.DELETED:
            waiting |= {object_key(namespace, s) for s in self._claimants.names(namespace, name)}
        return [(source, Lane.ROUTINE) for source in sorted(waiting)]

    def _claim(self, key: str, source: Service | None) -> list[Work]:
        """Record the name ``key`` asks for now (none when gone or not opted in); when that changes,
        the other sources asking for the old name are queued: the name may be theirs now."""
        namespace, name = split_key(key)
        parsed = parse_config(source) if source is not None else None
        wanted = parsed.config.leader_service_name if parsed is not None and parsed.config.enabled else None
        before = self._claims.get(key)
        if wanted == before:
            return []
        if before is not None:
            self._claimants.remove(namespace, before, name)
            del self._claims[key]
        if wanted is not None:
            self._claimants.add(namespace, wanted, name)
            self._claims[key] = wanted
        freed = self._claimants.names(namespace, before) if before is not None else set()
        return [(object_key(namespace, other), Lane.ROUTINE) for other in sorted(freed)]

    def rivals(self, key: str, leader_name: str) -> list[str]:
        """The other sources of ``key``'s namespace asking for the leader Service name ``leader_name``."""
        namespace, name = split_key(key)
        return sorted(other for other in self._claimants.names(namespace, leader_name) if other != name)

    def pod_changed(self, change: Change, old: Pod | None, new: Pod | None) -> list[Work]:
        pod = new or old
        assert pod is not None
        key = object_key(pod.metadata.namespace, pod.metadata.name)
        if new is None:
            self.pods.remove(key)
        else:
            self.pods.upsert(key, new)
        if change is Change.MODIFIED and pod_signature(old) == pod_signature(new):
            return []
        namespace = pod.metadata.namespace
        sources: set[str] = set()
        for version in (old, new):
            if version is not None:
                sources |= self.selectors.sources_for(namespace, version.metadata.labels)
        led = self.leaders.sources_led_by(pod.metadata.uid)
        return [
            (source, Lane.FAILOVER if source in led or source in self._memory.leaderless else Lane.ROUTINE)
            for source in sorted(sources | led)
        ]

    def slice_changed(
        self, change: Change, old: EndpointSlice | None, new: EndpointSlice | None
    ) -> list[Work]:
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
            self.leaders.remove_slice(slice_key)
        else:
            uids = [ep.target_ref.uid for ep in new.endpoints or () if ep.target_ref is not None]
            self.leaders.update_slice(slice_key, object_key(meta.namespace, source), uids)
        if source is None or (change is not Change.DELETED and self._echo_of_our_write(new)):
            return []
        lane = Lane.FAILOVER if change is Change.DELETED else Lane.ROUTINE
        return [(object_key(meta.namespace, source), lane)]

    def _echo_of_our_write(self, slice_: EndpointSlice | None) -> bool:
        """Is this watch event the echo of our own write? (Then it needs no reconcile.)"""
        if slice_ is None:
            return False
        key = object_key(slice_.metadata.namespace, slice_.metadata.name)
        if self._memory.written_slices.get(key) == slice_.metadata.resource_version:
            del self._memory.written_slices[key]
            return True
        return False

    # ---- what the reconciler tells it ----------------------------------------------------------
    def wrote_slice(self, namespace: str, name: str, resource_version: str) -> None:
        self._memory.written_slices[object_key(namespace, name)] = resource_version

    def set_leaderless(self, key: str, leaderless: bool) -> int:
        """Record whether ``key`` routes to no pod; return how many sources of its namespace do not."""
        if leaderless:
            self._memory.leaderless.add(key)
        else:
            self._memory.leaderless.discard(key)
        return self.leaderless_in(split_key(key)[0])

    def leaderless_in(self, namespace: str) -> int:
        return sum(1 for key in self._memory.leaderless if split_key(key)[0] == namespace)

    def is_leaderless(self, key: str) -> bool:
        return key in self._memory.leaderless

    def wait_for_name(self, namespace: str, name: str, key: str) -> None:
        """``key`` wants the leader Service name ``name``, held by another object: queue it when that
        object changes or goes away."""
        self._memory.blocked_by.setdefault((namespace, name), set()).add(key)

    def set_conflicted(self, key: str, conflicted: bool) -> int:
        """Record whether ``key`` is not served because its name is taken; the namespace's count."""
        if conflicted:
            self._memory.conflicted.add(key)
        else:
            self._memory.conflicted.discard(key)
        namespace = split_key(key)[0]
        return sum(1 for k in self._memory.conflicted if split_key(k)[0] == namespace)

    def told(self, key: str, topic: str, messages: tuple[str, ...]) -> bool:
        """Remember the standing condition ``topic`` of ``key`` as ``messages``; False when it was
        already told exactly so (the Events need not be recorded again)."""
        if self._memory.standing.get((key, topic), ()) == messages:
            return False
        if messages:
            self._memory.standing[(key, topic)] = messages
        else:
            self._memory.standing.pop((key, topic), None)
        return True

    def managed(self, key: str, *, opted_in: bool) -> int | None:
        """Record whether ``key`` is opted in; the namespace's new count when it changed, else None."""
        namespace, name = split_key(key)
        names = self._memory.managed.setdefault(namespace, set())
        if opted_in == (name in names):
            return None
        if opted_in:
            names.add(name)
        else:
            names.discard(name)
        return len(names)

    def forget(self, key: str, *, keep: tuple[str, ...] = ()) -> None:
        """``key`` is no longer opted in (or gone): drop what was remembered about it, but the standing
        conditions of the topics in ``keep``."""
        self._memory.leaderless.discard(key)
        self._memory.conflicted.discard(key)
        for topic in [topic for (k, topic) in self._memory.standing if k == key and topic not in keep]:
            del self._memory.standing[(key, topic)]
