from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zen_lead.director.core import parse_duration
from zen_lead.director.core.durations import UNIT_SECONDS


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("0", 0.0),
        ("500ms", 0.5),
        ("30s", 30.0),
        ("1m", 60.0),
        ("1h", 3600.0),
        ("1m30s", 90.0),
        ("1h2m3s", 3723.0),
        ("1.5s", 1.5),
        (".5s", 0.5),
        ("1.s", 1.0),
        ("250us", 250e-6),
        ("250\u00b5s", 250e-6),
        ("250\u03bcs", 250e-6),
        ("100ns", 100e-9),
        ("+5s", 5.0),
        ("-2s", -2.0),
        (" 2s ", 2.0),
    ],
)
def test_go_durations(text: str, seconds: float) -> None:
    result = parse_duration(text)
    assert result is not None
    assert math.isclose(result, seconds, rel_tol=1e-12)


@pytest.mark.parametrize(
    "text", ["", "1", "s", ".s", "1 s", "1d", "1e3s", "ms", "1m 30s", "--1s", "5S", "1.2.3s"]
)
def test_invalid_durations(text: str) -> None:
    assert parse_duration(text) is None


components = st.lists(
    st.tuples(
        st.integers(0, 10_000) | st.decimals(0, 10_000, places=3, allow_nan=False, allow_infinity=False),
        st.sampled_from(sorted(UNIT_SECONDS)),
    ),
    min_size=1,
    max_size=4,
)


@settings(max_examples=200)
@given(parts=components, negative=st.booleans())
def test_generated_durations_round_trip(parts: list[tuple[object, str]], negative: bool) -> None:
    text = ("-" if negative else "") + "".join(f"{number}{unit}" for number, unit in parts)
    expected = math.fsum(float(str(number)) * UNIT_SECONDS[unit] for number, unit in parts)
    result = parse_duration(text)
    assert result is not None
    assert math.isclose(result, -expected if negative else expected, rel_tol=1e-9, abs_tol=1e-12)


@given(st.text(max_size=30))
def test_parsing_never_raises(text: str) -> None:
    parse_duration(text)
