"""Fixtures of the status API tests: a controller serving the API (HTTP and gRPC on loopback ports)
in the test's namespace, with the director and pools enabled, and ServiceAccount callers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from lightkube import Client

from tests.support.api import READ_ALL, HttpApi, grant, token_for
from tests.support.controller import ControllerProcess
from tests.support.crds import install_pool_crd
from zen_lead.localcluster import ClusterInfo

API_FLAGS = [
    "--api-bind-address=127.0.0.1:0",
    "--grpc-bind-address=127.0.0.1:0",
    "--api-stale-after=3s",
    "--api-auth-cache-allowed-ttl=2s",
    "--api-auth-cache-denied-ttl=1s",
    "--controllers=*,pools",
]

ServerFactory = Callable[..., ControllerProcess]


@pytest.fixture(scope="session")
def pool_crd(kube: Client) -> None:
    install_pool_crd(kube)


@pytest.fixture
def api_servers(
    cluster: ClusterInfo, namespace: str, tmp_path: Path, pool_crd: None, request: pytest.FixtureRequest
) -> Iterator[ServerFactory]:
    """Start API-serving controllers (replicas of one manager: they share its Lease)."""
    started: list[ControllerProcess] = []

    def start(*, extra: list[str] | None = None, name: str | None = None) -> ControllerProcess:
        process = ControllerProcess(
            kubeconfig=cluster.kubeconfig,
            namespace=namespace,
            log_dir=tmp_path,
            name=name or f"replica-{len(started)}",
            extra=[
                *API_FLAGS,
                "--leader-elect-lease-duration=4s",
                "--leader-elect-renew-deadline=3s",
                "--leader-elect-retry-period=0.5s",
                *(extra or []),
            ],
        )
        started.append(process)
        return process.start()

    yield start
    for process in started:
        process.stop()
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        for process in started:
            print(f"--- {process.log_path} ---\n{process.tail(60)}")


@pytest.fixture
def api_server(api_servers: ServerFactory) -> ControllerProcess:
    return api_servers()


@pytest.fixture
def reader_token(kube: Client, namespace: str) -> str:
    """A ServiceAccount that may read every kind of leader in the namespace."""
    grant(kube, namespace, "reader", READ_ALL)
    return token_for(kube, namespace, "reader")


@pytest.fixture
def http(api_server: ControllerProcess, reader_token: str) -> HttpApi:
    return HttpApi(api_server.port("api"), reader_token)
