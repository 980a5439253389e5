"""``zen-lead cluster pod-ready``: a simulated pod made NotReady and Ready again, as kubectl shows it.

What ``kubectl get pods`` prints is the apiserver's own Table rendering of the pod (the same printer runs
server side), so the tests ask the apiserver for that Table and read its READY and STATUS columns, next to
the containers' statuses and the conditions that controllers read."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
from lightkube import ApiError, Client
from lightkube.models.core_v1 import Container, PodSpec
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Pod

from tests.support.wait import eventually
from zen_lead.localcluster import ClusterInfo
from zen_lead.localcluster.pods import readiness_patch, set_pod_readiness

pytestmark = pytest.mark.cluster


def kubectl_row(kube: Client, namespace: str, name: str) -> dict[str, str]:
    """The row ``kubectl get pod`` prints: the apiserver's Table of the pod, column name -> cell."""
    http = kube._client._client  # lightkube's configured HTTP client (base URL, TLS, credentials)
    response = http.get(
        f"/api/v1/namespaces/{namespace}/pods/{name}",
        headers={"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"},
    )
    response.raise_for_status()
    table = response.json()
    columns = [column["name"] for column in table["columnDefinitions"]]
    return dict(zip(columns, (str(cell) for cell in table["rows"][0]["cells"]), strict=True))


def pod_ready_command(cluster: ClusterInfo, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "zen_lead", "cluster", "pod-ready", *args, "--name", cluster.name],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def conditions(pod: Pod) -> dict[str, str]:
    return {c.type: c.status for c in pod.status.conditions or []}


@pytest.fixture
def running_pod(kube: Client, namespace: str) -> str:
    """A pod of two containers on a kwok node, Running and Ready."""
    containers = [Container(name=name, image="example.invalid/app:1") for name in ("app", "sidecar")]
    kube.create(
        Pod(metadata=ObjectMeta(name="web", namespace=namespace), spec=PodSpec(containers=containers))
    )
    eventually(lambda: kubectl_row(kube, namespace, "web")["Ready"] == "2/2", what="web Running 2/2")
    return "web"


def test_not_ready_and_ready_again_as_kubectl_shows_it(
    cluster: ClusterInfo, kube: Client, namespace: str, running_pod: str
) -> None:
    result = pod_ready_command(cluster, running_pod, "-n", namespace, "--not-ready")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"pod {namespace}/web: NotReady, READY 0/2"
    row = kubectl_row(kube, namespace, running_pod)
    assert (row["Ready"], row["Status"]) == ("0/2", "Running")  # not ready, still running: a failing probe
    pod = kube.get(Pod, running_pod, namespace=namespace)
    assert conditions(pod)["Ready"] == conditions(pod)["ContainersReady"] == "False"
    [ready] = [c for c in pod.status.conditions if c.type == "Ready"]
    assert ready.reason == "ContainersNotReady"
    assert ready.message == "containers with unready status: [app, sidecar]"
    assert [(s.name, s.ready, s.state.running is not None) for s in pod.status.containerStatuses] == [
        ("app", False, True),
        ("sidecar", False, True),
    ]
    assert pod.status.phase == "Running"

    time.sleep(3)  # kwok's stages must leave it so: none matches a Running pod that is not deleted
    assert kubectl_row(kube, namespace, running_pod)["Ready"] == "0/2"
    assert conditions(kube.get(Pod, running_pod, namespace=namespace))["Ready"] == "False"

    result = pod_ready_command(cluster, running_pod, "-n", namespace, "--ready")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"pod {namespace}/web: Ready, READY 2/2"
    assert kubectl_row(kube, namespace, running_pod)["Ready"] == "2/2"
    pod = kube.get(Pod, running_pod, namespace=namespace)
    assert conditions(pod)["Ready"] == conditions(pod)["ContainersReady"] == "True"
    assert all(s.ready for s in pod.status.containerStatuses)
    [ready] = [c for c in pod.status.conditions if c.type == "Ready"]
    assert ready.reason is None
    assert ready.message is None


def test_a_patch_from_an_older_copy_is_refused(kube: Client, namespace: str, running_pod: str) -> None:
    """The patch carries the resourceVersion it was computed from: a status written meanwhile is never
    overwritten with an older copy (``set_pod_readiness`` reads again and redoes it)."""
    old = kube.get(Pod, running_pod, namespace=namespace)
    set_pod_readiness(kube, running_pod, namespace=namespace, ready=False)  # someone else writes meanwhile
    with pytest.raises(ApiError) as conflict:
        kube.patch(Pod.Status, running_pod, namespace=namespace, obj=readiness_patch(old, ready=True))
    assert conflict.value.status.code == 409
    assert kubectl_row(kube, namespace, running_pod)["Ready"] == "0/2"


def test_a_pod_that_is_not_there_is_one_line(cluster: ClusterInfo, namespace: str) -> None:
    result = pod_ready_command(cluster, "nosuch", "-n", namespace, "--not-ready")
    assert result.returncode == 1
    assert result.stderr.splitlines() == [f'Error: pod {namespace}/nosuch: pods "nosuch" not found']


def test_a_cluster_that_is_not_there_is_one_line() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "zen_lead", "cluster", "pod-ready", "web", "--name", "nosuch"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "Error: cluster 'nosuch' does not exist (start it: zen-lead cluster up --name nosuch)"
    ]
