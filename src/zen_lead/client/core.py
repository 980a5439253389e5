"""The client's pure parts: typed values, proto conversion, the lock's loss rule, backoff, the watch's
term filter and the plaintext rule. No I/O, no grpc, clocks passed in (``aio`` and ``sync`` are the
shells around this module, ``tests/unit/client`` property-tests it).

The loss rule (the same as ``zen_lead.election``'s renew deadline): a lock renewed every ``ttl / 6``
is LOST when no renewal succeeded for ``2/3 * ttl``, measured from the moment the last successful
renewal STARTED (its request was sent), on the client's own monotonic clock. The server's Lease
expires ``ttl`` after the renewal it wrote, which is later than anything the client counted from, so
for ``ttl / 3`` minus the clocks' drift nobody else can hold the lock while the client may still
believe it holds it — that margin is what the fence's ``valid()`` protects. Use the token too: hand it
to the storage you write to, so that it refuses the writes of a holder that is late to notice.

The watch guarantee: terms never go backwards in what a watch yields, across reconnects and replicas
(``TermFilter``; the server also waits for ``after_term``), and a state that repeats the last one
(a reconnect's snapshot, a heartbeat) is not yielded again.
"""

from __future__ import annotations

import enum
import ipaddress
import random
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the shells import the generated module; this one only reads its messages
    from google.protobuf.timestamp_pb2 import Timestamp

    from zen_lead.api.pb import zenlead_pb2 as pb

TTL_MIN, TTL_MAX = 2, 3600  # seconds, as the server accepts them (proto: AcquireLockRequest.ttl_seconds)
WAIT_PER_CALL_MAX = 60.0  # the server waits at most this long in one Acquire
HOLDER_MAX = 128
HEARTBEAT_DEFAULT = 15.0  # the server's default heartbeat period (WatchLeaderRequest.heartbeat_seconds)


class Kind(enum.Enum):
    """What a leader is asked of (the values are the proto's ``zenlead.v1.Kind`` numbers)."""

    POOL = 1  # a LeaderPolicy pool
    SERVICE = 2  # a Service annotated zen-lead.io/enabled
    LEASE = 3  # any coordination.k8s.io/v1 Lease

    @classmethod
    def of(cls, value: Kind | str) -> Kind:
        """``Kind.POOL`` or its name in any case (``"pool"``)."""
        if isinstance(value, Kind):
            return value
        try:
            return cls[value.upper()]
        except KeyError:
            names = ", ".join(kind.name.lower() for kind in cls)
            raise ValueError(f"unknown kind {value!r} (one of {names})") from None


@dataclass(frozen=True)
class Target:
    kind: Kind
    namespace: str  # as the server filled it in (the caller's ServiceAccount namespace when asked empty)
    name: str


@dataclass(frozen=True)
class Leader:
    identity: str  # the Lease holder, or the pod name for a Service
    pod: str = ""
    uid: str = ""
    pod_ip: str = ""
    node: str = ""


@dataclass(frozen=True)
class LeaderState:
    """Who leads ``target`` as one server replica saw it. ``leader`` is None when no one leads (then
    ``no_leader_reason`` says why); ``stale`` when the server's view may be out of date."""

    target: Target
    exists: bool
    leader: Leader | None
    term: int
    since: datetime | None = None
    no_leader_reason: str = ""
    stale: bool = False
    stale_seconds: float = 0.0
    served_by: str = ""

    @property
    def has_leader(self) -> bool:
        return self.leader is not None

    def same_as(self, other: LeaderState) -> bool:
        """The same state, whichever replica answered and however long it has been stale."""
        return replace(self, served_by="", stale_seconds=0.0) == replace(
            other, served_by="", stale_seconds=0.0
        )


@dataclass(frozen=True)
class LockInfo:
    """A lock as the server read it (``Locks.Get``, and every renewal's answer)."""

    namespace: str
    name: str
    held: bool
    holder: str
    token: int  # the fencing token: the Lease's leaseTransitions
    ttl_seconds: int
    acquired: datetime | None = None
    renewed: datetime | None = None
    owner: str = ""  # the Kubernetes user that took it through the API


# ---- proto -> values ---------------------------------------------------------------------------
def timestamp(message: Timestamp, *, present: bool) -> datetime | None:
    """A proto Timestamp as an aware UTC datetime (None when the field is absent)."""
    if not present:
        return None
    return datetime.fromtimestamp(message.seconds, tz=UTC).replace(microsecond=message.nanos // 1000)


def leader_state_from_proto(message: pb.LeaderState) -> LeaderState:
    target = message.target
    leader = message.leader
    return LeaderState(
        target=Target(kind=Kind(target.kind), namespace=target.namespace, name=target.name),
        exists=message.exists,
        leader=(
            Leader(
                identity=leader.identity,
                pod=leader.pod,
                uid=leader.uid,
                pod_ip=leader.pod_ip,
                node=leader.node,
            )
            if message.has_leader
            else None
        ),
        term=message.term,
        since=timestamp(message.since, present=message.HasField("since")),
        no_leader_reason=message.no_leader_reason,
        stale=message.stale,
        stale_seconds=message.stale_seconds,
        served_by=message.served_by,
    )


def lock_from_proto(message: pb.Lock) -> LockInfo:
    return LockInfo(
        namespace=message.namespace,
        name=message.name,
        held=message.held,
        holder=message.holder,
        token=message.token,
        ttl_seconds=message.ttl_seconds,
        acquired=timestamp(message.acquired, present=message.HasField("acquired")),
        renewed=timestamp(message.renewed, present=message.HasField("renewed")),
        owner=message.owner,
    )


# ---- locks: timing, the loss rule, the fence ---------------------------------------------------
@dataclass(frozen=True)
class LockTiming:
    """A lock's periods, all derived from its ``ttl`` (whole seconds, ``TTL_MIN`` to ``TTL_MAX``)."""

    ttl: int

    def __post_init__(self) -> None:
        if isinstance(self.ttl, bool) or not isinstance(self.ttl, int) or not TTL_MIN <= self.ttl <= TTL_MAX:
            raise ValueError(f"ttl must be whole seconds from {TTL_MIN} to {TTL_MAX} (got {self.ttl!r})")

    @property
    def renew_interval(self) -> float:
        """How often the lock is renewed: ``ttl / 6``."""
        return self.ttl / 6

    @property
    def renew_deadline(self) -> float:
        """How long without a successful renewal before the lock counts as lost: ``2/3 * ttl``."""
        return self.ttl * 2 / 3

    @property
    def stream_silence(self) -> float:
        """A keep-alive stream that answered nothing for this long (two renewals) is given up, and the
        lock resumed with ``Renew``, while ``renew_deadline - stream_silence`` (``ttl / 3``) is left."""
        return 2 * self.renew_interval


def lock_deadline(renew_started: float, timing: LockTiming) -> float:
    """Until when (local monotonic) a lock may be used after a renewal that STARTED at ``renew_started``."""
    return renew_started + timing.renew_deadline


class LockFence:
    """One tenure of a lock: its token and whether it may still be used.

    ``valid()`` is True until the loss rule says otherwise (or the lock was taken, or released),
    judged on ``clock`` (local monotonic seconds) at the moment of the call. The deadline only moves
    forward: a late answer to an older renewal never shortens it."""

    def __init__(
        self,
        *,
        namespace: str,
        name: str,
        holder: str,
        token: int,
        timing: LockTiming,
        acquire_started: float,
        clock: Callable[[], float],
    ) -> None:
        self.namespace = namespace
        self.name = name
        self.holder = holder
        self.token = token
        self.timing = timing
        self._clock = clock
        self.deadline = lock_deadline(acquire_started, timing)
        self.lost_reason: str | None = None

    def __repr__(self) -> str:
        state = "valid" if self.valid() else f"lost: {self.lost_reason or 'deadline passed'}"
        return f"LockFence({self.namespace}/{self.name}, holder={self.holder!r}, token={self.token}, {state})"

    def valid(self) -> bool:
        return self.lost_reason is None and self._clock() < self.deadline

    def remaining(self) -> float:
        """Seconds until the deadline (<= 0: past it)."""
        return self.deadline - self._clock()

    def renewed(self, started: float) -> None:
        """A renewal that started at ``started`` succeeded."""
        if self.lost_reason is None:
            self.deadline = max(self.deadline, lock_deadline(started, self.timing))

    def lose(self, reason: str) -> None:
        if self.lost_reason is None:
            self.lost_reason = reason


def default_holder(hostname: str, suffix: str) -> str:
    """A holder name unique to one lock object: ``<hostname>-<suffix>``, at most ``HOLDER_MAX``."""
    return f"{hostname[: HOLDER_MAX - len(suffix) - 1]}-{suffix}"


def validate_holder(holder: str) -> str:
    if not 1 <= len(holder) <= HOLDER_MAX:
        raise ValueError(f"holder must be 1 to {HOLDER_MAX} characters (got {len(holder)})")
    return holder


def validate_wait(wait: float | None) -> float | None:
    """``None``: wait forever; else seconds >= 0."""
    if wait is not None and not wait >= 0:
        raise ValueError(f"wait must be None (forever) or >= 0 seconds (got {wait!r})")
    return wait


def acquire_wait(remaining: float | None) -> float:
    """``wait_seconds`` of the next Acquire: what is left of the caller's wait, at most what one call
    may wait (``None``: forever, one call's maximum at a time)."""
    if remaining is None:
        return WAIT_PER_CALL_MAX
    return max(0.0, min(remaining, WAIT_PER_CALL_MAX))


# ---- reconnecting: backoff, the watch filter ---------------------------------------------------
def backoff_delay(attempt: int, *, initial: float, maximum: float, draw: float) -> float:
    """The pause before retry ``attempt`` (0-based): doubling from ``initial`` up to ``maximum``, then
    jittered down by up to half (``draw`` in [0, 1)), so that clients cut off together do not come
    back together."""
    base = min(maximum, initial * 2.0 ** min(attempt, 64))
    return base * (1 - draw / 2)


@dataclass
class Backoff:
    initial: float = 0.2
    maximum: float = 10.0
    draw: Callable[[], float] = field(default=random.random)
    attempt: int = 0

    def next(self) -> float:
        delay = backoff_delay(self.attempt, initial=self.initial, maximum=self.maximum, draw=self.draw())
        self.attempt += 1
        return delay

    def reset(self) -> None:
        self.attempt = 0


class TermFilter:
    """What a watch yields: never a term lower than one already yielded (or than ``after_term``), and
    not the same state twice in a row. ``after_term`` is where a reconnect resumes."""

    def __init__(self, after_term: int = 0) -> None:
        if after_term < 0:
            raise ValueError(f"after_term must be >= 0 (got {after_term})")
        self.after_term = after_term
        self.last: LeaderState | None = None

    def admit(self, state: LeaderState) -> bool:
        if state.term < self.after_term:
            return False
        if self.last is not None and self.last.same_as(state):
            return False
        self.after_term = state.term
        self.last = state
        return True


def watch_silence(heartbeat: float) -> float:
    """A watch stream that delivered nothing (not even a heartbeat) for this long is reconnected."""
    return 2 * heartbeat + 5


# ---- transport ---------------------------------------------------------------------------------
def address_hosts(address: str) -> tuple[str, ...] | None:
    """The hosts of a gRPC target (``host:port``, ``[v6]:port``, ``dns:///host:port``, and each
    address of an ``ipv4:a:p,b:p`` / ``ipv6:[a]:p,[b]:p`` list); None for a Unix socket (``unix:...``)."""
    if address.startswith(("unix:", "unix-abstract:")):
        return None
    if address.startswith(("ipv4:", "ipv6:")):  # gRPC's address lists: one or more, comma-separated
        return tuple(_host(part) for part in address[len("ipv4:") :].split(","))
    for scheme in ("dns:///", "dns:"):
        if address.startswith(scheme):
            address = address[len(scheme) :]
            break
    if address.startswith("/"):  # dns://authority/host:port
        address = address.rsplit("/", 1)[-1]
    return (_host(address),)


def _host(address: str) -> str:
    if address.startswith("["):
        return address[1:].split("]", 1)[0]
    if address.count(":") > 1:  # a bare IPv6 address without a port
        return address
    return address.split(":", 1)[0]


def is_loopback(address: str) -> bool:
    """The target is this machine: a Unix socket, ``localhost`` or a loopback IP address (every one
    of an address list)."""
    hosts = address_hosts(address)
    if hosts is None:
        return True
    return all(_is_loopback_host(host) for host in hosts)


def _is_loopback_host(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def bearer_metadata(token: str | None) -> tuple[tuple[str, str], ...]:
    """The call metadata that carries ``token`` (none without one)."""
    return (("authorization", f"Bearer {token}"),) if token else ()
