"""In-memory indexes over the informer caches, so that no event costs a scan of every object.

- ``LabelIndex`` answers "which pods of namespace N match selector S" by intersecting per-label sets
  (smallest first) instead of testing every pod of the namespace.
- ``SelectorIndex`` answers "which source Services may select this pod": each Service is filed under one
  (key, value) pair of its selector, so a pod event looks up only its own labels' buckets and then
  verifies the full selector on a handful of candidates.
- ``LeaderIndex`` maps a pod UID to the sources it currently leads (from our observed EndpointSlices):
  a change to such a pod is failover work and goes to the failover lane.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping

from zen_lead.eligibility.selection import selects
from zen_lead.kube.structs import Pod
from zen_lead.runtime.index import OwnedIndex

__all__ = ["LabelIndex", "LeaderIndex", "OwnedIndex", "SelectorIndex"]


class LabelIndex:
    def __init__(self) -> None:
        self._by_label: dict[tuple[str, str, str], set[str]] = defaultdict(set)
        self._pods: dict[str, Pod] = {}

    def upsert(self, key: str, pod: Pod) -> None:
        old = self._pods.get(key)
        self._pods[key] = pod
        if old is not None:
            if old.metadata.labels == pod.metadata.labels:
                return
            self._unindex(key, old)
        namespace = pod.metadata.namespace
        for label, value in pod.metadata.labels.items():
            self._by_label[(namespace, label, value)].add(key)

    def remove(self, key: str) -> None:
        old = self._pods.pop(key, None)
        if old is not None:
            self._unindex(key, old)

    def _unindex(self, key: str, pod: Pod) -> None:
        namespace = pod.metadata.namespace
        for label, value in pod.metadata.labels.items():
            bucket = self._by_label.get((namespace, label, value))
            if bucket is not None:
                bucket.discard(key)
                if not bucket:
                    del self._by_label[(namespace, label, value)]

    def matching(self, namespace: str, selector: Mapping[str, str]) -> list[Pod]:
        if not selector:
            return []
        buckets = []
        for label, value in selector.items():
            bucket = self._by_label.get((namespace, label, value))
            if not bucket:
                return []
            buckets.append(bucket)
        buckets.sort(key=len)
        keys = set(buckets[0]).intersection(*buckets[1:])
        return [self._pods[key] for key in keys]

    def __len__(self) -> int:
        return len(self._pods)


class SelectorIndex:
    def __init__(self) -> None:
        self._by_pair: dict[tuple[str, str, str], dict[str, Mapping[str, str]]] = defaultdict(dict)
        self._filed: dict[str, tuple[str, str, str]] = {}

    def upsert(self, source_key: str, namespace: str, selector: Mapping[str, str] | None) -> None:
        self.remove(source_key)
        if not selector:
            return
        label = min(selector)  # deterministic bucket
        pair = (namespace, label, selector[label])
        self._by_pair[pair][source_key] = dict(selector)
        self._filed[source_key] = pair

    def remove(self, source_key: str) -> None:
        pair = self._filed.pop(source_key, None)
        if pair is not None:
            bucket = self._by_pair[pair]
            bucket.pop(source_key, None)
            if not bucket:
                del self._by_pair[pair]

    def sources_for(self, namespace: str, labels: Mapping[str, str]) -> set[str]:
        found: set[str] = set()
        for label, value in labels.items():
            bucket = self._by_pair.get((namespace, label, value))
            if bucket:
                found.update(key for key, selector in bucket.items() if selects(selector, labels))
        return found


class LeaderIndex:
    def __init__(self) -> None:
        self._sources_by_pod: dict[str, set[str]] = defaultdict(set)
        self._pods_by_slice: dict[str, tuple[str, frozenset[str]]] = {}

    def update_slice(self, slice_key: str, source_key: str, pod_uids: Iterable[str]) -> None:
        self.remove_slice(slice_key)
        uids = frozenset(pod_uids)
        self._pods_by_slice[slice_key] = (source_key, uids)
        for uid in uids:
            self._sources_by_pod[uid].add(source_key)

    def remove_slice(self, slice_key: str) -> None:
        previous = self._pods_by_slice.pop(slice_key, None)
        if previous is None:
            return
        source_key, uids = previous
        for uid in uids:
            sources = self._sources_by_pod.get(uid)
            if sources is not None:
                sources.discard(source_key)
                if not sources:
                    del self._sources_by_pod[uid]

    def sources_led_by(self, pod_uid: str) -> set[str]:
        return set(self._sources_by_pod.get(pod_uid, ()))
