"""Every change the apiserver served for some kinds in a namespace, in revision order.

Watches start at a listed resourceVersion, so no later write is missed. On this one-etcd cluster a
resourceVersion is etcd's revision, one counter for every write, so comparing them orders writes
across resources (tests only: clients must treat resourceVersions as opaque). A failed watch fails
the test that used the recorder.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from lightkube import Client


@dataclass(frozen=True)
class Write:
    revision: int
    kind: str
    type: str
    name: str
    obj: Any


class Writes:
    def __init__(self, kube: Client, namespace: str, kinds: tuple[type[Any], ...]) -> None:
        self.kube, self.namespace, self.kinds = kube, namespace, kinds
        self.seen: list[Write] = []
        self.errors: list[BaseException] = []
        self._started = threading.Barrier(len(kinds) + 1, timeout=30)

    def _watch(self, kind: type[Any]) -> None:
        try:
            listing = self.kube.list(kind, namespace=self.namespace)
            list(listing)
            version = listing.resourceVersion
            self._started.wait()
            for change, obj in self.kube.watch(kind, namespace=self.namespace, resource_version=version):
                meta = obj.metadata
                self.seen.append(Write(int(meta.resourceVersion), kind.__name__, change, meta.name, obj))
        except BaseException as error:
            self.errors.append(error)
            self._started.abort()

    def __enter__(self) -> Writes:
        for kind in self.kinds:
            threading.Thread(target=self._watch, args=(kind,), daemon=True).start()
        try:
            self._started.wait()
        except threading.BrokenBarrierError:
            raise AssertionError(f"a watch did not start: {self.errors!r}") from None
        return self

    def __exit__(self, *_: object) -> None:
        assert not self.errors, f"a watch failed: {self.errors!r}"

    def of(self, kind: str, *, after: int = 0) -> list[Write]:
        return [w for w in list(self.seen) if w.kind == kind and w.revision > after]

    def in_order(self) -> list[Write]:
        return sorted(self.seen[:], key=lambda w: w.revision)
