"""Lease names: what the apiserver accepts, checked before any request is made."""

from __future__ import annotations

import re

_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def validate_lease_name(name: str) -> None:
    """A Lease name is a DNS subdomain: lower-case alphanumerics, '-' and '.', at most 253 characters."""
    if len(name) > 253 or not _DNS_SUBDOMAIN.match(name):
        raise ValueError(
            f"invalid Lease name {name!r}: must be a DNS subdomain (lower-case letters, digits, '-' and "
            "'.', starting and ending with a letter or digit, at most 253 characters)"
        )
