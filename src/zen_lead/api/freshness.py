"""How long this server may have been cut off from the apiserver: the staleness of its answers.

An informer whose list or watch keeps failing says since when (``Informer.broken_since``). A watch
that hangs — the apiserver paused, a connection black-holed — says nothing for minutes, so a small
round-trip (``GET /version``, a few hundred bytes, no object read) runs every ``bound / 4`` seconds;
the answer is stale when the last successful round trip, or the oldest broken informer, is older than
``bound``. This is a health check of the connection, not polling of objects: every state is still
read from the watch-fed caches.

When the verdict flips, every watcher is told (a state turning stale is a change).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from prometheus_client import Gauge

from zen_lead.kube.client import ApiClient
from zen_lead.kube.errors import ApiError, TransportError
from zen_lead.runtime.cache import ScopedInformer

log = logging.getLogger(__name__)
STALE = Gauge("zen_lead_api_stale", "1 while the status API's answers may be stale (cut off past the bound).")


class Freshness:
    name = "api-freshness"
    needs_leader_election = False

    def __init__(
        self,
        client: ApiClient,
        informers: list[ScopedInformer[Any]],
        *,
        bound: float,
        on_flip: Callable[[], None],
    ) -> None:
        self.client = client
        self.informers = informers
        self.bound = bound
        self.on_flip = on_flip
        self._last_contact = time.monotonic()
        self.stale = False

    def stale_seconds(self, now: float | None = None) -> float:
        """Seconds since the server last knew it was following the apiserver (0 while within the bound)."""
        now = time.monotonic() if now is None else now
        oldest = self._last_contact
        for scoped in self.informers:
            for informer in scoped.informers:
                if informer.broken_since is not None:
                    oldest = min(oldest, informer.broken_since)
                elif not informer.synced.is_set():
                    oldest = min(oldest, now - self.bound - 1)  # never listed: nothing to stand on
        cut_off = max(0.0, now - oldest)
        return cut_off if cut_off > self.bound else 0.0

    async def run(self) -> None:
        period = min(max(self.bound / 4, 0.25), 5.0)
        while True:
            try:
                await self.client.request("get", "/version", resource="version", timeout=max(period, 0.5))
                self._last_contact = time.monotonic()
            except (ApiError, TransportError, TimeoutError, OSError) as error:
                log.debug("apiserver round trip failed", extra={"error": repr(error)})
            self._check()
            await asyncio.sleep(period)

    def _check(self) -> None:
        stale = self.stale_seconds() > 0
        if stale != self.stale:
            self.stale = stale
            STALE.set(1 if stale else 0)
            if stale:
                log.warning(
                    f"status API answers may be stale: cut off from the apiserver for over {self.bound:g}s"
                )
            else:
                log.info("status API answers are fresh again")
            self.on_flip()
