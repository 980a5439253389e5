"""Fixtures for the deployment checks: Helm and promtool built from their Go modules, the chart rendered
by Helm, and the chart installed into the local cluster (server-side apply) with a kubeconfig for its
ServiceAccount (a TokenRequest token), so that the controller runs with exactly the chart's RBAC.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]  # PyYAML comes with lightkube; no stubs installed
from lightkube import Client
from lightkube.codecs import load_all_yaml
from lightkube.generic_resource import load_in_cluster_generic_resources
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.apiextensions_v1 import CustomResourceDefinition
from lightkube.resources.core_v1 import Namespace

from tests.support.deploy import load_render
from tests.support.identity import service_account_kubeconfig
from tests.support.wait import eventually
from zen_lead.localcluster import ClusterInfo
from zen_lead.localcluster.build import HELM, PROMTOOL, ensure_go_tool, go_binary

ROOT = Path(__file__).resolve().parents[3]
CHART = ROOT / "charts" / "zen-lead"
FIELD_MANAGER = "zen-lead-deploy-tests"
RESTRICTED = {"pod-security.kubernetes.io/enforce": "restricted"}

# The real prometheus-operator CRDs, from its Go module (the one version the module proxy serves here),
# so the apiserver validates the chart's ServiceMonitor and PrometheusRule against their actual schemas.
PROMETHEUS_OPERATOR = "github.com/prometheus-operator/prometheus-operator@v0.85.0"
PROMETHEUS_OPERATOR_CRDS = ("servicemonitors", "prometheusrules")


@pytest.fixture(scope="session")
def helm() -> Path:
    return ensure_go_tool(HELM)


@pytest.fixture(scope="session")
def promtool() -> Path:
    return ensure_go_tool(PROMTOOL)


@pytest.fixture(scope="session")
def render() -> ModuleType:
    """``deploy/render.py``, the generator of the values table and of ``deploy/``."""
    return load_render()


def helm_template(
    helm: Path, *, namespace: str, release: str = "zen-lead", sets: dict[str, Any] | None = None
) -> subprocess.CompletedProcess[str]:
    """``helm template`` with values given as one JSON file (types are kept, unlike ``--set``)."""
    command = [str(helm), "template", release, str(CHART), "--namespace", namespace]
    return subprocess.run(
        [*command, "--values", "-"], input=json.dumps(sets or {}), capture_output=True, text=True, check=False
    )


def rendered(helm: Path, *, namespace: str, release: str = "zen-lead", **sets: Any) -> list[dict[str, Any]]:
    result = helm_template(helm, namespace=namespace, release=release, sets=sets)
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def find(objects: list[dict[str, Any]], kind: str, name: str | None = None) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)]


def container_args(objects: list[dict[str, Any]]) -> list[str]:
    [deployment] = find(objects, "Deployment")
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    return list(container["args"])


def make_namespace(kube: Client, prefix: str, labels: dict[str, str] | None = None) -> str:
    name = f"{prefix}-{secrets.token_hex(3)}"
    kube.create(
        Namespace(metadata=ObjectMeta(name=name, labels={"zen-lead.io/test": "true", **(labels or {})}))
    )
    return name


@pytest.fixture(scope="session")
def monitoring_crds(kube: Client) -> None:
    """Install the prometheus-operator CRDs for ServiceMonitor and PrometheusRule (once per cluster)."""
    listing = subprocess.run(
        [go_binary(), "mod", "download", "-json", PROMETHEUS_OPERATOR],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "GOTOOLCHAIN": "local"},
    )
    directory = Path(json.loads(listing.stdout)["Dir"]) / "example" / "prometheus-operator-crd"
    for plural in PROMETHEUS_OPERATOR_CRDS:
        [crd] = load_all_yaml((directory / f"monitoring.coreos.com_{plural}.yaml").read_text())
        kube.apply(crd, field_manager=FIELD_MANAGER, force=True)

        def established(name: str = f"{plural}.monitoring.coreos.com") -> bool:
            status = kube.get(CustomResourceDefinition, name).status
            conditions = (status.conditions if status else None) or []
            return any(c.type == "Established" and c.status == "True" for c in conditions)

        eventually(established, timeout=30, what=f"CRD {plural} established")
    load_in_cluster_generic_resources(kube)


def apply_all(kube: Client, objects: list[dict[str, Any]]) -> list[Any]:
    """Server-side apply every object (as `kubectl apply --server-side` would); return what the API kept."""
    resources = load_all_yaml(yaml.safe_dump_all(objects))
    return [kube.apply(obj, field_manager=FIELD_MANAGER, force=True) for obj in resources]


@dataclass
class Installation:
    """The chart applied to the cluster as release ``release`` in ``namespace``."""

    namespace: str
    release: str
    objects: list[dict[str, Any]]
    kubeconfig: Path
    service_account: str
    cluster_scoped: list[tuple[type[Any], str]] = field(default_factory=list)

    @property
    def user(self) -> str:
        return f"system:serviceaccount:{self.namespace}:{self.service_account}"

    @property
    def groups(self) -> list[str]:
        return ["system:serviceaccounts", f"system:serviceaccounts:{self.namespace}", "system:authenticated"]

    @property
    def lease(self) -> str:
        [arg] = [a for a in container_args(self.objects) if a.startswith("--leader-elect-resource-name=")]
        return arg.partition("=")[2]


def install(
    kube: Client,
    cluster: ClusterInfo,
    helm: Path,
    *,
    namespace: str,
    release: str,
    workdir: Path,
    **sets: Any,
) -> Installation:
    objects = rendered(helm, namespace=namespace, release=release, **sets)
    applied = apply_all(kube, objects)
    assert len(applied) == len(objects)
    [account] = find(objects, "ServiceAccount")
    name = account["metadata"]["name"]
    from lightkube.resources.rbac_authorization_v1 import ClusterRole, ClusterRoleBinding

    kinds = {"ClusterRole": ClusterRole, "ClusterRoleBinding": ClusterRoleBinding}
    return Installation(
        namespace=namespace,
        release=release,
        objects=objects,
        kubeconfig=service_account_kubeconfig(
            kube, cluster, namespace=namespace, name=name, target=workdir / f"{release}.kubeconfig"
        ),
        service_account=name,
        cluster_scoped=[(kinds[o["kind"]], o["metadata"]["name"]) for o in objects if o["kind"] in kinds],
    )


def uninstall(kube: Client, installation: Installation) -> None:
    for kind, name in installation.cluster_scoped:
        kube.delete(kind, name)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("deploy")


@pytest.fixture(scope="module")
def namespaces(kube: Client) -> Iterator[list[str]]:
    """Namespaces made by a module's fixtures; deleted (not awaited) at the end of the module."""
    made: list[str] = []
    yield made
    for name in made:
        kube.delete(Namespace, name)
