"""Watching a leader: a snapshot, then every term in order — across a leader change, a no-leader
period, an expiry no watch event announces, and a replica restart (resume by term) — over Server-Sent
Events and gRPC; and one apiserver watch per resource however many watchers there are."""

from __future__ import annotations

import asyncio
from typing import Any

import grpc
import pytest
from lightkube import Client
from lightkube.models.coordination_v1 import LeaseSpec
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.coordination_v1 import Lease

from tests.cluster.api.conftest import ServerFactory
from tests.support.api import HttpApi
from tests.support.controller import ControllerProcess
from zen_lead.api.pb import zenlead_pb2 as pb
from zen_lead.api.pb import zenlead_pb2_grpc as pb_grpc
from zen_lead.kube.times import now_microtime


def _hold(kube: Client, namespace: str, name: str, holder: str, transitions: int, duration: int = 60) -> None:
    spec = LeaseSpec(
        holderIdentity=holder,
        leaseDurationSeconds=duration,
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


def _expect(events: Any, kind: str, **fields: object) -> dict[str, Any]:
    got_kind, event_id, data = next(events)
    assert got_kind == kind, (got_kind, data)
    for key, value in fields.items():
        assert data[key] == value, (key, data)
    assert event_id == str(data["term"])
    return dict(data)


def test_sse_snapshot_then_every_term_in_order_and_resume_on_another_replica(
    kube: Client, namespace: str, api_servers: ServerFactory, reader_token: str
) -> None:
    first, second = api_servers(), api_servers()
    _hold(kube, namespace, "job", "a", 1)
    path = f"/v1/leader/lease/job?namespace={namespace}&heartbeatSeconds=60"
    with HttpApi(first.port("api"), reader_token).stream(path) as events:
        _expect(events, "snapshot", term=1, hasLeader=True)
        _hold(kube, namespace, "job", "b", 2)
        assert _expect(events, "change", term=2)["leader"]["identity"] == "b"
        _hold(kube, namespace, "job", "", 2)  # released: explicitly no leader, same term
        _expect(events, "change", term=2, hasLeader=False, noLeaderReason="released")
    first.stop()  # the replica goes away; the client resumes on the other one from the last term
    _hold(kube, namespace, "job", "c", 3)
    with HttpApi(second.port("api"), reader_token).stream(path, last_event_id="2") as events:
        state = _expect(events, "snapshot", hasLeader=True)
        assert state["term"] >= 2
        if state["term"] == 2:  # this replica had not seen term 3 yet: it comes next
            state = _expect(events, "change", term=3)
        assert state["leader"]["identity"] == "c"


def test_an_expiry_no_event_announces_is_told(
    kube: Client, namespace: str, api_servers: ServerFactory, reader_token: str
) -> None:
    # no manager Lease renewing in the namespace: nothing there changes while the holder runs out
    api_server = api_servers(extra=["--no-leader-elect"])
    _hold(kube, namespace, "silent", "gone", 4, duration=2)  # never renewed
    path = f"/v1/leader/lease/silent?namespace={namespace}"
    with HttpApi(api_server.port("api"), reader_token).stream(path) as events:
        _expect(events, "snapshot", hasLeader=True, term=4)
        _expect(events, "change", hasLeader=False, noLeaderReason="expired", term=4)


def _channel(server: ControllerProcess) -> grpc.aio.Channel:
    return grpc.aio.insecure_channel(f"127.0.0.1:{server.port('grpc')}")


def _auth(token: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {token}"),)


async def test_grpc_watch_snapshot_changes_heartbeats_and_fan_out_costs_one_watch(
    kube: Client, namespace: str, api_server: ControllerProcess, reader_token: str
) -> None:
    _hold(kube, namespace, "job", "a", 1)
    target = pb.Target(kind=pb.KIND_LEASE, namespace=namespace, name="job")
    watches_before = api_server.metric("zen_lead_api_requests_total", verb="list", resource="leases")
    async with _channel(api_server) as channel:
        leaders = pb_grpc.LeadersStub(channel)
        got = await leaders.Get(pb.GetLeaderRequest(target=target), metadata=_auth(reader_token))
        assert (got.has_leader, got.leader.identity, got.term) == (True, "a", 1)
        streams = [
            leaders.Watch(
                pb.WatchLeaderRequest(target=target, heartbeat_seconds=1), metadata=_auth(reader_token)
            )
            for _ in range(50)
        ]
        snapshots = await asyncio.gather(*(s.read() for s in streams))
        assert {(e.type, e.state.term) for e in snapshots} == {(pb.WatchEvent.TYPE_SNAPSHOT, 1)}
        _hold(kube, namespace, "job", "b", 2)

        async def next_change(stream: Any) -> Any:
            while True:
                event = await asyncio.wait_for(stream.read(), 10)
                if event.type != pb.WatchEvent.TYPE_HEARTBEAT:
                    return event

        changes = await asyncio.gather(*(next_change(s) for s in streams))
        assert {(e.type, e.state.term, e.state.leader.identity) for e in changes} == {
            (pb.WatchEvent.TYPE_CHANGE, 2, "b")
        }
        beat = await asyncio.wait_for(streams[0].read(), 5)
        assert beat.type == pb.WatchEvent.TYPE_HEARTBEAT
        assert beat.state.term == 2
        for stream in streams:
            stream.cancel()
    # 50 watchers and a Get: no list of Leases beyond the cache's own (one informer per namespace)
    assert api_server.metric("zen_lead_api_requests_total", verb="list", resource="leases") == watches_before


async def test_grpc_errors_are_precise(
    namespace: str, api_server: ControllerProcess, reader_token: str
) -> None:
    async with _channel(api_server) as channel:
        leaders = pb_grpc.LeadersStub(channel)
        target = pb.Target(kind=pb.KIND_LEASE, namespace=namespace, name="job")
        for metadata in (None, _auth("nope")):
            with pytest.raises(grpc.aio.AioRpcError) as unauthenticated:
                await leaders.Get(pb.GetLeaderRequest(target=target), metadata=metadata)
            assert unauthenticated.value.code() == grpc.StatusCode.UNAUTHENTICATED
        bad = pb.Target(kind=pb.KIND_SERVICE, namespace=namespace, name="Not_A_Label")
        with pytest.raises(grpc.aio.AioRpcError) as invalid:
            await leaders.Get(pb.GetLeaderRequest(target=bad), metadata=_auth(reader_token))
        assert invalid.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert (invalid.value.details() or "").startswith("name: must be a DNS-1123 label")
        with pytest.raises(grpc.aio.AioRpcError) as no_kind:
            await leaders.Get(pb.GetLeaderRequest(target=pb.Target(name="x")), metadata=_auth(reader_token))
        assert no_kind.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "target.kind" in (no_kind.value.details() or "")


async def test_grpc_health_and_reflection(api_server: ControllerProcess) -> None:
    from grpc_health.v1 import health_pb2, health_pb2_grpc
    from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

    async with _channel(api_server) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        for service in ("", "zenlead.v1.Leaders", "zenlead.v1.Locks"):
            answer = await health.Check(health_pb2.HealthCheckRequest(service=service))
            assert answer.status == health_pb2.HealthCheckResponse.SERVING
        reflection = reflection_pb2_grpc.ServerReflectionStub(channel)
        call = reflection.ServerReflectionInfo()
        await call.write(reflection_pb2.ServerReflectionRequest(list_services=""))
        listed = await call.read()
        names = {s.name for s in listed.list_services_response.service}
        assert {"zenlead.v1.Leaders", "zenlead.v1.Locks", "grpc.health.v1.Health"} <= names
        await call.write(reflection_pb2.ServerReflectionRequest(file_containing_symbol="zenlead.v1.Locks"))
        described = await call.read()
        assert described.file_descriptor_response.file_descriptor_proto  # clients can learn the schema
        await call.done_writing()
