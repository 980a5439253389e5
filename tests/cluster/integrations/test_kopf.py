"""examples/kopf/kopf_operator.py as three replicas: only the Lease holder's kopf handles ConfigMaps.

Each replica runs as its own ServiceAccount with the Role of docs/integrations/kopf.md. Witnesses,
independent of the replicas' own output: a watch on the Lease (``LeaseWatch``: who held it, with which
``leaseTransitions``), a watch on the labelled ConfigMaps that records every ``handled-by`` value each
one ever carried, and a FlowSchema per replica through which the apiserver counts its ConfigMap
requests. Timings: lease 4 s, renew deadline 3 s, retry 0.5 s.

1. The first holder's kopf annotates the first ConfigMap with the holder's identity and token; the
   standbys have not sent a single ConfigMap request (kopf lists them first thing: none runs there).
2. SIGTERM to it: it exits 0 after kopf stopped, the Lease is released and taken at once by another
   replica, whose kopf annotates a second ConfigMap with a higher token.
3. SIGKILL to that one, then -- while the Lease still names the dead replica, so nobody leads -- a third
   ConfigMap is created and the second one's data changed. The last replica takes over once the lease
   ran out; its kopf lists the namespace on start and handles both (the events of the gap are not lost).

At the end the whole history is judged: every value ever written names a tenure from the Lease
history; the first ConfigMap was annotated exactly once; the first tokens of the ConfigMaps grow
strictly in the order they were created; no replica met a permission error.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from lightkube import ApiError, AsyncClient, Client
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.models.rbac_v1 import PolicyRule
from lightkube.resources.core_v1 import ConfigMap

from tests.cluster.election.checks import assert_handed_over_by_release, assert_lawful_history
from tests.cluster.election.harness import LD, TIMING_ARGS, LeaseWatch, Proc, RawLease, spawn, tail
from tests.support.flows import FlowSchema, dispatched
from tests.support.identity import account_with_role
from tests.support.wait import eventually
from zen_lead.kube.config import async_client
from zen_lead.localcluster import ClusterInfo

pytestmark = pytest.mark.cluster

OPERATOR = Path(__file__).parents[3] / "examples" / "kopf" / "kopf_operator.py"
LABEL = "example.zen-lead.io/kopf"
HANDLED_BY = "example.zen-lead.io/handled-by"
LEASE = "kopf-operator"
# The Role of docs/integrations/kopf.md: each replica runs as its own ServiceAccount bound to it.
RULES = [
    PolicyRule(
        apiGroups=["coordination.k8s.io"], resources=["leases"], verbs=["get", "create", "patch", "watch"]
    ),
    PolicyRule(apiGroups=[""], resources=["configmaps"], verbs=["list", "watch", "patch"]),
    PolicyRule(apiGroups=[""], resources=["events"], verbs=["create"]),
]
STARTUP = 90.0  # a hang guard: Python + kopf imports, the first campaign and kopf's start on a busy machine


@pytest.fixture
async def aclient(cluster: ClusterInfo) -> AsyncIterator[AsyncClient]:
    client = async_client(cluster.kubeconfig, field_manager="zen-lead-tests")
    yield client
    await client.close()


@dataclass(frozen=True)
class Handled:
    t: float  # local monotonic arrival time
    name: str
    value: str  # the handled-by annotation: "<identity>#<token>"

    @property
    def tenure(self) -> tuple[str, int]:
        identity, _, token = self.value.rpartition("#")
        return identity, int(token)


class HandledWatch:
    """Records every change of the handled-by annotation of the labelled ConfigMaps in a namespace."""

    def __init__(self, client: AsyncClient, namespace: str) -> None:
        self.client, self.namespace = client, namespace
        self.seen: list[Handled] = []
        self.missed = False  # the watch could not resume (410 Gone): the history is incomplete
        self._arrived = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> HandledWatch:
        self._task = asyncio.create_task(self._run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        version: str | None = None
        while True:
            try:
                stream = self.client.watch(
                    ConfigMap,
                    namespace=self.namespace,
                    labels={LABEL: "true"},
                    server_timeout=60,
                    resource_version=version,
                )
                async for _, obj in stream:
                    meta = obj.metadata
                    assert meta is not None
                    version = meta.resourceVersion
                    value = (meta.annotations or {}).get(HANDLED_BY)
                    name = str(meta.name)
                    if value is not None and value != self.value(name):
                        self.seen.append(Handled(time.monotonic(), name, value))
                        self._arrived.set()
            except asyncio.CancelledError:
                raise
            except ApiError as error:
                if error.status.code == 410:
                    self.missed, version = True, None
                await asyncio.sleep(0.2)
            except Exception:  # the stream broke: resume from ``version``
                await asyncio.sleep(0.2)

    def value(self, name: str) -> str | None:
        """The latest handled-by value of ``name`` (None: never handled)."""
        return next((h.value for h in reversed(self.seen) if h.name == name), None)

    def of(self, name: str) -> list[str]:
        return [h.value for h in self.seen if h.name == name]

    async def wait_for(self, name: str, expected: str, *, within: float) -> Handled:
        """The change of ``name`` to ``expected``; fails at once on any other new value."""
        deadline = time.monotonic() + within
        before = set(self.of(name))
        while True:
            found = next((h for h in self.seen if h.name == name and h.value == expected), None)
            if found is not None:
                return found
            wrong = [value for value in self.of(name) if value not in before]
            assert not wrong, f"{name} annotated {wrong}, expected {expected!r}"
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(
                    f"{name} not annotated {expected!r} within {within}s; seen: {self.of(name)}"
                )
            self._arrived.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(left):
                    await self._arrived.wait()


async def holder(client: AsyncClient, namespace: str) -> tuple[str, int]:
    """The Lease's holder and ``leaseTransitions`` now, read from the apiserver."""
    spec: dict[str, Any] = dict((await client.get(RawLease, LEASE, namespace=namespace)).get("spec") or {})
    return str(spec.get("holderIdentity") or ""), int(spec.get("leaseTransitions") or 0)


async def create(client: AsyncClient, namespace: str, name: str) -> None:
    meta = ObjectMeta(name=name, namespace=namespace, labels={LABEL: "true"})
    await client.create(ConfigMap(metadata=meta, data={"step": name}))


@contextlib.contextmanager
def configmap_requests(kube: Client, *, namespace: str, accounts: list[str]) -> Iterator[dict[str, str]]:
    """A FlowSchema per ServiceAccount for its requests on ConfigMaps (any verb): {account: schema}.

    The apiserver counts what it dispatches through each (``tests.support.flows.dispatched``), so a
    replica that runs kopf -- which lists and watches ConfigMaps first thing -- cannot hide it."""
    schemas = {account: f"kopf-{namespace}-{account}" for account in accounts}
    try:
        for account, schema in schemas.items():
            subject = {"kind": "ServiceAccount", "serviceAccount": {"name": account, "namespace": namespace}}
            rule = {"verbs": ["*"], "apiGroups": [""], "resources": ["configmaps"], "namespaces": ["*"]}
            spec = {
                "matchingPrecedence": 100,
                "priorityLevelConfiguration": {"name": "workload-low"},
                "distinguisherMethod": {"type": "ByUser"},
                "rules": [{"subjects": [subject], "resourceRules": [rule]}],
            }
            kube.create(FlowSchema.from_dict({"metadata": {"name": schema}, "spec": spec}))
        for schema in schemas.values():  # taken in by the apiserver (see tests.support.flows)
            eventually(
                lambda schema=schema: any(
                    c.get("type") == "Dangling" and c.get("status") == "False"
                    for c in (kube.get(FlowSchema, schema).status or {}).get("conditions", [])
                ),
                what=f"FlowSchema {schema} in effect",
            )
        yield schemas
    finally:
        for schema in schemas.values():
            with contextlib.suppress(ApiError):
                kube.delete(FlowSchema, schema)


async def replica(name: str, *, kubeconfig: Path, namespace: str, logs: Path) -> Proc:
    argv = [sys.executable, str(OPERATOR), "--kubeconfig", str(kubeconfig)]
    argv += ["--namespace", namespace, "--identity", name, "--lease", LEASE, *TIMING_ARGS]
    return await spawn(name, argv, logs=logs)


def named(procs: list[Proc], identity: str) -> Proc:
    return next(p for p in procs if p.name == identity)


async def exit_code(proc: Proc, *, within: float, logs: Callable[[], str]) -> int:
    try:
        return await proc.exited(within)
    except TimeoutError:
        raise AssertionError(f"{proc.name} still running {within}s after SIGTERM\n{logs()}") from None


def log_tails(procs: list[Proc]) -> Callable[[], str]:
    return lambda: "\n".join(f"--- {p.name} ({p.log})\n{tail(p.log, 15)}" for p in procs)


async def test_only_the_lease_holder_runs_kopf_and_hands_over_without_losing_events(
    cluster: ClusterInfo, kube: Client, namespace: str, aclient: AsyncClient, tmp_path: Path
) -> None:
    names = ["k0", "k1", "k2"]
    kubeconfigs = {
        name: account_with_role(
            kube, cluster, namespace=namespace, name=name, rules=RULES, target=tmp_path / f"{name}.kubeconfig"
        )
        for name in names
    }
    with configmap_requests(kube, namespace=namespace, accounts=names) as schemas:

        async def requests(name: str) -> float:
            """ConfigMap requests the apiserver has dispatched for replica ``name`` so far."""
            return await asyncio.to_thread(dispatched, cluster.kubeconfig, schemas[name])

        async with (
            LeaseWatch(aclient, namespace, LEASE) as lease,
            HandledWatch(aclient, namespace) as handled,
        ):
            procs = [
                await replica(name, kubeconfig=kubeconfigs[name], namespace=namespace, logs=tmp_path)
                for name in names
            ]
            logs = log_tails(procs)
            try:
                # -- 1. the first leader's kopf, and only it, handles the first ConfigMap --------------
                first = await lease.wait_for(lambda c: c.holder != "", within=STARTUP)
                leader1, token1 = first.holder, first.transitions
                await create(aclient, namespace, "cm1")
                await handled.wait_for("cm1", f"{leader1}#{token1}", within=STARTUP)
                assert await holder(aclient, namespace) == (leader1, token1), lease.history()
                assert await requests(leader1) > 0  # its kopf listed, watched and patched
                for standby in set(names) - {leader1}:  # kopf lists ConfigMaps first thing: none ran
                    assert await requests(standby) == 0, f"standby {standby} runs kopf\n{logs()}"

                # -- 2. SIGTERM: kopf stops, the Lease is released and taken at once -------------------
                stopped_at = named(procs, leader1).signal(signal.SIGTERM)
                assert await exit_code(named(procs, leader1), within=30, logs=logs) == 0, logs()
                second = await lease.wait_for(
                    lambda c: c.holder not in ("", leader1), after=stopped_at, within=30
                )
                leader2, token2 = second.holder, second.transitions
                assert token2 > token1
                assert_handed_over_by_release(lease.changes, old=leader1, new=leader2, lease_duration=LD)
                await create(aclient, namespace, "cm2")
                await handled.wait_for("cm2", f"{leader2}#{token2}", within=STARTUP)
                (waiting,) = set(names) - {leader1, leader2}
                assert await requests(waiting) == 0, f"standby {waiting} runs kopf\n{logs()}"

                # -- 3. SIGKILL: changes made while nobody leads are handled by the next leader's kopf -
                killed_at = named(procs, leader2).signal(signal.SIGKILL)
                await named(procs, leader2).kill()
                await create(aclient, namespace, "cm3")
                await aclient.patch(ConfigMap, "cm2", {"data": {"step": "changed"}}, namespace=namespace)
                # the Lease still names the dead replica: both changes were made before anyone else led
                assert await holder(aclient, namespace) == (leader2, token2), lease.history()
                third = await lease.wait_for(
                    lambda c: c.holder not in ("", leader2), after=killed_at, within=30
                )
                leader3, token3 = third.holder, third.transitions
                assert (leader3, token3 > token2) == (waiting, True)
                await handled.wait_for("cm3", f"{leader3}#{token3}", within=STARTUP)
                await handled.wait_for("cm2", f"{leader3}#{token3}", within=STARTUP)  # the data change
                assert assert_lawful_history(lease.changes, lease_duration=LD) == 1  # after expiry

                # -- the whole history -------------------------------------------------------------------
                assert not handled.missed, "the ConfigMap watch missed changes (410 Gone)"
                tenures = {(c.holder, c.transitions) for c in lease.changes if c.holder}
                assert tenures == {(leader1, token1), (leader2, token2), (leader3, token3)}, lease.history()
                for h in handled.seen:
                    assert h.tenure in tenures, (
                        f"{h} was written by no tenure of the Lease: {lease.history()}"
                    )
                assert handled.of("cm1") == [f"{leader1}#{token1}"]  # never re-annotated, by anyone
                firsts = [int(handled.of(name)[0].rpartition("#")[2]) for name in ("cm1", "cm2", "cm3")]
                assert firsts == [token1, token2, token3], handled.seen  # strictly increasing (see above)
                for proc in procs:  # the Role of the guide is enough: kopf met no 403 (it would retry)
                    assert "Forbidden" not in proc.log.read_text(errors="replace"), logs()
            finally:
                for proc in procs:
                    await proc.kill()
