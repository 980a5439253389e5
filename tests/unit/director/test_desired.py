from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.director.builders import NOW, as_service, make_pod, make_service
from tests.unit.director.strategies import HTTP_TCP, NAMED_HTTP, configs, pod_lists, services
from zen_lead.constants import (
    ANNOTATION_LEADER_POD,
    ANNOTATION_LEADER_POD_UID,
    ANNOTATION_LEADER_SINCE,
    ANNOTATION_SOURCE_UID,
)
from zen_lead.director.core import (
    DirectorConfig,
    JsonObject,
    desired_endpoint_slices,
    desired_leader_service,
    ip_family,
    resolve_ports,
    select_leader,
)
from zen_lead.kube.structs import Pod, Service, ServicePort

CONFIG = DirectorConfig(enabled=True, leader_service_name="web-leader")
OWNER = {"apiVersion": "v1", "kind": "Service", "name": "web", "uid": "uid-svc", "controller": True}


def leader_service(
    source: Service, leader: Pod | None, *, config: DirectorConfig = CONFIG, observed: Service | None = None
) -> JsonObject:
    resolution = resolve_ports(source.spec.ports, leader) if leader is not None else None
    return desired_leader_service(
        source=source,
        config=config,
        name=config.leader_service_name,
        leader=leader,
        resolution=resolution,
        leader_since="2024-01-01T00:00:00Z",
        observed=observed,
    )


def slices(source: Service, leader: Pod | None, zone: str | None = None) -> list[JsonObject]:
    resolution = resolve_ports(source.spec.ports, leader) if leader is not None else None
    return desired_endpoint_slices(
        source=source,
        leader_service_name="web-leader",
        leader_service_uid="uid-leader",
        leader=leader,
        resolution=resolution,
        zone=zone,
    )


# ---- leader Service -------------------------------------------------------------------------------
def test_leader_service_with_a_leader() -> None:
    source = make_service(
        ports=(NAMED_HTTP, ServicePort(port=9090, name="metrics", app_protocol="http")),
        ip_families=("IPv4",),
        ip_family_policy="SingleStack",
    )
    manifest = leader_service(source, make_pod(container_ports=(HTTP_TCP,)))
    assert manifest == {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": "web-leader",
            "namespace": "ns",
            "labels": {"app.kubernetes.io/managed-by": "zen-lead", "zen-lead.io/source-service": "web"},
            "annotations": {
                ANNOTATION_SOURCE_UID: "uid-svc",
                ANNOTATION_LEADER_POD: "web-0",
                ANNOTATION_LEADER_POD_UID: "uid-web-0",
                ANNOTATION_LEADER_SINCE: "2024-01-01T00:00:00Z",
            },
            "ownerReferences": [OWNER],
        },
        "spec": {
            "type": "ClusterIP",
            "ports": [
                {"name": "http", "protocol": "TCP", "port": 80, "targetPort": 8080},
                {
                    "name": "metrics",
                    "protocol": "TCP",
                    "port": 9090,
                    "appProtocol": "http",
                    "targetPort": 9090,
                },
            ],
            "ipFamilies": ["IPv4"],
            "ipFamilyPolicy": "SingleStack",
        },
    }
    assert "selector" not in manifest["spec"]


def test_without_a_leader_there_are_no_leader_annotations_and_named_ports_keep_their_number() -> None:
    source = make_service(ports=(NAMED_HTTP, ServicePort(port=81, name="x")))
    manifest = leader_service(source, None)
    assert manifest["metadata"]["annotations"] == {ANNOTATION_SOURCE_UID: "uid-svc"}
    assert [p["targetPort"] for p in manifest["spec"]["ports"]] == [80, 81]
    observed = as_service(leader_service(source, make_pod(container_ports=(HTTP_TCP,))))
    again = leader_service(source, None, observed=observed)
    assert [p["targetPort"] for p in again["spec"]["ports"]] == [8080, 81]


def test_node_ports_are_never_copied_and_the_type_comes_from_config() -> None:
    source = make_service(type="NodePort", ports=(ServicePort(port=80, target_port=8080, node_port=30080),))
    manifest = leader_service(source, make_pod())
    assert manifest["spec"]["type"] == "ClusterIP"
    assert "nodePort" not in manifest["spec"]["ports"][0]
    lb = DirectorConfig(enabled=True, leader_service_name="web-leader", leader_service_type="LoadBalancer")
    assert leader_service(source, make_pod(), config=lb)["spec"]["type"] == "LoadBalancer"


def test_a_headless_source_gets_a_headless_leader_service() -> None:
    config = DirectorConfig(enabled=True, leader_service_name="web-leader", headless=True)
    assert leader_service(make_service(cluster_ip="None"), None, config=config)["spec"]["clusterIP"] == "None"
    assert "clusterIP" not in leader_service(make_service(), None)["spec"]


# ---- EndpointSlices ---------------------------------------------------------------------------------
def test_one_slice_per_family_with_the_leader() -> None:
    source = make_service(ip_families=("IPv6", "IPv4"))
    pod = make_pod(ips=("10.0.0.7", "fd00::7"), node="node-b")
    ipv6, ipv4 = slices(source, pod, zone="zone-b")
    assert ipv4 == {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "name": "web-leader-ipv4",
            "namespace": "ns",
            "labels": {
                "kubernetes.io/service-name": "web-leader",
                "endpointslice.kubernetes.io/managed-by": "endpointslice.zen-lead.io",
                "app.kubernetes.io/managed-by": "zen-lead",
                "zen-lead.io/source-service": "web",
            },
            "ownerReferences": [
                {
                    "apiVersion": "v1",
                    "kind": "Service",
                    "name": "web-leader",
                    "uid": "uid-leader",
                    "controller": True,
                }
            ],
        },
        "addressType": "IPv4",
        "ports": [{"name": "", "port": 8080, "protocol": "TCP"}],
        "endpoints": [
            {
                "addresses": ["10.0.0.7"],
                "conditions": {"ready": True, "serving": True, "terminating": False},
                "targetRef": {"kind": "Pod", "namespace": "ns", "name": "web-0", "uid": "uid-web-0"},
                "nodeName": "node-b",
                "zone": "zone-b",
            }
        ],
    }
    assert ipv6["metadata"]["name"] == "web-leader-ipv6"
    assert ipv6["addressType"] == "IPv6"
    assert ipv6["endpoints"][0]["addresses"] == ["fd00::7"]


def test_without_a_leader_slices_are_explicitly_empty() -> None:
    (only,) = slices(make_service(), None)
    assert only["endpoints"] == []
    assert only["ports"] == []


def test_a_family_the_leader_has_no_address_of_gets_no_endpoint() -> None:
    ipv4, ipv6 = slices(make_service(ip_families=("IPv4", "IPv6")), make_pod(ips=("10.0.0.1",)))
    assert len(ipv4["endpoints"]) == 1
    assert ipv6["endpoints"] == []


def test_pod_ip_is_used_when_pod_ips_is_empty_and_unknown_nodes_are_omitted() -> None:
    pod = make_pod(ips=(), node=None)
    pod = Pod(
        metadata=pod.metadata,
        spec=pod.spec,
        status=type(pod.status)(phase="Running", pod_ip="10.9.9.9", conditions=pod.status.conditions),
    )
    (only,) = slices(make_service(), pod)
    assert only["endpoints"][0]["addresses"] == ["10.9.9.9"]
    assert "nodeName" not in only["endpoints"][0]
    assert "zone" not in only["endpoints"][0]


@settings(max_examples=150)
@given(pods=pod_lists, service=services, config=configs, zone=st.none() | st.just("z1"))
def test_slices_hold_at_most_one_endpoint_always_with_addresses_of_their_family(
    pods: list[Pod], service: Service, config: DirectorConfig, zone: str | None
) -> None:
    leader = select_leader(pods=pods, service=service, config=config, current_leader_uid=None, now=NOW).leader
    for manifest in slices(service, leader, zone):
        endpoints = manifest["endpoints"]
        assert len(endpoints) <= 1
        if leader is None:
            assert endpoints == []
        for endpoint in endpoints:
            assert endpoint["addresses"]
            assert all(ip_family(ip) == manifest["addressType"] for ip in endpoint["addresses"])
            assert leader is not None
            assert endpoint["targetRef"]["uid"] == leader.metadata.uid
    if leader is not None:
        assert any(manifest["endpoints"] for manifest in slices(service, leader, zone))
