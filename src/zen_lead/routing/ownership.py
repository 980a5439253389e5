"""Which objects are zen-lead's. zen-lead only ever writes or deletes objects it owns, and a Service
it manages is never treated as a source, even if someone annotates it."""

from __future__ import annotations

from zen_lead.constants import (
    ENDPOINTSLICE_MANAGED_BY_VALUE,
    LABEL_ENDPOINTSLICE_MANAGED_BY,
    LABEL_MANAGED_BY,
    MANAGED_BY_VALUE,
)
from zen_lead.kube.structs import EndpointSlice, ObjectMeta, Service

# The label selector of the slices zen-lead writes (one informer for the director's and the pools').
SLICE_SELECTOR = f"{LABEL_ENDPOINTSLICE_MANAGED_BY}={ENDPOINTSLICE_MANAGED_BY_VALUE}"


def is_leader_service(service: Service) -> bool:
    """True for Services labelled ``app.kubernetes.io/managed-by: zen-lead``."""
    return service.metadata.labels.get(LABEL_MANAGED_BY) == MANAGED_BY_VALUE


def owns_leader_service(observed: Service, source_uid: str) -> bool:
    """Managed by zen-lead *and* owned by the source Service with ``source_uid``."""
    return is_leader_service(observed) and _has_owner(observed.metadata, source_uid)


def owns_slice(observed: EndpointSlice, leader_service_uid: str) -> bool:
    """Managed by zen-lead's endpointslice manager *and* owned by the leader Service with that UID."""
    managed = observed.metadata.labels.get(LABEL_ENDPOINTSLICE_MANAGED_BY) == ENDPOINTSLICE_MANAGED_BY_VALUE
    return managed and _has_owner(observed.metadata, leader_service_uid)


def _has_owner(metadata: ObjectMeta, uid: str) -> bool:
    return bool(uid) and any(ref.uid == uid for ref in metadata.owner_references)
