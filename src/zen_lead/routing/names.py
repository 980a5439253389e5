"""Names of the routing objects: EndpointSlices are ``<leader service>-ipv4`` / ``-ipv6`` (one per address
family, so the family is readable in the name and a slice never has to change its immutable
``addressType``); a name longer than a DNS-1035 label is shortened deterministically: cut to 54
characters, trailing ``-`` stripped, ``-`` and the first 8 hex digits of the SHA-256 of the full
intended name appended — valid, the same on every run and replica, distinct for distinct names (up to
hash collisions in 32 bits)."""

from __future__ import annotations

import hashlib
import re

DNS1035_MAX_LENGTH = 63
DNS1123_SUBDOMAIN_MAX_LENGTH = 253
_HASH_DIGITS = 8
_DNS1035 = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")


def is_dns1035_label(text: str) -> bool:
    """True for a valid DNS-1035 label: ``[a-z]([-a-z0-9]*[a-z0-9])?``, at most 63 characters."""
    return len(text) <= DNS1035_MAX_LENGTH and _DNS1035.fullmatch(text) is not None


def endpoint_slice_name(leader_service: str, address_type: str) -> str:
    """``<leader service>-ipv4`` or ``-ipv6``; at most 68 characters, well within a DNS subdomain."""
    return f"{leader_service}-{address_type.lower()}"


def fit_label(intended: str) -> str:
    """``intended`` if it fits a DNS-1035 label's length, else shortened as the module says."""
    if len(intended) <= DNS1035_MAX_LENGTH:
        return intended
    digest = hashlib.sha256(intended.encode()).hexdigest()[:_HASH_DIGITS]
    head = intended[: DNS1035_MAX_LENGTH - _HASH_DIGITS - 1].rstrip("-")
    return f"{head}-{digest}"
