"""The Python client (``zen_lead.client``, asyncio and blocking) against the real server on the real
cluster: leaders of a Lease, a Service and a pool; precise refusals; a watch that yields the snapshot
then every term and resumes on the other replica when its own is stopped; stale answers refused while
the apiserver is paused; locks kept alive past their ttl and released on exit, lost 2/3 of the ttl
after the START of the last successful renewal while the API server is paused (SIGSTOP), resumed on
the other replica when theirs is killed, and lost at once — releasing nothing — when someone else
holds the Lease.

Faults are real: signals to the processes (always resumed in ``finally``), and Lease writes by the
cluster admin. Several addresses are one gRPC target (``ipv4:a:p,b:p``), as a client reaches the
replicas behind a headless Service."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest
from lightkube import ApiError
from lightkube import Client as Kube
from lightkube.models.coordination_v1 import LeaseSpec
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.coordination_v1 import Lease
from lightkube.resources.core_v1 import Pod

from tests.cluster.api.conftest import ServerFactory
from tests.cluster.election.test_outage import apiserver_pid
from tests.cluster.pools.conftest import members, policy
from tests.support.api import LOCKS, HttpApi, grant, token_for
from tests.support.controller import ControllerProcess
from tests.support.wait import eventually
from tests.support.workload import deployment, service
from zen_lead.client import (
    AsyncClient,
    Client,
    Kind,
    LeaderState,
    LockFence,
    LockLostError,
    LockNotAcquiredError,
    PermissionDeniedError,
    Target,
    UnauthenticatedError,
    UnavailableError,
)
from zen_lead.kube.times import now_microtime
from zen_lead.localcluster import ClusterInfo

ENABLED = {"zen-lead.io/enabled": "true"}
PAUSABLE = ["--no-leader-elect", "--api-auth-cache-allowed-ttl=60s"]  # a pause costs no election, no review
T = TypeVar("T")


# ---- helpers ---------------------------------------------------------------------------------
@pytest.fixture
def locker(kube: Kube, namespace: str) -> str:
    grant(kube, namespace, "locker", LOCKS)
    return token_for(kube, namespace, "locker")


def grpc_address(*servers: ControllerProcess) -> str:
    """One gRPC target for the replicas: the client's channel connects to the first that answers."""
    if len(servers) == 1:
        return f"127.0.0.1:{servers[0].port('grpc')}"
    return "ipv4:" + ",".join(f"127.0.0.1:{server.port('grpc')}" for server in servers)


async def until(check: Callable[[], T | None], *, within: float = 15, what: str = "condition") -> T:
    """``eventually`` off the event loop, so that the clients under test go on meanwhile."""
    return await asyncio.to_thread(eventually, check, timeout=within, interval=0.01, what=what)


def hold_lease(kube: Kube, namespace: str, name: str, holder: str, transitions: int) -> None:
    """Write the Lease as its holder would (no holder: released)."""
    spec = LeaseSpec(
        holderIdentity=holder or None,
        leaseDurationSeconds=60,
        leaseTransitions=transitions,
        acquireTime=now_microtime(),
        renewTime=now_microtime(),
    )
    try:
        lease = kube.get(Lease, name, namespace=namespace)
    except Exception:
        kube.create(Lease(metadata=ObjectMeta(name=name, namespace=namespace), spec=spec))
        return
    lease.spec = spec
    kube.replace(lease)


def take_over(kube: Kube, namespace: str, name: str) -> str:
    """Someone else holds the Lease now (a new tenure: token + 1); its resourceVersion."""
    lease = kube.get(Lease, name, namespace=namespace)
    transitions = (lease.spec.leaseTransitions or 0) + 1
    lease.spec.holderIdentity, lease.spec.leaseTransitions = "someone-else", transitions
    lease.spec.renewTime = lease.spec.acquireTime = now_microtime()
    return str(kube.replace(lease).metadata.resourceVersion)


def renewed_at(kube: Kube, namespace: str, name: str) -> float:
    """The Lease's renewTime (wall clock; the cluster runs on this machine)."""
    renew = kube.get(Lease, name, namespace=namespace).spec.renewTime
    return float(renew.timestamp()) if renew is not None else 0.0


def seen(states: list[LeaderState]) -> list[tuple[int, str | None]]:
    return [(state.term, state.leader.identity if state.leader else None) for state in states]


# ---- leaders ---------------------------------------------------------------------------------
def names(states: list[LeaderState]) -> set[tuple[Kind, str]]:
    return {(state.target.kind, state.target.name) for state in states}


def test_leader_and_list_answer_a_lease_a_service_and_a_pool(
    kube: Kube, namespace: str, api_server: ControllerProcess, reader_token: str
) -> None:
    hold_lease(kube, namespace, "job", "worker-1", 3)
    kube.create(deployment("web", namespace, replicas=1))
    kube.create(service("web", namespace, selector={"app": "web"}, annotations=ENABLED))
    kube.create(policy("db", namespace))
    kube.create(members("db", namespace, pool="db", replicas=2))
    address = grpc_address(api_server)
    with Client(address, token=reader_token, insecure=True) as client:

        def led(kind: Kind, name: str) -> LeaderState:
            return eventually(
                lambda: (
                    (state := client.leader(kind, name, namespace=namespace)).has_leader
                    and not state.stale  # (stale until every cache has listed once)
                    and state
                ),
                timeout=60,
                what=f"a leader of {kind.name.lower()} {name}",
            )

        job, web, db = led(Kind.LEASE, "job"), led(Kind.SERVICE, "web"), led(Kind.POOL, "db")
        # one kind at a time: both at once is a server bug (test_list_answers_pools_and_services_at_once)
        listed = {kind: client.list(namespace=namespace, kind=kind) for kind in Kind}

    assert (job.target, job.exists, job.term, job.stale) == (
        Target(Kind.LEASE, namespace, "job"),
        True,
        3,
        False,
    )
    assert job.leader is not None
    assert job.leader.identity == "worker-1"
    assert job.served_by
    assert web.leader is not None
    assert web.term == 1
    pod = kube.get(Pod, web.leader.pod, namespace=namespace)
    assert (web.leader.uid, web.leader.pod_ip, web.leader.node) == (
        pod.metadata.uid,
        pod.status.podIP,
        pod.spec.nodeName,
    )
    pool_lease = kube.get(Lease, "db", namespace=namespace)
    assert db.leader is not None
    assert (db.leader.pod, db.term) == (pool_lease.spec.holderIdentity, pool_lease.spec.leaseTransitions)
    assert db.since is not None
    assert names(listed[Kind.POOL]) == {(Kind.POOL, "db")}
    assert names(listed[Kind.SERVICE]) == {(Kind.SERVICE, "web")}
    assert {(Kind.LEASE, "job"), (Kind.LEASE, "db")} <= names(listed[Kind.LEASE])

    async def the_async_client_answers() -> tuple[list[LeaderState], list[LeaderState]]:
        async with AsyncClient(address, token=reader_token, insecure=True) as client:
            states = [
                await client.leader(state.target.kind, state.target.name, namespace=namespace)
                for state in (job, web, db)
            ]
            return states, await client.list(namespace=namespace, kind="service")

    answers, services = asyncio.run(the_async_client_answers())
    assert [answer.same_as(state) for answer, state in zip(answers, (job, web, db), strict=True)] == [
        True
    ] * 3
    assert names(services) == {(Kind.SERVICE, "web")}


def test_list_answers_pools_and_services_at_once(
    kube: Kube, namespace: str, api_server: ControllerProcess, reader_token: str
) -> None:
    kube.create(service("web", namespace, selector={"app": "web"}, annotations=ENABLED))
    kube.create(policy("db", namespace))
    with Client(grpc_address(api_server), token=reader_token, insecure=True) as client:
        eventually(lambda: client.list(namespace=namespace, kind="pool"), what="the pool in the cache")
        eventually(lambda: client.list(namespace=namespace, kind="service"), what="the Service in the cache")
        assert names(client.list(namespace=namespace)) == {(Kind.POOL, "db"), (Kind.SERVICE, "web")}


async def test_refusals_raise_precise_errors_and_a_refused_watch_is_not_retried(
    kube: Kube, namespace: str, api_server: ControllerProcess
) -> None:
    hold_lease(kube, namespace, "job", "worker-1", 1)
    address = grpc_address(api_server)
    nobody = token_for(kube, namespace, "nobody")  # a ServiceAccount without any grant
    async with AsyncClient(address, token="not-a-token", insecure=True) as client:
        with pytest.raises(UnauthenticatedError, match=r"Leaders\.Get: UNAUTHENTICATED"):
            await client.leader("lease", "job", namespace=namespace)
    async with AsyncClient(address, token=nobody, insecure=True) as client:
        with pytest.raises(PermissionDeniedError, match="may not get"):
            await client.leader("lease", "job", namespace=namespace)
        with pytest.raises(PermissionDeniedError, match="may not watch"):
            await anext(aiter(client.watch("lease", "job", namespace=namespace)))

    def sync_refusals() -> None:
        with (
            Client(address, token="not-a-token", insecure=True) as client,
            pytest.raises(UnauthenticatedError),
        ):
            client.leader("lease", "job", namespace=namespace)
        with Client(address, token=nobody, insecure=True) as client:
            with pytest.raises(PermissionDeniedError, match="may not get"):
                client.leader("lease", "job", namespace=namespace)
            with pytest.raises(PermissionDeniedError, match="may not watch"):
                next(iter(client.watch("lease", "job", namespace=namespace)))

    await asyncio.to_thread(sync_refusals)


# ---- watch -----------------------------------------------------------------------------------
async def test_watch_yields_the_snapshot_then_every_term_and_resumes_on_the_other_replica(
    kube: Kube, namespace: str, api_servers: ServerFactory, reader_token: str
) -> None:
    first, second = api_servers(), api_servers()
    hold_lease(kube, namespace, "job", "a", 1)
    address = grpc_address(first, second)
    states: dict[str, list[LeaderState]] = {"async": [], "sync": []}

    async def watch_async(client: AsyncClient) -> None:
        async for state in client.watch("lease", "job", namespace=namespace, heartbeat=1):
            states["async"].append(state)

    def watch_sync(client: Client) -> None:
        for state in client.watch("lease", "job", namespace=namespace, heartbeat=1):
            states["sync"].append(state)
            if state.term == 3:
                return

    def both(expected: list[tuple[int, str | None]]) -> bool:
        return all(seen(got) == expected for got in states.values())

    async with AsyncClient(address, token=reader_token, insecure=True) as async_client:
        sync_client = Client(address, token=reader_token, insecure=True)
        watching = asyncio.create_task(watch_async(async_client))
        thread = threading.Thread(target=watch_sync, args=(sync_client,), daemon=True)
        thread.start()
        try:
            await until(lambda: both([(1, "a")]), what="the snapshot")
            hold_lease(kube, namespace, "job", "b", 2)
            await until(lambda: both([(1, "a"), (2, "b")]), what="the next term")
            hold_lease(kube, namespace, "job", "", 2)  # released: explicitly no one, the same term
            await until(lambda: both([(1, "a"), (2, "b"), (2, None)]), what="the release")
            await asyncio.to_thread(first.stop)  # the replica both watches are on goes away
            hold_lease(kube, namespace, "job", "c", 3)
            await until(lambda: both([(1, "a"), (2, "b"), (2, None), (3, "c")]), what="term 3 from the other")
        finally:
            watching.cancel()
            await asyncio.gather(watching, return_exceptions=True)
            await asyncio.to_thread(thread.join, 5)
            sync_client.close()
    for got in states.values():
        assert got[2].no_leader_reason == "released"
        # the first replica's states, then the other's; the other's snapshot repeated the release and
        # was not yielded again
        assert got[0].served_by == got[2].served_by != got[3].served_by
        assert not any(state.stale for state in got)


def test_a_stale_answer_is_refused_while_the_apiserver_is_paused(
    kube: Kube, namespace: str, cluster: ClusterInfo, api_servers: ServerFactory, reader_token: str
) -> None:
    server = api_servers(extra=PAUSABLE)
    hold_lease(kube, namespace, "job", "a", 1)
    address = grpc_address(server)

    async def async_leader(*, refuse_stale: bool) -> LeaderState:
        async with AsyncClient(address, token=reader_token, insecure=True) as client:
            return await client.leader("lease", "job", namespace=namespace, refuse_stale=refuse_stale)

    with Client(address, token=reader_token, insecure=True) as client:
        # a fresh answer, that also fills the server's review cache for these calls
        fresh = eventually(
            lambda: (
                (s := client.leader("lease", "job", namespace=namespace, refuse_stale=True)).has_leader and s
            ),
            what="a fresh answer",
        )
        assert not asyncio.run(async_leader(refuse_stale=True)).stale
        pid = apiserver_pid(cluster)
        os.kill(pid, signal.SIGSTOP)
        try:
            stale = eventually(
                lambda: (s := client.leader("lease", "job", namespace=namespace)).stale and s,
                timeout=15,
                what="a stale answer",
            )
            assert stale.leader == fresh.leader
            assert stale.stale_seconds >= 3
            with pytest.raises(UnavailableError, match="stale"):
                client.leader("lease", "job", namespace=namespace, refuse_stale=True)
            with pytest.raises(UnavailableError, match="stale"):
                asyncio.run(async_leader(refuse_stale=True))
        finally:
            os.kill(pid, signal.SIGCONT)

        def fresh_again() -> bool:
            try:
                return not client.leader("lease", "job", namespace=namespace, refuse_stale=True).stale
            except UnavailableError:
                return False

        eventually(fresh_again, timeout=30, what="fresh answers again")


# ---- locks: kept alive, released, excluded ---------------------------------------------------
async def test_an_async_lock_is_kept_past_its_ttl_released_on_exit_and_excludes_others(
    kube: Kube, namespace: str, api_server: ControllerProcess, locker: str
) -> None:
    other = HttpApi(api_server.port("api"), locker)
    async with AsyncClient(grpc_address(api_server), token=locker, insecure=True) as client:
        async with client.lock("report", ttl=2, holder="async-holder") as fence:
            lease = kube.get(Lease, "report", namespace=namespace)
            assert (lease.spec.holderIdentity, lease.spec.leaseTransitions, fence.namespace) == (
                "async-holder",
                fence.token,
                namespace,
            )
            assert lease.metadata.annotations["zen-lead.io/lock-owner"] == (
                f"system:serviceaccount:{namespace}:locker"
            )
            acquired = renewed_at(kube, namespace, "report")
            await until(
                lambda: renewed_at(kube, namespace, "report") > acquired + 3, what="renewals past the ttl"
            )
            assert fence.valid()
            with pytest.raises(LockNotAcquiredError, match="async-holder"):
                async with client.lock("report", ttl=5):
                    pytest.fail("acquired a held lock")
        assert not fence.valid()
        released = kube.get(Lease, "report", namespace=namespace).spec
        assert (released.holderIdentity or None, released.leaseTransitions) == (None, fence.token)

        with pytest.raises(KeyError):  # the body's own error stays its own, and the lock is released
            async with client.lock("report", ttl=30, holder="failing") as failing:
                raise KeyError("the body's own error")
        assert failing.token == fence.token + 1
        assert not kube.get(Lease, "report", namespace=namespace).spec.holderIdentity

        path = f"/v1/locks/report:%s?namespace={namespace}"
        held = other.post(path % "acquire", {"holder": "http-holder", "ttlSeconds": 30}).body

        async def take_once_freed() -> int:
            async with client.lock("report", ttl=5, wait=20) as later:
                return later.token

        waiting = asyncio.create_task(take_once_freed())
        await asyncio.sleep(0.5)  # (to free it while the acquire waits; either way it must get it)
        freed = await asyncio.to_thread(
            other.post, path % "release", {"holder": "http-holder", "token": held["token"]}
        )
        assert freed.body == {"released": True}
        assert await asyncio.wait_for(waiting, 10) == held["token"] + 1  # as soon as freed, not after 30 s


def test_a_sync_lock_is_kept_past_its_ttl_released_on_exit_and_excludes_others(
    kube: Kube, namespace: str, api_server: ControllerProcess, locker: str
) -> None:
    other = HttpApi(api_server.port("api"), locker)
    with Client(grpc_address(api_server), token=locker, insecure=True) as client:
        lock = client.lock("report", ttl=2, holder="sync-holder")
        with lock as fence:
            lease = kube.get(Lease, "report", namespace=namespace)
            assert (lease.spec.holderIdentity, lease.spec.leaseTransitions) == ("sync-holder", fence.token)
            acquired = renewed_at(kube, namespace, "report")
            eventually(
                lambda: renewed_at(kube, namespace, "report") > acquired + 3, what="renewals past the ttl"
            )
            assert fence.valid()
            assert not lock.lost.is_set()
            with pytest.raises(LockNotAcquiredError, match="sync-holder"), client.lock("report", ttl=5):
                pytest.fail("acquired a held lock")
        assert not fence.valid()
        released = kube.get(Lease, "report", namespace=namespace).spec
        assert (released.holderIdentity or None, released.leaseTransitions) == (None, fence.token)

        path = f"/v1/locks/report:%s?namespace={namespace}"
        held = other.post(path % "acquire", {"holder": "http-holder", "ttlSeconds": 30}).body
        release = {"holder": "http-holder", "token": held["token"]}
        freed = threading.Timer(0.5, lambda: other.post(path % "release", release))  # while it waits
        freed.start()
        started = time.monotonic()
        with client.lock("report", ttl=5, wait=20) as later:
            assert later.token == held["token"] + 1
            assert time.monotonic() - started < 10  # as soon as it was freed, long before 30 s
        freed.join()


# ---- locks: lost while the server is paused --------------------------------------------------
@dataclass(frozen=True)
class Pause:
    stopped: float  # the server was stopped, just after a renewal was answered
    answered: float  # the Renew the client resumed with while it was stopped was answered
    lost: float  # the client said the lock was lost


def pause_through_a_resumed_renewal(
    pid: int, ttl: int, *, renewed: Callable[[], object], lost: Callable[[], bool]
) -> Pause:
    """Stop the API server just after a renewal succeeded; let it go on once the client has given up
    the silent keep-alive stream (ttl/3) and is waiting on a ``Renew``; stop it again as soon as that
    Renew is answered, and wait for the loss. The server is running again on return.

    ``renewed()`` changes with every renewal the client counts; ``lost()`` turns True at the loss."""
    last = renewed()
    eventually(lambda: renewed() != last, timeout=ttl, interval=0.002, what="a renewal")
    os.kill(pid, signal.SIGSTOP)
    stopped = time.monotonic()
    try:
        time.sleep(max(0.0, stopped + ttl / 2 - time.monotonic()))  # the fault: a server frozen ttl/2
        last = renewed()
        os.kill(pid, signal.SIGCONT)
        eventually(lambda: renewed() != last, timeout=ttl / 3, interval=0.002, what="the Renew's answer")
        os.kill(pid, signal.SIGSTOP)
        answered = time.monotonic()
        eventually(lost, timeout=ttl, interval=0.002, what="the loss")
        return Pause(stopped, answered, time.monotonic())
    finally:
        os.kill(pid, signal.SIGCONT)


def assert_lost_two_thirds_of_the_ttl_after_the_renewals_start(pause: Pause, ttl: int) -> None:
    deadline = ttl * 2 / 3
    # the Renew sent while the server was frozen counted: without it, the loss would have come
    # ``deadline`` after the stop; it was sent after ttl/3 of silence (and a backoff under 0.2 s)
    assert deadline + ttl / 6 < pause.lost - pause.stopped < ttl / 3 + deadline + 0.6, pause
    # ... and from when it was SENT, more than ttl/6 - 0.2 s before its answer came: counted from the
    # answer, the loss would have come ``deadline`` after ``answered``
    assert pause.lost - pause.answered < deadline - (ttl / 6 - 0.2) / 2, pause


async def test_an_async_lock_is_lost_two_thirds_of_its_ttl_after_its_last_renewal_started(
    api_servers: ServerFactory, locker: str
) -> None:
    server = api_servers(extra=PAUSABLE)
    assert server.proc is not None
    ttl = 6
    async with AsyncClient(grpc_address(server), token=locker, insecure=True) as client:
        lock = client.lock("job", ttl=ttl)
        cancelled: list[float] = []

        async def hold() -> None:
            async with lock:
                try:
                    await asyncio.sleep(60)
                except asyncio.CancelledError:
                    cancelled.append(time.monotonic())
                    raise

        holding = asyncio.create_task(hold())
        fence = await until(lambda: lock.fence, what="the lock")
        pause = await asyncio.to_thread(
            pause_through_a_resumed_renewal,
            server.proc.pid,
            ttl,
            renewed=lambda: fence.deadline,
            lost=lock.lost.is_set,
        )
        with pytest.raises(LockLostError, match=r"no renewal succeeded for 4s"):
            await holding
    assert_lost_two_thirds_of_the_ttl_after_the_renewals_start(pause, ttl)
    assert len(cancelled) == 1
    assert cancelled[0] - pause.lost < 0.05  # the body was cancelled at the loss
    assert not fence.valid()


def test_a_sync_lock_is_lost_two_thirds_of_its_ttl_after_its_last_renewal_started(
    api_servers: ServerFactory, locker: str
) -> None:
    server = api_servers(extra=PAUSABLE)
    assert server.proc is not None
    ttl = 6
    with Client(grpc_address(server), token=locker, insecure=True) as client:
        lock = client.lock("job", ttl=ttl)
        fence = lock.acquire()
        invalid_at: list[float] = []

        def hold() -> None:
            with lock:
                assert lock.lost.wait(30)
                invalid_at.append(time.monotonic())
                assert not fence.valid()

        outcome: list[BaseException] = []
        thread = threading.Thread(target=lambda: run_catching(hold, outcome), daemon=True)
        thread.start()
        pause = pause_through_a_resumed_renewal(
            server.proc.pid, ttl, renewed=lambda: fence.deadline, lost=lock.lost.is_set
        )
        thread.join(10)
    assert_lost_two_thirds_of_the_ttl_after_the_renewals_start(pause, ttl)
    assert len(invalid_at) == 1
    assert invalid_at[0] - pause.lost < 0.05
    (error,) = outcome
    assert isinstance(error, LockLostError), outcome
    assert "no renewal succeeded" in str(error)


def run_catching(body: Callable[[], Any], outcome: list[BaseException]) -> None:
    try:
        body()
    except BaseException as error:  # handed to the test's thread
        outcome.append(error)


# ---- locks: resumed on the other replica, lost to someone else -------------------------------
async def test_a_lock_resumes_on_the_other_replica_when_its_own_is_killed(
    kube: Kube, namespace: str, api_servers: ServerFactory, locker: str
) -> None:
    first, second = api_servers(), api_servers()
    address, ttl = grpc_address(first, second), 3
    async with AsyncClient(address, token=locker, insecure=True) as async_client:
        with Client(address, token=locker, insecure=True) as sync_client:
            sync_lock = sync_client.lock("sync-job", ttl=ttl)
            async with async_client.lock("async-job", ttl=ttl) as async_fence:
                sync_fence = await asyncio.to_thread(sync_lock.acquire)
                try:
                    killed = time.time()
                    await asyncio.to_thread(first.stop, signal.SIGKILL)
                    await until(
                        lambda: all(
                            renewed_at(kube, namespace, name) > killed + ttl
                            for name in ("async-job", "sync-job")
                        ),
                        what="renewals through the other replica, past the ttl",
                    )
                    assert async_fence.valid()
                    assert sync_fence.valid()
                    assert not sync_lock.lost.is_set()
                    for name, fence in (("async-job", async_fence), ("sync-job", sync_fence)):
                        spec = kube.get(Lease, name, namespace=namespace).spec
                        assert (spec.holderIdentity, spec.leaseTransitions) == (fence.holder, fence.token)
                finally:
                    released = await asyncio.to_thread(sync_lock.release)
            assert released
    for name in ("async-job", "sync-job"):  # released through the other replica too
        assert not kube.get(Lease, name, namespace=namespace).spec.holderIdentity


def overrule(kube: Kube, namespace: str, name: str, fault: str) -> str | None:
    """Someone else holds the lock's Lease now (its resourceVersion), or it was deleted (None)."""
    if fault == "taken":
        return take_over(kube, namespace, name)
    kube.delete(Lease, name, namespace=namespace)
    return None


def lease_or_none(kube: Kube, namespace: str, name: str) -> Lease | None:
    try:
        return kube.get(Lease, name, namespace=namespace)
    except ApiError as error:
        if error.status.code == 404:
            return None
        raise


@pytest.mark.parametrize("fault", ["taken", "deleted"])
async def test_a_lock_someone_else_took_is_lost_at_once_and_not_released(
    kube: Kube, namespace: str, api_server: ControllerProcess, locker: str, fault: str
) -> None:
    ttl = 6  # renewed every second; lost by the deadline only after 4 s
    address = grpc_address(api_server)
    refusal = "refused the renewal: " + ("TokenMismatch" if fault == "taken" else "NotFound")
    async with AsyncClient(address, token=locker, insecure=True) as async_client:
        with Client(address, token=locker, insecure=True) as sync_client:
            async_lock = async_client.lock("async-job", ttl=ttl)
            sync_lock = sync_client.lock("sync-job", ttl=ttl)

            async def hold_async() -> None:
                async with async_lock:
                    await asyncio.sleep(60)

            def hold_sync() -> None:
                with sync_lock:
                    assert sync_lock.lost.wait(30)

            holding = asyncio.create_task(hold_async())
            fences: list[LockFence] = [
                await until(lambda: async_lock.fence, what="the async lock"),
                await asyncio.to_thread(sync_lock.acquire),
            ]
            holding_sync = asyncio.create_task(asyncio.to_thread(hold_sync))
            overruled = time.monotonic()
            versions = {name: overrule(kube, namespace, name, fault) for name in ("async-job", "sync-job")}
            with pytest.raises(LockLostError, match=refusal):
                await holding
            with pytest.raises(LockLostError, match=refusal):
                await holding_sync
    assert time.monotonic() - overruled < ttl / 6 + 1.5  # at the next renewal, not 2/3 ttl later
    assert not any(fence.valid() for fence in fences)
    for name, version in versions.items():  # nothing written since: no release, no re-creation
        lease = lease_or_none(kube, namespace, name)
        if version is None:
            assert lease is None
        else:
            assert lease is not None
            assert (lease.metadata.resourceVersion, lease.spec.holderIdentity) == (version, "someone-else")


async def test_a_client_frozen_past_its_ttl_finds_its_lock_taken_and_releases_nothing(
    kube: Kube, namespace: str, api_server: ControllerProcess, locker: str
) -> None:
    other = HttpApi(api_server.port("api"), locker)
    taken: list[dict[str, Any]] = []

    def take_once_expired() -> None:  # someone waiting for the lock, through the HTTP API
        answer = other.post(
            f"/v1/locks/job:acquire?namespace={namespace}",
            {"holder": "someone-else", "ttlSeconds": 30, "waitSeconds": 20},
        )
        taken.append({"status": answer.status, **answer.body})

    async with AsyncClient(grpc_address(api_server), token=locker, insecure=True) as client:
        lock = client.lock("job", ttl=2)

        async def hold() -> None:
            async with lock:
                waiter = threading.Thread(target=take_once_expired)
                waiter.start()
                waiter.join(20)  # the event loop is blocked (a long GC pause): no renewal goes out
                await asyncio.sleep(30)

        with pytest.raises(LockLostError):
            await hold()
    (answer,) = taken
    assert lock.info is not None
    assert (answer["status"], answer["token"]) == (200, lock.info.token + 1), answer
    lease = kube.get(Lease, "job", namespace=namespace)
    # nothing written since someone else took it (a release would have written, had it been ours)
    assert lease.spec.holderIdentity == "someone-else"
    assert (
        lease.metadata.annotations.get("zen-lead.io/lock-owner")
        == f"system:serviceaccount:{namespace}:locker"
    )
    assert lease.spec.leaseTransitions == answer["token"]
