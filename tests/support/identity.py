"""Acting as a ServiceAccount: a kubeconfig with a TokenRequest token, so RBAC really applies."""

from __future__ import annotations

from pathlib import Path

import yaml
from lightkube import Client
from lightkube.models.authentication_v1 import TokenRequestSpec
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.models.rbac_v1 import PolicyRule, RoleRef, Subject
from lightkube.resources.core_v1 import ServiceAccount
from lightkube.resources.rbac_authorization_v1 import Role, RoleBinding

from zen_lead.localcluster import ClusterInfo


def service_account_kubeconfig(
    kube: Client, cluster: ClusterInfo, *, namespace: str, name: str, target: Path
) -> Path:
    """A kubeconfig that authenticates as the ServiceAccount (a one-hour TokenRequest token)."""
    request = ServiceAccount.Token(
        metadata=ObjectMeta(name=name, namespace=namespace),
        spec=TokenRequestSpec(audiences=[], expirationSeconds=3600),
    )
    token = kube.create(request, name, namespace=namespace).status.token
    admin = yaml.safe_load(cluster.kubeconfig.read_text())
    context = f"{namespace}-{name}"
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": admin["clusters"],
        "users": [{"name": context, "user": {"token": token}}],
        "contexts": [
            {
                "name": context,
                "context": {"cluster": admin["clusters"][0]["name"], "user": context, "namespace": namespace},
            }
        ],
        "current-context": context,
    }
    target.write_text(yaml.safe_dump(config))
    return target


def account_with_role(
    kube: Client, cluster: ClusterInfo, *, namespace: str, name: str, rules: list[PolicyRule], target: Path
) -> Path:
    """A ServiceAccount bound to a Role of ``rules`` (all named ``name``); its kubeconfig."""
    kube.create(ServiceAccount(metadata=ObjectMeta(name=name, namespace=namespace)))
    kube.create(Role(metadata=ObjectMeta(name=name, namespace=namespace), rules=rules))
    kube.create(
        RoleBinding(
            metadata=ObjectMeta(name=name, namespace=namespace),
            roleRef=RoleRef(apiGroup="rbac.authorization.k8s.io", kind="Role", name=name),
            subjects=[Subject(kind="ServiceAccount", name=name, namespace=namespace)],
        )
    )
    return service_account_kubeconfig(kube, cluster, namespace=namespace, name=name, target=target)
