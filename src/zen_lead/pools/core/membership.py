"""Who is a member of which pool: the two annotations users put on pod templates.

A pod is a member of pool ``P`` (a LeaderPolicy named ``P`` in its namespace) when it carries
``zen-lead/pool: P`` **and** ``zen-lead/join: "true"`` (exactly that string, as ``zen-lead.io/enabled``
is for Services). Anything else with a pool annotation is not a member and is told why (a Warning Event
on the pod): a missing or malformed join, a pool name that is not a Kubernetes name, a policy that does
not exist. ``zen-lead/campaign: "true"`` marks a member that runs an elector on the pool's Lease itself
(zen-lead's ``LeaderElector`` or client-go's, with the pod name as identity).
"""

from __future__ import annotations

import re
from collections.abc import Container
from typing import NamedTuple

from zen_lead.constants import ANNOTATION_CAMPAIGN, ANNOTATION_JOIN, ANNOTATION_POOL
from zen_lead.kube.structs import Pod

_NAME = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
TRUE = "true"


class Membership(NamedTuple):
    """``pool``: the pool the pod names (None: none); ``member``: it is one; ``problem``: why not."""

    pool: str | None
    member: bool
    campaigns: bool
    problem: str | None


def pool_of(pod: Pod) -> str | None:
    """The pool a pod's annotation names, member or not (the index key of the pools controller)."""
    return pod.metadata.annotations.get(ANNOTATION_POOL) or None


def membership(pod: Pod, policies: Container[str]) -> Membership:
    """Whether ``pod`` is a member of the pool it names; ``policies``: the LeaderPolicies that exist
    in its namespace."""
    annotations = pod.metadata.annotations
    pool = annotations.get(ANNOTATION_POOL)
    if pool is None:
        return Membership(None, False, False, None)
    join = annotations.get(ANNOTATION_JOIN)
    campaigns = annotations.get(ANNOTATION_CAMPAIGN) == TRUE
    if len(pool) > 253 or not _NAME.fullmatch(pool):
        message = f"{ANNOTATION_POOL}={pool!r} is not a LeaderPolicy name (a DNS subdomain): not a member"
        return Membership(pool, False, campaigns, message)
    if join != TRUE:
        shown = "missing" if join is None else repr(join)
        message = (
            f'{ANNOTATION_POOL}={pool!r} without {ANNOTATION_JOIN}: "true" ({ANNOTATION_JOIN} is {shown}): '
            "not a member"
        )
        return Membership(pool, False, campaigns, message)
    if pool not in policies:
        message = f"no LeaderPolicy {pool!r} in namespace {pod.metadata.namespace}: not a member"
        return Membership(pool, False, campaigns, message)
    return Membership(pool, True, campaigns, None)
