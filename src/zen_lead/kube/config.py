"""Connection set-up from a kubeconfig, in-cluster config or ``KUBECONFIG``, through lightkube's loader.

One place decides TLS and auth for every client the project makes (the async data path, the elector,
tests, the local cluster): the kubeconfig's CA is used as the trust root, never the machine's
``SSL_CERT_FILE``/``REQUESTS_CA_BUNDLE`` (``trust_env=False``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from lightkube import AsyncClient, Client, KubeConfig
from lightkube.config.kubeconfig import SingleConfig


def load_config(
    kubeconfig: str | os.PathLike[str] | None = None, *, context: str | None = None
) -> SingleConfig:
    """Explicit path, else ``KUBECONFIG``, else in-cluster service account, else ``~/.kube/config``."""
    env = os.environ.get("KUBECONFIG")
    if kubeconfig is not None:
        config = KubeConfig.from_file(str(kubeconfig)).get(context_name=context)
    elif env:
        config = KubeConfig.from_file(env.split(os.pathsep)[0]).get(context_name=context)
    elif Path("/var/run/secrets/kubernetes.io/serviceaccount/token").exists():
        config = KubeConfig.from_service_account().get()
    else:
        config = KubeConfig.from_file(Path.home() / ".kube" / "config").get(context_name=context)
    if config is None:
        raise ValueError("the kubeconfig has no usable context")
    return config


def sync_client(
    kubeconfig: str | os.PathLike[str] | None = None, *, field_manager: str = "zen-lead", **kwargs: Any
) -> Client:
    return Client(config=load_config(kubeconfig), field_manager=field_manager, trust_env=False, **kwargs)


def async_client(
    kubeconfig: str | os.PathLike[str] | None = None, *, field_manager: str = "zen-lead", **kwargs: Any
) -> AsyncClient:
    return AsyncClient(config=load_config(kubeconfig), field_manager=field_manager, trust_env=False, **kwargs)
