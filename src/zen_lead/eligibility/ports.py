"""Resolving a Service's ``targetPort`` on one pod, as the endpoints controller does.

A selector-less leader Service does not resolve ports itself: the EndpointSlice must carry the number
the leader listens on. For each Service port:

- an integer ``targetPort`` is used as is;
- no ``targetPort`` (or 0) means "the same as ``port``";
- a named ``targetPort`` is looked up among the pod's container ports by name *and* protocol, first in
  ``containers``, then in ``initContainers`` (native sidecars may serve ports); the first match wins.
  A name the pod does not declare is *unresolved*: such a pod cannot lead (it would receive traffic
  on a port it does not serve).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from zen_lead.kube.structs import ContainerPort, Pod, Service, ServicePort


@dataclass(frozen=True, slots=True)
class ResolvedPort:
    """One Service port with the number the leader pod serves it on. ``name`` is ``""`` when unnamed."""

    name: str
    port: int
    target_port: int
    protocol: str
    app_protocol: str | None


@dataclass(frozen=True, slots=True)
class PortResolution:
    """Resolved ports in Service order, and the named target ports the pod does not declare."""

    resolved: tuple[ResolvedPort, ...]
    unresolved: tuple[str, ...]


def resolve_ports(service_ports: Iterable[ServicePort], pod: Pod) -> PortResolution:
    """Resolve every Service port on ``pod``; see the module docstring for the rules."""
    resolved: list[ResolvedPort] = []
    unresolved: list[str] = []
    for service_port in service_ports:
        target = _target_number(service_port, pod)
        if target is None:
            unresolved.append(str(service_port.target_port))
            continue
        resolved.append(
            ResolvedPort(
                name=service_port.name or "",
                port=service_port.port,
                target_port=target,
                protocol=service_port.protocol,
                app_protocol=service_port.app_protocol,
            )
        )
    return PortResolution(resolved=tuple(resolved), unresolved=tuple(dict.fromkeys(unresolved)))


def required_port_names(service: Service) -> frozenset[str]:
    """The named target ports a pod must declare to lead ``service`` (empty if all are numeric)."""
    return frozenset(p.target_port for p in service.spec.ports if isinstance(p.target_port, str))


def _target_number(service_port: ServicePort, pod: Pod) -> int | None:
    target = service_port.target_port
    if isinstance(target, int) and target > 0:
        return target
    if not isinstance(target, str) or not target:
        return service_port.port
    for container_port in _container_ports(pod):
        if container_port.name == target and container_port.protocol == service_port.protocol:
            return container_port.container_port
    return None


def _container_ports(pod: Pod) -> Iterator[ContainerPort]:
    for container in (*pod.spec.containers, *pod.spec.init_containers):
        yield from container.ports
