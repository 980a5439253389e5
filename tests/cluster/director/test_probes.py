"""The probe endpoints: ``/healthz`` answers as soon as the controller serves; ``/readyz`` is not ready
until every informer has synced (docs/deployment.md: readiness once the informers have synced).

The controller runs as a ServiceAccount that may not list pods at first, so the pod informer cannot
sync; granting the verbs later lets it sync, and only then does ``/readyz`` turn ready.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from pathlib import Path

import pytest
from lightkube import Client
from lightkube.models.rbac_v1 import PolicyRule
from lightkube.resources.rbac_authorization_v1 import Role

from tests.support.controller import ControllerProcess
from tests.support.identity import account_with_role
from tests.support.wait import eventually
from zen_lead.localcluster import ClusterInfo

pytestmark = pytest.mark.cluster
WRITE = ["get", "list", "watch", "create", "patch", "delete"]


def status(process: ControllerProcess, path: str) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{process.probe_port}{path}", timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


def rules(*, pods: list[str]) -> list[PolicyRule]:
    return [
        PolicyRule(apiGroups=[""], resources=["services"], verbs=WRITE),
        PolicyRule(apiGroups=["discovery.k8s.io"], resources=["endpointslices"], verbs=WRITE),
        PolicyRule(apiGroups=[""], resources=["pods"], verbs=pods),
        PolicyRule(apiGroups=[""], resources=["events"], verbs=["create", "patch"]),
    ]


def test_healthz_answers_and_readyz_waits_for_the_informers(
    kube: Client, cluster: ClusterInfo, namespace: str, tmp_path: Path
) -> None:
    name = "probed"
    kubeconfig = account_with_role(
        kube, cluster, namespace=namespace, name=name, rules=rules(pods=["get"]), target=tmp_path / "sa"
    )
    controller = ControllerProcess(
        kubeconfig=kubeconfig, namespace=namespace, log_dir=tmp_path, extra=["--no-leader-elect"]
    )
    controller.start(wait_ready=False)
    try:
        eventually(lambda: status(controller, "/healthz") == 200, what="/healthz 200")
        # the pod informer has tried and been refused: it cannot have synced
        eventually(
            lambda: any(
                r.get("resource") == "pods"
                and r.get("code") == 403
                and str(r.get("msg", "")).startswith("not allowed to list pods")
                for r in controller.records()
            ),
            what="the pod list refused",
        )
        assert status(controller, "/readyz") == 503
        assert controller.metric("zen_lead_informer_synced", resource="services") == 1  # the others did
        assert controller.metric("zen_lead_informer_synced", resource="pods") == 0

        kube.patch(
            Role,
            name,
            namespace=namespace,
            obj={"rules": [r.to_dict() for r in rules(pods=["get", "list", "watch"])]},
        )
        eventually(lambda: status(controller, "/readyz") == 200, what="/readyz 200 once the pods are listed")
        assert controller.metric("zen_lead_informer_synced", resource="pods") == 1
        assert status(controller, "/healthz") == 200
    finally:
        controller.stop()
