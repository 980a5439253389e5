"""The tracker: which source keys (and lanes) each change concerns, and what the reconciler remembers."""

from __future__ import annotations

import msgspec
from hypothesis import given
from hypothesis import strategies as st

from tests.unit.director.builders import ENABLED, NAMESPACE, make_pod, make_service
from zen_lead.constants import (
    ANNOTATION_LEADER_SERVICE_NAME,
    ENDPOINTSLICE_MANAGED_BY_VALUE,
    LABEL_ENDPOINTSLICE_MANAGED_BY,
    LABEL_MANAGED_BY,
    LABEL_SERVICE_NAME,
    LABEL_SOURCE_SERVICE,
    MANAGED_BY_VALUE,
)
from zen_lead.director.tracker import Tracker
from zen_lead.kube.informer import Change
from zen_lead.kube.ratelimit import Lane
from zen_lead.kube.structs import Endpoint, EndpointSlice, ObjectMeta, ObjectReference, Pod, Service

FAILOVER, ROUTINE = Lane.FAILOVER, Lane.ROUTINE


def key(name: str) -> str:
    return f"{NAMESPACE}/{name}"


def leader_slice(source: str, pod: Pod | None, *, version: str = "1") -> EndpointSlice:
    endpoints = ()
    if pod is not None:
        ref = ObjectReference(kind="Pod", namespace=NAMESPACE, name=pod.metadata.name, uid=pod.metadata.uid)
        endpoints = (Endpoint(addresses=("10.0.0.1",), target_ref=ref),)
    labels = {
        LABEL_SERVICE_NAME: f"{source}-leader",
        LABEL_SOURCE_SERVICE: source,
        LABEL_ENDPOINTSLICE_MANAGED_BY: ENDPOINTSLICE_MANAGED_BY_VALUE,
    }
    meta = ObjectMeta(
        name=f"{source}-leader-ipv4", namespace=NAMESPACE, labels=labels, resource_version=version
    )
    return EndpointSlice(metadata=meta, endpoints=endpoints)


def leader_service(source: str) -> Service:
    labels = {LABEL_MANAGED_BY: MANAGED_BY_VALUE, LABEL_SOURCE_SERVICE: source}
    return make_service(f"{source}-leader", labels=labels, annotations={}, selector=None)


def opted_in(tracker: Tracker, *services: Service) -> None:
    for service in services:
        assert tracker.service_changed(Change.ADDED, None, service) == [(key(service.metadata.name), ROUTINE)]


def test_a_change_to_the_pod_that_leads_is_failover_work_and_to_a_follower_routine() -> None:
    tracker = Tracker()
    opted_in(tracker, make_service("web"))
    leader, follower = make_pod("web-0"), make_pod("web-1")
    for pod in (leader, follower):
        tracker.pod_changed(Change.ADDED, None, pod)
    tracker.slice_changed(Change.ADDED, None, leader_slice("web", leader))
    not_ready = make_pod("web-0", ready=False)
    assert tracker.pod_changed(Change.MODIFIED, leader, not_ready) == [(key("web"), FAILOVER)]
    assert tracker.pod_changed(Change.MODIFIED, follower, make_pod("web-1", ready=False)) == [
        (key("web"), ROUTINE)
    ]


def test_any_selected_pod_of_a_leaderless_source_is_failover_work() -> None:
    tracker = Tracker()
    opted_in(tracker, make_service("web"))
    tracker.set_leaderless(key("web"), True)
    assert tracker.pod_changed(Change.ADDED, None, make_pod("web-3")) == [(key("web"), FAILOVER)]
    tracker.set_leaderless(key("web"), False)
    assert tracker.pod_changed(Change.ADDED, None, make_pod("web-4")) == [(key("web"), ROUTINE)]


def test_a_pod_update_that_changes_nothing_a_decision_reads_is_ignored() -> None:
    tracker = Tracker()
    opted_in(tracker, make_service("web"))
    pod = make_pod("web-0")
    tracker.pod_changed(Change.ADDED, None, pod)
    touched = msgspec.structs.replace(
        pod, metadata=msgspec.structs.replace(pod.metadata, resource_version="9", annotations={"a": "b"})
    )
    assert tracker.pod_changed(Change.MODIFIED, pod, touched) == []


def test_a_pod_that_leaves_a_selector_still_concerns_the_source_it_left() -> None:
    tracker = Tracker()
    opted_in(tracker, make_service("web"))
    pod = make_pod("web-0")
    tracker.pod_changed(Change.ADDED, None, pod)
    moved = make_pod("web-0", labels={"app": "other"})
    assert tracker.pod_changed(Change.MODIFIED, pod, moved) == [(key("web"), ROUTINE)]
    assert tracker.pods.matching(NAMESPACE, {"app": "web"}) == []


def test_services_that_do_not_mention_zen_lead_are_not_sources() -> None:
    tracker = Tracker()
    assert tracker.service_changed(Change.ADDED, None, make_service("plain", annotations={})) == []
    assert tracker.pod_changed(Change.ADDED, None, make_pod("web-0")) == []


def test_deleting_our_leader_service_is_urgent_repair_of_its_source() -> None:
    tracker = Tracker()
    ours = leader_service("web")
    assert tracker.service_changed(Change.ADDED, None, ours) == [(key("web"), ROUTINE)]
    assert tracker.leader_services.names(NAMESPACE, "web") == {"web-leader"}
    assert tracker.service_changed(Change.DELETED, ours, None) == [(key("web"), FAILOVER)]
    assert tracker.leader_services.names(NAMESPACE, "web") == set()


def test_a_source_waiting_for_a_name_is_queued_once_when_the_holder_changes() -> None:
    tracker = Tracker()
    tracker.wait_for_name(NAMESPACE, "web-leader", key("web"))
    foreign = make_service("web-leader", annotations={}, selector={"app": "x"})
    assert tracker.service_changed(Change.DELETED, foreign, None) == [(key("web"), ROUTINE)]
    assert tracker.service_changed(Change.ADDED, None, foreign) == []


def test_the_echo_of_our_own_slice_write_needs_no_reconcile_but_other_changes_do() -> None:
    tracker = Tracker()
    written = leader_slice("web", make_pod("web-0"), version="7")
    tracker.wrote_slice(NAMESPACE, written.metadata.name, "7")
    assert tracker.slice_changed(Change.MODIFIED, None, written) == []
    assert tracker.slice_changed(Change.MODIFIED, written, written) == [(key("web"), ROUTINE)]  # only once
    tampered = leader_slice("web", make_pod("web-1"), version="8")
    assert tracker.slice_changed(Change.MODIFIED, written, tampered) == [(key("web"), ROUTINE)]
    assert tracker.slice_changed(Change.DELETED, tampered, None) == [(key("web"), FAILOVER)]
    assert tracker.slices_by_service.names(NAMESPACE, "web-leader") == set()
    tracker.wrote_slice(NAMESPACE, written.metadata.name, "9")
    overwritten = leader_slice("web", make_pod("web-1"), version="10")  # someone wrote after us
    assert tracker.slice_changed(Change.ADDED, None, overwritten) == [(key("web"), ROUTINE)]


def test_standing_conditions_are_told_once_per_change() -> None:
    tracker = Tracker()
    assert tracker.told(key("web"), "problems", ("bad",))
    assert not tracker.told(key("web"), "problems", ("bad",))
    assert tracker.told(key("web"), "problems", ("worse",))
    tracker.forget(key("web"))
    assert tracker.told(key("web"), "problems", ("worse",))
    assert tracker.told(key("web"), "problems", ())
    assert not tracker.told(key("web"), "problems", ())


def test_leaderless_and_managed_counts_are_per_namespace() -> None:
    tracker = Tracker()
    assert tracker.set_leaderless("a/x", True) == 1
    assert tracker.set_leaderless("a/y", True) == 2
    assert tracker.set_leaderless("b/x", True) == 1
    assert tracker.set_leaderless("a/x", False) == 1
    assert tracker.managed("a/x", opted_in=True) == 1
    assert tracker.managed("a/x", opted_in=True) is None  # unchanged: no gauge write
    assert tracker.managed("a/y", opted_in=True) == 2
    assert tracker.managed("a/x", opted_in=False) == 1


LABELS = st.dictionaries(st.sampled_from(["app", "tier", "zone"]), st.sampled_from(["a", "b"]), max_size=3)


@given(selectors=st.lists(LABELS, max_size=6), old=LABELS, new=LABELS)
def test_a_pod_change_concerns_exactly_the_sources_selecting_it_before_or_after(
    selectors: list[dict[str, str]], old: dict[str, str], new: dict[str, str]
) -> None:
    tracker = Tracker()
    for index, selector in enumerate(selectors):
        tracker.service_changed(Change.ADDED, None, make_service(f"s{index}", selector=selector))
    before, after = make_pod("p", labels=old), make_pod("p", labels=new, ready=False)
    tracker.pod_changed(Change.ADDED, None, before)
    found = {source for source, _ in tracker.pod_changed(Change.MODIFIED, before, after)}

    def selects(selector: dict[str, str], labels: dict[str, str]) -> bool:  # the oracle: a plain scan
        return len(selector) > 0 and all(labels.get(k) == v for k, v in selector.items())

    expected = {key(f"s{i}") for i, sel in enumerate(selectors) if selects(sel, old) or selects(sel, new)}
    assert found == expected


def shared(name: str) -> Service:
    return make_service(name, uid=f"uid-{name}", annotations={**ENABLED, ANNOTATION_LEADER_SERVICE_NAME: "x"})


def test_sources_asking_for_one_name_are_rivals_and_wake_each_other_when_it_frees() -> None:
    tracker = Tracker()
    a, b = shared("a"), shared("b")
    opted_in(tracker, a)
    assert tracker.service_changed(Change.ADDED, None, b) == [(key("b"), ROUTINE)]
    assert tracker.rivals(key("a"), "x") == ["b"]
    assert tracker.rivals(key("b"), "x") == ["a"]
    # a stops asking for it (opts out): b may have the name now
    assert tracker.service_changed(Change.MODIFIED, a, make_service("a", uid="uid-a")) == [
        (key("a"), ROUTINE),
        (key("b"), ROUTINE),
    ]
    assert tracker.rivals(key("b"), "x") == []
    # the leader Service x (held by b) is deleted: every source asking for x is queued
    opted_in(tracker, a)
    held = make_service("x", labels={LABEL_MANAGED_BY: MANAGED_BY_VALUE, LABEL_SOURCE_SERVICE: "b"})
    tracker.service_changed(Change.ADDED, None, held)
    assert sorted(tracker.service_changed(Change.DELETED, held, None)) == [
        (key("a"), ROUTINE),
        (key("b"), FAILOVER),
        (key("b"), ROUTINE),
    ]
