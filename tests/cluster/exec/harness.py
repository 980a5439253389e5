"""Helpers of the exec cluster tests: wrappers of either implementation, and the workers' ledger.

The ledger is what the workers (``worker.py``) wrote about themselves; the checks judge only from
it and from an independent watch of the Lease (``tests.cluster.election.harness.LeaseWatch``), never
from what the wrapper under test says.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.cluster.election.harness import Change, Proc, spawn
from zen_lead.localcluster import ClusterInfo

HERE = Path(__file__).parent
LD, RD, RP = 4, 3.0, 0.5  # the stop bound leaves LD - RD - 0.5 = 0.5 s of grace
TIMING = ["--lease-duration", str(LD), "--renew-deadline", str(RD), "--retry-period", str(RP)]


@dataclass
class Run:
    """One life of a worker, from its own stamps."""

    pid: int
    start: dict[str, Any]
    last_t: float
    last_wall: float
    stopped: dict[str, Any] | None = None
    signals: list[str] = field(default_factory=list)

    @property
    def token(self) -> int:
        return int(self.start["token"])

    @property
    def identity(self) -> str:
        return str(self.start["identity"])


class Ledger:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.wrappers: list[Proc] = []  # every wrapper started with this ledger, killed by ``close``
        path.touch()

    async def close(self) -> None:
        self.kill_all()
        for wrapper in self.wrappers:
            await wrapper.kill()

    def runs(self) -> list[Run]:
        runs: dict[int, Run] = {}
        for line in self.path.read_text().splitlines():
            try:
                event = json.loads(line)
            except ValueError:  # a line being written
                continue
            pid = event["pid"]
            if event["event"] == "start":
                runs[pid] = Run(pid, event, event["t"], event["wall"])
                continue
            run = runs[pid]
            run.last_t, run.last_wall = event["t"], event["wall"]
            if event["event"] == "signal":
                run.signals.append(event["signal"])
            elif event["event"] == "stop":
                run.stopped = event
        return sorted(runs.values(), key=lambda r: r.start["t"])

    def kill_all(self) -> None:
        """SIGKILL every worker still alive (a test's cleanup: an orphaned worker would keep its
        wrapper's output pipe open, and the test would wait for it forever)."""
        for run in self.runs():
            with contextlib.suppress(ProcessLookupError):
                os.kill(run.pid, signal.SIGKILL)

    async def wait_runs(self, count: int, *, within: float) -> list[Run]:
        """Wait until at least ``count`` workers have started; the runs so far."""
        deadline = time.monotonic() + within
        while True:
            runs = self.runs()
            if len(runs) >= count:
                return runs
            assert time.monotonic() < deadline, f"{len(runs)} of {count} workers started within {within}s"
            await asyncio.sleep(0.02)


def assert_one_at_a_time(runs: list[Run]) -> None:
    """No two workers alive at once (each started after the one before stamped its last), and the
    tokens they were given strictly increase."""
    for before, after in itertools.pairwise(runs):
        assert after.start["t"] > before.last_t, (
            f"two workers at once: pid {after.pid} (token {after.token}) started "
            f"{before.last_t - after.start['t']:.3f}s before pid {before.pid} (token {before.token}) stopped"
        )
        assert after.token > before.token, f"token did not increase: {before.token} then {after.token}"


def assert_tokens_are_the_leases(runs: list[Run], changes: list[Change]) -> None:
    """Each worker's token is the Lease's leaseTransitions of a tenure held by its wrapper."""
    tenures = {(c.holder, c.transitions) for c in changes if c.holder}
    for run in runs:
        assert (run.identity, run.token) in tenures, (
            f"pid {run.pid} got token {run.token} as {run.identity}, a tenure the Lease never showed: "
            f"{sorted(tenures, key=lambda t: t[1])}"
        )


def gone(pid: int) -> bool:
    """The process no longer runs (reaped, or a zombie waiting for its new parent to reap it)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


async def start_wrapper(
    impl: Path | None,
    name: str,
    *,
    cluster: ClusterInfo,
    namespace: str,
    ledger: Ledger,
    logs: Path,
    lease: str = "exec",
    flags: tuple[str, ...] = (),
    worker: tuple[str, ...] = (),
    command: tuple[str, ...] | None = None,
    timing: tuple[str, ...] = tuple(TIMING),
    env: dict[str, str] | None = None,
) -> Proc:
    """``zen-lead exec`` (``impl`` None) or the static wrapper at ``impl``, as identity ``name``."""
    front = [sys.executable, "-m", "zen_lead", "exec"] if impl is None else [str(impl)]
    program = command or (sys.executable, str(HERE / "worker.py"), str(ledger.path), *worker)
    argv = [
        *front,
        "--kubeconfig",
        str(cluster.kubeconfig),
        "--namespace",
        namespace,
        *(["--lease", lease] if lease else []),
        *(["--identity", name] if lease else []),
        *timing,
        *flags,
        "--",
        *program,
    ]
    wrapper = await spawn(name, argv, logs=logs, env=env)
    ledger.wrappers.append(wrapper)
    return wrapper
