from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from zen_lead.kube.times import format_microtime, format_time, is_microtime, parse_time

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
    assert parse_time(text) == pytest.approx(expected)


@pytest.mark.parametrize(
    "text", [None, "", "yesterday", "2024-13-01T00:00:00Z", "2024-01-01T00:00:00+99:00", "2024-01-01"]
)
def test_unreadable_times_are_none(text: str | None) -> None:
    assert parse_time(text) is None


@given(st.integers(0, 4_000_000_000))
def test_format_and_parse_round_trip(seconds: int) -> None:
    assert parse_time(format_time(seconds)) == seconds


@given(st.text(max_size=40))
def test_parsing_never_raises(text: str) -> None:
    parse_time(text)


moments = st.datetimes(
    min_value=datetime(1970, 1, 2), max_value=datetime(9998, 12, 31), timezones=st.just(UTC)
) | st.datetimes(
    min_value=datetime(1970, 1, 2),
    max_value=datetime(9998, 12, 31),
    timezones=st.builds(lambda m: timezone(timedelta(minutes=m)), st.integers(-12 * 60, 14 * 60)),
)


# ---- MicroTime ------------------------------------------------------------------------------------
@given(moments)
def test_microtime_always_has_six_digits_and_utc_z_and_round_trips(moment: datetime) -> None:
    text = format_microtime(moment)
    assert is_microtime(text), text
    assert parse_time(text) == pytest.approx(moment.timestamp(), abs=1e-6)


def test_microtime_keeps_zero_microseconds_which_the_apiserver_requires() -> None:
    assert format_microtime(datetime(2024, 1, 1, tzinfo=UTC)) == "2024-01-01T00:00:00.000000Z"


def test_microtime_refuses_naive_datetimes() -> None:
    with pytest.raises(ValueError, match="aware"):
        format_microtime(datetime(2024, 1, 1))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-01-01T00:00:00Z", datetime(2024, 1, 1, tzinfo=UTC)),
        ("2024-01-01T00:00:00.5Z", datetime(2024, 1, 1, 0, 0, 0, 500000, tzinfo=UTC)),
        ("2024-01-01T02:00:00.000001+02:00", datetime(2024, 1, 1, 0, 0, 0, 1, tzinfo=UTC)),
    ],
)
def test_parse_accepts_what_others_may_write(text: str, expected: datetime) -> None:
    assert parse_time(text) == pytest.approx(expected.timestamp(), abs=1e-6)
