from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from zen_lead.director.core import format_timestamp, parse_timestamp

EPOCH_2024 = 1_704_067_200.0  # 2024-01-01T00:00:00Z


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-01-01T00:00:00Z", EPOCH_2024),
        ("2024-01-01t00:00:00z", EPOCH_2024),
        ("2024-01-01 00:00:00Z", EPOCH_2024),
        ("2024-01-01T00:00:00", EPOCH_2024),
        ("2024-01-01T00:00:00.250000Z", EPOCH_2024 + 0.25),
        ("2024-01-01T00:00:00.5Z", EPOCH_2024 + 0.5),
        ("2024-01-01T02:00:00+02:00", EPOCH_2024),
        ("2023-12-31T23:30:00-00:30", EPOCH_2024),
    ],
)
def test_rfc3339_variants(text: str, expected: float) -> None:
    assert parse_timestamp(text) == pytest.approx(expected)


@pytest.mark.parametrize(
    "text", [None, "", "yesterday", "2024-13-01T00:00:00Z", "2024-01-01T00:00:00+99:00", "2024-01-01"]
)
def test_unreadable_times_are_none(text: str | None) -> None:
    assert parse_timestamp(text) is None


@given(st.integers(0, 4_000_000_000))
def test_format_and_parse_round_trip(seconds: int) -> None:
    assert parse_timestamp(format_timestamp(seconds)) == seconds


@given(st.text(max_size=40))
def test_parsing_never_raises(text: str) -> None:
    parse_timestamp(text)
