"""The chart's ``manualLocks.enabled``: the CRD, the rules and the controller only when enabled — and
the rules it renders are enough: a controller with exactly them takes, releases and tells."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]  # PyYAML comes with lightkube; no stubs installed
from lightkube import Client
from lightkube.models.rbac_v1 import PolicyRule

from tests.cluster.deploy.conftest import CHART, container_args, find, rendered
from tests.cluster.manuallocks.conftest import ManualLock, events, gone, in_phase, lease_spec, manual_lock
from tests.support.controller import ControllerProcess
from tests.support.identity import account_with_role
from tests.support.wait import eventually
from zen_lead.localcluster import ClusterInfo

pytestmark = pytest.mark.cluster
NS = "ops"
CRD_NAME = "manuallocks.coordination.kube-zen.io"


def manual_lock_rules(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    [role] = find(objects, "Role", "zen-lead")
    return [r for r in role["rules"] if any(res.startswith("manuallocks") for res in r["resources"])]


def test_the_crd_rules_and_controller_come_only_with_the_value(helm: Path) -> None:
    plain = rendered(helm, namespace=NS)
    assert not [c for c in find(plain, "CustomResourceDefinition") if c["metadata"]["name"] == CRD_NAME]
    assert not manual_lock_rules(plain)
    assert "--controllers=*" in container_args(plain)
    enabled = rendered(helm, namespace=NS, manualLocks={"enabled": True})
    [crd] = find(enabled, "CustomResourceDefinition")
    source = yaml.safe_load((CHART / "files" / "crds" / "manuallocks.yaml").read_text())
    assert crd["spec"] == source["spec"]
    assert crd["metadata"]["annotations"] == {"helm.sh/resource-policy": "keep"}
    assert [r["resources"] for r in manual_lock_rules(enabled)] == [
        ["manuallocks"],
        ["manuallocks/status"],
        ["manuallocks/finalizers"],
    ]
    assert "--controllers=*,manuallocks" in container_args(enabled)
    both = rendered(helm, namespace=NS, manualLocks={"enabled": True}, pools={"enabled": True})
    assert sorted(c["metadata"]["name"] for c in find(both, "CustomResourceDefinition")) == [
        "leaderpolicies.coordination.kube-zen.io",
        CRD_NAME,
    ]
    assert "--controllers=*,pools,manuallocks" in container_args(both)


def test_the_rendered_rules_are_enough_to_take_release_and_tell(
    helm: Path, kube: Client, cluster: ClusterInfo, namespace: str, mlock_crd: None, tmp_path: Path
) -> None:
    objects = rendered(helm, namespace=namespace, manualLocks={"enabled": True})
    [role] = [r for r in find(objects, "Role", "zen-lead") if r["metadata"]["namespace"] == namespace]
    rules = [PolicyRule.from_dict(rule) for rule in role["rules"]]
    kubeconfig = account_with_role(
        kube, cluster, namespace=namespace, name="zen-lead", rules=rules, target=tmp_path / "kubeconfig"
    )
    process = ControllerProcess(
        kubeconfig=kubeconfig,
        namespace=namespace,
        log_dir=tmp_path,
        extra=["--no-leader-elect", "--controllers=manuallocks"],
    )
    with process:
        kube.create(manual_lock("freeze", namespace))
        in_phase(kube, "freeze", namespace, "Held", token=0)
        eventually(lambda: events(kube, namespace, "freeze", "Acquired"), what="an Acquired Event")
        kube.delete(ManualLock, "freeze", namespace=namespace)
        eventually(lambda: gone(kube, "freeze", namespace), what="the ManualLock gone, the lock released")
        spec = lease_spec(kube, "db", namespace)
        assert spec is not None
        assert spec["holderIdentity"] == ""
        assert process.metric("zen_lead_reconcile_terminal_errors_total") == 0, process.tail()
