"""Builders for the workloads tests run on the simulated (kwok) nodes."""

from __future__ import annotations

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
    """Flip a pod's Ready condition through the status subresource, as a kubelet would."""
    status = "True" if ready else "False"
    kube.patch(
        Pod.Status,
        name,
        namespace=namespace,
        obj={
            "status": {
                "conditions": [
                    {"type": "Ready", "status": status},
                    {"type": "ContainersReady", "status": status},
                ]
            }
        },
    )


def ready_condition(ready: bool) -> PodCondition:
    return PodCondition(type="Ready", status="True" if ready else "False")


__all__ = ["PodStatus", "deployment", "pod_ready", "ready_condition", "service", "set_pod_ready"]
