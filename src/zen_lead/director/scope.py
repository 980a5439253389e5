"""Which namespaces the controller watches, and the informers over them.

Namespace-scoped by default: one informer per namespace and resource, so the controller needs only
namespaced Roles. ``--all-namespaces`` uses one cluster-wide informer per resource instead.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Generic, TypeVar

from zen_lead.kube.client import ApiClient
from zen_lead.kube.informer import Handler, Informer, object_key

T = TypeVar("T")


def collection_path(api: str, plural: str, namespace: str | None) -> str:
    base = "/api/v1" if api == "v1" else f"/apis/{api}"
    return f"{base}/namespaces/{namespace}/{plural}" if namespace else f"{base}/{plural}"


class ScopedInformers(Generic[T]):
    """Informers of one resource over several namespaces (or all), read as one cache."""

    def __init__(
        self,
        client: ApiClient,
        *,
        api: str,
        plural: str,
        kind: type[T],
        namespaces: list[str] | None,
        label_selector: str | None = None,
        handlers: list[Handler] | None = None,
    ) -> None:
        self.resource = plural
        scopes: list[str | None] = list(namespaces) if namespaces is not None else [None]
        self._by_namespace: dict[str | None, Informer[T]] = {
            scope: Informer(
                client,
                resource=plural,
                path=collection_path(api, plural, scope),
                kind=kind,
                label_selector=label_selector,
                handlers=handlers,
            )
            for scope in scopes
        }

    def _informer(self, namespace: str) -> Informer[T] | None:
        return self._by_namespace.get(namespace) or self._by_namespace.get(None)

    def get(self, namespace: str, name: str) -> T | None:
        informer = self._informer(namespace)
        return informer.get(object_key(namespace, name)) if informer else None

    def put(self, obj: T) -> None:
        informer = self._informer(obj.metadata.namespace)  # type: ignore[attr-defined]
        if informer is not None:
            informer.put(obj)

    def forget(self, namespace: str, name: str) -> None:
        informer = self._informer(namespace)
        if informer is not None:
            informer.forget(namespace, name)

    def items(self) -> Iterator[T]:
        for informer in self._by_namespace.values():
            yield from informer.cache.values()

    def run_tasks(self, group: asyncio.TaskGroup) -> None:
        for informer in self._by_namespace.values():
            group.create_task(informer.run(), name=f"informer-{self.resource}")

    @property
    def synced(self) -> bool:
        return all(informer.synced.is_set() for informer in self._by_namespace.values())

    async def wait_synced(self) -> None:
        for informer in self._by_namespace.values():
            await informer.synced.wait()

    def __len__(self) -> int:
        return sum(len(informer.cache) for informer in self._by_namespace.values())
