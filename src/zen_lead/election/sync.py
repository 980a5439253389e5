"""A thread-backed facade for synchronous programs: ``SyncLeaderElector``.

The asyncio ``LeaderElector`` runs on its own event loop in a background thread, so renewals never
wait for the program's main thread. Callbacks are plain functions and never run on the caller's
thread: ``on_started_leading(leadership)`` runs in a worker thread for the whole tenure,
``on_stopped_leading()`` and ``on_new_leader(identity)`` in the loop's default executor.

A thread cannot be cancelled. The step-down is therefore cooperative for synchronous leader work:
``leadership.lost`` (a ``threading.Event``) is set the instant leadership ends, ``leadership.valid()``
turns False, and the elector waits for the function to return (the drain) before releasing the Lease
or calling ``on_stopped_leading``. Work must check ``leadership.valid()`` (or wait on ``lost``)
between steps and pass ``leadership.token`` to whatever it writes.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from types import TracebackType
from typing import Self

from zen_lead.election.elector import LeaderElector, Leadership
from zen_lead.election.fence import Fence, StaleFenceError
from zen_lead.election.identity import default_identity
from zen_lead.election.record import FencingToken, Timing
from zen_lead.election.store import LeaseRef


class SyncLeadership:
    """What a synchronous ``on_started_leading`` receives."""

    def __init__(self, fence: Fence, loop: asyncio.AbstractEventLoop) -> None:
        self.fence = fence
        self.lost = threading.Event()
        self._loop = loop

    @property
    def token(self) -> FencingToken:
        return self.fence.fencing_token

    def valid(self) -> bool:
        return not self.lost.is_set() and self.fence.valid()

    def check(self) -> None:
        """Raise ``StaleFenceError`` unless still leading (no I/O)."""
        if self.lost.is_set():
            raise StaleFenceError(f"leadership {self.token} has ended")
        self.fence.check()

    def confirm(self, timeout: float | None = None) -> None:
        """``check()`` plus a read of the Lease, run on the elector's loop."""
        self.check()
        asyncio.run_coroutine_threadsafe(self.fence.confirm(), self._loop).result(timeout)

    def wait_lost(self, timeout: float | None = None) -> bool:
        return self.lost.wait(timeout)


class SyncLeaderElector:
    """``LeaderElector`` for synchronous programs; same arguments, plain-function callbacks.

    The Lease's ``client`` (in a ``LeaseRef``), if any, is used on the elector's own thread and event
    loop: give a ``kubeconfig`` instead unless that client is not used elsewhere.

    ``start()`` (or ``with``) runs it; ``stop()`` drains the leader work, releases the Lease and joins
    the thread. ``is_leader()``, ``fencing_token()`` and ``wait_until_leader()`` may be called from
    any thread.
    """

    def __init__(
        self,
        lease: str | LeaseRef,
        *,
        on_started_leading: Callable[[SyncLeadership], None] | None = None,
        on_stopped_leading: Callable[[], None] | None = None,
        on_new_leader: Callable[[str], None] | None = None,
        identity: str | None = None,
        timing: Timing | None = None,
        watch: bool = True,
    ) -> None:
        self.identity = identity or default_identity()
        # Built here so that bad arguments fail in the caller's thread; its asyncio primitives bind
        # to the background loop on first use.
        self._elector = LeaderElector(
            lease,
            on_started_leading=self._lead,
            on_stopped_leading=None if on_stopped_leading is None else self._in_executor(on_stopped_leading),
            on_new_leader=None if on_new_leader is None else self._in_executor_with(on_new_leader),
            identity=self.identity,
            timing=timing,
            watch=watch,
        )
        self._work = on_started_leading
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._leading = threading.Event()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="zen-lead-leader")
        self.error: BaseException | None = None

    # ---- control ----------------------------------------------------------------------------------
    def start(self) -> Self:
        if self._thread is not None:
            raise RuntimeError("already started")
        self._thread = threading.Thread(target=self._thread_main, name="zen-lead-elector", daemon=True)
        self._thread.start()
        self._ready.wait()
        return self

    def stop(self, timeout: float | None = None) -> None:
        """Stop: drain the leader work, release the Lease, join the thread. Re-raises a leader-work error."""
        if self._thread is None:
            return
        if self._loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop has already finished
                self._loop.call_soon_threadsafe(self._elector.stop)
        self._thread.join(timeout)
        self._executor.shutdown(wait=False)
        if self.error is not None:
            raise self.error

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # ---- state ------------------------------------------------------------------------------------
    def is_leader(self) -> bool:
        return self._elector.is_leader

    def fencing_token(self) -> FencingToken | None:
        return self._elector.fencing_token

    def wait_until_leader(self, timeout: float | None = None) -> bool:
        return self._leading.wait(timeout)

    # ---- the thread -------------------------------------------------------------------------------
    def _thread_main(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._ready.set()
        try:
            await self._elector.run()
        except BaseException as error:  # handed to stop(), the caller's thread
            self.error = error

    async def _lead(self, leadership: Leadership) -> None:
        loop = asyncio.get_running_loop()
        sync_leadership = SyncLeadership(leadership.fence, loop)
        self._leading.set()
        try:
            if self._work is None:
                await asyncio.Event().wait()  # lead until cancelled
                return
            future = loop.run_in_executor(self._executor, self._work, sync_leadership)
            try:
                await asyncio.shield(future)
            except asyncio.CancelledError:
                sync_leadership.lost.set()
                await asyncio.wait([future])  # the drain: the function must notice and return
                raise
        finally:
            sync_leadership.lost.set()
            self._leading.clear()

    @staticmethod
    def _in_executor(callback: Callable[[], None]) -> Callable[[], Awaitable[None]]:
        async def call() -> None:
            await asyncio.get_running_loop().run_in_executor(None, callback)

        return call

    @staticmethod
    def _in_executor_with(callback: Callable[[str], None]) -> Callable[[str], Awaitable[None]]:
        async def call(identity: str) -> None:
            await asyncio.get_running_loop().run_in_executor(None, callback, identity)

        return call
