"""The order in which a leader serves claimants.

The default is the seed's formula: base 100, +1 per whole minute of the claimant's age, +50 when it
asks for no required and no preferred tags (it can take anything, so serving it early wastes no
scarce host). Ties go to the older claimant (creation time), then to the smaller UID, so every
replica that becomes leader serves the same claimants in the same order.

A ``Priority`` is any function of (claimant, now) to a number: pass your own to the coordinator.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

from zen_lead.claims.core.model import Claimant

Priority = Callable[[Claimant, float], float]

BASE = 100.0
PER_MINUTE = 1.0
UNTAGGED_BONUS = 50.0


def default_priority(claimant: Claimant, now: float) -> float:
    """100 + whole minutes of age (never negative: a clock behind the creation time counts 0) + 50
    when the claimant has no tags at all."""
    age_minutes = max(0, math.floor((now - claimant.created) / 60.0))
    return BASE + PER_MINUTE * age_minutes + (UNTAGGED_BONUS if claimant.untagged else 0.0)


def by_priority(
    claimants: Iterable[Claimant], *, now: float, priority: Priority = default_priority
) -> list[Claimant]:
    """Highest priority first; ties by creation time (older first), then UID."""

    def key(claimant: Claimant) -> tuple[float, float, str]:
        value = priority(claimant, now)
        if math.isnan(value):
            value = -math.inf  # a broken priority function must not scramble the order
        return (-value, claimant.created, claimant.uid)

    return sorted(claimants, key=key)
