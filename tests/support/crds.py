"""zen-lead's CRDs installed from the chart's one copy (``charts/zen-lead/files/crds``), and waited for
until they are served."""

from __future__ import annotations

from pathlib import Path

import yaml  # type: ignore[import-untyped]  # PyYAML comes with lightkube; no stubs installed
from lightkube import Client
from lightkube.resources.apiextensions_v1 import CustomResourceDefinition

from tests.support.wait import eventually

CRDS = Path(__file__).resolve().parents[2] / "charts" / "zen-lead" / "files" / "crds"
CRD = CRDS / "leaderpolicies.yaml"  # the LeaderPolicy CRD (pools)
MANUAL_LOCK_CRD = CRDS / "manuallocks.yaml"


def install_crd(kube: Client, file: Path) -> None:
    """Apply the CRD in ``file`` (server-side, forced) and wait until it is established."""
    manifest = yaml.safe_load(file.read_text())
    kube.apply(CustomResourceDefinition.from_dict(manifest), field_manager="zen-lead-tests", force=True)
    name = manifest["metadata"]["name"]

    def established() -> bool:
        found = kube.get(CustomResourceDefinition, name)
        return any(c.type == "Established" and c.status == "True" for c in (found.status.conditions or []))

    eventually(established, what=f"the CRD {name} established")


def install_pool_crd(kube: Client) -> None:
    install_crd(kube, CRD)
