"""What docs/election.md claims about the elector's writes and timing that no other test checks:

- without the watch (``watch=False``) a standby takes a released Lease at its next jittered retry,
  ``<= (1 + 1.2) x retry_period`` after the release;
- a renewal that meets 409 Conflict because someone else changed the Lease's metadata re-reads it,
  sees the tenure is still ours, and renews (no step-down, same token);
- labels and annotations someone else put on the Lease survive our writes (merge patches, not PUT).
  (The spec fields the elector does not know, ``strategy`` and ``preferredHolder``, cannot be checked
  here: this apiserver drops them, its CoordinatedLeaderElection feature gate being off.)

The electors run in this process, on the real apiserver; the Lease is observed through an independent
watch (``harness.LeaseWatch``).
"""

from __future__ import annotations

import asyncio
import time

import pytest
from lightkube import AsyncClient

from tests.cluster.election.checks import assert_handed_over_by_release, wall
from tests.cluster.election.harness import LeaseWatch, RawLease
from zen_lead.election import LeaderElector, Leadership, LeaseRef, Timing
from zen_lead.kube.client import ApiClient
from zen_lead.kube.metrics import API_REQUESTS
from zen_lead.localcluster import ClusterInfo

pytestmark = pytest.mark.cluster


class Candidate:
    """An in-process elector that notes when it led and when its work was cancelled."""

    def __init__(
        self, name: str, identity: str, *, namespace: str, client: ApiClient, **kwargs: object
    ) -> None:
        self.identity = identity
        self.leading = asyncio.Event()
        self.led_at: list[float] = []
        self.tokens: list[int] = []
        self.cancelled: list[float] = []
        self.seen_leader = asyncio.Event()

        async def lead(leadership: Leadership) -> None:
            self.led_at.append(time.monotonic())
            self.tokens.append(leadership.token.transitions)
            self.leading.set()
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                self.cancelled.append(time.monotonic())
                raise

        self.elector = LeaderElector(
            LeaseRef(name, namespace, client=client),
            identity=identity,
            on_started_leading=lead,
            on_new_leader=lambda holder: self.seen_leader.set(),
            **kwargs,  # type: ignore[arg-type]
        )
        self.task = asyncio.create_task(self.elector.run())

    async def stop(self) -> None:
        self.elector.stop()
        await asyncio.wait_for(self.task, 30)


async def test_without_the_watch_a_standby_takes_a_released_lease_at_its_next_retry(
    cluster: ClusterInfo, namespace: str, aclient: AsyncClient, api: ApiClient
) -> None:
    # retry 1 s, so that a whole second of margin stays below the lease duration: the bound is
    # (1 + 1.2) x 1 s = 2.2 s after the release, plus one read and one write; 2.2 + 1 s < lease 6 s.
    timing = Timing(lease_duration=6, renew_deadline=4, retry_period=1)
    bound = timing.retry_period * (1 + timing.jitter_factor)
    async with LeaseWatch(aclient, namespace, "nowatch") as watch:
        leader = Candidate("nowatch", "leader", namespace=namespace, client=api, timing=timing)
        await asyncio.wait_for(leader.leading.wait(), 30)
        standby = Candidate("nowatch", "standby", namespace=namespace, client=api, timing=timing, watch=False)
        try:
            await asyncio.wait_for(standby.seen_leader.wait(), 30)
            await leader.stop()  # releases the Lease
            released = await watch.wait_for(lambda c: c.holder == "", within=10)
            await asyncio.wait_for(standby.leading.wait(), 30)  # a hang guard; the bound is checked below
            took = standby.led_at[0] - released.t
            assert took <= bound + 1.0, f"took the released Lease {took:.2f}s after the release"
            await watch.wait_for(lambda c: c.holder == "standby", within=10)
            assert_handed_over_by_release(watch.changes, old="leader", new="standby", lease_duration=6)
        finally:
            await standby.stop()
            await leader.stop()


async def test_a_conflict_from_a_metadata_change_is_reread_and_the_metadata_survives(
    cluster: ClusterInfo, namespace: str, aclient: AsyncClient, api: ApiClient
) -> None:
    timing = Timing(lease_duration=4, renew_deadline=3, retry_period=0.5)
    conflicts = API_REQUESTS.labels("patch", "leases", "409")
    conflicts_before = conflicts._value.get()
    async with LeaseWatch(aclient, namespace, "shared-meta") as watch:
        leader = Candidate("shared-meta", "leader", namespace=namespace, client=api, timing=timing)
        try:
            await asyncio.wait_for(leader.leading.wait(), 30)
            patched = await aclient.patch(
                RawLease,
                "shared-meta",
                {"metadata": {"labels": {"team": "payments"}, "annotations": {"example.com/owner": "ops"}}},
                namespace=namespace,
            )
            changed_at = wall(dict(patched)["spec"]["renewTime"])
            # two renewals after the change: the first met 409 (its resourceVersion was stale) and retried
            for _ in range(2):
                renewed = await watch.wait_for(
                    lambda c, since=changed_at: c.holder == "leader" and wall(c.spec["renewTime"]) > since,
                    within=10,
                )
                changed_at = wall(renewed.spec["renewTime"])
            lease = dict(await aclient.get(RawLease, "shared-meta", namespace=namespace))
            assert lease["metadata"]["labels"] == {"team": "payments"}
            assert lease["metadata"]["annotations"] == {"example.com/owner": "ops"}
            # the same tenure throughout: no step-down, no new token
            assert leader.cancelled == []
            assert leader.tokens == [lease["spec"]["leaseTransitions"]]
            assert leader.elector.is_leader
            assert conflicts._value.get() > conflicts_before  # the conflict happened (a 409 was answered)
        finally:
            await leader.stop()
