"""Read-only questions about a Lease: who leads ``name`` now, and is it ``identity``?

Semantics, because a reader cannot observe a Lease over time the way a candidate does:

- no Lease, or a Lease with an empty holder (released): ``current_leader`` is None, ``is_leader`` False;
- a holder whose ``renewTime + leaseDurationSeconds`` lies in the past ON OUR WALL CLOCK: expired,
  so None / False. This is the one place the library compares its clock with a timestamp written by
  another process: with clock skew the answer is wrong by the skew. Use it for dashboards, routing
  hints and "should I bother?" checks, never to decide that it is safe to act — for that, hold the
  Lease yourself (``LeaderElector``, ``lock``) and use the fence.
- a Lease without a parsable ``renewTime`` cannot be judged and counts as held.

Answers are cached per (apiserver, namespace, name) for ``max_age`` seconds (default 1 s), so a
health endpoint polled by many clients costs at most one read per second.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from lightkube import AsyncClient

from zen_lead.election.identity import default_namespace
from zen_lead.election.record import LeaseRecord, expired_by_wall_clock
from zen_lead.election.store import LeaseRef, LeaseStore
from zen_lead.kube.config import async_client

DEFAULT_MAX_AGE = 1.0
READ_TIMEOUT = 5.0


@dataclass(frozen=True, slots=True)
class _Cached:
    record: LeaseRecord | None
    fetched_at: float


_cache: dict[tuple[str, str, str], _Cached] = {}


async def read_record(
    name: str,
    *,
    namespace: str | None = None,
    client: AsyncClient | None = None,
    kubeconfig: str | os.PathLike[str] | None = None,
    max_age: float = DEFAULT_MAX_AGE,
) -> LeaseRecord | None:
    """The Lease's record (None when missing), at most ``max_age`` seconds old.

    Raises ``store.LeaseUnavailable`` when the API cannot be read. Without ``client`` a client is
    made from ``kubeconfig`` for the read and closed again: pass a client when asking often.
    """
    ref = LeaseRef(namespace or default_namespace(), name)
    own = client is None
    api = async_client(kubeconfig) if client is None else client
    try:
        key = (api.config.cluster.server, ref.namespace, ref.name)
        cached = _cache.get(key)
        now = time.monotonic()
        if cached is not None and now - cached.fetched_at < max_age:
            return cached.record
        versioned = await LeaseStore(api, ref).read(limit=READ_TIMEOUT)
    finally:
        if own:
            await api.close()
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


async def current_leader(
    name: str,
    *,
    namespace: str | None = None,
    client: AsyncClient | None = None,
    kubeconfig: str | os.PathLike[str] | None = None,
    max_age: float = DEFAULT_MAX_AGE,
) -> str | None:
    """The identity leading ``name`` now, or None (no Lease, released, or expired — see the module doc)."""
    record = await read_record(
        name, namespace=namespace, client=client, kubeconfig=kubeconfig, max_age=max_age
    )
    return leader_of(record)


async def is_leader(
    name: str,
    identity: str,
    *,
    namespace: str | None = None,
    client: AsyncClient | None = None,
    kubeconfig: str | os.PathLike[str] | None = None,
    max_age: float = DEFAULT_MAX_AGE,
) -> bool:
    """Whether ``identity`` leads ``name`` now (False for a missing, released or expired Lease)."""
    leader = await current_leader(
        name, namespace=namespace, client=client, kubeconfig=kubeconfig, max_age=max_age
    )
    return leader is not None and leader == identity
