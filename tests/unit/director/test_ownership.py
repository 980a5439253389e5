from __future__ import annotations

import msgspec

from tests.unit.director.builders import as_service, as_slice, make_service
from zen_lead.director.core import (
    DirectorConfig,
    desired_endpoint_slices,
    desired_leader_service,
    is_leader_service,
    owns_leader_service,
    owns_slice,
)

SOURCE = make_service()
CONFIG = DirectorConfig(enabled=True, leader_service_name="web-leader")
LEADER_SERVICE = as_service(
    desired_leader_service(
        source=SOURCE,
        config=CONFIG,
        name="web-leader",
        leader=None,
        resolution=None,
        leader_since=None,
        observed=None,
    )
)
(SLICE,) = (
    as_slice(m)
    for m in desired_endpoint_slices(
        source=SOURCE,
        leader_service_name="web-leader",
        leader_service_uid="uid-leader",
        leader=None,
        resolution=None,
        zone=None,
    )
)


def test_leader_services_are_recognised_and_owned_by_their_source() -> None:
    assert is_leader_service(LEADER_SERVICE)
    assert not is_leader_service(SOURCE)
    assert owns_leader_service(LEADER_SERVICE, "uid-svc")
    assert not owns_leader_service(LEADER_SERVICE, "uid-other")
    assert not owns_leader_service(LEADER_SERVICE, "")


def test_a_foreign_service_with_our_owner_reference_is_not_ours() -> None:
    metadata = msgspec.structs.replace(LEADER_SERVICE.metadata, labels={})
    assert not owns_leader_service(msgspec.structs.replace(LEADER_SERVICE, metadata=metadata), "uid-svc")


def test_slices_are_owned_by_the_leader_service_uid_and_carry_our_manager_label() -> None:
    assert owns_slice(SLICE, "uid-leader")
    assert not owns_slice(SLICE, "uid-previous-incarnation")
    metadata = msgspec.structs.replace(
        SLICE.metadata, labels={"endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io"}
    )
    assert not owns_slice(msgspec.structs.replace(SLICE, metadata=metadata), "uid-leader")
