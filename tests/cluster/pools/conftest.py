"""Fixtures of the pools tests: the LeaderPolicy CRD installed once per session (from the chart's one
copy), a controller running the director and pools, and builders for policies and members."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lightkube import ApiError, Client
from lightkube.generic_resource import create_namespaced_resource
from lightkube.models.apps_v1 import DeploymentSpec
from lightkube.models.core_v1 import Container, PodSpec, PodTemplateSpec
from lightkube.models.meta_v1 import LabelSelector, ObjectMeta
from lightkube.resources.apps_v1 import Deployment
from lightkube.resources.coordination_v1 import Lease

from tests.support.controller import ControllerProcess
from tests.support.crds import install_pool_crd
from zen_lead.localcluster import ClusterInfo

LeaderPolicy = create_namespaced_resource(
    "coordination.kube-zen.io", "v1alpha1", "LeaderPolicy", "leaderpolicies"
)
JOIN = "zen-lead/join"
POOL = "zen-lead/pool"


@pytest.fixture(scope="session")
def crd(kube: Client) -> None:
    install_pool_crd(kube)


@pytest.fixture
def pools_controller(
    cluster: ClusterInfo, namespace: str, tmp_path: Path, crd: None, request: pytest.FixtureRequest
) -> Iterator[ControllerProcess]:
    process = ControllerProcess(
        kubeconfig=cluster.kubeconfig,
        namespace=namespace,
        log_dir=tmp_path,
        extra=["--no-leader-elect", "--controllers=*,pools"],
    )
    process.start()
    yield process
    process.stop()
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        print(f"--- controller log ({process.log_path}) ---\n{process.tail(80)}")


def policy(name: str, namespace: str, **spec: Any) -> Any:
    return LeaderPolicy.from_dict(
        {
            "apiVersion": "coordination.kube-zen.io/v1alpha1",
            "kind": "LeaderPolicy",
            "metadata": {"name": name, "namespace": namespace},
            "spec": spec,
        }
    )


def members(name: str, namespace: str, *, pool: str, replicas: int = 3, join: str = "true") -> Deployment:
    """A Deployment whose pod template joins ``pool``."""
    labels = {"app": name}
    return Deployment(
        metadata=ObjectMeta(name=name, namespace=namespace),
        spec=DeploymentSpec(
            replicas=replicas,
            selector=LabelSelector(matchLabels=labels),
            template=PodTemplateSpec(
                metadata=ObjectMeta(labels=labels, annotations={POOL: pool, JOIN: join}),
                spec=PodSpec(containers=[Container(name="app", image="app")]),
            ),
        ),
    )


def status(kube: Client, name: str, namespace: str) -> dict[str, Any]:
    return dict(kube.get(LeaderPolicy, name, namespace=namespace).get("status") or {})


def lease_spec(kube: Client, name: str, namespace: str) -> dict[str, Any] | None:
    try:
        lease = kube.get(Lease, name, namespace=namespace)
    except ApiError as error:
        if error.status.code == 404:
            return None
        raise
    return lease.spec.to_dict() if lease.spec else {}


# The election tests' fixtures: an async lightkube client (the independent witness), a log
# directory, and the client-go candidate built once per session.
from tests.cluster.election.conftest import aclient, goelector, logs  # noqa: E402, F401
from tests.cluster.exec.conftest import impl, ledger, static_wrapper  # noqa: E402, F401
