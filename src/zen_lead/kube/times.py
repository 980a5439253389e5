"""Kubernetes times, read and written in one place: ``metav1.Time`` and ``metav1.MicroTime``.

Writing. ``metav1.Time`` (``creationTimestamp``, Event times, condition times) is RFC 3339 in UTC with
whole seconds: ``2024-05-01T12:00:00Z`` (``format_time``). ``metav1.MicroTime`` (a Lease's
``acquireTime`` / ``renewTime``) is client-go's ``RFC3339Micro``: ALWAYS six fractional digits and
``Z`` (``format_microtime``) — the apiserver parses it strictly, so a time with zero microseconds
must still carry ``.000000`` (a formatter that drops the fraction writes a Lease the apiserver
refuses).

Reading. Times come from other programs (the apiserver, the kubelet, client-go, people), so
``parse_time`` is tolerant: ``T``/``t``/space as separator, ``Z``/``z`` or a ``±HH:MM`` offset (none
means UTC, as Kubernetes always writes UTC), any number of fractional digits. Anything it cannot read
yields ``None``, never an exception: callers treat an unreadable time like a missing one.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

MICROTIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
_MICROTIME_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
_RFC3339 = re.compile(
    r"(?P<date>\d{4}-\d{2}-\d{2})[Tt ](?P<time>\d{2}:\d{2}:\d{2})(?:\.(?P<frac>\d+))?"
    r"(?P<tz>[Zz]|[+-]\d{2}:?\d{2})?"
)


def format_time(epoch_seconds: float) -> str:
    """``2024-05-01T12:00:00Z``: whole seconds in UTC, the precision of ``metav1.Time``."""
    return datetime.fromtimestamp(int(epoch_seconds), tz=UTC).strftime(TIME_FORMAT)


def format_microtime(moment: datetime) -> str:
    """``2006-01-02T15:04:05.000000Z`` — the exact MicroTime layout client-go writes."""
    if moment.tzinfo is None:
        raise ValueError("a MicroTime needs an aware datetime (got a naive one)")
    return moment.astimezone(UTC).strftime(MICROTIME_FORMAT)


def now_microtime() -> str:
    """The wall clock now, as a MicroTime: only ever written for humans and client-go, never compared."""
    return format_microtime(datetime.now(UTC))


def is_microtime(text: str) -> bool:
    """True when ``text`` is in the canonical layout (six fractional digits, UTC ``Z``)."""
    return _MICROTIME_RE.match(text) is not None


def parse_time(text: str | None) -> float | None:
    """Epoch seconds of an RFC 3339 time (either precision), or ``None`` when absent or unreadable."""
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


def _zone(text: str | None) -> timezone:
    if text is None or text in ("Z", "z"):
        return UTC
    digits = text[1:].replace(":", "")
    offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return timezone(-offset if text[0] == "-" else offset)
