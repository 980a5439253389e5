"""The data path's credentials on the real apiserver: a rotated token file is picked up after a 401."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from zen_lead.kube.client import ApiClient
from zen_lead.kube.config import load_config
from zen_lead.kube.errors import ApiError
from zen_lead.kube.metrics import API_REQUESTS
from zen_lead.localcluster import ClusterInfo

pytestmark = pytest.mark.cluster


def token_file_kubeconfig(cluster: ClusterInfo, directory: Path, token_file: Path) -> Path:
    """The admin kubeconfig with its token replaced by ``tokenFile`` (as in-cluster credentials are)."""
    config = yaml.safe_load(cluster.kubeconfig.read_text())
    config["users"][0]["user"] = {"tokenFile": str(token_file)}
    path = directory / "kubeconfig"
    path.write_text(yaml.safe_dump(config))
    return path


async def test_a_rotated_token_file_is_read_again_after_a_401(cluster: ClusterInfo, tmp_path: Path) -> None:
    admin = load_config(cluster.kubeconfig).user
    assert admin is not None
    assert admin.token is not None
    token_file = tmp_path / "token"
    token_file.write_text("not-a-token\n")
    client = ApiClient.from_kubeconfig(token_file_kubeconfig(cluster, tmp_path, token_file))
    unauthorized = API_REQUESTS.labels("get", "namespaces", "401")
    try:
        before = unauthorized._value.get()
        with pytest.raises(ApiError) as refused:  # refused, renewed (same bad file), refused again
            await client.request("get", "/api/v1/namespaces/default", resource="namespaces")
        assert refused.value.code == 401
        assert unauthorized._value.get() == before + 2

        token_file.write_text(admin.token + "\n")  # the kubelet rotated the token
        body = await client.request("get", "/api/v1/namespaces/default", resource="namespaces")
        assert b'"name":"default"' in body
        assert unauthorized._value.get() == before + 3  # one 401 with the cached header, then renewed
        await client.request("get", "/api/v1/namespaces/default", resource="namespaces")
        assert unauthorized._value.get() == before + 3  # the new header is kept
    finally:
        await client.aclose()
