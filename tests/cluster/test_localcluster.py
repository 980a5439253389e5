"""The local cluster's failure modes: clear errors, and no process outlives its owner."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.support.wait import eventually
from zen_lead.localcluster import ClusterError, LocalCluster
from zen_lead.localcluster.build import ensure_binaries
from zen_lead.localcluster.state import load_layout, pid_alive, read_status

pytestmark = pytest.mark.cluster


@pytest.fixture
def scratch(request: pytest.FixtureRequest) -> Iterator[LocalCluster]:
    local = LocalCluster(f"scratch-{os.getpid()}-{request.node.name[:20]}", nodes=1, zones=1)
    yield local
    local.down()
    shutil.rmtree(local.state, ignore_errors=True)  # a scratch cluster's logs and etcd data (~120 MB)


def component_pids(local: LocalCluster) -> list[int]:
    status = read_status(local.state) or {}
    return [int(pid) for pid in (status.get("pids") or {}).values()]


def ports_of(local: LocalCluster) -> list[int]:
    layout = load_layout(local.state)
    return [layout.etcd_client_port, layout.etcd_peer_port, layout.apiserver_port]


def port_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def test_missing_go_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(ClusterError, match="Go is not installed"):
        ensure_binaries()


def test_a_taken_apiserver_port_is_a_clear_error(scratch: LocalCluster) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        taken = holder.getsockname()[1]
        local = LocalCluster(scratch.name, nodes=1, zones=1, apiserver_port=taken)
        with pytest.raises(ClusterError, match=f"port {taken} on 127.0.0.1 is taken"):
            local.up()


def test_a_dying_component_is_named_with_the_tail_of_its_log(
    scratch: LocalCluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ZEN_LEAD_KUBE_APISERVER_FLAGS", "--no-such-flag")
    with pytest.raises(ClusterError) as failure:
        scratch.up()
    message = str(failure.value)
    assert "kube-apiserver" in message
    assert "no-such-flag" in message  # the apiserver's own complaint, from the tail of its log
    assert not any(pid_alive(pid) for pid in component_pids(scratch))


def test_components_die_with_their_owner_even_on_sigkill(scratch: LocalCluster) -> None:
    owner = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        scratch.up(owner_pid=owner.pid)
        pids, ports = component_pids(scratch), ports_of(scratch)
        assert len(pids) == 5
        owner.send_signal(signal.SIGKILL)
        eventually(lambda: not any(pid_alive(pid) for pid in pids), timeout=30, what="components stopped")
        eventually(lambda: all(port_free(port) for port in ports), timeout=15, what="ports freed")
    finally:
        owner.kill()
        owner.wait()


def test_components_die_with_a_killed_supervisor(scratch: LocalCluster) -> None:
    scratch.up()
    status = read_status(scratch.state) or {}
    pids, ports = component_pids(scratch), ports_of(scratch)
    os.kill(int(status["supervisor_pid"]), signal.SIGKILL)  # no chance to clean up: PDEATHSIG must
    eventually(lambda: not any(pid_alive(pid) for pid in pids), timeout=15, what="components killed")
    eventually(lambda: all(port_free(port) for port in ports), timeout=15, what="ports freed")
    assert not scratch.is_running()
