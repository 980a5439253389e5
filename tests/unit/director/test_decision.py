from __future__ import annotations

from dataclasses import dataclass, field

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.director.builders import ENABLED, NOW, as_service, as_slice, make_pod, make_service
from tests.unit.director.strategies import NAMED_HTTP, pod_lists, services
from zen_lead.constants import ANNOTATION_LEADER_SERVICE_NAME, ANNOTATION_LEADER_SINCE, ANNOTATION_STICKY
from zen_lead.director.core import (
    STARTUP_GRACE,
    ConfigProblem,
    EventReason,
    EventType,
    LeaderRef,
    Plan,
    SlicePlan,
    current_leader,
    name_conflicts,
    parse_config,
    plan_leader,
    plan_slices,
    problem_events,
)
from zen_lead.kube.structs import EndpointSlice, Pod, Service
from zen_lead.kube.times import format_time


@dataclass
class Cluster:
    """A tiny in-memory stand-in for the apiserver, applying plans the way the shell does."""

    services: dict[str, Service] = field(default_factory=dict)
    slices: dict[str, EndpointSlice] = field(default_factory=dict)
    generation: int = 0

    def reconcile(
        self, source: Service, pods: list[Pod], *, now: float = NOW
    ) -> tuple[Plan, SlicePlan | None]:
        config = parse_config(source).config
        observed = self.services.get(config.leader_service_name)
        plan = plan_leader(
            source=source,
            config=config,
            pods=pods,
            observed=observed,
            observed_slices=list(self.slices.values()),
            now=now,
        )
        if plan.conflict or plan.service is None:
            return plan, None
        if plan.replace_service:
            self.slices.clear()  # garbage collection of the old Service's slices
        if plan.create_service:
            self.generation += 1
            observed = self.services[config.leader_service_name] = as_service(
                plan.service, uid=f"uid-leader-{self.generation}"
            )
        assert observed is not None
        zone = "z1" if plan.selection and plan.selection.leader else None
        slice_plan = plan_slices(
            source=source,
            plan=plan,
            leader_service=observed,
            observed_slices=list(self.slices.values()),
            zone=zone,
        )
        for name in slice_plan.to_replace:
            del self.slices[name]
        for manifest in slice_plan.to_apply:
            self.slices[manifest["metadata"]["name"]] = as_slice(manifest)
        if plan.update_service:
            self.services[config.leader_service_name] = as_service(plan.service, uid=observed.metadata.uid)
        for name in slice_plan.to_delete:
            del self.slices[name]
        return plan, slice_plan

    def routed_to(self) -> set[str]:
        return {
            e.target_ref.name
            for s in self.slices.values()
            for e in s.endpoints or ()
            if e.target_ref is not None
        }


def reasons(plan: Plan) -> list[EventReason]:
    """Everything the plan would tell a Service that had been told nothing yet."""
    return [event.reason for event in (*plan.events, *plan.conflicts, *plan.leaderless)]


def standing(plan: Plan) -> list[EventReason]:
    """The standing conditions, as the shell compares them (by reason) to decide whether to tell again."""
    return [event.reason for event in (*plan.conflicts, *plan.leaderless)]


def quiet(plan: Plan, slice_plan: SlicePlan | None) -> bool:
    """Nothing to write and nothing edge-triggered to tell (standing conditions are compared apart)."""
    return (
        not plan.events
        and not plan.create_service
        and not plan.update_service
        and not plan.replace_service
        and slice_plan is not None
        and not slice_plan.to_apply
        and not slice_plan.to_delete
    )


SOURCE = make_service()


def test_first_pass_creates_and_routes_then_nothing_changes() -> None:
    cluster = Cluster()
    pods = [make_pod("web-0"), make_pod("web-1", ready_at=NOW - 500, ips=("10.0.0.2",))]
    plan, slice_plan = cluster.reconcile(SOURCE, pods)
    assert plan.create_service
    assert reasons(plan) == [EventReason.LEADER_ELECTED]
    assert plan.events[0].type is EventType.NORMAL
    assert "web-1" in plan.events[0].message
    assert slice_plan is not None
    assert [m["metadata"]["name"] for m in slice_plan.to_apply] == ["web-leader-ipv4"]
    assert cluster.routed_to() == {"web-1"}
    assert quiet(*cluster.reconcile(SOURCE, pods))


def test_failover_changes_the_leader_with_a_reason_and_keeps_since_otherwise() -> None:
    cluster = Cluster()
    pods = [make_pod("web-0", ready_at=NOW - 500), make_pod("web-1", ips=("10.0.0.2",))]
    cluster.reconcile(SOURCE, pods)
    since = cluster.services["web-leader"].metadata.annotations[ANNOTATION_LEADER_SINCE]
    cluster.reconcile(SOURCE, pods, now=NOW + 60)
    assert cluster.services["web-leader"].metadata.annotations[ANNOTATION_LEADER_SINCE] == since
    pods[0] = make_pod("web-0", ready=False)
    plan, _slice_plan = cluster.reconcile(SOURCE, pods, now=NOW + 120)
    assert reasons(plan) == [EventReason.LEADER_CHANGED]
    assert "from pod web-0 to web-1: web-0 is NotReady" in plan.events[0].message
    assert plan.leader_changed
    assert plan.update_service
    assert cluster.routed_to() == {"web-1"}
    assert cluster.services["web-leader"].metadata.annotations[ANNOTATION_LEADER_SINCE] != since
    pods[0] = make_pod("web-0", ready_at=NOW - 1000)  # back, and Ready longer: sticky keeps web-1
    assert quiet(*cluster.reconcile(SOURCE, pods, now=NOW + 180))


def test_no_eligible_pod_is_reported_once_when_the_leader_is_lost() -> None:
    cluster = Cluster()
    plan, _ = cluster.reconcile(SOURCE, [make_pod("web-0")])
    plan, _slice_plan = cluster.reconcile(SOURCE, [make_pod("web-0", terminating=True)])
    assert reasons(plan) == [EventReason.NO_ELIGIBLE_POD]
    assert plan.leaderless[0].type is EventType.WARNING
    assert "1 Terminating" in plan.leaderless[0].message
    assert "previous leader web-0 is Terminating" in plan.leaderless[0].message
    assert cluster.routed_to() == set()
    assert [s.endpoints for s in cluster.slices.values()] == [()]
    again, slice_plan = cluster.reconcile(SOURCE, [make_pod("web-0", terminating=True)])
    assert quiet(again, slice_plan)
    assert standing(again) == standing(plan)  # the same condition: not told again


def test_a_new_leader_service_without_eligible_pods_says_why_including_unresolvable_ports() -> None:
    source = make_service(ports=(NAMED_HTTP,))
    plan, _ = Cluster().reconcile(source, [make_pod("web-0"), make_pod("web-1", ready=False)])
    assert reasons(plan) == [EventReason.NO_ELIGIBLE_POD, EventReason.PORT_UNRESOLVABLE]
    assert "1 NotReady, 1 PortUnresolvable" in plan.leaderless[0].message
    assert "http" in plan.leaderless[1].message
    assert "web-0" in plan.leaderless[1].message


def test_a_foreign_service_holding_the_name_is_a_conflict_and_left_alone() -> None:
    cluster = Cluster(services={"web-leader": make_service("web-leader", uid="foreign", annotations={})})
    plan, slice_plan = cluster.reconcile(SOURCE, [make_pod()])
    assert plan.conflict
    assert plan.service is None
    assert slice_plan is None
    assert reasons(plan) == [EventReason.NAME_CONFLICT]


def test_a_leader_service_of_an_earlier_incarnation_waits_for_garbage_collection_quietly() -> None:
    cluster = Cluster()
    cluster.reconcile(SOURCE, [make_pod()])
    recreated = make_service(uid="uid-svc-2")
    plan, _ = cluster.reconcile(recreated, [make_pod()])
    assert plan.conflict
    assert plan.events == ()


def test_the_routing_truth_wins_over_the_annotation() -> None:
    cluster = Cluster()
    pods = [make_pod("web-0", ready_at=NOW - 500), make_pod("web-1", ips=("10.0.0.2",))]
    cluster.reconcile(SOURCE, pods)
    leader_service = cluster.services["web-leader"]
    assert current_leader(leader_service=leader_service, slices=cluster.slices.values()) == LeaderRef(
        "uid-web-0", "web-0"
    )
    # the slices were switched to web-1 but the annotation write failed
    (name,) = cluster.slices
    (endpoint,) = cluster.slices[name].endpoints or ()
    assert endpoint.target_ref is not None
    ref = msgspec.structs.replace(endpoint.target_ref, name="web-1", uid="uid-web-1")
    cluster.slices[name] = msgspec.structs.replace(
        cluster.slices[name], endpoints=(msgspec.structs.replace(endpoint, target_ref=ref),)
    )
    plan, _ = cluster.reconcile(SOURCE, pods)
    assert plan.selection is not None
    assert plan.selection.leader == pods[1]
    assert not plan.leader_changed
    assert plan.update_service  # the annotation is repaired


def test_without_slices_the_annotation_names_the_leader() -> None:
    cluster = Cluster()
    cluster.reconcile(SOURCE, [make_pod()])
    assert current_leader(leader_service=cluster.services["web-leader"], slices=[]) == LeaderRef(
        "uid-web-0", "web-0"
    )
    assert current_leader(leader_service=None, slices=cluster.slices.values()) is None


def test_slices_of_families_no_longer_served_are_deleted_and_foreign_ones_left_alone() -> None:
    cluster = Cluster()
    dual = make_service(ip_families=("IPv4", "IPv6"))
    pods = [make_pod(ips=("10.0.0.1", "fd00::1"))]
    cluster.reconcile(dual, pods)
    assert sorted(cluster.slices) == ["web-leader-ipv4", "web-leader-ipv6"]
    _, slice_plan = cluster.reconcile(make_service(ip_families=("IPv4",)), pods)
    assert slice_plan is not None
    assert slice_plan.to_delete == ("web-leader-ipv6",)
    assert sorted(cluster.slices) == ["web-leader-ipv4"]
    foreign = msgspec.structs.replace(
        cluster.slices["web-leader-ipv4"],
        metadata=msgspec.structs.replace(
            cluster.slices["web-leader-ipv4"].metadata, labels={}, owner_references=()
        ),
    )
    cluster.slices = {"web-leader-ipv4": foreign}
    _plan, slice_plan = cluster.reconcile(make_service(ip_families=("IPv4",)), pods)
    assert slice_plan is not None
    assert slice_plan.blocked == ("web-leader-ipv4",)
    assert slice_plan.to_apply == ()
    assert slice_plan.to_delete == ()


def test_a_tampered_address_type_is_replaced() -> None:
    cluster = Cluster()
    cluster.reconcile(SOURCE, [make_pod()])
    cluster.slices["web-leader-ipv4"] = msgspec.structs.replace(
        cluster.slices["web-leader-ipv4"], address_type="FQDN"
    )
    _, slice_plan = cluster.reconcile(SOURCE, [make_pod()])
    assert slice_plan is not None
    assert slice_plan.to_replace == ("web-leader-ipv4",)
    assert cluster.slices["web-leader-ipv4"].address_type == "IPv4"


def test_turning_headless_replaces_the_leader_service() -> None:
    cluster = Cluster()
    cluster.reconcile(SOURCE, [make_pod()])
    plan, _ = cluster.reconcile(make_service(cluster_ip="None"), [make_pod()])
    assert plan.replace_service
    assert plan.create_service
    assert cluster.services["web-leader"].spec.cluster_ip == "None"
    assert cluster.routed_to() == {"web-0"}


def test_non_sticky_moves_to_the_pod_ready_longest() -> None:
    source = make_service(annotations={**ENABLED, ANNOTATION_STICKY: "false"})
    cluster = Cluster()
    cluster.reconcile(source, [make_pod("web-0")])
    plan, _ = cluster.reconcile(
        source, [make_pod("web-0"), make_pod("web-1", ready_at=NOW - 900, ips=("10.0.0.2",))]
    )
    assert reasons(plan) == [EventReason.LEADER_CHANGED]
    assert "web-1 has been Ready longer" in plan.events[0].message


def test_requeue_after_comes_from_the_selection() -> None:
    source = make_service(annotations={**ENABLED, "zen-lead.io/min-ready-duration": "30s"})
    plan, _ = Cluster().reconcile(source, [make_pod(ready_at=NOW - 20)])
    assert plan.requeue_after == 10


def test_problem_events() -> None:
    (event,) = problem_events([ConfigProblem("zen-lead.io/sticky", "no", 'expected "true" or "false"')])
    assert event == (
        EventType.WARNING,
        EventReason.INVALID_ANNOTATION,
        'zen-lead.io/sticky=\'no\': expected "true" or "false"',
    )


@settings(max_examples=100)
@given(pods=pod_lists, source=services)
def test_one_pass_converges_and_routes_to_exactly_the_selected_leader(
    pods: list[Pod], source: Service
) -> None:
    cluster = Cluster()
    plan, _ = cluster.reconcile(source, pods)
    assert plan.selection is not None
    leader = plan.selection.leader
    assert cluster.routed_to() == ({leader.metadata.name} if leader is not None else set())
    assert quiet(*cluster.reconcile(source, pods))


def test_slices_of_other_namespaces_are_ignored() -> None:
    cluster = Cluster()
    cluster.reconcile(SOURCE, [make_pod()])
    (ours,) = cluster.slices.values()
    elsewhere = msgspec.structs.replace(
        ours, metadata=msgspec.structs.replace(ours.metadata, namespace="other")
    )
    plan, _ = cluster.reconcile(SOURCE, [make_pod()])
    assert plan.service is not None
    leader_service = cluster.services["web-leader"]
    slice_plan = plan_slices(
        source=SOURCE, plan=plan, leader_service=leader_service, observed_slices=[elsewhere], zone="z1"
    )
    assert [m["metadata"]["name"] for m in slice_plan.to_apply] == ["web-leader-ipv4"]
    assert slice_plan.blocked == ()


# ---- start-up: a first deploy is not a warning ------------------------------------------------
def test_a_new_leader_service_waits_quietly_while_pods_start_then_warns_after_the_grace() -> None:
    cluster = Cluster()
    starting = [make_pod("web-0", ready=False), make_pod("web-1", phase="Pending", ready=False)]
    plan, _ = cluster.reconcile(SOURCE, starting)
    assert reasons(plan) == [EventReason.WAITING_FOR_ELIGIBLE_POD]
    assert plan.leaderless[0].type is EventType.NORMAL
    assert plan.requeue_after == pytest.approx(STARTUP_GRACE)  # when the Warning is due
    created = msgspec.structs.replace(
        cluster.services["web-leader"].metadata, creation_timestamp=format_time(NOW)
    )
    cluster.services["web-leader"] = msgspec.structs.replace(cluster.services["web-leader"], metadata=created)
    plan, _ = cluster.reconcile(SOURCE, starting, now=NOW + STARTUP_GRACE / 2)
    assert standing(plan) == [EventReason.WAITING_FOR_ELIGIBLE_POD]
    assert plan.requeue_after == pytest.approx(STARTUP_GRACE / 2)
    plan, _ = cluster.reconcile(SOURCE, starting, now=NOW + STARTUP_GRACE)
    assert standing(plan) == [EventReason.NO_ELIGIBLE_POD]
    assert plan.leaderless[0].type is EventType.WARNING
    plan, _ = cluster.reconcile(SOURCE, [make_pod("web-0")], now=NOW + STARTUP_GRACE + 1)
    assert reasons(plan) == [EventReason.LEADER_ELECTED]
    assert plan.leaderless == ()


def test_no_pod_yet_is_starting_too_but_no_selector_or_a_bad_port_warns_at_once() -> None:
    plan, _ = Cluster().reconcile(SOURCE, [])
    assert reasons(plan) == [EventReason.WAITING_FOR_ELIGIBLE_POD]
    plan, _ = Cluster().reconcile(make_service(selector=None), [])
    assert reasons(plan) == [EventReason.NO_ELIGIBLE_POD]
    plan, _ = Cluster().reconcile(make_service(ports=(NAMED_HTTP,)), [make_pod("web-0")])
    assert reasons(plan) == [EventReason.NO_ELIGIBLE_POD, EventReason.PORT_UNRESOLVABLE]


def test_a_leader_lost_soon_after_creation_is_a_warning_at_once() -> None:
    cluster = Cluster()
    cluster.reconcile(SOURCE, [make_pod("web-0")])
    plan, _ = cluster.reconcile(SOURCE, [make_pod("web-0", ready=False)], now=NOW + 1)
    assert reasons(plan) == [EventReason.NO_ELIGIBLE_POD]


# ---- two sources, one leader Service name ---------------------------------------------------------
SHARED = {**ENABLED, ANNOTATION_LEADER_SERVICE_NAME: "shared"}


def claimant(name: str, *, uid: str, created: float) -> Service:
    service = make_service(name, uid=uid, annotations=SHARED)
    meta = msgspec.structs.replace(service.metadata, creation_timestamp=format_time(created))
    return msgspec.structs.replace(service, metadata=meta)


def test_a_free_name_goes_to_the_oldest_source_and_the_other_is_told_who_has_it() -> None:
    old, young = claimant("a", uid="uid-a", created=NOW - 100), claimant("b", uid="uid-b", created=NOW)
    assert name_conflicts(old, name="shared", observed=None, rivals=[young]) is None
    (lost,) = name_conflicts(young, name="shared", observed=None, rivals=[old]) or ()
    assert lost.reason is EventReason.NAME_CONFLICT
    assert "Service a, which is older" in lost.message
    assert "b is not served" in lost.message


def test_the_source_holding_the_name_keeps_it_even_against_an_older_one() -> None:
    old, young = claimant("a", uid="uid-a", created=NOW - 100), claimant("b", uid="uid-b", created=NOW)
    cluster = Cluster()
    cluster.reconcile(young, [make_pod()])
    held = cluster.services["shared"]
    assert name_conflicts(young, name="shared", observed=held, rivals=[old]) is None
    (lost,) = name_conflicts(old, name="shared", observed=held, rivals=[young]) or ()
    assert "Service b, which holds it" in lost.message


@given(st.permutations(range(4)), st.lists(st.integers(0, 3), min_size=4, max_size=4))
def test_exactly_one_of_several_sources_gets_a_free_name(order: list[int], ages: list[int]) -> None:
    sources = [claimant(f"s{i}", uid=f"uid-{i}", created=NOW - ages[i]) for i in order]
    winners = [
        s
        for s in sources
        if name_conflicts(s, name="shared", observed=None, rivals=[r for r in sources if r is not s]) is None
    ]
    assert len(winners) == 1
    oldest = max(ages)  # created the longest ago
    assert winners[0].metadata.name == min(f"s{i}" for i in range(4) if ages[i] == oldest)
