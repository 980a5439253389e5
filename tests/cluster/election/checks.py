"""Assertions shared by the election cluster tests: no overlapping tenures, lawful takeovers."""

from __future__ import annotations

import itertools
import math
import re
from datetime import datetime
from typing import Any

from tests.cluster.election.harness import GAP, Change, Proc

MICROTIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
SPEC_FIELDS = {"holderIdentity", "leaseDurationSeconds", "acquireTime", "renewTime", "leaseTransitions"}


def tenures(procs: list[Proc], *, died: dict[str, float]) -> list[tuple[float, float, str, int]]:
    """(start, end, process, token) of every tenure, from each process's own stamps.

    A tenure starts when the work is entered and ends when the work receives its cancellation; a
    process killed while leading ends it at the kill time (``died``).
    """
    out = []
    for proc in procs:
        ends = [e["t"] for e in proc.named("work cancelled")]
        for start in proc.named("became leader"):
            end = next((t for t in ends if t >= start["t"]), died.get(proc.name, math.inf))
            out.append((start["t"], end, proc.name, int(start["token"])))
    return sorted(out)


def assert_no_overlap(spans: list[tuple[float, float, str, int]]) -> None:
    for before, after in itertools.pairwise(spans):
        assert after[0] >= before[1], f"two leaders at once: {before} overlaps {after}"
        assert after[3] > before[3], f"fencing token did not increase: {before} then {after}"


def wall(text: str) -> datetime:
    return datetime.fromisoformat(text)


def assert_lawful_history(changes: list[Change], *, lease_duration: float) -> int:
    """Every holder change in the watched history is lawful; return the number of takeovers checked.

    - ``leaseTransitions`` never decreases and grows with every new tenure;
    - a tenure that ends without a release is taken over only after the new holder could have seen
      the old record unchanged for the lease duration: ``acquireTime(new) - renewTime(last of old)
      >= leaseDurationSeconds``. Both stamps come from this machine's wall clock, and each was taken
      on the far side of the interval it bounds, so this holds exactly, without tolerance.
    """
    takeovers = 0
    previous: Change | None = None
    for change in changes:
        assert change.type != GAP, "the Lease watch missed changes (410 Gone): the history is incomplete"
        if change.type == "DELETED" or not change.spec:
            previous = None
            continue
        if previous is not None:
            assert change.transitions >= previous.transitions, (
                f"transitions went down: {previous} -> {change}"
            )
            if change.transitions > previous.transitions:
                assert change.holder, f"a new tenure without a holder: {change}"
                if previous.holder:  # not released: a takeover after expiry
                    gap = (
                        wall(change.spec["acquireTime"]) - wall(previous.spec["renewTime"])
                    ).total_seconds()
                    assert gap >= lease_duration, (
                        f"{change.holder} took over from {previous.holder} {gap:.3f}s after its last "
                        f"renewal, before the {lease_duration}s lease ran out"
                    )
                    takeovers += 1
            else:
                assert change.holder in ("", previous.holder), (
                    f"holder changed without a new tenure: {change}"
                )
        previous = change
    return takeovers


def assert_client_go_shape(spec: dict[str, Any], *, holder: str, lease_duration: int) -> None:
    """The Lease spec has every field client-go reads, with client-go's types and MicroTime format."""
    assert set(spec) >= SPEC_FIELDS, f"missing fields: {SPEC_FIELDS - set(spec)}"
    assert spec["holderIdentity"] == holder
    assert spec["leaseDurationSeconds"] == lease_duration
    assert isinstance(spec["leaseDurationSeconds"], int)
    assert isinstance(spec["leaseTransitions"], int)
    assert spec["leaseTransitions"] >= 0
    for key in ("acquireTime", "renewTime"):
        assert MICROTIME.match(spec[key]), f"{key} {spec[key]!r} is not a MicroTime"
    assert wall(spec["renewTime"]) >= wall(spec["acquireTime"])


def owned_spec_fields(lease: dict[str, Any], manager: str) -> set[str]:
    """The spec fields ``manager`` wrote last (server-side field ownership, from managedFields)."""
    for entry in lease["metadata"].get("managedFields") or []:
        if entry.get("manager") == manager:
            return {key[2:] for key in (entry.get("fieldsV1") or {}).get("f:spec", {})}
    return set()


def assert_handed_over_by_release(
    changes: list[Change], *, old: str, new: str, lease_duration: float
) -> float:
    """``new``'s tenure followed ``old``'s through a release record, inside ``old``'s lease; return the gap.

    In the watched history the first record naming ``new`` comes right after an empty holder (the
    release), and its ``acquireTime`` lies less than a lease duration after ``old``'s last renewal:
    ``new`` did not wait for the lease to run out, which it would have to do without the release (then
    the gap is at least the lease duration, see ``assert_lawful_history``)."""
    first_new = next(i for i, c in enumerate(changes) if c.holder == new)
    assert first_new > 0, f"no record before {new}'s tenure"
    released = changes[first_new - 1]
    assert released.type != GAP, "the Lease watch missed changes (410 Gone): the history is incomplete"
    assert released.holder == "", f"{new} did not take a released record: {released}"
    last_old = [c for c in changes[:first_new] if c.holder == old][-1]
    gap = (wall(changes[first_new].spec["acquireTime"]) - wall(last_old.spec["renewTime"])).total_seconds()
    assert gap < lease_duration, (
        f"{new} took over {gap:.3f}s after {old}'s last renewal: it waited for expiry"
    )
    return gap
