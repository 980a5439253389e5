"""The manager's informer cache: one list+watch per (resource, namespace, label selector), shared by
every controller and reader in the process.

Components ask the cache for what they read — ``cache.informer(PODS)`` — and get a ``ScopedInformer``:
one resource over the manager's namespaces (one informer per namespace, so namespaced RBAC suffices;
one cluster-wide informer with ``--all-namespaces``; always one for a cluster-scoped kind), read as
one cache. Asking twice returns the same object: the director and the pools controller share the pod
cache, and every registered handler sees every change.

Handlers registered after an informer has synced are first replayed the current contents as
``ADDED`` (as client-go's ``AddEventHandler`` does), so a late registrant misses nothing.

``run()`` runs every informer asked for so far and starts those asked for later. ``not_ready()`` lists
why the cache is not ready: an informer that has not synced, with the reason its list is refused
(a CRD that is not installed, a permission that is missing), and a managed namespace that does not
exist — the manager's ``/readyz`` answers it. Readiness waits for the informers the enabled components
asked for, and only those.

Namespaces. Listing a namespace that does not exist succeeds (an empty list), so a typo in
``--namespace`` would look healthy and never act. The cache therefore reads each managed namespace
(``get`` on that one namespace, which a Role in it can grant): not found is an error log naming it and
a not-ready reason until it exists (checked again with backoff, capped at ``MAX_BACKOFF``); a refused
read means the check is not permitted, which is logged once and not held against readiness.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Iterator
from typing import Any, Generic, TypeVar

from zen_lead.kube.client import ApiClient
from zen_lead.kube.errors import ApiError
from zen_lead.kube.informer import MAX_BACKOFF, Change, Handler, Informer
from zen_lead.kube.meta import object_key
from zen_lead.kube.resources import NAMESPACES, Resource

log = logging.getLogger(__name__)
T = TypeVar("T")


class ScopedInformer(Generic[T]):
    """One resource over several namespaces (or all), read as one cache."""

    def __init__(self, resource: Resource[T], informers: dict[str | None, Informer[T]]) -> None:
        self.resource = resource
        self._by_namespace = informers

    @property
    def informers(self) -> list[Informer[T]]:
        return list(self._by_namespace.values())

    def _informer(self, namespace: str) -> Informer[T] | None:
        return self._by_namespace.get(namespace) or self._by_namespace.get(None)

    def get(self, namespace: str, name: str) -> T | None:
        informer = self._informer(namespace)
        return informer.get(object_key(namespace, name)) if informer else None

    def put(self, obj: T) -> None:
        """Write-through of an object our own write returned (see ``Informer.put``)."""
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

    def add_handler(self, handler: Handler) -> None:
        """Register ``handler`` on every informer; replay what an already synced informer holds."""
        for informer in self._by_namespace.values():
            informer.handlers.append(handler)
            if informer.synced.is_set():
                for obj in list(informer.cache.values()):
                    handler(Change.ADDED, None, obj)

    @property
    def synced(self) -> bool:
        return all(informer.synced.is_set() for informer in self._by_namespace.values())

    async def wait_synced(self) -> None:
        for informer in self._by_namespace.values():
            await informer.synced.wait()

    def __len__(self) -> int:
        return sum(len(informer.cache) for informer in self._by_namespace.values())


class InformerCache:
    """Every informer of the process, keyed by (resource, namespace, label selector)."""

    name = "informer-cache"
    needs_leader_election = False

    def __init__(self, client: ApiClient, *, namespaces: list[str] | None) -> None:
        self.client = client
        self.namespaces = namespaces  # None: all namespaces
        self._informers: dict[tuple[str, str | None, str | None], Informer[Any]] = {}
        self._scoped: dict[tuple[str, str | None], ScopedInformer[Any]] = {}
        self._started: set[int] = set()
        self._group: asyncio.TaskGroup | None = None
        self._missing: dict[str, str] = {}  # namespace -> why it is not usable (until it is)

    def informer(self, resource: Resource[T], *, label_selector: str | None = None) -> ScopedInformer[T]:
        """The shared cache of ``resource`` over the manager's namespaces (made on first request)."""
        key = (resource.qualified, label_selector)
        scoped = self._scoped.get(key)
        if scoped is None:
            scopes: list[str | None] = (
                list(self.namespaces) if resource.namespaced and self.namespaces is not None else [None]
            )
            scoped = ScopedInformer(
                resource, {scope: self._shared(resource, scope, label_selector) for scope in scopes}
            )
            self._scoped[key] = scoped
        return scoped

    def _shared(self, resource: Resource[T], namespace: str | None, selector: str | None) -> Informer[T]:
        key = (resource.qualified, namespace, selector)
        informer = self._informers.get(key)
        if informer is None:
            informer = Informer(self.client, resource, namespace=namespace, label_selector=selector)
            self._informers[key] = informer
            self._start(informer)
        return informer

    def _start(self, informer: Informer[Any]) -> None:
        if self._group is not None and id(informer) not in self._started:
            self._started.add(id(informer))
            self._group.create_task(informer.run(), name=f"informer {informer}")

    async def run(self) -> None:
        """Run every informer, including those asked for while this runs, until cancelled."""
        async with asyncio.TaskGroup() as group:
            self._group = group
            try:
                for informer in list(self._informers.values()):
                    self._start(informer)
                for namespace in self.namespaces or ():
                    group.create_task(self._check_namespace(namespace), name=f"namespace {namespace}")
                await asyncio.Event().wait()
            finally:
                self._group = None

    async def _check_namespace(self, namespace: str) -> None:
        """Read ``namespace`` until it is found (or the read is not permitted); see the module doc."""
        backoff = 0.5
        while True:
            try:
                await self.client.get(NAMESPACES, None, namespace)
            except ApiError as error:
                if error.not_found:
                    if namespace not in self._missing:
                        log.error(
                            f"namespace {namespace} does not exist: nothing in it can be managed until it is "
                            "created (check --namespace)",
                            extra={"namespace": namespace},
                        )
                    self._missing[namespace] = f"namespace {namespace} does not exist"
                else:
                    log.info(
                        "cannot check that the namespace exists (not permitted); assuming it does",
                        extra={"namespace": namespace, "error": str(error)},
                    )
                    break
            except OSError as error:  # the apiserver is not reachable yet: the informers say so too
                log.debug("namespace check failed", extra={"namespace": namespace, "error": str(error)})
            else:
                break
            await asyncio.sleep(random.uniform(backoff / 2, backoff))
            backoff = min(backoff * 2, MAX_BACKOFF)
        if self._missing.pop(namespace, None) is not None:
            log.info(f"namespace {namespace} exists now", extra={"namespace": namespace})

    # ---- readiness ----------------------------------------------------------------------------
    @property
    def synced(self) -> bool:
        return all(informer.synced.is_set() for informer in self._informers.values())

    async def wait_synced(self) -> None:
        for informer in list(self._informers.values()):
            await informer.synced.wait()

    def not_ready(self) -> list[str]:
        """Why the cache is not ready, one line per informer that has not synced (empty: ready)."""
        return [*self._missing.values()] + [
            f"{informer}: {informer.problem or 'not synced yet'}"
            for informer in self._informers.values()
            if not informer.synced.is_set()
        ]

    def sizes(self) -> dict[str, int]:
        """Cached objects by resource (summed over namespaces), for the start-up log line."""
        sizes: dict[str, int] = {}
        for informer in self._informers.values():
            name = informer.resource.plural
            sizes[name] = sizes.get(name, 0) + len(informer.cache)
        return sizes
