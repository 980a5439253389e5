"""Small facts about object metadata, with one home each: cache keys, resourceVersion order, and the
reference an Event or a status names an object by.

resourceVersions are opaque strings to clients; etcd's happen to be integers, so two versions are
ordered only when both parse as integers, and otherwise nothing is assumed (``version_order`` says
``None`` and the caller falls back to arrival order).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


def object_key(namespace: str, name: str) -> str:
    """``namespace/name`` (``name`` alone for cluster-scoped objects): the key of caches and queues."""
    return f"{namespace}/{name}" if namespace else name


def split_key(key: str) -> tuple[str, str]:
    """``object_key``'s inverse: ``("namespace", "name")``, or ``("", name)`` for a cluster-scoped key."""
    namespace, _, name = key.rpartition("/")
    return namespace, name


def version_order(a: str, b: str) -> int | None:
    """-1, 0 or 1 as resourceVersion ``a`` is older than, the same as or newer than ``b``; ``None`` when
    they cannot be compared (not both integers) and are not equal."""
    if a == b:
        return 0
    if a.isdigit() and b.isdigit():
        return -1 if int(a) < int(b) else 1
    return None


def is_older(candidate: str, current: str) -> bool:
    """Whether ``candidate`` is provably older than ``current`` (both integers, and smaller)."""
    return version_order(candidate, current) == -1


@dataclass(frozen=True, slots=True)
class ObjectRef:
    """Which object an Event is about (core/v1 ``ObjectReference``'s identifying fields)."""

    api_version: str
    kind: str
    namespace: str
    name: str
    uid: str

    def as_json(self) -> dict[str, Any]:
        return {
            "apiVersion": self.api_version,
            "kind": self.kind,
            "namespace": self.namespace,
            "name": self.name,
            "uid": self.uid,
        }
