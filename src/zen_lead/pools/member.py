"""What a member pod asks about its pool: ``is_leader()`` — answered from the pool's Lease, the one
source of truth, for the pod itself (``POD_NAME`` / ``POD_NAMESPACE``, from the downward API).

- **The Lease decides**: the pod leads when the Lease's holder is its name (and, when zen-lead holds
  the Lease on its behalf and ``POD_UID`` is set, its UID — a pod re-created under the same name is
  another tenure). The answer carries the **term** (``leaseTransitions``): pass it to what you write
  and let the other side reject lower terms — that, not this question, is what makes "only one acts"
  true when a paused ex-leader wakes up.
- A Lease held by a member that campaigns itself counts as held until ``renewTime +
  leaseDurationSeconds`` on this pod's wall clock (a hint with clock skew, as ``election.query`` is);
  one zen-lead holds for a member is written only when the leader changes, so it has no expiry to judge.
- Answers are cached for ``max_age`` seconds (default 1): a health check polled often costs one read a
  second. Sync (``is_leader_sync``) and async twins.
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from zen_lead.constants import ANNOTATION_HELD_BY, ANNOTATION_HOLDER_UID
from zen_lead.election.identity import default_namespace
from zen_lead.election.record import expired_by_wall_clock, record_of
from zen_lead.election.store import LeaseRef
from zen_lead.kube.client import ApiClient
from zen_lead.kube.errors import ApiError
from zen_lead.kube.resources import LEASES
from zen_lead.kube.structs import Lease
from zen_lead.pools.core.decision import held_for

READ_TIMEOUT = 5.0


@dataclass(frozen=True, slots=True)
class PoolRole:
    pool: str
    namespace: str
    pod: str
    leader: str | None  # the pod that leads, or None
    term: int | None  # the Lease's leaseTransitions (None: no Lease)

    @property
    def is_leader(self) -> bool:
        return self.leader is not None and self.leader == self.pod


_cache: dict[tuple[int, str, str, str], tuple[float, PoolRole]] = {}


async def role(
    pool: str,
    *,
    pod: str | None = None,
    namespace: str | None = None,
    client: ApiClient | None = None,
    kubeconfig: str | os.PathLike[str] | None = None,
    max_age: float = 1.0,
) -> PoolRole:
    """Who leads ``pool`` and whether it is this pod (``pod`` defaults to ``POD_NAME``)."""
    me = pod or os.environ.get("POD_NAME") or ""
    if not me:
        raise ValueError(
            "which pod? set POD_NAME from the downward API (fieldRef: metadata.name) or pass pod="
        )
    ref = LeaseRef(pool, namespace or default_namespace(), client=client, kubeconfig=kubeconfig)
    key = (id(client), ref.namespace, pool, me)
    cached = _cache.get(key)
    if cached is not None and time.monotonic() - cached[0] < max_age:
        return cached[1]
    lease = await _read(ref)
    answer = PoolRole(pool, ref.namespace, me, _leader(lease), _term(lease))
    _cache[key] = (time.monotonic(), answer)
    return answer


async def is_leader(pool: str, **kwargs: object) -> bool:
    """Whether this pod leads ``pool`` now (see ``role`` for the arguments)."""
    return (await role(pool, **kwargs)).is_leader  # type: ignore[arg-type]


def is_leader_sync(pool: str, **kwargs: object) -> bool:
    """``is_leader`` for synchronous programs (runs its own event loop; not from inside one)."""
    return asyncio.run(is_leader(pool, **kwargs))


async def _read(ref: LeaseRef) -> Lease | None:
    async with ref.storage() as storage, asyncio.timeout(READ_TIMEOUT):
        try:
            return await storage.client.get(LEASES, ref.namespace, ref.name)
        except ApiError as error:
            if error.not_found:
                return None
            raise


def _leader(lease: Lease | None) -> str | None:
    if lease is None:
        return None
    record = record_of(lease.spec)
    if not record.held:
        return None
    annotations = lease.metadata.annotations
    if annotations.get(ANNOTATION_HELD_BY) == held_for(record.holder, record.transitions):
        own_uid = os.environ.get("POD_UID")
        recorded = annotations.get(ANNOTATION_HOLDER_UID)
        if own_uid and recorded and record.holder == os.environ.get("POD_NAME") and recorded != own_uid:
            return None  # the Lease names a pod of this name that is not this one
        return record.holder
    return None if expired_by_wall_clock(record, datetime.now(UTC)) else record.holder


def _term(lease: Lease | None) -> int | None:
    return None if lease is None else record_of(lease.spec).transitions
