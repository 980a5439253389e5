"""Benchmark 5: pools — N LeaderPolicies x M members, one controller ``--controllers=*,pools``, on the
cluster the director's benchmarks ran on, so its failover sits beside the director's of the same run.

Workload: a namespace of its own, N LeaderPolicies (``p0000`` ...) and for each a Deployment of M pods
that join it (``zen-lead/pool``, ``zen-lead/join: "true"``), scheduled onto the kwok nodes. Deployments,
as users run members, not harness-made pods: the pools controller never reads owner references either.
The controller is started once every member is Ready, with the director's production flags
(``bench.controller``) plus ``--controllers=*,pools``.

One watcher process (``bench.observer.PoolObserver``) follows the namespace's Leases, LeaderPolicies and
pods, so every time below is one clock's stamps of events arriving on a watch:

- ``cold_start``: from the process start to the last pool's Lease naming a holder, its status naming it,
  its leader pod annotated ``zen-lead/role: leader``; RSS, CPU and writes by resource;
- ``quiet``: ``quiet_seconds`` with nothing changing. Pool Leases are written only on leader changes
  (no member campaigns), so neither the controller's counter nor the watch may show a write;
- ``ready`` trials (paced as the director's): a pool's leader (its Lease holder) is set NotReady through
  the status subresource; from the write's response (and from the pod event on the watch) to the first
  Lease event naming another holder, then to the status naming it, then to its role annotation. Undone
  (Ready again) and waited for (the status counts every member eligible) before the next trial.

Writes per failover come from the controller's ``zen_lead_api_requests_total`` (by resource, undoing
included, as for the director) and, for the Lease, also from the watch: each write that changed the
pool's Lease is one event. The manager Lease's renewals (``--leader-elect``, every 2 s, the same
``patch/leases`` series) are subtracted: scrapes are taken just after a renewal was seen on the watch,
so the renewals a scrape interval holds are the manager Lease's events between the two.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]  # PyYAML has no stubs installed

from bench.apiserver import Scrape, delta
from bench.context import Context
from bench.controller import WRITE_VERBS, Controller, cost, requests
from bench.kube import JSON, Kube, bounded
from bench.observer import PoolObserver
from bench.profiles import PACE_SECONDS
from bench.stats import ratio, summary

log = logging.getLogger("bench")
CRD = (
    Path(__file__).resolve().parent.parent / "charts" / "zen-lead" / "files" / "crds" / "leaderpolicies.yaml"
)
CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
API_VERSION = "coordination.kube-zen.io/v1alpha1"
MANAGER_LEASE = "zen-lead-manager"  # the controller's own Lease (``--leader-election-id``'s default)
READY_TIMEOUT = 900.0
TRIAL_TIMEOUT = 60.0
RENEWAL_TIMEOUT = 10.0  # the manager Lease is renewed every 2 s


def pool_name(index: int) -> str:
    return f"p{index:04d}"


def policy_manifest(namespace: str, name: str) -> JSON:
    return {
        "apiVersion": API_VERSION,
        "kind": "LeaderPolicy",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {},
    }


def members_manifest(namespace: str, pool: str, replicas: int) -> JSON:
    labels = {"app": pool}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": pool, "namespace": namespace},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {
                    "labels": labels,
                    "annotations": {"zen-lead/pool": pool, "zen-lead/join": "true"},
                },
                "spec": {"containers": [{"name": "app", "image": "example.invalid/app:1"}]},
            },
        },
    }


async def install_crd(kube: Kube) -> None:
    """The LeaderPolicy CRD from the chart's one copy; returns once it is Established."""
    manifest = yaml.safe_load(CRD.read_text())
    await kube.create(CRDS, manifest, resource="customresourcedefinitions", exist_ok=True)
    path = f"{CRDS}/{manifest['metadata']['name']}"
    deadline = time.monotonic() + 60.0
    while time.monotonic() < deadline:
        conditions = (await kube.get(path, resource="customresourcedefinitions")).get("status", {})
        if any(
            c["type"] == "Established" and c["status"] == "True" for c in conditions.get("conditions") or []
        ):
            return
        await asyncio.sleep(0.1)
    raise RuntimeError("the LeaderPolicy CRD was not Established within 60 s")


def _settled(observer: PoolObserver, pool: str, members: int) -> bool:
    """The pool's Lease, status and role annotations name one leader and every member is eligible
    (call under the observer's lock)."""
    holder = observer.holder.get(pool, "")
    status = observer.policy.get(pool)
    return (
        bool(holder)
        and status is not None
        and status.leader == holder
        and (status.eligible == members and observer.role(holder) == "leader")
    )


async def _aligned_scrape(controller: Controller, observer: PoolObserver) -> tuple[Scrape, int]:
    """A scrape taken just after a manager Lease renewal was seen on the watch, and the watch sequence
    right after that renewal. The controller counts a request when its response arrives, before the
    apiserver sends the watch event; the next renewal is a retry period (2 s) away, so the renewals in
    this scrape are exactly the manager Lease's events before the returned sequence."""
    mark = observer.mark()

    def renewed() -> bool:
        return any(e.seq >= mark for e in observer.leases.get(MANAGER_LEASE, ())[-1:])

    if not await observer.wait_until(renewed, RENEWAL_TIMEOUT):
        raise RuntimeError("no renewal of the manager Lease seen in 10 s")
    seq = observer.mark()
    return await controller.scrape(), seq


def _manager_lease_writes(observer: PoolObserver, since: int, until: int) -> dict[str, float]:
    """The manager Lease's writes seen on the watch in [since, until): its creation and renewals."""
    events = observer.lease_events(MANAGER_LEASE, since, until)
    return {
        "create/leases": float(sum(1 for e in events if e.kind == "ADDED")),
        "patch/leases": float(sum(1 for e in events if e.kind == "MODIFIED")),
    }


def _requests(
    observer: PoolObserver, before: tuple[Scrape, int] | None, after: tuple[Scrape, int]
) -> dict[str, float]:
    """The controller's requests between two aligned scrapes (``None``: since it started) by
    ``verb/resource``, the manager Lease's own writes (seen on the watch in between) taken out; zeros
    dropped."""
    counts = delta(requests(before[0]) if before else {}, requests(after[0]))
    manager = _manager_lease_writes(observer, before[1] if before else 0, after[1])
    counts = {key: counts.get(key, 0.0) - manager.get(key, 0.0) for key in counts.keys() | manager.keys()}
    return {key: value for key, value in sorted(counts.items()) if value}


def _writes(counts: dict[str, float]) -> dict[str, float]:
    found: dict[str, float] = {}
    for key, value in counts.items():
        verb, _, resource = key.partition("/")
        if verb in WRITE_VERBS:
            found[resource] = found.get(resource, 0.0) + value
    return found


async def _writes_settled(controller: Controller, observer: PoolObserver) -> None:
    """Wait until a renewal period passes without a write (the cold start's Events are posted in the
    background, after the pools are led): the quiet window must not count them."""
    deadline = time.monotonic() + READY_TIMEOUT
    last = await _aligned_scrape(controller, observer)
    while time.monotonic() < deadline:
        scrape = await _aligned_scrape(controller, observer)
        if not _writes(_requests(observer, last, scrape)):
            return
        last = scrape
    raise RuntimeError("the controller kept writing after the pools were led")


async def cold_start(
    ctx: Context, controller: Controller, observer: PoolObserver, pools: list[str]
) -> dict[str, Any]:
    members = ctx.profile.pool_members
    since = observer.mark()
    await controller.start()
    synced = await controller.wait_log("caches synced")
    if not await observer.wait_until(
        lambda: all(_settled(observer, p, members) for p in pools), READY_TIMEOUT
    ):
        with observer.lock:
            missing = [p for p in pools if not _settled(observer, p, members)]
        raise RuntimeError(f"{len(missing)} pools without a settled leader: {missing[:5]}")
    converged = cost(controller)
    leased, stated, annotated, in_order = [], [], [], 0
    for pool in pools:
        lease = next(e for e in observer.lease_events(pool, since) if e.holder)
        status = observer.first_policy(pool, since, lease.holder)
        role = observer.first_role(lease.holder, since, "leader")
        if status is None or role is None:  # _settled saw both
            raise RuntimeError(f"pool {pool}: status or role annotation not seen")
        leased.append(lease.t)
        stated.append(status.t)
        annotated.append(role.t)
        in_order += lease.rv < status.rv < role.rv
    counts = _requests(observer, None, await _aligned_scrape(controller, observer))
    return {
        "start_to_cache_sync_seconds": synced - controller.started,
        "start_to_every_lease_held_seconds": max(leased) - controller.started,
        "start_to_every_status_seconds": max(stated) - controller.started,
        "start_to_every_role_annotation_seconds": max(annotated) - controller.started,
        "cache_sync_to_every_lease_held_seconds": max(leased) - synced,
        # resourceVersions: the Lease written first, then the status, then the leader's annotation
        "pools_in_write_order": in_order,
        "at_convergence": converged,
        "after_settle": cost(controller),
        "controller_writes": _writes(counts),
        "controller_requests": counts,
    }


async def quiet(
    ctx: Context, controller: Controller, observer: PoolObserver, pools: list[str]
) -> dict[str, Any]:
    await _writes_settled(controller, observer)
    before = await _aligned_scrape(controller, observer)
    cpu, started = controller.cpu(), time.monotonic()
    await asyncio.sleep(ctx.profile.quiet_seconds)  # the phase itself: a window in which nothing changes
    after = await _aligned_scrape(controller, observer)
    elapsed, cpu = time.monotonic() - started, controller.cpu() - cpu
    return {
        "seconds": elapsed,
        "controller_requests": _requests(observer, before, after),
        "manager_lease_renewals": len(observer.lease_events(MANAGER_LEASE, before[1], after[1])),
        "watch_events": observer.events_between(before[1], after[1], leases=set(pools)),
        "cpu_seconds": cpu,
        "cpu_seconds_per_minute": 60 * cpu / elapsed,
        "rss_bytes": controller.rss(),
    }


@dataclass(frozen=True, slots=True)
class PoolTrial:
    pool: str
    old: str
    new: str
    sent: float  # monotonic: the NotReady write was sent ...
    landed: float  # ... its response arrived: the origin of the three times below
    visible: float | None  # ... the watch showed the pod NotReady
    lease: float | None  # s after landed: the first Lease event naming another holder
    status: float | None  # ... the policy's status naming it
    role: float | None  # ... its pod annotated zen-lead/role: leader
    in_write_order: bool  # resourceVersions: the Lease written before the status, the status before the role
    lease_writes: int  # events of the pool's Lease from the write to the end of the undo
    term_step: int  # leaseTransitions after minus before


async def trial(kube: Kube, observer: PoolObserver, namespace: str, pool: str, members: int) -> PoolTrial:
    if not await observer.wait_until(lambda: _settled(observer, pool, members), TRIAL_TIMEOUT):
        raise RuntimeError(f"pool {pool} not settled")
    with observer.lock:
        old = observer.holder[pool]
        term = observer.leases[pool][-1].transitions or 0
    since = observer.mark()
    sent = time.monotonic()
    landed = await kube.set_pod_ready(namespace, old, ready=False)

    def moved() -> bool:
        holder = observer.holder.get(pool, "")
        status = observer.policy.get(pool)
        done = holder not in ("", old) and status is not None and status.leader == holder
        return done and observer.role(holder) == "leader" and observer.role(old) == "follower"

    if not await observer.wait_until(moved, TRIAL_TIMEOUT):
        raise RuntimeError(f"pool {pool}: no new leader {TRIAL_TIMEOUT:.0f}s after {old} went NotReady")
    with observer.lock:
        new = observer.holder[pool]
    first = next(e for e in observer.lease_events(pool, since) if e.holder == new)
    stated = observer.first_policy(pool, since, new)
    promoted = observer.first_role(new, since, "leader")
    await kube.set_pod_ready(namespace, old, ready=True)
    if not await observer.wait_until(lambda: _settled(observer, pool, members), TRIAL_TIMEOUT):
        raise RuntimeError(f"pool {pool}: {old} not counted eligible again")
    events = observer.lease_events(pool, since)
    return PoolTrial(
        pool=pool,
        old=old,
        new=new,
        sent=sent,
        landed=landed,
        visible=observer.pod_unready_seen(old, since),
        lease=first.t - landed,
        status=None if stated is None else stated.t - landed,
        role=None if promoted is None else promoted.t - landed,
        in_write_order=stated is not None and promoted is not None and first.rv < stated.rv < promoted.rv,
        lease_writes=len(events),
        term_step=(events[-1].transitions or 0) - term,
    )


async def failovers(
    ctx: Context, controller: Controller, observer: PoolObserver, namespace: str, pools: list[str]
) -> dict[str, Any]:
    before, cpu = await _aligned_scrape(controller, observer), controller.cpu()
    trials = []
    for _ in range(ctx.profile.ready_trials):
        await asyncio.sleep(PACE_SECONDS)
        trials.append(
            await trial(ctx.kube, observer, namespace, ctx.rng.choice(pools), ctx.profile.pool_members)
        )
    after, cpu = await _aligned_scrape(controller, observer), controller.cpu() - cpu
    n = len(trials)
    writes = _writes(_requests(observer, before, after))
    return {
        "trials": n,
        "origin": "the NotReady write's response arrived at the harness (the write had landed)",
        "lease_seconds": summary([t.lease for t in trials if t.lease is not None]),
        "status_seconds": summary([t.status for t in trials if t.status is not None]),
        "role_seconds": summary([t.role for t in trials if t.role is not None]),
        "from_pod_event_seen": {
            "lease_seconds": summary(
                [
                    t.lease + t.landed - t.visible
                    for t in trials
                    if t.lease is not None and t.visible is not None
                ]
            )
        },
        "write_round_trip_seconds": summary([t.landed - t.sent for t in trials]),
        "lease_writes_per_failover_watch": ratio(sum(t.lease_writes for t in trials), n),
        # the Lease first, then the status, then the role annotation, by the resourceVersions they got
        # (arrival times on two watches need not be in that order: each resource has its own stream)
        "trials_in_write_order": sum(t.in_write_order for t in trials),
        "writes_per_failover": {
            "controller_metrics": {k: v / n for k, v in writes.items()},
            "note": "undoing a trial (the old leader Ready again: a status write) is included; the manager "
            "Lease's renewals are not",
        },
        "term_steps": sorted({t.term_step for t in trials}),
        "cpu_seconds_per_failover": cpu / n,
        "samples": [asdict(t) for t in trials],
    }


async def run(ctx: Context) -> dict[str, Any]:
    profile = ctx.profile
    namespace = f"pools-{profile.pools}x{profile.pool_members}"
    pools = [pool_name(i) for i in range(profile.pools)]
    started = time.monotonic()
    await install_crd(ctx.kube)
    await ctx.kube.create_namespace(namespace)
    observer = PoolObserver(ctx.admin_kubeconfig, namespace, ctx.logs / f"watch-pools-{namespace}.log")
    await observer.start()
    controller = ctx.controller(namespace, f"controller-{namespace}", extra=("--controllers=*,pools",))
    try:
        concurrency = profile.create_concurrency
        policies = f"/apis/{API_VERSION}/namespaces/{namespace}/leaderpolicies"
        await bounded(
            pools,
            lambda p: ctx.kube.create(policies, policy_manifest(namespace, p), resource="leaderpolicies"),
            concurrency=concurrency,
        )
        deployments = f"/apis/apps/v1/namespaces/{namespace}/deployments"
        await bounded(
            pools,
            lambda p: ctx.kube.create(
                deployments, members_manifest(namespace, p, profile.pool_members), resource="deployments"
            ),
            concurrency=concurrency,
        )
        expected = profile.pools * profile.pool_members
        if not await observer.wait_until(lambda: sum(observer.ready.values()) >= expected, READY_TIMEOUT):
            raise RuntimeError(f"fewer than {expected} member pods Ready after {READY_TIMEOUT:.0f}s")
        created = time.monotonic() - started
        log.info("pools: %d x %d members Ready in %.1fs", profile.pools, profile.pool_members, created)
        results: dict[str, Any] = {
            "pools": profile.pools,
            "members": profile.pool_members,
            "namespace": namespace,
            "members_ready_seconds": created,
            "cold_start": await cold_start(ctx, controller, observer, pools),
        }
        results["quiet"] = await quiet(ctx, controller, observer, pools)
        results["ready"] = await failovers(ctx, controller, observer, namespace, pools)
        results["after_trials"] = cost(controller)
        ready = results["ready"]
        log.info(
            "pools %dx%d: Lease p50 %.1f ms p99 %.1f ms; Lease writes per failover %.2f; quiet requests %s",
            profile.pools,
            profile.pool_members,
            1000 * ready["lease_seconds"]["p50"],
            1000 * ready["lease_seconds"]["p99"],
            ready["lease_writes_per_failover_watch"],
            results["quiet"]["controller_requests"] or 0,
        )
        return results
    finally:
        await controller.stop()
        observer.stop()


def director_beside(failover: dict[str, Any]) -> dict[str, Any]:
    """The director's paced NotReady failovers of the same run, per configuration, for the report."""
    return {
        config: {
            "services": data["services"],
            "pods_per_service": data["pods_per_service"],
            "zen_seconds": {k: data["ready"]["zen_seconds"][k] for k in ("count", "p50", "p99")},
            "from_pod_event_seen": {
                k: data["ready"]["from_pod_event_seen"]["zen_seconds"][k] for k in ("p50", "p99")
            },
        }
        for config, data in failover.items()
        if "ready" in data
    }
