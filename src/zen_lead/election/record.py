"""The functional core of election and locks: Lease records, timing, fencing tokens and the decisions.

Everything here is pure and synchronous: no clock is read and no API is called. The shell
(``claim.py``) passes in the two kinds of time this module knows about:

- ``now`` — the caller's LOCAL MONOTONIC clock (``time.monotonic()``). Every safety decision uses it.
- ``timestamp`` — a wall-clock MicroTime string, only ever WRITTEN into the Lease (``acquireTime``,
  ``renewTime``) for humans and for client-go, never compared with anything.

Like client-go, a candidate never compares its clock with timestamps written by others: a Lease held by
someone else is expired when the record has not changed for ``leaseDurationSeconds`` since *we* first
observed it (``Observation.observed_at``). The holder steps down ``renew_deadline`` after the start of
its last successful renewal. Because the write happened after that start and every other candidate
observed it after the write, the holder always stops first, by at least ``lease_duration -
renew_deadline`` (the grace period) — provided the monotonic clocks of the candidates run at nearly
the same rate (the ratio ``lease_duration / renew_deadline`` is the tolerated rate skew).

The one exception is ``expired_by_wall_clock``, a heuristic for READ-ONLY helpers (``query.py``) that
cannot observe a Lease over time; it must never guard an action.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import datetime

from zen_lead.kube.structs import LeaseSpec
from zen_lead.kube.times import parse_time

#: client-go's JitterFactor: a candidate waits ``retry_period * (1 + random * jitter)`` between tries.
JITTER_FACTOR = 1.2
#: What client-go writes into ``leaseDurationSeconds`` when it releases a Lease.
RELEASED_LEASE_DURATION_SECONDS = 1


# ---- timing ---------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Timing:
    """How long leadership lasts and how often candidates act. Seconds, as floats.

    - ``lease_duration`` — how long a candidate waits, from the moment it first observed the current
      record, before it may take the Lease over from a silent holder. Written to the Lease as
      ``leaseDurationSeconds`` (an integer, so it must be whole seconds). Core components use 15 s.
    - ``renew_deadline`` — how long a leader keeps acting without a successful renewal, measured from
      the start of its last successful one. It then steps down (its work is cancelled). Must be below
      ``lease_duration``; the difference is the time leader work has to stop. Core components use 10 s.
    - ``retry_period`` — how often the leader renews and how often candidates retry (jittered by
      ``jitter_factor`` for candidates, like client-go). Core components use 2 s.
    - ``jitter_factor`` — candidates wait ``retry_period * (1 + random * jitter_factor)``. client-go: 1.2.
    - ``api_timeout`` — the longest any single API call may take; defaults to a third of
      ``renew_deadline`` so that a hung call never delays a step-down and two more tries fit before
      the deadline. Each renewal call is further capped by the time left before the deadline.

    Validation follows client-go: ``lease_duration > renew_deadline > jitter_factor * retry_period``,
    all positive.
    """

    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0
    jitter_factor: float = JITTER_FACTOR
    api_timeout: float | None = None

    def __post_init__(self) -> None:
        problems = timing_problems(self)
        if problems:
            raise ValueError("invalid leader-election timing: " + "; ".join(problems))

    @property
    def lease_duration_seconds(self) -> int:
        return int(self.lease_duration)

    @property
    def call_timeout(self) -> float:
        return self.api_timeout if self.api_timeout is not None else self.renew_deadline / 3

    @classmethod
    def for_ttl(cls, ttl: float) -> Timing:
        """Timing for a lock held for ``ttl`` seconds: renew every ttl/6, give up after 2/3 of it."""
        lease = float(math.ceil(ttl))
        return cls(lease_duration=lease, renew_deadline=lease * 2 / 3, retry_period=lease / 6)


def timing_problems(timing: Timing) -> list[str]:
    """Every rule ``timing`` breaks, as sentences naming the values (empty when valid)."""
    ld, rd, rp, jf = timing.lease_duration, timing.renew_deadline, timing.retry_period, timing.jitter_factor
    problems = [
        f"{label} must be greater than zero (got {value!r})"
        for label, value in (("lease_duration", ld), ("renew_deadline", rd), ("retry_period", rp))
        if not value > 0  # also rejects NaN
    ]
    if not jf >= 0:
        problems.append(f"jitter_factor must be zero or more (got {jf!r})")
    if problems:
        return problems
    if ld != int(ld):
        problems.append(
            f"lease_duration must be a whole number of seconds (got {ld!r}): the Lease stores "
            "leaseDurationSeconds as an integer"
        )
    if not ld > rd:
        problems.append(
            f"lease_duration ({ld:g}s) must be greater than renew_deadline ({rd:g}s): the leader must stop "
            "acting before the others may take over"
        )
    if not rd > jf * rp:
        problems.append(
            f"renew_deadline ({rd:g}s) must be greater than jitter_factor x retry_period "
            f"({jf:g} x {rp:g}s = {jf * rp:g}s): the leader needs time for more than one renewal attempt"
        )
    if timing.api_timeout is not None and not 0 < timing.api_timeout < rd:
        problems.append(
            f"api_timeout ({timing.api_timeout!r}s) must be greater than zero and below "
            f"renew_deadline ({rd:g}s)"
        )
    return problems


def jittered(period: float, factor: float, rand: float) -> float:
    """client-go's ``wait.Jitter``: ``period * (1 + rand * factor)`` for ``rand`` in [0, 1)."""
    return period * (1.0 + rand * factor)


# ---- the record -----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class LeaseRecord:
    """The five ``spec`` fields of a ``coordination.k8s.io/v1`` Lease that election uses.

    Missing fields read as client-go reads them: empty holder, zero duration, zero transitions.
    """

    holder: str = ""
    lease_duration_seconds: int = 0
    acquire_time: str | None = None
    renew_time: str | None = None
    transitions: int = 0

    @property
    def held(self) -> bool:
        return self.holder != ""


def record_of(spec: LeaseSpec) -> LeaseRecord:
    """Read a spec the way client-go's ``LeaseSpecToLeaderElectionRecord`` does (missing -> zero)."""
    return LeaseRecord(
        holder=spec.holder_identity or "",
        lease_duration_seconds=spec.lease_duration_seconds or 0,
        acquire_time=spec.acquire_time,
        renew_time=spec.renew_time,
        transitions=spec.lease_transitions or 0,
    )


@dataclass(frozen=True, slots=True)
class Observation:
    """A record as one candidate saw it, with the local monotonic time it FIRST saw that record."""

    record: LeaseRecord
    resource_version: str
    observed_at: float

    @property
    def expires_at(self) -> float:
        """Local monotonic time after which a silent holder may be replaced."""
        return self.observed_at + self.record.lease_duration_seconds

    def expired(self, now: float) -> bool:
        return now >= self.expires_at


def observe(
    previous: Observation | None, record: LeaseRecord, resource_version: str, now: float
) -> Observation:
    """Fold a freshly read record into what we knew: the clock restarts only when the record changed.

    Like client-go (which compares the raw record), any change of the five fields restarts the
    observation, a change elsewhere in the object (labels, managed fields) does not.
    """
    if previous is not None and previous.record == record:
        return replace(previous, resource_version=resource_version)
    return Observation(record=record, resource_version=resource_version, observed_at=now)


# ---- fencing --------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class FencingToken:
    """Lease namespace/name plus ``leaseTransitions``: grows with every acquisition of that Lease.

    Give it to a downstream system (a database, an object store) with every write; the system keeps
    the highest token it has seen per lease and rejects lower ones. That — not the elector — is what
    makes "only one leader acts" true when a paused or partitioned ex-leader wakes up.
    Tokens of different Leases are not comparable (comparing them raises ``ValueError``).
    """

    namespace: str
    name: str
    transitions: int

    @property
    def lease(self) -> str:
        return f"{self.namespace}/{self.name}"

    def _same_lease(self, other: object) -> FencingToken:
        if not isinstance(other, FencingToken):
            raise TypeError(f"cannot compare a FencingToken with {type(other).__name__}")
        if (self.namespace, self.name) != (other.namespace, other.name):
            raise ValueError(f"fencing tokens of different leases are not comparable: {self} vs {other}")
        return other

    def __lt__(self, other: object) -> bool:
        return self.transitions < self._same_lease(other).transitions

    def __le__(self, other: object) -> bool:
        return self.transitions <= self._same_lease(other).transitions

    def __gt__(self, other: object) -> bool:
        return self.transitions > self._same_lease(other).transitions

    def __ge__(self, other: object) -> bool:
        return self.transitions >= self._same_lease(other).transitions

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}#{self.transitions}"


# ---- decisions ------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Create:
    """No Lease exists: create it holding this record (409 AlreadyExists means someone was faster)."""

    record: LeaseRecord


@dataclass(frozen=True, slots=True)
class Update:
    """Write this record, on the condition that the Lease is still at ``resource_version``."""

    record: LeaseRecord
    resource_version: str


@dataclass(frozen=True, slots=True)
class Wait:
    """Someone else holds a Lease we have not seen expire; try again at ``until`` (local monotonic)."""

    holder: str
    until: float


Plan = Create | Update | Wait


def plan_acquire(
    observation: Observation | None,
    *,
    identity: str,
    lease_duration_seconds: int,
    now: float,
    timestamp: str,
    min_transitions: int = 0,
) -> Plan:
    """What a candidate that does NOT currently lead should do, given the latest observation.

    - no Lease: create it (transitions start at ``min_transitions``, the highest we ever saw + 1, so a
      deleted and re-created Lease does not hand out old tokens again — within this process);
    - held by someone else and not expired by our own clock: wait until it would expire;
    - free (empty holder, i.e. released), expired, or naming us from an earlier tenure: take it, as a
      NEW tenure — ``leaseTransitions`` + 1, fresh ``acquireTime``. The write carries the observed
      ``resourceVersion``, so it fails if anyone renewed or took the Lease in the meantime.
    """
    if not identity:
        raise ValueError("identity must not be empty")
    if observation is None:
        return Create(_held_record(identity, lease_duration_seconds, timestamp, max(0, min_transitions)))
    record = observation.record
    if record.held and record.holder != identity and not observation.expired(now):
        return Wait(holder=record.holder, until=observation.expires_at)
    transitions = max(record.transitions + 1, min_transitions)
    return Update(
        record=_held_record(identity, lease_duration_seconds, timestamp, transitions),
        resource_version=observation.resource_version,
    )


def renewed(record: LeaseRecord, *, lease_duration_seconds: int, timestamp: str) -> LeaseRecord:
    """The record a leader writes to renew: same holder, acquireTime and transitions; new renewTime."""
    return replace(record, lease_duration_seconds=lease_duration_seconds, renew_time=timestamp)


def released(record: LeaseRecord, *, timestamp: str) -> LeaseRecord:
    """What client-go writes on release: no holder, ``leaseDurationSeconds: 1``, same transitions.

    A candidate (ours or client-go's) takes an empty-holder Lease at its next try, without waiting.
    """
    return LeaseRecord(
        holder="",
        lease_duration_seconds=RELEASED_LEASE_DURATION_SECONDS,
        acquire_time=timestamp,
        renew_time=timestamp,
        transitions=record.transitions,
    )


def still_ours(record: LeaseRecord | None, *, identity: str, transitions: int) -> bool:
    """True when the Lease still shows our tenure (same holder, same transitions)."""
    return record is not None and record.holder == identity and record.transitions == transitions


def supersedes(record: LeaseRecord, *, transitions: int) -> bool:
    """True when a record can only have been written after our tenure began by someone else.

    Every acquisition increments ``leaseTransitions``, so a higher value proves a newer tenure; a
    lower or equal one may be a stale event still in flight from before ours.
    """
    return record.transitions > transitions


def leader_deadline(renew_started: float, timing: Timing) -> float:
    """Until when (local monotonic) a leader may act after a renewal that STARTED at ``renew_started``."""
    return renew_started + timing.renew_deadline


def next_try_at(observation: Observation | None, *, now: float, delay: float, failed: bool = False) -> float:
    """When a waiting candidate tries again: after ``delay``, or earlier when the holder's lease runs out.

    After a try that could not reach the API (``failed``) it is always ``delay``: the last observation
    may show a lease that ran out long ago, and "earlier" would then be "at once", again and again — a
    candidate spinning on a refused connection."""
    candidate = now + delay
    if failed:
        return candidate
    if observation is not None and observation.record.held:
        return min(candidate, max(now, observation.expires_at))
    return candidate


def expired_by_wall_clock(record: LeaseRecord, wall_now: datetime) -> bool:
    """READ-ONLY heuristic: ``renewTime + leaseDurationSeconds`` has passed on OUR wall clock.

    This compares our clock with a timestamp written by another machine, so clock skew makes it
    wrong by the skew. It is acceptable for display and routing hints (``query.py``), never to decide
    that it is safe to act. A record without a parsable ``renewTime`` cannot be judged and counts as
    not expired.
    """
    if not record.held:
        return True
    renewed_at = parse_time(record.renew_time)
    if renewed_at is None:
        return False
    return wall_now.timestamp() - renewed_at >= record.lease_duration_seconds


def _held_record(identity: str, lease_duration_seconds: int, timestamp: str, transitions: int) -> LeaseRecord:
    return LeaseRecord(
        holder=identity,
        lease_duration_seconds=lease_duration_seconds,
        acquire_time=timestamp,
        renew_time=timestamp,
        transitions=transitions,
    )
