"""The blocking client, on grpc's sync channel: the surface of ``aio.AsyncClient``.

``with Client(address, ...) as client``: ``leader``, ``list``, ``lock_info``; ``for state in
client.watch(...)`` (same reconnect, resume and monotonic-term guarantees); ``with client.lock(name,
ttl=30) as fence`` with a background thread that keeps the lock alive (KeepAlive stream, resumed with
Renew) under the same loss rule. A thread cannot be cancelled: when the lock is lost the fence turns
invalid at once, ``lock.lost`` is set, and ``LockLostError`` is raised when the body ends — check
``fence.valid()`` before every action that needs the lock, and pass ``fence.token`` to the storage.
"""

from __future__ import annotations

import builtins
import logging
import secrets
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType
from typing import TypeVar

import grpc

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

CALL_TIMEOUT = 10.0
RELEASE_TIMEOUT = 5.0

Request = TypeVar("Request")
Response = TypeVar("Response")


class _Watchdog:
    """Calls ``expire`` (a stream's ``cancel``) unless re-armed within ``seconds``."""

    def __init__(self, expire: Callable[[], object]) -> None:
        self._expire = expire
        self._timer: threading.Timer | None = None
        self.fired = False

    def _fire(self) -> None:
        self.fired = True
        self._expire()

    def arm(self, seconds: float) -> None:
        self.stop()
        self._timer = threading.Timer(max(0.0, seconds), self._fire)
        self._timer.daemon = True
        self._timer.start()

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


class Client:
    """A blocking connection to zen-lead's API; the arguments of ``aio.AsyncClient``."""

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
        self.tokens = TokenSource(token, token_file)
        self.timeout = timeout
        self._channel = transport.sync_channel(address, self.tls)
        self.calls = transport.SyncCalls.on(self._channel)

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def unary(
        self,
        call: grpc.UnaryUnaryMultiCallable[Request, Response],
        request: Request,
        *,
        method: str,
        seconds: float | None = None,
    ) -> Response:
        try:
            return call(request, timeout=seconds or self.timeout, metadata=self.tokens.metadata())
        except grpc.RpcError as error:
            raise transport.error_of(error, method) from error

    # ---- leaders ------------------------------------------------------------------------------
    def leader(
        self, kind: Kind | str, name: str, *, namespace: str | None = None, refuse_stale: bool = False
    ) -> LeaderState:
        target = transport.target_message(Kind.of(kind), name, namespace)
        request = pb.GetLeaderRequest(target=target, refuse_stale=refuse_stale)
        return leader_state_from_proto(self.unary(self.calls.leader, request, method="Leaders.Get"))

    def list(
        self, *, namespace: str | None = None, kind: Kind | str | None = None
    ) -> builtins.list[LeaderState]:
        request = pb.ListLeadersRequest(
            namespace=namespace or "", kind=transport.kind_filter(None if kind is None else Kind.of(kind))
        )
        answer = self.unary(self.calls.leaders, request, method="Leaders.List")
        return [leader_state_from_proto(state) for state in answer.leaders]

    def watch(
        self,
        kind: Kind | str,
        name: str,
        *,
        namespace: str | None = None,
        after_term: int = 0,
        heartbeat: float = HEARTBEAT_DEFAULT,
    ) -> Iterator[LeaderState]:
        """As ``AsyncClient.watch``; close the generator (or break out of the loop) to stop."""
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
            watchdog = _Watchdog(call.cancel)
            try:
                watchdog.arm(silence)
                for event in call:
                    watchdog.stop()  # the consumer's time between two states is not the server's silence
                    backoff.reset()
                    state = leader_state_from_proto(event.state)
                    if terms.admit(state):
                        yield state
                    watchdog.arm(silence)
                log.info("watch %s: the server ended the stream; reconnecting", name)
            except grpc.RpcError as error:
                if watchdog.fired:
                    log.warning("watch %s: nothing received for %gs; reconnecting", name, silence)
                elif error.code() not in transport.RECONNECT:
                    raise transport.error_of(error, "Leaders.Watch") from error
                else:
                    log.info(
                        "watch %s: %s; reconnecting after term %d", name, error.code().name, terms.after_term
                    )
            finally:
                watchdog.stop()
                call.cancel()
            time.sleep(backoff.next())

    # ---- locks --------------------------------------------------------------------------------
    def lock(
        self,
        name: str,
        *,
        ttl: int,
        holder: str | None = None,
        wait: float | None = 0,
        namespace: str | None = None,
    ) -> Lock:
        return Lock(self, name=name, ttl=ttl, holder=holder, wait=wait, namespace=namespace)

    def lock_info(self, name: str, *, namespace: str | None = None) -> LockInfo:
        request = pb.GetLockRequest(namespace=namespace or "", name=name)
        return lock_from_proto(self.unary(self.calls.lock, request, method="Locks.Get"))


class _TakenError(Exception):
    """The server says the lock is not ours any more (``transport.NOT_OURS``, or another holder/token)."""


class _ExpiredError(Exception):
    """No renewal succeeded within the renew deadline."""


class Lock:
    """``with client.lock(name, ttl=30) as fence`` — ``aio.AsyncLock``'s arguments and loss rule,
    kept alive by a daemon thread."""

    def __init__(
        self,
        client: Client,
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
        self.info: LockInfo | None = None
        self.lost = threading.Event()
        self._stop = threading.Event()
        self._keeper: threading.Thread | None = None
        self._stream: grpc.RpcContext | None = None
        self._taken = False

    def acquire(self) -> LockFence:
        if self.fence is not None:
            raise RuntimeError(f"lock {self.name} is already held by this object")
        until = None if self.wait is None else time.monotonic() + self.wait
        backoff = Backoff()
        while True:
            wait = acquire_wait(None if until is None else until - time.monotonic())
            request = pb.AcquireLockRequest(
                namespace=self.namespace,
                name=self.name,
                holder=self.holder,
                ttl_seconds=self.timing.ttl,
                wait_seconds=wait,
            )
            started = time.monotonic()
            try:
                answer = self.client.unary(
                    self.client.calls.acquire,
                    request,
                    method="Locks.Acquire",
                    seconds=wait + self.client.timeout,
                )
                break
            except ApiError as error:
                if error.code != "FAILED_PRECONDITION":
                    raise
                if until is not None and time.monotonic() >= until:
                    raise LockNotAcquiredError(f"lock {self.name}: {error.details}") from error
                pause = backoff.next()
                time.sleep(pause if until is None else max(0.0, min(pause, until - time.monotonic())))
        self.info = lock_from_proto(answer)
        self.namespace = self.info.namespace or self.namespace
        fence = LockFence(
            namespace=self.namespace,
            name=self.name,
            holder=self.holder,
            token=self.info.token,
            timing=self.timing,
            acquire_started=started,
            clock=time.monotonic,
        )
        self.fence, self._taken = fence, False
        self.lost.clear()
        self._stop.clear()
        self._keeper = threading.Thread(
            target=self._keep, args=(fence,), name=f"keep lock {self.name} alive", daemon=True
        )
        self._keeper.start()
        return fence

    # ---- keep alive (the keeper thread) -------------------------------------------------------
    def _keep(self, fence: LockFence) -> None:
        try:
            self._renew_until_lost(fence)
        except _ExpiredError:
            fence.lose(f"no renewal succeeded for {fence.timing.renew_deadline:g}s (2/3 of the ttl)")
        except _TakenError as taken:
            self._taken = True
            fence.lose(str(taken))
        except Exception as error:
            log.exception("lock %s: keeping it alive failed", fence.name)
            fence.lose(f"keeping it alive failed: {error!r}")
        if self._stop.is_set():
            return
        log.warning("lock %s/%s lost: %s", fence.namespace, fence.name, fence.lost_reason)
        self.lost.set()

    def _renew_until_lost(self, fence: LockFence) -> None:
        backoff = Backoff()
        while not self._stop.is_set():
            try:
                self._keep_alive(fence)
            except grpc.RpcError as error:
                self._raise_if_taken(error)
                log.info("lock %s: keep-alive stream broke (%s); resuming", fence.name, error.code().name)
            while not self._stop.is_set():  # resume with Renew, on any replica
                if fence.remaining() <= 0:
                    raise _ExpiredError
                if self._stop.wait(min(backoff.next(), fence.remaining())):
                    return
                if fence.remaining() <= 0:
                    raise _ExpiredError
                started = time.monotonic()
                try:
                    answer = self.client.calls.renew(
                        self._renewal(fence),
                        timeout=max(0.1, fence.remaining()),
                        metadata=self.client.tokens.metadata(),
                    )
                except grpc.RpcError as error:
                    self._raise_if_taken(error)
                    continue
                self._renewed(fence, answer, started)
                backoff.reset()
                break

    def _keep_alive(self, fence: LockFence) -> None:
        """One KeepAlive stream, until it ends, breaks, falls silent or the deadline passes."""
        sent: deque[float] = deque()
        request = self._renewal(fence)

        def requests() -> Iterator[pb.RenewLockRequest]:
            while not self._stop.wait(fence.timing.renew_interval):
                sent.append(time.monotonic())
                yield request

        call = self.client.calls.keep_alive(requests(), metadata=self.client.tokens.metadata())
        self._stream = call
        watchdog = _Watchdog(call.cancel)
        try:
            watchdog.arm(min(fence.timing.stream_silence, fence.remaining()))
            for answer in call:
                self._renewed(fence, answer, sent.popleft() if sent else time.monotonic())
                watchdog.arm(min(fence.timing.stream_silence, fence.remaining()))
        except grpc.RpcError:
            if not (watchdog.fired or self._stop.is_set()):
                raise
        finally:
            watchdog.stop()
            call.cancel()
            self._stream = None
        if fence.remaining() <= 0 and not self._stop.is_set():
            raise _ExpiredError

    def _renewal(self, fence: LockFence) -> pb.RenewLockRequest:
        return pb.RenewLockRequest(
            namespace=fence.namespace, name=fence.name, holder=fence.holder, token=fence.token
        )

    def _renewed(self, fence: LockFence, answer: pb.Lock, started: float) -> None:
        if not answer.held or answer.holder != fence.holder or answer.token != fence.token:
            raise _TakenError(f"held by {answer.holder!r} with token {answer.token} now")
        self.info = lock_from_proto(answer)
        fence.renewed(started)

    @staticmethod
    def _raise_if_taken(error: grpc.RpcError) -> None:
        if error.code() in transport.NOT_OURS:
            raise _TakenError(f"the server refused the renewal: {error.details()}") from error

    # ---- release ------------------------------------------------------------------------------
    def release(self) -> bool:
        """Stop the keeper and give the lock back; True when the server released it."""
        fence, keeper = self.fence, self._keeper
        self.fence = self._keeper = None
        self._stop.set()
        stream = self._stream
        if stream is not None:
            stream.cancel()
        if keeper is not None:
            keeper.join()
        if fence is None:
            return False
        taken = self._taken
        fence.lose("released")
        if taken:
            return False
        request = pb.ReleaseLockRequest(
            namespace=fence.namespace, name=fence.name, holder=fence.holder, token=fence.token
        )
        try:
            answer = self.client.unary(
                self.client.calls.release, request, method="Locks.Release", seconds=RELEASE_TIMEOUT
            )
        except ApiError as error:
            log.warning("lock %s: release failed (it expires after its ttl): %s", fence.name, error)
            return False
        return answer.released

    def __enter__(self) -> LockFence:
        return self.fence if self.fence is not None else self.acquire()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        fence = self.fence
        lost = fence is not None and not fence.valid()
        reason = (fence.lost_reason or "no renewal succeeded in time") if fence is not None else None
        self.release()
        if lost and exc_type is None:
            raise LockLostError(f"lock {self.name} was lost while held: {reason}")
