"""Slim, typed views of the objects zen-lead caches, decoded straight from JSON with msgspec.

Only the fields a decision needs are declared; msgspec skips every other field while decoding, so a
10,000-pod list decodes ~20x faster than full models and the cache holds a fraction of the memory.
``gc=False`` keeps these (acyclic) structs out of the garbage collector's scans. The same structs are the
input of the pure decision functions, so the functional core never sees a client object.
"""

from __future__ import annotations

from typing import Any

import msgspec

_OPTIONS = {"rename": "camel", "omit_defaults": True, "gc": False, "frozen": True}


class OwnerReference(msgspec.Struct, **_OPTIONS):
    api_version: str = ""
    kind: str = ""
    name: str = ""
    uid: str = ""
    controller: bool | None = None


class ObjectMeta(msgspec.Struct, **_OPTIONS):
    name: str = ""
    namespace: str = ""
    uid: str = ""
    resource_version: str = ""
    generation: int = 0
    creation_timestamp: str | None = None
    deletion_timestamp: str | None = None
    labels: dict[str, str] = {}
    annotations: dict[str, str] = {}
    owner_references: tuple[OwnerReference, ...] = ()
    finalizers: tuple[str, ...] = ()


# ---- Pod -----------------------------------------------------------------------------------------
class ContainerPort(msgspec.Struct, **_OPTIONS):
    container_port: int = 0
    name: str | None = None
    protocol: str = "TCP"


class Container(msgspec.Struct, **_OPTIONS):
    name: str = ""
    ports: tuple[ContainerPort, ...] = ()


class PodSpec(msgspec.Struct, **_OPTIONS):
    node_name: str | None = None
    hostname: str | None = None
    subdomain: str | None = None
    containers: tuple[Container, ...] = ()
    init_containers: tuple[Container, ...] = ()


class PodCondition(msgspec.Struct, **_OPTIONS):
    type: str = ""
    status: str = ""
    last_transition_time: str | None = None


class PodIP(msgspec.Struct, **_OPTIONS):
    ip: str = ""


class PodStatus(msgspec.Struct, **_OPTIONS):
    phase: str | None = None
    pod_ip: str | None = msgspec.field(default=None, name="podIP")
    pod_ips: tuple[PodIP, ...] = msgspec.field(default=(), name="podIPs")
    conditions: tuple[PodCondition, ...] = ()


class Pod(msgspec.Struct, **_OPTIONS):
    metadata: ObjectMeta = ObjectMeta()
    spec: PodSpec = PodSpec()
    status: PodStatus = PodStatus()


# ---- Service -------------------------------------------------------------------------------------
class ServicePort(msgspec.Struct, **_OPTIONS):
    port: int = 0
    name: str | None = None
    protocol: str = "TCP"
    app_protocol: str | None = None
    target_port: int | str | None = None
    node_port: int | None = None


class ServiceSpec(msgspec.Struct, **_OPTIONS):
    selector: dict[str, str] | None = None
    ports: tuple[ServicePort, ...] = ()
    type: str = "ClusterIP"
    cluster_ip: str | None = msgspec.field(default=None, name="clusterIP")
    cluster_i_ps: tuple[str, ...] = msgspec.field(default=(), name="clusterIPs")
    ip_families: tuple[str, ...] = ()
    ip_family_policy: str | None = None
    session_affinity: str | None = None
    publish_not_ready_addresses: bool | None = None
    internal_traffic_policy: str | None = None
    external_traffic_policy: str | None = None


class Service(msgspec.Struct, **_OPTIONS):
    metadata: ObjectMeta = ObjectMeta()
    spec: ServiceSpec = ServiceSpec()


# ---- EndpointSlice -------------------------------------------------------------------------------
class EndpointConditions(msgspec.Struct, **_OPTIONS):
    ready: bool | None = None
    serving: bool | None = None
    terminating: bool | None = None


class ObjectReference(msgspec.Struct, **_OPTIONS):
    kind: str = ""
    namespace: str = ""
    name: str = ""
    uid: str = ""


class Endpoint(msgspec.Struct, **_OPTIONS):
    addresses: tuple[str, ...] = ()
    conditions: EndpointConditions = EndpointConditions()
    node_name: str | None = None
    zone: str | None = None
    target_ref: ObjectReference | None = None


class EndpointPort(msgspec.Struct, **_OPTIONS):
    name: str | None = None
    port: int | None = None
    protocol: str | None = None
    app_protocol: str | None = None


class EndpointSlice(msgspec.Struct, **_OPTIONS):
    metadata: ObjectMeta = ObjectMeta()
    address_type: str = "IPv4"
    # The apiserver serialises empty ``endpoints`` and ``ports`` as ``null`` (neither is omitempty).
    endpoints: tuple[Endpoint, ...] | None = ()
    ports: tuple[EndpointPort, ...] | None = ()


# ---- Node ----------------------------------------------------------------------------------------
class NodeMeta(msgspec.Struct, **_OPTIONS):
    name: str = ""
    namespace: str = ""
    resource_version: str = ""
    labels: dict[str, str] = {}


class Node(msgspec.Struct, **_OPTIONS):
    metadata: NodeMeta = NodeMeta()


# ---- Namespace -----------------------------------------------------------------------------------
class NamespaceStatus(msgspec.Struct, **_OPTIONS):
    phase: str | None = None


class Namespace(msgspec.Struct, **_OPTIONS):
    metadata: ObjectMeta = ObjectMeta()
    status: NamespaceStatus = NamespaceStatus()


# ---- Lease ---------------------------------------------------------------------------------------
class LeaseSpec(msgspec.Struct, **_OPTIONS):
    """client-go's five fields, plus the Coordinated Leader Election ones (dropped by an apiserver
    whose ``CoordinatedLeaderElection`` gate is off: read back to know)."""

    holder_identity: str | None = None
    lease_duration_seconds: int | None = None
    acquire_time: str | None = None
    renew_time: str | None = None
    lease_transitions: int | None = None
    preferred_holder: str | None = None
    strategy: str | None = None


class Lease(msgspec.Struct, **_OPTIONS):
    metadata: ObjectMeta = ObjectMeta()
    spec: LeaseSpec = LeaseSpec()


class Job(msgspec.Struct, **_OPTIONS):
    """A batch/v1 Job: only its metadata (``zen-lead exec --slot-from-job`` reads one annotation)."""

    metadata: ObjectMeta = ObjectMeta()


# ---- LeaderPolicy (coordination.kube-zen.io/v1alpha1) ------------------------------------------------
class ScaleTargetRef(msgspec.Struct, **_OPTIONS):
    kind: str = ""
    name: str = ""


class PoolLeaderService(msgspec.Struct, **_OPTIONS):
    name: str | None = None
    headless: bool = False
    ports: tuple[ServicePort, ...] = ()


class LeaderPolicySpec(msgspec.Struct, **_OPTIONS):
    """The spec as the CRD defaults it (the same defaults here, for objects read before defaulting)."""

    lease_duration_seconds: int = 15
    identity_strategy: str = "pod"
    follower_mode: str = "standby"
    sticky: bool = True
    min_ready_seconds: int = 0
    role_annotations: bool = True
    scale_target: ScaleTargetRef | None = None
    leader_service: PoolLeaderService | None = None


class PolicyLeader(msgspec.Struct, **_OPTIONS):
    pod: str = ""
    uid: str = ""
    pod_ip: str | None = msgspec.field(default=None, name="podIP")
    node_name: str | None = None
    since: str | None = None
    campaigns: bool = False


class PolicyMembers(msgspec.Struct, **_OPTIONS):
    total: int = 0
    eligible: int = 0


class ScaleDownStatus(msgspec.Struct, **_OPTIONS):
    original_replicas: int | None = None
    kind: str = ""
    name: str = ""


class Condition(msgspec.Struct, **_OPTIONS):
    type: str = ""
    status: str = ""
    reason: str = ""
    message: str = ""
    observed_generation: int = 0
    last_transition_time: str | None = None


class LeaderPolicyStatus(msgspec.Struct, **_OPTIONS):
    observed_generation: int = 0
    term: int | None = None
    leader: PolicyLeader | None = None
    members: PolicyMembers = PolicyMembers()
    scale_down: ScaleDownStatus | None = None
    conditions: tuple[Condition, ...] = ()


class LeaderPolicy(msgspec.Struct, **_OPTIONS):
    metadata: ObjectMeta = ObjectMeta()
    spec: LeaderPolicySpec = LeaderPolicySpec()
    status: LeaderPolicyStatus = LeaderPolicyStatus()


# ---- ManualLock (coordination.kube-zen.io/v1alpha1) ---------------------------------------------------
class ManualLockSpec(msgspec.Struct, **_OPTIONS):
    """As written (the CRD refuses most bad specs; ``manuallocks.core.spec`` checks the rest)."""

    lock_name: str = ""
    holder: str = ""
    ttl: str | None = None
    expires_at: str | None = None
    reason: str = ""
    release: bool = False


class ManualLockStatus(msgspec.Struct, **_OPTIONS):
    phase: str | None = None
    token: int | None = None
    acquired_at: str | None = None
    expires_at: str | None = None
    message: str | None = None
    observed_generation: int = 0
    conditions: tuple[Condition, ...] = ()


class ManualLock(msgspec.Struct, **_OPTIONS):
    metadata: ObjectMeta = ObjectMeta()
    spec: ManualLockSpec = ManualLockSpec()
    status: ManualLockStatus = ManualLockStatus()


# ---- autoscaling/v2 HorizontalPodAutoscaler and the scale subresource -------------------------------
class CrossVersionObjectReference(msgspec.Struct, **_OPTIONS):
    api_version: str = ""
    kind: str = ""
    name: str = ""


class HpaSpec(msgspec.Struct, **_OPTIONS):
    scale_target_ref: CrossVersionObjectReference = CrossVersionObjectReference()


class HorizontalPodAutoscaler(msgspec.Struct, **_OPTIONS):
    metadata: ObjectMeta = ObjectMeta()
    spec: HpaSpec = HpaSpec()


class ScaleSpec(msgspec.Struct, **_OPTIONS):
    replicas: int = 0


class ScaleStatus(msgspec.Struct, **_OPTIONS):
    replicas: int = 0


class Scale(msgspec.Struct, **_OPTIONS):
    metadata: ObjectMeta = ObjectMeta()
    spec: ScaleSpec = ScaleSpec()
    status: ScaleStatus = ScaleStatus()


# ---- Event -------------------------------------------------------------------------------------
class Event(msgspec.Struct, **_OPTIONS):
    """Only what the Event recorder reads back: zen-lead writes Events, it never caches them."""

    metadata: ObjectMeta = ObjectMeta()
    count: int = 0


# ---- watch / list envelopes ----------------------------------------------------------------------
class ListMeta(msgspec.Struct, **_OPTIONS):
    resource_version: str = ""
    continue_: str | None = msgspec.field(default=None, name="continue")


def list_of(kind: type[Any]) -> Any:
    """The struct of a list response of ``kind`` (``metadata`` and ``items``)."""
    return msgspec.defstruct(
        f"{kind.__name__}List",
        [("metadata", ListMeta, ListMeta()), ("items", list[kind], [])],  # type: ignore[valid-type]
        rename="camel",
    )


class Status(msgspec.Struct, **_OPTIONS):
    code: int = 0
    reason: str = ""
    message: str = ""


# ---- any kind, for generic components (the claim coordinator) --------------------------------------
class GenericObject(msgspec.Struct, **_OPTIONS):
    """An object of any kind: typed metadata, ``spec`` and ``status`` as plain JSON values."""

    metadata: ObjectMeta = ObjectMeta()
    spec: dict[str, Any] = {}
    status: dict[str, Any] = {}
