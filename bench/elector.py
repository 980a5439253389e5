"""Benchmark 4: zen-lead's elector vs the official Python client's, identical timings, same cluster.

For each implementation, two candidate processes (``bench.candidate``) share a Lease. The two
implementations run side by side on Leases of their own. Per round the leader is stopped — SIGTERM
(graceful handoff) or SIGKILL (crash) — and the takeover time is the standby's ``leading`` stamp minus
the moment the signal was sent. The stopped candidate is then started again as the new standby, and the
next round waits two retry periods so the standby has observed the Lease.

Steady state (one leader, one standby) is measured over ``elector_window`` seconds: CPU seconds of
each process (/proc) and requests per minute from the apiserver's side (each candidate slot runs as a
ServiceAccount of its own, matched by its own FlowSchema).
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from bench import apiserver
from bench.context import Context
from bench.kube import SYSTEM_NAMESPACE
from bench.procstat import cpu_seconds, rss_bytes
from bench.stats import summary

log = logging.getLogger("bench")
IMPLEMENTATIONS = ("zen", "official")


@dataclass
class Candidate:
    slot: str  # ServiceAccount / FlowSchema identity, stable across restarts
    kubeconfig: Path
    generation: int = 0
    proc: asyncio.subprocess.Process | None = None
    events: list[dict[str, Any]] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    reader: asyncio.Task[None] | None = None

    @property
    def identity(self) -> str:
        return f"{self.slot}-g{self.generation}"

    def leading_since(self, after: float) -> float | None:
        return next((e["t"] for e in self.events if e["event"] == "leading" and e["t"] >= after), None)


def _append(path: Path) -> BinaryIO:
    return open(path, "ab")


class Election:
    """Two candidates of one implementation on one Lease."""

    def __init__(self, ctx: Context, impl: str, candidates: list[Candidate]) -> None:
        self.ctx = ctx
        self.impl = impl
        self.lease = f"bench-{impl}"
        self.candidates = candidates
        self.timing = ctx.profile.elector_timing

    async def spawn(self, candidate: Candidate) -> None:
        candidate.generation += 1
        candidate.events = []
        timing = self.timing
        argv = [sys.executable, "-m", "bench.candidate", "--impl", self.impl]
        argv += ["--kubeconfig", str(candidate.kubeconfig), "--namespace", SYSTEM_NAMESPACE]
        argv += ["--lease", self.lease, "--identity", candidate.identity]
        argv += [
            "--lease-duration",
            str(timing.lease_duration),
            "--renew-deadline",
            str(timing.renew_deadline),
        ]
        argv += ["--retry-period", str(timing.retry_period)]
        stderr = _append(self.ctx.logs / f"{candidate.slot}.log")
        try:
            candidate.proc = await asyncio.create_subprocess_exec(
                *argv, stdout=asyncio.subprocess.PIPE, stderr=stderr
            )
        finally:
            stderr.close()
        candidate.reader = asyncio.create_task(self._read(candidate, candidate.proc))

    async def _read(self, candidate: Candidate, proc: asyncio.subprocess.Process) -> None:
        assert proc.stdout is not None
        async for line in proc.stdout:
            candidate.events.append(json.loads(line))
            candidate.changed.set()

    async def wait_leading(self, after: float, seconds: float) -> tuple[Candidate, float] | None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for candidate in self.candidates:
                candidate.changed.clear()
            for candidate in self.candidates:
                found = candidate.leading_since(after)
                if found is not None:
                    return candidate, found
            waits = [asyncio.create_task(c.changed.wait()) for c in self.candidates]
            await asyncio.wait(waits, timeout=min(1.0, max(0.0, deadline - time.monotonic())))
            for task in waits:
                task.cancel()
        return None

    async def terminate(self, candidate: Candidate, sig: int) -> float:
        assert candidate.proc is not None
        sent = time.monotonic()
        candidate.proc.send_signal(sig)
        return sent

    async def reap(self, candidate: Candidate) -> None:
        if candidate.proc is None:
            return
        try:
            await asyncio.wait_for(candidate.proc.wait(), 30)
        except TimeoutError:
            candidate.proc.kill()
            await candidate.proc.wait()
        if candidate.reader is not None:
            await asyncio.gather(candidate.reader, return_exceptions=True)

    async def stop_all(self) -> None:
        for candidate in self.candidates:
            if candidate.proc is not None and candidate.proc.returncode is None:
                candidate.proc.kill()
            await self.reap(candidate)

    # ---- the benchmark ----------------------------------------------------------------------------
    async def run(self) -> dict[str, Any]:
        timing = self.timing
        settle = 2 * timing.retry_period + 0.5
        takeover_timeout = 4 * timing.lease_duration + 10
        first, second = self.candidates
        await self.spawn(first)
        found = await self.wait_leading(0.0, takeover_timeout)
        if found is None:
            raise RuntimeError(f"{self.impl}: no candidate became leader")
        await self.spawn(second)
        await asyncio.sleep(settle)
        steady = await self.steady(leader=found[0])
        rounds: dict[str, list[float | None]] = {"graceful": [], "crash": []}
        leader = found[0]
        for mode in ["graceful"] * self.ctx.profile.elector_rounds + [
            "crash"
        ] * self.ctx.profile.elector_rounds:
            standby = next(c for c in self.candidates if c is not leader)
            sent = await self.terminate(leader, signal.SIGTERM if mode == "graceful" else signal.SIGKILL)
            found = await self.wait_leading(sent, takeover_timeout)
            rounds[mode].append(None if found is None else found[1] - sent)
            await self.reap(leader)
            await self.spawn(leader)
            if found is None:
                log.warning("%s %s: no takeover within %.0fs", self.impl, mode, takeover_timeout)
                found = await self.wait_leading(sent, takeover_timeout) or (standby, sent)
            leader = found[0]
            await asyncio.sleep(settle)
        await self.stop_all()
        return {
            "lease": self.lease,
            "graceful_handoff_seconds": summary([x for x in rounds["graceful"] if x is not None]),
            "crash_takeover_seconds": summary([x for x in rounds["crash"] if x is not None]),
            "rounds": rounds,
            "steady_state": steady,
        }

    async def steady(self, *, leader: Candidate) -> dict[str, Any]:
        window = self.ctx.profile.elector_window
        pids = {c.slot: c.proc.pid for c in self.candidates if c.proc is not None}
        cpu_before = {slot: cpu_seconds(pid) for slot, pid in pids.items()}
        api_before = await apiserver.scrape(self.ctx.kube)
        await asyncio.sleep(window)
        api_after = await apiserver.scrape(self.ctx.kube)
        per_minute = 60.0 / window
        roles: dict[str, Any] = {}
        for candidate in self.candidates:
            pid = pids[candidate.slot]
            requests = apiserver.delta(
                api_before.flow_requests(candidate.slot), api_after.flow_requests(candidate.slot)
            )
            roles["leader" if candidate is leader else "standby"] = {
                "cpu_seconds_per_minute": (cpu_seconds(pid) - cpu_before[candidate.slot]) * per_minute,
                "requests_per_minute": {k: v * per_minute for k, v in requests.items()},
                "rss_bytes": rss_bytes(pid),
            }
        return {"window_seconds": window, **roles}


async def run(ctx: Context) -> dict[str, Any]:
    elections = []
    for impl in IMPLEMENTATIONS:
        candidates = []
        for index in range(2):
            slot = f"elector-{impl}-{index}"
            kubeconfig = await ctx.kube.identity(slot, ctx.logs / f"{slot}.kubeconfig")
            candidates.append(Candidate(slot=slot, kubeconfig=kubeconfig))
        elections.append(Election(ctx, impl, candidates))
    try:
        outcomes = await asyncio.gather(*(e.run() for e in elections))
    finally:
        for election in elections:
            await election.stop_all()
    timing = ctx.profile.elector_timing
    result: dict[str, Any] = {
        "timing": {
            "lease_duration": timing.lease_duration,
            "renew_deadline": timing.renew_deadline,
            "retry_period": timing.retry_period,
        },
        **dict(zip(IMPLEMENTATIONS, outcomes, strict=True)),
    }
    for impl in IMPLEMENTATIONS:
        log.info(
            "elector %s: graceful p50 %.2fs, crash p50 %.2fs",
            impl,
            result[impl]["graceful_handoff_seconds"]["p50"],
            result[impl]["crash_takeover_seconds"]["p50"],
        )
    return result
