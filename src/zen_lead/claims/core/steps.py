"""The writes of one claim attempt, in order — what keeps a claimant from being bound to two claimables.

Kubernetes has no transaction over two objects, so a bind (the claimable's consumer, conditional on
the *claimable's* version) cannot also be conditional on the claimant's reservation. Left alone, two
writers race like this: A reserves X for C and is about to bind X; B sees C's reservation of X lose
to another claimant's, reserves Y for C and binds Y; A's bind of X lands too, because X did not
change — C is now the consumer of two claimables. Three rules close it:

1. **Every attempt writes the claimant first**, even when the reservation already names its target
   (a *restamp*), and the write always changes the object (a fresh ``attempt`` nonce), so the
   attempts on one claimant are totally ordered by its resourceVersion.
2. **An attempt binds on the claimable version it read before its own claimant write** (decide
   first, then write), never on one read later.
3. **An attempt that moves a reservation from P to T fences P first**: a write to P, conditional on
   the version of P it decided on, that changes P's resourceVersion. An earlier attempt's bind of P
   was decided on a version of P older than that attempt's claimant write, which is older than this
   fence, so it fails (409). If that bind had already landed, P is bound to C, the fence (on the
   version without it) fails instead, and this attempt gives up — C holds P.

``tests/unit/claims/test_steps.py`` interleaves attempts of several writers at random and checks after
every write that no claimant is the consumer of two claimables; dropping any rule makes it fail.
"""

from __future__ import annotations

from dataclasses import dataclass

from zen_lead.claims.core.plan import Bind


@dataclass(frozen=True, slots=True)
class Fence:
    """Change ``claimable``'s version (conditional on the one decided on): binds in flight on it fail."""

    claimable: str


@dataclass(frozen=True, slots=True)
class Reserve:
    """The claimant's reservation of ``claimable``, conditional on the claimant's version, always a change."""

    claimable: str


@dataclass(frozen=True, slots=True)
class Commit:
    """The claimable's consumer, conditional on the claimable version decided on (before ``Reserve``)."""

    claimable: str


Step = Fence | Reserve | Commit


def claim_steps(bind: Bind) -> tuple[Step, ...]:
    """The writes for ``bind``, in order; each must succeed before the next is sent."""
    target = bind.claimable.name
    previous = bind.claimant.host
    fence: tuple[Step, ...] = (Fence(previous),) if previous is not None and previous != target else ()
    return (*fence, Reserve(target), Commit(target))
