"""The program ``zen-lead exec`` runs: started in a process group of its own, tied to the wrapper's
life, signalled as a group, stopped with SIGTERM and then SIGKILL at a fixed monotonic time.

Tied to the wrapper: the child asks the kernel (``PR_SET_PDEATHSIG``) to be SIGKILLed when the
wrapper dies, so a SIGKILLed wrapper (OOM, ``kill -9``, a node agent) does not leave a leader-only
program running without a lease. The kernel does this for the direct child only; a program that
forks workers should run as PID 1's child in its container (the container dies with the wrapper) or
exit when its parent does.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import signal
import time
from collections.abc import Mapping, Sequence

log = logging.getLogger("zen_lead.exec")

_PR_SET_PDEATHSIG = 1


def _tie_to_parent(parent: int) -> None:
    """Runs in the child between fork and exec: die with the parent, even if it already died."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(128 + signal.SIGKILL)


class Child:
    """One run of the program."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.pid = process.pid

    @classmethod
    async def start(cls, command: Sequence[str], env: Mapping[str, str]) -> Child:
        """Start ``command``; ``FileNotFoundError``/``PermissionError`` when it cannot be executed."""
        parent = os.getpid()
        process = await asyncio.create_subprocess_exec(
            *command,
            env=dict(env),
            process_group=0,
            preexec_fn=lambda: _tie_to_parent(parent),
        )
        return cls(process)

    @property
    def returncode(self) -> int | None:
        return self.process.returncode

    async def wait(self) -> int:
        return await self.process.wait()

    def signal(self, signum: int) -> None:
        """Send ``signum`` to the child's process group (its workers too); nothing if it is gone."""
        if self.process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signum)

    async def stop(self, *, kill_at: float) -> int:
        """SIGTERM now, SIGKILL at ``kill_at`` (local monotonic) if still alive; the return code.

        Never returns before the child is reaped: the caller goes on to campaign again, and a second
        copy of the program must not start while this one may still run."""
        self.signal(signal.SIGTERM)
        left = kill_at - time.monotonic()
        if left > 0:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(left):
                    await asyncio.shield(self.wait())
        if self.process.returncode is None:
            log.warning("child %d did not exit after SIGTERM: sending SIGKILL", self.pid)
            self.signal(signal.SIGKILL)
        code = await asyncio.shield(self.wait())
        self.kill_group()
        return code

    def kill_group(self) -> None:
        """SIGKILL what is left of the child's process group (workers it forked). The group's id stays
        reserved while any member lives, so this cannot hit an unrelated process."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)
