"""The rules a request must follow, each failure naming the field and the rule it broke."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

DNS1123_LABEL_MAX = 63
HOLDER_MAX = 128
TTL_MIN, TTL_MAX = 2, 3600  # seconds: a Lease counts whole seconds; a lock held for longer is a ManualLock
WAIT_MAX = 60.0  # seconds a request may wait for a held lock (a longer wait is the client's loop)
HEARTBEAT_MIN, HEARTBEAT_MAX, HEARTBEAT_DEFAULT = 1.0, 300.0, 15.0
_DNS1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_DNS1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")


@dataclass(frozen=True, slots=True)
class Invalid(Exception):
    """A request that breaks a rule: ``field`` is the request's name for it, ``rule`` what it must be."""

    field: str
    rule: str

    def __str__(self) -> str:
        return f"{self.field}: {self.rule}"


def dns_label(field: str, value: object) -> str:
    if not isinstance(value, str) or len(value) > DNS1123_LABEL_MAX or not _DNS1123_LABEL.fullmatch(value):
        raise Invalid(
            field,
            "must be a DNS-1123 label: lower-case letters, digits and '-', starting and ending with a "
            f"letter or digit, at most {DNS1123_LABEL_MAX} characters",
        )
    return value


def lease_name(field: str, value: object) -> str:
    """A plain Lease may be named by any DNS subdomain (as the apiserver allows)."""
    if not isinstance(value, str) or len(value) > 253 or not _DNS1123_SUBDOMAIN.fullmatch(value):
        raise Invalid(field, "must be a DNS-1123 subdomain of at most 253 characters")
    return value


def holder(field: str, value: object) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= HOLDER_MAX or not value.isprintable():
        raise Invalid(field, f"must be 1 to {HOLDER_MAX} printable characters")
    return value


def ttl(field: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not TTL_MIN <= value <= TTL_MAX:
        raise Invalid(field, f"must be a whole number of seconds from {TTL_MIN} to {TTL_MAX}")
    return value


def token(field: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**63:
        raise Invalid(field, "must be the lock's token: a whole number from 0")
    return value


def wait(field: str, value: object) -> float:
    number = _number(value)
    if number is None or not 0 <= number <= WAIT_MAX:
        raise Invalid(field, f"must be a number of seconds from 0 to {WAIT_MAX:g}")
    return number


def heartbeat(field: str, value: object) -> float:
    """0 (or absent) means the default."""
    number = _number(value)
    if number == 0:
        return HEARTBEAT_DEFAULT
    if number is None or not HEARTBEAT_MIN <= number <= HEARTBEAT_MAX:
        raise Invalid(
            field, f"must be 0 (the default, {HEARTBEAT_DEFAULT:g}) or {HEARTBEAT_MIN:g} to {HEARTBEAT_MAX:g}"
        )
    return number


def term(field: str, value: object) -> int:
    if isinstance(value, str) and value.isdigit() and len(value) < 19:
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**63:
        return value
    raise Invalid(field, "must be a term: a whole number from 0")


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None
