"""ManualLocks on the real cluster: taken as a Lease in the library's format, excluding library holders
and other ManualLocks; released by deletion (the finalizer), by expiry and by ``spec.release``; Pending
while someone else holds the lock; quiet while held, across a controller restart."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest
from lightkube import Client
from lightkube.resources.coordination_v1 import Lease
from lightkube.types import PatchType
from prometheus_client import REGISTRY

from tests.cluster.manuallocks.conftest import (
    FINALIZER,
    ManualLock,
    events,
    gone,
    held_condition,
    holding,
    in_phase,
    lease_spec,
    library_lock,
    manual_lock,
    status,
)
from tests.support.controller import ControllerProcess
from tests.support.wait import eventually, settled
from zen_lead.election import try_acquire
from zen_lead.kube.times import parse_time
from zen_lead.localcluster import ClusterInfo

pytestmark = pytest.mark.cluster


def holders_seen(namespace: str) -> float:
    """Holder changes of Lease ``db`` the library holders of this process observed (their metric)."""
    value = REGISTRY.get_sample_value("zen_lead_election_transitions_total", {"lease": f"{namespace}/db"})
    return value or 0.0


async def until(check: Callable[[], bool], *, what: str, limit: float = 30) -> None:
    """``eventually`` for a condition that needs the event loop to run meanwhile."""
    try:
        async with asyncio.timeout(limit):
            while not check():  # noqa: ASYNC110 - the test observes from outside, bounded
                await asyncio.sleep(0.05)
    except TimeoutError as error:
        raise AssertionError(f"timed out after {limit}s waiting for {what}") from error


MANUAL_LOCK = "coordination.kube-zen.io/manual-lock"
MERGE = PatchType.MERGE


async def test_apply_holds_the_lock_and_a_library_holder_gets_it_only_after_the_deletion(
    kube: Client, cluster: ClusterInfo, namespace: str, mlock_controller: ControllerProcess
) -> None:
    kube.create(manual_lock("freeze", namespace, holder="ops", ttl="30m", reason="maintenance"))
    held = in_phase(kube, "freeze", namespace, "Held", token=0)
    assert held_condition(held)["reason"] == "Acquired"
    acquired, expires = parse_time(held["acquiredAt"]), parse_time(held["expiresAt"])
    assert acquired is not None
    assert expires == acquired + 1800
    spec = lease_spec(kube, "db", namespace)
    assert spec is not None
    assert spec["holderIdentity"] == "ops"
    assert spec["leaseTransitions"] == 0
    assert spec["leaseDurationSeconds"] == 1800  # until the expiry, in whole seconds: no renewals
    lease = kube.get(Lease, "db", namespace=namespace)
    assert lease.metadata.annotations[MANUAL_LOCK] == "freeze"
    assert lease.metadata.labels["app.kubernetes.io/managed-by"] == "zen-lead"
    assert FINALIZER in kube.get(ManualLock, "freeze", namespace=namespace).metadata.finalizers
    # a library holder is excluded: one try fails, a waiting one gets the lock only once it is deleted
    assert await try_acquire(library_lock(cluster, namespace, identity="worker").ref, ttl=10) is None
    seen = holders_seen(namespace)
    waiting = asyncio.create_task(library_lock(cluster, namespace, identity="worker", timeout=60).acquire())
    await until(lambda: holders_seen(namespace) > seen, what="the waiting holder to see ops hold the lock")
    assert not waiting.done()  # it waits (for 30 minutes, or until the Lease is released)
    kube.delete(ManualLock, "freeze", namespace=namespace)
    fence = await asyncio.wait_for(waiting, 30)
    assert fence.token == 1  # the ManualLock's + 1
    eventually(lambda: gone(kube, "freeze", namespace), what="the ManualLock gone (finalizer removed)")
    spec = lease_spec(kube, "db", namespace)
    assert spec is not None
    assert spec["holderIdentity"] == "worker"
    assert MANUAL_LOCK not in (kube.get(Lease, "db", namespace=namespace).metadata.annotations or {})


def test_a_second_manual_lock_stays_pending_naming_the_holder_and_takes_it_after_the_first_is_deleted(
    kube: Client, namespace: str, mlock_controller: ControllerProcess
) -> None:
    kube.create(manual_lock("first", namespace, holder="ops"))
    in_phase(kube, "first", namespace, "Held", token=0)
    kube.create(manual_lock("second", namespace, holder="ci"))
    waiting = in_phase(kube, "second", namespace, "Pending")
    condition = held_condition(waiting)
    assert (condition["status"], condition["reason"]) == ("False", "HeldByOther")
    assert "held by ops (token 0, ManualLock first)" in condition["message"], condition
    assert waiting["message"] == condition["message"]
    assert "token" not in waiting
    assert "expiresAt" not in waiting
    eventually(lambda: events(kube, namespace, "second", "Waiting"), what="a Waiting Event")
    kube.delete(ManualLock, "first", namespace=namespace)
    in_phase(kube, "second", namespace, "Held", token=1)
    spec = lease_spec(kube, "db", namespace)
    assert spec is not None
    assert spec["holderIdentity"] == "ci"
    assert spec["leaseTransitions"] == 1


async def test_a_ttl_runs_out_expired_and_the_lease_free_not_a_second_early(
    kube: Client, cluster: ClusterInfo, namespace: str, mlock_controller: ControllerProcess
) -> None:
    kube.create(manual_lock("short", namespace, ttl="10s"))
    held = in_phase(kube, "short", namespace, "Held", token=0)
    expired = in_phase(kube, "short", namespace, "Expired")
    seen = time.time()
    expires = parse_time(held["expiresAt"])
    assert expires is not None
    assert seen >= expires
    assert expired["token"] == 0
    assert expired["expiresAt"] == held["expiresAt"]
    assert held_condition(expired)["reason"] == "Expired"
    spec = lease_spec(kube, "db", namespace)
    assert spec is not None
    assert spec["holderIdentity"] == ""
    assert spec["leaseTransitions"] == 0
    eventually(lambda: events(kube, namespace, "short", "Expired"), what="an Expired Event")
    # free: a library holder takes it at once, with the next token
    taken = await try_acquire(library_lock(cluster, namespace, identity="worker").ref, ttl=10)
    assert taken is not None
    assert taken.fence is not None
    assert taken.fence.token == 1
    await taken.release()
    # settled: the ManualLock does not take the lock again
    assert settled(lambda: status(kube, "short", namespace)["phase"], quiet=1.0) == "Expired"


async def test_a_lock_held_by_a_library_holder_keeps_the_manual_lock_pending(
    kube: Client, cluster: ClusterInfo, namespace: str, mlock_controller: ControllerProcess
) -> None:
    async with holding(library_lock(cluster, namespace, identity="worker", ttl=6)) as token:
        kube.create(manual_lock("freeze", namespace))
        waiting = in_phase(kube, "freeze", namespace, "Pending")
        assert f"held by worker (token {token})" in waiting["message"], waiting
        # the library renews every second: the controller sees a live tenure for longer than its
        # ttl and does not take it over
        still = await asyncio.to_thread(
            settled, lambda: (status(kube, "freeze", namespace)["phase"], token), quiet=8.0
        )
        assert still == ("Pending", token)
    held = in_phase(kube, "freeze", namespace, "Held")
    assert held["token"] == token + 1


def test_spec_release_lets_go_and_keeps_the_object_and_false_takes_it_again(
    kube: Client, namespace: str, mlock_controller: ControllerProcess
) -> None:
    kube.create(manual_lock("freeze", namespace))
    in_phase(kube, "freeze", namespace, "Held", token=0)
    kube.patch(ManualLock, "freeze", {"spec": {"release": True}}, namespace=namespace, patch_type=MERGE)
    released = in_phase(kube, "freeze", namespace, "Released")
    assert "spec.release" in released["message"]
    assert released["token"] == 0
    spec = lease_spec(kube, "db", namespace)
    assert spec is not None
    assert spec["holderIdentity"] == ""
    kube.patch(ManualLock, "freeze", {"spec": {"release": False}}, namespace=namespace, patch_type=MERGE)
    in_phase(kube, "freeze", namespace, "Held", token=1)


def test_spec_changes_while_held_move_the_expiry_or_hand_the_lock_over(
    kube: Client, namespace: str, mlock_controller: ControllerProcess
) -> None:
    kube.create(manual_lock("freeze", namespace, ttl="30m"))
    held = in_phase(kube, "freeze", namespace, "Held", token=0)
    kube.patch(ManualLock, "freeze", {"spec": {"ttl": "2h"}}, namespace=namespace, patch_type=MERGE)
    acquired = parse_time(held["acquiredAt"])
    assert acquired is not None
    longer = eventually(
        lambda: (s := status(kube, "freeze", namespace)).get("expiresAt") != held["expiresAt"] and s,
        what="the expiry moved",
    )
    assert longer["token"] == 0
    assert parse_time(longer["expiresAt"]) == acquired + 7200
    spec = lease_spec(kube, "db", namespace)
    assert spec is not None
    assert spec["leaseTransitions"] == 0
    assert 7200 - 60 <= spec["leaseDurationSeconds"] <= 7200  # rewritten: until the new expiry
    eventually(lambda: events(kube, namespace, "freeze", "ExpiryMoved"), what="an ExpiryMoved Event")
    kube.patch(ManualLock, "freeze", {"spec": {"holder": "ci"}}, namespace=namespace, patch_type=MERGE)
    over = in_phase(kube, "freeze", namespace, "Held", token=1)  # a new tenure, in one write
    spec = lease_spec(kube, "db", namespace)
    assert spec is not None
    assert spec["holderIdentity"] == "ci"
    assert spec["leaseTransitions"] == 1
    assert over["acquiredAt"] != held["acquiredAt"] or over["token"] == 1


def test_a_lease_taken_some_other_way_is_released(
    kube: Client, namespace: str, mlock_controller: ControllerProcess
) -> None:
    kube.create(manual_lock("freeze", namespace))
    in_phase(kube, "freeze", namespace, "Held", token=0)
    # an admin takes the Lease over (as a candidate does: a new holder, transitions + 1)
    kube.patch(
        Lease,
        "db",
        {"spec": {"holderIdentity": "admin", "leaseTransitions": 1}},
        namespace=namespace,
        patch_type=MERGE,
    )
    released = in_phase(kube, "freeze", namespace, "Released")
    assert "held by admin now (token 1)" in released["message"], released
    # deleting it now leaves the admin's tenure alone
    kube.delete(ManualLock, "freeze", namespace=namespace)
    eventually(lambda: gone(kube, "freeze", namespace), what="the ManualLock gone")
    spec = lease_spec(kube, "db", namespace)
    assert spec is not None
    assert spec["holderIdentity"] == "admin"


def test_a_held_lock_survives_a_controller_restart_without_a_write(
    kube: Client, cluster: ClusterInfo, namespace: str, mlock_controller: ControllerProcess
) -> None:
    kube.create(manual_lock("freeze", namespace))
    in_phase(kube, "freeze", namespace, "Held", token=0)
    before = kube.get(Lease, "db", namespace=namespace).metadata.resourceVersion
    locked = kube.get(ManualLock, "freeze", namespace=namespace).metadata.resourceVersion
    mlock_controller.stop()
    mlock_controller.start()
    eventually(
        lambda: (
            mlock_controller.metric("zen_lead_reconcile_duration_seconds_count", controller="manuallocks")
            >= 1
        ),
        what="the restarted controller's full pass",
    )
    assert kube.get(Lease, "db", namespace=namespace).metadata.resourceVersion == before
    assert kube.get(ManualLock, "freeze", namespace=namespace).metadata.resourceVersion == locked
    assert mlock_controller.metric("zen_lead_api_requests_total", verb="patch") == 0
