"""What both front ends (HTTP and gRPC) serve, transport aside: the caller checked, the target read,
the state stamped with its freshness, the change stream.

Order of checks, for every request: no or unknown token -> Unauthenticated (HTTP 401); a malformed
request -> Invalid naming the field and the rule (400); not allowed -> Forbidden (403). Nothing is read
for the caller or written before all three pass.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

from zen_lead.api.auth import Authenticator, User
from zen_lead.api.core.access import (
    Attributes,
    Operation,
    leader_attributes,
    lock_attributes,
    service_account_namespace,
)
from zen_lead.api.core.leaders import Kind, LeaderState, Target, with_freshness
from zen_lead.api.core.validate import Invalid, dns_label, lease_name
from zen_lead.api.freshness import Freshness
from zen_lead.api.locks import LockService
from zen_lead.api.views import LeaderViews

MEMO_SIZE = 1024
#: How long a resumed watch waits for this replica's cache to reach the term the client has seen.
CATCH_UP = 10.0


class Unauthenticated(Exception):
    pass


class Forbidden(Exception):
    pass


class NotServed(Exception):
    """The namespace is outside this zen-lead's --namespace."""


class StaleRefused(Exception):
    """The caller refused stale answers and this one may be."""

    def __init__(self, state: LeaderState) -> None:
        super().__init__(
            f"the answer may be stale: no contact with the apiserver for {state.staleSeconds:g}s"
        )
        self.state = state


@dataclass(frozen=True, slots=True)
class Caller:
    user: User
    namespace: str | None  # its ServiceAccount's namespace


class ApiService:
    def __init__(
        self,
        *,
        auth: Authenticator,
        views: LeaderViews,
        locks: LockService,
        freshness: Freshness,
        identity: str,
    ) -> None:
        self.auth = auth
        self.views = views
        self.locks = locks
        self.freshness = freshness
        self.identity = identity
        self._served: dict[int, tuple[LeaderState, float, LeaderState]] = {}

    # ---- who is asking ------------------------------------------------------------------------
    async def caller(self, authorization: str | None) -> Caller:
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthenticated("a bearer token is required (Authorization: Bearer <token>)")
        user = await self.auth.authenticate(token.strip())
        if user is None:
            raise Unauthenticated("the cluster does not accept this token")
        return Caller(user, service_account_namespace(user.name))

    def namespace(self, caller: Caller, given: str | None, *, field: str = "namespace") -> str:
        if given:
            namespace = dns_label(field, given)
        elif caller.namespace is not None:
            namespace = caller.namespace
        else:
            raise Invalid(
                field, "is required: the caller is not a ServiceAccount, so it has no namespace of its own"
            )
        if not self.views.serves(namespace):
            raise NotServed(f"namespace {namespace} is not managed by this zen-lead (see its --namespace)")
        return namespace

    def target(self, caller: Caller, kind: Kind, name: str, namespace: str | None) -> Target:
        if kind is Kind.LEASE:
            lease_name("name", name)
        else:
            dns_label("name", name)
        return Target(kind, self.namespace(caller, namespace), name)

    async def allow(self, caller: Caller, attributes: Attributes) -> None:
        if not await self.auth.authorize(caller.user, attributes):
            what = f"{attributes.resource}.{attributes.group}".rstrip(".")
            name = f" {attributes.name!r}" if attributes.name else ""
            where = f"in namespace {attributes.namespace}"
            raise Forbidden(f"{caller.user.name} may not {attributes.verb} {what}{name} {where}")

    async def allow_leader(self, caller: Caller, operation: Operation, target: Target) -> None:
        name = "" if operation is Operation.LIST else target.name
        await self.allow(caller, leader_attributes(operation, target.kind, target.namespace, name))

    async def allow_lock(self, caller: Caller, operation: Operation, namespace: str, name: str) -> None:
        await self.allow(caller, lock_attributes(operation, namespace, name))

    # ---- leaders ------------------------------------------------------------------------------
    def served(self, state: LeaderState) -> LeaderState:
        """``state`` stamped with its freshness. One change offered to a thousand watchers is one
        state object: it is stamped once (while the freshness is the same), and the front ends can
        reuse what they make of it (``memo``)."""
        stale_seconds = self.freshness.stale_seconds()
        cached = self._served.get(id(state))
        if cached is not None and cached[0] is state and cached[1] == stale_seconds:
            return cached[2]
        served = with_freshness(
            state, stale_seconds=stale_seconds, bound=self.freshness.bound, served_by=self.identity
        )
        if len(self._served) >= MEMO_SIZE:
            self._served.clear()
        self._served[id(state)] = (state, stale_seconds, served)
        return served

    def leader(self, target: Target, *, refuse_stale: bool) -> LeaderState:
        state = self.served(self.views.state(target))
        if refuse_stale and state.stale:
            raise StaleRefused(state)
        return state

    async def allowed_targets(self, caller: Caller, namespace: str, kinds: set[Kind]) -> list[Target]:
        allowed: set[Kind] = set()
        for kind in kinds:
            probe = Target(kind, namespace, "")
            try:
                await self.allow_leader(caller, Operation.LIST, probe)
            except Forbidden:
                continue
            allowed.add(kind)
        if not allowed:
            names = ", ".join(sorted(kind.value for kind in kinds))
            raise Forbidden(f"{caller.user.name} may not list any of {names} in {namespace}")
        return self.views.targets(namespace, allowed)

    async def events(
        self, target: Target, *, after_term: int, heartbeat: float
    ) -> AsyncIterator[tuple[str, LeaderState]]:
        """("snapshot" | "change" | "heartbeat", state): a snapshot whose term is at least
        ``after_term`` (waiting up to ``CATCH_UP`` for this cache to get there), then every change,
        never a lower term than already sent, and the state again after ``heartbeat`` quiet seconds."""
        async with self.views.subscribe(target) as mailbox:
            give_up = time.monotonic() + CATCH_UP
            state = mailbox.take()
            while state is None or (state.term < after_term and time.monotonic() < give_up):
                try:
                    async with asyncio.timeout(max(0.0, give_up - time.monotonic())):
                        await mailbox.wake.wait()
                except TimeoutError:
                    pass
                state = mailbox.take() or state
            last = self.served(state)
            yield "snapshot", last
            while True:
                try:
                    async with asyncio.timeout(heartbeat):
                        await mailbox.wake.wait()
                except TimeoutError:
                    last = self.served(last)  # re-stamped: its staleness is news too
                    yield "heartbeat", last
                    continue
                offered = mailbox.take()
                if offered is None:
                    continue
                current = self.served(offered)
                if current.term < last.term or current.same_as(last):
                    continue  # a re-created object restarts its terms: never send a term backwards
                last = current
                yield "change", current
