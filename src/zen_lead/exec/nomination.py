"""The pools controller's nomination of a pool's leader, as ``zen-lead exec --pool`` follows it.

The controller names the member that should lead in the pool Lease's annotation
``coordination.kube-zen.io/preferred-holder`` (and ``spec.preferredHolder`` where the apiserver serves
it): the best eligible member when a campaigning holder stopped being eligible, or when it releases
the Lease to a member that campaigns; nothing when the holder is the best. A wrapper that follows it
does not campaign while another pod is nominated, and hands over (stops its program, releases) when
another pod is nominated while it leads. A hint stream: it only ever delays or ends a tenure, never
starts or extends one, so a late or missed event cannot make two leaders.

A nomination of another pod binds for one lease duration from when this wrapper first saw it
(``core.binding``): a nominee that has not taken the Lease by then (its pod is Ready but its wrapper is
gone) must not keep the pool leaderless, so the nomination is then ignored until it changes.
"""

from __future__ import annotations

import asyncio
import logging
import time

import msgspec

from zen_lead.constants import ANNOTATION_NOMINEE
from zen_lead.election.store import LeaseRef
from zen_lead.exec import core
from zen_lead.kube.client import ApiClient
from zen_lead.kube.errors import ApiError
from zen_lead.kube.resources import LEASES
from zen_lead.kube.structs import Lease

log = logging.getLogger("zen_lead.exec")

WATCH_SECONDS = 300


class _Event(msgspec.Struct):
    type: str
    object: msgspec.Raw


_events = msgspec.json.Decoder(_Event)
_leases = msgspec.json.Decoder(Lease)


def nominee_of(lease: Lease | None) -> str:
    """The nominated pod ("" for none): the annotation, else the Coordinated Leader Election field."""
    if lease is None:
        return ""
    return lease.metadata.annotations.get(ANNOTATION_NOMINEE) or lease.spec.preferred_holder or ""


class Nomination:
    def __init__(
        self, client: ApiClient, lease: LeaseRef, identity: str, *, retry: float, binds_for: float
    ) -> None:
        self.client, self.lease, self.identity, self.retry = client, lease, identity, retry
        self.binds_for = binds_for
        self.nominee = ""
        self.seen_at = 0.0  # local monotonic time the current value was first seen
        self.version = 0  # counts changes: ``changed(since=version)`` misses none
        self._changed = asyncio.Event()
        self.read = asyncio.Event()  # set once the Lease was read (or found missing)

    def other(self) -> str | None:
        """The nominated pod when it is not this one and the nomination still binds, else None."""
        now = time.monotonic()
        if core.binding(
            self.nominee, identity=self.identity, seen_at=self.seen_at, now=now, lasts=self.binds_for
        ):
            return self.nominee
        return None

    def binds_until(self) -> float:
        return self.seen_at + self.binds_for

    async def changed(self, since: int) -> None:
        """Return once the nomination changed after ``version`` was ``since``."""
        while self.version == since:
            await self._changed.wait()

    def _see(self, lease: Lease | None) -> None:
        nominee = nominee_of(lease)
        if nominee != self.nominee:
            self.nominee = nominee
            self.seen_at = time.monotonic()
            self.version += 1
            self._changed.set()
            self._changed = asyncio.Event()

    async def watch(self) -> None:
        """Read the Lease, then follow it; restart after any error. Cancel to stop."""
        params = {
            "watch": "1",
            "fieldSelector": f"metadata.name={self.lease.name}",
            "timeoutSeconds": str(WATCH_SECONDS),
        }
        while True:
            try:
                try:
                    lease: Lease | None = await self.client.get(LEASES, self.lease.namespace, self.lease.name)
                except ApiError as error:
                    if not error.not_found:
                        raise
                    lease = None
                self._see(lease)
                self.read.set()
                if lease is not None:  # follow from what was read: nothing in between is missed
                    params["resourceVersion"] = lease.metadata.resource_version
                else:
                    params.pop("resourceVersion", None)
                path = LEASES.collection(self.lease.namespace)
                async with self.client.stream(path, params=params, read_timeout=WATCH_SECONDS + 30) as lines:
                    async for line in lines:
                        event = _events.decode(line)
                        if event.type in ("ADDED", "MODIFIED"):
                            self._see(_leases.decode(event.object))
                        elif event.type == "DELETED":
                            self._see(None)
            except asyncio.CancelledError:
                raise
            except Exception as error:  # a hint stream: log, wait, follow again
                log.debug("watching the nomination of %s: %s", self.lease, error)
            await asyncio.sleep(self.retry)
