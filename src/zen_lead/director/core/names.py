"""Names of the objects the director creates: the leader Service is ``<source>-leader`` unless the
source asks for another name, shortened deterministically when too long (``routing.names``);
EndpointSlices are ``<leader service>-ipv4`` / ``-ipv6``."""

from __future__ import annotations

from zen_lead.constants import LEADER_SERVICE_SUFFIX
from zen_lead.routing.names import (
    DNS1035_MAX_LENGTH,
    DNS1123_SUBDOMAIN_MAX_LENGTH,
    endpoint_slice_name,
    fit_label,
    is_dns1035_label,
)

__all__ = [
    "DNS1035_MAX_LENGTH",
    "DNS1123_SUBDOMAIN_MAX_LENGTH",
    "endpoint_slice_name",
    "is_dns1035_label",
    "leader_service_name",
]


def leader_service_name(source_name: str, custom: str | None) -> str:
    """The leader Service's name: ``custom`` if it is a valid label other than the source's own name,
    otherwise ``<source>-leader``, shortened when too long."""
    if custom is not None and custom != source_name and is_dns1035_label(custom):
        return custom
    return fit_label(source_name + LEADER_SERVICE_SUFFIX)
