"""The library examples that the compile check alone does not run: a fenced write among concurrent
writers, a primary/secondary HTTP pair that hands over, and controller HA — each run as the user
would run it (``python examples/<name>.py --kubeconfig ...``) on the real cluster."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import socket
import sys
import time
from pathlib import Path

import aiohttp
import pytest

from zen_lead.localcluster import ClusterInfo

pytestmark = pytest.mark.cluster
EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


async def start(script: str, *args: str, log: Path) -> asyncio.subprocess.Process:
    with log.open("ab") as stderr:
        return await asyncio.create_subprocess_exec(
            sys.executable, str(EXAMPLES / script), *args, stdout=asyncio.subprocess.PIPE, stderr=stderr
        )


async def line_matching(proc: asyncio.subprocess.Process, pattern: str, *, within: float) -> re.Match[str]:
    assert proc.stdout is not None
    async with asyncio.timeout(within):
        while True:
            line = (await proc.stdout.readline()).decode()
            assert line, f"exited ({proc.returncode}) before printing {pattern!r}"
            if match := re.search(pattern, line):
                return match


async def in_log(log: Path, pattern: str, *, within: float, after: int = 0) -> re.Match[str]:
    deadline = time.monotonic() + within
    while True:
        if match := re.search(pattern, text(log)[after:]):
            return match
        assert time.monotonic() < deadline, f"no {pattern!r} in {log} within {within}s"
        await asyncio.sleep(0.05)


def text(log: Path) -> str:
    return log.read_text(errors="replace")


def free_ports(count: int) -> list[int]:
    """``count`` distinct free ports (all held open until each is chosen, so none repeats)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [int(s.getsockname()[1]) for s in sockets]
    finally:
        for s in sockets:
            s.close()


async def role(http: aiohttp.ClientSession, port: int, *, within: float) -> dict[str, object]:
    """GET /role, once the replica serves (its server may start after the other became primary)."""
    deadline = time.monotonic() + within
    while True:
        try:
            async with http.get(f"http://127.0.0.1:{port}/role") as response:
                answer: dict[str, object] = await response.json()
                return answer
        except aiohttp.ClientConnectorError:
            assert time.monotonic() < deadline, f"nothing serves on port {port} after {within}s"
            await asyncio.sleep(0.05)


async def stop(procs: list[asyncio.subprocess.Process]) -> None:
    for proc in procs:
        if proc.returncode is None:
            proc.kill()
        await proc.wait()


async def test_the_fenced_write_example_writes_once_per_holder_and_the_store_keeps_the_highest_token(
    cluster: ClusterInfo, namespace: str, tmp_path: Path
) -> None:
    args = ("--kubeconfig", str(cluster.kubeconfig), "--namespace", namespace, "--store", str(tmp_path / "s"))
    procs = [await start("fenced_write.py", *args, log=tmp_path / f"w{i}.log") for i in range(3)]
    try:
        outs = await asyncio.gather(*(p.communicate() for p in procs))
    finally:
        await stop(procs)
    assert [p.returncode for p in procs] == [0, 0, 0], [
        (tmp_path / f"w{i}.log").read_text() for i in range(3)
    ]
    tokens = sorted(int(re.findall(r"token (\d+)", out.decode())[0]) for out, _ in outs)
    assert len(set(tokens)) == 3, tokens  # one lock holder at a time, each a new tenure
    stored = json.loads(text(tmp_path / "s" / "daily-report.json"))
    assert stored["token"] == tokens[-1]


async def test_the_primary_secondary_example_serves_writes_on_the_primary_only_and_hands_over(
    cluster: ClusterInfo, namespace: str, tmp_path: Path
) -> None:
    ports = free_ports(2)
    procs = [
        await start(
            "primary_secondary_http.py",
            *("--kubeconfig", str(cluster.kubeconfig), "--namespace", namespace, "--port", str(port)),
            log=tmp_path / f"p{i}.log",
        )
        for i, port in enumerate(ports)
    ]
    try:
        first = await asyncio.wait(
            [
                asyncio.create_task(line_matching(p, r"primary now, token \S+#(\d+)", within=60))
                for p in procs
            ],
            return_when=asyncio.FIRST_COMPLETED,
        )
        assert len(first[0]) == 1, [t.result() if not t.exception() else t.exception() for t in first[0]]
        [winner] = first[0]  # one primary: the other task is still waiting
        token = int(winner.result().group(1))
        for task in first[1]:
            task.cancel()
        await asyncio.gather(*first[1], return_exceptions=True)
        async with aiohttp.ClientSession() as http:
            roles = [await role(http, port, within=30) for port in ports]
            assert sorted(r["primary"] for r in roles) == [False, True], roles
            primary = next(i for i, r in enumerate(roles) if r["primary"])
            secondary = 1 - primary
            refused = await http.post(f"http://127.0.0.1:{ports[secondary]}/write", data="x")
            assert refused.status == 503
            accepted = await http.post(f"http://127.0.0.1:{ports[primary]}/write", data="xy")
            assert (accepted.status, (await accepted.json())["token"]) == (200, token)

            procs[primary].send_signal(signal.SIGTERM)  # a graceful handoff
            assert await asyncio.wait_for(procs[primary].wait(), 30) == 0
            taken = await line_matching(procs[secondary], r"primary now, token \S+#(\d+)", within=30)
            assert int(taken.group(1)) > token
            accepted = await http.post(f"http://127.0.0.1:{ports[secondary]}/write", data="z")
            assert (accepted.status, (await accepted.json())["token"]) == (200, int(taken.group(1)))
    finally:
        await stop(procs)


async def test_the_controller_ha_example_reconciles_on_the_leader_only_and_a_standby_takes_over(
    cluster: ClusterInfo, namespace: str, tmp_path: Path
) -> None:
    logs = [tmp_path / f"c{i}.log" for i in range(2)]
    args = ("--kubeconfig", str(cluster.kubeconfig), "--namespace", namespace)
    procs = [await start("controller_ha.py", *args, log=log) for log in logs]
    reconciled = r"reconciled \d+ ConfigMaps as \S+#(\d+)"
    try:
        found = await asyncio.wait(
            [asyncio.create_task(in_log(log, reconciled, within=60)) for log in logs],
            return_when=asyncio.FIRST_COMPLETED,
        )
        for task in found[1]:
            task.cancel()
        leader = next(i for i, log in enumerate(logs) if re.search(reconciled, text(log)))
        token = int(next(iter(found[0])).result().group(1))
        standby = 1 - leader
        assert not re.search(reconciled, text(logs[standby])), "the standby reconciled"
        procs[leader].send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(procs[leader].wait(), 30) == 0
        taken = await in_log(logs[standby], reconciled, within=30)
        assert int(taken.group(1)) > token
    finally:
        await stop(procs)
