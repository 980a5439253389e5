"""A controller-runtime controller (``examples/go``, controller-runtime v0.24.1 on client-go v0.36.3) shares
one Lease with zen-lead's Python ``LeaderElector``.

Three replicas of the Go controller and a Python candidate campaign on one Lease; judged from the
Lease's watched history, only one of them leads at any time, and every handover here is a release
(client-go's ``ReleaseOnCancel``, zen-lead's graceful stop), never a takeover of a live holder:

- the Python candidate leads first (it is started alone): the Go replicas wait, reconcile nothing;
- it stops gracefully: a Go replica takes over by release and handles the labelled ConfigMap with
  ``<identity>#<leaseTransitions>``; the other replicas handle nothing;
- SIGTERM to the leading Go replica, twice: another takes over by release, a new ConfigMap gets a
  higher token, and the older ones are re-handled with it (a new leader starts from the current state);
- a Python candidate started last honours the Go leader's tenure and takes over by release when it
  stops. Tokens strictly increase through all five tenures.

Also: two replicas as campaigning members of a pool (identity = pod name), and a replica that loses its
Lease exits (controller-runtime never campaigns again in the same process). docs/integrations/go.md.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from lightkube import AsyncClient, Client
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import ConfigMap, Pod
from lightkube.types import PatchType

from tests.cluster.election.checks import assert_handed_over_by_release, assert_lawful_history
from tests.cluster.election.conftest import aclient, logs  # noqa: F401 (fixtures)
from tests.cluster.election.harness import (
    LD,
    RD,
    RP,
    TIMING_ARGS,
    LeaseWatch,
    Proc,
    RawLease,
    first_of,
    python_script,
    spawn,
)
from tests.cluster.pools.conftest import crd, lease_spec, members, policy, pools_controller, status  # noqa: F401
from tests.support import golang
from tests.support.controller import ControllerProcess
from tests.support.wait import eventually
from zen_lead.localcluster import ClusterInfo

pytestmark = pytest.mark.cluster

SOURCE = Path(__file__).resolve().parents[3] / "examples" / "go"
LEASE = "go-controller"
SELECT = "example.zen-lead.io/go"
HANDLED_BY = "example.zen-lead.io/handled-by"
CAMPAIGN = "zen-lead/campaign"


@pytest.fixture(scope="session")
def go_controller(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``examples/go`` built once per session (offline from the module cache; a few seconds warm)."""
    out = tmp_path_factory.mktemp("go-controller") / "controller"
    return golang.build(SOURCE, out, what="examples/go")


class GoReplica(Proc):
    """A Go controller replica: its zap JSON log lines (stderr) are the events, named by their message.

    Every line is also copied to the log file, so a failed wait shows the replica's own log."""

    async def _read(self) -> None:
        assert self.process.stderr is not None
        with self.log.open("ab") as log:
            async for line in self.process.stderr:
                arrived = time.monotonic()
                log.write(line)
                log.flush()
                try:
                    event = json.loads(line)
                except ValueError:
                    continue
                if isinstance(event, dict) and "msg" in event:
                    self.events.append({**event, "event": event["msg"], "t": arrived, "arrived": arrived})
                    self._arrived.set()


async def go_replica(
    binary: Path, identity: str, *, cluster: ClusterInfo, namespace: str, log_dir: Path, lease: str = LEASE
) -> Proc:
    """A replica as it runs in a pod: identity and namespace from POD_NAME and POD_NAMESPACE."""
    argv = [
        str(binary),
        f"--kubeconfig={cluster.kubeconfig}",
        f"--lease={lease}",
        f"--lease-duration={LD:g}s",
        f"--renew-deadline={RD:g}s",
        f"--retry-period={int(RP * 1000)}ms",
    ]
    env = {**os.environ, "POD_NAME": identity, "POD_NAMESPACE": namespace}
    log = log_dir / f"{identity}.log"
    stdout = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        process = await asyncio.create_subprocess_exec(
            *argv, stdout=stdout, stderr=asyncio.subprocess.PIPE, stdin=asyncio.subprocess.DEVNULL, env=env
        )
    finally:
        os.close(stdout)
    replica = GoReplica(identity, process, log)
    replica._reader = asyncio.create_task(replica._read())
    return replica


async def py_candidate(identity: str, *, cluster: ClusterInfo, namespace: str, log_dir: Path) -> Proc:
    args = ["--kubeconfig", str(cluster.kubeconfig), "--namespace", namespace, "--name", LEASE]
    return await spawn(
        identity, python_script("candidate.py", *args, "--identity", identity, *TIMING_ARGS), logs=log_dir
    )


async def handled_by(client: AsyncClient, namespace: str) -> dict[str, str | None]:
    """The handled-by annotation of every ConfigMap created by the test (``None``: not handled)."""
    return {
        cm.metadata.name: (cm.metadata.annotations or {}).get(HANDLED_BY)
        async for cm in client.list(ConfigMap, namespace=namespace)
        if cm.metadata is not None and cm.metadata.name and cm.metadata.name.startswith("cm-")
    }


async def until_handled(
    client: AsyncClient, namespace: str, expected: dict[str, str | None], *, within: float
) -> None:
    """Wait until the ConfigMaps carry exactly ``expected``."""
    deadline = time.monotonic() + within
    while (seen := await handled_by(client, namespace)) != expected:
        if time.monotonic() > deadline:
            raise AssertionError(f"ConfigMaps after {within}s: {seen}, expected {expected}")
        await asyncio.sleep(0.05)


async def configmap(client: AsyncClient, namespace: str, name: str, *, selected: bool = True) -> None:
    labels = {SELECT: "true"} if selected else {"app": "other"}
    await client.create(ConfigMap(metadata=ObjectMeta(name=name, namespace=namespace, labels=labels)))


async def shared_lease(client: AsyncClient, namespace: str) -> dict[str, object]:
    return dict((await client.get(RawLease, LEASE, namespace=namespace))["spec"])


async def test_controller_runtime_replicas_and_zen_lead_candidates_share_one_lease(
    cluster: ClusterInfo,
    namespace: str,
    aclient: AsyncClient,  # noqa: F811
    logs: Path,  # noqa: F811
    go_controller: Path,
) -> None:
    procs: list[Proc] = []
    leaders: list[tuple[str, int]] = []  # (identity, token) of every tenure, in order

    async def took_over(candidates: list[Proc], *, old: str, after: float) -> Proc:
        """The candidate whose "became leader" came first after ``after``, checked against the Lease."""
        new, elected = await first_of(candidates, "became leader", within=30, after=after)
        token = int(elected["token"])
        await watch.wait_for(lambda c: c.holder == new.name, within=10)
        spec = await shared_lease(aclient, namespace)
        assert spec["holderIdentity"] == new.name
        assert spec["leaseTransitions"] == token, (spec, elected)  # the token read is this tenure's
        assert token > leaders[-1][1], f"token {token} after {leaders}"
        # the handover followed the old holder's release record, inside its lease: not an expiry
        assert_handed_over_by_release(watch.changes, old=old, new=new.name, lease_duration=LD)
        leaders.append((new.name, token))
        return new

    async def stop(proc: Proc) -> float:
        stopped_at = proc.signal(signal.SIGTERM)
        assert await proc.exited(within=30) == 0, f"{proc.name} did not stop cleanly; log: {proc.log}"
        return stopped_at

    async with LeaseWatch(aclient, namespace, LEASE) as watch:
        try:
            # -- the Python candidate leads; the Go replicas wait on its Lease and reconcile nothing --
            py1 = await py_candidate("py-1", cluster=cluster, namespace=namespace, log_dir=logs)
            procs.append(py1)
            leaders.append(("py-1", int((await py1.wait_for("became leader", within=30))["token"])))
            await configmap(aclient, namespace, "cm-1")
            await configmap(aclient, namespace, "other", selected=False)  # not labelled: never handled
            replicas = [
                await go_replica(go_controller, f"go-{i}", cluster=cluster, namespace=namespace, log_dir=logs)
                for i in (1, 2, 3)
            ]
            procs += replicas
            for replica in replicas:
                await replica.wait_for("campaigning", within=60)  # logged just before mgr.Start
            await asyncio.sleep(LD + 1)  # a whole lease duration of py-1's renewals: nobody takes over
            for replica in replicas:
                acted = replica.named("became leader") + replica.named("handled")
                assert not acted, f"{replica.name} acted while py-1 led: {acted}"
            assert {c.holder for c in watch.changes} == {"py-1"}, watch.history()
            assert await handled_by(aclient, namespace) == {"cm-1": None}
            for replica in replicas:  # they do campaign: client-go's leaderelection, via the example's logger
                await replica.wait_for("Attempting to acquire leader lease...", within=30)

            # -- py-1 stops gracefully: a Go replica takes over by release and handles cm-1 ---------
            leader = await took_over(replicas, old="py-1", after=await stop(py1))
            await until_handled(aclient, namespace, {"cm-1": f"{leader.name}#{leaders[-1][1]}"}, within=30)

            # -- SIGTERM to the leading Go replica, twice: the next takes over by release, a new
            #    ConfigMap gets the higher token, the older ones are re-handled with it ----------------
            for n in (2, 3):
                standbys = [r for r in replicas if r.process.returncode is None and r is not leader]
                leader = await took_over(standbys, old=leader.name, after=await stop(leader))
                await configmap(aclient, namespace, f"cm-{n}")
                mine = f"{leader.name}#{leaders[-1][1]}"
                await until_handled(aclient, namespace, {f"cm-{i}": mine for i in range(1, n + 1)}, within=30)

            # -- a Python candidate honours the last Go leader's tenure, then takes over by release --
            py2 = await py_candidate("py-2", cluster=cluster, namespace=namespace, log_dir=logs)
            procs.append(py2)
            await py2.wait_for("new leader observed", within=30, where=lambda e: e["leader"] == leader.name)
            await asyncio.sleep(LD + 1)
            assert not py2.named("became leader")
            await took_over([py2], old=leader.name, after=await stop(leader))

            # -- only the leader of a tenure reconciled, each with its own token ---------------------
            for replica in replicas:
                tokens = {int(e["token"]) for e in replica.named("handled")}
                assert tokens == {t for who, t in leaders if who == replica.name}, (replica.name, tokens)
            other = await aclient.get(ConfigMap, "other", namespace=namespace)
            assert other.metadata is not None
            assert other.metadata.annotations is None
        finally:
            for proc in procs:
                await proc.kill()

    # the whole history: one holder at a time, terms never go back, and no takeover of a live
    # holder (every new tenure followed a release record)
    assert assert_lawful_history(watch.changes, lease_duration=LD) == 0
    holders = [c.holder for c in watch.changes if c.holder]
    assert [h for i, h in enumerate(holders) if i == 0 or holders[i - 1] != h] == [w for w, _ in leaders]
    assert [t for _, t in leaders] == sorted({t for _, t in leaders}), leaders  # strictly increasing


async def test_controller_runtime_replicas_campaign_in_a_pool(
    cluster: ClusterInfo,
    kube: Client,
    aclient: AsyncClient,  # noqa: F811
    namespace: str,
    pools_controller: ControllerProcess,  # noqa: F811
    go_controller: Path,
    logs: Path,  # noqa: F811
) -> None:
    """Two replicas as campaigning members of a pool (identity = pod name, ``zen-lead/campaign``): zen-lead
    nominates, the replicas' own electors take the pool's Lease; the status follows, the term is the token."""
    kube.create(policy("pool", namespace, leaseDurationSeconds=int(LD)))
    deployment = members("ctl", namespace, pool="pool", replicas=2)
    template = deployment.spec.template.metadata if deployment.spec else None
    assert template is not None
    assert template.annotations is not None
    template.annotations[CAMPAIGN] = "true"
    kube.create(deployment)

    def two_pods() -> list[str] | None:
        listed = kube.list(Pod, namespace=namespace, labels={"app": "ctl"})
        found = sorted(str(p.metadata.name) for p in listed if p.metadata is not None)
        return found if len(found) == 2 else None

    pods = await asyncio.to_thread(eventually, two_pods, what="the two member pods")
    # zen-lead creates the pool's Lease released, for its nominee to take (so no replica creates it at 0)
    await asyncio.to_thread(
        eventually, lambda: lease_spec(kube, "pool", namespace) is not None, what="the pool's Lease"
    )
    await configmap(aclient, namespace, "cm-1")

    def status_says(pod: str, term: int) -> bool:
        now = status(kube, "pool", namespace)
        return (now.get("leader") or {}).get("pod") == pod and now.get("term") == term

    procs: list[Proc] = []
    async with LeaseWatch(aclient, namespace, "pool") as watch:
        try:
            replicas = [
                await go_replica(
                    go_controller, pod, cluster=cluster, namespace=namespace, log_dir=logs, lease="pool"
                )
                for pod in pods
            ]
            procs += replicas
            first, elected = await first_of(replicas, "became leader", within=60)
            token = int(elected["token"])
            assert token >= 1
            await asyncio.to_thread(eventually, lambda: status_says(first.name, token), what="status: first")
            await until_handled(aclient, namespace, {"cm-1": f"{first.name}#{token}"}, within=30)
            assert not any(r.named("became leader") for r in replicas if r is not first)

            # the leader stops (a rolling update): the other member takes the released Lease
            stopped_at = first.signal(signal.SIGTERM)
            assert await first.exited(within=30) == 0
            [other] = [r for r in replicas if r is not first]
            elected = await other.wait_for("became leader", within=30, after=stopped_at)
            assert int(elected["token"]) > token
            token = int(elected["token"])
            await watch.wait_for(lambda c: c.holder == other.name, within=10)
            assert_handed_over_by_release(watch.changes, old=first.name, new=other.name, lease_duration=LD)
            await asyncio.to_thread(eventually, lambda: status_says(other.name, token), what="status: other")
            await configmap(aclient, namespace, "cm-2")
            mine = f"{other.name}#{token}"
            await until_handled(aclient, namespace, {"cm-1": mine, "cm-2": mine}, within=30)
        finally:
            for proc in procs:
                await proc.kill()
    assert_lawful_history(watch.changes, lease_duration=LD)


async def test_a_replica_that_loses_the_lease_exits(
    cluster: ClusterInfo,
    namespace: str,
    aclient: AsyncClient,  # noqa: F811
    logs: Path,  # noqa: F811
    go_controller: Path,
) -> None:
    """controller-runtime does not campaign again after a loss: ``Start`` returns "leader election lost"
    once renewals failed for the renew deadline, and the example exits 1 (its supervisor restarts it)."""
    replica = await go_replica(go_controller, "go-1", cluster=cluster, namespace=namespace, log_dir=logs)
    try:
        elected = await replica.wait_for("became leader", within=60)
        # another holder's tenure appears, as after a partition: go-1's renewals now fail
        spec = await shared_lease(aclient, namespace)
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        intruder: dict[str, object] = {"holderIdentity": "intruder", "acquireTime": now, "renewTime": now}
        intruder["leaseTransitions"] = int(elected["token"]) + 1
        assert spec["holderIdentity"] == "go-1"
        stolen_at = time.monotonic()
        await aclient.patch(
            RawLease, LEASE, {"spec": intruder}, namespace=namespace, patch_type=PatchType.MERGE
        )
        assert await replica.exited(within=RD + 2 * RP + 20) == 1  # a hang guard, not a bound
        stopped = replica.named("manager stopped")
        assert [e["error"] for e in stopped] == ["leader election lost"], stopped
        assert stopped[0]["t"] > stolen_at
        assert not replica.named("exited")  # no graceful path: no release over the intruder's record
        assert (await shared_lease(aclient, namespace))["holderIdentity"] == "intruder"
    finally:
        await replica.kill()
