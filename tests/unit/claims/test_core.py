"""The claim coordinator's core, alone: claim state, priority order, the leader's plan, the mode."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from zen_lead.claims.core.mode import Mode, mode
from zen_lead.claims.core.model import Claimable, Claimant, Consumer, claim_state, release_reason
from zen_lead.claims.core.plan import best_match, leader_plan
from zen_lead.claims.core.priority import by_priority, default_priority

TAGS = st.frozensets(st.sampled_from(["ssd", "gpu", "rack1", "rack2"]), max_size=3)
NOW = 1_000_000.0


def claimant(
    name: str, *, age: float = 0.0, required: frozenset[str] = frozenset(), **kw: object
) -> Claimant:
    return Claimant("ns", name, f"uid-{name}", NOW - age, required=required, **kw)  # type: ignore[arg-type]


def test_priority_is_the_seed_formula() -> None:
    assert default_priority(claimant("a"), NOW) == 150  # untagged bonus
    assert default_priority(claimant("a", age=59.9, required=frozenset({"x"})), NOW) == 100  # whole minutes
    assert default_priority(claimant("a", age=600, required=frozenset({"x"})), NOW) == 110
    assert default_priority(claimant("a", age=-120), NOW) == 150  # a clock behind counts 0, not negative


def test_ties_go_to_the_older_then_the_smaller_uid() -> None:
    a = Claimant("ns", "a", "uid-2", NOW - 10)
    b = Claimant("ns", "b", "uid-1", NOW - 10)
    c = Claimant("ns", "c", "uid-0", NOW - 5)
    assert [x.name for x in by_priority([c, a, b], now=NOW)] == ["b", "a", "c"]


@st.composite
def worlds(draw: st.DrawFn) -> tuple[list[Claimant], list[Claimable]]:
    n = draw(st.integers(0, 12))
    claimants = [
        Claimant(
            "ns",
            f"m{i}",
            f"u{i}",
            NOW - draw(st.floats(0, 3600)),
            required=draw(TAGS),
            preferred=draw(TAGS),
            host=draw(st.none() | st.sampled_from([f"h{j}" for j in range(8)])),
        )
        for i in range(n)
    ]
    hosts = []
    for j in range(draw(st.integers(0, 8))):
        consumer = draw(st.none() | st.sampled_from([Consumer(c.name, c.uid) for c in claimants] or [None]))
        hosts.append(Claimable("ns", f"h{j}", draw(TAGS), consumer))
    return claimants, hosts


@given(worlds())
def test_the_leader_hands_out_each_free_host_once_to_a_qualifying_pending_claimant(
    world: tuple[list[Claimant], list[Claimable]],
) -> None:
    claimants, hosts = world
    state = claim_state(claimants, hosts)
    plan = leader_plan(state, now=NOW)
    taken = [b.claimable.name for b in plan.binds]
    served = [b.claimant.name for b in plan.binds]
    assert len(set(taken)) == len(taken)
    assert len(set(served)) == len(served)
    free = {h.name for h in state.free}
    pending = {c.name for c in state.pending}
    for bind in plan.binds:
        assert bind.claimable.name in free
        assert bind.claimant.name in pending
        assert bind.claimant.required <= bind.claimable.tags
    # nobody left unmatched while a free qualifying host stayed unused
    unused = [h for h in state.free if h.name not in taken]
    for left in plan.unmatched:
        assert best_match(left, unused) is None
    assert {c.name for c in plan.unmatched} | set(served) == pending


@given(worlds())
def test_a_host_is_held_by_at_most_one_claimant_and_a_claimant_holds_at_most_one(
    world: tuple[list[Claimant], list[Claimable]],
) -> None:
    claimants, hosts = world
    state = claim_state(claimants, hosts)
    assert len(set(state.held.values())) == len(state.held)
    assert not set(state.held) & {c.name for c in state.pending}


def test_scarce_hosts_go_to_the_highest_priorities_and_reservations_are_finished() -> None:
    old = claimant("old", age=3600, required=frozenset({"ssd"}))  # 160
    untagged = claimant("untagged")  # 150
    young = claimant("young", required=frozenset({"ssd"}))  # 100
    reserved = claimant("reserved", required=frozenset({"ssd"}), host="h2")  # 100, but reserved h2
    hosts = [Claimable("ns", "h1", frozenset({"ssd"})), Claimable("ns", "h2", frozenset({"ssd"}))]
    plan = leader_plan(claim_state([young, untagged, old, reserved], hosts), now=NOW)
    assert [(b.claimant.name, b.claimable.name, b.reserved) for b in plan.binds] == [
        ("reserved", "h2", True),
        ("old", "h1", False),
    ]
    assert [c.name for c in plan.unmatched] == ["untagged", "young"]


def test_preferred_tags_pick_among_qualifying_hosts() -> None:
    picky = claimant("p", required=frozenset({"ssd"}), preferred=frozenset({"rack2"}))
    hosts = [
        Claimable("ns", "a", frozenset({"ssd", "rack1"})),
        Claimable("ns", "b", frozenset({"ssd", "rack2"})),
        Claimable("ns", "c", frozenset({"hdd", "rack2"})),
    ]
    found = best_match(picky, hosts)
    assert found is not None
    assert found.name == "b"


def test_suspect_claims_are_released_only_on_what_the_live_claimant_says() -> None:
    host = Claimable("ns", "h1", consumer=Consumer("m", "uid-m"))
    assert release_reason(host, None) is not None  # gone
    assert release_reason(host, claimant("m", host="h2")) is not None  # reserves another
    assert release_reason(host, claimant("m", host="h1")) is None
    assert release_reason(host, claimant("m")) is None  # a claim made without a reservation (legacy)
    recreated = Claimant("ns", "m", "uid-new", NOW)
    assert release_reason(host, recreated) is not None  # same name, another object


def test_a_claim_without_reservation_counts_as_held_but_a_moved_reservation_is_suspect() -> None:
    legacy = claimant("m")
    moved = claimant("n", host="h9")
    state = claim_state(
        [legacy, moved],
        [
            Claimable("ns", "h1", consumer=Consumer("m", "uid-m")),
            Claimable("ns", "h2", consumer=Consumer("n", "uid-n")),
        ],
    )
    assert state.held == {"m": "h1"}
    assert [h.name for h in state.suspect] == ["h2"]


def test_mode() -> None:
    common = {"now": 100.0, "lease_duration": 15.0}
    assert mode(enabled=False, leading=True, leader_seen_at=99.0, **common) is Mode.FALLBACK
    assert mode(enabled=True, leading=True, leader_seen_at=None, **common) is Mode.LEADER
    assert mode(enabled=True, leading=False, leader_seen_at=90.0, **common) is Mode.DELEGATE
    assert mode(enabled=True, leading=False, leader_seen_at=85.0, **common) is Mode.FALLBACK
    assert mode(enabled=True, leading=False, leader_seen_at=None, **common) is Mode.FALLBACK
