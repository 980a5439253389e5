"""Small builders for the slim structs, so tests state only what matters to them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import msgspec

from zen_lead.constants import ANNOTATION_ENABLED
from zen_lead.kube.structs import (
    Container,
    ContainerPort,
    EndpointSlice,
    ObjectMeta,
    Pod,
    PodCondition,
    PodIP,
    PodSpec,
    PodStatus,
    Service,
    ServicePort,
    ServiceSpec,
)
from zen_lead.kube.times import format_time

NOW = 1_700_000_000.0
NAMESPACE = "ns"
APP = {"app": "web"}
ENABLED = {ANNOTATION_ENABLED: "true"}
HTTP = ServicePort(port=80, target_port=8080)


def make_pod(
    name: str = "web-0",
    *,
    uid: str | None = None,
    labels: Mapping[str, str] = APP,
    phase: str | None = "Running",
    ready: bool = True,
    ready_at: float | None = NOW - 100,
    created_at: float | None = NOW - 200,
    ips: Sequence[str] = ("10.0.0.1",),
    node: str | None = "node-a",
    terminating: bool = False,
    container_ports: Sequence[ContainerPort] = (),
    init_container_ports: Sequence[ContainerPort] = (),
) -> Pod:
    condition = PodCondition(
        type="Ready",
        status="True" if ready else "False",
        last_transition_time=format_time(ready_at) if ready_at is not None else None,
    )
    return Pod(
        metadata=ObjectMeta(
            name=name,
            namespace=NAMESPACE,
            uid=uid if uid is not None else f"uid-{name}",
            labels=dict(labels),
            creation_timestamp=format_time(created_at) if created_at is not None else None,
            deletion_timestamp=format_time(NOW - 1) if terminating else None,
        ),
        spec=PodSpec(
            node_name=node,
            containers=(Container(name="app", ports=tuple(container_ports)),),
            init_containers=(Container(name="sidecar", ports=tuple(init_container_ports)),)
            if init_container_ports
            else (),
        ),
        status=PodStatus(
            phase=phase,
            pod_ip=ips[0] if ips else None,
            pod_ips=tuple(PodIP(ip=ip) for ip in ips),
            conditions=(condition,),
        ),
    )


def make_service(
    name: str = "web",
    *,
    uid: str = "uid-svc",
    selector: Mapping[str, str] | None = APP,
    ports: Sequence[ServicePort] = (HTTP,),
    annotations: Mapping[str, str] = ENABLED,
    labels: Mapping[str, str] | None = None,
    ip_families: Sequence[str] = (),
    ip_family_policy: str | None = None,
    cluster_ip: str | None = None,
    type: str = "ClusterIP",
) -> Service:
    return Service(
        metadata=ObjectMeta(
            name=name, namespace=NAMESPACE, uid=uid, annotations=dict(annotations), labels=dict(labels or {})
        ),
        spec=ServiceSpec(
            selector=dict(selector) if selector is not None else None,
            ports=tuple(ports),
            type=type,
            cluster_ip=cluster_ip,
            ip_families=tuple(ip_families),
            ip_family_policy=ip_family_policy,
        ),
    )


def as_service(manifest: Mapping[str, object], *, uid: str = "uid-leader") -> Service:
    """What the apiserver would return for an applied Service manifest (plus a UID)."""
    observed = msgspec.convert(manifest, Service)
    return msgspec.structs.replace(observed, metadata=msgspec.structs.replace(observed.metadata, uid=uid))


def as_slice(manifest: Mapping[str, object]) -> EndpointSlice:
    """What the apiserver would return for an applied EndpointSlice manifest."""
    return msgspec.convert(manifest, EndpointSlice)
