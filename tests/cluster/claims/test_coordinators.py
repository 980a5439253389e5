"""Three claim coordinators (the example's) on the real cluster: one leads and places claims in
priority order; killed or frozen mid-batch, another takes over without a double claim; without
coordination every replica claims optimistically, still safely; two replicas with one identity are
refused. Every Host and Machine version the apiserver served is checked (``assert_safe_history``),
and every metric family is read where it should move."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from lightkube import Client

from tests.cluster.claims.harness import (
    FAST,
    Host,
    Launch,
    Machine,
    Replica,
    assert_safe_history,
    claimed_by,
    holder,
    holdings,
)
from tests.support.history import Writes
from tests.support.wait import eventually, settled
from zen_lead.localcluster import ClusterInfo

pytestmark = pytest.mark.cluster


@pytest.fixture
def start(cluster: ClusterInfo, namespace: str, tmp_path: Path, metal_crds: None) -> Iterator[Launch]:
    started: list[Replica] = []

    def launch(identity: str, flags: list[str] = FAST, *, wait_port: bool = True) -> Replica:
        replica = Replica(cluster, namespace, identity, tmp_path, flags, wait_port=wait_port)
        started.append(replica)
        return replica

    yield launch
    for replica in started:
        replica.stop()
    for replica in started:
        print(f"--- {replica.identity} ---\n{replica.tail()}")


def _machines(kube: Client, namespace: str, count: int, *, tagged_every: int = 0) -> list[Any]:
    def make(i: int) -> Any:
        tagged = tagged_every and i % tagged_every == 0
        spec = {"requiredTags": ["ssd"], "preferredTags": ["rack1"]} if tagged else {}
        return kube.create(Machine(metadata={"name": f"m{i:02d}", "namespace": namespace}, spec=spec))

    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(make, range(count)))


def _hosts(kube: Client, namespace: str, count: int) -> None:
    def make(j: int) -> None:
        spec = {"tags": ["ssd", f"rack{j % 2}"]}
        kube.create(Host(metadata={"name": f"h{j:02d}", "namespace": namespace}, spec=spec))

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(make, range(count)))


def _all_held(kube: Client, namespace: str, count: int, timeout: float = 60) -> dict[str, str]:
    return eventually(
        lambda: (h := holdings(kube, namespace)) and len(h) == count and h,
        timeout=timeout,
        what=f"{count} claims made",
    )


def test_one_leader_places_claims_in_priority_order(
    kube: Client, namespace: str, start: Launch, writes: Writes
) -> None:
    replicas = [start(f"replica-{i}") for i in range(3)]
    lease = eventually(lambda: holder(kube, namespace), timeout=30, what="a claim-coordinator leader")
    machines = _machines(kube, namespace, 50, tagged_every=3)
    _hosts(kube, namespace, 10)
    held = _all_held(kube, namespace, 10)
    untagged = sorted(
        (m for m in machines if not m.spec),
        key=lambda m: (m.metadata.creationTimestamp, m.metadata.uid),
    )
    assert set(held) == {m.metadata.name for m in untagged[:10]}, "untagged (+50), then oldest, win"
    leader = next(r for r in replicas if r.identity == lease)
    assert leader.results("claimed") == 10
    assert leader.metric("processing_duration_seconds_count", result_type="claimed") == 10
    assert leader.metric("leader_election_total", event_type="became_leader") == 1
    # the machines came before any host: each waited, counted once (not once per pass)
    assert leader.results("no_match") == 50
    assert claimed_by(kube, namespace) == {lease: 10}
    followers = [r for r in replicas if r is not leader]
    for follower in followers:
        assert follower.results("fallback_claimed") == 0
        assert follower.results("delegated") == 50  # every machine, once
        assert follower.metric("leader_election_total", event_type="new_leader") >= 1
    # a held machine deleted: its host is released and goes to the next in line
    gone, following = untagged[0].metadata.name, untagged[10].metadata.name
    kube.delete(Machine, gone, namespace=namespace)
    eventually(
        lambda: following in (h := holdings(kube, namespace)) and gone not in h,
        timeout=30,
        what=f"{gone}'s host released and given to {following}",
    )
    assert leader.results("released") == 1
    assert leader.metric("processing_duration_seconds_count", result_type="released") == 1
    assert leader.results("conflict") == 0  # nobody else wrote
    assert assert_safe_history(writes) >= 12


def _leader_fails_mid_batch(
    kube: Client, namespace: str, start: Launch, writes: Writes, signum: int
) -> tuple[Replica, list[Replica], int]:
    """50 Hosts, then 50 Machines at once; when 5 claims are made the leader gets ``signum``."""
    replicas = [start(f"replica-{i}", [*FAST, "--concurrency=1"]) for i in range(3)]
    lease = eventually(lambda: holder(kube, namespace), timeout=30, what="a claim-coordinator leader")
    leader = next(r for r in replicas if r.identity == lease)
    _hosts(kube, namespace, 50)
    _machines(kube, namespace, 50)
    eventually(lambda: len(holdings(kube, namespace)) >= 5, interval=0.01, what="5 claims")
    leader.signal(signum)
    at_failure = len(holdings(kube, namespace))
    assert at_failure < 50, "the leader was stopped mid-batch, not after it"
    survivors = [r for r in replicas if r is not leader]
    eventually(
        lambda: holder(kube, namespace) in {r.identity for r in survivors}, timeout=30, what="a new leader"
    )
    _all_held(kube, namespace, 50)
    return leader, survivors, at_failure


def test_leader_killed_mid_batch_another_finishes_without_double_claims(
    kube: Client, namespace: str, start: Launch, writes: Writes
) -> None:
    dead, survivors, _ = _leader_fails_mid_batch(kube, namespace, start, writes, signal.SIGKILL)
    assert assert_safe_history(writes) >= 100
    writers = claimed_by(kube, namespace)
    assert sum(writers.values()) == 50
    assert set(writers) <= {dead.identity, *(r.identity for r in survivors)}
    for survivor in survivors:  # each claim counted once, by the replica that made it
        made = survivor.results("claimed") + survivor.results("fallback_claimed")
        assert made == writers[survivor.identity]
    assert sum(r.metric("leader_election_total", event_type="became_leader") for r in survivors) == 1
    assert assert_safe_history(writes) >= 100


def test_leader_frozen_mid_batch_steps_down_when_thawed_and_writes_nothing(
    kube: Client, namespace: str, start: Launch, writes: Writes
) -> None:
    frozen, _survivors, _ = _leader_fails_mid_batch(kube, namespace, start, writes, signal.SIGSTOP)
    mark = max(w.revision for w in writes.seen)
    frozen.signal(signal.SIGCONT)
    eventually(
        lambda: frozen.metric("leader_election_total", event_type="lost_leadership") == 1,
        what="the thawed replica stepped down",
    )
    assert frozen.metric("leadership_duration_seconds_count", identity=frozen.identity) == 1
    settled(lambda: len(writes.seen), quiet=2, what="writes after the thaw")
    late = [w for w in writes.seen if w.revision > mark]
    assert not late, f"the thawed replica (or anyone) wrote after the batch was done: {late}"
    assert frozen.results("claimed") == claimed_by(kube, namespace)[frozen.identity]
    assert assert_safe_history(writes) >= 100


def test_coordination_disabled_every_replica_claims_optimistically_and_safely(
    kube: Client, namespace: str, start: Launch, writes: Writes
) -> None:
    replicas = [start(f"replica-{i}", []) for i in range(3)]
    _hosts(kube, namespace, 10)
    _machines(kube, namespace, 50)
    _all_held(kube, namespace, 10)
    settled(lambda: len(writes.seen), quiet=2, what="the claims settled")
    assert holder(kube, namespace) == "", "no coordinator Lease without the enable flag"
    writers = claimed_by(kube, namespace)
    for replica in replicas:
        assert replica.results("claimed") == 0
        assert replica.results("fallback_claimed") == writers[replica.identity]
        assert "Using fallback coordinator" in replica.log.read_text()
    assert sum(writers.values()) == 10
    assert assert_safe_history(writes) >= 10


def test_a_second_replica_with_the_same_identity_is_refused(
    kube: Client, namespace: str, start: Launch, writes: Writes
) -> None:
    first = start("twin")
    eventually(lambda: holder(kube, namespace) == "twin", timeout=30, what="twin leads")
    second = start("twin", wait_port=False)
    assert second.proc.wait(30) == 3
    assert "identity 'twin' is in use" in second.log.read_text()
    assert first.proc.poll() is None
    assert holder(kube, namespace) == "twin"
    # a crashed replica restarted under its name (a StatefulSet pod) is not a duplicate: it waits
    # out one lease duration without a renewal, then campaigns and leads
    first.signal(signal.SIGKILL)
    first.proc.wait()
    again = start("twin")
    eventually(
        lambda: again.metric("leader_election_total", event_type="became_leader") == 1,
        timeout=30,
        what="the restarted twin leads",
    )


def test_a_mixed_fleet_during_migration_stays_safe(
    kube: Client, namespace: str, start: Launch, writes: Writes
) -> None:
    # the migration's first step: one replica with coordination enabled, two still without
    enabled = start("replica-0")
    legacy = [start(f"replica-{i}", []) for i in (1, 2)]
    eventually(lambda: holder(kube, namespace) == "replica-0", timeout=30, what="the enabled replica leads")
    _hosts(kube, namespace, 10)
    _machines(kube, namespace, 50)
    _all_held(kube, namespace, 10)
    settled(lambda: len(writes.seen), quiet=2, what="the claims settled")
    writers = claimed_by(kube, namespace)
    assert sum(writers.values()) == 10
    assert enabled.results("claimed") == writers["replica-0"]
    for replica in legacy:
        assert replica.results("claimed") == 0
        assert replica.results("fallback_claimed") == writers[replica.identity]
    assert assert_safe_history(writes) >= 10
