"""Properties of the client's pure core: conversion, the loss rule, backoff, the term filter, the
plaintext rule, credentials."""

from __future__ import annotations

import ipaddress
import itertools
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from zen_lead.api.pb import zenlead_pb2 as pb
from zen_lead.client import core
from zen_lead.client.auth import TOKEN_REFRESH, Tls, TokenSource
from zen_lead.client.core import (
    Backoff,
    Kind,
    LockFence,
    LockTiming,
    TermFilter,
    backoff_delay,
    is_loopback,
    leader_state_from_proto,
    lock_from_proto,
)
from zen_lead.client.errors import (
    ApiError,
    PermissionDeniedError,
    UnauthenticatedError,
    UnavailableError,
    api_error,
)

texts = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", max_size=20)
terms = st.integers(min_value=0, max_value=2**40)
instants = st.datetimes(
    min_value=datetime(1971, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
)


# ---- conversion ------------------------------------------------------------------------------
def test_kinds_are_the_protos_numbers_and_names() -> None:
    assert {kind.name: kind.value for kind in Kind} == {
        name.removeprefix("KIND_"): number for name, number in pb.Kind.items() if name != "KIND_UNSPECIFIED"
    }
    assert Kind.of("Pool") is Kind.POOL
    assert Kind.of(Kind.LEASE) is Kind.LEASE
    with pytest.raises(ValueError, match="unknown kind"):
        Kind.of("deployment")


@given(
    kind=st.sampled_from(list(Kind)),
    name=texts,
    has_leader=st.booleans(),
    identity=texts,
    term=terms,
    since=st.none() | instants,
    stale=st.booleans(),
    stale_seconds=st.floats(min_value=0, max_value=1e6),
)
def test_a_leader_state_converts_field_by_field(
    kind: Kind,
    name: str,
    has_leader: bool,
    identity: str,
    term: int,
    since: datetime | None,
    stale: bool,
    stale_seconds: float,
) -> None:
    message = pb.LeaderState(
        target=pb.Target(kind=kind.value, namespace="ns", name=name),
        exists=True,
        has_leader=has_leader,
        leader=pb.Leader(identity=identity, pod=identity, uid="u", pod_ip="10.1.2.3", node="n"),
        term=term,
        no_leader_reason="" if has_leader else "released",
        stale=stale,
        stale_seconds=stale_seconds,
        served_by="replica-1",
    )
    if since is not None:
        message.since.FromDatetime(since)
    state = leader_state_from_proto(message)
    assert state.target == core.Target(kind=kind, namespace="ns", name=name)
    assert state.has_leader is has_leader
    assert state.leader == (core.Leader(identity, identity, "u", "10.1.2.3", "n") if has_leader else None)
    assert (state.term, state.stale, state.stale_seconds, state.served_by) == (
        term,
        stale,
        stale_seconds,
        "replica-1",
    )
    assert state.since == since
    assert state.no_leader_reason == ("" if has_leader else "released")


@given(token=terms, acquired=st.none() | instants, held=st.booleans())
def test_a_lock_converts_field_by_field(token: int, acquired: datetime | None, held: bool) -> None:
    message = pb.Lock(
        namespace="ns", name="l", held=held, holder="h", token=token, ttl_seconds=30, owner="sa"
    )
    if acquired is not None:
        message.acquired.FromDatetime(acquired)
    info = lock_from_proto(message)
    assert (info.namespace, info.name, info.held, info.holder, info.token, info.ttl_seconds, info.owner) == (
        "ns",
        "l",
        held,
        "h",
        token,
        30,
        "sa",
    )
    assert info.acquired == acquired
    assert info.renewed is None


# ---- the loss rule ---------------------------------------------------------------------------
@given(ttl=st.integers(min_value=core.TTL_MIN, max_value=core.TTL_MAX))
def test_lock_timing_follows_the_ttl(ttl: int) -> None:
    timing = LockTiming(ttl)
    assert timing.renew_interval == pytest.approx(ttl / 6)
    assert timing.renew_deadline == pytest.approx(2 * ttl / 3)
    # a silent stream is given up with a third of the ttl left to resume with Renew
    assert timing.renew_deadline - timing.stream_silence == pytest.approx(ttl / 3)


@pytest.mark.parametrize("ttl", [0, 1, 3601, 2.5, True, "30"])
def test_lock_timing_refuses_ttls_the_server_refuses(ttl: object) -> None:
    with pytest.raises(ValueError, match="ttl must be whole seconds"):
        LockTiming(ttl)  # type: ignore[arg-type]


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@given(
    ttl=st.integers(min_value=2, max_value=3600),
    # renewals: (started at, seconds after the previous one's start), possibly answered out of order
    steps=st.lists(st.floats(min_value=0, max_value=5000), max_size=20),
    order=st.randoms(use_true_random=False),
    probe=st.floats(min_value=0, max_value=20000),
)
def test_the_fence_is_valid_exactly_until_two_thirds_ttl_after_the_latest_renewal_start(
    ttl: int, steps: list[float], order: object, probe: float
) -> None:
    clock = Clock()
    timing = LockTiming(ttl)
    fence = LockFence(
        namespace="ns", name="l", holder="h", token=7, timing=timing, acquire_started=0.0, clock=clock
    )
    starts, at = [], 0.0
    for step in steps:
        at += step
        starts.append(at)
    answered = list(starts)
    order.shuffle(answered)  # type: ignore[attr-defined]
    deadlines = []
    for started in answered:
        fence.renewed(started)
        deadlines.append(fence.deadline)
    assert deadlines == sorted(deadlines), "the deadline moved backwards"
    expected = max([0.0, *starts]) + 2 * ttl / 3
    assert fence.deadline == pytest.approx(expected)
    clock.now = probe
    assert fence.valid() is (probe < fence.deadline)
    fence.lose("taken")
    fence.renewed(probe + 1)  # a late answer after the loss revives nothing
    assert not fence.valid()
    assert fence.lost_reason == "taken"


def test_the_deadline_counts_from_the_start_of_a_renewal_not_its_answer() -> None:
    clock = Clock()
    fence = LockFence(
        namespace="ns", name="l", holder="h", token=1, timing=LockTiming(30), acquire_started=0.0, clock=clock
    )
    clock.now = 9.0  # the answer to a renewal sent at 5.0 arrives at 9.0
    fence.renewed(5.0)
    clock.now = 24.9
    assert fence.valid()
    clock.now = 25.0  # 5 + 20, not 9 + 20
    assert not fence.valid()


@given(remaining=st.none() | st.floats(min_value=-100, max_value=1e6))
def test_one_acquire_waits_what_is_left_but_never_more_than_the_server_allows(
    remaining: float | None,
) -> None:
    wait = core.acquire_wait(remaining)
    assert 0 <= wait <= core.WAIT_PER_CALL_MAX
    if remaining is not None and 0 <= remaining <= core.WAIT_PER_CALL_MAX:
        assert wait == remaining


@given(
    hostname=st.text(min_size=1, max_size=300),
    suffix=st.text(alphabet="0123456789abcdef", min_size=8, max_size=8),
)
def test_a_default_holder_fits_and_is_valid(hostname: str, suffix: str) -> None:
    holder = core.default_holder(hostname, suffix)
    assert core.validate_holder(holder) == holder
    assert holder.endswith(f"-{suffix}")


def test_holders_and_waits_out_of_range_are_refused() -> None:
    for holder in ("", "x" * 129):
        with pytest.raises(ValueError, match="holder"):
            core.validate_holder(holder)
    with pytest.raises(ValueError, match="wait"):
        core.validate_wait(-1)
    assert core.validate_wait(None) is None


# ---- backoff ---------------------------------------------------------------------------------
@given(
    attempt=st.integers(min_value=0, max_value=10_000),
    initial=st.floats(min_value=0.001, max_value=5),
    maximum=st.floats(min_value=5, max_value=600),
    draw=st.floats(min_value=0, max_value=1, exclude_max=True),
)
def test_backoff_doubles_up_to_the_maximum_and_jitters_down_by_at_most_half(
    attempt: int, initial: float, maximum: float, draw: float
) -> None:
    delay = backoff_delay(attempt, initial=initial, maximum=maximum, draw=draw)
    base = min(maximum, initial * 2.0**attempt) if attempt < 64 else maximum
    assert base / 2 <= delay <= base
    assert backoff_delay(attempt, initial=initial, maximum=maximum, draw=0) == pytest.approx(base)
    later = backoff_delay(attempt + 1, initial=initial, maximum=maximum, draw=0)
    assert later >= backoff_delay(attempt, initial=initial, maximum=maximum, draw=0)


def test_backoff_resets_after_a_success() -> None:
    backoff = Backoff(initial=1, maximum=100, draw=lambda: 0.0)
    assert [backoff.next() for _ in range(4)] == [1, 2, 4, 8]
    backoff.reset()
    assert backoff.next() == 1


def test_jitter_spreads_clients_cut_off_together() -> None:
    delays = {Backoff(initial=1, maximum=100).next() for _ in range(50)}
    assert len(delays) > 40
    assert all(0.5 <= delay <= 1 for delay in delays)


# ---- the watch's term filter -----------------------------------------------------------------
def a_state(
    term: int, leader: str | None, served_by: str = "r1", stale_seconds: float = 0.0
) -> core.LeaderState:
    return core.LeaderState(
        target=core.Target(Kind.POOL, "ns", "p"),
        exists=True,
        leader=core.Leader(leader) if leader else None,
        term=term,
        served_by=served_by,
        stale_seconds=stale_seconds,
    )


states = st.builds(
    a_state,
    term=st.integers(min_value=0, max_value=8),
    leader=st.sampled_from([None, "a", "b"]),
    served_by=st.sampled_from(["r1", "r2"]),
    stale_seconds=st.sampled_from([0.0, 3.5]),
)


@given(after=st.integers(min_value=0, max_value=8), stream=st.lists(states, max_size=40))
def test_the_filter_never_goes_back_in_term_nor_repeats_a_state(
    after: int, stream: list[core.LeaderState]
) -> None:
    terms_filter = TermFilter(after)
    admitted: list[core.LeaderState] = []
    for state in stream:
        last = admitted[-1] if admitted else None
        floor = last.term if last else after
        # nothing new is lost: a state at or past the last term that differs from the last one passes
        expected = state.term >= floor and not (last is not None and last.same_as(state))
        assert terms_filter.admit(state) is expected
        if expected:
            admitted.append(state)
    assert [state.term for state in admitted] == sorted(state.term for state in admitted)
    assert all(state.term >= after for state in admitted)
    assert not any(earlier.same_as(later) for earlier, later in itertools.pairwise(admitted))
    assert terms_filter.after_term == (admitted[-1].term if admitted else after)


def test_a_reconnect_snapshot_that_repeats_the_state_is_not_yielded_again() -> None:
    terms_filter = TermFilter()
    assert terms_filter.admit(a_state(3, "a", served_by="r1"))
    assert not terms_filter.admit(a_state(3, "a", served_by="r2", stale_seconds=2.0))
    assert not terms_filter.admit(a_state(2, "b"))  # a replica behind
    assert terms_filter.admit(a_state(3, None))  # released: same term, no leader
    assert terms_filter.admit(a_state(4, "b"))


def test_the_filter_refuses_a_negative_resume_term() -> None:
    with pytest.raises(ValueError, match="after_term"):
        TermFilter(-1)


# ---- the plaintext rule ----------------------------------------------------------------------
@given(address=st.ip_addresses(), port=st.integers(min_value=1, max_value=65535))
def test_an_address_is_loopback_exactly_when_its_ip_is(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address, port: int
) -> None:
    target = f"[{address}]:{port}" if address.version == 6 else f"{address}:{port}"
    assert is_loopback(target) is address.is_loopback
    assert is_loopback(f"ipv{address.version}:{target}") is address.is_loopback
    assert is_loopback(f"dns:///{target}") is address.is_loopback


@pytest.mark.parametrize(
    ("address", "loopback"),
    [
        ("localhost:8443", True),
        ("LOCALHOST:1", True),
        ("dns:///localhost:50051", True),
        ("unix:/run/zen-lead.sock", True),
        ("unix-abstract:zen", True),
        ("::1", True),
        ("ipv4:127.0.0.1:9443,127.0.0.2:9444", True),  # an address list: every one must be loopback
        ("ipv6:[::1]:9443,[::1]:9444", True),
        ("ipv4:127.0.0.1:9443,10.0.0.1:9443", False),
        ("ipv6:[::1]:9443,[2001:db8::1]:9443", False),
        ("zen-lead-api.zen-lead.svc:8443", False),
        ("localhost.evil.example:443", False),
        ("dns://8.8.8.8/zen-lead-api:8443", False),
        ("10.0.0.1:443", False),
    ],
)
def test_loopback_addresses(address: str, loopback: bool) -> None:
    assert is_loopback(address) is loopback


def test_plaintext_is_refused_off_loopback() -> None:
    Tls(insecure=True).check("127.0.0.1:8443")
    with pytest.raises(ValueError, match="loopback"):
        Tls(insecure=True).check("zen-lead-api:8443")
    with pytest.raises(ValueError, match="TLS files"):
        Tls(insecure=True, ca_file="ca.crt").check("localhost:1")
    with pytest.raises(ValueError, match="both cert_file and key_file"):
        Tls(cert_file="tls.crt").check("zen-lead-api:8443")


# ---- credentials -----------------------------------------------------------------------------
def test_the_token_file_is_reread_so_a_rotated_token_is_picked_up(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text("first\n")
    clock = Clock()
    tokens = TokenSource(token_file=path, clock=clock)
    assert tokens.metadata() == (("authorization", "Bearer first"),)
    path.write_text("second")
    clock.now = TOKEN_REFRESH - 1
    assert tokens.token() == "first"
    clock.now = TOKEN_REFRESH
    assert tokens.token() == "second"


def test_the_pods_service_account_token_is_the_default(tmp_path: Path) -> None:
    path = tmp_path / "sa-token"
    assert TokenSource(default_file=path).metadata() == ()
    path.write_text("from-the-pod")
    assert TokenSource(default_file=path).token() == "from-the-pod"
    assert TokenSource("given", default_file=path).token() == "given"
    with pytest.raises(ValueError, match="not both"):
        TokenSource("given", path)
    path.write_text("  ")
    with pytest.raises(ValueError, match="empty"):
        TokenSource(default_file=path).token()


def test_status_codes_map_to_precise_errors() -> None:
    assert type(api_error("UNAUTHENTICATED", "x")) is UnauthenticatedError
    assert type(api_error("PERMISSION_DENIED", "x")) is PermissionDeniedError
    assert type(api_error("UNAVAILABLE", "x")) is UnavailableError
    error = api_error("INVALID_ARGUMENT", "ttl out of range", method="Locks.Acquire")
    assert type(error) is ApiError
    assert (error.code, error.details, str(error)) == (
        "INVALID_ARGUMENT",
        "ttl out of range",
        "Locks.Acquire: INVALID_ARGUMENT: ttl out of range",
    )
