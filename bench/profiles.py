"""Parameters of a run, per scale: ``full`` (the issue's numbers), ``quick`` (minutes), ``tiny`` (CI).

One profile drives every benchmark, so a quick run exercises exactly the code of a full one.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

# A rare failover in production comes after a quiet time. Idle trials wait longer than httpx's default
# keep-alive expiry (5 s), after which a client of those defaults needs a new connection (TCP + TLS) for
# its write; zen-lead keeps idle connections 60 s (kube.client.KEEPALIVE_EXPIRY), so it should not.
IDLE_SECONDS = 6.0
# Paced trials leave this much time between one trial's end and the next write, so the upstream
# controller's client token bucket (20 QPS, burst 30) refills: a trial costs it 2-4 writes. Without a pause
# trials run ~10 per second and the upstream controller waits for its own rate limiter (measured too, as
# "back to back").
PACE_SECONDS = 0.25


@dataclass(frozen=True, slots=True)
class ElectorTiming:
    """Identical for both electors. The official client needs whole seconds >= 1 and
    ``renew_deadline > 1.2 * retry_period``; ours needs ``lease_duration`` in whole seconds."""

    lease_duration: int
    renew_deadline: float
    retry_period: float


@dataclass(frozen=True, slots=True)
class Profile:
    name: str
    nodes: int
    # benchmark 1: (services, pods per service) measured in namespaces of their own ...
    failover_configs: tuple[tuple[int, int], ...]
    # ... and the large namespace shared by benchmarks 1-3 (also measured for failover)
    big_services: int
    big_pods: int
    ready_trials: int
    delete_trials: int
    idle_trials: int  # readiness trials after ``IDLE_SECONDS`` of quiet, on the large namespace only
    quiet_seconds: float
    churn_pods: int  # non-leader pods flipped NotReady and back (2 pod events each)
    elector_timing: ElectorTiming
    elector_rounds: int
    elector_window: float  # seconds of steady state for CPU and requests per minute
    pools: int  # the pools benchmark: LeaderPolicies, each with a Deployment of ``pool_members`` pods
    pool_members: int = 3
    heartbeat: bool = True
    create_concurrency: int = 64
    burst_concurrency: int = 128
    seed: int = 6
    notes: tuple[str, ...] = field(default_factory=tuple)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


FULL = Profile(
    name="full",
    nodes=20,
    failover_configs=((1, 3), (1, 10), (100, 3), (100, 10), (1000, 3)),
    big_services=1000,
    big_pods=10,
    ready_trials=100,
    delete_trials=50,
    idle_trials=10,
    quiet_seconds=300.0,
    churn_pods=1000,
    elector_timing=ElectorTiming(lease_duration=15, renew_deadline=10.0, retry_period=2.0),
    elector_rounds=5,
    elector_window=60.0,
    pools=1000,
)

QUICK = Profile(
    name="quick",
    nodes=20,
    failover_configs=((1, 3), (1, 10), (100, 3)),
    big_services=100,
    big_pods=10,
    ready_trials=20,
    delete_trials=10,
    idle_trials=3,
    quiet_seconds=30.0,
    churn_pods=100,
    elector_timing=ElectorTiming(lease_duration=4, renew_deadline=3.0, retry_period=1.0),
    elector_rounds=2,
    elector_window=20.0,
    pools=100,
)

TINY = Profile(
    name="tiny",
    nodes=3,
    failover_configs=((1, 3),),
    big_services=6,
    big_pods=3,
    ready_trials=3,
    delete_trials=2,
    idle_trials=1,
    quiet_seconds=5.0,
    churn_pods=4,
    elector_timing=ElectorTiming(lease_duration=3, renew_deadline=2.0, retry_period=1.0),
    elector_rounds=1,
    elector_window=5.0,
    pools=6,
    create_concurrency=16,
    burst_concurrency=16,
)

PROFILES = {p.name: p for p in (FULL, QUICK, TINY)}
