"""Locks through the API on the real cluster: one winner of a race, tokens rising by one per tenure,
library holders and API holders excluding each other, a lock resumed on another replica after its
replica was killed, a lost keep-alive letting the lock expire, and refusals that leave the Lease as it
was."""

from __future__ import annotations

import asyncio
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import grpc
import pytest
from lightkube import Client
from lightkube.resources.coordination_v1 import Lease

from tests.cluster.api.conftest import ServerFactory
from tests.support.api import LOCKS, HttpApi, grant, token_for
from tests.support.controller import ControllerProcess
from tests.support.wait import eventually
from zen_lead.api.pb import zenlead_pb2 as pb
from zen_lead.api.pb import zenlead_pb2_grpc as pb_grpc
from zen_lead.election import LeaseRef, lock
from zen_lead.election.lock import LockNotAcquiredError
from zen_lead.kube.client import ApiClient
from zen_lead.localcluster import ClusterInfo


@pytest.fixture
def locker(kube: Client, namespace: str) -> str:
    grant(kube, namespace, "locker", LOCKS)
    return token_for(kube, namespace, "locker")


def _version(kube: Client, namespace: str, name: str) -> str:
    return str(kube.get(Lease, name, namespace=namespace).metadata.resourceVersion)


def test_two_clients_race_one_wins_and_tokens_rise_by_one_per_tenure(
    kube: Client, namespace: str, api_server: ControllerProcess, locker: str
) -> None:
    api = HttpApi(api_server.port("api"), locker)
    path = f"/v1/locks/report:%s?namespace={namespace}"

    def take(holder: str) -> Any:
        return api.post(path % "acquire", {"holder": holder, "ttlSeconds": 30})

    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(take, ["left", "right"]))
    won = [a for a in answers if a.status == 200]
    lost = [a for a in answers if a.status != 200]
    assert (len(won), len(lost)) == (1, 1), [(a.status, a.body) for a in answers]
    winner = won[0].body
    assert lost[0].status == 409
    assert lost[0].body["reason"] == "HeldByOther"
    assert repr(winner["holder"]) in lost[0].body["message"]
    assert f"token {winner['token']}" in lost[0].body["message"]
    tokens = [winner["token"]]
    holder = winner["holder"]
    for other in ("second", "third"):
        released = api.post(path % "release", {"holder": holder, "token": tokens[-1]})
        assert released.status == 200
        assert released.body == {"released": True}
        taken = take(other)
        assert taken.status == 200, taken.body
        tokens.append(taken.body["token"])
        holder = other
    assert tokens == [tokens[0], tokens[0] + 1, tokens[0] + 2]
    lease = kube.get(Lease, "report", namespace=namespace)
    assert (lease.spec.holderIdentity, lease.spec.leaseTransitions) == ("third", tokens[-1])
    assert lease.metadata.annotations["zen-lead.io/lock-owner"] == f"system:serviceaccount:{namespace}:locker"


async def test_library_holders_and_api_holders_exclude_each_other(
    kube: Client, namespace: str, cluster: ClusterInfo, api_server: ControllerProcess, locker: str
) -> None:
    api = HttpApi(api_server.port("api"), locker)
    client = ApiClient.from_kubeconfig(cluster.kubeconfig)
    ref = LeaseRef("shared", namespace, client=client)
    try:
        async with lock(ref, ttl=30, wait=False) as fence:
            refused = await asyncio.to_thread(
                api.post,
                f"/v1/locks/shared:acquire?namespace={namespace}",
                {"holder": "api", "ttlSeconds": 10},
            )
            assert (refused.status, refused.body["reason"]) == (409, "HeldByOther"), refused.body
            assert f"token {fence.token}" in refused.body["message"]
        taken = await asyncio.to_thread(
            api.post, f"/v1/locks/shared:acquire?namespace={namespace}", {"holder": "api", "ttlSeconds": 10}
        )
        assert (taken.status, taken.body["token"]) == (200, fence.token + 1), taken.body
        with pytest.raises(LockNotAcquiredError):
            async with lock(ref, ttl=30, wait=False):
                raise AssertionError("the library took a lock the API holds")
    finally:
        await client.aclose()


def test_a_lock_resumes_on_another_replica_and_a_lost_keepalive_lets_it_expire(
    kube: Client, namespace: str, api_servers: ServerFactory, locker: str
) -> None:
    first, second = api_servers(), api_servers()
    path = f"/v1/locks/job:%s?namespace={namespace}"
    held = HttpApi(first.port("api"), locker).post(path % "acquire", {"holder": "worker-1", "ttlSeconds": 3})
    assert held.status == 200, held.body
    token = held.body["token"]
    first.stop(signal.SIGKILL)  # the replica dies mid-hold: the client goes on with another
    other = HttpApi(second.port("api"), locker)
    renewed = other.post(path % "renew", {"holder": "worker-1", "token": token})
    assert (renewed.status, renewed.body["token"]) == (200, token), renewed.body
    # the holder stops renewing: someone waiting gets the lock once the ttl has run out, token + 1
    started = time.monotonic()
    taken = other.post(path % "acquire", {"holder": "worker-2", "ttlSeconds": 3, "waitSeconds": 20})
    assert taken.status == 200, taken.body
    assert taken.body["token"] == token + 1
    assert taken.body["holder"] == "worker-2"
    assert time.monotonic() - started >= 2  # not before the ttl (3 s, counted from the server's observation)
    # the old holder wakes up: its renewal is refused precisely, and the Lease is left as it is
    before = _version(kube, namespace, "job")
    late = other.post(path % "renew", {"holder": "worker-1", "token": token})
    assert (late.status, late.body["reason"]) == (409, "TokenMismatch"), late.body
    assert f"token {token} is not lock job's current token {token + 1}" in late.body["message"]
    wrong_holder = other.post(path % "release", {"holder": "worker-1", "token": token + 1})
    assert wrong_holder.status == 200
    assert wrong_holder.body == {"released": False}
    assert _version(kube, namespace, "job") == before


def test_another_user_cannot_renew_or_release_with_a_known_token(
    kube: Client, namespace: str, api_server: ControllerProcess, locker: str
) -> None:
    grant(kube, namespace, "intruder", LOCKS)
    mine = HttpApi(api_server.port("api"), locker)
    theirs = HttpApi(api_server.port("api"), token_for(kube, namespace, "intruder"))
    path = f"/v1/locks/mine:%s?namespace={namespace}"
    held = mine.post(path % "acquire", {"holder": "me", "ttlSeconds": 30}).body
    seen = theirs.get(f"/v1/locks/mine?namespace={namespace}").body  # the token is public
    assert (seen["holder"], seen["token"], seen["held"]) == ("me", held["token"], True)
    before = _version(kube, namespace, "mine")
    for action in ("renew", "release"):
        refused = theirs.post(path % action, {"holder": "me", "token": held["token"]})
        assert (refused.status, refused.body["reason"]) == (409, "NotOwner"), refused.body
    assert _version(kube, namespace, "mine") == before


def test_the_manager_lease_and_pool_leases_cannot_be_locked(
    namespace: str, api_server: ControllerProcess, locker: str
) -> None:
    api = HttpApi(api_server.port("api"), locker)
    refused = api.post(
        f"/v1/locks/zen-lead-manager:acquire?namespace={namespace}", {"holder": "x", "ttlSeconds": 5}
    )
    assert (refused.status, refused.body["reason"]) == (403, "Reserved"), refused.body


async def test_grpc_acquire_keepalive_release(
    kube: Client, namespace: str, api_server: ControllerProcess, locker: str
) -> None:
    metadata = (("authorization", f"Bearer {locker}"),)
    async with grpc.aio.insecure_channel(f"127.0.0.1:{api_server.port('grpc')}") as channel:
        locks = pb_grpc.LocksStub(channel)
        held = await locks.Acquire(
            pb.AcquireLockRequest(namespace=namespace, name="rpc", holder="g", ttl_seconds=3),
            metadata=metadata,
        )
        assert (held.held, held.holder, held.ttl_seconds) == (True, "g", 3)
        renew = pb.RenewLockRequest(namespace=namespace, name="rpc", holder="g", token=held.token)
        stream = locks.KeepAlive(metadata=metadata)
        renewals = []
        for _ in range(4):  # past the ttl: the keep-alive is what keeps it
            await stream.write(renew)
            renewals.append(await stream.read())
            await asyncio.sleep(1)
        assert {(r.held, r.token) for r in renewals} == {(True, held.token)}
        assert len({r.renewed.ToNanoseconds() for r in renewals}) == 4  # each one written
        await stream.write(
            pb.RenewLockRequest(namespace=namespace, name="rpc", holder="g", token=held.token + 5)
        )
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stream.read()
        assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert refused.value.details().startswith("TokenMismatch")
        released = await locks.Release(
            pb.ReleaseLockRequest(namespace=namespace, name="rpc", holder="g", token=held.token),
            metadata=metadata,
        )
        assert released.released
        after = await locks.Get(pb.GetLockRequest(namespace=namespace, name="rpc"), metadata=metadata)
        assert (after.held, after.token) == (False, held.token)


def test_tokens_never_go_back_when_a_lock_lease_is_deleted(
    kube: Client, namespace: str, api_server: ControllerProcess, locker: str
) -> None:
    api = HttpApi(api_server.port("api"), locker)
    path = f"/v1/locks/gone:%s?namespace={namespace}"
    tokens = []
    for holder in ("a", "b"):
        held = api.post(path % "acquire", {"holder": holder, "ttlSeconds": 30}).body
        tokens.append(held["token"])
        assert api.post(path % "release", {"holder": holder, "token": held["token"]}).body == {
            "released": True
        }
    kube.delete(Lease, "gone", namespace=namespace)  # someone deletes the Lease: its count starts again
    again = eventually(
        lambda: (a := api.post(path % "acquire", {"holder": "c", "ttlSeconds": 30})).status == 200 and a.body,
        what="the lock taken again",
    )
    assert again["token"] > tokens[-1], (tokens, again)  # this server remembers the highest it saw
