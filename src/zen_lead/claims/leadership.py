"""The coordinator's view of its Lease: whether this replica leads, when another was last seen
leading, and whether another replica runs with this replica's identity.

"Seen leading" is judged as the elector judges expiry: on the local monotonic clock, from the moment
a change of another holder's record (a renewal, a takeover) arrived — never from the timestamps it
wrote, so clock skew between replicas changes nothing.
"""

from __future__ import annotations

import asyncio
import logging
import time

from zen_lead.claims.metrics import ClaimMetrics
from zen_lead.election import Leadership
from zen_lead.kube.structs import Lease, LeaseSpec

log = logging.getLogger("zen_lead.claims")


class DuplicateIdentityError(RuntimeError):
    """Another live replica campaigns with this replica's identity: each replica needs its own."""


class LeaseView:
    def __init__(self, *, identity: str, namespace: str, metrics: ClaimMetrics) -> None:
        self.identity = identity
        self.namespace = namespace
        self.metrics = metrics
        self.leadership: Leadership | None = None
        self.leader_seen_at: float | None = None
        self.changed = asyncio.Event()  # set on anything that may change the mode
        self._spec: LeaseSpec | None = None
        self._ours_while_not_leading: LeaseSpec | None = None
        self.duplicate: str | None = None

    # ---- what the Lease shows (fed by the informer) -----------------------------------------------
    def observe(self, lease: Lease | None) -> None:
        spec = lease.spec if lease is not None else None
        if spec == self._spec:
            return
        self._spec = spec
        now = time.monotonic()
        holder = spec.holder_identity if spec is not None else None
        if not holder:
            self.leader_seen_at = None
        elif holder != self.identity:
            self.leader_seen_at = now
        elif self.leadership is None:
            self._named_us(spec)
        self.changed.set()

    def _named_us(self, spec: LeaseSpec | None) -> None:
        """A record naming us while we do not lead. Our own elector writes one such record (the
        acquisition, just before it calls ``lead``) and never renews without leading; a RENEWAL of the
        same tenure (same transitions, later renewTime) is therefore another process's."""
        if spec is None:
            return
        previous, self._ours_while_not_leading = self._ours_while_not_leading, spec
        if (
            previous is not None
            and previous.lease_transitions == spec.lease_transitions
            and previous.renew_time != spec.renew_time
        ):
            self.duplicate = (
                f"identity {self.identity!r} is in use: the claim-coordinator Lease was renewed under it "
                "while this replica did not lead; give every replica its own identity (e.g. the pod name)"
            )

    def current_holder(self) -> str:
        return (self._spec.holder_identity or "") if self._spec is not None else ""

    async def check_identity_free(self, lease_duration: float) -> None:
        """At start, before campaigning: if the Lease names our identity, wait up to one lease duration.
        A renewal in that time means a live replica holds it under our name (``DuplicateIdentityError``);
        a crashed predecessor of the same name (a restarted StatefulSet pod) renews nothing, and we go on."""
        spec = self._spec
        if spec is None or spec.holder_identity != self.identity:
            return
        deadline = time.monotonic() + lease_duration
        while self.duplicate is None and time.monotonic() < deadline:
            self.changed.clear()
            current = self._spec
            if current is None or current.holder_identity != self.identity:
                return
            try:
                await asyncio.wait_for(self.changed.wait(), timeout=deadline - time.monotonic())
            except TimeoutError:
                break
        self.raise_if_duplicate()

    def raise_if_duplicate(self) -> None:
        if self.duplicate is not None:
            raise DuplicateIdentityError(self.duplicate)

    # ---- the elector's callbacks -------------------------------------------------------------------
    async def lead(self, leadership: Leadership) -> None:
        started = time.monotonic()
        self.leadership = leadership
        self._ours_while_not_leading = None
        self.metrics.event(self.namespace, "became_leader")
        log.info(
            "Became leader for claim coordination",
            extra={"identity": self.identity, "token": leadership.token.transitions},
        )
        self.changed.set()
        try:
            await asyncio.Event().wait()  # lead until the elector cancels this tenure
        finally:
            self.leadership = None
            self.metrics.event(self.namespace, "lost_leadership")
            self.metrics.leadership.labels(self.namespace, self.identity).observe(time.monotonic() - started)
            log.info("Lost leadership for claim coordination", extra={"identity": self.identity})
            self.changed.set()

    def new_leader(self, holder: str) -> None:
        if holder and holder != self.identity:
            self.metrics.event(self.namespace, "new_leader")
            log.info(
                "New leader elected for claim coordination",
                extra={"identity": self.identity, "leader": holder},
            )
