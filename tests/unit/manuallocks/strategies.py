"""Hypothesis strategies for the manual locks' core: ManualLocks in every phase, Leases held by them, by
others, free, stale or missing, and the two clocks."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import strategies as st

from zen_lead.constants import (
    ANNOTATION_MANUAL_LOCK,
    ANNOTATION_MANUAL_LOCK_EXPIRES,
    ANNOTATION_MANUAL_LOCK_TOKEN,
    ANNOTATION_MANUAL_LOCK_UID,
)
from zen_lead.election.record import LeaseRecord, Observation
from zen_lead.kube.structs import Condition, ManualLockSpec, ManualLockStatus
from zen_lead.kube.times import format_microtime, format_time
from zen_lead.manuallocks.core.plan import EXPIRED, HELD, PENDING, RELEASED, LeaseView, LockView

WALL = 1_700_000_000.25  # epoch seconds
NOW = 5_000.0  # monotonic seconds
HOLDERS = ("ops", "ci", "worker-0")
NAMES = ("freeze", "other")


def stamp(at: float) -> str:
    return format_microtime(datetime.fromtimestamp(at, UTC))


def ours(name: str, token: int, expires: int, uid: str | None = None) -> dict[str, str]:
    return {
        ANNOTATION_MANUAL_LOCK: name,
        ANNOTATION_MANUAL_LOCK_UID: uid or f"uid-{name}",
        ANNOTATION_MANUAL_LOCK_TOKEN: str(token),
        ANNOTATION_MANUAL_LOCK_EXPIRES: format_time(expires),
    }


TTLS = st.sampled_from(["30m", "10s", "1h30m", "720h", "2h", "9s", "soon"])
EXPIRIES = st.sampled_from(
    [
        format_time(WALL + 600),
        format_time(WALL + 7200),
        format_time(WALL - 60),  # past
        format_time(WALL + 40 * 86400),  # too far
        "later",  # not a time
    ]
)


@st.composite
def specs(draw: st.DrawFn) -> ManualLockSpec:
    use_ttl = draw(st.booleans())
    return ManualLockSpec(
        lock_name=draw(st.sampled_from(["db", "db", "db", "Bad_Name"])),
        holder=draw(st.sampled_from(HOLDERS)),
        ttl=draw(TTLS) if use_ttl or draw(st.integers(0, 9)) == 0 else None,
        expires_at=draw(EXPIRIES) if not use_ttl or draw(st.integers(0, 9)) == 0 else None,
        release=draw(st.integers(0, 5)) == 0,
    )


@st.composite
def statuses(draw: st.DrawFn, generation: int) -> ManualLockStatus:
    phase = draw(st.sampled_from([None, PENDING, HELD, EXPIRED, RELEASED]))
    held_at = draw(st.integers(-7200, 0)) + int(WALL)
    token = draw(st.none() | st.integers(0, 8)) if phase is not None else None
    reason = draw(st.sampled_from(["Acquired", "HeldByOther", "InvalidSpec", "Expired", "Released"]))
    return ManualLockStatus(
        phase=phase,
        token=token,
        acquired_at=format_time(held_at) if token is not None else None,
        expires_at=format_time(held_at + draw(st.sampled_from([600, 3600, 9000])))
        if token is not None
        else None,
        message=draw(st.sampled_from([None, "something"])),
        observed_generation=draw(st.sampled_from([generation, generation - 1])),
        conditions=(Condition("Held", draw(st.sampled_from(["True", "False"])), reason, "m", generation),)
        if phase is not None
        else (),
    )


@st.composite
def locks(draw: st.DrawFn, name: str | None = None) -> LockView:
    name = name or draw(st.sampled_from(NAMES))
    generation = draw(st.integers(1, 3))
    return LockView(
        name=name,
        uid=f"uid-{name}",
        generation=generation,
        spec=draw(specs()),
        status=draw(statuses(generation)),
        deleting=draw(st.integers(0, 6)) == 0,
    )


@st.composite
def leases(draw: st.DrawFn) -> LeaseView | None:
    if draw(st.integers(0, 4)) == 0:
        return None
    holder = draw(st.sampled_from(["", *HOLDERS]))
    transitions = draw(st.integers(0, 8))
    acquired = int(WALL) - draw(st.integers(0, 7200))
    duration = draw(st.sampled_from([1, 15, 600, 3600]))
    record = LeaseRecord(holder, duration, stamp(acquired), stamp(acquired), transitions)
    kind = draw(st.sampled_from(["ours", "ours", "other-lock", "stale-token", "foreign-uid", "none"]))
    expires = acquired + draw(st.sampled_from([600, 3600, 9000]))
    annotations: dict[str, str] = {}
    if kind == "ours":
        annotations = ours(draw(st.sampled_from(NAMES)), transitions, expires)
    elif kind == "other-lock":
        annotations = ours("someone-else", transitions, expires)
    elif kind == "stale-token":
        annotations = ours(draw(st.sampled_from(NAMES)), transitions - 1, expires)
    elif kind == "foreign-uid":
        annotations = ours(draw(st.sampled_from(NAMES)), transitions, expires, uid="uid-recreated")
    seen_for = draw(st.sampled_from([0.0, 5.0, 14.0, 16.0, 599.0, 601.0, 3601.0]))
    observation = Observation(record, str(draw(st.integers(1, 99))), NOW - seen_for)
    return LeaseView(observation, annotations)
