"""``zen-lead exec``: run a program only while this process leads a Lease.

The wrapper is a ``LeaderElector`` whose leader work is the program:

- leading: (with a slot) check the Lease's record of done slots; start the program in its own process
  group with the token in its environment; wait for it;
- the program exits: (with a slot and exit 0) mark the slot done while the tenure still shows on the
  Lease; stop the elector (which releases the Lease); exit with the program's code;
- leadership lost (the renew deadline passed, or another holder is seen): SIGTERM to the program's
  group at once, SIGKILL ``grace`` later (``core.kill_at``: ends ``KILL_MARGIN`` before anyone else
  may take over), wait until it is reaped, campaign again; leading again starts it again;
- SIGTERM or SIGINT: forwarded; the Lease is renewed until the program exits, then released. Not
  leading: stop campaigning. SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 are forwarded only.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
from dataclasses import dataclass

from zen_lead.election.elector import LeaderElector, Leadership
from zen_lead.election.identity import default_identity, own_namespace
from zen_lead.election.record import Timing
from zen_lead.election.store import LeaseRef
from zen_lead.exec import core, slots
from zen_lead.exec.child import Child
from zen_lead.exec.nomination import Nomination
from zen_lead.kube.client import ApiClient
from zen_lead.kube.errors import ApiError

log = logging.getLogger("zen_lead.exec")

EXIT_CANNOT_EXECUTE = 126
EXIT_NOT_FOUND = 127


@dataclass(frozen=True, slots=True)
class Plan:
    """Everything the wrapper needs, checked: see ``core.option_problems``."""

    command: tuple[str, ...]
    lease: LeaseRef
    identity: str
    timing: Timing
    grace: float
    timeout: float | None
    slot: str | None
    follow_nomination: bool = False  # --pool: campaign and lead only as the pools controller nominates


class Wrapper:
    def __init__(self, plan: Plan, client: ApiClient) -> None:
        self.plan = plan
        self.client = client
        self.elector = self._elector()
        self._child: Child | None = None
        self._exit: int | None = None
        self._stop_signal: int | None = None
        self._led = asyncio.Event()
        self._done = asyncio.Event()  # the wrapper's exit code is decided
        self.nomination = Nomination(
            client,
            plan.lease,
            plan.identity,
            retry=plan.timing.retry_period,
            binds_for=plan.timing.lease_duration,
        )
        self._leading = False

    def _elector(self) -> LeaderElector:
        return LeaderElector(
            self.plan.lease,
            on_started_leading=self._lead,
            identity=self.plan.identity,
            timing=self.plan.timing,
            leader_gauge=False,
        )

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        handled = (*core.STOPPING, *core.FORWARDED)
        for signum in handled:
            loop.add_signal_handler(signum, self._signalled, signum)
        background: list[asyncio.Task[None]] = []
        if self.plan.timeout is not None:
            background.append(asyncio.create_task(self._time_box(self.plan.timeout)))
        if self.plan.follow_nomination:
            background.append(asyncio.create_task(self.nomination.watch()))
        try:
            while not self._done.is_set():
                if self.plan.follow_nomination and not await self._nominated_or_free():
                    break
                await self._campaign()
        finally:
            for task in background:
                task.cancel()
            await asyncio.gather(*background, return_exceptions=True)
            for signum in handled:
                loop.remove_signal_handler(signum)
        return self._exit if self._exit is not None else 0

    async def _campaign(self) -> None:
        """One elector's life: until the wrapper is done, or (following nominations) until the pools
        controller nominates another pod — then the elector stops (handing over if it led)."""
        self.elector = self._elector()
        runner = asyncio.create_task(self.elector.run(), name="exec elector")
        watcher = asyncio.create_task(self._follow()) if self.plan.follow_nomination else None
        try:
            await runner
        finally:
            if watcher is not None:
                watcher.cancel()
                await asyncio.gather(watcher, return_exceptions=True)

    async def _follow(self) -> None:
        """While campaigning or leading: stop when another pod is nominated."""
        while True:
            version = self.nomination.version
            other = self.nomination.other()
            if other is not None:
                verb = "handing over" if self._leading else "waiting"
                log.info("%s nominates %s: %s", self.plan.lease, other, verb)
                # stopping cancels the leader work, which stops the program (SIGTERM, SIGKILL after
                # --grace) while the Lease is still renewed; then the elector releases it
                self.elector.stop()
                return
            await self.nomination.changed(version)  # a stale nomination is ignored until it changes

    async def _nominated_or_free(self) -> bool:
        """Wait until no other pod is nominated; False when the wrapper is done meanwhile."""
        done = asyncio.create_task(self._done.wait())
        read = asyncio.create_task(self.nomination.read.wait())
        await asyncio.wait({done, read}, return_when=asyncio.FIRST_COMPLETED)  # the first read decides
        done.cancel()
        read.cancel()
        while True:
            version = self.nomination.version
            if self.nomination.other() is None:
                return True
            done = asyncio.create_task(self._done.wait())
            changed = asyncio.create_task(self.nomination.changed(version))
            left = max(0.0, self.nomination.binds_until() - time.monotonic())
            await asyncio.wait({done, changed}, timeout=left, return_when=asyncio.FIRST_COMPLETED)
            done.cancel()
            changed.cancel()
            if self._done.is_set():
                return False
            if not changed.done() and self.nomination.other() is None:
                log.info(
                    "%s nominates %s, who has not taken it for %gs: campaigning",
                    self.plan.lease,
                    self.nomination.nominee,
                    self.nomination.binds_for,
                )

    async def _time_box(self, limit: float) -> None:
        await asyncio.sleep(limit)
        if not self._led.is_set():
            log.warning("not leading %s after --timeout %gs: giving up", self.plan.lease, limit)
            self._finish(core.EXIT_TIMEOUT)

    # ---- the leader work ----------------------------------------------------------------------
    async def _lead(self, leadership: Leadership) -> None:
        self._led.set()
        self._leading = True
        try:
            await self._run_program(leadership)
        finally:
            self._leading = False

    async def _run_program(self, leadership: Leadership) -> None:
        fence = leadership.fence
        log.info("leading %s as %s, token %d", self.plan.lease, self.plan.identity, fence.token)
        if self._stop_signal is not None:
            self._finish(core.signalled_exit(self._stop_signal))
            return
        slot = self.plan.slot
        if slot is not None and not await self._slot_open(slot, leadership):
            return
        env = core.child_env(
            os.environ,
            namespace=self.plan.lease.namespace,
            name=self.plan.lease.name,
            identity=self.plan.identity,
            token=fence.token,
            slot=slot,
        )
        try:
            child = await Child.start(self.plan.command, env)
        except OSError as error:
            log.error("cannot start %s: %s", self.plan.command[0], error)
            self._finish(EXIT_NOT_FOUND if isinstance(error, FileNotFoundError) else EXIT_CANNOT_EXECUTE)
            return
        self._child = child
        log.info("started %s (pid %d) with token %d", self.plan.command[0], child.pid, fence.token)
        stop_signal = self._stopping()
        if stop_signal is not None:  # arrived while it was starting
            child.signal(stop_signal)
        try:
            returncode = await child.wait()
        except asyncio.CancelledError:
            detected = time.monotonic()
            reason = fence.lost_reason or "stopping"
            at = core.kill_at(deadline=fence.deadline, detected=detected, grace=self.plan.grace)
            log.warning(
                "stopping pid %d (%s): SIGTERM now, SIGKILL in %.2fs", child.pid, reason, at - detected
            )
            returncode = await child.stop(kill_at=at)
            self._child = None
            log.info("pid %d exited with %d after leadership ended", child.pid, core.exit_code(returncode))
            if self._stopping() is not None:
                self._finish(core.exit_code(returncode))
            raise
        child.kill_group()
        self._child = None
        code = core.exit_code(returncode)
        log.info("pid %d exited with %d", child.pid, code)
        if slot is not None and returncode == 0:
            await self._mark(slot, leadership)
        self._finish(code)

    async def _slot_open(self, slot: str, leadership: Leadership) -> bool:
        """True when the slot still has to run; else the wrapper is finished (exit 0)."""
        while leadership.valid():
            try:
                done = await slots.is_done(
                    self.client, self.plan.lease, slot, limit=self.plan.timing.call_timeout
                )
            except (ApiError, OSError) as error:  # TimeoutError is an OSError
                log.warning("cannot read the done slots of %s: %s", self.plan.lease, error)
                await asyncio.sleep(self.plan.timing.retry_period)
                continue
            if done:
                log.info("slot %s of %s already done", slot, self.plan.lease)
                self._finish(0)
                return False
            return True
        return False  # the tenure ends: the elector campaigns again and we check again then

    async def _mark(self, slot: str, leadership: Leadership) -> None:
        try:
            marked = await slots.mark_done(
                self.client, self.plan.lease, slot, leadership.fence, limit=self.plan.timing.call_timeout
            )
        except (ApiError, OSError) as error:
            log.error("slot %s ran but could not be marked done (%s): it may run again", slot, error)
            return
        if not marked:
            log.error("slot %s ran but the tenure ended before it was marked done: it may run again", slot)

    def _stopping(self) -> int | None:
        """The stop signal received so far (a method: a signal handler may set it at any await)."""
        return self._stop_signal

    def _finish(self, code: int) -> None:
        if self._exit is None:
            self._exit = code
        self._done.set()
        self.elector.stop()

    # ---- signals --------------------------------------------------------------------------------
    def _signalled(self, signum: int) -> None:
        child = self._child
        if child is not None:
            log.info("forwarding %s to pid %d", signal.Signals(signum).name, child.pid)
            child.signal(signum)
        if signum not in core.STOPPING:
            return
        self._stop_signal = signum
        if child is None:
            log.info("%s while not running the program: stopping", signal.Signals(signum).name)
            self._finish(core.signalled_exit(signum))


def plan_of(options: core.ExecOptions, *, lease: LeaseRef, slot: str | None) -> Plan:
    """The checked plan (``core.option_problems`` found nothing)."""
    timing = core.timing_of(options)
    identity = os.environ["POD_NAME"] if options.pool is not None else options.identity
    return Plan(
        command=tuple(options.command),
        lease=lease,
        identity=identity or default_identity(),
        timing=timing,
        grace=core.grace_of(options, timing),
        timeout=options.timeout,
        slot=slot,
        follow_nomination=options.pool is not None,
    )


async def run(options: core.ExecOptions, *, namespace: str | None, kubeconfig: str | None) -> int:
    """Resolve what needs the API (namespace, the Job's slot), then run the wrapper to its exit code."""
    name = options.pool or options.lease
    assert name is not None, "checked by core.option_problems"
    client = ApiClient.from_kubeconfig(kubeconfig)
    try:
        resolved = namespace or own_namespace() or client.namespace
        slot = options.slot
        if options.slot_from_job is not None:
            try:
                slot = await slots.slot_of_job(client, resolved, options.slot_from_job)
            except slots.SlotError as error:
                log.error("%s", error)
                return core.EXIT_USAGE
        lease = LeaseRef(name, resolved, client=client)
        return await Wrapper(plan_of(options, lease=lease, slot=slot), client).run()
    finally:
        await client.aclose()
