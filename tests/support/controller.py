"""Run the real controller (``zen-lead run``) as a subprocess, as it runs in production."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from tests.support.metrics import metric_sum, scrape
from tests.support.wait import eventually


class ControllerDied(RuntimeError):
    """The controller process exited while a test expected it to run."""


class ControllerProcess:
    def __init__(
        self,
        *,
        kubeconfig: Path,
        namespace: str,
        log_dir: Path,
        extra: list[str] | None = None,
        name: str = "controller",
        env: dict[str, str] | None = None,
        addresses_file: bool = True,
    ) -> None:
        """``addresses_file=False`` is for revisions older than ``--addresses-file`` (``bench.ab``'s
        baselines): their bound ports are read from the log line that announces them."""
        self.log_path = log_dir / f"{name}.log"
        self.addresses_path = log_dir / f"{name}.addresses.json"
        self.env = {**os.environ, **(env or {})}
        self._legacy_ports = not addresses_file
        self.argv = [
            sys.executable,
            "-m",
            "zen_lead",
            "run",
            "--kubeconfig",
            str(kubeconfig),
            "--namespace",
            namespace,
            "--metrics-bind-address",
            "127.0.0.1:0",
            "--health-probe-bind-address",
            "127.0.0.1:0",
            *(["--addresses-file", str(self.addresses_path)] if addresses_file else []),
            "--log-level",
            "debug",
            *(extra or []),
        ]
        self.proc: subprocess.Popen[bytes] | None = None
        self.addresses: dict[str, str] = {}
        self.metrics_port: int | None = None
        self.probe_port: int | None = None
        self._offset = 0

    def start(self, *, wait_ready: bool = True) -> ControllerProcess:
        self._offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        self.addresses_path.unlink(missing_ok=True)
        log = open(self.log_path, "ab")  # noqa: SIM115 - owned by the child
        self.proc = subprocess.Popen(self.argv, stdout=log, stderr=subprocess.STDOUT, env=self.env)
        log.close()
        bound = eventually(self._addresses, timeout=30, what="the controller's --addresses-file")
        self.addresses = bound
        self.metrics_port = int(bound["metrics"].rsplit(":", 1)[1])
        self.probe_port = int(bound["probes"].rsplit(":", 1)[1])
        if wait_ready:
            eventually(self.ready, timeout=60, what="controller /readyz")
        return self

    def _addresses(self) -> dict[str, str] | None:
        """The bound addresses the controller reports (``--addresses-file``), once it serves."""
        self._check_alive()
        if self._legacy_ports:
            found = {
                role: str(record["address"])
                for record in self.records()
                for role in ("metrics", "probes")
                if record.get("msg") in (f"serving {role}", "serving metrics and probes")
            }
            return found if len(found) == 2 else None
        try:
            return dict(json.loads(self.addresses_path.read_text()))
        except FileNotFoundError:
            return None

    def port(self, role: str) -> int:
        """The bound port of ``role`` (metrics, probes, api, grpc)."""
        return int(self.addresses[role].rsplit(":", 1)[1])

    def _check_alive(self) -> None:
        if self.proc is not None and self.proc.poll() is not None:
            raise ControllerDied(f"controller exited with {self.proc.returncode}:\n{self.tail()}")

    def records(self, *, since_start: bool = True) -> list[dict[str, object]]:
        """The JSON log records of this run (or of every run of this process object)."""
        records = []
        with open(self.log_path, "rb") as log:
            log.seek(self._offset if since_start else 0)
            text = log.read().decode(errors="replace")
        for line in text.splitlines():
            if line.startswith("{"):
                try:
                    records.append(json.loads(line))
                except json.JSONDecodeError:
                    continue
        return records

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def ready(self) -> bool:
        self._check_alive()
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.probe_port}/readyz", timeout=2) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    def readiness(self) -> tuple[int, str]:
        """``/readyz``'s status code and body (the reasons when not ready)."""
        self._check_alive()
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.probe_port}/readyz", timeout=2) as response:
                return int(response.status), response.read().decode()
        except urllib.error.HTTPError as error:
            return int(error.code), error.read().decode()

    def metrics(self) -> str:
        return scrape(self.metrics_port)

    def metric(self, name: str, **labels: str) -> float:
        """Sum of the samples of ``name`` whose labels include ``labels``."""
        return metric_sum(self.metrics(), name, **labels)

    def writes(self) -> float:
        """Write requests to every resource but the manager's own Lease (renewed every retry period)."""
        return sum(
            self.metric("zen_lead_api_requests_total", verb=verb) - self.lease_requests(verb)
            for verb in ("apply", "create", "delete", "patch", "update")
        )

    def lease_requests(self, verb: str | None = None) -> float:
        """Requests the elector made for the manager Lease (the controller's only Lease)."""
        labels = {"resource": "leases"} | ({"verb": verb} if verb else {})
        return self.metric("zen_lead_api_requests_total", **labels)

    def requests_but_leases(self) -> float:
        return self.metric("zen_lead_api_requests_total") - self.lease_requests()

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()

    def __enter__(self) -> ControllerProcess:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()
        time.sleep(0)
