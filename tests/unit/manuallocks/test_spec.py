"""The spec's rules: Go durations parsed as Go parses them, every problem naming its field, the expiry a
spec asks for in whole seconds."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from zen_lead.kube.structs import ManualLockSpec
from zen_lead.kube.times import format_time
from zen_lead.manuallocks.core.spec import (
    MAX_TTL,
    MIN_TTL,
    expiry,
    expiry_problems,
    parse_duration,
    spec_problems,
    ttl_seconds,
)

UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
NOW = 1_700_000_000.0


@st.composite
def durations(draw: st.DrawFn) -> tuple[str, float]:
    parts = draw(
        st.lists(st.tuples(st.integers(0, 10_000), st.sampled_from(sorted(UNITS))), min_size=1, max_size=4)
    )
    fraction = draw(st.sampled_from(["", ".5", ".25"]))
    text = "".join(f"{n}{unit}" for n, unit in parts[:-1])
    n, unit = parts[-1]
    text += f"{n}{fraction}{unit}"
    seconds = sum(n * UNITS[unit] for n, unit in parts[:-1]) + float(f"{n}{fraction}") * UNITS[unit]
    return text, seconds


@given(durations(), st.sampled_from(["", "+", "-"]))
def test_go_durations_parse_to_their_seconds(case: tuple[str, float], sign: str) -> None:
    text, seconds = case
    parsed = parse_duration(sign + text)
    assert parsed is not None
    assert math.isclose(parsed, -seconds if sign == "-" else seconds, rel_tol=1e-9, abs_tol=1e-12)


@pytest.mark.parametrize(
    "text", ["", "10", "1d", "h", "1 h", "1h 30m", ".h", "1.5", "1hh", "--1s", "1e3s", "P1D"]
)
def test_what_go_refuses_is_refused(text: str) -> None:
    assert parse_duration(text) is None


@pytest.mark.parametrize(("text", "seconds"), [("0", 0.0), ("90s", 90.0), ("1h30m", 5400.0), ("1.h", 3600.0)])
def test_examples(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


def spec(**fields: object) -> ManualLockSpec:
    return ManualLockSpec(**{"lock_name": "db", "holder": "ops", "ttl": "30m", **fields})  # type: ignore[arg-type]


def test_a_valid_spec_has_no_problem() -> None:
    assert spec_problems(spec()) == []
    assert spec_problems(spec(ttl=None, expires_at="2030-01-01T00:00:00Z")) == []


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"lock_name": "Not_A_Label"}, "spec.lockName"),
        ({"lock_name": "x" * 64}, "spec.lockName"),
        ({"holder": ""}, "spec.holder"),
        ({"holder": "h" * 129}, "spec.holder"),
        ({"reason": "r" * 1025}, "spec.reason"),
        ({"ttl": None}, "exactly one of spec.ttl and spec.expiresAt"),
        ({"expires_at": "2030-01-01T00:00:00Z"}, "exactly one of spec.ttl and spec.expiresAt"),
        ({"ttl": "half an hour"}, "spec.ttl: 'half an hour' is not a Go duration"),
        ({"ttl": "9s"}, "spec.ttl: '9s' is out of range"),
        ({"ttl": "721h"}, "spec.ttl: '721h' is out of range"),
        ({"ttl": "-1h"}, "spec.ttl: '-1h' is out of range"),
        ({"ttl": None, "expires_at": "tomorrow"}, "spec.expiresAt: 'tomorrow' is not an RFC 3339 time"),
    ],
)
def test_each_problem_names_its_field_and_rule(fields: dict[str, object], field: str) -> None:
    [problem] = spec_problems(spec(**fields))
    assert field in problem


@given(st.integers(MIN_TTL * 1000, MAX_TTL * 1000), st.integers(0, 2_000_000_000))
def test_a_ttl_counts_whole_seconds_from_the_acquisition(millis: int, acquired: int) -> None:
    text = f"{millis}ms"
    ttl = ttl_seconds(spec(ttl=text))
    assert ttl == math.ceil(millis / 1000)
    assert expiry(spec(ttl=text), acquired_at=acquired) == acquired + ttl


@given(st.integers(1_000_000_000, 2_000_000_000), st.sampled_from(["", ".5", ".999999"]))
def test_an_expiry_time_is_taken_down_to_its_second(at: int, fraction: str) -> None:
    stamp = format_time(at).replace("Z", f"{fraction}Z")
    assert expiry(spec(ttl=None, expires_at=stamp), acquired_at=0) == at


def test_an_expiry_in_the_past_or_beyond_30_days_is_a_problem_of_its_field() -> None:
    at = spec(ttl=None, expires_at="2030-01-01T00:00:00Z")
    [past] = expiry_problems(at, until=int(NOW) - 1, wall=NOW)
    assert past.startswith("spec.expiresAt:")
    assert "in the past" in past
    [far] = expiry_problems(at, until=int(NOW) + MAX_TTL + 1, wall=NOW)
    assert far.startswith("spec.expiresAt:")
    assert "30 days" in far
    assert expiry_problems(at, until=int(NOW) + MAX_TTL, wall=NOW) == []
