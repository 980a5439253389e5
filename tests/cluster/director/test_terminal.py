"""A write the apiserver refuses (403) is terminal: told once as a Warning, counted, not retried in a
loop — and retried as soon as a relevant change comes, e.g. after the permission was granted."""

from __future__ import annotations

from pathlib import Path

import pytest
from lightkube import Client
from lightkube.models.authorization_v1 import ResourceAttributes, SubjectAccessReviewSpec
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.models.rbac_v1 import PolicyRule, RoleRef, Subject
from lightkube.resources.authorization_v1 import SubjectAccessReview
from lightkube.resources.core_v1 import Service, ServiceAccount
from lightkube.resources.rbac_authorization_v1 import Role, RoleBinding

from tests.cluster.director.conftest import ENABLED, events, wait_leader
from tests.support.controller import ControllerProcess
from tests.support.identity import service_account_kubeconfig
from tests.support.wait import eventually, settled
from tests.support.workload import deployment, service
from zen_lead.director.controller import RULES
from zen_lead.localcluster import ClusterInfo

pytestmark = pytest.mark.cluster


def rules(*, slice_writes: bool) -> list[PolicyRule]:
    """The director's own rules, optionally without the verbs that write EndpointSlices."""
    found = []
    for rule in RULES:
        verbs = list(rule.verbs)
        if rule.resource.plural == "endpointslices" and not slice_writes:
            verbs = [v for v in verbs if v in ("get", "list", "watch")]
        found.append(PolicyRule(apiGroups=[rule.resource.group], resources=[rule.rbac_resource], verbs=verbs))
    return found


def may_create_slices(kube: Client, namespace: str) -> bool:
    review = SubjectAccessReview(
        spec=SubjectAccessReviewSpec(
            user=f"system:serviceaccount:{namespace}:zl",
            resourceAttributes=ResourceAttributes(
                group="discovery.k8s.io", resource="endpointslices", verb="create", namespace=namespace
            ),
        )
    )
    status = kube.create(review).status
    return bool(status and status.allowed)


def test_a_forbidden_write_is_told_once_not_retried_and_retried_after_a_change(
    cluster: ClusterInfo, kube: Client, namespace: str, tmp_path: Path
) -> None:
    kube.create(ServiceAccount(metadata=ObjectMeta(name="zl", namespace=namespace)))
    kube.create(Role(metadata=ObjectMeta(name="zl", namespace=namespace), rules=rules(slice_writes=False)))
    kube.create(
        RoleBinding(
            metadata=ObjectMeta(name="zl", namespace=namespace),
            roleRef=RoleRef(apiGroup="rbac.authorization.k8s.io", kind="Role", name="zl"),
            subjects=[Subject(kind="ServiceAccount", name="zl", namespace=namespace)],
        )
    )
    kubeconfig = service_account_kubeconfig(
        kube, cluster, namespace=namespace, name="zl", target=tmp_path / "sa.kubeconfig"
    )
    kube.create(deployment("db", namespace, replicas=2))
    kube.create(service("db", namespace, selector={"app": "db"}, annotations=ENABLED))
    controller = ControllerProcess(
        kubeconfig=kubeconfig, namespace=namespace, log_dir=tmp_path, extra=["--no-leader-elect"]
    )
    with controller:
        eventually(lambda: events(kube, namespace, "WriteForbidden", "db"), timeout=60, what="the Warning")

        def refusals() -> tuple[float, float]:
            forbidden = controller.metric(
                "zen_lead_api_requests_total", resource="endpointslices", code="403"
            )
            terminal = controller.metric("zen_lead_reconcile_terminal_errors_total", controller="director")
            return forbidden, terminal

        # Pods becoming Ready are relevant changes and may retry; once they are quiet, nothing more
        # happens: a retry loop with backoff (5 ms, 10 ms, ...) would add refusals within the second.
        quiet = settled(refusals, quiet=5.0, timeout=90, what="forbidden slice writes")
        assert quiet[0] >= 1
        assert quiet[0] == quiet[1]  # every refusal was terminal, none retried with backoff
        warnings = events(kube, namespace, "WriteForbidden", "db")
        assert len(warnings) == 1
        assert "403" in (warnings[0].message or "")

        kube.patch(
            Role, "zl", {"rules": [r.to_dict() for r in rules(slice_writes=True)]}, namespace=namespace
        )
        eventually(lambda: may_create_slices(kube, namespace), what="the granted verbs in effect")
        kube.patch(Service, "db", {"metadata": {"annotations": {"touched": "1"}}}, namespace=namespace)
        wait_leader(kube, namespace, "db-leader", timeout=60)
