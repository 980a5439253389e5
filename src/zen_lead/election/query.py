"""Read-only questions about a Lease: who leads ``name`` now, and is it ``identity``?

Semantics, because a reader cannot observe a Lease over time the way a candidate does:

- no Lease, or a Lease with an empty holder (released): ``current_leader`` is None, ``is_leader`` False;
- a holder whose ``renewTime + leaseDurationSeconds`` lies in the past ON OUR WALL CLOCK: expired,
  so None / False. This is the one place the library compares its clock with a timestamp written by
  another process: with clock skew the answer is wrong by the skew. Use it for dashboards, routing
  hints and "should I bother?" checks, never to decide that it is safe to act — for that, hold the
  Lease yourself (``LeaderElector``, ``lock``) and use the fence.
- a Lease without a parsable ``renewTime`` cannot be judged and counts as held.

Answers are cached per (client, namespace, name) for ``max_age`` seconds (default 1 s), so a
health endpoint polled by many clients costs at most one read per second.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime

from zen_lead.election.record import LeaseRecord, expired_by_wall_clock
from zen_lead.election.store import LeaseRef

DEFAULT_MAX_AGE = 1.0
READ_TIMEOUT = 5.0


@dataclass(frozen=True, slots=True)
class _Cached:
    record: LeaseRecord | None
    fetched_at: float


_cache: dict[tuple[int, str, str], _Cached] = {}


async def read_record(lease: str | LeaseRef, *, max_age: float = DEFAULT_MAX_AGE) -> LeaseRecord | None:
    """The Lease's record (None when missing), at most ``max_age`` seconds old.

    Raises ``store.LeaseUnavailable`` when the API cannot be read. A ``LeaseRef`` without a client
    makes one from its kubeconfig for the read and closes it again: pass a client when asking often.
    """
    ref = LeaseRef.of(lease)
    # Cached per client (a client is one apiserver and one identity) or per kubeconfig path.
    key = (id(ref.client) if ref.client is not None else hash(str(ref.kubeconfig)), ref.namespace, ref.name)
    cached = _cache.get(key)
    if cached is not None and time.monotonic() - cached.fetched_at < max_age:
        return cached.record
    async with ref.storage() as storage:
        versioned = await storage.read(limit=READ_TIMEOUT)
    record = None if versioned is None else versioned.record
    _cache[key] = _Cached(record, time.monotonic())
    return record


def leader_of(record: LeaseRecord | None, *, wall_now: datetime | None = None) -> str | None:
    """The holder of ``record`` unless it is missing, released or expired by our wall clock."""
    if record is None or not record.held:
        return None
    if expired_by_wall_clock(record, wall_now or datetime.now(UTC)):
        return None
    return record.holder


async def current_leader(lease: str | LeaseRef, *, max_age: float = DEFAULT_MAX_AGE) -> str | None:
    """The identity leading ``lease`` now, or None (no Lease, released, or expired — see the module doc)."""
    return leader_of(await read_record(lease, max_age=max_age))


async def is_leader(lease: str | LeaseRef, identity: str, *, max_age: float = DEFAULT_MAX_AGE) -> bool:
    """Whether ``identity`` leads ``lease`` now (False for a missing, released or expired Lease)."""
    leader = await current_leader(lease, max_age=max_age)
    return leader is not None and leader == identity
