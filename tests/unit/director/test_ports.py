from __future__ import annotations

from tests.unit.director.builders import make_pod, make_service
from tests.unit.director.strategies import HTTP_TCP, HTTP_UDP
from zen_lead.director.core import PortResolution, ResolvedPort, required_port_names, resolve_ports
from zen_lead.kube.structs import ContainerPort, ServicePort


def test_numeric_and_missing_target_ports() -> None:
    ports = (ServicePort(port=80, name="web", target_port=8080), ServicePort(port=443, name="tls"))
    assert resolve_ports(ports, make_pod()) == PortResolution(
        resolved=(
            ResolvedPort(name="web", port=80, target_port=8080, protocol="TCP", app_protocol=None),
            ResolvedPort(name="tls", port=443, target_port=443, protocol="TCP", app_protocol=None),
        ),
        unresolved=(),
    )


def test_named_target_ports_match_name_and_protocol() -> None:
    ports = (
        ServicePort(port=53, name="dns", protocol="UDP", target_port="dns"),
        ServicePort(port=53, name="dns-tcp", protocol="TCP", target_port="dns", app_protocol="dns"),
    )
    pod = make_pod(
        container_ports=(
            ContainerPort(container_port=5353, name="dns", protocol="UDP"),
            ContainerPort(container_port=5354, name="dns", protocol="TCP"),
        )
    )
    resolution = resolve_ports(ports, pod)
    assert [(p.port, p.protocol, p.target_port, p.app_protocol) for p in resolution.resolved] == [
        (53, "UDP", 5353, None),
        (53, "TCP", 5354, "dns"),
    ]
    assert resolution.unresolved == ()


def test_unresolvable_names_are_reported_once() -> None:
    ports = (
        ServicePort(port=80, name="a", target_port="http"),
        ServicePort(port=81, name="b", target_port="http"),
    )
    resolution = resolve_ports(ports, make_pod(container_ports=(HTTP_UDP,)))
    assert resolution == PortResolution(resolved=(), unresolved=("http",))


def test_sidecar_ports_in_init_containers_count() -> None:
    ports = (ServicePort(port=80, name="http", target_port="http"),)
    assert resolve_ports(ports, make_pod(init_container_ports=(HTTP_TCP,))).resolved[0].target_port == 8080


def test_unnamed_port_has_an_empty_name() -> None:
    assert resolve_ports((ServicePort(port=80),), make_pod()).resolved[0].name == ""


def test_required_port_names() -> None:
    service = make_service(
        ports=(
            ServicePort(port=80, name="a", target_port="http"),
            ServicePort(port=90, name="b", target_port=9000),
        )
    )
    assert required_port_names(service) == frozenset({"http"})
