"""Metrics of the controller runtime, labelled by ``controller`` (``director``, ``pools``, ...).

Every controller built on ``runtime.Controller`` gets these without writing a line: queue depth and
wait by lane, reconcile duration, retried and terminal errors. Labels: controller, lane, namespace,
reason (an HTTP reason such as ``Forbidden``) — all bounded.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from zen_lead.observability.metrics import LATENCY_BUCKETS

QUEUE_DEPTH = Gauge(
    "zen_lead_workqueue_depth", "Keys waiting in the work queue, by lane.", ["controller", "lane"]
)
QUEUE_WAIT = Histogram(
    "zen_lead_workqueue_wait_seconds",
    "Time a key waited in the queue before a worker took it.",
    ["controller", "lane"],
    buckets=LATENCY_BUCKETS,
)
QUEUE_RETRIES = Counter(
    "zen_lead_workqueue_retries_total", "Keys re-queued with backoff after an error.", ["controller"]
)
RECONCILE_DURATION = Histogram(
    "zen_lead_reconcile_duration_seconds",
    "Duration of one reconcile.",
    ["controller"],
    buckets=LATENCY_BUCKETS,
)
RECONCILE_ERRORS = Counter(
    "zen_lead_reconcile_errors_total",
    "Reconciles that failed and were retried with backoff.",
    ["controller", "namespace"],
)
RECONCILE_TERMINAL_ERRORS = Counter(
    "zen_lead_reconcile_terminal_errors_total",
    "Reconciles that failed in a way a retry cannot fix (the apiserver refused the request: 400, 403, "
    "422); retried only when the object or what it depends on changes.",
    ["controller", "namespace", "reason"],
)
EVENTS_DROPPED = Counter(
    "zen_lead_events_dropped_total", "Kubernetes Events not recorded (queue full or error)."
)
