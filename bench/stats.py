"""Summaries of samples: percentiles by linear interpolation (numpy's default), in seconds."""

from __future__ import annotations

import math
from collections.abc import Sequence

PERCENTILES = (50, 90, 99)


def percentile(samples: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100), interpolating between closest ranks."""
    if not samples:
        return math.nan
    ordered = sorted(samples)
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summary(samples: Sequence[float]) -> dict[str, float | int]:
    """count, p50, p90, p99, max, mean (NaN for no samples: JSON ``NaN`` is avoided by ``clean``)."""
    result: dict[str, float | int] = {"count": len(samples)}
    for q in PERCENTILES:
        result[f"p{q}"] = percentile(samples, q)
    result["max"] = max(samples) if samples else math.nan
    result["mean"] = sum(samples) / len(samples) if samples else math.nan
    return result


def ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator > 0 else math.nan


def clean(value: object) -> object:
    """Replace NaN/inf with None recursively, so the JSON is standard (``null``)."""
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else round(value, 6)
    if isinstance(value, dict):
        return {str(k): clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean(v) for v in value]
    return value
