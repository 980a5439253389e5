"""Typed resource descriptors: how zen-lead addresses every kind of object it reads or writes.

A ``Resource`` names a kind once — group, version, plural, kind, whether it is namespaced, and the
slim struct it decodes into — and everything that talks about that kind takes the descriptor: the
informers (list and watch paths), the client (request paths and the ``resource`` label of its
metrics), and the RBAC rules the chart renders (``deploy/render.py`` reads each component's
``Rule`` list). Adding a kind, such as a CRD, is one descriptor here.

Paths follow the apiserver's layout: the core group lives under ``/api/v1``, every other group under
``/apis/<group>/<version>``; namespaced kinds add ``/namespaces/<namespace>`` unless listed across all
namespaces.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from zen_lead.constants import POOL_GROUP, POOL_VERSION
from zen_lead.kube.meta import ObjectRef
from zen_lead.kube.structs import (
    EndpointSlice,
    Event,
    HorizontalPodAutoscaler,
    Job,
    LeaderPolicy,
    Lease,
    ManualLock,
    Namespace,
    Node,
    Pod,
    Scale,
    Service,
)

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Resource(Generic[T]):
    """One kind of object. ``struct`` is what its objects decode into (only the fields we read)."""

    group: str  # "" for the core group
    version: str
    plural: str
    kind: str
    namespaced: bool
    struct: type[T]

    @property
    def api_version(self) -> str:
        """``v1`` or ``<group>/<version>``, as written in ``apiVersion``."""
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def qualified(self) -> str:
        """``pods`` or ``endpointslices.discovery.k8s.io``: the name ``kubectl`` and RBAC errors use."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    def collection(self, namespace: str | None = None) -> str:
        """The path of the collection; ``namespace=None`` lists a namespaced kind across all namespaces."""
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace:
            return f"{base}/namespaces/{namespace}/{self.plural}"
        return f"{base}/{self.plural}"

    def path(self, namespace: str | None, name: str, subresource: str | None = None) -> str:
        """The path of one object (and of one of its subresources, e.g. ``status`` or ``scale``)."""
        if self.namespaced and not namespace:
            raise ValueError(f"{self.qualified} is namespaced: a namespace is needed to address {name!r}")
        path = f"{self.collection(namespace if self.namespaced else None)}/{name}"
        return f"{path}/{subresource}" if subresource else path

    def ref(self, obj: T) -> ObjectRef:
        """The reference an Event uses to name ``obj`` (its ``metadata`` must carry name and uid)."""
        meta: Any = obj.metadata  # type: ignore[attr-defined]
        return ObjectRef(self.api_version, self.kind, meta.namespace, meta.name, meta.uid)

    def __str__(self) -> str:
        return self.qualified


@dataclass(frozen=True, slots=True)
class Rule:
    """An RBAC rule a component needs: ``verbs`` on ``resource`` (rendered into the chart's Roles)."""

    resource: Resource[Any]
    verbs: tuple[str, ...]
    subresource: str | None = None

    @property
    def rbac_resource(self) -> str:
        return f"{self.resource.plural}/{self.subresource}" if self.subresource else self.resource.plural


PODS: Resource[Pod] = Resource("", "v1", "pods", "Pod", True, Pod)
SERVICES: Resource[Service] = Resource("", "v1", "services", "Service", True, Service)
NODES: Resource[Node] = Resource("", "v1", "nodes", "Node", False, Node)
NAMESPACES: Resource[Namespace] = Resource("", "v1", "namespaces", "Namespace", False, Namespace)
EVENTS: Resource[Event] = Resource("", "v1", "events", "Event", True, Event)
ENDPOINT_SLICES: Resource[EndpointSlice] = Resource(
    "discovery.k8s.io", "v1", "endpointslices", "EndpointSlice", True, EndpointSlice
)
JOBS: Resource[Job] = Resource("batch", "v1", "jobs", "Job", True, Job)
LEASES: Resource[Lease] = Resource("coordination.k8s.io", "v1", "leases", "Lease", True, Lease)
LEADER_POLICIES: Resource[LeaderPolicy] = Resource(
    POOL_GROUP, POOL_VERSION, "leaderpolicies", "LeaderPolicy", True, LeaderPolicy
)
MANUAL_LOCKS: Resource[ManualLock] = Resource(
    POOL_GROUP, POOL_VERSION, "manuallocks", "ManualLock", True, ManualLock
)
HPAS: Resource[HorizontalPodAutoscaler] = Resource(
    "autoscaling", "v2", "horizontalpodautoscalers", "HorizontalPodAutoscaler", True, HorizontalPodAutoscaler
)
# Workloads are only ever addressed through their scale subresource (decoded as a Scale).
DEPLOYMENTS: Resource[Scale] = Resource("apps", "v1", "deployments", "Deployment", True, Scale)
STATEFULSETS: Resource[Scale] = Resource("apps", "v1", "statefulsets", "StatefulSet", True, Scale)
SCALABLE = {"Deployment": DEPLOYMENTS, "StatefulSet": STATEFULSETS}
