"""``Informer``: a cache of one resource kept current by list + watch, with handlers per change.

The loop (one task per informer):

1. **List** in pages of ``page_size`` (``limit``/``continue``), decoding each page straight into slim
   structs and yielding to the event loop between pages, so a 10,000-pod list never stalls the loop.
   The result is **diffed** against the cache: objects that vanished produce ``DELETED`` — this is what
   makes a relist after ``410 Gone`` lose no deletion that happened during the gap.
2. **Watch** from the list's resourceVersion with bookmarks (they keep the resume point fresh on quiet
   streams) and a server-side timeout; resume from the last seen resourceVersion when the stream ends.
3. ``410 Gone`` (as status or as an ``ERROR`` event) -> back to 1. Connection errors -> resume after a
   jittered exponential backoff. A stream silent for longer than the server timeout plus a margin is
   dead (the read timeout is the watchdog) and is restarted.
4. A list the apiserver refuses for good — ``404`` (the resource is not served: a CRD that is not
   installed) or ``403`` (no permission) — is logged once, as a warning naming the resource and what to
   do, and kept as ``problem`` (the manager's ``/readyz`` shows it); the list is retried with the same
   backoff, capped at ``MAX_BACKOFF`` seconds, so installing the CRD or the RBAC later is picked up
   without a restart and without a hot loop.

Handlers are synchronous, must be quick, and see the cache already updated. A failing handler is
logged; it never stops the informer.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from enum import Enum
from typing import Any, Generic, TypeVar

import msgspec

from zen_lead.kube.client import ApiClient
from zen_lead.kube.errors import ApiError, TransportError
from zen_lead.kube.meta import object_key, version_order
from zen_lead.kube.metrics import CACHED_OBJECTS, INFORMER_SYNCED, WATCH_RESTARTS
from zen_lead.kube.resources import Resource
from zen_lead.kube.structs import Status, list_of

log = logging.getLogger(__name__)

T = TypeVar("T")


class Change(Enum):
    ADDED = "ADDED"
    MODIFIED = "MODIFIED"
    DELETED = "DELETED"


Handler = Callable[[Change, Any, Any], None]  # (change, old | None, new | None)


class _WatchEvent(msgspec.Struct):
    type: str
    object: msgspec.Raw


class _Meta(msgspec.Struct, frozen=True):
    name: str = ""
    namespace: str = ""
    resourceVersion: str = ""


class _Keyed(msgspec.Struct):
    metadata: _Meta = _Meta()


_event_decoder = msgspec.json.Decoder(_WatchEvent)
_keyed_decoder = msgspec.json.Decoder(_Keyed)
_status_decoder = msgspec.json.Decoder(Status)
MAX_BACKOFF = 30.0
_REFUSED = {403: "forbidden", 404: "not_found"}


class Informer(Generic[T]):
    """One list+watch of ``resource`` in ``namespace`` (``None``: all namespaces, or a cluster-scoped
    kind), optionally label-selected. ``synced`` is set once the first list is cached."""

    def __init__(
        self,
        client: ApiClient,
        resource: Resource[T],
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
        page_size: int = 500,
        watch_timeout: int = 300,
        handlers: list[Handler] | None = None,
    ) -> None:
        self.client = client
        self.resource = resource
        self.namespace = namespace
        self.path = resource.collection(namespace)
        self.label_selector = label_selector
        self.page_size = page_size
        self.watch_timeout = watch_timeout
        self.handlers: list[Handler] = handlers or []
        self.cache: dict[str, T] = {}
        self.synced = asyncio.Event()
        self.resource_version = ""
        self.problem: str | None = None  # why the list is refused, while it is
        # since when (local monotonic) the list or watch has been failing; None while it works — the
        # status API's staleness of an answer read from this cache
        self.broken_since: float | None = None
        self._label = resource.plural
        self._list_decoder = msgspec.json.Decoder(list_of(resource.struct))
        self._object_decoder = msgspec.json.Decoder(resource.struct)

    def __str__(self) -> str:
        where = f" in {self.namespace}" if self.namespace else ""
        return f"{self.resource.qualified}{where}"

    # ---- cache access -------------------------------------------------------------------------
    def get(self, key: str) -> T | None:
        return self.cache.get(key)

    def put(self, obj: T) -> None:
        """Write-through of an object returned by our own write, unless the cache already holds newer.

        The next reconcile then compares against what we wrote, not against a cache that has not yet
        seen our write's watch event — no duplicate writes in between."""
        meta: Any = obj.metadata  # type: ignore[attr-defined]
        key = object_key(meta.namespace, meta.name)
        current = self.cache.get(key)
        if current is not None:
            order = version_order(_version_of(current), meta.resource_version)
            if order is not None and order >= 0:
                return  # the cache already holds this version or a newer one
        self.cache[key] = obj

    def forget(self, namespace: str, name: str) -> None:
        """Drop an object we deleted ourselves (its DELETED event may still come; that is harmless)."""
        self.cache.pop(object_key(namespace, name), None)

    # ---- the loop -----------------------------------------------------------------------------
    async def run(self) -> None:
        """List (unless already synced: then resume watching from the last resourceVersion) and watch."""
        backoff = 0.2
        needs_list = not self.synced.is_set()
        while True:
            try:
                if needs_list:
                    await self._list()
                    needs_list = False
                    self._refused(None)
                await self._watch()
                backoff = 0.2
            except ApiError as error:
                self._broken()
                if error.gone:
                    WATCH_RESTARTS.labels(self._label, "expired").inc()
                    log.info("watch expired, relisting", extra={"resource": self._label})
                    needs_list = True
                    continue
                WATCH_RESTARTS.labels(self._label, f"http_{error.code}").inc()
                if needs_list and error.code in _REFUSED:
                    self._refused(error)
                else:
                    log.warning("list/watch failed", extra={"resource": self._label, "error": str(error)})
            except (TransportError, msgspec.DecodeError) as error:
                self._broken()
                reason = "timeout" if isinstance(error, TransportError) and error.timeout else "connection"
                WATCH_RESTARTS.labels(self._label, reason).inc()
                log.warning("watch stream broken", extra={"resource": self._label, "error": repr(error)})
            await asyncio.sleep(random.uniform(0, backoff))  # full jitter
            backoff = min(backoff * 2, MAX_BACKOFF)

    def _broken(self) -> None:
        if self.broken_since is None:
            self.broken_since = time.monotonic()

    def _refused(self, error: ApiError | None) -> None:
        """Say once that the list is refused (and once that it is served again)."""
        if error is None:
            if self.problem is not None:
                log.info("listing works again", extra={"resource": self._label, "informer": str(self)})
            self.problem = None
            return
        if error.code == 404:
            problem = (
                f"{self.resource.qualified} ({self.resource.api_version}) is not served by the apiserver: "
                "is its CustomResourceDefinition installed?"
            )
        else:
            problem = f"not allowed to list {self}: {error.message or error.reason}"
        if problem != self.problem:
            log.warning(problem, extra={"resource": self._label, "informer": str(self), "code": error.code})
        self.problem = problem

    async def _list(self) -> None:
        fresh: dict[str, T] = {}
        params: dict[str, str] = {"limit": str(self.page_size)}
        if self.label_selector:
            params["labelSelector"] = self.label_selector
        while True:
            page = self._list_decoder.decode(
                await self.client.request("list", self.path, resource=self._label, params=params, timeout=60)
            )
            for item in page.items:
                meta = item.metadata
                fresh[object_key(meta.namespace, meta.name)] = item
            if not page.metadata.continue_:
                self.resource_version = page.metadata.resource_version
                break
            params["continue"] = page.metadata.continue_
            await asyncio.sleep(0)
        old = self.cache
        self.cache = fresh
        CACHED_OBJECTS.labels(self._label).set(len(fresh))
        for key, obj in old.items():
            if key not in fresh:
                self._dispatch(Change.DELETED, obj, None)
        for count, (key, obj) in enumerate(fresh.items()):
            previous = old.get(key)
            if previous is None:
                self._dispatch(Change.ADDED, None, obj)
            elif _version_of(previous) != _version_of(obj):
                self._dispatch(Change.MODIFIED, previous, obj)
            if count % 500 == 499:
                await asyncio.sleep(0)
        self.synced.set()
        INFORMER_SYNCED.labels(self._label).set(1)

    async def _watch(self) -> None:
        params = {
            "watch": "1",
            "allowWatchBookmarks": "true",
            "resourceVersion": self.resource_version,
            "timeoutSeconds": str(random.randint(self.watch_timeout, self.watch_timeout * 2)),
        }
        if self.label_selector:
            params["labelSelector"] = self.label_selector
        read_timeout = float(params["timeoutSeconds"]) + 30
        async with self.client.stream(self.path, params=params, read_timeout=read_timeout) as lines:
            self.broken_since = None  # the stream is open: the cache follows the apiserver again
            handled = 0
            async for line in lines:
                self._handle_line(line)
                handled += 1
                if handled % 100 == 0:
                    await asyncio.sleep(0)

    def _handle_line(self, line: bytes) -> None:
        event = _event_decoder.decode(line)
        if event.type == "ERROR":
            status = _status_decoder.decode(event.object)
            raise ApiError(status.code, status.reason, status.message)
        meta = _keyed_decoder.decode(event.object).metadata
        if meta.resourceVersion:
            self.resource_version = meta.resourceVersion
        if event.type == "BOOKMARK":
            return
        key = object_key(meta.namespace, meta.name)
        previous = self.cache.get(key)
        if event.type == "DELETED":
            self.cache.pop(key, None)
            # the handlers learn what was deleted even when the cache never held it (a deletion of an
            # object whose ADDED this informer did not see): the event carries its final state
            gone = previous if previous is not None else self._object_decoder.decode(event.object)
            self._dispatch(Change.DELETED, gone, None)
        else:
            obj = self._object_decoder.decode(event.object)
            self.cache[key] = obj
            self._dispatch(Change.ADDED if previous is None else Change.MODIFIED, previous, obj)
        CACHED_OBJECTS.labels(self._label).set(len(self.cache))

    def _dispatch(self, change: Change, old: T | None, new: T | None) -> None:
        for handler in self.handlers:
            try:
                handler(change, old, new)
            except Exception:
                log.exception("informer handler failed", extra={"resource": self._label})


def _version_of(obj: Any) -> str:
    return str(obj.metadata.resource_version)
