from __future__ import annotations

import copy

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.director.builders import NOW, as_service, as_slice, make_pod, make_service
from tests.unit.director.strategies import HTTP_TCP, NAMED_HTTP, configs, pod_lists, services
from zen_lead.constants import ANNOTATION_LEADER_POD_UID
from zen_lead.director.core import (
    DirectorConfig,
    JsonObject,
    desired_endpoint_slices,
    desired_leader_service,
    resolve_ports,
    select_leader,
    service_must_replace,
    service_needs_update,
    slice_must_replace,
    slice_needs_update,
)
from zen_lead.kube.structs import Pod, Service

CONFIG = DirectorConfig(enabled=True, leader_service_name="web-leader")
SOURCE = make_service(ports=(NAMED_HTTP,), ip_families=("IPv4",))
LEADER = make_pod(container_ports=(HTTP_TCP,))


def service_manifest(
    source: Service = SOURCE, leader: Pod | None = LEADER, config: DirectorConfig = CONFIG
) -> JsonObject:
    resolution = resolve_ports(source.spec.ports, leader) if leader is not None else None
    return desired_leader_service(
        source=source,
        config=config,
        name=config.leader_service_name,
        leader=leader,
        resolution=resolution,
        leader_since="2024-01-01T00:00:00Z",
        observed=None,
    )


def slice_manifests(source: Service = SOURCE, leader: Pod | None = LEADER) -> list[JsonObject]:
    resolution = resolve_ports(source.spec.ports, leader) if leader is not None else None
    return desired_endpoint_slices(
        source=source,
        leader_service_name="web-leader",
        leader_service_uid="uid-leader",
        leader=leader,
        resolution=resolution,
        zone="z1",
    )


def server_defaulted(manifest: JsonObject) -> Service:
    """The applied Service as the apiserver returns it: allocated and defaulted fields, others' labels."""
    observed = as_service(manifest)
    ports = tuple(msgspec.structs.replace(p, node_port=30000 + i) for i, p in enumerate(observed.spec.ports))
    spec = msgspec.structs.replace(
        observed.spec,
        ports=ports,
        cluster_ip=observed.spec.cluster_ip or "10.96.0.10",
        cluster_i_ps=("10.96.0.10",),
        session_affinity="None",
        internal_traffic_policy="Cluster",
        ip_families=observed.spec.ip_families or ("IPv4",),
        ip_family_policy=observed.spec.ip_family_policy or "SingleStack",
    )
    metadata = msgspec.structs.replace(
        observed.metadata,
        resource_version="42",
        labels={**observed.metadata.labels, "team": "x"},
        annotations={**observed.metadata.annotations, "kubectl.io/x": "y"},
    )
    return msgspec.structs.replace(observed, metadata=metadata, spec=spec)


# ---- Service ----------------------------------------------------------------------------------------
def test_an_applied_service_needs_no_update_despite_server_defaults() -> None:
    manifest = service_manifest()
    assert not service_needs_update(server_defaulted(manifest), manifest)
    assert not service_must_replace(server_defaulted(manifest), manifest)


def test_a_leader_change_needs_an_update() -> None:
    observed = server_defaulted(service_manifest())
    other = make_pod("web-1", container_ports=(HTTP_TCP,))
    assert service_needs_update(observed, service_manifest(leader=other))


def test_losing_the_leader_needs_an_update_to_drop_the_annotations() -> None:
    observed = server_defaulted(service_manifest())
    desired = service_manifest(leader=None)
    assert ANNOTATION_LEADER_POD_UID not in desired["metadata"]["annotations"]
    assert service_needs_update(observed, desired)


def test_changed_fields_need_an_update() -> None:
    observed = server_defaulted(service_manifest())
    for path, value in [
        (("spec", "type"), "NodePort"),
        (("spec", "ipFamilyPolicy"), "PreferDualStack"),
        (("metadata", "labels", "zen-lead.io/source-service"), "other"),
    ]:
        desired = copy.deepcopy(service_manifest())
        target = desired
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
        assert service_needs_update(observed, desired), path
    desired = copy.deepcopy(service_manifest())
    desired["spec"]["ports"][0]["targetPort"] = 9999
    assert service_needs_update(observed, desired)
    desired = copy.deepcopy(service_manifest())
    desired["metadata"]["ownerReferences"][0]["uid"] = "another"
    assert service_needs_update(observed, desired)


def test_headlessness_and_primary_family_changes_need_a_replacement() -> None:
    headless = DirectorConfig(enabled=True, leader_service_name="web-leader", headless=True)
    observed = server_defaulted(service_manifest())
    assert service_must_replace(observed, service_manifest(config=headless))
    ipv6 = make_service(ports=(NAMED_HTTP,), ip_families=("IPv6",))
    assert service_must_replace(observed, service_manifest(source=ipv6))
    dual = make_service(ports=(NAMED_HTTP,), ip_families=("IPv4", "IPv6"))
    assert not service_must_replace(observed, service_manifest(source=dual))
    assert service_needs_update(observed, service_manifest(source=dual))


# ---- EndpointSlice ---------------------------------------------------------------------------------
def test_an_applied_slice_needs_no_update() -> None:
    for manifest in slice_manifests():
        observed = as_slice(manifest)
        assert not slice_needs_update(observed, manifest)
        assert not slice_must_replace(observed, manifest)


def test_slice_changes_need_an_update() -> None:
    (manifest,) = slice_manifests()
    observed = as_slice(manifest)
    (moved,) = slice_manifests(leader=make_pod("web-1", ips=("10.0.0.2",), container_ports=(HTTP_TCP,)))
    assert slice_needs_update(observed, moved)
    (empty,) = slice_manifests(leader=None)
    assert slice_needs_update(observed, empty)
    assert slice_needs_update(as_slice(empty), manifest)
    no_zone = copy.deepcopy(manifest)
    del no_zone["endpoints"][0]["zone"]
    assert slice_needs_update(observed, no_zone)


def test_a_different_address_type_means_replace() -> None:
    (manifest,) = slice_manifests()
    observed = msgspec.structs.replace(as_slice(manifest), address_type="IPv6")
    assert slice_must_replace(observed, manifest)
    assert slice_needs_update(observed, manifest)


def test_unnamed_ports_and_default_protocols_compare_equal() -> None:
    (manifest,) = slice_manifests(source=make_service(ip_families=("IPv4",)))
    observed = as_slice(manifest)
    ports = tuple(msgspec.structs.replace(p, name=None, protocol=None) for p in observed.ports)
    assert not slice_needs_update(msgspec.structs.replace(observed, ports=ports), manifest)


@settings(max_examples=150)
@given(pods=pod_lists, service=services, config=configs, current=st.none() | st.just("uid-web-0"))
def test_applying_what_is_desired_converges(
    pods: list[Pod], service: Service, config: DirectorConfig, current: str | None
) -> None:
    leader = select_leader(
        pods=pods, service=service, config=config, current_leader_uid=current, now=NOW
    ).leader
    desired = service_manifest(source=service, leader=leader, config=config)
    assert not service_needs_update(server_defaulted(desired), desired)
    for manifest in slice_manifests(source=service, leader=leader):
        assert not slice_needs_update(as_slice(manifest), manifest)
