"""Names of the objects zen-lead creates.

- The leader Service is ``<source>-leader`` unless the source asks for another name. Service names are
  DNS-1035 labels (at most 63 characters), so a default name that would be longer is shortened
  deterministically: the intended name is cut to 54 characters, trailing ``-`` are stripped, and ``-``
  plus the first 8 hex digits of the SHA-256 of the full intended name are appended. The result is a
  valid label, the same on every run and every replica, and distinct for distinct sources (up to hash
  collisions in 32 bits).
- EndpointSlices are ``<leader service>-ipv4`` / ``-ipv6``: one per address family, so the family is
  readable in the name and a slice never has to change its (immutable) ``addressType``.
"""

from __future__ import annotations

import hashlib
import re

from zen_lead.constants import LEADER_SERVICE_SUFFIX

DNS1035_MAX_LENGTH = 63
DNS1123_SUBDOMAIN_MAX_LENGTH = 253
_HASH_DIGITS = 8
_DNS1035 = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")


def is_dns1035_label(text: str) -> bool:
    """True for a valid DNS-1035 label: ``[a-z]([-a-z0-9]*[a-z0-9])?``, at most 63 characters."""
    return len(text) <= DNS1035_MAX_LENGTH and _DNS1035.fullmatch(text) is not None


def leader_service_name(source_name: str, custom: str | None) -> str:
    """The leader Service's name: ``custom`` if it is a valid label other than the source's own name,
    otherwise ``<source>-leader``, shortened as the module docstring describes when too long."""
    if custom is not None and custom != source_name and is_dns1035_label(custom):
        return custom
    return _fit_label(source_name + LEADER_SERVICE_SUFFIX)


def endpoint_slice_name(leader_service: str, address_type: str) -> str:
    """``<leader service>-ipv4`` or ``-ipv6``; at most 68 characters, well within a DNS subdomain."""
    return f"{leader_service}-{address_type.lower()}"


def _fit_label(intended: str) -> str:
    if len(intended) <= DNS1035_MAX_LENGTH:
        return intended
    digest = hashlib.sha256(intended.encode()).hexdigest()[:_HASH_DIGITS]
    head = intended[: DNS1035_MAX_LENGTH - _HASH_DIGITS - 1].rstrip("-")
    return f"{head}-{digest}"
