"""The generic controller loop with a reconciler of the test's own (no API: the loop never calls one):
results, retries with backoff, terminal errors, and what a failure is reported on."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import cast

import pytest
from hypothesis import given
from hypothesis import strategies as st

from zen_lead.kube.client import ApiClient
from zen_lead.kube.errors import ApiError, TransportError
from zen_lead.kube.meta import ObjectRef
from zen_lead.kube.ratelimit import Lane
from zen_lead.manager.controllers import parse_controllers
from zen_lead.runtime.controller import Controller, Request, Result, TerminalError, classify
from zen_lead.runtime.events import EventRecorder
from zen_lead.runtime.runnable import LeadershipLost, WriteGate


class Script:
    """A reconciler that answers each call from a script and records the requests it got."""

    def __init__(self, *outcomes: Result | BaseException, start: Iterable[str] = ("ns/start",)) -> None:
        self.outcomes = list(outcomes)
        self.start = list(start)
        self.requests: list[Request] = []
        self.called = asyncio.Event()

    async def reconcile(self, request: Request) -> Result:
        self.requests.append(request)
        self.called.set()
        outcome = self.outcomes.pop(0) if self.outcomes else Result()
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    def involved(self, key: str) -> ObjectRef | None:
        namespace, _, name = key.partition("/")
        return ObjectRef("v1", "Service", namespace, name, "uid-" + name)

    def startup_keys(self) -> Iterable[str]:
        return self.start


async def synced() -> None:
    return None


def recorder() -> EventRecorder:
    return EventRecorder(cast(ApiClient, None), host="test")  # never posts: its poster is not run


async def run_until(controller: Controller, script: Script, calls: int) -> None:
    task = asyncio.create_task(controller.run())
    try:
        async with asyncio.timeout(5):
            while len(script.requests) < calls:
                script.called.clear()
                await script.called.wait()
            await asyncio.sleep(0.05)  # room for a wrong extra call to show
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_start_up_keys_are_reconciled_first() -> None:
    script = Script()
    controller = Controller("t", script, workers=1, events=None, synced=synced)
    await run_until(controller, script, 1)
    assert [r.key for r in script.requests] == ["ns/start"]


@pytest.mark.parametrize(
    "error",
    [ApiError(409, "Conflict"), ApiError(500, "InternalError"), TransportError("reset"), LeadershipLost("x")],
)
async def test_transient_failures_are_retried_in_the_lane_they_failed_in(error: Exception) -> None:
    script = Script(error, Result(), start=())
    controller = Controller("t", script, workers=1, events=None, synced=synced)
    controller.queue.add("ns/a", Lane.FAILOVER)
    await run_until(controller, script, 2)
    assert [(r.key, r.lane) for r in script.requests] == [("ns/a", Lane.FAILOVER)] * 2


@pytest.mark.parametrize("code", [400, 403, 422])
async def test_a_refused_request_is_terminal_reported_once_and_not_retried(code: int) -> None:
    script = Script(ApiError(code, "Forbidden", "no"), start=("ns/a",))
    events = recorder()
    controller = Controller("t", script, workers=1, events=events, synced=synced)
    await run_until(controller, script, 1)
    assert [r.key for r in script.requests] == ["ns/a"]  # no retry (backoff would retry in 5 ms)
    note = events._queue.get_nowait()
    assert (note.involved.name, note.type) == ("a", "Warning")
    assert "refused" in note.message
    assert str(code) in note.message
    assert events._queue.empty()


async def test_a_terminal_error_raised_by_the_reconciler_carries_its_reason() -> None:
    script = Script(TerminalError("PortUnusable", "port 0 is not a port"))
    events = recorder()
    controller = Controller("t", script, workers=1, events=events, synced=synced)
    await run_until(controller, script, 1)
    assert events._queue.get_nowait().reason == "PortUnusable"


async def test_requeue_after_and_requeue_come_back() -> None:
    script = Script(Result(requeue_after=0.05), Result(requeue=True), Result())
    controller = Controller("t", script, workers=1, events=None, synced=synced)
    await run_until(controller, script, 3)
    assert [r.key for r in script.requests] == ["ns/start"] * 3
    assert script.requests[2].lane is Lane.ROUTINE


def test_classify() -> None:
    assert classify(ApiError(403, "Forbidden")) is not None
    assert classify(ApiError(404, "NotFound")) is None
    assert classify(ApiError(429, "TooManyRequests")) is None
    assert classify(OSError("x")) is None


def test_the_write_gate_is_shut_until_opened_and_follows_the_fence() -> None:
    gate = WriteGate()
    with pytest.raises(LeadershipLost):
        gate.check()
    valid = [True]
    gate.open(lambda: valid[0])
    gate.check()
    valid[0] = False
    with pytest.raises(LeadershipLost):
        gate.check()
    gate.open()
    gate.check()
    gate.close()
    assert not gate.is_open


KNOWN = {"director": True, "pools": False, "claims": False}
ITEMS = st.lists(st.sampled_from(["*", "director", "pools", "claims", "-director", "-pools", "-claims"]))


@given(ITEMS)
def test_controllers_follow_kube_controller_managers_convention(items: list[str]) -> None:
    enabled = {i for i in items if not i.startswith("-") and i != "*"}
    disabled = {i[1:] for i in items if i.startswith("-")}
    if enabled & disabled:
        with pytest.raises(ValueError, match="both enabled and disabled"):
            parse_controllers(items, KNOWN)
        return
    defaults = {name for name, on in KNOWN.items() if on} if "*" in items else set()
    assert parse_controllers(items, KNOWN) == enabled | (defaults - disabled)


def test_controllers_flag_forms() -> None:
    assert parse_controllers(["*"], KNOWN) == {"director"}
    assert parse_controllers(["*,pools"], KNOWN) == {"director", "pools"}
    assert parse_controllers(["director, pools"], KNOWN) == {"director", "pools"}
    assert parse_controllers(["*,-director"], KNOWN) == set()
    with pytest.raises(ValueError, match="unknown controller 'pool'; known: claims, director, pools"):
        parse_controllers(["pool"], KNOWN)
