"""Leader states served from the manager's shared informer cache, and the change feed watchers read.

``LeaderViews`` asks the cache for what the answers are derived from — Leases, Pods, Services, the
director's leader EndpointSlices and, with pools enabled, LeaderPolicies — so however many clients ask
or watch, the apiserver sees one list+watch per resource. It keeps, per Lease, the local monotonic time
it first saw the current record (``election.record.Observation``): expiry is judged by this server's
own clock, as a candidate judges it.

Watchers: one ``Topic`` per watched target holds the latest state; each subscriber has a one-slot
mailbox (the latest state and a flag), so a slow reader costs one state, never a queue — the state is
level-based, so coalescing loses nothing a reader needs. A change anywhere in a namespace recomputes
the watched targets of that namespace (cheap: dictionary reads) and wakes the subscribers whose state
changed.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import defaultdict
from collections.abc import AsyncIterator
from typing import Any

from zen_lead.api.core.leaders import (
    Kind,
    LeaderState,
    Target,
    lease_holder_state,
    pool_state,
    service_state,
)
from zen_lead.director.core.config import is_opted_in, parse_config
from zen_lead.election.record import Observation, observe, record_of
from zen_lead.eligibility.addresses import FAMILIES
from zen_lead.kube.informer import Change
from zen_lead.kube.resources import ENDPOINT_SLICES, LEADER_POLICIES, LEASES, PODS, SERVICES
from zen_lead.kube.structs import EndpointSlice, Lease, Pod
from zen_lead.routing.names import endpoint_slice_name
from zen_lead.routing.ownership import SLICE_SELECTOR
from zen_lead.runtime.cache import InformerCache, ScopedInformer


class Subscriber:
    """One watcher's mailbox: the latest state it has not been given yet."""

    def __init__(self) -> None:
        self.pending: LeaderState | None = None
        self.wake = asyncio.Event()

    def offer(self, state: LeaderState) -> None:
        self.pending = state
        self.wake.set()

    def take(self) -> LeaderState | None:
        state, self.pending = self.pending, None
        self.wake.clear()
        return state


class Topic:
    def __init__(self, state: LeaderState) -> None:
        self.state = state
        self.subscribers: set[Subscriber] = set()


class LeaderViews:
    def __init__(self, cache: InformerCache, *, pools: bool) -> None:
        self.cache = cache
        self.namespaces = cache.namespaces
        self.leases: ScopedInformer[Lease] = cache.informer(LEASES)
        self.pods: ScopedInformer[Pod] = cache.informer(PODS)
        self.services = cache.informer(SERVICES)
        self.slices = cache.informer(ENDPOINT_SLICES, label_selector=SLICE_SELECTOR)
        self.policies = cache.informer(LEADER_POLICIES) if pools else None
        self._observations: dict[tuple[str, str], Observation] = {}
        self._highest: dict[tuple[str, str], int] = {}  # kept after a deletion: tokens never go back
        self._topics: dict[Target, Topic] = {}
        self._by_namespace: dict[str, set[Target]] = defaultdict(set)
        self._lease_waiters: dict[tuple[str, str], set[asyncio.Event]] = defaultdict(set)
        self.kick = asyncio.Event()  # a Lease changed: the next expiry to wake up for may be another
        self.leases.add_handler(self._on_lease)
        for informer in (self.pods, self.services, self.slices, self.policies):
            if informer is not None:
                informer.add_handler(self._on_change)

    # ---- reading ------------------------------------------------------------------------------
    def serves(self, namespace: str) -> bool:
        return self.namespaces is None or namespace in self.namespaces

    def informers(self) -> list[ScopedInformer[Any]]:
        found: list[ScopedInformer[Any]] = [self.leases, self.pods, self.services, self.slices]
        return found + ([self.policies] if self.policies is not None else [])

    def state(self, target: Target, now: float | None = None) -> LeaderState:
        """The current state of ``target`` (without freshness: ``with_freshness`` adds it)."""
        now = time.monotonic() if now is None else now
        namespace, name = target.namespace, target.name

        def pod(pod_name: str) -> Pod | None:
            return self.pods.get(namespace, pod_name)

        if target.kind is Kind.LEASE:
            lease = self.leases.get(namespace, name)
            return lease_holder_state(target, lease, self.observation(namespace, name), now=now, pods=pod)
        if target.kind is Kind.POOL:
            policy_exists = self.policies is not None and self.policies.get(namespace, name) is not None
            if self.policies is None:
                return pool_state(
                    target, policy_exists=False, lease=None, observation=None, now=now, pods=pod
                )
            lease = self.leases.get(namespace, name)
            return pool_state(
                target,
                policy_exists=policy_exists,
                lease=lease,
                observation=self.observation(namespace, name),
                now=now,
                pods=pod,
            )
        source = self.services.get(namespace, name)
        opted_in = source is not None and is_opted_in(source.metadata.annotations)
        leader_service = None
        slices: list[EndpointSlice] = []
        if source is not None and opted_in:
            leader_name = parse_config(source).config.leader_service_name
            leader_service = self.services.get(namespace, leader_name)
            found = (self.slices.get(namespace, endpoint_slice_name(leader_name, f)) for f in FAMILIES)
            slices = [s for s in found if s is not None]
        return service_state(
            target,
            source_exists=source is not None,
            opted_in=opted_in,
            leader_service=leader_service,
            slices=slices,
            pods=pod,
        )

    def targets(self, namespace: str, kinds: set[Kind]) -> list[Target]:
        """Every pool, managed Service and (when asked) Lease of ``namespace`` the caches hold."""
        found: list[Target] = []
        if Kind.POOL in kinds and self.policies is not None:
            found += [
                Target(Kind.POOL, namespace, p.metadata.name)
                for p in self.policies.items()
                if p.metadata.namespace == namespace
            ]
        if Kind.SERVICE in kinds:
            found += [
                Target(Kind.SERVICE, namespace, s.metadata.name)
                for s in self.services.items()
                if s.metadata.namespace == namespace and is_opted_in(s.metadata.annotations)
            ]
        if Kind.LEASE in kinds:
            found += [
                Target(Kind.LEASE, namespace, lease.metadata.name)
                for lease in self.leases.items()
                if lease.metadata.namespace == namespace
            ]
        return sorted(found, key=lambda t: (t.kind.value, t.namespace, t.name))

    # ---- Lease observations -------------------------------------------------------------------
    def observation(self, namespace: str, name: str) -> Observation | None:
        lease = self.leases.get(namespace, name)
        if lease is None:
            return None
        return self.fold(lease, time.monotonic())

    def fold(self, lease: Lease, now: float) -> Observation:
        """Fold a Lease we were shown (by the watch, or by our own write or read) into the observations."""
        key = (lease.metadata.namespace, lease.metadata.name)
        folded = observe(
            self._observations.get(key), record_of(lease.spec), lease.metadata.resource_version, now
        )
        self._observations[key] = folded
        self._highest[key] = max(self._highest.get(key, 0), folded.record.transitions)
        return folded

    def next_token(self, namespace: str, name: str) -> int:
        """One more than the highest token this server has seen on Lease ``namespace/name``, even one
        since deleted (0 when it never saw one): what a new tenure's token must at least be."""
        highest = self._highest.get((namespace, name))
        return 0 if highest is None else highest + 1

    async def lease_changed(self, namespace: str, name: str, within: float) -> None:
        """Return when Lease ``namespace/name`` changes, or after ``within`` seconds."""
        event = asyncio.Event()
        waiters = self._lease_waiters[(namespace, name)]
        waiters.add(event)
        try:
            async with asyncio.timeout(max(within, 0.0)):
                await event.wait()
        except TimeoutError:
            pass
        finally:
            waiters.discard(event)
            if not waiters:
                self._lease_waiters.pop((namespace, name), None)

    def _on_lease(self, change: Change, old: Lease | None, new: Lease | None) -> None:
        lease = new if new is not None else old
        if lease is None:
            return
        key = (lease.metadata.namespace, lease.metadata.name)
        if new is None:
            self._observations.pop(key, None)
        else:
            self.fold(new, time.monotonic())
        for event in self._lease_waiters.get(key, ()):
            event.set()
        self.kick.set()
        self._refresh(lease.metadata.namespace)

    def _on_change(self, change: Change, old: Any, new: Any) -> None:
        obj = new if new is not None else old
        if obj is not None:
            self._refresh(obj.metadata.namespace)

    # ---- watchers -----------------------------------------------------------------------------
    def _refresh(self, namespace: str) -> None:
        targets = self._by_namespace.get(namespace)
        if not targets:
            return
        now = time.monotonic()
        for target in list(targets):
            self._publish(target, self.state(target, now))

    def refresh_all(self) -> None:
        """Recompute every watched target (an expiry came due, or the freshness changed)."""
        for namespace in list(self._by_namespace):
            self._refresh(namespace)

    def _publish(self, target: Target, state: LeaderState, *, force: bool = False) -> None:
        topic = self._topics.get(target)
        if topic is None or (state.same_as(topic.state) and not force):
            return
        topic.state = state
        for subscriber in topic.subscribers:
            subscriber.offer(state)

    def publish_all(self) -> None:
        """Wake every subscriber with its topic's state (the freshness flag changed)."""
        for topic in self._topics.values():
            for subscriber in topic.subscribers:
                subscriber.offer(topic.state)

    @contextlib.asynccontextmanager
    async def subscribe(self, target: Target) -> AsyncIterator[Subscriber]:
        """A mailbox that is offered every change of ``target``'s state, starting with the current one."""
        topic = self._topics.get(target)
        if topic is None:
            topic = self._topics[target] = Topic(self.state(target))
            self._by_namespace[target.namespace].add(target)
        subscriber = Subscriber()
        topic.subscribers.add(subscriber)
        self.kick.set()
        subscriber.offer(topic.state)
        try:
            yield subscriber
        finally:
            topic.subscribers.discard(subscriber)
            if not topic.subscribers:
                self._topics.pop(target, None)
                self._by_namespace[target.namespace].discard(target)
                if not self._by_namespace[target.namespace]:
                    self._by_namespace.pop(target.namespace, None)

    async def run_expiries(self) -> None:
        """Recompute the watched targets when a holder runs out by our observation: no watch event
        announces that (the Lease did not change), yet the state did."""
        while True:
            now = time.monotonic()
            due = self.next_expiry(now)
            self.kick.clear()
            try:
                async with asyncio.timeout(None if due is None else due - now + 0.01):
                    await self.kick.wait()
            except TimeoutError:
                self.refresh_all()

    def watched(self) -> int:
        return sum(len(topic.subscribers) for topic in self._topics.values())

    def next_expiry(self, now: float) -> float | None:
        """The earliest time a watched Lease's holder runs out by our observation (a state change no
        watch event announces), or None."""
        due = [
            observation.expires_at
            for target in self._topics
            if target.kind in (Kind.POOL, Kind.LEASE)
            and (observation := self._observations.get((target.namespace, target.name))) is not None
            and observation.record.held
            and observation.expires_at > now
        ]
        return min(due, default=None)
