"""The manager's options: controller-runtime flag names where they exist, each also settable from an
environment variable ``ZEN_LEAD_<FLAG>`` (``--qps`` -> ``ZEN_LEAD_QPS``)."""

from __future__ import annotations

from dataclasses import dataclass

from zen_lead.election.identity import default_identity, own_namespace

__all__ = ["ManagerOptions", "default_identity", "own_namespace"]

# Client-side limits sized for a node-death burst: ~500 failovers at one write each clear in well under
# a second on a healthy apiserver (see docs/decisions.md). The apiserver's priority-and-fairness still
# protects it; 429s are honoured with Retry-After.
DEFAULT_QPS = 500.0
DEFAULT_BURST = 1000
DEFAULT_WORKERS = 64


@dataclass(frozen=True, slots=True)
class ManagerOptions:
    kubeconfig: str | None
    namespaces: list[str] | None  # None = all namespaces
    metrics_bind_address: str
    health_probe_bind_address: str
    leader_elect: bool
    leader_election_id: str
    leader_election_namespace: str
    lease_duration: float
    renew_deadline: float
    retry_period: float
    qps: float
    burst: int
    workers: int
    node_zones: bool
    log_level: str
    log_format: str
    identity: str
    controllers: frozenset[str] = frozenset({"director"})
    addresses_file: str | None = None  # where to write the bound addresses as JSON
    startup_grace: float = 60.0  # --startup-grace: a new leader Service's wait before NoEligiblePod
