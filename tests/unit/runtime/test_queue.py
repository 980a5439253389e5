"""The work queue's contract (no API involved): dedup, lanes, no concurrent processing, delays, backoff."""

from __future__ import annotations

import asyncio
import time

from hypothesis import given, settings
from hypothesis import strategies as st

from zen_lead.kube.ratelimit import Lane, TokenBucket
from zen_lead.runtime.queue import WorkQueue


async def drain(queue: WorkQueue[str]) -> list[tuple[str, Lane]]:
    taken = []
    while len(queue):
        item = await queue.get()
        taken.append((item.key, item.lane))
        queue.done(item.key)
    return taken


async def test_duplicates_collapse_and_failover_goes_first() -> None:
    queue: WorkQueue[str] = WorkQueue()
    for key in ("a", "b", "a", "c", "b"):
        queue.add(key)
    queue.add("c", Lane.FAILOVER)  # upgrade a queued routine key
    assert await drain(queue) == [("c", Lane.FAILOVER), ("a", Lane.ROUTINE), ("b", Lane.ROUTINE)]


async def test_a_key_added_while_processing_is_redone_after_done_never_concurrently() -> None:
    queue: WorkQueue[str] = WorkQueue()
    queue.add("a", since=100.0)
    item = await queue.get()
    assert item.since == 100.0
    queue.add("a", Lane.FAILOVER, since=130.0)
    queue.add("a", since=125.0)
    queue.add("a", since=140.0)
    assert len(queue) == 0  # held back while a worker has it
    queue.done(item.key)
    again = await queue.get()
    assert (again.key, again.lane) == ("a", Lane.FAILOVER)
    # the earliest trigger of the adds made while it was processed: not the processed item's, not the last
    assert again.since == 125.0


async def test_a_queued_key_keeps_the_earliest_trigger_time_of_its_adds() -> None:
    queue: WorkQueue[str] = WorkQueue()
    queue.add("a", since=50.0)
    queue.add("a", Lane.FAILOVER, since=40.0)  # an upgrade keeps the earliest time too
    queue.add("a", since=60.0)
    item = await queue.get()
    assert (item.key, item.lane, item.since) == ("a", Lane.FAILOVER, 40.0)


async def test_failovers_drained_waits_for_queued_and_in_flight_failover_keys_only() -> None:
    queue: WorkQueue[str] = WorkQueue()
    queue.add("routine")
    await asyncio.wait_for(queue.failovers_drained(), 1)  # routine work never holds it
    queue.add("a", Lane.FAILOVER)
    queue.add("routine", Lane.FAILOVER)  # upgraded while queued
    waiter = asyncio.create_task(queue.failovers_drained())
    taken = []
    for _ in range(2):
        item = await queue.get()
        taken.append(item.key)
        queue.add(item.key, Lane.FAILOVER)  # dirty while processing: still urgent after done
        queue.done(item.key)
        await asyncio.sleep(0)
        assert not waiter.done()
    for _ in range(2):
        item = await queue.get()
        await asyncio.sleep(0)
        assert not waiter.done(), f"{item.key} is still being processed"
        queue.done(item.key)
    await asyncio.wait_for(waiter, 1)
    assert taken == ["a", "routine"]


async def test_routine_keys_wait_for_failovers_in_flight_then_for_at_most_the_holdback() -> None:
    queue: WorkQueue[str] = WorkQueue(routine_holdback=0.2)
    queue.add("urgent", Lane.FAILOVER)
    queue.add("metadata")
    failover = await queue.get()
    assert failover.key == "urgent"
    waiting = asyncio.create_task(queue.get())
    await asyncio.sleep(0.05)
    assert not waiting.done()  # a failover is being processed: routine work holds back
    queue.done("urgent")
    assert (await asyncio.wait_for(waiting, 1)).key == "metadata"  # woken when it finished
    queue.done("metadata")

    queue.add("stuck", Lane.FAILOVER)
    queued_at = time.monotonic()
    queue.add("starved", since=queued_at)
    await queue.get()  # "stuck" is processed and never finishes
    # A hang guard, not a time bound: the queue's timer releases the key at queued_at + 0.2 s.
    item = await asyncio.wait_for(queue.get(), 30)
    assert item.key == "starved"
    # held back for the whole holdback (the release compares the same monotonic clock), but not for ever
    assert time.monotonic() >= queued_at + 0.2


async def test_retry_keeps_the_lane_the_key_failed_in() -> None:
    queue: WorkQueue[str] = WorkQueue(base_delay=0.01)
    queue.add("a", Lane.FAILOVER)
    item = await queue.get()
    queue.retry(item.key, item.lane)
    queue.done(item.key)
    again = await asyncio.wait_for(queue.get(), 1)
    assert (again.key, again.lane) == ("a", Lane.FAILOVER)


def scheduled_in(queue: WorkQueue[str], key: str) -> float:
    """Seconds from now until the pending delayed add of ``key`` fires (its timer, not a measurement)."""
    return queue._timers[key][0] - asyncio.get_running_loop().time()


async def test_add_after_keeps_the_earliest_time_and_fires_without_polling() -> None:
    queue: WorkQueue[str] = WorkQueue()
    queue.add_after("a", 30)
    queue.add_after("a", 0.05)
    queue.add_after("a", 20)
    assert scheduled_in(queue, "a") <= 0.05
    item = await asyncio.wait_for(queue.get(), 10)
    assert item.key == "a"
    assert "a" not in queue._timers


async def test_cancel_delayed_and_retry_backoff_grows_to_its_cap() -> None:
    queue: WorkQueue[str] = WorkQueue(base_delay=1, max_delay=4)
    queue.add_after("a", 0.01)
    queue.cancel_delayed("a")
    await asyncio.sleep(0.05)
    assert len(queue) == 0
    scheduled = []
    for _ in range(4):
        queue.retry("b")
        scheduled.append(round(scheduled_in(queue, "b")))
        queue.cancel_delayed("b")
    assert scheduled == [1, 2, 4, 4]
    queue.forget("b")
    queue.retry("b")
    assert round(scheduled_in(queue, "b")) == 1


@settings(max_examples=50, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from("abcdef"),
            st.sampled_from(list(Lane)),
            st.floats(min_value=0, max_value=1e6, allow_nan=False),
        ),
        max_size=40,
    )
)
def test_every_added_key_is_processed_exactly_once_with_its_most_urgent_lane_and_earliest_time(
    adds: list[tuple[str, Lane, float]],
) -> None:
    async def scenario() -> list[tuple[str, Lane, float]]:
        queue: WorkQueue[str] = WorkQueue()
        for key, lane, since in adds:
            queue.add(key, lane, since=since)
        taken = []
        while len(queue):
            item = await queue.get()
            taken.append((item.key, item.lane, item.since))
            queue.done(item.key)
        return taken

    taken = asyncio.run(scenario())
    keys = {key for key, _, _ in adds}
    expected = {
        key: (min(lane for k, lane, _ in adds if k == key), min(t for k, _, t in adds if k == key))
        for key in keys
    }
    assert {key: (lane, since) for key, lane, since in taken} == expected
    assert len(taken) == len(expected)
    lanes = [lane for _, lane, _ in taken]
    assert lanes == sorted(lanes)  # every failover key before every routine key


async def test_token_bucket_serves_the_failover_lane_before_routine_waiters() -> None:
    bucket = TokenBucket(qps=50, burst=1)
    await bucket.acquire()  # empty the bucket
    order: list[str] = []

    async def take(name: str, lane: Lane) -> None:
        await bucket.acquire(lane)
        order.append(name)

    routine = [asyncio.create_task(take(f"r{i}", Lane.ROUTINE)) for i in range(3)]
    await asyncio.sleep(0)
    failover = [asyncio.create_task(take(f"f{i}", Lane.FAILOVER)) for i in range(2)]
    await asyncio.gather(*routine, *failover)
    assert order[:2] == ["f0", "f1"]
    assert order[2:] == ["r0", "r1", "r2"]


async def test_token_bucket_rate() -> None:
    bucket = TokenBucket(qps=100, burst=5)
    loop = asyncio.get_running_loop()
    started = loop.time()
    for _ in range(25):
        await bucket.acquire()
    assert loop.time() - started >= 0.19  # 5 from the burst, 20 more at 100/s: it does limit
