"""The coordinator's command-line flags, for any controller: click and argparse helpers.

The flags and defaults are the seed's and stay as users write them::

    --enable-claim-coordinator-leader-election   (default false)
    --claim-coordinator-lease-duration=15s
    --claim-coordinator-renew-deadline=10s
    --claim-coordinator-retry-period=2s

Durations are Go's (``15s``, ``1m30s``, ``500ms``, ``1.5h``) or bare seconds. The timing is validated
with the elector's own rules (``lease duration > renew deadline > 1.2 x retry period``, whole
seconds of lease), and a rejection names the flag and the rule.
"""

from __future__ import annotations

import argparse
import functools
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import click

from zen_lead.election.record import JITTER_FACTOR, Timing, timing_problems

ENABLE = "--enable-claim-coordinator-leader-election"
LEASE_DURATION = "--claim-coordinator-lease-duration"
RENEW_DEADLINE = "--claim-coordinator-renew-deadline"
RETRY_PERIOD = "--claim-coordinator-retry-period"
DEFAULTS = {LEASE_DURATION: "15s", RENEW_DEADLINE: "10s", RETRY_PERIOD: "2s"}
_FIELD_FLAGS = {
    "lease_duration": LEASE_DURATION,
    "renew_deadline": RENEW_DEADLINE,
    "retry_period": RETRY_PERIOD,
}

_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
F = TypeVar("F", bound=Callable[..., Any])


class ClaimOptionError(ValueError):
    """A flag value or combination the coordinator refuses; the message names the flag and the rule."""


def parse_duration(flag: str, text: str) -> float:
    """Seconds from a Go duration (``1m30s``) or a bare number of seconds; a precise error otherwise."""
    value = text.strip()
    try:
        seconds = float(value)
    except ValueError:
        pos, seconds = 0, 0.0
        if not value:
            raise ClaimOptionError(f"{flag}: a duration is required (e.g. 15s)") from None
        while pos < len(value):
            found = _PART.match(value, pos)
            if found is None:
                raise ClaimOptionError(
                    f"{flag}={text!r} is not a duration: use a number with a unit of ns, us, ms, s, m or h "
                    "(e.g. 15s, 1m30s, 500ms)"
                ) from None
            seconds += float(found.group(1)) * _UNITS[found.group(2)]
            pos = found.end()
    if not math.isfinite(seconds) or seconds <= 0:
        raise ClaimOptionError(f"{flag}={text!r}: the duration must be greater than zero")
    return seconds


@dataclass(frozen=True, slots=True)
class ClaimCoordinatorOptions:
    enabled: bool = False
    timing: Timing = field(default_factory=Timing)

    @classmethod
    def from_flags(
        cls, *, enabled: bool, lease_duration: str, renew_deadline: str, retry_period: str
    ) -> ClaimCoordinatorOptions:
        """Parse and validate; ``ClaimOptionError`` names each broken flag and rule."""
        values = {
            "lease_duration": parse_duration(LEASE_DURATION, lease_duration),
            "renew_deadline": parse_duration(RENEW_DEADLINE, renew_deadline),
            "retry_period": parse_duration(RETRY_PERIOD, retry_period),
        }
        try:
            timing = Timing(**values)
        except ValueError:
            problems = timing_problems(_unchecked(values))
            raise ClaimOptionError("; ".join(_with_flags(p) for p in problems)) from None
        return cls(enabled=enabled, timing=timing)


@dataclass(frozen=True, slots=True)
class _Values:
    """The fields ``timing_problems`` reads, without ``Timing``'s own validation."""

    lease_duration: float
    renew_deadline: float
    retry_period: float
    jitter_factor: float = JITTER_FACTOR
    api_timeout: float | None = None


def _unchecked(values: dict[str, float]) -> Timing:
    return _Values(**values)  # type: ignore[return-value]  # duck-typed: timing_problems reads fields


def _with_flags(problem: str) -> str:
    """The elector's rule, with its field names replaced by the flags a user typed."""
    for name, flag in _FIELD_FLAGS.items():
        problem = problem.replace(name, flag)
    return problem


# ---- click ------------------------------------------------------------------------------------------
def claim_coordinator_click_options(command: F) -> F:
    """Add the four flags to a click command; it receives ``claim_coordinator`` (the parsed options).

    Bad values fail as click usage errors (exit code 2) naming the flag and the rule."""

    options = [
        click.option(
            ENABLE, "claim_enable", is_flag=True, default=False, help="Coordinate claims by a leader."
        ),
        click.option(
            LEASE_DURATION, "claim_lease_duration", default=DEFAULTS[LEASE_DURATION], show_default=True
        ),
        click.option(
            RENEW_DEADLINE, "claim_renew_deadline", default=DEFAULTS[RENEW_DEADLINE], show_default=True
        ),
        click.option(RETRY_PERIOD, "claim_retry_period", default=DEFAULTS[RETRY_PERIOD], show_default=True),
    ]

    @functools.wraps(command)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        try:
            kwargs["claim_coordinator"] = ClaimCoordinatorOptions.from_flags(
                enabled=kwargs.pop("claim_enable"),
                lease_duration=kwargs.pop("claim_lease_duration"),
                renew_deadline=kwargs.pop("claim_renew_deadline"),
                retry_period=kwargs.pop("claim_retry_period"),
            )
        except ClaimOptionError as error:
            raise click.UsageError(str(error)) from None
        return command(*args, **kwargs)

    for option in reversed(options):
        wrapped = option(wrapped)
    return wrapped  # type: ignore[return-value]


# ---- argparse ---------------------------------------------------------------------------------------
def add_claim_coordinator_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the four flags to an argparse parser; read them back with ``claim_coordinator_options``."""
    parser.add_argument(ENABLE, dest="claim_enable", action="store_true", default=False)
    parser.add_argument(LEASE_DURATION, dest="claim_lease_duration", default=DEFAULTS[LEASE_DURATION])
    parser.add_argument(RENEW_DEADLINE, dest="claim_renew_deadline", default=DEFAULTS[RENEW_DEADLINE])
    parser.add_argument(RETRY_PERIOD, dest="claim_retry_period", default=DEFAULTS[RETRY_PERIOD])


def claim_coordinator_options(
    args: argparse.Namespace, parser: argparse.ArgumentParser | None = None
) -> ClaimCoordinatorOptions:
    """The parsed options; with ``parser``, a bad value ends the program as argparse does (exit 2)."""
    try:
        return ClaimCoordinatorOptions.from_flags(
            enabled=args.claim_enable,
            lease_duration=args.claim_lease_duration,
            renew_deadline=args.claim_renew_deadline,
            retry_period=args.claim_retry_period,
        )
    except ClaimOptionError as error:
        if parser is None:
            raise
        parser.error(str(error))
