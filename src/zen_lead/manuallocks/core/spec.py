"""What a ManualLock's spec asks for, checked: Go durations, the rules of each field, the expiry.

The CRD's schema and CEL rules refuse most bad specs at the apiserver; these functions check the same
rules again (an object stored before a rule existed, an apiserver that skipped one) and the ones no
schema can check: a ttl Go cannot parse, an ``expiresAt`` already in the past or more than 30 days
ahead when the lock is taken. Each problem is one sentence naming the field and the rule.

Times are epoch seconds. A lock's expiry is a whole second (the Lease counts whole seconds): a ttl is
rounded up to whole seconds, an ``expiresAt`` down.
"""

from __future__ import annotations

import math
import re

from zen_lead.kube.structs import ManualLockSpec
from zen_lead.kube.times import format_time, parse_time

MIN_TTL = 10  # seconds
MAX_TTL = 30 * 24 * 3600  # 30 days (720h): also how far ahead an expiresAt may be
MAX_HOLDER = 128
MAX_REASON = 1024
_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
# Go's time.ParseDuration: an optional sign, then numbers with optional fractions, each with a unit.
_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_PART = r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)"
_DURATION = re.compile(rf"^[+-]?(?:{_PART})+$")


def parse_duration(text: str) -> float | None:
    """Seconds of a Go duration string (``"90s"``, ``"1h30m"``, ``"1.5h"``), or None if Go refuses it."""
    if text in ("0", "+0", "-0"):
        return 0.0
    if not _DURATION.match(text):
        return None
    total = sum(float(number) * _UNITS[unit] for number, unit in re.findall(_PART, text))
    return -total if text.startswith("-") else total


def ttl_seconds(spec: ManualLockSpec) -> int | None:
    """The ttl in whole seconds (rounded up), or None without a valid one."""
    seconds = parse_duration(spec.ttl) if spec.ttl is not None else None
    if seconds is None or not MIN_TTL <= seconds <= MAX_TTL:
        return None
    return math.ceil(seconds)


def spec_problems(spec: ManualLockSpec) -> list[str]:
    """Every rule ``spec`` breaks that does not depend on the time (empty when valid)."""
    problems = []
    if len(spec.lock_name) > 63 or not _LABEL.match(spec.lock_name):
        problems.append(
            f"spec.lockName: {spec.lock_name!r} is not a DNS-1123 label (lower-case letters, digits and "
            "'-', at most 63)"
        )
    if not 1 <= len(spec.holder) <= MAX_HOLDER:
        problems.append(f"spec.holder: must be 1 to {MAX_HOLDER} characters (got {len(spec.holder)})")
    if len(spec.reason) > MAX_REASON:
        problems.append(f"spec.reason: at most {MAX_REASON} characters (got {len(spec.reason)})")
    if (spec.ttl is None) == (spec.expires_at is None):
        problems.append("spec: exactly one of spec.ttl and spec.expiresAt must be set")
    if spec.ttl is not None:
        seconds = parse_duration(spec.ttl)
        if seconds is None:
            problems.append(f"spec.ttl: {spec.ttl!r} is not a Go duration (such as 30m, 2h or 1h30m)")
        elif not MIN_TTL <= seconds <= MAX_TTL:
            problems.append(
                f"spec.ttl: {spec.ttl!r} is out of range: it must be between 10s and 720h (30 days)"
            )
    if spec.expires_at is not None and parse_time(spec.expires_at) is None:
        problems.append(f"spec.expiresAt: {spec.expires_at!r} is not an RFC 3339 time")
    return problems


def expiry(spec: ManualLockSpec, *, acquired_at: int) -> int | None:
    """When a tenure taken at ``acquired_at`` ends, as ``spec`` asks (None for an invalid spec)."""
    if spec.ttl is not None:
        ttl = ttl_seconds(spec)
        return None if ttl is None else acquired_at + ttl
    at = parse_time(spec.expires_at)
    return None if at is None else math.floor(at)


def expiry_problems(spec: ManualLockSpec, *, until: int, wall: float) -> list[str]:
    """The rules an expiry breaks when a lock is taken (or moved) at ``wall``: it must lie ahead, by at
    most 30 days. (A ttl of at least 10s always lies ahead.)"""
    field = "spec.ttl" if spec.ttl is not None else "spec.expiresAt"
    if until <= wall:
        return [f"{field}: {format_time(until)} is in the past: a lock must expire in the future"]
    if until - wall > MAX_TTL:
        return [
            f"{field}: {format_time(until)} is more than 30 days (720h) ahead: a lock is held 30 days at most"
        ]
    return []
