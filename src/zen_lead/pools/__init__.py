"""Pools: one leader pod per LeaderPolicy (``coordination.kube-zen.io/v1alpha1``), an opt-in module.

For applications, the public face is the member's question: ``is_leader(pool)`` (async),
``is_leader_sync(pool)``, ``role(pool)`` -> ``PoolRole`` (leader, term) — see ``pools.member``.

Inside (the controller, ``zen-lead run --controllers=*,pools``): ``core`` (pure: membership, the plan
of one pool, status, Events, role annotations) <- ``tracker`` <- ``scaledown``, ``reconcile`` <-
``controller``. docs/pools.md is the guide.
"""

from zen_lead.pools.member import PoolRole, is_leader, is_leader_sync, role

__all__ = ["PoolRole", "is_leader", "is_leader_sync", "role"]
