"""The Service director's metrics. Labels: namespace and source Service at most, never pod names;
the per-Service series of a Service that is gone or opted out are removed (``forget_service``)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from zen_lead.observability.metrics import LATENCY_BUCKETS, LabelledSeries

LEADER_CHANGES = Counter(
    "zen_lead_leader_changes_total",
    "Leader changes of source Services, by reason.",
    ["namespace", "service", "reason"],
)
FAILOVER_LATENCY = Histogram(
    "zen_lead_failover_latency_seconds",
    "From the watch event that made a leader change necessary to the successful EndpointSlice write.",
    ["namespace"],
    buckets=LATENCY_BUCKETS,
)
ELIGIBLE_PODS = Gauge(
    "zen_lead_eligible_pods",
    "Pods eligible to lead, per source Service.",
    ["namespace", "service"],
)
SERVICES_WITHOUT_LEADER = Gauge(
    "zen_lead_services_without_leader",
    "Opted-in Services that currently route to no pod.",
    ["namespace"],
)
NAME_CONFLICTS = Gauge(
    "zen_lead_name_conflicts",
    "Opted-in Services not served because their leader Service name is taken (a foreign Service, or "
    "another source that has it).",
    ["namespace"],
)
MANAGED_SERVICES = Gauge("zen_lead_managed_services", "Opted-in source Services.", ["namespace"])

PER_SERVICE = LabelledSeries()


def forget_service(namespace: str, service: str) -> None:
    """Remove the per-Service series of a Service that is gone or no longer opted in."""
    PER_SERVICE.forget((namespace, service))
