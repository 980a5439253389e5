"""Claimants and claimables as plain values, and the claim state derived from them.

A claim is two pointers, each written conditionally on its object's resourceVersion:

- the claimant's *reservation* (``Claimant.host``): which claimable it takes — written first;
- the claimable's *consumer* (``Claimable.consumer``): which claimant holds it — written second.

A claimant **holds** a claimable when both point at each other. Each pointer is one field, so a
claimable never has two consumers and a claimant never reserves two claimables. That a claimant is
never the *consumer* of two claimables (a provisioner acting on the consumer alone would take both)
needs more than one field: the order of writes in ``core.steps``.

The in-between states, each resolved by whoever processes the claimant next (leader or fallback):

- reserved, the claimable free: restamp the reservation and bind it;
- reserved, the claimable taken by another or gone: fence the old claimable, reserve another, bind;
- a consumer whose claimant reserves something else (written by a claimer that does not follow
  ``core.steps``, or changed by hand) or no longer exists: the claim is *suspect*; the shell reads
  the claimant live and releases the claim only if the live claimant confirms it (``release_reason``).

A consumer whose claimant reserves nothing counts as held: it is what a claimer that predates
reservations writes (the seed's plain optimistic claiming), so a mixed fleet during a migration
keeps its claims.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Claimant:
    """Something that needs one claimable (a Machine needing a Host)."""

    namespace: str
    name: str
    uid: str
    created: float  # creation time, seconds since the epoch
    required: frozenset[str] = frozenset()
    preferred: frozenset[str] = frozenset()
    host: str | None = None  # the reservation: a claimable's name in the same namespace
    deleting: bool = False

    @property
    def untagged(self) -> bool:
        return not self.required and not self.preferred


@dataclass(frozen=True, slots=True)
class Consumer:
    name: str
    uid: str


@dataclass(frozen=True, slots=True)
class Claimable:
    """Something held by at most one claimant (a Host)."""

    namespace: str
    name: str
    tags: frozenset[str] = frozenset()
    consumer: Consumer | None = None
    deleting: bool = False


@dataclass(frozen=True, slots=True)
class ClaimState:
    """One namespace's claims, as derived from the cluster (never stored: a new leader derives it again)."""

    held: Mapping[str, str]  # claimant name -> claimable name, both pointers agree
    pending: tuple[Claimant, ...]  # claimants that hold nothing and are not being deleted
    free: tuple[Claimable, ...]  # claimables without a consumer, not being deleted
    suspect: tuple[Claimable, ...]  # consumer not seen (deleted?) or reserving another claimable
    holders: Mapping[str, str] = field(default_factory=dict)  # claimable name -> claimant name


def claim_state(claimants: Iterable[Claimant], claimables: Iterable[Claimable]) -> ClaimState:
    """Who holds what, who waits, what is free and what is orphaned — from the two pointers alone."""
    by_name = {c.name: c for c in claimants}
    by_uid = {c.uid: c for c in by_name.values()}
    hosts = {h.name: h for h in claimables}
    held: dict[str, str] = {}
    suspect: list[Claimable] = []
    free: list[Claimable] = []
    for host in sorted(hosts.values(), key=lambda h: h.name):
        consumer = host.consumer
        if consumer is None:
            if not host.deleting:
                free.append(host)
            continue
        claimant = by_uid.get(consumer.uid)
        if claimant is not None and claimant.host in (host.name, None) and claimant.name not in held:
            held[claimant.name] = host.name
        else:
            suspect.append(host)
    pending = tuple(
        c for c in sorted(by_name.values(), key=lambda c: c.name) if c.name not in held and not c.deleting
    )
    return ClaimState(
        held=held,
        pending=pending,
        free=tuple(free),
        suspect=tuple(suspect),
        holders={h: c for c, h in held.items()},
    )


def matches(claimant: Claimant, claimable: Claimable) -> bool:
    """A claimable qualifies when it carries every required tag of the claimant."""
    return claimant.required <= claimable.tags


def preference(claimant: Claimant, claimable: Claimable) -> int:
    """How many of the claimant's preferred tags the claimable carries."""
    return len(claimant.preferred & claimable.tags)


def release_reason(claimable: Claimable, live: Claimant | None) -> str | None:
    """Why a claim must be released, judged on the claimant as read live just now (None: keep it).

    Only a live read may release: a cache that has not yet seen a new claimant, or its reservation,
    would otherwise release a claim that is being made."""
    consumer = claimable.consumer
    if consumer is None:
        return None
    if live is None or live.uid != consumer.uid:
        return f"its claimant {consumer.name} ({consumer.uid}) no longer exists"
    if live.host is not None and live.host != claimable.name:
        return f"its claimant {consumer.name} reserves {live.host} instead"
    return None
