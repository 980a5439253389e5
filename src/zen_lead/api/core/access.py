"""Who may call what: the fixed resource attributes each operation is authorised against.

Every request is checked with a SubjectAccessReview for (verb, group, resource) fixed by the
operation — never taken from the request — in the target's namespace, for the target's name. Leaders
are read with the rights that read the objects they are derived from; locks are a resource of their own
(``locks.coordination.kube-zen.io``, not served by the apiserver: RBAC grants it like any other), so
the right to take a lock is not the right to write Leases.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from zen_lead.api.core.leaders import Kind


class Operation(Enum):
    GET = "get"
    LIST = "list"
    WATCH = "watch"
    LOCK_GET = "lock-get"
    LOCK_WRITE = "lock-write"  # acquire, renew, keep-alive, release


@dataclass(frozen=True, slots=True, order=True)
class Attributes:
    verb: str
    group: str
    resource: str
    namespace: str
    name: str  # "" for a list


_OBJECTS = {
    Kind.POOL: ("coordination.kube-zen.io", "leaderpolicies"),
    Kind.SERVICE: ("", "services"),
    Kind.LEASE: ("coordination.k8s.io", "leases"),
}
LOCKS = ("coordination.kube-zen.io", "locks")


def leader_attributes(operation: Operation, kind: Kind, namespace: str, name: str) -> Attributes:
    group, resource = _OBJECTS[kind]
    return Attributes(operation.value, group, resource, namespace, name)


def lock_attributes(operation: Operation, namespace: str, name: str) -> Attributes:
    verb = "get" if operation is Operation.LOCK_GET else "update"
    return Attributes(verb, *LOCKS, namespace, name)


def service_account_namespace(username: str) -> str | None:
    """``system:serviceaccount:<namespace>:<name>`` -> namespace; None for other users."""
    parts = username.split(":")
    if len(parts) == 4 and parts[:2] == ["system", "serviceaccount"] and parts[2]:
        return parts[2]
    return None


@dataclass(frozen=True, slots=True)
class CachePolicy:
    """How long a review's answer is reused: allowed answers longer than denied ones (a grant that is
    taken away takes ``allow_ttl`` to bite; a new grant only ``deny_ttl``)."""

    allow_ttl: float = 10.0
    deny_ttl: float = 2.0

    def ttl(self, allowed: bool) -> float:
        return self.allow_ttl if allowed else self.deny_ttl
