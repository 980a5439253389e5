"""Every Prometheus metric the controller exports, defined once (names are an API: dashboards and alert
rules reference them, and a test checks that each name they use exists in ``/metrics``).

Labels are bounded: ``namespace`` and ``service`` at most, never pod names. Series of deleted Services
are removed (``forget_service``).
"""

from __future__ import annotations

import contextlib

from prometheus_client import Counter, Gauge, Histogram, Info

# Failover latency spans sub-millisecond (event already in cache) to seconds (apiserver pushback).
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

BUILD_INFO = Info("zen_lead_build", "Build information of the zen-lead controller.")

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
RECONCILE_DURATION = Histogram(
    "zen_lead_reconcile_duration_seconds",
    "Duration of one reconcile of a source Service.",
    buckets=LATENCY_BUCKETS,
)
RECONCILE_ERRORS = Counter(
    "zen_lead_reconcile_errors_total",
    "Reconciles that failed and were retried with backoff.",
    ["namespace"],
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
MANAGED_SERVICES = Gauge("zen_lead_managed_services", "Opted-in source Services.", ["namespace"])

API_REQUESTS = Counter(
    "zen_lead_api_requests_total",
    "Requests to the Kubernetes API by verb, resource and HTTP code.",
    ["verb", "resource", "code"],
)
API_LATENCY = Histogram(
    "zen_lead_api_request_duration_seconds",
    "Latency of Kubernetes API requests (watches excluded).",
    ["verb", "resource"],
    buckets=LATENCY_BUCKETS,
)
API_THROTTLED = Counter(
    "zen_lead_api_throttled_total",
    "Requests the apiserver answered 429 (they are retried after Retry-After).",
    ["verb", "resource"],
)
RATE_LIMIT_WAIT = Histogram(
    "zen_lead_client_rate_limit_wait_seconds",
    "Time requests waited for the client-side token bucket.",
    ["lane"],
    buckets=LATENCY_BUCKETS,
)
WATCH_RESTARTS = Counter(
    "zen_lead_watch_restarts_total",
    "Watch streams restarted, by resource and reason.",
    ["resource", "reason"],
)
INFORMER_SYNCED = Gauge(
    "zen_lead_informer_synced", "1 once the informer's initial list is cached.", ["resource"]
)
CACHED_OBJECTS = Gauge("zen_lead_cached_objects", "Objects held in the informer cache.", ["resource"])

QUEUE_DEPTH = Gauge("zen_lead_workqueue_depth", "Keys waiting in the work queue, by lane.", ["lane"])
QUEUE_WAIT = Histogram(
    "zen_lead_workqueue_wait_seconds",
    "Time a key waited in the queue before a worker took it.",
    ["lane"],
    buckets=LATENCY_BUCKETS,
)
QUEUE_RETRIES = Counter("zen_lead_workqueue_retries_total", "Keys re-queued with backoff after an error.")

# Lag and stall share their buckets, so that the two histograms compare bucket by bucket.
LOOP_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)
EVENT_LOOP_LAG = Histogram(
    "zen_lead_event_loop_lag_seconds",
    "Delay of a periodic loop tick beyond its schedule.",
    buckets=LOOP_BUCKETS,
)
EVENT_LOOP_LAG_MAX = Gauge("zen_lead_event_loop_lag_max_seconds", "Worst event-loop lag seen since start.")
EVENT_LOOP_STALL = Histogram(
    "zen_lead_event_loop_stall_seconds",
    "Upper bound of the part of a tick's lag that the process's own work caused: the lag, capped by "
    "the CPU time the event-loop thread used during the tick. Lag beyond it is time the operating "
    "system gave the CPU to other processes, or another thread held the GIL.",
    buckets=LOOP_BUCKETS,
)
EVENT_LOOP_STALL_MAX = Gauge(
    "zen_lead_event_loop_stall_max_seconds",
    "Worst event-loop stall (as zen_lead_event_loop_stall_seconds) since start.",
)
IS_LEADER = Gauge("zen_lead_is_leader", "1 while this controller replica holds the manager Lease.")
EVENTS_DROPPED = Counter(
    "zen_lead_events_dropped_total", "Kubernetes Events not recorded (queue full or error)."
)


def forget_service(namespace: str, service: str) -> None:
    """Remove the per-Service series of a Service that is gone or no longer opted in."""
    with contextlib.suppress(KeyError):
        ELIGIBLE_PODS.remove(namespace, service)
    for labels in list(LEADER_CHANGES._metrics):
        if labels[0] == namespace and labels[1] == service:
            LEADER_CHANGES.remove(*labels)
