"""Fixtures of the election cluster tests: an async client, a log directory, the client-go candidate."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from lightkube import AsyncClient

from tests.cluster.election.harness import HERE
from tests.support import golang
from zen_lead.kube.client import ApiClient
from zen_lead.kube.config import async_client
from zen_lead.localcluster import ClusterInfo


@pytest.fixture
async def aclient(cluster: ClusterInfo) -> AsyncIterator[AsyncClient]:
    client = async_client(cluster.kubeconfig, field_manager="zen-lead-tests")
    yield client
    await client.close()


@pytest.fixture
async def api(cluster: ClusterInfo) -> AsyncIterator[ApiClient]:
    """zen-lead's own client, for the library under test (``aclient`` stays the independent witness)."""
    client = ApiClient.from_kubeconfig(cluster.kubeconfig)
    yield client
    await client.aclose()


@pytest.fixture
def logs(tmp_path: Path) -> Path:
    """Where child processes write stderr; named in assertion messages."""
    return tmp_path


@pytest.fixture(scope="session")
def goelector(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real client-go leader-election candidate (``goelector/main.go``), built once per session.

    Builds offline from the module cache the control-plane build filled (client-go v0.36.3); a few
    seconds when Go's build cache is warm.
    """
    out = tmp_path_factory.mktemp("goelector") / "goelector"
    return golang.build(HERE / "goelector", out, what="the client-go candidate")
