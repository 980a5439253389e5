"""The objects zen-lead wants to exist for one source Service, as JSON-ready dicts for server-side apply.

Each dict holds exactly the fields zen-lead owns (field manager ``zen-lead``): applying it sets them
and, on a later apply, removes any of them that are no longer desired (e.g. the leader annotations when
no pod is eligible). Everything else (cluster IPs, allocated node ports, defaults) stays the apiserver's.

Leader Service: no selector, so the endpoints controller never touches it; the source's ports are
mirrored with ``targetPort`` set to the number the leader serves (informational for a selector-less
Service: kube-proxy routes by the EndpointSlice's ports). Node ports are never copied.

EndpointSlices: one per address family the source serves; with a leader each holds exactly one
endpoint (the leader's addresses of that family), without one (or when the leader has no address of
that family) ``endpoints`` is an explicit empty list, which is valid and fails closed: kube-proxy
rejects connections instead of routing them to a pod that is not the leader.
"""

from __future__ import annotations

from typing import Any

from zen_lead.constants import (
    ANNOTATION_LEADER_POD,
    ANNOTATION_LEADER_POD_UID,
    ANNOTATION_LEADER_SINCE,
    ANNOTATION_SOURCE_UID,
    ENDPOINTSLICE_MANAGED_BY_VALUE,
    LABEL_ENDPOINTSLICE_MANAGED_BY,
    LABEL_MANAGED_BY,
    LABEL_SERVICE_NAME,
    LABEL_SOURCE_SERVICE,
    MANAGED_BY_VALUE,
)
from zen_lead.director.core.config import HEADLESS_CLUSTER_IP, DirectorConfig
from zen_lead.director.core.names import endpoint_slice_name
from zen_lead.eligibility.addresses import pod_addresses, served_families
from zen_lead.eligibility.ports import PortResolution, ResolvedPort
from zen_lead.kube.structs import Pod, Service, ServicePort

JsonObject = dict[str, Any]

SERVICE_API_VERSION = "v1"
SERVICE_KIND = "Service"
ENDPOINT_SLICE_API_VERSION = "discovery.k8s.io/v1"
ENDPOINT_SLICE_KIND = "EndpointSlice"
POD_KIND = "Pod"


def desired_leader_service(
    *,
    source: Service,
    config: DirectorConfig,
    name: str,
    leader: Pod | None,
    resolution: PortResolution | None,
    leader_since: str | None,
    observed: Service | None,
) -> JsonObject:
    """The leader Service ``name`` for ``source``.

    ``resolution`` is the leader's port resolution. A named ``targetPort`` it does not cover keeps the
    ``observed`` Service's number (no needless write while there is no leader), else the port number.
    The leader annotations are present only with a leader; ``leader_since`` is an RFC 3339 time.
    """
    annotations = {ANNOTATION_SOURCE_UID: source.metadata.uid}
    if leader is not None:
        annotations[ANNOTATION_LEADER_POD] = leader.metadata.name
        annotations[ANNOTATION_LEADER_POD_UID] = leader.metadata.uid
        if leader_since is not None:
            annotations[ANNOTATION_LEADER_SINCE] = leader_since
    spec: JsonObject = {
        "type": config.leader_service_type,
        "ports": [_service_port(p, resolution=resolution, observed=observed) for p in source.spec.ports],
    }
    if config.headless:
        spec["clusterIP"] = HEADLESS_CLUSTER_IP
    if source.spec.ip_families:
        spec["ipFamilies"] = list(source.spec.ip_families)
    if source.spec.ip_family_policy:
        spec["ipFamilyPolicy"] = source.spec.ip_family_policy
    return {
        "apiVersion": SERVICE_API_VERSION,
        "kind": SERVICE_KIND,
        "metadata": {
            "name": name,
            "namespace": source.metadata.namespace,
            "labels": {LABEL_MANAGED_BY: MANAGED_BY_VALUE, LABEL_SOURCE_SERVICE: source.metadata.name},
            "annotations": annotations,
            "ownerReferences": [_owner_reference(source.metadata.name, source.metadata.uid)],
        },
        "spec": spec,
    }


def desired_endpoint_slices(
    *,
    source: Service,
    leader_service_name: str,
    leader_service_uid: str,
    leader: Pod | None,
    resolution: PortResolution | None,
    zone: str | None,
) -> list[JsonObject]:
    """One EndpointSlice per family ``source`` serves, owned by the leader Service.

    ``ports`` are the leader's resolved ports (empty without a resolution); ``zone`` is the topology
    zone of the leader's node, if known.
    """
    ports = [_slice_port(p) for p in resolution.resolved] if resolution is not None else []
    return [
        {
            "apiVersion": ENDPOINT_SLICE_API_VERSION,
            "kind": ENDPOINT_SLICE_KIND,
            "metadata": {
                "name": endpoint_slice_name(leader_service_name, family),
                "namespace": source.metadata.namespace,
                "labels": {
                    LABEL_SERVICE_NAME: leader_service_name,
                    LABEL_ENDPOINTSLICE_MANAGED_BY: ENDPOINTSLICE_MANAGED_BY_VALUE,
                    LABEL_MANAGED_BY: MANAGED_BY_VALUE,
                    LABEL_SOURCE_SERVICE: source.metadata.name,
                },
                "ownerReferences": [_owner_reference(leader_service_name, leader_service_uid)],
            },
            "addressType": family,
            "ports": ports,
            "endpoints": _endpoints(leader, family=family, zone=zone),
        }
        for family in served_families(source)
    ]


def _owner_reference(name: str, uid: str) -> JsonObject:
    return {
        "apiVersion": SERVICE_API_VERSION,
        "kind": SERVICE_KIND,
        "name": name,
        "uid": uid,
        "controller": True,
    }


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
