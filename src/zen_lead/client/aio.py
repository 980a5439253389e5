"""The asyncio client: ``async with AsyncClient("zen-lead-api.ns:8443", ca_file=...) as client``.

- ``leader`` / ``list``: one call each, answered from the server's informer cache.
- ``watch``: an async iterator over a target's states; it reconnects on UNAVAILABLE (and on a stream
  that falls silent past two heartbeats) with jittered backoff, resumes with ``after_term`` = the last
  term seen, and never yields a lower term than one it already yielded (``core.TermFilter``).
- ``lock``: ``async with client.lock("nightly", ttl=30) as fence``. Renewed every ``ttl / 6`` over the
  ``KeepAlive`` stream; when the stream breaks or falls silent, the lock is resumed with ``Renew``
  (namespace, name, holder, token) on whatever replica the channel reaches, then streamed again. When
  no renewal succeeded for ``2/3 * ttl`` measured from the start of the last successful one, or the
  server says someone else holds it (or its Lease is gone), the lock is LOST: the fence turns
  invalid, the body is cancelled (as ``zen_lead.election.lock`` does) and ``LockLostError`` is raised
  from the ``async with``. Released on exit (unless someone else holds it).
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import logging
import secrets
import socket
from collections import deque
from collections.abc import AsyncIterator
from pathlib import Path
from types import TracebackType
from typing import TypeVar

import grpc
import grpc.aio

from zen_lead.api.pb import zenlead_pb2 as pb
from zen_lead.client import transport
from zen_lead.client.auth import Tls, TokenSource
from zen_lead.client.core import (
    HEARTBEAT_DEFAULT,
    Backoff,
    Kind,
    LeaderState,
    LockFence,
    LockInfo,
    LockTiming,
    TermFilter,
    acquire_wait,
    default_holder,
    leader_state_from_proto,
    lock_from_proto,
    validate_holder,
    validate_wait,
    watch_silence,
)
from zen_lead.client.errors import ApiError, LockLostError, LockNotAcquiredError

log = logging.getLogger(__name__)

CALL_TIMEOUT = 10.0  # seconds, for every unary call (Acquire: plus its wait)
RELEASE_TIMEOUT = 5.0

Request = TypeVar("Request")
Response = TypeVar("Response")


class AsyncClient:
    """A connection to zen-lead's API (``zen-lead run --api-bind-address``).

    ``token`` or ``token_file`` (default: the pod's ServiceAccount token when present) is sent as
    ``authorization: Bearer``. TLS by default (``ca_file``, optional ``cert_file``/``key_file``,
    ``server_name``); ``insecure=True`` only for a loopback address."""

    def __init__(
        self,
        address: str,
        *,
        token: str | None = None,
        token_file: str | Path | None = None,
        ca_file: str | Path | None = None,
        cert_file: str | Path | None = None,
        key_file: str | Path | None = None,
        server_name: str | None = None,
        insecure: bool = False,
        timeout: float = CALL_TIMEOUT,
    ) -> None:
        self.address = address
        self.tls = Tls(ca_file, cert_file, key_file, server_name, insecure)
        self.tls.check(address)
        self.tokens = TokenSource(token, token_file)
        self.timeout = timeout
        self._channel: grpc.aio.Channel | None = None
        self._calls: transport.AioCalls | None = None

    # ---- connection ---------------------------------------------------------------------------
    @property
    def calls(self) -> transport.AioCalls:
        """The typed call handles; the channel is opened on first use, in the running loop."""
        if self._calls is None:
            self._channel = transport.aio_channel(self.address, self.tls)
            self._calls = transport.AioCalls.on(self._channel)
        return self._calls

    async def close(self) -> None:
        channel, self._channel, self._calls = self._channel, None, None
        if channel is not None:
            await channel.close()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def unary(
        self,
        call: grpc.aio.UnaryUnaryMultiCallable[Request, Response],
        request: Request,
        *,
        method: str,
        seconds: float | None = None,
    ) -> Response:
        """One unary call with the token and a deadline (``seconds``, default the client's timeout);
        a failure raises ``ApiError``."""
        try:
            return await call(request, timeout=seconds or self.timeout, metadata=self.tokens.metadata())
        except grpc.aio.AioRpcError as error:
            raise transport.error_of(error, method) from error

    # ---- leaders ------------------------------------------------------------------------------
    async def leader(
        self, kind: Kind | str, name: str, *, namespace: str | None = None, refuse_stale: bool = False
    ) -> LeaderState:
        """Who leads the pool, Service or Lease ``name`` (``refuse_stale``: UnavailableError rather
        than an answer from a server whose view is stale)."""
        target = transport.target_message(Kind.of(kind), name, namespace)
        request = pb.GetLeaderRequest(target=target, refuse_stale=refuse_stale)
        return leader_state_from_proto(await self.unary(self.calls.leader, request, method="Leaders.Get"))

    async def list(
        self, *, namespace: str | None = None, kind: Kind | str | None = None
    ) -> builtins.list[LeaderState]:
        """Every pool and Service (``kind=None``) or every target of one kind, in ``namespace``."""
        request = pb.ListLeadersRequest(
            namespace=namespace or "", kind=transport.kind_filter(None if kind is None else Kind.of(kind))
        )
        answer = await self.unary(self.calls.leaders, request, method="Leaders.List")
        return [leader_state_from_proto(state) for state in answer.leaders]

    async def watch(
        self,
        kind: Kind | str,
        name: str,
        *,
        namespace: str | None = None,
        after_term: int = 0,
        heartbeat: float = HEARTBEAT_DEFAULT,
    ) -> AsyncIterator[LeaderState]:
        """The target's state now, then every change; forever (break out of the loop to stop).

        Reconnects on UNAVAILABLE, on a stream the server ended and on one silent for
        ``core.watch_silence(heartbeat)``; other errors raise ``ApiError``."""
        if not heartbeat >= 1:
            raise ValueError(f"heartbeat must be at least 1 second (got {heartbeat!r})")
        target = transport.target_message(Kind.of(kind), name, namespace)
        terms = TermFilter(after_term)
        backoff = Backoff()
        silence = watch_silence(heartbeat)
        while True:
            request = pb.WatchLeaderRequest(
                target=target, after_term=terms.after_term, heartbeat_seconds=heartbeat
            )
            call = self.calls.watch(request, metadata=self.tokens.metadata())
            try:
                while True:
                    async with asyncio.timeout(silence):
                        event = await call.read()
                    if not isinstance(event, pb.WatchEvent):  # grpc.aio.EOF: the server ended the stream
                        log.info("watch %s: the server ended the stream; reconnecting", name)
                        break
                    backoff.reset()
                    state = leader_state_from_proto(event.state)
                    if terms.admit(state):
                        yield state
            except TimeoutError:
                log.warning("watch %s: nothing received for %gs; reconnecting", name, silence)
            except grpc.aio.AioRpcError as error:
                if error.code() not in transport.RECONNECT:
                    raise transport.error_of(error, "Leaders.Watch") from error
                log.info(
                    "watch %s: %s; reconnecting after term %d", name, error.code().name, terms.after_term
                )
            finally:
                call.cancel()
            await asyncio.sleep(backoff.next())

    # ---- locks --------------------------------------------------------------------------------
    def lock(
        self,
        name: str,
        *,
        ttl: int,
        holder: str | None = None,
        wait: float | None = 0,
        namespace: str | None = None,
    ) -> AsyncLock:
        """``async with client.lock(name, ttl=30) as fence`` (see ``AsyncLock``)."""
        return AsyncLock(self, name=name, ttl=ttl, holder=holder, wait=wait, namespace=namespace)

    async def lock_info(self, name: str, *, namespace: str | None = None) -> LockInfo:
        """The lock as the server reads it now (held or not, holder, token)."""
        request = pb.GetLockRequest(namespace=namespace or "", name=name)
        return lock_from_proto(await self.unary(self.calls.lock, request, method="Locks.Get"))


class _TakenError(Exception):
    """The server says the lock is not ours any more (``transport.NOT_OURS``, or another holder/token)."""


class AsyncLock:
    """A lock taken through the API for ``ttl`` whole seconds between renewals.

    ``wait``: seconds to wait for a lock held by someone else (0: one try; None: forever).
    ``holder``: who holds it (default ``<hostname>-<random>``, unique to this object). Acquiring
    raises ``LockNotAcquiredError`` when it stays held; the ``async with`` body is cancelled and
    ``LockLostError`` raised when the lock is lost (module docstring)."""

    def __init__(
        self,
        client: AsyncClient,
        *,
        name: str,
        ttl: int,
        holder: str | None = None,
        wait: float | None = 0,
        namespace: str | None = None,
    ) -> None:
        self.client = client
        self.name = name
        self.namespace = namespace or ""
        self.timing = LockTiming(ttl)
        self.holder = validate_holder(holder or default_holder(socket.gethostname(), secrets.token_hex(4)))
        self.wait = validate_wait(wait)
        self.fence: LockFence | None = None
        self.info: LockInfo | None = None  # the server's last answer
        self.lost = asyncio.Event()
        self._keeper: asyncio.Task[None] | None = None
        self._taken = False
        self._body: asyncio.Task[object] | None = None
        self._cancelled_body = False

    # ---- acquire ------------------------------------------------------------------------------
    async def acquire(self) -> LockFence:
        """Take the lock (waiting as configured) and start keeping it alive; return its fence."""
        if self.fence is not None:
            raise RuntimeError(f"lock {self.name} is already held by this object")
        loop = asyncio.get_running_loop()
        until = None if self.wait is None else loop.time() + self.wait
        backoff = Backoff()
        while True:
            wait = acquire_wait(None if until is None else until - loop.time())
            request = pb.AcquireLockRequest(
                namespace=self.namespace,
                name=self.name,
                holder=self.holder,
                ttl_seconds=self.timing.ttl,
                wait_seconds=wait,
            )
            started = loop.time()
            try:
                answer = await self.client.unary(
                    self.client.calls.acquire,
                    request,
                    method="Locks.Acquire",
                    seconds=wait + self.client.timeout,
                )
                break
            except ApiError as error:
                if error.code != "FAILED_PRECONDITION":
                    raise
                if until is not None and loop.time() >= until:
                    raise LockNotAcquiredError(f"lock {self.name}: {error.details}") from error
                pause = backoff.next()
                await asyncio.sleep(pause if until is None else max(0.0, min(pause, until - loop.time())))
        self.info = lock_from_proto(answer)
        self.namespace = self.info.namespace or self.namespace
        fence = LockFence(
            namespace=self.namespace,
            name=self.name,
            holder=self.holder,
            token=self.info.token,
            timing=self.timing,
            acquire_started=started,
            clock=loop.time,
        )
        self.fence, self._taken = fence, False
        self.lost.clear()
        self._keeper = asyncio.create_task(self._keep(fence), name=f"keep lock {self.name} alive")
        return fence

    # ---- keep alive ---------------------------------------------------------------------------
    async def _keep(self, fence: LockFence) -> None:
        """Renew until lost, inside a budget that every successful renewal moves to its deadline;
        then cancel the body — the lock's hard step-down."""
        try:
            async with asyncio.timeout_at(fence.deadline) as budget:
                await self._renew_until_taken(fence, budget)
        except TimeoutError:
            fence.lose(f"no renewal succeeded for {fence.timing.renew_deadline:g}s (2/3 of the ttl)")
        except _TakenError as taken:
            self._taken = True
            fence.lose(str(taken))
        except Exception as error:  # a bug or an unreadable token file: never a silently dead keeper
            log.exception("lock %s: keeping it alive failed", fence.name)
            fence.lose(f"keeping it alive failed: {error!r}")
        log.warning("lock %s/%s lost: %s", fence.namespace, fence.name, fence.lost_reason)
        self.lost.set()
        body = self._body
        if body is not None and not body.done() and not self._cancelled_body:
            self._cancelled_body = True
            body.cancel(f"lock {fence.name} lost: {fence.lost_reason}")

    async def _renew_until_taken(self, fence: LockFence, budget: asyncio.Timeout) -> None:
        backoff = Backoff()
        while True:
            try:
                await self._keep_alive(fence, budget)
            except grpc.aio.AioRpcError as error:
                self._raise_if_taken(error)
                log.info("lock %s: keep-alive stream broke (%s); resuming", fence.name, error.code().name)
            while True:  # resume with Renew (namespace, name, holder, token), on any replica
                await asyncio.sleep(backoff.next())
                started = asyncio.get_running_loop().time()
                try:
                    answer = await self.client.calls.renew(
                        self._renewal(fence),
                        timeout=max(0.1, fence.remaining()),
                        metadata=self.client.tokens.metadata(),
                    )
                except grpc.aio.AioRpcError as error:
                    self._raise_if_taken(error)
                    continue
                self._renewed(fence, budget, answer, started)
                backoff.reset()
                break

    async def _keep_alive(self, fence: LockFence, budget: asyncio.Timeout) -> None:
        """One KeepAlive stream: a renewal every ``ttl / 6``, each answer matched to the time its
        request was sent (answers come in order). Returns when the stream ends or falls silent."""
        loop = asyncio.get_running_loop()
        call = self.client.calls.keep_alive(metadata=self.client.tokens.metadata())
        sent: deque[float] = deque()
        request = self._renewal(fence)

        async def send() -> None:
            while True:
                await asyncio.sleep(fence.timing.renew_interval)
                sent.append(loop.time())
                await call.write(request)

        sender = asyncio.create_task(send(), name=f"renew lock {fence.name}")
        try:
            while True:
                try:
                    async with asyncio.timeout(fence.timing.stream_silence):
                        answer = await call.read()
                except TimeoutError:
                    log.info("lock %s: keep-alive stream silent; resuming", fence.name)
                    return
                if not isinstance(answer, pb.Lock):  # EOF
                    return
                self._renewed(fence, budget, answer, sent.popleft() if sent else loop.time())
        finally:
            sender.cancel()
            call.cancel()
            await asyncio.gather(sender, return_exceptions=True)

    def _renewal(self, fence: LockFence) -> pb.RenewLockRequest:
        return pb.RenewLockRequest(
            namespace=fence.namespace, name=fence.name, holder=fence.holder, token=fence.token
        )

    def _renewed(self, fence: LockFence, budget: asyncio.Timeout, answer: pb.Lock, started: float) -> None:
        if not answer.held or answer.holder != fence.holder or answer.token != fence.token:
            raise _TakenError(f"held by {answer.holder!r} with token {answer.token} now")
        self.info = lock_from_proto(answer)
        fence.renewed(started)
        budget.reschedule(fence.deadline)

    @staticmethod
    def _raise_if_taken(error: grpc.aio.AioRpcError) -> None:
        if error.code() in transport.NOT_OURS:
            raise _TakenError(f"the server refused the renewal: {error.details()}") from error

    # ---- release ------------------------------------------------------------------------------
    async def release(self) -> bool:
        """Stop renewing and give the lock back; True when the server released it. A failure is
        logged, not raised: the lock then expires ``ttl`` after its last renewal."""
        fence, keeper = self.fence, self._keeper
        self.fence = self._keeper = None
        if keeper is not None:
            keeper.cancel()
            await asyncio.gather(keeper, return_exceptions=True)
        if fence is None:
            return False
        fence.lose("released")
        if self._taken:
            return False
        request = pb.ReleaseLockRequest(
            namespace=fence.namespace, name=fence.name, holder=fence.holder, token=fence.token
        )
        try:
            answer = await self.client.unary(
                self.client.calls.release, request, method="Locks.Release", seconds=RELEASE_TIMEOUT
            )
        except ApiError as error:
            log.warning("lock %s: release failed (it expires after its ttl): %s", fence.name, error)
            return False
        return answer.released

    # ---- async with ---------------------------------------------------------------------------
    async def __aenter__(self) -> LockFence:
        fence = self.fence if self.fence is not None else await self.acquire()
        self._body = asyncio.current_task()
        self._cancelled_body = False
        return fence

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        body, self._body = self._body, None
        lost = self._cancelled_body
        reason = self.fence.lost_reason if self.fence is not None else None
        others_cancelled = False
        if lost and body is not None:
            others_cancelled = body.uncancel() > 0  # someone besides us cancelled the body too
            if exc_type is None:
                # the body finished before our cancellation reached it: absorb the pending request
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.sleep(0)
        await self.release()
        if lost and not others_cancelled and exc_type in (None, asyncio.CancelledError):
            raise LockLostError(f"lock {self.name} was lost while held: {reason}") from exc
