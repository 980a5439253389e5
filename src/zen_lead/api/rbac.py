"""The RBAC the status API needs, apart from the server so that the manager and the chart's renderer
can read it without loading the API (grpcio), which loads only when enabled.

In every managed namespace it reads what leaders are derived from and writes Leases for locks; the
token and access reviews come from the ``system:auth-delegator`` ClusterRole, bound only when the API
is enabled (chart value ``api.enabled``)."""

from __future__ import annotations

from zen_lead.kube.resources import ENDPOINT_SLICES, LEASES, PODS, SERVICES, Rule

_READ = ("get", "list", "watch")

RULES = (
    Rule(LEASES, (*_READ, "create", "patch")),  # create, patch: locks taken through the API
    Rule(PODS, _READ),
    Rule(SERVICES, _READ),
    Rule(ENDPOINT_SLICES, _READ),
)
#: The ClusterRole whose binding lets the server create TokenReviews and SubjectAccessReviews.
AUTH_DELEGATOR = "system:auth-delegator"
