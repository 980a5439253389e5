"""Runnables: the parts the manager starts, and the gate that lets only the leader write.

A ``Runnable`` is anything with a ``name``, a ``needs_leader_election`` flag and ``async run()``
that works until cancelled. The manager starts those that do not need leadership at once on every
replica (the informer cache, the Event poster, the metrics and probe servers, a status API) and runs
those that do (controllers that write) only inside the leadership scope of the manager's Lease —
cancelled the moment it ends, started again on the next tenure.

``WriteGate`` is the fence between leadership and writes: the manager opens it with the tenure's
``valid`` check when a tenure starts and closes it when it ends; a controller calls ``check()``
before every write, so a replica whose tenure has ended never writes, even in the instant before the
cancellation of its workers is delivered.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Protocol, runtime_checkable


@runtime_checkable
class Runnable(Protocol):
    name: str
    needs_leader_election: bool

    async def run(self) -> None:
        """Work until cancelled."""


class LeadershipLost(RuntimeError):
    """A write was about to be made after this replica's leadership ended."""


def _closed() -> bool:
    return False


class WriteGate:
    """Open while this replica may write (it leads, or runs without election)."""

    def __init__(self) -> None:
        self._valid: Callable[[], bool] = _closed

    def open(self, valid: Callable[[], bool] | None = None) -> None:
        """Allow writes while ``valid()`` (the tenure's fence) holds; always, without ``valid``."""
        self._valid = valid or (lambda: True)

    def close(self) -> None:
        self._valid = _closed

    @property
    def is_open(self) -> bool:
        return self._valid()

    def check(self) -> None:
        """Raise ``LeadershipLost`` unless writes are allowed now (no I/O)."""
        if not self._valid():
            raise LeadershipLost("this replica's leadership ended: no more writes")


async def run_all(runnables: Sequence[Runnable]) -> None:
    """Run ``runnables`` side by side until cancelled (or until one fails: then all are cancelled)."""
    async with asyncio.TaskGroup() as group:
        for runnable in runnables:
            group.create_task(runnable.run(), name=runnable.name)
