"""What to claim: the leader's plan for a whole namespace, and the fallback's pick for one claimant.

Both choose a claimable for a claimant the same way (``best_match``): one that carries every
required tag, with the most preferred tags, then the first by name — and both honour a reservation
already made (a claimer that crashed between its two writes is finished, not undone).

The difference is coordination. The leader sees every pending claimant at once and hands out
distinct claimables in priority order, so its writes do not collide. A fallback claimer decides for
each claimant on its own, as every replica does, so replicas pick the same claimable and all but one
of their conditional writes fail (409) — safe, but a retry storm under contention.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from zen_lead.claims.core.model import Claimable, Claimant, ClaimState, matches, preference
from zen_lead.claims.core.priority import Priority, by_priority, default_priority


@dataclass(frozen=True, slots=True)
class Bind:
    """Claim ``claimable`` for ``claimant``: reserve it on the claimant first unless ``reserved``."""

    claimant: Claimant
    claimable: Claimable
    reserved: bool  # the claimant already reserves this claimable: only the bind is left


@dataclass(frozen=True, slots=True)
class LeaderPlan:
    binds: tuple[Bind, ...]  # in the order to write them
    unmatched: tuple[Claimant, ...]  # pending, but no free claimable qualifies


def best_match(claimant: Claimant, free: Iterable[Claimable]) -> Claimable | None:
    """The qualifying claimable with the most preferred tags; ties by name."""
    best: Claimable | None = None
    best_key: tuple[int, str] | None = None
    for claimable in free:
        if not matches(claimant, claimable):
            continue
        key = (-preference(claimant, claimable), claimable.name)
        if best_key is None or key < best_key:
            best, best_key = claimable, key
    return best


def choose(claimant: Claimant, free: dict[str, Claimable]) -> Bind | None:
    """The bind for one claimant among ``free`` (by name): its reservation if that still qualifies,
    else its best match."""
    reserved = free.get(claimant.host) if claimant.host is not None else None
    if reserved is not None and matches(claimant, reserved):
        return Bind(claimant, reserved, reserved=True)
    best = best_match(claimant, free.values())
    return None if best is None else Bind(claimant, best, reserved=False)


def leader_plan(state: ClaimState, *, now: float, priority: Priority = default_priority) -> LeaderPlan:
    """Every pending claimant, served in priority order, each with a distinct free claimable.

    Reservations are honoured first (in priority order among themselves): they are claims half made,
    and the claimable they name is free, so finishing them costs nobody a claimable they would
    otherwise get. The rest take their best match from what is left.
    """
    free = {c.name: c for c in state.free}
    ordered = by_priority(state.pending, now=now, priority=priority)
    binds: list[Bind] = []
    rest: list[Claimant] = []
    for claimant in ordered:
        reserved = free.get(claimant.host) if claimant.host is not None else None
        if reserved is not None and matches(claimant, reserved):
            binds.append(Bind(claimant, free.pop(reserved.name), reserved=True))
        else:
            rest.append(claimant)
    unmatched: list[Claimant] = []
    for claimant in rest:
        best = best_match(claimant, free.values())
        if best is None:
            unmatched.append(claimant)
        else:
            binds.append(Bind(claimant, free.pop(best.name), reserved=False))
    return LeaderPlan(binds=tuple(binds), unmatched=tuple(unmatched))


def fallback_order(state: ClaimState, *, now: float, priority: Priority = default_priority) -> list[Claimant]:
    """The fallback serves claimants in the same priority order, one decision at a time."""
    return by_priority(state.pending, now=now, priority=priority)
