"""Helpers for the election cluster tests: event-printing subprocesses and an independent Lease watch.

Every process prints JSON lines stamped with ``time.monotonic()``; CLOCK_MONOTONIC is system-wide on
Linux, so the stamps of all processes and of the test itself lie on one time line. (The Go candidate
prints no stamps: the test stamps its lines on arrival, a few milliseconds late at most.)

The Lease watch reads raw JSON through lightkube's dict-based generic resource, not through the code
under test, so it is an independent witness of what was written.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lightkube import ApiError, AsyncClient
from lightkube.core.resource import ApiInfo, ResourceDef
from lightkube.generic_resource import GenericNamespacedResource

HERE = Path(__file__).parent
LD, RD, RP = 4.0, 3.0, 0.5  # short timings for fast tests (client-go's rules hold: 4 > 3 > 1.2 x 0.5)
TIMING_ARGS = ["--lease-duration", str(LD), "--renew-deadline", str(RD), "--retry-period", str(RP)]


class RawLease(GenericNamespacedResource):
    """A Lease as a plain dict (times stay the strings the apiserver returns). Not registered globally."""

    _api_info = ApiInfo(
        resource=ResourceDef("coordination.k8s.io", "v1", "Lease"),
        plural="leases",
        verbs=["delete", "get", "list", "patch", "post", "put", "watch"],
    )


# ---- processes ------------------------------------------------------------------------------------
@dataclass
class Proc:
    """A child process whose stdout JSON events are collected as they arrive."""

    name: str
    process: asyncio.subprocess.Process
    log: Path
    events: list[dict[str, Any]] = field(default_factory=list)
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)
    _reader: asyncio.Task[None] | None = None

    async def _read(self) -> None:
        assert self.process.stdout is not None
        async for line in self.process.stdout:
            arrived = time.monotonic()
            try:
                event = json.loads(line)
            except ValueError:
                continue
            event.setdefault("t", arrived)
            event["arrived"] = arrived
            self.events.append(event)
            self._arrived.set()

    def named(self, event: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["event"] == event]

    async def wait_for(
        self,
        event: str,
        *,
        within: float,
        after: float = -1.0,
        where: Callable[[dict[str, Any]], bool] | None = None,
    ) -> dict[str, Any]:
        """The first ``event`` stamped after ``after`` (waiting up to ``within`` seconds)."""
        deadline = time.monotonic() + within
        while True:
            for e in self.events:
                if e["event"] == event and e["t"] > after and (where is None or where(e)):
                    return e
            left = deadline - time.monotonic()
            if left <= 0 or (self.process.returncode is not None and self._reader and self._reader.done()):
                raise AssertionError(
                    f"{self.name}: no {event!r} within {within}s (exit code {self.process.returncode}); "
                    f"events: {[e['event'] for e in self.events]}; log: {self.log}\n{tail(self.log)}"
                )
            self._arrived.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(left):
                    await self._arrived.wait()

    def signal(self, sig: signal.Signals) -> float:
        """Send ``sig``; return the monotonic time it was sent."""
        now = time.monotonic()
        if self.process.returncode is None:
            self.process.send_signal(sig)
        return now

    async def exited(self, within: float) -> int:
        async with asyncio.timeout(within):
            code = await self.process.wait()
        if self._reader is not None:
            await self._reader
        return code

    async def kill(self) -> None:
        if self.process.returncode is None:
            self.process.kill()
        await self.process.wait()
        if self._reader is not None:
            await asyncio.gather(self._reader, return_exceptions=True)


async def spawn(
    name: str, argv: list[str], *, logs: Path, stdin: bool = False, env: dict[str, str] | None = None
) -> Proc:
    log = logs / f"{name}.log"
    stderr = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        process = await asyncio.create_subprocess_exec(
            *argv,
            stdout=asyncio.subprocess.PIPE,
            stderr=stderr,
            stdin=asyncio.subprocess.PIPE if stdin else asyncio.subprocess.DEVNULL,
            env={**os.environ, **(env or {}), "PYTHONUNBUFFERED": "1"},
        )
    finally:
        os.close(stderr)
    proc = Proc(name, process, log)
    proc._reader = asyncio.create_task(proc._read())
    return proc


async def first_of(
    procs: list[Proc], event: str, *, within: float, after: float = -1.0
) -> tuple[Proc, dict[str, Any]]:
    """The process whose ``event`` (stamped after ``after``) came first, and that event."""
    deadline = time.monotonic() + within
    while True:
        found = [(e, p) for p in procs for e in p.events if e["event"] == event and e["t"] > after]
        if found:
            first, proc = min(found, key=lambda pair: pair[0]["t"])
            return proc, first
        if time.monotonic() > deadline:
            raise AssertionError(
                f"no {event!r} from {[p.name for p in procs]} within {within}s; "
                + "; ".join(f"{p.name}: {[e['event'] for e in p.events]} ({p.log})" for p in procs)
            )
        await asyncio.sleep(0.02)


async def until(check: Callable[[], bool], *, within: float, what: str, interval: float = 0.01) -> None:
    """Wait until ``check()`` holds (the asyncio twin of ``tests.support.wait``). ``interval=0`` re-checks
    at every turn of the event loop: nothing that happens in this process between two awaits is missed."""
    deadline = time.monotonic() + within
    while True:
        if check():
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within}s waiting for {what}")
        await asyncio.sleep(interval)


def python_script(script: str, *args: str) -> list[str]:
    return [sys.executable, str(HERE / script), *args]


def tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


# ---- the Lease watch ------------------------------------------------------------------------------
GAP = "GAP"  # a Change of this type marks changes the watch missed (it could not resume after 410 Gone)


@dataclass(frozen=True)
class Change:
    t: float  # local monotonic arrival time
    type: str
    spec: dict[str, Any]
    resource_version: str

    @property
    def holder(self) -> str:
        return str(self.spec.get("holderIdentity") or "")

    @property
    def transitions(self) -> int:
        return int(self.spec.get("leaseTransitions") or 0)


class LeaseWatch:
    """Records every change of one Lease with its arrival time.

    A watch that breaks (a frozen apiserver, a closed stream) resumes from the last resourceVersion it
    saw, so the changes made meanwhile still arrive, late; if it cannot resume (410 Gone), a ``GAP``
    change says so and the history checks refuse it rather than judge an incomplete history."""

    def __init__(self, client: AsyncClient, namespace: str, name: str) -> None:
        self.client, self.namespace, self.name = client, namespace, name
        self.changes: list[Change] = []
        self._arrived = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> LeaseWatch:
        self._task = asyncio.create_task(self._run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        version: str | None = None  # the last resourceVersion seen: a restarted watch resumes there
        while True:
            try:
                stream = self.client.watch(
                    RawLease,
                    namespace=self.namespace,
                    fields={"metadata.name": self.name},
                    server_timeout=60,
                    resource_version=version,
                )
                async for event_type, obj in stream:
                    version = obj.metadata.resourceVersion
                    self.changes.append(
                        Change(time.monotonic(), event_type, dict(obj.get("spec") or {}), version)
                    )
                    self._arrived.set()
            except asyncio.CancelledError:
                raise
            except ApiError as error:
                if error.status.code == 410:  # too old to resume: what happened in between is lost
                    self.changes.append(Change(time.monotonic(), GAP, {}, ""))
                    version = None
                await asyncio.sleep(0.2)
            except Exception:  # the apiserver froze or closed the stream: resume from ``version``
                await asyncio.sleep(0.2)

    async def wait_for(
        self, predicate: Callable[[Change], bool], *, within: float, after: float = -1.0
    ) -> Change:
        deadline = time.monotonic() + within
        while True:
            for change in self.changes:
                if change.t > after and predicate(change):
                    return change
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no matching Lease change within {within}s; history: {self.history()}")
            self._arrived.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(left):
                    await self._arrived.wait()

    def history(self) -> list[tuple[float, str, int]]:
        return [(round(c.t, 3), c.holder, c.transitions) for c in self.changes]


# ---- a downstream system that honours fencing tokens ---------------------------------------------
class FencedFile:
    """A tiny object store in one file that rejects writes carrying a token lower than one it has seen.

    Shared by processes through ``fcntl.flock``; this is the "storage" side of fencing, not a stand-in
    for any Kubernetes API.
    """

    class StaleWrite(Exception):
        pass

    def __init__(self, path: Path) -> None:
        self.path = path

    def write(self, token: int, data: str) -> None:
        with open(self.path, "a+") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            handle.seek(0)
            state = json.loads(handle.read() or '{"token": -1, "data": null}')
            if token < state["token"]:
                raise FencedFile.StaleWrite(f"token {token} < {state['token']} already seen")
            handle.seek(0)
            handle.truncate()
            handle.write(json.dumps({"token": token, "data": data}))

    def read(self) -> dict[str, Any]:
        return dict(json.loads(self.path.read_text()))
