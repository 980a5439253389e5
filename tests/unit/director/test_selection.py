from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.director import oracle
from tests.unit.director.builders import NOW, make_pod, make_service
from tests.unit.director.strategies import HTTP_TCP, HTTP_UDP, NAMED_HTTP, configs, pod_lists, services
from zen_lead.director.core import (
    DirectorConfig,
    Ineligibility,
    Selection,
    SelectionReason,
    ineligibility,
    ready_since,
    select_leader,
    served_families,
)
from zen_lead.kube.structs import Pod, Service

CONFIG = DirectorConfig(enabled=True, leader_service_name="web-leader")
NOT_STICKY = DirectorConfig(enabled=True, leader_service_name="web-leader", sticky=False)


def why(
    pod: Pod, service: Service | None = None, *, min_ready: float = 0.0, exempt: bool = False
) -> Ineligibility | None:
    service = service or make_service()
    return ineligibility(
        pod,
        selector=service.spec.selector,
        service_ports=service.spec.ports,
        ip_families=served_families(service),
        now=NOW,
        min_ready_seconds=min_ready,
        exempt_min_ready=exempt,
    )


def select(
    pods: list[Pod],
    *,
    config: DirectorConfig = CONFIG,
    current: str | None = None,
    service: Service | None = None,
) -> Selection:
    return select_leader(
        pods=pods, service=service or make_service(), config=config, current_leader_uid=current, now=NOW
    )


# ---- eligibility rules ---------------------------------------------------------------------------
def test_a_running_ready_selected_pod_with_an_address_is_eligible() -> None:
    assert why(make_pod()) is None


@pytest.mark.parametrize(
    ("pod", "reason"),
    [
        (make_pod(labels={"app": "other"}), Ineligibility.SELECTOR_MISMATCH),
        (make_pod(labels={}), Ineligibility.SELECTOR_MISMATCH),
        (make_pod(terminating=True), Ineligibility.TERMINATING),
        (make_pod(phase="Pending"), Ineligibility.NOT_RUNNING),
        (make_pod(phase=None), Ineligibility.NOT_RUNNING),
        (make_pod(ready=False), Ineligibility.NOT_READY),
        (make_pod(ips=()), Ineligibility.NO_ADDRESS),
        (make_pod(ips=("fd00::1",)), Ineligibility.NO_ADDRESS),  # the Service serves IPv4 only
        (make_pod(ips=("garbage",)), Ineligibility.NO_ADDRESS),
    ],
)
def test_each_rule_has_its_reason(pod: Pod, reason: Ineligibility) -> None:
    assert why(pod) is reason


def test_terminating_is_reported_before_not_ready() -> None:
    assert why(make_pod(terminating=True, ready=False)) is Ineligibility.TERMINATING


@pytest.mark.parametrize("selector", [None, {}])
def test_a_service_without_selector_selects_nothing(selector: dict[str, str] | None) -> None:
    assert why(make_pod(), make_service(selector=selector)) is Ineligibility.SELECTOR_MISMATCH


def test_selector_labels_must_all_match_but_extra_pod_labels_are_fine() -> None:
    service = make_service(selector={"app": "web", "tier": "db"})
    assert why(make_pod(labels={"app": "web"}), service) is Ineligibility.SELECTOR_MISMATCH
    assert why(make_pod(labels={"app": "web", "tier": "db", "x": "y"}), service) is None


def test_an_ipv6_only_pod_is_eligible_for_an_ipv6_or_dual_stack_service() -> None:
    pod = make_pod(ips=("fd00::1",))
    assert why(pod, make_service(ip_families=("IPv6",))) is None
    assert why(pod, make_service(ip_families=("IPv4", "IPv6"))) is None


def test_a_pod_ip_without_pod_ips_is_used() -> None:
    pod = make_pod(ips=())
    pod = Pod(
        metadata=pod.metadata,
        spec=pod.spec,
        status=type(pod.status)(phase="Running", pod_ip="10.1.1.1", conditions=pod.status.conditions),
    )
    assert why(pod) is None


def test_named_target_ports_must_resolve_by_name_and_protocol() -> None:
    service = make_service(ports=(NAMED_HTTP,))
    assert why(make_pod(container_ports=(HTTP_TCP,)), service) is None
    assert why(make_pod(container_ports=(HTTP_UDP,)), service) is Ineligibility.PORT_UNRESOLVABLE
    assert why(make_pod(), service) is Ineligibility.PORT_UNRESOLVABLE


def test_min_ready_holds_back_recently_ready_pods_unless_exempt() -> None:
    pod = make_pod(ready_at=NOW - 10)
    assert why(pod, min_ready=10) is None
    assert why(pod, min_ready=11) is Ineligibility.NOT_READY_LONG_ENOUGH
    assert why(pod, min_ready=11, exempt=True) is None


def test_min_ready_never_qualifies_a_pod_without_a_ready_time() -> None:
    assert why(make_pod(ready_at=None), min_ready=1) is Ineligibility.NOT_READY_LONG_ENOUGH
    assert why(make_pod(ready_at=None)) is None


def test_ready_since_reads_the_ready_condition() -> None:
    assert ready_since(make_pod(ready_at=NOW - 5)) == NOW - 5
    assert ready_since(make_pod(ready=False)) is None


# ---- choice ---------------------------------------------------------------------------------------
def test_the_pod_ready_longest_is_elected() -> None:
    pods = [make_pod("a", ready_at=NOW - 10), make_pod("b", ready_at=NOW - 50), make_pod("c", ready_at=None)]
    selection = select(pods)
    assert selection.leader is not None
    assert selection.leader.metadata.name == "b"
    assert selection.reason is SelectionReason.ELECTED
    assert selection.previous_ineligibility is None
    assert selection.eligible_count == 3


def test_ties_are_broken_by_creation_then_name() -> None:
    older = make_pod("z", created_at=NOW - 500)
    younger = make_pod("a", created_at=NOW - 100)
    assert select([younger, older]).leader == older
    same = [make_pod("b"), make_pod("a")]
    assert select(same).leader == same[1]
    no_time = [make_pod("a", created_at=None), make_pod("b")]
    assert select(no_time).leader == no_time[1]


def test_sticky_keeps_an_eligible_leader_even_if_another_was_ready_longer() -> None:
    pods = [make_pod("new", ready_at=NOW - 1), make_pod("old", ready_at=NOW - 100)]
    selection = select(pods, current="uid-new")
    assert selection.leader == pods[0]
    assert selection.reason is SelectionReason.STICKY


def test_not_sticky_prefers_the_pod_ready_longest() -> None:
    pods = [make_pod("new", ready_at=NOW - 1), make_pod("old", ready_at=NOW - 100)]
    selection = select(pods, current="uid-new", config=NOT_STICKY)
    assert selection.leader == pods[1]
    assert selection.reason is SelectionReason.CHANGED
    assert selection.previous_ineligibility is None
    assert select(pods, current="uid-old", config=NOT_STICKY).reason is SelectionReason.STICKY


def test_a_leader_that_became_ineligible_is_replaced_and_the_reason_given() -> None:
    pods = [make_pod("a", ready=False), make_pod("b")]
    selection = select(pods, current="uid-a")
    assert selection.leader == pods[1]
    assert selection.reason is SelectionReason.CHANGED
    assert selection.previous_ineligibility is Ineligibility.NOT_READY
    assert selection.ineligible == (("a", Ineligibility.NOT_READY),)


def test_a_vanished_leader_is_not_found() -> None:
    selection = select([make_pod("b")], current="uid-gone")
    assert selection.reason is SelectionReason.CHANGED
    assert selection.previous_ineligibility is Ineligibility.NOT_FOUND


def test_no_eligible_pod() -> None:
    selection = select([make_pod("a", terminating=True), make_pod("x", labels={})], current="uid-a")
    assert selection.leader is None
    assert selection.reason is SelectionReason.NO_ELIGIBLE_POD
    assert selection.previous_ineligibility is Ineligibility.TERMINATING
    assert selection.ineligible == (("a", Ineligibility.TERMINATING),)  # selector mismatches are not listed
    assert select([]).requeue_after is None


def test_min_ready_delays_an_election_and_says_when_to_look_again() -> None:
    config = DirectorConfig(enabled=True, leader_service_name="web-leader", min_ready_seconds=30)
    pods = [make_pod("a", ready_at=NOW - 10), make_pod("b", ready_at=NOW - 25)]
    selection = select(pods, config=config)
    assert selection.leader is None
    assert selection.requeue_after == 5
    assert select(pods, config=config, current="uid-a").leader == pods[0]  # the sticky leader is exempt


# ---- properties -------------------------------------------------------------------------------------
# The oracle (tests/unit/director/oracle.py) is written from docs/director.md and shares no code with
# ``ineligibility`` or ``select_leader``: a property that asked the code under test for the expected
# answer could not fail when the code is wrong.
def expected_uid(pods: list[Pod], data: st.DataObject) -> str | None:
    return data.draw(st.sampled_from([None, "uid-gone", *(p.metadata.uid for p in pods)]))


@settings(max_examples=150)
@given(pods=pod_lists, service=services, config=configs, data=st.data())
def test_selection_does_not_depend_on_input_order(
    pods: list[Pod], service: Service, config: DirectorConfig, data: st.DataObject
) -> None:
    current = expected_uid(pods, data)
    shuffled = data.draw(st.permutations(pods))
    first = select_leader(pods=pods, service=service, config=config, current_leader_uid=current, now=NOW)
    second = select_leader(pods=shuffled, service=service, config=config, current_leader_uid=current, now=NOW)
    assert first == second


@settings(max_examples=300)
@given(pods=pod_lists, service=services, config=configs, data=st.data())
def test_the_leader_and_the_eligible_count_are_the_documented_ones(
    pods: list[Pod], service: Service, config: DirectorConfig, data: st.DataObject
) -> None:
    current = expected_uid(pods, data)
    selection = select_leader(pods=pods, service=service, config=config, current_leader_uid=current, now=NOW)
    min_ready, sticky = config.min_ready_seconds, config.sticky
    eligible = oracle.eligible_pods(
        pods, service, now=NOW, min_ready=min_ready, sticky=sticky, current=current
    )
    expected = oracle.expected_leader(
        pods, service, now=NOW, min_ready=min_ready, sticky=sticky, current=current
    )
    assert selection.eligible_count == len(eligible)
    assert selection.leader == expected
    assert (selection.leader is None) == (selection.reason is SelectionReason.NO_ELIGIBLE_POD)


@settings(max_examples=150)
@given(pods=pod_lists, service=services, config=configs, data=st.data())
def test_the_leader_is_always_eligible(
    pods: list[Pod], service: Service, config: DirectorConfig, data: st.DataObject
) -> None:
    current = expected_uid(pods, data)
    leader = select_leader(
        pods=pods, service=service, config=config, current_leader_uid=current, now=NOW
    ).leader
    if leader is None:
        return
    exempt = config.sticky and leader.metadata.uid == current
    assert oracle.verdict(leader, service, now=NOW, min_ready=config.min_ready_seconds, exempt=exempt) is None
    assert leader.metadata.deletion_timestamp is None
    assert leader.status.phase == "Running"
    assert any(c.type == "Ready" and c.status == "True" for c in leader.status.conditions)
    assert service.spec.selector
    assert all(leader.metadata.labels.get(k) == v for k, v in service.spec.selector.items())


@settings(max_examples=150)
@given(pods=pod_lists, service=services, sticky=st.booleans(), data=st.data())
def test_without_min_ready_any_eligible_pod_means_a_leader(
    pods: list[Pod], service: Service, sticky: bool, data: st.DataObject
) -> None:
    config = DirectorConfig(enabled=True, leader_service_name="x", sticky=sticky)
    current = expected_uid(pods, data)
    selection = select_leader(pods=pods, service=service, config=config, current_leader_uid=current, now=NOW)
    eligible = [p for p in pods if oracle.verdict(p, service, now=NOW, min_ready=0, exempt=False) is None]
    assert selection.eligible_count == len(eligible)
    assert (selection.leader is not None) == bool(eligible)


@settings(max_examples=150)
@given(pods=pod_lists, service=services, config=configs, data=st.data())
def test_sticky_keeps_an_eligible_current_leader(
    pods: list[Pod], service: Service, config: DirectorConfig, data: st.DataObject
) -> None:
    if not pods:
        return
    current = data.draw(st.sampled_from(pods))
    verdict = oracle.verdict(current, service, now=NOW, min_ready=config.min_ready_seconds, exempt=True)
    selection = select_leader(
        pods=pods,
        service=service,
        config=DirectorConfig(
            enabled=True,
            leader_service_name="x",
            sticky=True,
            min_ready_seconds=config.min_ready_seconds,
        ),
        current_leader_uid=current.metadata.uid,
        now=NOW,
    )
    if verdict is None:
        assert selection.leader == current
        assert selection.reason is SelectionReason.STICKY
    else:
        assert selection.leader != current
        assert selection.previous_ineligibility == verdict


@settings(max_examples=150)
@given(pods=pod_lists, service=services, config=configs, data=st.data())
def test_requeue_after_is_the_earliest_moment_a_held_back_pod_qualifies(
    pods: list[Pod], service: Service, config: DirectorConfig, data: st.DataObject
) -> None:
    """Checked two ways: against the oracle's held-back pods, and by its meaning — asked again at
    ``now + requeue_after`` one more pod is eligible, asked a moment earlier none is yet."""
    current = expected_uid(pods, data)

    def at(now: float) -> Selection:
        return select_leader(pods=pods, service=service, config=config, current_leader_uid=current, now=now)

    selection = at(NOW)
    waits = []
    for pod in pods:
        exempt = config.sticky and pod.metadata.uid == current
        held = oracle.verdict(pod, service, now=NOW, min_ready=config.min_ready_seconds, exempt=exempt)
        since = oracle.ready_time(pod)
        if held == "NotReadyLongEnough" and since is not None:
            waits.append(since + config.min_ready_seconds - NOW)
    assert selection.requeue_after == (min(waits) if waits else None)
    if selection.requeue_after is not None:
        assert selection.requeue_after > 0
        assert math.isfinite(selection.requeue_after)
        assert at(NOW + selection.requeue_after).eligible_count > selection.eligible_count
        assert at(NOW + selection.requeue_after - 1e-3).eligible_count == selection.eligible_count
