"""The harness's view of the cluster: the watcher process's records, kept in order and per Service.

``SliceObserver`` starts ``bench.watcher`` for a namespace's EndpointSlices; a reader thread applies its
records (already stamped by the watcher) to the current state, a history per Service and a running
safety check (the most ready endpoints any Service's leader slices held at once). Async code waits on
conditions with ``wait_until`` and asks, after the fact, *when* something first became true with
``first_time`` (a replay of that Service's own records from a sequence number on).

``PodObserver`` does the same for the pods of one node (when did the node lifecycle controller mark
them NotReady); ``PoolObserver`` for a pools namespace: its Leases, LeaderPolicies and pods.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ZEN = "endpointslice.zen-lead.io"
UPSTREAM = "endpointslice-controller.k8s.io"
LEADER_SUFFIX = "-leader"
SYNC_TIMEOUT = 120.0


@dataclass(frozen=True, slots=True)
class Endpoint:
    pod: str
    ready: bool
    node: str


@dataclass(frozen=True, slots=True)
class SliceEvent:
    seq: int
    t: float
    kind: str  # SYNC, ADDED, MODIFIED, DELETED
    name: str
    service: str  # the kubernetes.io/service-name label
    managed_by: str
    endpoints: tuple[Endpoint, ...]


@dataclass(frozen=True, slots=True)
class PodEvent:
    seq: int
    t: float
    kind: str
    name: str
    node: str
    ready: bool
    role: str | None = None  # the zen-lead/role annotation (pools)
    rv: int = 0  # resourceVersion (pools: the order of writes across resources)


@dataclass(frozen=True, slots=True)
class LeaseEvent:
    seq: int
    t: float
    kind: str
    name: str
    holder: str  # "" when released or gone
    transitions: int | None
    rv: int


@dataclass(frozen=True, slots=True)
class PolicyEvent:
    seq: int
    t: float
    kind: str
    name: str
    leader: str  # status.leader.pod ("": none)
    term: int | None
    eligible: int
    rv: int


@dataclass(slots=True)
class Violation:
    t: float
    service: str
    ready_pods: tuple[str, ...]


class _WatchProcess:
    """Runs ``bench.watcher`` and feeds its lines to ``apply`` from a reader thread."""

    def __init__(self, argv: list[str], log: Path) -> None:
        self.argv = argv
        self.log = log
        self.lock = threading.Lock()
        self.proc: subprocess.Popen[bytes] | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._changed: asyncio.Event | None = None
        self._synced = threading.Event()
        self.count = 0

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._changed = asyncio.Event()
        self.proc = self._spawn()
        self._thread = threading.Thread(target=self._read, name="watcher-reader", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + SYNC_TIMEOUT
        while not await asyncio.to_thread(self._synced.wait, 0.2):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"watcher did not sync (exit code {self.proc.returncode}); see {self.log}")

    def _spawn(self) -> subprocess.Popen[bytes]:
        with open(self.log, "ab") as stderr:
            return subprocess.Popen(self.argv, stdout=subprocess.PIPE, stderr=stderr)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def _read(self) -> None:
        assert self.proc is not None
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            record = json.loads(line)
            if record.get("k") == "synced":
                self._synced.set()
                continue
            with self.lock:
                self.apply(record)
                self.count += 1
            if self._loop is not None and self._changed is not None:
                self._loop.call_soon_threadsafe(self._changed.set)

    def apply(self, record: dict[str, Any]) -> None:
        raise NotImplementedError

    def mark(self) -> int:
        """The sequence number the next record will get."""
        with self.lock:
            return self.count

    async def wait_until(self, predicate: Callable[[], bool], seconds: float) -> bool:
        """Wait until ``predicate()`` (evaluated under the lock, after each record) holds."""
        assert self._changed is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while True:
            self._changed.clear()
            with self.lock:
                if predicate():
                    return True
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"watcher exited with {self.proc.returncode}; see {self.log}")
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), min(remaining, 1.0))


def _argv(
    kubeconfig: Path, namespace: str, resources: tuple[str, ...], field_selector: str | None
) -> list[str]:
    argv = [sys.executable, "-m", "bench.watcher", "--kubeconfig", str(kubeconfig), "--namespace", namespace]
    for resource in resources:
        argv += ["--resource", resource]
    if field_selector:
        argv += ["--field-selector", field_selector]
    return argv


@dataclass(slots=True)
class _ServiceHistory:
    events: list[SliceEvent] = field(default_factory=list)
    current: dict[str, tuple[Endpoint, ...]] = field(default_factory=dict)  # slice name -> endpoints


class SliceObserver(_WatchProcess):
    """EndpointSlices of a namespace, and its pods (when each pod change became visible on a watch)."""

    def __init__(self, kubeconfig: Path, namespace: str, log: Path) -> None:
        super().__init__(_argv(kubeconfig, namespace, ("endpointslices", "pods"), None), log)
        self.namespace = namespace
        self.pod_history: dict[str, list[PodEvent]] = {}
        self.history: dict[tuple[str, str], _ServiceHistory] = {}  # (managed-by, service label)
        self.slice_owner: dict[str, tuple[str, str]] = {}  # slice name -> (managed-by, label)
        self.violations: list[Violation] = []
        self.max_ready = 0

    def apply(self, record: dict[str, Any]) -> None:
        if record.get("k") == "p":
            pod = _pod_event(self.count, record)
            self.pod_history.setdefault(pod.name, []).append(pod)
            return
        name = record["n"]
        deleted = record["e"] == "DELETED"
        key = self.slice_owner.get(name) if deleted else (record["m"], record["l"])
        if key is None:
            return
        endpoints = tuple(Endpoint(pod, bool(ready), node) for pod, ready, node in record.get("ep") or ())
        event = SliceEvent(self.count, record["t"], record["e"], name, key[1], key[0], endpoints)
        history = self.history.setdefault(key, _ServiceHistory())
        history.events.append(event)
        if deleted:
            history.current.pop(name, None)
            self.slice_owner.pop(name, None)
        else:
            history.current[name] = endpoints
            self.slice_owner[name] = key
        if key[0] == ZEN:
            ready = tuple(sorted({e.pod for eps in history.current.values() for e in eps if e.ready}))
            self.max_ready = max(self.max_ready, len(ready))
            if len(ready) > 1:
                self.violations.append(Violation(event.t, key[1], ready))

    # ---- current state (call under ``lock`` or from a ``wait_until`` predicate) ----------------
    def endpoints(self, service: str, *, managed_by: str) -> list[Endpoint]:
        history = self.history.get((managed_by, service))
        return [e for eps in history.current.values() for e in eps] if history else []

    def leader(self, source: str) -> Endpoint | None:
        """The one ready endpoint of the source's leader slices, if there is exactly one."""
        ready = [e for e in self.endpoints(source + LEADER_SUFFIX, managed_by=ZEN) if e.ready]
        return ready[0] if len(ready) == 1 else None

    def upstream_ready(self, source: str, pod: str) -> bool | None:
        """Is ``pod`` a ready endpoint of the source's upstream slices (None: not in them)?"""
        for endpoint in self.endpoints(source, managed_by=UPSTREAM):
            if endpoint.pod == pod:
                return endpoint.ready
        return None

    def snapshot_leaders(self, sources: list[str]) -> dict[str, Endpoint | None]:
        with self.lock:
            return {source: self.leader(source) for source in sources}

    # ---- after the fact ---------------------------------------------------------------------------
    def pod_unready_seen(self, pod: str, since: int) -> float | None:
        """When the watch first showed ``pod`` not ready (or terminating, or gone) after ``since``."""
        with self.lock:
            return _first_unready(list(self.pod_history.get(pod, ())), since)

    def first_time(
        self, service: str, *, managed_by: str, since: int, test: Callable[[list[Endpoint]], bool]
    ) -> float | None:
        """Arrival time of the first record (sequence >= ``since``) after which the union of the
        Service's slices satisfies ``test``; None if none did."""
        with self.lock:
            history = self.history.get((managed_by, service))
            events = list(history.events) if history else []
        current: dict[str, tuple[Endpoint, ...]] = {}
        for event in events:
            if event.kind == "DELETED":
                current.pop(event.name, None)
            else:
                current[event.name] = event.endpoints
            if event.seq >= since and test([e for eps in current.values() for e in eps]):
                return event.t
        return None


def _first_unready(events: list[PodEvent], since: int) -> float | None:
    return next((e.t for e in events if e.seq >= since and not e.ready), None)


def _pod_event(seq: int, record: dict[str, Any]) -> PodEvent:
    return PodEvent(
        seq,
        record["t"],
        record["e"],
        record["n"],
        record.get("node", ""),
        bool(record.get("ready")) and not record.get("del") and record["e"] != "DELETED",
        record.get("role"),
        int(record.get("rv") or 0),
    )


class PodObserver(_WatchProcess):
    """The pods of one namespace (of one node, when given)."""

    def __init__(self, kubeconfig: Path, namespace: str, node: str | None, log: Path) -> None:
        selector = f"spec.nodeName={node}" if node else None
        super().__init__(_argv(kubeconfig, namespace, ("pods",), selector), log)
        self.events: list[PodEvent] = []
        self.ready: dict[str, bool] = {}
        self.ready_count = 0

    def apply(self, record: dict[str, Any]) -> None:
        event = _pod_event(self.count, record)
        self.events.append(event)
        self.ready_count -= self.ready.pop(event.name, False)
        if event.kind != "DELETED":
            self.ready[event.name] = event.ready
            self.ready_count += event.ready

    def not_ready_times(self, since: int) -> dict[str, float]:
        """First time (after ``since``) each pod was seen NotReady."""
        with self.lock:
            found: dict[str, float] = {}
            for event in self.events:
                if event.seq >= since and not event.ready and event.name not in found:
                    found[event.name] = event.t
            return found


class PoolObserver(_WatchProcess):
    """The Leases, LeaderPolicies and pods of one namespace, in one watcher process (so the stamps of a
    pod's change and of the Lease write it caused come from one clock and one stream order)."""

    def __init__(self, kubeconfig: Path, namespace: str, log: Path) -> None:
        super().__init__(_argv(kubeconfig, namespace, ("leases", "leaderpolicies", "pods"), None), log)
        self.leases: dict[str, list[LeaseEvent]] = {}
        self.policies: dict[str, list[PolicyEvent]] = {}
        self.pods: dict[str, list[PodEvent]] = {}
        self.holder: dict[str, str] = {}  # current holderIdentity by Lease
        self.policy: dict[str, PolicyEvent] = {}  # current status by policy
        self.ready: dict[str, bool] = {}  # current readiness by pod

    def apply(self, record: dict[str, Any]) -> None:
        kind, name, gone = record.get("k"), record["n"], record["e"] == "DELETED"
        if kind == "p":
            pod = _pod_event(self.count, record)
            self.pods.setdefault(name, []).append(pod)
            if gone:
                self.ready.pop(name, None)
            else:
                self.ready[name] = pod.ready
        elif kind == "l":
            holder = record.get("h") or ""
            rv = int(record.get("rv") or 0)
            lease = LeaseEvent(self.count, record["t"], record["e"], name, holder, record.get("tr"), rv)
            self.leases.setdefault(name, []).append(lease)
            self.holder[name] = "" if gone else lease.holder
        elif kind == "lp":
            policy = PolicyEvent(
                self.count,
                record["t"],
                record["e"],
                name,
                record.get("leader") or "",
                record.get("term"),
                int(record.get("eligible") or 0),
                int(record.get("rv") or 0),
            )
            self.policies.setdefault(name, []).append(policy)
            if gone:
                self.policy.pop(name, None)
            else:
                self.policy[name] = policy

    # ---- current state (call under ``lock`` or from a ``wait_until`` predicate) ----------------
    def role(self, pod: str) -> str | None:
        events = self.pods.get(pod)
        return events[-1].role if events else None

    # ---- after the fact ---------------------------------------------------------------------------
    def lease_events(self, name: str, since: int, until: int | None = None) -> list[LeaseEvent]:
        """The Lease's events with sequence in [since, until): one per write that changed it."""
        with self.lock:
            return [
                e
                for e in self.leases.get(name, ())
                if e.seq >= since and (until is None or e.seq < until) and e.kind != "SYNC"
            ]

    def events_between(self, since: int, until: int, *, leases: Collection[str]) -> dict[str, int]:
        """Events (SYNC excluded) with sequence in [since, until): of the named Leases, of every
        LeaderPolicy, of every pod."""

        def count(table: Mapping[str, Sequence[LeaseEvent | PolicyEvent | PodEvent]]) -> int:
            return sum(1 for es in table.values() for e in es if since <= e.seq < until and e.kind != "SYNC")

        with self.lock:
            return {
                "leases": count({n: e for n, e in self.leases.items() if n in leases}),
                "leaderpolicies": count(self.policies),
                "pods": count(self.pods),
            }

    def first_policy(self, name: str, since: int, leader: str) -> PolicyEvent | None:
        """The first event (sequence >= ``since``) of the policy whose status names ``leader``."""
        with self.lock:
            return next(
                (e for e in self.policies.get(name, ()) if e.seq >= since and e.leader == leader), None
            )

    def first_role(self, pod: str, since: int, role: str) -> PodEvent | None:
        """The first event (sequence >= ``since``) of the pod annotated with ``role``."""
        with self.lock:
            return next((e for e in self.pods.get(pod, ()) if e.seq >= since and e.role == role), None)

    def pod_unready_seen(self, pod: str, since: int) -> float | None:
        with self.lock:
            return _first_unready(list(self.pods.get(pod, ())), since)
