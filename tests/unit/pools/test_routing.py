"""A pool's leader Service as data: created first (the slices need its UID), then slices that route to
the leader alone or to nobody, nothing more to write once written, and never a Service that is not the
pool's. Properties over the leader and the ports (numbers and names)."""

from __future__ import annotations

from typing import Any

import msgspec
from hypothesis import given
from hypothesis import strategies as st

from tests.unit.director.builders import make_pod
from zen_lead.kube.structs import (
    ContainerPort,
    EndpointSlice,
    LeaderPolicy,
    LeaderPolicySpec,
    ObjectMeta,
    Pod,
    PoolLeaderService,
    Service,
    ServicePort,
)
from zen_lead.pools.core.routing import plan_route, pool_service_name

HTTP = ServicePort(port=80, name="http", target_port="web")
METRICS = ServicePort(port=9090, name="metrics", target_port=9090)
WEB = ContainerPort(container_port=8080, name="web", protocol="TCP")


def policy(*ports: ServicePort, name: str | None = None, headless: bool = False) -> LeaderPolicy:
    service = PoolLeaderService(name=name, headless=headless, ports=ports) if ports else None
    return LeaderPolicy(
        metadata=ObjectMeta(name="db", namespace="ns", uid="uid-policy"),
        spec=LeaderPolicySpec(leader_service=service),
    )


def stored(manifest: dict[str, Any], kind: type[Any], uid: str) -> Any:
    """What the apiserver keeps of an applied manifest (with a UID, and IPv4 for a Service)."""
    obj = msgspec.convert(manifest, kind)
    meta = msgspec.structs.replace(obj.metadata, uid=uid)
    obj = msgspec.structs.replace(obj, metadata=meta)
    if isinstance(obj, Service):
        obj = msgspec.structs.replace(obj, spec=msgspec.structs.replace(obj.spec, ip_families=("IPv4",)))
    return obj


def converge(p: LeaderPolicy, leader: Pod | None) -> tuple[Service, dict[str, EndpointSlice], int]:
    """Plan and carry out until nothing is left to write; the objects and the number of passes."""
    service: Service | None = None
    slices: dict[str, EndpointSlice] = {}
    for passes in range(1, 5):
        route = plan_route(p, leader=leader, leader_since=None, observed=service, observed_slices=slices)
        assert route is not None
        assert route.conflict is None
        if route.service is None and not route.slices:
            assert service is not None
            return service, slices, passes
        if route.service is not None:
            service = stored(route.service, Service, "uid-svc")
        for manifest in route.slices:
            slices[manifest["metadata"]["name"]] = stored(manifest, EndpointSlice, "uid-slice")
    raise AssertionError("still writing after 4 passes")


def test_no_leader_service_unless_the_spec_asks() -> None:
    assert plan_route(policy(), leader=None, leader_since=None, observed=None, observed_slices={}) is None
    assert pool_service_name(policy(HTTP)) == "db-leader"
    assert pool_service_name(policy(HTTP, name="primary")) == "primary"


@given(st.booleans(), st.booleans(), st.sampled_from([(HTTP,), (METRICS,), (HTTP, METRICS)]))
def test_the_slices_route_to_the_leader_alone_or_to_nobody(
    leads: bool, headless: bool, ports: tuple[ServicePort, ...]
) -> None:
    leader = make_pod("db-1", ips=("10.0.0.7",), container_ports=(WEB,)) if leads else None
    service, slices, passes = converge(policy(*ports, headless=headless), leader)
    assert passes == 3  # the Service, then its slices, then nothing
    assert service.metadata.owner_references[0].kind == "LeaderPolicy"
    assert service.metadata.labels["coordination.kube-zen.io/pool"] == "db"
    assert service.spec.selector is None
    [only] = slices.values()
    assert only.metadata.owner_references[0].uid == "uid-svc"
    if leader is None:
        assert not only.endpoints  # fail-closed
        assert "zen-lead.io/leader-pod" not in service.metadata.annotations
    else:
        assert only.endpoints is not None
        [endpoint] = only.endpoints
        assert endpoint.addresses == ("10.0.0.7",)
        assert endpoint.target_ref is not None
        assert endpoint.target_ref.name == "db-1"
        numbers = {(p.name, p.port) for p in only.ports or ()}
        wanted = {("http", 8080), ("metrics", 9090)} & {(p.name, 8080 if p is HTTP else 9090) for p in ports}
        assert numbers == wanted
        assert service.metadata.annotations["zen-lead.io/leader-pod"] == "db-1"


def test_a_leader_change_rewrites_the_slice_and_the_annotations_only() -> None:
    p = policy(METRICS)
    first = make_pod("db-1", ips=("10.0.0.7",))
    service, slices, _ = converge(p, first)
    second = make_pod("db-2", ips=("10.0.0.8",))
    route = plan_route(p, leader=second, leader_since=None, observed=service, observed_slices=slices)
    assert route is not None
    assert not route.replace
    assert not route.replace_slices
    [changed] = route.slices
    assert changed["endpoints"][0]["addresses"] == ["10.0.0.8"]
    assert route.service is not None  # the leader annotations move too


def test_a_service_of_that_name_that_is_not_the_pools_is_never_written() -> None:
    foreign = Service(metadata=ObjectMeta(name="db-leader", namespace="ns", uid="uid-other"))
    route = plan_route(
        policy(HTTP),
        leader=make_pod(container_ports=(WEB,)),
        leader_since=None,
        observed=foreign,
        observed_slices={},
    )
    assert route is not None
    assert route.conflict is not None
    assert "db-leader" in route.conflict
    assert route.service is None
    assert route.slices == ()
