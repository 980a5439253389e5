"""RFC 3339 timestamps as written by the apiserver and kubelet, converted to and from epoch seconds.

The parser is tolerant because the timestamps come from other programs: it accepts ``T``/``t``/space as
the separator, ``Z``/``z`` or a ``±HH:MM`` offset (a missing offset means UTC, as Kubernetes always
writes UTC), and any number of fractional digits (``metav1.MicroTime`` writes six). Anything it cannot
read yields ``None``, never an exception: callers treat an unreadable time like a missing one.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

_RFC3339 = re.compile(
    r"(?P<date>\d{4}-\d{2}-\d{2})[Tt ](?P<time>\d{2}:\d{2}:\d{2})(?:\.(?P<frac>\d+))?"
    r"(?P<tz>[Zz]|[+-]\d{2}:?\d{2})?"
)


def parse_timestamp(text: str | None) -> float | None:
    """Epoch seconds of an RFC 3339 timestamp, or ``None`` when absent or unreadable."""
    if not text:
        return None
    match = _RFC3339.fullmatch(text.strip())
    if match is None:
        return None
    try:
        moment = datetime.fromisoformat(f"{match['date']}T{match['time']}").replace(tzinfo=_zone(match["tz"]))
    except ValueError:  # e.g. month 13 or offset hours > 23
        return None
    fraction = float(f"0.{match['frac']}") if match["frac"] else 0.0
    return moment.timestamp() + fraction


def format_timestamp(epoch_seconds: float) -> str:
    """``2024-05-01T12:00:00Z``: whole seconds in UTC, the precision of ``metav1.Time``."""
    return datetime.fromtimestamp(int(epoch_seconds), tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _zone(text: str | None) -> timezone:
    if text is None or text in ("Z", "z"):
        return UTC
    digits = text[1:].replace(":", "")
    offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return timezone(-offset if text[0] == "-" else offset)
