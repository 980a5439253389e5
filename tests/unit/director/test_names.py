from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zen_lead.director.core import endpoint_slice_name, is_dns1035_label, leader_service_name

LOWER = "abcdefghijklmnopqrstuvwxyz"
ALNUM = LOWER + "0123456789"


def labels(min_middle: int, max_middle: int) -> st.SearchStrategy[str]:
    return st.builds(
        lambda first, middle, last: first + middle + last,
        st.sampled_from(LOWER),
        st.text(ALNUM + "-", min_size=min_middle, max_size=max_middle),
        st.sampled_from(ALNUM),
    )


dns1035_labels = st.sampled_from(LOWER) | labels(0, 61)


@pytest.mark.parametrize(
    ("text", "valid"),
    [
        ("web", True),
        ("a", True),
        ("web-1", True),
        ("a" * 63, True),
        ("a" * 64, False),
        ("1web", False),
        ("web-", False),
        ("-web", False),
        ("Web", False),
        ("web.leader", False),
        ("", False),
        ("web_1", False),
    ],
)
def test_dns1035(text: str, valid: bool) -> None:
    assert is_dns1035_label(text) is valid


def test_default_and_custom_names() -> None:
    assert leader_service_name("web", None) == "web-leader"
    assert leader_service_name("web", "primary") == "primary"
    assert leader_service_name("web", "web") == "web-leader"
    assert leader_service_name("web", "Not_Valid") == "web-leader"


def test_long_names_are_shortened_with_a_hash() -> None:
    source = "a" * 60
    name = leader_service_name(source, None)
    assert len(name) == 63
    assert name.startswith("a" * 54 + "-")
    assert is_dns1035_label(name)


def test_shortening_never_leaves_a_double_dash_before_the_hash() -> None:
    source = "a" * 53 + "-" + "b" * 5  # the cut falls right after the '-'
    name = leader_service_name(source, None)
    assert name.startswith("a" * 53 + "-")
    assert "--" not in name
    assert is_dns1035_label(name)


@settings(max_examples=300)
@given(dns1035_labels)
def test_leader_names_are_always_valid_and_deterministic(source: str) -> None:
    name = leader_service_name(source, None)
    assert is_dns1035_label(name)
    assert name == leader_service_name(source, None)
    assert name != source
    if len(source) + len("-leader") <= 63:
        assert name == f"{source}-leader"


@settings(max_examples=200)
@given(
    prefix=labels(55, 59),
    tails=st.lists(st.text(ALNUM, min_size=1, max_size=5), min_size=2, max_size=2, unique=True),
)
def test_long_sources_differing_only_after_the_cut_get_distinct_names(prefix: str, tails: list[str]) -> None:
    first, second = (leader_service_name(prefix + tail, None) for tail in tails)
    assert first != second
    assert first.rsplit("-", 1)[0] == second.rsplit("-", 1)[0]  # same head: only the hash differs


def test_slice_names_carry_the_family() -> None:
    assert endpoint_slice_name("web-leader", "IPv4") == "web-leader-ipv4"
    assert endpoint_slice_name("web-leader", "IPv6") == "web-leader-ipv6"
