"""The claim coordinator's metrics, under a prefix the embedding controller chooses (``zen_lead`` by
default), so a provider keeps its own namespace of metric names:

- ``<prefix>_claim_coordinator_leader_election_total{namespace,event_type}`` — ``became_leader``,
  ``lost_leadership``, ``new_leader`` (another replica observed taking the Lease);
- ``<prefix>_claim_coordinator_results_total{namespace,result_type}`` — per claim decision:
  ``claimed`` (leader), ``fallback_claimed``, ``conflict`` (a 409: someone wrote first), ``no_match``,
  ``delegated``, ``released``, ``error``;
- ``<prefix>_claim_coordinator_processing_duration_seconds{namespace,result_type}`` — the time of
  each decision's writes, by the same result types;
- ``<prefix>_claim_coordinator_leadership_duration_seconds{namespace,identity}`` — each tenure's
  length, observed when it ends. ``identity`` is a replica's, a handful per coordinator.
"""

from __future__ import annotations

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram

RESULTS = ("claimed", "fallback_claimed", "conflict", "no_match", "delegated", "released", "error")
EVENTS = ("became_leader", "lost_leadership", "new_leader")
DURATION_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
TENURE_BUCKETS = (1.0, 5.0, 15.0, 60.0, 300.0, 1800.0, 3600.0, 6 * 3600.0, 24 * 3600.0)


class ClaimMetrics:
    """One set per prefix and registry (registering a name twice in a registry is an error)."""

    def __init__(self, prefix: str = "zen_lead", registry: CollectorRegistry | None = REGISTRY) -> None:
        if not prefix.replace("_", "a").isalnum() or prefix[0].isdigit():
            raise ValueError(
                f"metric prefix {prefix!r}: letters, digits and '_' only, not starting with a digit"
            )
        base = f"{prefix}_claim_coordinator"
        self.leader_election = Counter(
            f"{base}_leader_election_total",
            "Leader-election events of the claim coordinator.",
            ["namespace", "event_type"],
            registry=registry,
        )
        self.results = Counter(
            f"{base}_results_total",
            "Claim decisions by result.",
            ["namespace", "result_type"],
            registry=registry,
        )
        self.processing = Histogram(
            f"{base}_processing_duration_seconds",
            "Time of each claim decision's API writes, by result.",
            ["namespace", "result_type"],
            buckets=DURATION_BUCKETS,
            registry=registry,
        )
        self.leadership = Histogram(
            f"{base}_leadership_duration_seconds",
            "Length of each claim-coordinator tenure, observed when it ends.",
            ["namespace", "identity"],
            buckets=TENURE_BUCKETS,
            registry=registry,
        )

    def result(self, namespace: str, result_type: str, seconds: float | None = None) -> None:
        self.results.labels(namespace, result_type).inc()
        if seconds is not None:
            self.processing.labels(namespace, result_type).observe(seconds)

    def event(self, namespace: str, event_type: str) -> None:
        self.leader_election.labels(namespace, event_type).inc()
