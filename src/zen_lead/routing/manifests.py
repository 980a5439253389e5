"""The leader Service and its EndpointSlices as JSON-ready dicts for server-side apply, for whoever
chose the leader (the director for a source Service, the pools controller for a pool).

Each dict holds exactly the fields zen-lead owns (field manager ``zen-lead``): applying it sets them
and, on a later apply, removes any of them that are no longer desired. Everything else (cluster IPs,
allocated node ports, defaults) stays the apiserver's.

Leader Service: no selector, so the endpoints controller never touches it; ``targetPort`` is the number
the leader serves (informational for a selector-less Service: kube-proxy routes by the slice's ports).
EndpointSlices: one per address family; with a leader each holds exactly one endpoint (the leader's
addresses of that family), without one ``endpoints`` is an explicit empty list — valid, and fail-closed:
kube-proxy rejects connections instead of routing them to a pod that is not the leader.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from zen_lead.constants import (
    ANNOTATION_LEADER_POD,
    ANNOTATION_LEADER_POD_UID,
    ANNOTATION_LEADER_SINCE,
    ANNOTATION_LEADER_TERM,
    ANNOTATION_SOURCE_UID,
    ENDPOINTSLICE_MANAGED_BY_VALUE,
    LABEL_ENDPOINTSLICE_MANAGED_BY,
    LABEL_SERVICE_NAME,
)
from zen_lead.eligibility.addresses import pod_addresses
from zen_lead.eligibility.ports import PortResolution, ResolvedPort
from zen_lead.kube.structs import Pod, Service, ServicePort
from zen_lead.routing.names import endpoint_slice_name

JsonObject = dict[str, Any]

HEADLESS_CLUSTER_IP = "None"
SERVICE_API_VERSION = "v1"
SERVICE_KIND = "Service"
ENDPOINT_SLICE_API_VERSION = "discovery.k8s.io/v1"
ENDPOINT_SLICE_KIND = "EndpointSlice"
POD_KIND = "Pod"


def owner_reference(api_version: str, kind: str, name: str, uid: str) -> JsonObject:
    return {"apiVersion": api_version, "kind": kind, "name": name, "uid": uid, "controller": True}


def leader_annotations(owner_uid: str, leader: Pod | None, leader_since: str | None) -> dict[str, str]:
    """The owner's UID and, with a leader, who leads and since when."""
    annotations = {ANNOTATION_SOURCE_UID: owner_uid}
    if leader is not None:
        annotations[ANNOTATION_LEADER_POD] = leader.metadata.name
        annotations[ANNOTATION_LEADER_POD_UID] = leader.metadata.uid
        if leader_since is not None:
            annotations[ANNOTATION_LEADER_SINCE] = leader_since
    return annotations


def leader_service_manifest(
    *,
    name: str,
    namespace: str,
    service_type: str,
    headless: bool,
    ports: Iterable[ServicePort],
    resolution: PortResolution | None,
    observed: Service | None,
    ip_families: Iterable[str] = (),
    ip_family_policy: str | None = None,
    labels: Mapping[str, str],
    annotations: Mapping[str, str],
    owner: JsonObject,
) -> JsonObject:
    """The selector-less leader Service ``name``. ``resolution`` is the leader's port resolution: a
    named ``targetPort`` it does not cover keeps the ``observed`` Service's number (no needless write
    while there is no leader), else the port number."""
    spec: JsonObject = {
        "type": service_type,
        "ports": [_service_port(p, resolution=resolution, observed=observed) for p in ports],
    }
    if headless:
        spec["clusterIP"] = HEADLESS_CLUSTER_IP
    if families := list(ip_families):
        spec["ipFamilies"] = families
    if ip_family_policy:
        spec["ipFamilyPolicy"] = ip_family_policy
    return {
        "apiVersion": SERVICE_API_VERSION,
        "kind": SERVICE_KIND,
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": dict(labels),
            "annotations": dict(annotations),
            "ownerReferences": [owner],
        },
        "spec": spec,
    }


def endpoint_slice_manifests(
    *,
    namespace: str,
    leader_service_name: str,
    leader_service_uid: str,
    families: Iterable[str],
    leader: Pod | None,
    resolution: PortResolution | None,
    zone: str | None,
    labels: Mapping[str, str],
    term: int = 0,
) -> list[JsonObject]:
    """One EndpointSlice per family, owned by the leader Service (``leader_service_uid``): ``ports`` are
    the leader's resolved ports (none without a resolution), ``zone`` the topology zone of its node;
    ``term`` (when above 0) is written as ``zen-lead.io/leader-term``, with the endpoints it counts."""
    ports = [_slice_port(p) for p in resolution.resolved] if resolution is not None else []
    annotations = {ANNOTATION_LEADER_TERM: str(term)} if term > 0 else {}
    return [
        {
            "apiVersion": ENDPOINT_SLICE_API_VERSION,
            "kind": ENDPOINT_SLICE_KIND,
            "metadata": {
                "name": endpoint_slice_name(leader_service_name, family),
                "namespace": namespace,
                "labels": {
                    LABEL_SERVICE_NAME: leader_service_name,
                    LABEL_ENDPOINTSLICE_MANAGED_BY: ENDPOINTSLICE_MANAGED_BY_VALUE,
                    **labels,
                },
                **({"annotations": annotations} if annotations else {}),
                "ownerReferences": [
                    owner_reference(
                        SERVICE_API_VERSION, SERVICE_KIND, leader_service_name, leader_service_uid
                    )
                ],
            },
            "addressType": family,
            "ports": ports,
            "endpoints": _endpoints(leader, family=family, zone=zone),
        }
        for family in families
    ]


def _service_port(
    port: ServicePort, *, resolution: PortResolution | None, observed: Service | None
) -> JsonObject:
    entry: JsonObject = {"protocol": port.protocol, "port": port.port}
    if port.name:
        entry["name"] = port.name
    if port.app_protocol:
        entry["appProtocol"] = port.app_protocol
    entry["targetPort"] = _target_port(port, resolution=resolution, observed=observed)
    return entry


def _target_port(port: ServicePort, *, resolution: PortResolution | None, observed: Service | None) -> int:
    for resolved in resolution.resolved if resolution is not None else ():
        if (resolved.port, resolved.protocol) == (port.port, port.protocol):
            return resolved.target_port
    if not isinstance(port.target_port, str) or not port.target_port:
        return port.target_port if isinstance(port.target_port, int) and port.target_port > 0 else port.port
    for previous in observed.spec.ports if observed is not None else ():
        same = (previous.port, previous.protocol) == (port.port, port.protocol)
        if same and isinstance(previous.target_port, int) and previous.target_port > 0:
            return previous.target_port
    return port.port


def _slice_port(port: ResolvedPort) -> JsonObject:
    entry: JsonObject = {"name": port.name, "port": port.target_port, "protocol": port.protocol}
    if port.app_protocol:
        entry["appProtocol"] = port.app_protocol
    return entry


def _endpoints(leader: Pod | None, *, family: str, zone: str | None) -> list[JsonObject]:
    if leader is None:
        return []
    addresses = pod_addresses(leader, family)
    if not addresses:
        return []
    endpoint: JsonObject = {
        "addresses": list(addresses),
        "conditions": {"ready": True, "serving": True, "terminating": False},
        "targetRef": {
            "kind": POD_KIND,
            "namespace": leader.metadata.namespace,
            "name": leader.metadata.name,
            "uid": leader.metadata.uid,
        },
    }
    if leader.spec.node_name:
        endpoint["nodeName"] = leader.spec.node_name
    if zone:
        endpoint["zone"] = zone
    return [endpoint]
