"""What the apiserver refuses of a ManualLock (schema and CEL, each error naming its field), what only
the controller can tell (an expiry in the past: a Warning Event and a condition), the printer columns
as ``kubectl get`` shows them, and the guide's example applied."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]  # PyYAML comes with lightkube; no stubs installed
from lightkube import ApiError, Client
from lightkube.resources.apiextensions_v1 import CustomResourceDefinition
from lightkube.resources.coordination_v1 import Lease
from lightkube.types import PatchType

from tests.cluster.manuallocks.conftest import (
    ManualLock,
    events,
    held_condition,
    in_phase,
    lease_spec,
    manual_lock,
)
from tests.support.controller import ControllerProcess
from tests.support.wait import eventually
from zen_lead.kube.times import format_time

pytestmark = pytest.mark.cluster
EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "manuallock" / "freeze.yaml"
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io"


def refused(kube: Client, namespace: str, spec: dict[str, Any]) -> str:
    body = {
        "apiVersion": "coordination.kube-zen.io/v1alpha1",
        "kind": "ManualLock",
        "metadata": {"name": "bad", "namespace": namespace},
        "spec": spec,
    }
    with pytest.raises(ApiError) as raised:
        kube.create(ManualLock.from_dict(body))
    assert raised.value.status.code == 422, raised.value.status
    return str(raised.value.status.message)


VALID = {"lockName": "db", "holder": "ops", "ttl": "30m"}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"lockName": "Bad_Name"}, "spec.lockName"),
        ({"lockName": "x" * 64}, "spec.lockName"),
        ({"lockName": None}, "spec.lockName"),
        ({"holder": ""}, "spec.holder"),
        ({"holder": "h" * 129}, "spec.holder"),
        ({"holder": None}, "spec.holder"),
        ({"ttl": "5s"}, "spec.ttl must be between 10s and 720h"),
        ({"ttl": "721h"}, "spec.ttl must be between 10s and 720h"),
        ({"ttl": "half an hour"}, "spec.ttl"),
        ({"ttl": "30"}, "spec.ttl"),
        ({"ttl": None, "expiresAt": "tomorrow"}, "spec.expiresAt"),
        ({"expiresAt": "2030-01-01T00:00:00Z"}, "exactly one of spec.ttl and spec.expiresAt"),
        ({"ttl": None}, "exactly one of spec.ttl and spec.expiresAt"),
        ({"reason": "r" * 1025}, "spec.reason"),
        ({"release": "yes"}, "spec.release"),
    ],
    ids=lambda v: str(v)[:40],
)
def test_the_apiserver_refuses_a_bad_spec_naming_the_field(
    kube: Client, namespace: str, mlock_crd: None, change: dict[str, Any], field: str
) -> None:
    spec = {k: v for k, v in {**VALID, **change}.items() if v is not None}
    message = refused(kube, namespace, spec)
    assert field in message, message


def test_the_lock_name_is_immutable(kube: Client, namespace: str, mlock_crd: None) -> None:
    kube.create(manual_lock("freeze", namespace))
    with pytest.raises(ApiError) as raised:
        kube.patch(
            ManualLock,
            "freeze",
            {"spec": {"lockName": "other"}},
            namespace=namespace,
            patch_type=PatchType.MERGE,
        )
    assert raised.value.status.code == 422
    assert "spec.lockName is immutable" in str(raised.value.status.message)


def test_an_expiry_in_the_past_is_a_warning_and_a_condition_naming_the_field(
    kube: Client, namespace: str, mlock_controller: ControllerProcess
) -> None:
    past = format_time(time.time() - 60)
    kube.create(manual_lock("late", namespace, ttl=None, expiresAt=past))
    pending = in_phase(kube, "late", namespace, "Pending")
    condition = held_condition(pending)
    assert (condition["status"], condition["reason"]) == ("False", "InvalidSpec")
    assert condition["message"].startswith("spec.expiresAt:")
    assert "in the past" in condition["message"]
    [warning] = eventually(
        lambda: events(kube, namespace, "late", "InvalidSpec"), what="an InvalidSpec Event"
    )
    assert warning.type == "Warning"
    assert warning.message == condition["message"]
    assert lease_spec(kube, "db", namespace) is None  # nothing taken, nothing written
    assert mlock_controller.ready()  # and nothing crashed


def test_printer_columns_show_lock_holder_phase_token_expiry_and_age(
    kube: Client, namespace: str, mlock_controller: ControllerProcess
) -> None:
    crd = kube.get(CustomResourceDefinition, "manuallocks.coordination.kube-zen.io")
    [version] = crd.spec.versions
    columns = {c.name: c.jsonPath for c in version.additionalPrinterColumns or []}
    assert columns == {
        "Lock": ".spec.lockName",
        "Holder": ".spec.holder",
        "Phase": ".status.phase",
        "Token": ".status.token",
        "Expires": ".status.expiresAt",
        "Reason": ".spec.reason",
        "Age": ".metadata.creationTimestamp",
    }
    kube.create(manual_lock("freeze", namespace, holder="ops", reason="db maintenance"))
    held = in_phase(kube, "freeze", namespace, "Held", token=0)
    # what kubectl get prints: the server's Table for this kind
    path = f"/apis/coordination.kube-zen.io/v1alpha1/namespaces/{namespace}/manuallocks"
    # lightkube has no call with an Accept header of one's choice: its HTTP client, as kubectl asks
    response = kube._client._client.get(path, headers={"Accept": TABLE})
    assert response.status_code == 200, response.text
    table = response.json()
    names = [c["name"] for c in table["columnDefinitions"]]
    assert names == ["Name", "Lock", "Holder", "Phase", "Token", "Expires", "Reason", "Age"]
    [row] = table["rows"]
    cells = dict(zip(names, row["cells"], strict=True))
    assert cells["Name"] == "freeze"
    assert (cells["Lock"], cells["Holder"], cells["Phase"], cells["Token"]) == ("db", "ops", "Held", 0)
    assert cells["Expires"] == held["expiresAt"]


def test_the_guides_example_is_accepted_and_held(
    kube: Client, namespace: str, mlock_controller: ControllerProcess
) -> None:
    manifest = yaml.safe_load(EXAMPLE.read_text())
    manifest["metadata"]["namespace"] = namespace
    kube.create(ManualLock.from_dict(manifest))
    name, spec = manifest["metadata"]["name"], manifest["spec"]
    held = in_phase(kube, name, namespace, "Held")
    lease = kube.get(Lease, spec["lockName"], namespace=namespace)
    assert lease.spec.holderIdentity == spec["holder"]
    assert lease.spec.leaseTransitions == held["token"]
