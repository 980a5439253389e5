"""The pure rules of ``zen-lead exec``: the stop bound, option rules, environment, exit codes, slots."""

from __future__ import annotations

import json
import signal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from zen_lead.election.record import Timing
from zen_lead.exec import core

seconds = st.floats(min_value=0.01, max_value=3600, allow_nan=False)


@st.composite
def valid_timings(draw: st.DrawFn) -> Timing:
    lease = float(draw(st.integers(min_value=1, max_value=3600)))
    deadline = draw(st.floats(min_value=0.02, max_value=lease - 0.01, allow_nan=False))
    retry = draw(st.floats(min_value=0.001, max_value=deadline / 1.21, allow_nan=False))
    return Timing(lease_duration=lease, renew_deadline=deadline, retry_period=retry)


def options_for(timing: Timing, **changes: object) -> core.ExecOptions:
    fields: dict[str, object] = {
        "command": ("true",),
        "lease": "job",
        "lease_duration": timing.lease_duration,
        "renew_deadline": timing.renew_deadline,
        "retry_period": timing.retry_period,
        **changes,
    }
    return core.ExecOptions(**fields)  # type: ignore[arg-type]


@given(timing=valid_timings(), grace_share=st.floats(min_value=0, max_value=1), late=seconds, early=seconds)
def test_an_accepted_grace_kills_the_child_before_anyone_else_may_lead(
    timing: Timing, grace_share: float, late: float, early: float
) -> None:
    """Whatever timing and grace the options accept, and whenever the loss is noticed (before the deadline,
    when another holder shows up, or late, after a stall), SIGKILL goes out KILL_MARGIN before the
    earliest takeover: renew start + lease_duration, i.e. deadline + (lease_duration - renew_deadline)."""
    bound = core.max_grace(timing)
    grace = grace_share * bound if bound >= 0 else 0.0
    options = options_for(timing, grace=grace)
    problems = core.option_problems(options, pod_name=None)
    if bound < 0:
        assert any("at least 0.5s" in p for p in problems), problems
        return
    assert problems == []
    deadline = 1000.0
    takeover = deadline + timing.lease_duration - timing.renew_deadline
    for detected in (deadline - early, deadline, deadline + late):
        at = core.kill_at(deadline=deadline, detected=detected, grace=core.grace_of(options, timing))
        assert at <= takeover - core.KILL_MARGIN + 1e-9
        assert at >= min(detected, deadline)


@given(timing=valid_timings(), over=st.floats(min_value=1e-6, max_value=100))
def test_a_grace_past_the_bound_is_refused_naming_the_flag_and_the_bound(timing: Timing, over: float) -> None:
    bound = core.max_grace(timing)
    if bound < 0:
        return
    problems = core.option_problems(options_for(timing, grace=bound + over), pod_name=None)
    assert len(problems) == 1
    assert problems[0].startswith("--grace ")
    assert f"= {bound:g} seconds" in problems[0]


def test_the_default_grace_is_the_bound() -> None:
    timing = Timing()  # 15 / 10 / 2
    assert core.grace_of(options_for(timing), timing) == 4.5
    assert core.grace_of(options_for(timing, grace=1.0), timing) == 1.0


@pytest.mark.parametrize(
    ("changes", "pod", "expected"),
    [
        ({"command": ()}, None, "no command given"),
        ({"lease": None}, None, "--lease NAME (or --pool NAME) is required"),
        ({"pool": "p"}, "pod-0", "--pool and --lease are mutually exclusive"),
        (
            {"lease": None, "pool": "p", "identity": "me"},
            "pod-0",
            "--pool and --identity are mutually exclusive",
        ),
        ({"lease": None, "pool": "p"}, None, "--pool needs POD_NAME"),
        ({"identity": ""}, None, "--identity must not be empty"),
        ({"slot": "a", "slot_from_job": "j"}, None, "--slot and --slot-from-job are mutually exclusive"),
        ({"slot": ""}, None, "--slot must be 1 to 253 characters (got 0)"),
        ({"slot": "x" * 254}, None, "--slot must be 1 to 253 characters (got 254)"),
        ({"timeout": -1.0}, None, "--timeout -1 must be zero or more seconds"),
        ({"timeout": float("nan")}, None, "--timeout nan must be zero or more seconds"),
        ({"grace": float("nan")}, None, "--grace nan must be between 0 and"),
        ({"grace": -0.1}, None, "--grace -0.1 must be between 0 and"),
        (
            {"lease_duration": 10.0},
            None,
            "--lease-duration (10s) must be greater than --renew-deadline (10s)",
        ),
        ({"lease_duration": 15.5}, None, "--lease-duration must be a whole number of seconds"),
        (
            {"retry_period": 9.0},
            None,
            "--renew-deadline (10s) must be greater than jitter_factor x --retry-period",
        ),
        ({"retry_period": 0.0}, None, "--retry-period must be greater than zero"),
        (
            {"lease_duration": 11.0, "renew_deadline": 10.8},
            None,
            "must exceed --renew-deadline (10.8s) by at least",
        ),
    ],
)
def test_each_bad_option_is_named_with_its_rule(
    changes: dict[str, object], pod: str | None, expected: str
) -> None:
    problems = core.option_problems(options_for(Timing(), **changes), pod_name=pod)
    assert any(expected in p for p in problems), problems


def test_the_pool_form_needs_only_the_pool_and_the_pod_name() -> None:
    assert core.option_problems(options_for(Timing(), lease=None, pool="p"), pod_name="pod-0") == []


def test_the_child_learns_lease_identity_token_and_slot_and_nothing_stale() -> None:
    env = core.child_env(
        {"PATH": "/bin", "ZEN_LEAD_SLOT": "old"},
        namespace="ns",
        name="job",
        identity="me",
        token=7,
        slot=None,
    )
    assert env == {
        "PATH": "/bin",
        "ZEN_LEAD_LEASE": "ns/job",
        "ZEN_LEAD_IDENTITY": "me",
        "ZEN_LEAD_TOKEN": "7",
        "ZEN_LEAD_TERM": "7",
        "ZEN_LEAD_FENCING_TOKEN": "ns/job#7",
    }
    with_slot = core.child_env(
        {}, namespace="ns", name="job", identity="me", token=8, slot="2026-12-03T10:00:00Z"
    )
    assert with_slot["ZEN_LEAD_SLOT"] == "2026-12-03T10:00:00Z"


@pytest.mark.parametrize(("returncode", "code"), [(0, 0), (3, 3), (255, 255), (-9, 137), (-15, 143)])
def test_exit_codes_are_the_programs_and_a_signal_is_128_plus_its_number(returncode: int, code: int) -> None:
    assert core.exit_code(returncode) == code


def test_a_wrapper_stopped_before_its_program_ran_exits_as_a_shell_would() -> None:
    assert core.signalled_exit(signal.SIGTERM) == 143
    assert core.signalled_exit(signal.SIGINT) == 130


slot_text = st.text(min_size=1, max_size=30)


@given(done=st.lists(slot_text, max_size=40, unique=True), slot=slot_text)
def test_marking_a_slot_keeps_it_once_newest_last_and_at_most_twenty(done: list[str], slot: str) -> None:
    before = json.dumps(done)
    after = core.done_slots(core.with_slot_done(before, slot))
    assert after[-1] == slot
    assert len(after) == len(set(after)) <= core.DONE_SLOTS_KEPT
    kept_before = [s for s in done if s != slot][-(core.DONE_SLOTS_KEPT - 1) :]
    assert list(after[:-1]) == kept_before


@pytest.mark.parametrize("annotation", [None, "", "not json", "{}", '["a", 3]', "[[]]", '"a"', "null"])
def test_a_record_that_is_not_a_list_of_strings_reads_as_nothing_done(annotation: str | None) -> None:
    assert core.done_slots(annotation) == ()
    assert core.done_slots(core.with_slot_done(annotation, "s")) == ("s",)


@given(
    nominee=st.sampled_from(["", "me", "other"]),
    seen_at=st.floats(0, 1000),
    after=st.floats(0, 100),
    lasts=st.floats(0.5, 60),
)
def test_a_nomination_binds_only_for_another_pod_and_only_for_a_lease_duration(
    nominee: str, seen_at: float, after: float, lasts: float
) -> None:
    binds = core.binding(nominee, identity="me", seen_at=seen_at, now=seen_at + after, lasts=lasts)
    assert binds == (nominee == "other" and after < lasts)
