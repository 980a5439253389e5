"""The Go client (clients/go) against the real server on the real cluster: its server tests
(clients/go/zenlead/integration_test.go) run with `go test`, pointed at a server by ZEN_LEAD_API_* and
driven from here where the fault must come from outside the Go process — the server paused mid-lock,
the replica under a keep-alive killed, the Lease given to someone else. Each must PASS, not skip.

The driven tests print their progress ("zenlead-test: <event> <value>"); a thread reads it as it comes."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from lightkube import Client as Kube
from lightkube.resources.coordination_v1 import Lease

from tests.cluster.api.conftest import ServerFactory
from tests.cluster.api.test_python_client import (  # the faults the Python clients are tested with
    PAUSABLE,
    assert_lost_two_thirds_of_the_ttl_after_the_renewals_start,
    grpc_address,
    lease_or_none,
    overrule,
    pause_through_a_resumed_renewal,
    renewed_at,
)
from tests.cluster.pools.conftest import members, policy
from tests.support import golang
from tests.support.api import LOCKS, READ_ALL, HttpApi, grant, token_for
from tests.support.controller import ControllerProcess
from tests.support.proxy import Relay
from tests.support.wait import eventually

MODULE = Path(__file__).parents[3] / "clients" / "go"
PROGRESS = re.compile(r"^zenlead-test: (\w+) ?(.*)$")


@pytest.fixture
def go_token(kube: Kube, namespace: str) -> str:
    grant(kube, namespace, "go-client", READ_ALL + LOCKS)
    return token_for(kube, namespace, "go-client")


def go_environment(address: str, token: str, namespace: str, **extra: str) -> dict[str, str]:
    variables = {
        "ZEN_LEAD_API_ADDRESS": address,
        "ZEN_LEAD_API_TOKEN": token,
        "ZEN_LEAD_API_NAMESPACE": namespace,
    }
    inherited = {key: value for key, value in os.environ.items() if not key.startswith("ZEN_LEAD_API_")}
    return {
        **inherited,
        **golang.ENV,
        **variables,
        **{f"ZEN_LEAD_API_{k.upper()}": v for k, v in extra.items()},
    }


def go_test_command(test: str) -> list[str]:
    return [golang.go(), "test", "-count=1", "-v", "-run", f"^{test}$", "./zenlead/"]


def assert_passed(test: str, output: str, returncode: int | None) -> None:
    assert returncode == 0, f"go test -run {test} failed:\n{output[-5000:]}"
    assert re.search(rf"^--- PASS: {test} ", output, re.MULTILINE), output[-3000:]
    assert "--- SKIP" not in output, output[-3000:]


class GoTest:
    """A driven Go test: its progress as it comes (``progress[event]``: the last value), its output."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self.progress: dict[str, str] = {}
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)
            if match := PROGRESS.match(line.rstrip("\n")):
                self.progress[match[1]] = match[2]

    def told(self, event: str, *, timeout: float = 60) -> str:
        """The value of ``event`` once the test printed it (it fails early if the test ended)."""

        def check() -> str | None:
            if event in self.progress:
                return self.progress[event]
            if self.process.poll() is not None:  # not an AssertionError: ``eventually`` would retry it
                raise RuntimeError(f"go test ended first:\n{''.join(self.lines)[-3000:]}")
            return None

        return eventually(check, timeout=timeout, interval=0.002, what=f"the Go test's {event!r}")

    def finish(self, test: str, *, timeout: float = 60) -> str:
        self.process.wait(timeout)
        self._reader.join(5)
        output = "".join(self.lines)
        assert_passed(test, output, self.process.returncode)
        return output


@contextmanager
def driven(test: str, environment: dict[str, str]) -> Iterator[GoTest]:
    process = subprocess.Popen(
        go_test_command(test),
        cwd=MODULE,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        yield GoTest(process)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_the_go_clients_server_test_passes_against_the_real_server(
    kube: Kube, namespace: str, api_server: ControllerProcess, go_token: str
) -> None:
    kube.create(policy("db", namespace))
    kube.create(members("db", namespace, pool="db", replicas=2))
    http = HttpApi(api_server.port("api"), go_token)
    eventually(
        lambda: http.get(f"/v1/leader/pool/db?namespace={namespace}").body.get("hasLeader"),
        timeout=60,
        what="a pool leader",
    )
    environment = go_environment(grpc_address(api_server), go_token, namespace, target="pool/db")
    result = subprocess.run(
        go_test_command("TestAgainstTheServer"),
        cwd=MODULE,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert_passed("TestAgainstTheServer", result.stdout + result.stderr, result.returncode)


def test_a_go_lock_is_lost_two_thirds_of_its_ttl_after_its_last_renewal_started(
    namespace: str, api_servers: ServerFactory, go_token: str
) -> None:
    server = api_servers(extra=PAUSABLE)
    assert server.proc is not None
    test, ttl = "TestALockIsLostWhenTheServerStopsAnswering", 6
    environment = go_environment(grpc_address(server), go_token, namespace, expect="loss")
    with driven(test, environment) as go:
        go.told("renewed")  # the acquire
        pause = pause_through_a_resumed_renewal(
            server.proc.pid, ttl, renewed=lambda: go.progress["renewed"], lost=lambda: "lost" in go.progress
        )
        go.finish(test)
    assert_lost_two_thirds_of_the_ttl_after_the_renewals_start(pause, ttl)
    assert "zenlead: lock lost: no renewal succeeded for 4s" in go.progress["lost"]


@contextmanager
def service_address(replica: ControllerProcess) -> Iterator[Relay]:
    """One address in front of the replicas, as a Service's: a relay (on a loop of its own) that
    sends each new connection to ``relay.upstream``. (grpc-go has no resolver for gRPC's ``ipv4:``
    address lists, so the Go client reaches several replicas the way it would in a cluster.)"""
    relay = Relay("127.0.0.1", replica.port("grpc"))
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()

    async def serve() -> None:
        async with relay:
            await stop.wait()

    serving = loop.create_task(serve())
    thread = threading.Thread(target=loop.run_until_complete, args=(serving,), daemon=True)
    thread.start()
    eventually(lambda: relay.port, timeout=10, what="the relay")
    try:
        yield relay
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(15)
        loop.close()


def test_a_go_lock_resumes_on_the_other_replica_when_its_own_is_killed(
    kube: Kube, namespace: str, api_servers: ServerFactory, go_token: str
) -> None:
    first, second = api_servers(), api_servers()
    test, ttl = "TestALockResumesOnAnotherReplica", 3
    with service_address(first) as relay:
        environment = go_environment(f"127.0.0.1:{relay.port}", go_token, namespace, expect="failover")
        with driven(test, environment) as go:
            name = go.told("holding")
            relay.upstream = ("127.0.0.1", second.port("grpc"))  # the dying replica leaves the endpoints
            killed = time.time()
            first.stop(signal.SIGKILL)
            eventually(
                lambda: renewed_at(kube, namespace, name) > killed + ttl,
                timeout=20,
                what="renewals through the other replica, past the ttl",
            )
            go.finish(test)
    assert not kube.get(Lease, name, namespace=namespace).spec.holderIdentity  # released there too


@pytest.mark.parametrize("fault", ["taken", "deleted"])
def test_a_go_lock_someone_else_took_is_lost_at_once_and_not_released(
    kube: Kube, namespace: str, api_server: ControllerProcess, go_token: str, fault: str
) -> None:
    test = "TestALockTakenOverIsLostAtOnceAndNotReleased"
    environment = go_environment(grpc_address(api_server), go_token, namespace, expect="taken")
    with driven(test, environment) as go:
        name = go.told("holding")
        version = overrule(kube, namespace, name, fault)
        go.finish(test)
    lease = lease_or_none(kube, namespace, name)  # nothing written since: no release, no re-creation
    if version is None:
        assert lease is None
    else:
        assert lease is not None
        assert (lease.metadata.resourceVersion, lease.spec.holderIdentity) == (version, "someone-else")
