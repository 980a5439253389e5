"""What every component's metrics share: bucket tuples, the process-wide series (build, event loop),
and ``LabelledSeries``, which removes the series of an object that is gone.

Each component defines its own families beside its code (``kube.metrics``, ``runtime.metrics``,
``director.metrics``, ``election.metrics``); names are an API: dashboards and alert rules reference
them, and a test checks that every name they use exists in ``/metrics``. Labels are bounded:
namespace and object name at most, never pod names.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import TypeVar

from prometheus_client import Gauge, Histogram, Info
from prometheus_client.metrics import MetricWrapperBase

M = TypeVar("M", bound=MetricWrapperBase)

# Failover latency spans sub-millisecond (event already in cache) to seconds (apiserver pushback).
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# Lag and stall share their buckets, so that the two histograms compare bucket by bucket.
LOOP_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)

BUILD_INFO = Info("zen_lead_build", "Build information of the zen-lead controller.")
IS_LEADER = Gauge("zen_lead_is_leader", "1 while this controller replica holds the manager Lease.")
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


class LabelledSeries:
    """The label sets ever used on some families, by object, so that an object's series can all be
    removed when it goes away — without reading prometheus_client's private ``_metrics``."""

    def __init__(self) -> None:
        self._used: dict[tuple[str, ...], set[tuple[MetricWrapperBase, tuple[str, ...]]]] = {}

    def labels(self, family: M, owner: tuple[str, ...], *rest: str) -> M:
        """``family.labels(*owner, *rest)``, remembered under ``owner`` (e.g. ``(namespace, name)``)."""
        values = (*owner, *rest)
        self._used.setdefault(owner, set()).add((family, values))
        return family.labels(*values)

    def forget(self, owner: tuple[str, ...]) -> None:
        for family, values in self._used.pop(owner, ()):
            with contextlib.suppress(KeyError):
                family.remove(*values)

    def owners(self) -> Sequence[tuple[str, ...]]:
        return list(self._used)
