"""The RBAC the manuallocks controller needs in every namespace it manages, apart from the controller
so that the manager (and the chart's renderer) can read it without loading the module, which runs only
when enabled."""

from __future__ import annotations

from zen_lead.kube.resources import EVENTS, LEASES, MANUAL_LOCKS, Rule

_READ = ("get", "list", "watch")

RULES = (
    Rule(MANUAL_LOCKS, (*_READ, "update", "patch")),  # patch: the release-lock finalizer
    Rule(MANUAL_LOCKS, ("update", "patch"), subresource="status"),
    # where OwnerReferencesPermissionEnforcement is on, setting finalizers needs this too
    Rule(MANUAL_LOCKS, ("update",), subresource="finalizers"),
    Rule(LEASES, (*_READ, "create", "update", "patch")),  # any Lease a ManualLock names
    Rule(EVENTS, ("create", "patch")),
)
