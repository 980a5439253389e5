"""Lead, delegate or fall back: what a replica does with pending claims, from what it has seen."""

from __future__ import annotations

from enum import Enum


class Mode(Enum):
    LEADER = "leader"  # this replica holds the coordinator Lease: it processes every claim
    DELEGATE = "delegate"  # another replica led within one lease duration: leave the claims to it
    FALLBACK = "fallback"  # no leader seen, or coordination disabled: claim optimistically


def mode(
    *,
    enabled: bool,
    leading: bool,
    leader_seen_at: float | None,
    now: float,
    lease_duration: float,
) -> Mode:
    """``leader_seen_at`` is the local monotonic time this replica last saw another holder's record
    change (a renewal or a takeover), or None when it saw none or the Lease free. Delegation lasts one
    lease duration past that: the longest a live leader can go without renewing before others may
    take over."""
    if not enabled:
        return Mode.FALLBACK
    if leading:
        return Mode.LEADER
    if leader_seen_at is not None and now - leader_seen_at < lease_duration:
        return Mode.DELEGATE
    return Mode.FALLBACK
