"""Who leads, over HTTP/JSON, on the real cluster: Services (the director's leaders), plain Leases,
the explicit no-leader answer and the rising term."""

from __future__ import annotations

from typing import Any

from lightkube import Client
from lightkube.resources.apps_v1 import Deployment
from lightkube.resources.coordination_v1 import Lease
from lightkube.resources.core_v1 import Pod

from tests.support.api import HttpApi
from tests.support.wait import eventually
from tests.support.workload import deployment, service

ENABLED = {"zen-lead.io/enabled": "true"}


def _state(http: HttpApi, path: str) -> dict[str, Any]:
    answer = http.get(path)
    assert answer.status == 200, answer.body
    body: dict[str, Any] = answer.body
    return body


def test_service_leader_term_and_no_leader(kube: Client, namespace: str, http: HttpApi) -> None:
    kube.create(deployment("web", namespace, replicas=2))
    kube.create(service("web", namespace, selector={"app": "web"}, annotations=ENABLED))
    path = f"/v1/leader/service/{namespace}/web"

    first = eventually(lambda: (s := _state(http, path))["hasLeader"] and s, timeout=60, what="a leader")
    pod = kube.get(Pod, first["leader"]["pod"], namespace=namespace)
    assert first["leader"]["uid"] == pod.metadata.uid
    assert first["leader"]["podIP"] == pod.status.podIP
    assert first["leader"]["node"] == pod.spec.nodeName
    assert first["term"] == 1
    assert first["stale"] is False
    assert first["exists"] is True

    with http.stream(path + "?heartbeatSeconds=60") as events:
        assert next(events)[2]["term"] == 1
        kube.delete(Pod, first["leader"]["pod"], namespace=namespace)
        kind, _, moved = next(events)
        while moved["term"] == 1:  # the leader Service's leader-since may still have been on its way
            kind, _, moved = next(events)
        assert (kind, moved["term"], moved["hasLeader"]) == ("change", 2, True)  # the next term: 2, no gap
        assert moved["leader"]["pod"] != first["leader"]["pod"]
    second = eventually(
        lambda: (s := _state(http, path))["hasLeader"] and s["leader"]["pod"] != first["leader"]["pod"] and s,
        timeout=60,
        what="a new leader",
    )
    assert second["term"] == 2

    kube.patch(Deployment, "web", {"spec": {"replicas": 0}}, namespace=namespace)
    none = eventually(
        lambda: (s := _state(http, path))["hasLeader"] is False and s, timeout=60, what="no leader"
    )
    assert none["leader"] is None
    assert none["noLeaderReason"] == "no eligible pod"
    # (2, or 3 when the scale-down took the leader first and the last pod led for a moment)
    assert none["term"] >= 2
    kube.patch(Deployment, "web", {"spec": {"replicas": 1}}, namespace=namespace)
    back = eventually(lambda: (s := _state(http, path))["hasLeader"] and s, timeout=60, what="a leader again")
    assert back["term"] == none["term"] + 1  # kept while no one led; one more for the next leader


def test_unknown_and_unmanaged_service(kube: Client, namespace: str, http: HttpApi) -> None:
    missing = _state(http, f"/v1/leader/service/{namespace}/nothing")
    assert (missing["exists"], missing["hasLeader"], missing["noLeaderReason"]) == (False, False, "not found")
    kube.create(service("plain", namespace, selector={"app": "plain"}))
    plain = eventually(lambda: (s := _state(http, f"/v1/leader/service/{namespace}/plain"))["exists"] and s)
    assert plain["hasLeader"] is False
    assert "zen-lead.io/enabled" in plain["noLeaderReason"]


def test_pool_leader_over_http_and_grpc(kube: Client, namespace: str, http: HttpApi, api_server: Any) -> None:
    import asyncio

    import grpc

    from tests.cluster.pools.conftest import members, policy
    from zen_lead.api.pb import zenlead_pb2 as pb
    from zen_lead.api.pb import zenlead_pb2_grpc as pb_grpc

    path = f"/v1/leader/pool/db?namespace={namespace}"
    assert _state(http, path)["noLeaderReason"] == "not found"
    kube.create(policy("db", namespace))
    kube.create(members("db", namespace, pool="db", replicas=2))
    led = eventually(lambda: (s := _state(http, path))["hasLeader"] and s, timeout=60, what="a pool leader")
    lease = kube.get(Lease, "db", namespace=namespace)
    assert led["leader"]["pod"] == lease.spec.holderIdentity
    assert led["term"] == lease.spec.leaseTransitions
    pod = kube.get(Pod, led["leader"]["pod"], namespace=namespace)
    assert (led["leader"]["uid"], led["leader"]["podIP"]) == (pod.metadata.uid, pod.status.podIP)

    async def by_grpc() -> Any:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{api_server.port('grpc')}") as channel:
            target = pb.Target(kind=pb.KIND_POOL, name="db")  # the namespace: the caller's own
            return await pb_grpc.LeadersStub(channel).Get(
                pb.GetLeaderRequest(target=target), metadata=(("authorization", f"Bearer {http.token}"),)
            )

    answer = asyncio.run(by_grpc())
    assert (answer.target.namespace, answer.leader.pod, answer.term) == (
        namespace,
        led["leader"]["pod"],
        led["term"],
    )
    assert answer.since.seconds > 0

    kube.delete(Pod, led["leader"]["pod"], namespace=namespace)
    moved = eventually(
        lambda: (s := _state(http, path))["hasLeader"] and s["leader"]["pod"] != led["leader"]["pod"] and s,
        timeout=60,
        what="a new pool leader",
    )
    assert moved["term"] > led["term"]
    listed = http.get(f"/v1/leaders?namespace={namespace}").body["leaders"]
    assert [(s["kind"], s["name"]) for s in listed] == [("pool", "db")]
