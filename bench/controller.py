"""The controller under test: ``zen-lead run`` as a subprocess (``tests.support.controller``), so its RSS
and CPU are its own, with production flags (leader election on, info logs, default QPS/burst/workers).

Adds what benchmarks need: its pid, the monotonic time of log records (the log carries wall-clock
``ts``; the offset between the clocks is taken when the process starts), and scrapes of ``/metrics``.
"""

from __future__ import annotations

import asyncio
import calendar
import time
from pathlib import Path

from tests.support.controller import ControllerProcess

from bench.apiserver import Scrape, parse
from bench.procstat import cpu_seconds, open_sockets, peak_rss_bytes, rss_bytes

WRITE_VERBS = ("apply", "create", "delete", "patch", "update")
SYNC_TIMEOUT = 300.0


def log_wall_time(ts: str) -> float:
    """``2026-01-02T03:04:05.678Z`` -> seconds since the epoch."""
    whole, _, fraction = ts.rstrip("Z").partition(".")
    return calendar.timegm(time.strptime(whole, "%Y-%m-%dT%H:%M:%S")) + float(f"0.{fraction or 0}")


class Controller:
    def __init__(
        self, *, kubeconfig: Path, namespace: str, logs: Path, name: str, extra: tuple[str, ...] = ()
    ) -> None:
        self.namespace = namespace
        self.process = ControllerProcess(
            kubeconfig=kubeconfig,
            namespace=namespace,
            log_dir=logs,
            name=name,
            extra=[
                *("--log-level", "info", "--leader-elect", "--leader-election-namespace", namespace),
                *extra,
            ],
        )
        self.started = 0.0  # monotonic, just before the process was spawned
        self._offset = 0.0  # wall - monotonic

    async def start(self) -> None:
        self._offset = time.time() - time.monotonic()
        self.started = time.monotonic()
        await asyncio.to_thread(self.process.start, wait_ready=False)

    async def stop(self) -> None:
        await asyncio.to_thread(self.process.stop)

    @property
    def pid(self) -> int:
        assert self.process.proc is not None
        return self.process.proc.pid

    def rss(self) -> int:
        return rss_bytes(self.pid)

    def peak_rss(self) -> int:
        return peak_rss_bytes(self.pid)

    def cpu(self) -> float:
        return cpu_seconds(self.pid)

    def sockets(self) -> int:
        return open_sockets(self.pid)

    def log_time(self, message_prefix: str) -> float | None:
        """Monotonic time of the first log record of this run whose message starts with the prefix."""
        for record in self.process.records():
            if str(record.get("msg", "")).startswith(message_prefix) and "ts" in record:
                return log_wall_time(str(record["ts"])) - self._offset
        return None

    async def wait_log(self, message_prefix: str, seconds: float = SYNC_TIMEOUT) -> float:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            found = self.log_time(message_prefix)
            if found is not None:
                return found
            self.process._check_alive()
            await asyncio.sleep(0.1)
        raise RuntimeError(f"controller never logged {message_prefix!r}:\n{self.process.tail()}")

    async def scrape(self) -> Scrape:
        text = await asyncio.to_thread(self.process.metrics)
        return parse(text, ("zen_lead_",))


def writes(scrape: Scrape) -> dict[str, float]:
    """Write requests by resource (from the controller's own counter), but for the manager's own Lease:
    its renewals, every retry period, are counted there too and are not routing work."""
    found: dict[str, float] = {}
    for verb in WRITE_VERBS:
        for resource, value in scrape.by_label("zen_lead_api_requests_total", "resource", verb=verb).items():
            if resource != "leases":
                found[resource] = found.get(resource, 0.0) + value
    return found


def requests(scrape: Scrape) -> dict[str, float]:
    """All requests by ``verb/resource`` (watches are not counted by the controller: see the apiserver)."""
    found: dict[str, float] = {}
    for s in scrape.samples:
        if s.name == "zen_lead_api_requests_total":
            key = f"{s.labels.get('verb')}/{s.labels.get('resource')}"
            found[key] = found.get(key, 0.0) + s.value
    return found


def cost(controller: Controller) -> dict[str, float]:
    """The controller process's memory (now and peak) and CPU so far."""
    return {
        "rss_bytes": controller.rss(),
        "peak_rss_bytes": controller.peak_rss(),
        "cpu_seconds": controller.cpu(),
    }
