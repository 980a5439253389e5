"""The fence: what a leader or lock holder carries into its work to prove, before a side effect, that
its tenure is still current.

A fence is valid while (a) its tenure has not been lost or released and (b) the local monotonic
clock has not passed its deadline — the start of the last successful renewal plus ``renew_deadline``.
(b) needs no I/O and no cooperation from the renewal loop: a fence held by a process that was paused
(GC, SIGSTOP, a blocked event loop) is invalid the moment it wakes up, before anything else runs.

``check()`` is that local test. ``confirm()`` adds a read of the Lease (does it still show our holder
and our transitions?). Neither can close the window between the check and the side effect: pass
``token`` to the downstream system and let it reject tokens lower than the highest it has seen.

A ``Fence`` is read-only. Its deadline moves and its tenure ends only through the ``FenceControl``
that made it, which the claim (the renewal loop) keeps to itself.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from zen_lead.election.record import FencingToken, LeaseRecord, still_ours


class StaleFenceError(Exception):
    """The tenure behind this fence is over: the lease was lost, released or taken over."""


@dataclass(slots=True)
class _TenureState:
    deadline: float
    lost_reason: str | None = None
    lost: asyncio.Event = field(default_factory=asyncio.Event)


class Fence:
    """Proof of one tenure of one identity on one Lease. Made by ``FenceControl``, never by users."""

    def __init__(
        self,
        *,
        token: FencingToken,
        identity: str,
        state: _TenureState,
        read: Callable[[], Awaitable[LeaseRecord | None]],
    ) -> None:
        self._token = token
        self._identity = identity
        self._state = state
        self._read = read

    # ---- what users read ------------------------------------------------------------------------
    @property
    def token(self) -> int:
        """The Lease's ``leaseTransitions`` at our acquisition: strictly greater than any earlier holder's."""
        return self._token.transitions

    @property
    def fencing_token(self) -> FencingToken:
        return self._token

    @property
    def identity(self) -> str:
        return self._identity

    @property
    def lease(self) -> str:
        return self._token.lease

    @property
    def deadline(self) -> float:
        """Local monotonic time until which this tenure is valid unless renewed again."""
        return self._state.deadline

    @property
    def lost_reason(self) -> str | None:
        state = self._state
        if state.lost_reason is None and time.monotonic() >= state.deadline:
            return "renew deadline passed"
        return state.lost_reason

    def valid(self) -> bool:
        state = self._state
        return state.lost_reason is None and time.monotonic() < state.deadline

    def check(self) -> None:
        """Raise ``StaleFenceError`` unless still valid by local knowledge (no I/O)."""
        reason = self.lost_reason
        if reason is not None:
            raise StaleFenceError(f"fence {self._token} of {self._identity!r} is stale: {reason}")

    async def confirm(self) -> None:
        """``check()``, then read the Lease: raise ``StaleFenceError`` unless it still shows this tenure."""
        self.check()
        record = await self._read()
        if not still_ours(record, identity=self._identity, transitions=self._token.transitions):
            shown = (
                "no Lease"
                if record is None
                else f"holder {record.holder!r}, transitions {record.transitions}"
            )
            raise StaleFenceError(
                f"fence {self._token} of {self._identity!r} is stale: the Lease shows {shown}"
            )
        self.check()

    async def wait_lost(self) -> str:
        """Wait until the library declares this tenure over; return the reason."""
        await self._state.lost.wait()
        return self._state.lost_reason or "lost"

    def __repr__(self) -> str:
        state = "valid" if self.valid() else f"stale ({self.lost_reason})"
        return f"<Fence {self._token} {self._identity!r} {state}>"


class FenceControl:
    """The writable side of one tenure's fence: what the renewal loop holds, and nobody else."""

    def __init__(
        self,
        *,
        token: FencingToken,
        identity: str,
        deadline: float,
        read: Callable[[], Awaitable[LeaseRecord | None]],
    ) -> None:
        self._state = _TenureState(deadline)
        self.fence = Fence(token=token, identity=identity, state=self._state, read=read)

    @property
    def lost(self) -> asyncio.Event:
        """Set the moment the tenure is declared over (not when the deadline merely passes)."""
        return self._state.lost

    def extend(self, deadline: float) -> None:
        """Move the deadline later after a successful renewal (never earlier, never after a loss)."""
        if self._state.lost_reason is None:
            self._state.deadline = max(self._state.deadline, deadline)

    def lose(self, reason: str) -> bool:
        """Mark the tenure over; True the first time."""
        if self._state.lost_reason is not None:
            return False
        self._state.lost_reason = reason
        self._state.lost.set()
        return True
