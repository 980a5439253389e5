"""``zen-lead demo``: two failovers, and the "try it yourself" commands only while the cluster stays up."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator

import pytest
from lightkube import Client
from lightkube.resources.core_v1 import Namespace

from zen_lead.demo.run import NAMESPACE
from zen_lead.localcluster import ClusterInfo, LocalCluster

pytestmark = pytest.mark.cluster

HINT = "Try it yourself"


def demo(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "zen_lead", "demo", *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture
def scratch() -> Iterator[LocalCluster]:
    local = LocalCluster(f"demo-{os.getpid()}")
    yield local
    local.down()
    shutil.rmtree(local.state, ignore_errors=True)


def assert_failovers(output: str) -> None:
    assert "marking NotReady the leader pod" in output
    assert "kubectl get pods shows it READY 0/1" in output
    assert output.count("new leader") == 2


def test_a_demo_cluster_it_started_is_stopped_and_no_hint_is_given(scratch: LocalCluster) -> None:
    result = demo("--name", scratch.name)
    assert result.returncode == 0, result.stdout + result.stderr
    assert_failovers(result.stdout)
    assert HINT not in result.stdout
    assert f"cluster {scratch.name!r} stopped (zen-lead demo --keep leaves it running" in result.stdout
    assert not scratch.is_running()

    kept = demo("--name", scratch.name, "--keep")
    assert kept.returncode == 0, kept.stdout + kept.stderr
    assert f"{HINT}: cluster {scratch.name!r} stays up (--keep)" in kept.stdout
    assert scratch.is_running()


def test_a_running_cluster_is_left_running_with_the_hint(cluster: ClusterInfo, kube: Client) -> None:
    try:
        result = demo("--name", cluster.name)
        assert result.returncode == 0, result.stdout + result.stderr
        assert_failovers(result.stdout)
        assert f"{HINT}: cluster {cluster.name!r} was already running" in result.stdout
        assert "zen-lead cluster pod-ready postgres-" in result.stdout
        assert f"-n {NAMESPACE} --name {cluster.name} --not-ready" in result.stdout
        assert LocalCluster(cluster.name).is_running()
        again = demo("--name", cluster.name)  # the pod the first run left NotReady is made Ready first
        assert again.returncode == 0, again.stdout + again.stderr
        assert "was left NotReady (by an earlier run, or by you): making it Ready again" in again.stdout
        assert_failovers(again.stdout)
    finally:
        kube.delete(Namespace, NAMESPACE)
