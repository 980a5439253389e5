"""A managed namespace that does not exist is said loudly and keeps the controller not ready until it
is created; the chart's namespaced Role grants the one read this needs."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
from lightkube import Client
from lightkube.models.authorization_v1 import ResourceAttributes, SubjectAccessReviewSpec
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.models.rbac_v1 import PolicyRule, RoleRef, Subject
from lightkube.resources.authorization_v1 import SubjectAccessReview
from lightkube.resources.core_v1 import Namespace
from lightkube.resources.rbac_authorization_v1 import Role, RoleBinding

from tests.support.controller import ControllerProcess
from tests.support.wait import eventually
from zen_lead.localcluster import ClusterInfo

pytestmark = pytest.mark.cluster


def test_a_namespace_that_does_not_exist_is_named_and_not_ready_until_it_is_created(
    cluster: ClusterInfo, kube: Client, tmp_path: Path
) -> None:
    typo = f"t-typo-{secrets.token_hex(3)}"
    controller = ControllerProcess(
        kubeconfig=cluster.kubeconfig, namespace=typo, log_dir=tmp_path, extra=["--no-leader-elect"]
    )
    controller.start(wait_ready=False)
    try:

        def told() -> tuple[int, str] | None:
            code, body = controller.readiness()
            return (code, body) if f"namespace {typo} does not exist" in body else None

        code, _ = eventually(told, what="the reason on /readyz")
        assert code == 503
        errors = [r for r in controller.records() if r.get("level") == "error"]
        assert any(typo in str(r.get("msg")) for r in errors), errors
        kube.create(Namespace(metadata=ObjectMeta(name=typo, labels={"zen-lead.io/test": "true"})))
        try:
            eventually(controller.ready, timeout=60, what="ready once the namespace exists")
        finally:
            kube.delete(Namespace, typo)
    finally:
        controller.stop()


def test_a_role_in_the_namespace_may_grant_reading_that_namespace(kube: Client, namespace: str) -> None:
    """What the chart's namespaced Role relies on: the namespace object counts as inside itself."""
    rule = PolicyRule(apiGroups=[""], resources=["namespaces"], resourceNames=[namespace], verbs=["get"])
    kube.create(Role(metadata=ObjectMeta(name="ns-read", namespace=namespace), rules=[rule]))
    kube.create(
        RoleBinding(
            metadata=ObjectMeta(name="ns-read", namespace=namespace),
            roleRef=RoleRef(apiGroup="rbac.authorization.k8s.io", kind="Role", name="ns-read"),
            subjects=[Subject(kind="User", name="reader")],
        )
    )

    def allowed(name: str) -> bool:
        review = SubjectAccessReview(
            spec=SubjectAccessReviewSpec(
                user="reader",
                resourceAttributes=ResourceAttributes(
                    resource="namespaces", verb="get", name=name, namespace=name
                ),
            )
        )
        status = kube.create(review).status
        return bool(status and status.allowed)

    eventually(lambda: allowed(namespace), what="the Role in effect")
    assert not allowed("default")
