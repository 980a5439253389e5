"""Pools: one leader pod per LeaderPolicy (``coordination.kube-zen.io/v1alpha1``), an opt-in module.

For applications, the public face is the member's question: ``is_leader(pool)`` (async),
``is_leader_sync(pool)``, ``role(pool)`` -> ``PoolRole`` (leader, term) — see ``pools.member``.

Inside (the controller, ``zen-lead run --controllers=*,pools``): ``core`` (pure: membership, the plan
of one pool, status, Events, role annotations) <- ``tracker`` <- ``scaledown``, ``reconcile`` <-
``controller``. docs/pools.md is the guide.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from zen_lead.pools.member import PoolRole, is_leader, is_leader_sync, role

__all__ = ["PoolRole", "is_leader", "is_leader_sync", "role"]


def __getattr__(name: str) -> Any:
    """The member API is loaded on first use: the manager imports ``pools.rbac`` without it."""
    if name in __all__:
        from zen_lead.pools import member

        return getattr(member, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
