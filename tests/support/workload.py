"""Builders for the workloads tests run on the simulated (kwok) nodes."""

from __future__ import annotations

import time
from typing import Any

from lightkube import Client
from lightkube.models.apps_v1 import DeploymentSpec
from lightkube.models.core_v1 import (
    Container,
    ContainerPort,
    PodCondition,
    PodSpec,
    PodStatus,
    PodTemplateSpec,
    ServicePort,
    ServiceSpec,
)
from lightkube.models.meta_v1 import LabelSelector, ObjectMeta
from lightkube.resources.apps_v1 import Deployment
from lightkube.resources.core_v1 import Pod, Service

from zen_lead.localcluster.pods import set_pod_readiness


def deployment(
    name: str,
    namespace: str,
    *,
    replicas: int = 3,
    labels: dict[str, str] | None = None,
    ports: list[tuple[str, int]] | None = None,
) -> Deployment:
    labels = labels or {"app": name}
    container_ports = [ContainerPort(name=n, containerPort=p) for n, p in (ports or [("http", 8080)])]
    return Deployment(
        metadata=ObjectMeta(name=name, namespace=namespace),
        spec=DeploymentSpec(
            replicas=replicas,
            selector=LabelSelector(matchLabels=labels),
            template=PodTemplateSpec(
                metadata=ObjectMeta(labels=labels),
                spec=PodSpec(
                    containers=[Container(name="app", image="example.invalid/app:1", ports=container_ports)]
                ),
            ),
        ),
    )


def service(
    name: str,
    namespace: str,
    *,
    selector: dict[str, str],
    annotations: dict[str, str] | None = None,
    ports: list[ServicePort] | None = None,
    **spec: Any,
) -> Service:
    return Service(
        metadata=ObjectMeta(name=name, namespace=namespace, annotations=annotations),
        spec=ServiceSpec(
            selector=selector, ports=ports or [ServicePort(name="http", port=80, targetPort="http")], **spec
        ),
    )


def pod_ready(pod: Pod) -> bool:
    return any(c.type == "Ready" and c.status == "True" for c in (pod.status.conditions or []))


def set_pod_ready(kube: Client, name: str, namespace: str, ready: bool) -> None:
    """Make a running pod Ready or NotReady as its kubelet would (containers and conditions), the way
    ``zen-lead cluster pod-ready`` does."""
    set_pod_readiness(kube, name, namespace=namespace, ready=ready)


def ready_condition(ready: bool) -> PodCondition:
    return PodCondition(type="Ready", status="True" if ready else "False")


__all__ = ["PodStatus", "deployment", "pod_ready", "ready_condition", "service", "set_pod_ready"]


def manual_node(kube: Client, name: str, zone: str = "zone-m") -> None:
    """A Node kwok does not manage: pods bound to it get only the status a test writes for them."""
    from lightkube.resources.core_v1 import Node

    kube.create(Node(metadata=ObjectMeta(name=name, labels={"topology.kubernetes.io/zone": zone})))


def manual_pod(
    kube: Client,
    *,
    name: str,
    namespace: str,
    node: str,
    labels: dict[str, str],
    ips: list[str],
    ready: bool = True,
    ports: list[tuple[str, int]] | None = None,
    finalizers: list[str] | None = None,
) -> Pod:
    """Create a pod bound to ``node`` and write its status (Running, Ready, IPs) as a kubelet would."""
    container_ports = [ContainerPort(name=n, containerPort=p) for n, p in (ports or [("http", 8080)])]
    kube.create(
        Pod(
            metadata=ObjectMeta(name=name, namespace=namespace, labels=labels, finalizers=finalizers),
            spec=PodSpec(
                nodeName=node,
                containers=[Container(name="app", image="example.invalid/app:1", ports=container_ports)],
            ),
        )
    )
    write_pod_status(kube, name=name, namespace=namespace, ips=ips, ready=ready)
    return kube.get(Pod, name, namespace=namespace)


def write_pod_status(kube: Client, *, name: str, namespace: str, ips: list[str], ready: bool = True) -> None:
    from lightkube.types import PatchType

    status = "True" if ready else "False"
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    kube.patch(
        Pod.Status,
        name,
        namespace=namespace,
        patch_type=PatchType.MERGE,
        obj={
            "status": {
                "phase": "Running",
                "podIP": ips[0] if ips else None,
                "podIPs": [{"ip": ip} for ip in ips],
                "conditions": [
                    {"type": t, "status": status, "lastTransitionTime": now}
                    for t in ("Ready", "ContainersReady")
                ],
            }
        },
    )
