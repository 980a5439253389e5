"""``python -m bench.exec [--rounds N]`` — `zen-lead exec` handoffs beside the elector's and client-go's,
in one run on one local cluster, with the same timings (lease 4 s, renew deadline 3 s, retry 0.5 s).

Four implementations, two candidates each on a Lease of their own:

- ``elector``: zen-lead's ``LeaderElector`` (``bench.candidate --impl zen``), "leading" = its
  ``on_started_leading`` ran;
- ``client-go``: client-go v0.36.3's ``leaderelection`` (tests/cluster/election/goelector, with
  ``ReleaseOnCancel``), "leading" = ``OnStartedLeading`` (stamped on arrival of its line);
- ``exec``: ``zen-lead exec`` (Python), and ``exec-static``: the static Go wrapper, around a program
  that stamps its own start: "leading" = the PROGRAM runs, so the numbers include starting it.

Per round the leader is stopped — SIGTERM (graceful handoff) or SIGKILL (crash) — and the takeover time
is the standby's "leading" stamp minus the moment the signal was sent (CLOCK_MONOTONIC, one time line
on this machine). The stopped candidate is started again as the standby and given time to observe the
Lease. Results: ``bench/results/exec.json``. Not part of ``python -m bench`` (its own cluster).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.stats import summary
from zen_lead.localcluster import LocalCluster

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
LD, RD, RP = 4, 3.0, 0.5
NAMESPACE = "default"
PROGRAM = (
    "import json, time; print(json.dumps({'event': 'leading', 't': time.monotonic()}), flush=True); "
    "time.sleep(3600)"
)
IMPLEMENTATIONS = ("elector", "client-go", "exec", "exec-static")


def go_build(source: Path, out: Path) -> Path:
    env = {**os.environ, "GOTOOLCHAIN": "local", "CGO_ENABLED": "0", "GOFLAGS": "-mod=readonly"}
    subprocess.run(["go", "build", "-trimpath", "-o", str(out), "."], cwd=source, env=env, check=True)
    return out


@dataclass
class Candidate:
    impl: str
    slot: str
    generation: int = 0
    proc: asyncio.subprocess.Process | None = None
    events: list[dict[str, Any]] = field(default_factory=list)
    log: Path | None = None

    @property
    def identity(self) -> str:
        return f"{self.impl}-{self.slot}-g{self.generation}"

    def leading_after(self, after: float) -> float | None:
        return next((e["t"] for e in self.events if e["event"] == "leading" and e["t"] >= after), None)


class Election:
    def __init__(self, impl: str, kubeconfig: Path, binaries: dict[str, Path], logs: Path) -> None:
        self.impl, self.kubeconfig, self.binaries, self.logs = impl, kubeconfig, binaries, logs
        self.lease = f"bench-{impl}"
        self.candidates = [Candidate(impl, "a"), Candidate(impl, "b")]
        self.readers: set[asyncio.Task[None]] = set()

    def argv(self, candidate: Candidate) -> list[str]:
        where = ["--kubeconfig", str(self.kubeconfig), "--namespace", NAMESPACE]
        timing = ["--lease-duration", str(LD), "--renew-deadline", str(RD), "--retry-period", str(RP)]
        if self.impl == "elector":
            return [sys.executable, "-m", "bench.candidate", "--impl", "zen", *where, "--lease", self.lease,
                    "--identity", candidate.identity, *timing]  # fmt: skip
        if self.impl == "client-go":
            return [str(self.binaries["client-go"]), *where, "--name", self.lease, "--identity",
                    candidate.identity, f"--lease-duration={LD}s", f"--renew-deadline={RD}s",
                    f"--retry-period={int(RP * 1000)}ms"]  # fmt: skip
        front = (
            [sys.executable, "-m", "zen_lead", "exec"]
            if self.impl == "exec"
            else [str(self.binaries["static"])]
        )
        return [*front, *where, "--lease", self.lease, "--identity", candidate.identity, *timing, "--",
                sys.executable, "-S", "-c", PROGRAM]  # fmt: skip

    async def spawn(self, candidate: Candidate) -> None:
        candidate.generation += 1
        candidate.events = []
        candidate.log = self.logs / f"{candidate.identity}.log"
        stderr = os.open(candidate.log, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        try:
            candidate.proc = await asyncio.create_subprocess_exec(
                *self.argv(candidate), stdout=asyncio.subprocess.PIPE, stderr=stderr
            )
        finally:
            os.close(stderr)
        self.readers.add(asyncio.create_task(self._read(candidate, candidate.proc)))

    async def _read(self, candidate: Candidate, proc: asyncio.subprocess.Process) -> None:
        assert proc.stdout is not None
        async for line in proc.stdout:
            arrived = time.monotonic()
            try:
                event = json.loads(line)
            except ValueError:
                continue
            event.setdefault("t", arrived)
            if event.get("event") == "became leader":  # the client-go candidate's word for it
                event["event"] = "leading"
            candidate.events.append(event)

    async def ready(self, candidate: Candidate) -> None:
        """Started and campaigning (its start-up done), then two retry periods to observe the Lease."""
        deadline = time.monotonic() + 60
        while not (candidate.events or (candidate.log and "campaigning" in candidate.log.read_text())):
            if time.monotonic() > deadline:
                raise RuntimeError(f"{candidate.identity} did not start; see {candidate.log}")
            await asyncio.sleep(0.05)
        await asyncio.sleep(2 * RP + 0.5)

    async def leader(self, after: float, within: float) -> tuple[Candidate, float]:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            for candidate in self.candidates:
                found = candidate.leading_after(after)
                if found is not None:
                    return candidate, found
            await asyncio.sleep(0.005)
        raise RuntimeError(f"{self.impl}: nobody led within {within}s; logs in {self.logs}")

    async def stop(self, candidate: Candidate, sig: int) -> float:
        assert candidate.proc is not None
        sent = time.monotonic()
        candidate.proc.send_signal(sig)
        try:
            await asyncio.wait_for(candidate.proc.wait(), 30)
        except TimeoutError:
            candidate.proc.kill()
            await candidate.proc.wait()
        return sent

    async def run(self, rounds: int) -> dict[str, Any]:
        for candidate in self.candidates:
            await self.spawn(candidate)
        for candidate in self.candidates:
            await self.ready(candidate)
        current, _ = await self.leader(-1, 60)
        times: dict[str, list[float]] = {"graceful": [], "crash": []}
        try:
            for kind, sig in (("graceful", signal.SIGTERM), ("crash", signal.SIGKILL)):
                for _ in range(rounds):
                    sent = await self.stop(current, sig)
                    new, at = await self.leader(sent, 4 * LD + 10)
                    times[kind].append(at - sent)
                    await self.spawn(current)
                    await self.ready(current)
                    current = new
        finally:
            for candidate in self.candidates:
                if candidate.proc is not None and candidate.proc.returncode is None:
                    candidate.proc.kill()
                    await candidate.proc.wait()
        return {"impl": self.impl, **{kind: summary(values) for kind, values in times.items()}, "raw": times}


async def run_all(
    kubeconfig: Path, rounds: int, binaries: dict[str, Path], logs: Path
) -> list[dict[str, Any]]:
    # one implementation at a time: their processes do not compete for the two cores while measured
    return [await Election(impl, kubeconfig, binaries, logs).run(rounds) for impl in IMPLEMENTATIONS]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.exec", description=__doc__)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--cluster", default="bench-exec")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        binaries = {
            "client-go": go_build(
                ROOT / "tests" / "cluster" / "election" / "goelector", Path(tmp) / "goelector"
            ),
            "static": go_build(ROOT / "cmd" / "zen-lead-exec", Path(tmp) / "zen-lead-exec"),
        }
        cluster = LocalCluster(args.cluster, nodes=1)
        cluster.down()
        info = cluster.up(owner_pid=os.getpid())
        try:
            results = asyncio.run(run_all(info.kubeconfig, args.rounds, binaries, Path(tmp)))
        finally:
            cluster.down()
    report = {
        "timing": {"lease_duration": LD, "renew_deadline": RD, "retry_period": RP},
        "rounds": args.rounds,
        "kubernetes": info.kubernetes_version,
        "results": results,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "exec.json").write_text(json.dumps(report, indent=2) + "\n")
    for result in results:
        print(json.dumps({k: v for k, v in result.items() if k != "raw"}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
