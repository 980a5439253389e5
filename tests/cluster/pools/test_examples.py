"""The pool-form examples (examples/pools/*.yaml) are valid for the real apiserver (CRD schema and CEL
rules included), and one of them, applied for real, gets its leader and its leader Service."""

from __future__ import annotations

from pathlib import Path

import pytest
from lightkube import Client
from lightkube.codecs import load_all_yaml

from tests.cluster.pools.test_leader_service import routed_to
from tests.cluster.pools.test_pools import agreed_leader
from tests.support.controller import ControllerProcess
from tests.support.wait import eventually

pytestmark = pytest.mark.cluster
EXAMPLES = sorted((Path(__file__).resolve().parents[3] / "examples" / "pools").glob("*.yaml"))


def test_there_are_examples() -> None:
    assert {p.stem for p in EXAMPLES} >= {"controller-ha", "exclusive-cron", "primary-secondary"}


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_each_example_is_accepted_by_the_apiserver(
    kube: Client, namespace: str, crd: None, example: Path
) -> None:
    objects = load_all_yaml(example.read_text())
    assert objects
    for obj in objects:
        kube.apply(obj, namespace=namespace, field_manager="zen-lead-tests", dry_run=True)


def test_the_primary_secondary_example_gets_a_leader(
    kube: Client, namespace: str, pools_controller: ControllerProcess
) -> None:
    [example] = [p for p in EXAMPLES if p.stem == "primary-secondary"]
    for obj in load_all_yaml(example.read_text()):
        kube.apply(obj, namespace=namespace, field_manager="zen-lead-tests")
    current = agreed_leader(kube, namespace, "billing-db")
    assert current["members"]["total"] == 2
    leader = current["leader"]["pod"]
    assert leader in {"billing-db-0", "billing-db-1"}
    eventually(
        lambda: routed_to(kube, namespace, "billing-db-primary") == {leader},
        what="billing-db-primary routes to the primary",
    )
