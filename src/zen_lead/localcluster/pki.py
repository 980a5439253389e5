"""Credentials of a local cluster: bearer tokens per component, service-account keys, kubeconfigs.

Tokens (random, per cluster start) go to the apiserver's ``--token-auth-file``. Each component has its
own user name (so audit and apiserver metrics tell them apart) in ``system:masters``: this is a
single-user development cluster; RBAC is still enforced for every other identity, which is what the
project's tests of its own RBAC rely on. The apiserver's self-signed serving certificate is pinned as the
CA in every kubeconfig instead of skipping verification.
"""

from __future__ import annotations

import secrets
import subprocess
from pathlib import Path

from zen_lead.localcluster.components import Layout
from zen_lead.localcluster.errors import ClusterError

USERS = {
    "admin": "zen-lead-admin",
    "kube-controller-manager": "system:kube-controller-manager",
    "kube-scheduler": "system:kube-scheduler",
    "kwok": "kwok",
}


def write_credentials(layout: Layout) -> dict[str, str]:
    """Create tokens and service-account keys; return the token of each user key."""
    layout.pki.mkdir(parents=True, exist_ok=True)
    tokens = {key: secrets.token_hex(24) for key in USERS}
    lines = [f'{tokens[key]},{user},{user},"system:masters"' for key, user in USERS.items()]
    (layout.pki / "tokens.csv").write_text("\n".join(lines) + "\n")
    key, pub = layout.pki / "sa.key", layout.pki / "sa.pub"
    try:
        subprocess.run(["openssl", "genrsa", "-out", str(key), "2048"], check=True, capture_output=True)
        subprocess.run(
            ["openssl", "rsa", "-in", str(key), "-pubout", "-out", str(pub)], check=True, capture_output=True
        )
    except FileNotFoundError as error:
        raise ClusterError(
            "openssl is needed to create service-account keys: apt-get install openssl"
        ) from error
    return tokens


def kubeconfig_text(*, server: str, ca_file: Path, token: str, user: str, namespace: str = "default") -> str:
    return f"""apiVersion: v1
kind: Config
clusters:
- name: zen-lead-local
  cluster:
    server: {server}
    certificate-authority: {ca_file}
users:
- name: {user}
  user:
    token: {token}
contexts:
- name: zen-lead-local
  context:
    cluster: zen-lead-local
    user: {user}
    namespace: {namespace}
current-context: zen-lead-local
"""


def write_kubeconfigs(layout: Layout, tokens: dict[str, str]) -> None:
    ca = layout.pki / "serving" / "apiserver.crt"
    for key, user in USERS.items():
        path = layout.kubeconfig if key == "admin" else layout.component_kubeconfig(key)
        path.write_text(kubeconfig_text(server=layout.server, ca_file=ca, token=tokens[key], user=user))
        path.chmod(0o600)
