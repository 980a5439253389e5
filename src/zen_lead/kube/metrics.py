"""Metrics of the API layer: every request the client sends, the client-side limiter, the informers.

Defined once at import on the default registry (names are an API: dashboards and alert rules use
them). Labels are bounded: verb, resource (the plural, ``/subresource`` when one is addressed), HTTP
code, lane — never an object's name.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from zen_lead.observability.metrics import LATENCY_BUCKETS

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
