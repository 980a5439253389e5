"""Claims: one elected replica hands out shared resources in priority order; without a leader every
replica falls back to fenced optimistic claiming. An opt-in library for any controller.

- ``ClaimDescriptor`` — which kinds claim which (a Machine claims a Host), and the fields involved;
- ``ClaimCoordinator`` — the runnable every replica runs (Lease ``<name>-claim-coordinator-leader``);
- ``ClaimCoordinatorOptions`` and the flag helpers ``claim_coordinator_click_options`` /
  ``add_claim_coordinator_arguments`` + ``claim_coordinator_options`` (argparse);
- ``ClaimMetrics`` — the four metric families, under a prefix you choose;
- ``default_priority`` / ``Priority`` — the seed's formula, or your own.

Safety comes from the writes, not from the election: every claim is conditional writes in a fixed
order (``core.steps``: fence the claimable a reservation leaves, reserve on the claimant, bind the
claimable), so no claimable ever has two consumers and no claimant is the consumer of two, whether a
leader coordinates, a paused ex-leader wakes up, or every replica claims at once. The election
buys order and the absence of conflicts. See docs/claims.md.
"""

from zen_lead.claims.coordinator import ClaimCoordinator, lease_name
from zen_lead.claims.core.model import Claimable, Claimant, ClaimState, claim_state
from zen_lead.claims.core.priority import Priority, by_priority, default_priority
from zen_lead.claims.descriptor import ClaimDescriptor
from zen_lead.claims.leadership import DuplicateIdentityError
from zen_lead.claims.metrics import ClaimMetrics
from zen_lead.claims.options import (
    ClaimCoordinatorOptions,
    ClaimOptionError,
    add_claim_coordinator_arguments,
    claim_coordinator_click_options,
    claim_coordinator_options,
    parse_duration,
)

__all__ = [
    "ClaimCoordinator",
    "ClaimCoordinatorOptions",
    "ClaimDescriptor",
    "ClaimMetrics",
    "ClaimOptionError",
    "ClaimState",
    "Claimable",
    "Claimant",
    "DuplicateIdentityError",
    "Priority",
    "add_claim_coordinator_arguments",
    "by_priority",
    "claim_coordinator_click_options",
    "claim_coordinator_options",
    "claim_state",
    "default_priority",
    "lease_name",
    "parse_duration",
]
