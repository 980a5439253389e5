"""``LocalCluster``: bring a local control plane up, report on it, take it down.

``up`` builds the binaries if needed, lays out a fresh state directory (new etcd, new credentials),
starts the supervisor detached, waits until the apiserver, the simulated nodes and the default
ServiceAccount are ready, and writes a kubeconfig. A running cluster of the same name is reused.
``down`` stops the supervisor (which stops every component) and checks that every port is free again.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zen_lead.localcluster.build import Progress, ensure_binaries, stderr_progress
from zen_lead.localcluster.components import KWOK_NODE_ANNOTATION, Layout
from zen_lead.localcluster.errors import ClusterError
from zen_lead.localcluster.paths import cluster_dir
from zen_lead.localcluster.pki import write_credentials, write_kubeconfigs
from zen_lead.localcluster.state import load_layout, pid_alive, read_status, save_layout

ZONE_LABEL = "topology.kubernetes.io/zone"
READY_TIMEOUT = 120.0
LOG_TAIL_LINES = 25


@dataclass(frozen=True, slots=True)
class ClusterInfo:
    name: str
    kubeconfig: Path
    server: str
    state: Path
    kubernetes_version: str
    nodes: tuple[str, ...]
    reused: bool
    startup_seconds: float


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return True
        return False


def log_tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except FileNotFoundError:
        return f"(no log at {path})"
    return "\n".join(text[-lines:])


def node_names(count: int) -> list[str]:
    return [f"zl-node-{index}" for index in range(count)]


def zone_of(index: int, zones: int) -> str:
    return f"zone-{chr(ord('a') + index % zones)}"


class LocalCluster:
    def __init__(
        self, name: str = "default", *, nodes: int = 3, zones: int = 3, apiserver_port: int | None = None
    ) -> None:
        if nodes < 1 or zones < 1:
            raise ClusterError("a cluster needs at least one node and one zone")
        self.name = name
        self.nodes = nodes
        self.zones = min(zones, 26)
        self.apiserver_port = apiserver_port
        self.state = cluster_dir(name)

    # ---- status -------------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        status = read_status(self.state) or {"phase": "absent"}
        running = pid_alive(status.get("supervisor_pid")) and status.get("phase") in {"starting", "running"}
        status["alive"] = running
        status["kubeconfig"] = str(self.state / "kubeconfig")
        status["components"] = {name: pid_alive(pid) for name, pid in (status.get("pids") or {}).items()}
        return status

    def is_running(self) -> bool:
        status = self.status()
        return bool(status["alive"]) and status.get("phase") == "running"

    # ---- up -----------------------------------------------------------------------------------
    def up(self, *, progress: Progress = stderr_progress, owner_pid: int | None = None) -> ClusterInfo:
        started = time.monotonic()
        binaries = ensure_binaries(progress)
        if self.is_running():
            layout = load_layout(self.state)
            names = self._ensure_nodes(layout)
            return self._info(layout, binaries.kubernetes_version, names, reused=True, started=started)
        self._stop_supervisor()
        if self.apiserver_port is not None and _port_in_use(self.apiserver_port):
            raise ClusterError(
                f"port {self.apiserver_port} on 127.0.0.1 is taken by another process; choose another "
                "--apiserver-port or stop that process"
            )
        shutil.rmtree(self.state, ignore_errors=True)
        layout = Layout(
            state=self.state,
            kube=binaries.kube,
            kwok=binaries.kwok,
            kwok_stages=binaries.kwok_stages,
            etcd_client_port=_free_port(),
            etcd_peer_port=_free_port(),
            apiserver_port=self.apiserver_port or _free_port(),
            kwok_port=_free_port(),
        )
        layout.logs.mkdir(parents=True)
        save_layout(layout)
        write_kubeconfigs(layout, write_credentials(layout))
        progress(f"starting local cluster {self.name!r} (Kubernetes {binaries.kubernetes_version})")
        self._spawn_supervisor(owner_pid)
        self._wait_running(layout)
        names = self._ensure_nodes(layout)
        self._wait_default_service_account(layout)
        info = self._info(layout, binaries.kubernetes_version, names, reused=False, started=started)
        progress(
            f"cluster {self.name!r} ready in {info.startup_seconds:.1f}s; export KUBECONFIG={info.kubeconfig}"
        )
        return info

    def _info(
        self, layout: Layout, version: str, names: list[str], *, reused: bool, started: float
    ) -> ClusterInfo:
        return ClusterInfo(
            name=self.name,
            kubeconfig=layout.kubeconfig,
            server=layout.server,
            state=self.state,
            kubernetes_version=version,
            nodes=tuple(names),
            reused=reused,
            startup_seconds=time.monotonic() - started,
        )

    def _spawn_supervisor(self, owner_pid: int | None) -> None:
        argv = [sys.executable, "-m", "zen_lead.localcluster.supervisor", str(self.state)]
        if owner_pid is not None:
            argv += ["--owner-pid", str(owner_pid)]
        with open(self.state / "logs" / "supervisor.log", "ab") as log:
            subprocess.Popen(
                argv,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                close_fds=True,
            )

    def _failure(self, status: dict[str, Any], layout: Layout) -> ClusterError:
        component = status.get("failed_component")
        message = f"local cluster {self.name!r} failed to start: {status.get('error', 'unknown error')}"
        if component:
            log = layout.logs / f"{component}.log"
            message += f"\n--- last lines of {log} ---\n{log_tail(log)}"
        else:
            message += f"\n--- supervisor log ---\n{log_tail(layout.logs / 'supervisor.log')}"
        return ClusterError(message)

    def _wait_running(self, layout: Layout) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            status = read_status(self.state) or {}
            phase = status.get("phase")
            if phase == "running":
                return
            if phase in {"failed", "stopped"}:
                raise self._failure(status, layout)
            time.sleep(0.1)  # start-up only: the supervisor reports through its status file
        raise ClusterError(
            f"local cluster {self.name!r} not running after {READY_TIMEOUT:.0f}s; logs in {layout.logs}"
        )

    def _client(self, layout: Layout) -> Any:
        from zen_lead.kube.config import sync_client

        return sync_client(layout.kubeconfig)

    def _ensure_nodes(self, layout: Layout) -> list[str]:
        """Register the simulated nodes (server-side apply: idempotent) and wait until Ready."""
        from lightkube.models.meta_v1 import ObjectMeta
        from lightkube.resources.core_v1 import Node

        client = self._client(layout)
        names = node_names(self.nodes)
        for index, name in enumerate(names):
            node = Node(
                metadata=ObjectMeta(
                    name=name,
                    annotations={KWOK_NODE_ANNOTATION: "fake", "node.alpha.kubernetes.io/ttl": "0"},
                    labels={
                        "type": "kwok",
                        "kubernetes.io/hostname": name,
                        "kubernetes.io/os": "linux",
                        ZONE_LABEL: zone_of(index, self.zones),
                        "topology.kubernetes.io/region": "local",
                    },
                )
            )
            client.apply(node, field_manager="zen-lead-localcluster", force=True)
        self._wait_nodes_ready(layout, client, set(names))
        return names

    def _wait_nodes_ready(self, layout: Layout, client: Any, names: set[str]) -> None:
        from lightkube.resources.core_v1 import Node

        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            ready = {
                node.metadata.name
                for node in client.list(Node)
                if any(c.type == "Ready" and c.status == "True" for c in (node.status.conditions or []))
            }
            if names <= ready:
                return
            self._raise_if_failed(layout)
            time.sleep(0.2)  # start-up only
        raise ClusterError(
            f"nodes {sorted(names)} not Ready after {READY_TIMEOUT:.0f}s; kwok log:\n"
            + log_tail(layout.logs / "kwok.log")
        )

    def _wait_default_service_account(self, layout: Layout) -> None:
        from lightkube import ApiError
        from lightkube.resources.core_v1 import ServiceAccount

        client = self._client(layout)
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            try:
                client.get(ServiceAccount, "default", namespace="default")
                return
            except ApiError:
                self._raise_if_failed(layout)
                time.sleep(0.2)  # start-up only
        raise ClusterError(
            "the default ServiceAccount never appeared; kube-controller-manager log:\n"
            + log_tail(layout.logs / "kube-controller-manager.log")
        )

    def _raise_if_failed(self, layout: Layout) -> None:
        status = read_status(self.state) or {}
        if status.get("phase") in {"failed", "stopped"}:
            raise self._failure(status, layout)

    # ---- down ---------------------------------------------------------------------------------
    def down(self) -> bool:
        """Stop everything; return whether a cluster was running. Frees every port it held."""
        was_running = self._stop_supervisor()
        try:
            layout = load_layout(self.state)
        except FileNotFoundError:
            return was_running
        ports = [layout.etcd_client_port, layout.etcd_peer_port, layout.apiserver_port]
        deadline = time.monotonic() + 15
        while any(_port_in_use(port) for port in ports) and time.monotonic() < deadline:
            time.sleep(0.1)
        busy = [port for port in ports if _port_in_use(port)]
        if busy:
            raise ClusterError(f"ports still in use after stopping the cluster: {busy}")
        return was_running

    def _stop_supervisor(self) -> bool:
        status = read_status(self.state) or {}
        supervisor = status.get("supervisor_pid")
        pids = [pid for pid in (status.get("pids") or {}).values() if pid_alive(pid)]
        if supervisor is None or not pid_alive(supervisor):
            for pid in pids:  # cannot normally happen (PDEATHSIG), but never leave an orphan
                _kill(pid, signal.SIGKILL)
            return False
        _kill(supervisor, signal.SIGTERM)
        deadline = time.monotonic() + 30
        while pid_alive(supervisor) and time.monotonic() < deadline:
            time.sleep(0.05)
        if pid_alive(supervisor):
            _kill(supervisor, signal.SIGKILL)
        for pid in pids:
            if pid_alive(pid):
                _kill(pid, signal.SIGKILL)
        return True

    def require_running(self) -> None:
        """Raise ``ClusterError`` unless the cluster runs, saying whether it does not exist or is stopped."""
        start = "zen-lead cluster up" + ("" if self.name == "default" else f" --name {self.name}")
        if not (self.state / "layout.json").is_file():
            raise ClusterError(f"cluster {self.name!r} does not exist (start it: {start})")
        if not self.is_running():
            raise ClusterError(f"cluster {self.name!r} is not running (start it: {start})")

    def env(self) -> Iterator[str]:
        """Shell exports for a running cluster; ``ClusterError`` when there is none to point at."""
        self.require_running()
        yield f"export KUBECONFIG={self.state / 'kubeconfig'}"


def _kill(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)
