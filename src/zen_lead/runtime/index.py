"""``OwnedIndex``: (namespace, owner) -> the names of the objects filed under it, so that finding
"every object of this owner" never scans a namespace. Used by the director (leader Services by source,
slices by leader Service, sources by the leader Service name they ask for) and pools (pods by pool)."""

from __future__ import annotations

from collections import defaultdict


class OwnedIndex:
    """(namespace, owner name) -> names of the objects filed under that owner."""

    def __init__(self) -> None:
        self._names: dict[tuple[str, str], set[str]] = defaultdict(set)

    def add(self, namespace: str, owner: str, name: str) -> None:
        self._names[(namespace, owner)].add(name)

    def remove(self, namespace: str, owner: str, name: str) -> None:
        names = self._names.get((namespace, owner))
        if names is not None:
            names.discard(name)
            if not names:
                del self._names[(namespace, owner)]

    def names(self, namespace: str, owner: str) -> set[str]:
        return set(self._names.get((namespace, owner), ()))
