from __future__ import annotations

from collections.abc import Iterator

import pytest
import yaml  # type: ignore[import-untyped]
from lightkube import ApiError, Client
from lightkube.resources.apiextensions_v1 import CustomResourceDefinition

from tests.cluster.claims.harness import EXAMPLE, Host, Machine
from tests.support.history import Writes
from tests.support.wait import eventually


@pytest.fixture(scope="session")
def metal_crds(kube: Client) -> None:
    for manifest in yaml.safe_load_all((EXAMPLE / "crds.yaml").read_text()):
        kube.apply(CustomResourceDefinition.from_dict(manifest), field_manager="zen-lead-tests", force=True)

    def established() -> bool:
        for name in ("hosts.metal.example.kube-zen.io", "machines.metal.example.kube-zen.io"):
            found = kube.get(CustomResourceDefinition, name)
            if not any(
                c.type == "Established" and c.status == "True" for c in (found.status.conditions or [])
            ):
                return False
        return True

    eventually(established, what="the example CRDs established")

    def served() -> bool:  # an updated schema re-initializes the storage: lists fail briefly
        try:
            for kind in (Host, Machine):
                list(kube.list(kind, namespace="default"))
        except ApiError as error:
            raise AssertionError(str(error)) from None
        return True

    eventually(served, what="the example kinds served")


@pytest.fixture
def writes(kube: Client, namespace: str, metal_crds: None) -> Iterator[Writes]:
    """Every Host and Machine version of the test, recorded from before the first write."""
    with Writes(kube, namespace, (Host, Machine)) as recorder:
        yield recorder
