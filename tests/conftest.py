"""Shared fixtures: a real local control plane for the session and a fresh namespace per test.

Environment:
- ``ZEN_LEAD_TEST_CLUSTER`` — cluster name (default ``test``), so parallel checkouts do not collide.
- ``ZEN_LEAD_REUSE_CLUSTER=1`` — reuse a running cluster of that name and leave it running afterwards
  (fast local iteration). Otherwise the session starts a fresh one tied to the pytest process: if pytest
  dies, the cluster's supervisor notices (pidfd) and takes every component down.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Iterator

import pytest
from lightkube import Client
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Namespace

from zen_lead.kube.config import sync_client
from zen_lead.localcluster import ClusterInfo, LocalCluster


@pytest.fixture(scope="session")
def cluster() -> Iterator[ClusterInfo]:
    name = os.environ.get("ZEN_LEAD_TEST_CLUSTER", "test")
    reuse = os.environ.get("ZEN_LEAD_REUSE_CLUSTER") == "1"
    local = LocalCluster(name, nodes=3, zones=3)
    info = local.up(owner_pid=None if reuse else os.getpid())
    yield info
    if not reuse:
        local.down()


@pytest.fixture(scope="session")
def kube(cluster: ClusterInfo) -> Client:
    """A synchronous admin client for arranging and checking test state."""
    return sync_client(cluster.kubeconfig, field_manager="zen-lead-tests")


@pytest.fixture
def namespace(kube: Client, request: pytest.FixtureRequest) -> Iterator[str]:
    """A namespace of its own for each test; deleted (not awaited) afterwards."""
    slug = re.sub(r"[^a-z0-9-]+", "-", request.node.name.lower()).strip("-")[:40].strip("-")
    name = f"t-{slug}-{secrets.token_hex(3)}"
    kube.create(Namespace(metadata=ObjectMeta(name=name, labels={"zen-lead.io/test": "true"})))
    yield name
    kube.delete(Namespace, name)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> object:
    """Keep the call phase's report on the item (``rep_call``): fixtures that run a controller print its
    log when the test failed."""
    report = yield
    if report.when == "call":  # type: ignore[attr-defined]
        item.rep_call = report  # type: ignore[attr-defined]
    return report
