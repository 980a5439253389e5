"""The LeaderPolicy CRD installed from the chart's one copy, and waited for until it is served."""

from __future__ import annotations

from pathlib import Path

import yaml  # type: ignore[import-untyped]  # PyYAML comes with lightkube; no stubs installed
from lightkube import Client
from lightkube.resources.apiextensions_v1 import CustomResourceDefinition

from tests.support.wait import eventually

CRD = Path(__file__).resolve().parents[2] / "charts" / "zen-lead" / "files" / "crds" / "leaderpolicies.yaml"


def install_pool_crd(kube: Client) -> None:
    manifest = yaml.safe_load(CRD.read_text())
    kube.apply(CustomResourceDefinition.from_dict(manifest), field_manager="zen-lead-tests", force=True)

    def established() -> bool:
        found = kube.get(CustomResourceDefinition, manifest["metadata"]["name"])
        return any(c.type == "Established" and c.status == "True" for c in (found.status.conditions or []))

    eventually(established, what="the LeaderPolicy CRD established")
