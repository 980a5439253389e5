"""Prometheus metrics of election and locks, defined once at import on the default REGISTRY.

Defining them at module level (never inside a constructor) is what keeps a second elector in the same
process from failing with "Duplicated timeseries"; every elector and lock shares these families and
tells itself apart by the ``lease`` label (``namespace/name``).
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

PREFIX = "zen_lead_election_"

IS_LEADER = Gauge(
    f"{PREFIX}is_leader",
    "1 while this process holds the lease (leader or lock holder), else 0.",
    ["lease"],
)
TRANSITIONS = Counter(
    f"{PREFIX}transitions",
    "Holder changes of the lease observed by this process (its own acquisitions included).",
    ["lease"],
)
LEADERSHIP_DURATION = Histogram(
    f"{PREFIX}leadership_duration_seconds",
    "How long each tenure of this process lasted, from acquisition to step-down or release.",
    ["lease"],
    buckets=(1, 5, 15, 30, 60, 300, 900, 3600, 4 * 3600, 24 * 3600, float("inf")),
)
API_ERRORS = Counter(
    f"{PREFIX}api_errors",
    "Failed Lease API calls (timeouts, connection errors, server errors), by operation.",
    ["lease", "operation"],
)
