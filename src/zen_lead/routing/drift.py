"""Does an observed object differ from the desired one in a field zen-lead sets?

Only what ``desired`` sets is compared, so fields the apiserver defaults or allocates (cluster IPs, node
ports, ``sessionAffinity``, managed fields...) never cause a write: our labels must be present with our
values (other labels are ignored), each annotation zen-lead owns must be present exactly when desired,
our owner references must be present, and the spec fields we set must be equal (ports and endpoints
compared as a whole, ports regardless of order). Some fields are immutable: ``*_must_replace`` says
when the object has to be deleted and created again instead of applied.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from zen_lead.constants import (
    ANNOTATION_LEADER_POD,
    ANNOTATION_LEADER_POD_UID,
    ANNOTATION_LEADER_SINCE,
    ANNOTATION_SOURCE_UID,
)
from zen_lead.kube.structs import Endpoint, EndpointSlice, OwnerReference, Service
from zen_lead.routing.manifests import HEADLESS_CLUSTER_IP, JsonObject

OWNED_SERVICE_ANNOTATIONS = (
    ANNOTATION_SOURCE_UID,
    ANNOTATION_LEADER_POD,
    ANNOTATION_LEADER_POD_UID,
    ANNOTATION_LEADER_SINCE,
)
_DEFAULT_PROTOCOL = "TCP"

_PortView = tuple[str, str, str | None, int, Any]
_EndpointView = tuple[tuple[str, ...], Any, Any, Any, Any, Any, tuple[str, str, str, str] | None]


def service_needs_update(observed: Service, desired: JsonObject) -> bool:
    """True when applying ``desired`` would change ``observed``."""
    metadata, spec = desired["metadata"], desired["spec"]
    annotations = metadata.get("annotations", {})
    return not (
        _contains(observed.metadata.labels, metadata.get("labels", {}))
        and all(observed.metadata.annotations.get(k) == annotations.get(k) for k in OWNED_SERVICE_ANNOTATIONS)
        and _has_owner_references(observed.metadata.owner_references, metadata.get("ownerReferences", []))
        and observed.spec.type == spec["type"]
        and _observed_service_ports(observed) == _desired_service_ports(spec.get("ports", []))
        and ("ipFamilies" not in spec or tuple(spec["ipFamilies"]) == observed.spec.ip_families)
        and ("ipFamilyPolicy" not in spec or spec["ipFamilyPolicy"] == observed.spec.ip_family_policy)
        and ("clusterIP" not in spec or spec["clusterIP"] == observed.spec.cluster_ip)
    )


def service_must_replace(observed: Service, desired: JsonObject) -> bool:
    """True when headlessness or the primary IP family differ: both are immutable."""
    spec = desired["spec"]
    observed_headless = observed.spec.cluster_ip == HEADLESS_CLUSTER_IP
    if observed_headless != (spec.get("clusterIP") == HEADLESS_CLUSTER_IP):
        return True
    families = spec.get("ipFamilies") or []
    return bool(families and observed.spec.ip_families and families[0] != observed.spec.ip_families[0])


def slice_must_replace(observed: EndpointSlice, desired: JsonObject) -> bool:
    """True when the ``addressType`` (immutable) differs."""
    return bool(observed.address_type != desired["addressType"])


def slice_needs_update(observed: EndpointSlice, desired: JsonObject) -> bool:
    """True when applying ``desired`` would change ``observed`` (or it must be replaced)."""
    metadata = desired["metadata"]
    return slice_must_replace(observed, desired) or not (
        _contains(observed.metadata.labels, metadata.get("labels", {}))
        and _contains(observed.metadata.annotations, metadata.get("annotations", {}))
        and _has_owner_references(observed.metadata.owner_references, metadata.get("ownerReferences", []))
        and _observed_slice_ports(observed) == _desired_slice_ports(desired.get("ports", []))
        and tuple(_observed_endpoint(e) for e in observed.endpoints or ())
        == tuple(_desired_endpoint(e) for e in desired.get("endpoints", []))
    )


def _contains(observed: Mapping[str, str], desired: Mapping[str, str]) -> bool:
    return all(observed.get(key) == value for key, value in desired.items())


def _has_owner_references(observed: Iterable[OwnerReference], desired: Iterable[JsonObject]) -> bool:
    present = {(r.api_version, r.kind, r.name, r.uid, bool(r.controller)) for r in observed}
    return all(
        (r.get("apiVersion"), r.get("kind"), r.get("name"), r.get("uid"), bool(r.get("controller")))
        in present
        for r in desired
    )


def _observed_service_ports(service: Service) -> list[_PortView]:
    return sorted(
        ((p.name or "", p.protocol, p.app_protocol, p.port, p.target_port) for p in service.spec.ports),
        key=_port_order,
    )


def _desired_service_ports(ports: Iterable[JsonObject]) -> list[_PortView]:
    return sorted(
        (
            (
                p.get("name") or "",
                p.get("protocol", _DEFAULT_PROTOCOL),
                p.get("appProtocol"),
                p["port"],
                p.get("targetPort"),
            )
            for p in ports
        ),
        key=_port_order,
    )


def _observed_slice_ports(endpoint_slice: EndpointSlice) -> list[_PortView]:
    return sorted(
        (
            (p.name or "", p.protocol or _DEFAULT_PROTOCOL, p.app_protocol, p.port or 0, None)
            for p in endpoint_slice.ports or ()
        ),
        key=_port_order,
    )


def _desired_slice_ports(ports: Iterable[JsonObject]) -> list[_PortView]:
    return sorted(
        (
            (
                p.get("name") or "",
                p.get("protocol", _DEFAULT_PROTOCOL),
                p.get("appProtocol"),
                p.get("port") or 0,
                None,
            )
            for p in ports
        ),
        key=_port_order,
    )


def _port_order(view: _PortView) -> tuple[int, str, str]:
    return (view[3], view[1], view[0])


def _observed_endpoint(endpoint: Endpoint) -> _EndpointView:
    ref = endpoint.target_ref
    return (
        endpoint.addresses,
        endpoint.conditions.ready,
        endpoint.conditions.serving,
        endpoint.conditions.terminating,
        endpoint.node_name,
        endpoint.zone,
        None if ref is None else (ref.kind, ref.namespace, ref.name, ref.uid),
    )


def _desired_endpoint(endpoint: JsonObject) -> _EndpointView:
    conditions = endpoint.get("conditions", {})
    ref = endpoint.get("targetRef")
    return (
        tuple(endpoint["addresses"]),
        conditions.get("ready"),
        conditions.get("serving"),
        conditions.get("terminating"),
        endpoint.get("nodeName"),
        endpoint.get("zone"),
        None if ref is None else (ref["kind"], ref["namespace"], ref["name"], ref["uid"]),
    )
