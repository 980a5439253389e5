"""The objects the director wants to exist for one source Service (``routing.manifests`` builds them):
the leader Service carries the source's UID and, with a leader, the leader's name, UID and since-time
as annotations; it mirrors the source's ports (never node ports) and address families; it and its
slices are labelled with the source's name and owned by the source (the Service) and the leader
Service (the slices)."""

from __future__ import annotations

from zen_lead.constants import (
    LABEL_MANAGED_BY,
    LABEL_SOURCE_SERVICE,
    MANAGED_BY_VALUE,
)
from zen_lead.director.core.config import DirectorConfig
from zen_lead.eligibility.addresses import served_families
from zen_lead.eligibility.ports import PortResolution
from zen_lead.kube.structs import Pod, Service
from zen_lead.routing.manifests import (
    SERVICE_API_VERSION,
    SERVICE_KIND,
    JsonObject,
    endpoint_slice_manifests,
    leader_annotations,
    leader_service_manifest,
    owner_reference,
)

__all__ = ["JsonObject", "desired_endpoint_slices", "desired_leader_service"]


def desired_leader_service(
    *,
    source: Service,
    config: DirectorConfig,
    name: str,
    leader: Pod | None,
    resolution: PortResolution | None,
    leader_since: str | None,
    observed: Service | None,
) -> JsonObject:
    """The leader Service ``name`` for ``source``; ``leader_since`` is an RFC 3339 time."""
    return leader_service_manifest(
        name=name,
        namespace=source.metadata.namespace,
        service_type=config.leader_service_type,
        headless=config.headless,
        ports=source.spec.ports,
        resolution=resolution,
        observed=observed,
        ip_families=source.spec.ip_families or (),
        ip_family_policy=source.spec.ip_family_policy,
        labels={LABEL_MANAGED_BY: MANAGED_BY_VALUE, LABEL_SOURCE_SERVICE: source.metadata.name},
        annotations=leader_annotations(source.metadata.uid, leader, leader_since),
        owner=owner_reference(SERVICE_API_VERSION, SERVICE_KIND, source.metadata.name, source.metadata.uid),
    )


def desired_endpoint_slices(
    *,
    source: Service,
    leader_service_name: str,
    leader_service_uid: str,
    leader: Pod | None,
    resolution: PortResolution | None,
    zone: str | None,
    term: int = 0,
) -> list[JsonObject]:
    """One EndpointSlice per family ``source`` serves, owned by the leader Service."""
    return endpoint_slice_manifests(
        namespace=source.metadata.namespace,
        leader_service_name=leader_service_name,
        leader_service_uid=leader_service_uid,
        families=served_families(source),
        leader=leader,
        resolution=resolution,
        zone=zone,
        labels={LABEL_MANAGED_BY: MANAGED_BY_VALUE, LABEL_SOURCE_SERVICE: source.metadata.name},
        term=term,
    )
