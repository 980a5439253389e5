"""The apiserver's side of the count: its own ``/metrics``, scraped with the admin token.

``apiserver_request_total`` has labels ``verb, group, version, resource, subresource, scope, component,
code, dry_run`` — no user and no user agent. Two ways to attribute requests anyway:

- per client: ``apiserver_flowcontrol_dispatched_requests_total{flow_schema="bench-<identity>"}`` and
  ``apiserver_flowcontrol_request_execution_seconds_count{flow_schema=..., type="regular"|"watch"}``
  count every request of a measured process (each runs as a ServiceAccount matched by its own
  FlowSchema, see ``bench.kube``);
- per verb: zen-lead is the only client in the cluster that uses server-side apply, so
  ``apiserver_request_total{verb="APPLY", resource=...}`` counts its writes to Services and slices.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

from bench.kube import Kube

_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$")
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')
WANTED = ("apiserver_request_total", "apiserver_flowcontrol_")


@dataclass(frozen=True, slots=True)
class Sample:
    name: str
    labels: Mapping[str, str]
    value: float


class Scrape:
    """One scrape of the metrics we use."""

    def __init__(self, samples: list[Sample]) -> None:
        self.samples = samples

    def total(self, name: str, **labels: str) -> float:
        return sum(
            s.value
            for s in self.samples
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
        )

    def by_label(self, name: str, label: str, **labels: str) -> dict[str, float]:
        """Totals of ``name`` grouped by the value of ``label``."""
        found: dict[str, float] = {}
        for s in self.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                key = s.labels.get(label, "")
                found[key] = found.get(key, 0.0) + s.value
        return found

    def histogram(self, name: str, **labels: str) -> dict[float, float]:
        """Cumulative bucket counts of histogram ``name`` (summed over other labels): le -> count."""
        buckets: dict[float, float] = {}
        for s in self.samples:
            if s.name == f"{name}_bucket" and all(s.labels.get(k) == v for k, v in labels.items()):
                le = float(s.labels["le"])
                buckets[le] = buckets.get(le, 0.0) + s.value
        return dict(sorted(buckets.items()))

    def flow_requests(self, identity: str) -> dict[str, float]:
        schema = f"bench-{identity}"
        return {
            "dispatched": self.total("apiserver_flowcontrol_dispatched_requests_total", flow_schema=schema),
            "regular": self.total(
                "apiserver_flowcontrol_request_execution_seconds_count", flow_schema=schema, type="regular"
            ),
            "watch": self.total(
                "apiserver_flowcontrol_request_execution_seconds_count", flow_schema=schema, type="watch"
            ),
        }

    def applies(self) -> dict[str, float]:
        return {
            resource: self.total("apiserver_request_total", verb="APPLY", resource=resource)
            for resource in ("endpointslices", "services")
        }


def parse(text: str, wanted: tuple[str, ...] = WANTED) -> Scrape:
    """Samples of the Prometheus text format whose names start with one of ``wanted``."""
    samples = []
    for line in text.splitlines():
        if not line.startswith(wanted):
            continue
        match = _SAMPLE.match(line)
        if match:
            labels = dict(_LABEL.findall(match.group(2) or ""))
            samples.append(Sample(match.group(1), labels, float(match.group(3))))
    return Scrape(samples)


async def scrape(kube: Kube) -> Scrape:
    body = await kube.api.request("get", "/metrics", resource="metrics")
    return parse(body.decode())


def delta(before: Mapping[str, float], after: Mapping[str, float]) -> dict[str, float]:
    return {key: after.get(key, 0.0) - before.get(key, 0.0) for key in after}


def histogram_delta(before: Mapping[float, float], after: Mapping[float, float]) -> dict[float, float]:
    return {le: count - before.get(le, 0.0) for le, count in after.items()}


def histogram_quantile(q: float, buckets: Mapping[float, float]) -> float:
    """Prometheus's ``histogram_quantile``: linear interpolation inside the bucket holding rank q."""
    ordered = sorted(buckets.items())
    if not ordered or ordered[-1][1] <= 0:
        return math.nan
    rank = q * ordered[-1][1]
    lower_bound, lower_count = 0.0, 0.0
    for bound, count in ordered:
        if count >= rank:
            if math.isinf(bound):
                return lower_bound
            width = count - lower_count
            return lower_bound + (bound - lower_bound) * ((rank - lower_count) / width if width else 1.0)
        lower_bound, lower_count = bound, count
    return ordered[-1][0]
