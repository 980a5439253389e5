"""The RBAC the pools controller needs in every namespace it manages, apart from the controller so
that the manager (and the chart's renderer) can read it without loading the pools module, which runs
only when enabled."""

from __future__ import annotations

from zen_lead.kube.resources import (
    DEPLOYMENTS,
    ENDPOINT_SLICES,
    EVENTS,
    HPAS,
    LEADER_POLICIES,
    LEASES,
    PODS,
    SERVICES,
    STATEFULSETS,
    Rule,
)

_READ = ("get", "list", "watch")

# The RBAC pools need in every namespace they manage (rendered into the chart by deploy/render.py).
RULES = (
    Rule(LEADER_POLICIES, (*_READ, "patch")),  # patch: the restore-replicas finalizer
    Rule(LEADER_POLICIES, ("patch",), subresource="status"),
    Rule(LEASES, (*_READ, "create", "patch")),
    Rule(PODS, _READ),
    Rule(EVENTS, ("create", "patch")),
    Rule(HPAS, ("list", "watch")),
    Rule(DEPLOYMENTS, ("get", "patch"), subresource="scale"),
    Rule(STATEFULSETS, ("get", "patch"), subresource="scale"),
    # a pool's leader Service (spec.leaderService) and its slices, as the director writes its own
    Rule(SERVICES, (*_READ, "create", "patch", "delete")),
    Rule(ENDPOINT_SLICES, (*_READ, "create", "patch", "delete")),
)
# Writes to member pods: role annotations and, with scaleDown, the leader's pod-deletion cost.
POD_WRITE_RULES = (Rule(PODS, ("patch",)),)
