"""The controller killed between the Lease write and the status write (the one window where the two
disagree): the next controller converges — the status catches up with the Lease, the tenure it began
is kept, and no term is skipped or handed out again. The window is made real, not timed: the status
write is refused (RBAC without ``leaderpolicies/status``) until the first controller has been
SIGKILLed."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import pytest
from lightkube import Client
from lightkube.models.rbac_v1 import PolicyRule
from lightkube.resources.rbac_authorization_v1 import Role

from tests.cluster.pools.conftest import lease_spec, members, policy, status
from tests.support.controller import ControllerProcess
from tests.support.identity import account_with_role
from tests.support.wait import eventually
from zen_lead.director.controller import RULES as DIRECTOR_RULES
from zen_lead.kube.resources import Rule
from zen_lead.localcluster import ClusterInfo
from zen_lead.pools.rbac import POD_WRITE_RULES
from zen_lead.pools.rbac import RULES as POOL_RULES

pytestmark = pytest.mark.cluster
NAME = "crash"


def role_rules(*, status_writes: bool) -> list[PolicyRule]:
    rules: list[Rule] = [*DIRECTOR_RULES, *POOL_RULES, *POD_WRITE_RULES]
    found = [
        PolicyRule(apiGroups=[r.resource.group], resources=[r.rbac_resource], verbs=list(r.verbs))
        for r in rules
        if status_writes or r.rbac_resource != "leaderpolicies/status"
    ]
    return [*found, PolicyRule(apiGroups=[""], resources=["namespaces"], verbs=["get"])]


def controller(kubeconfig: Path, namespace: str, tmp_path: Path, name: str) -> ControllerProcess:
    return ControllerProcess(
        kubeconfig=kubeconfig,
        namespace=namespace,
        log_dir=tmp_path,
        name=name,
        extra=["--no-leader-elect", "--controllers=*,pools", "--no-node-zones"],
    )


def test_a_controller_killed_between_the_lease_and_the_status_converges_without_a_term_skipped(
    kube: Client, cluster: ClusterInfo, namespace: str, tmp_path: Path, crd: None
) -> None:
    kubeconfig = account_with_role(
        kube,
        cluster,
        namespace=namespace,
        name=NAME,
        rules=role_rules(status_writes=False),
        target=tmp_path / "sa",
    )
    kube.create(policy("pool", namespace))
    kube.create(members("db", namespace, pool="pool", replicas=3))

    first = controller(kubeconfig, namespace, tmp_path, "first").start(wait_ready=False)
    try:
        held = eventually(
            lambda: (spec := lease_spec(kube, "pool", namespace)) and spec.get("holderIdentity") and spec,
            timeout=40,
            what="the Lease written (the status refused)",
        )
        eventually(
            lambda: first.metric("zen_lead_reconcile_terminal_errors_total", controller="pools") >= 1,
            what="the status write refused (a terminal error: 403)",
        )
        assert status(kube, "pool", namespace).get("term") is None  # the window: Lease yes, status no
    finally:
        first.stop(signal.SIGKILL)

    kube.patch(
        Role, NAME, {"rules": [r.to_dict() for r in role_rules(status_writes=True)]}, namespace=namespace
    )
    second = controller(kubeconfig, namespace, tmp_path, "second").start(wait_ready=False)
    try:

        def converged() -> dict[str, Any] | None:
            current = status(kube, "pool", namespace)
            return current if (current.get("leader") or {}).get("pod") else None

        after = eventually(converged, timeout=40, what="the status written by the next controller")
        spec = lease_spec(kube, "pool", namespace)
        assert spec is not None
        # the tenure the killed controller began is kept: same holder, same term, in both places
        assert after["leader"]["pod"] == held["holderIdentity"] == spec["holderIdentity"]
        assert after["term"] == held["leaseTransitions"] == spec["leaseTransitions"]
        assert spec["acquireTime"] == held["acquireTime"]
    finally:
        second.stop()
