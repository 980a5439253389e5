"""Pools on the real cluster: one leader per pool, the Lease and the status agree, the term only
grows, fail-closed without an eligible member, and bad specs refused by the apiserver."""

from __future__ import annotations

from typing import Any

import pytest
from lightkube import ApiError, Client
from lightkube.resources.coordination_v1 import Lease
from lightkube.resources.core_v1 import Event, Pod
from lightkube.types import PatchType

from tests.cluster.pools.conftest import LeaderPolicy, lease_spec, members, policy, status
from tests.support.controller import ControllerProcess
from tests.support.wait import eventually, settled
from tests.support.workload import set_pod_ready

pytestmark = pytest.mark.cluster
NONE: frozenset[str] = frozenset()


def member_pods(kube: Client, namespace: str, app: str = "db") -> list[Pod]:
    pods = kube.list(Pod, namespace=namespace, labels={"app": app})
    return [p for p in pods if not p.metadata.deletionTimestamp]


def agreed_leader(
    kube: Client, namespace: str, name: str = "pool", *, not_in: frozenset[str] = NONE, above: int = -1
) -> dict[str, Any]:
    """Wait until the Lease and the status name one leader (not in ``not_in``, with a term above
    ``above``); return the status."""

    def check() -> dict[str, Any] | None:
        current = status(kube, name, namespace)
        spec = lease_spec(kube, name, namespace)
        leader = (current.get("leader") or {}).get("pod")
        if not leader or spec is None or leader in not_in:
            return None
        if spec.get("holderIdentity") != leader or spec.get("leaseTransitions") != current.get("term"):
            return None
        return current if current["term"] > above else None

    return eventually(check, timeout=30, what=f"one leader of {name} in the Lease and the status")


def roles(kube: Client, namespace: str) -> dict[str, tuple[str | None, str | None]]:
    found = {}
    for pod in member_pods(kube, namespace):
        annotations = pod.metadata.annotations or {}
        found[pod.metadata.name] = (annotations.get("zen-lead/role"), annotations.get("zen-lead/term"))
    return found


def reasons(kube: Client, namespace: str, reason: str) -> list[Event]:
    return [e for e in kube.list(Event, namespace=namespace) if e.reason == reason]


def test_three_members_one_leader_and_every_failover_a_higher_term(
    kube: Client, namespace: str, pools_controller: ControllerProcess
) -> None:
    kube.create(policy("pool", namespace))
    kube.create(members("db", namespace, pool="pool", replicas=3))
    first = agreed_leader(kube, namespace)  # the first member Ready may be elected before the others are
    eventually(
        lambda: status(kube, "pool", namespace)["members"] == {"total": 3, "eligible": 3},
        what="three eligible members",
    )
    lease = kube.get(Lease, "pool", namespace=namespace)
    assert lease.metadata.annotations["coordination.kube-zen.io/holder-uid"] == first["leader"]["uid"]
    assert lease.metadata.ownerReferences[0].kind == "LeaderPolicy"
    term = first["term"]
    want = [("follower", str(term)), ("follower", str(term)), ("leader", str(term))]
    # roles not written yet read (None, None): compared as text, so that they sort with the rest
    eventually(
        lambda: sorted(roles(kube, namespace).values(), key=str) == want, what="one leader, two followers"
    )
    conditions = {c["type"]: c["status"] for c in first["conditions"]}
    assert conditions == {"LeaderElected": "True", "NoEligibleCandidate": "False"}

    gone = {first["leader"]["pod"]}
    set_pod_ready(kube, first["leader"]["pod"], namespace, ready=False)  # NotReady: another one leads
    second = agreed_leader(kube, namespace, not_in=frozenset(gone))
    assert second["term"] == term + 1
    gone.add(second["leader"]["pod"])
    kube.delete(Pod, second["leader"]["pod"], namespace=namespace)  # deleted: another one again
    third = agreed_leader(kube, namespace, not_in=frozenset(gone))
    assert third["term"] == term + 2
    assert reasons(kube, namespace, "LeaderElected")


def test_no_eligible_member_releases_the_lease_and_says_so_then_recovers(
    kube: Client, namespace: str, pools_controller: ControllerProcess
) -> None:
    kube.create(policy("pool", namespace))
    kube.create(members("db", namespace, pool="pool", replicas=2))
    before = agreed_leader(kube, namespace)
    for pod in member_pods(kube, namespace):
        set_pod_ready(kube, pod.metadata.name, namespace, ready=False)

    def released() -> dict[str, Any] | None:
        current, spec = status(kube, "pool", namespace), lease_spec(kube, "pool", namespace)
        none = {c["type"]: c for c in current.get("conditions", [])}.get("NoEligibleCandidate", {})
        free = spec is not None and spec.get("holderIdentity") == ""
        return current if current.get("leader") is None and free and none.get("status") == "True" else None

    after = eventually(released, what="no leader, the Lease released, NoEligibleCandidate")
    # the first NotReady may have moved the leader to the second pod before it went too
    assert after["term"] in (before["term"], before["term"] + 1)
    spec = lease_spec(kube, "pool", namespace)
    assert spec is not None
    assert spec["leaseTransitions"] == after["term"]  # a release keeps the term
    eventually(lambda: reasons(kube, namespace, "LeaderLost"), what="the LeaderLost Warning")
    for pod in member_pods(kube, namespace):
        set_pod_ready(kube, pod.metadata.name, namespace, ready=True)
    back = agreed_leader(kube, namespace, above=after["term"])
    assert back["term"] == after["term"] + 1


def test_a_lease_deleted_by_hand_is_recreated_with_a_higher_term(
    kube: Client, namespace: str, pools_controller: ControllerProcess
) -> None:
    kube.create(policy("pool", namespace))
    kube.create(members("db", namespace, pool="pool", replicas=2))
    before = agreed_leader(kube, namespace)
    kube.delete(Lease, "pool", namespace=namespace)
    after = agreed_leader(kube, namespace, above=before["term"])
    assert after["term"] == before["term"] + 1


def test_with_role_annotations_off_no_member_pod_is_written_across_ten_failovers(
    kube: Client, namespace: str, pools_controller: ControllerProcess
) -> None:
    kube.create(policy("pool", namespace, roleAnnotations=False))
    kube.create(members("db", namespace, pool="pool", replicas=3))
    leader = agreed_leader(kube, namespace)
    versions = {p.metadata.name: p.metadata.resourceVersion for p in member_pods(kube, namespace)}
    term = leader["term"]
    for _ in range(10):
        current = leader["leader"]["pod"]
        set_pod_ready(kube, current, namespace, ready=False)
        leader = agreed_leader(kube, namespace, not_in=frozenset({current}))
        set_pod_ready(kube, current, namespace, ready=True)
        # the test's own status writes move the version; a write by zen-lead would move it again
        versions[current] = kube.get(Pod, current, namespace=namespace).metadata.resourceVersion
    assert leader["term"] == term + 10
    settled(pools_controller.writes, what="the controller's writes")
    assert {p.metadata.name: p.metadata.resourceVersion for p in member_pods(kube, namespace)} == versions
    assert all(role == (None, None) for role in roles(kube, namespace).values())


def test_pods_that_name_a_pool_but_are_not_members_are_told_why(
    kube: Client, namespace: str, pools_controller: ControllerProcess
) -> None:
    kube.create(policy("pool", namespace))
    kube.create(members("nojoin", namespace, pool="pool", replicas=1, join="yes"))
    kube.create(members("nopool", namespace, pool="missing", replicas=1))

    def warnings() -> dict[str, str] | None:
        found = {
            e.involvedObject.name.rsplit("-", 2)[0]: e.message or ""
            for e in reasons(kube, namespace, "NotAPoolMember")
        }
        return found if len(found) == 2 else None

    told = eventually(warnings, what="a Warning on each pod that is not a member")
    assert 'zen-lead/join: "true"' in told["nojoin"]
    assert "no LeaderPolicy 'missing'" in told["nopool"]

    def written() -> dict[str, Any] | None:
        current = status(kube, "pool", namespace)
        return current if current.get("conditions") else None

    current = eventually(written, what="the pool's status")
    assert current["members"]["total"] == 0
    assert current.get("leader") is None


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"leaseDurationSeconds": 0}, "should be greater than or equal to 1"),
        ({"leaseDurationSeconds": -1}, "should be greater than or equal to 1"),
        ({"leaseDurationSeconds": "15"}, "must be of type integer"),
        ({"followerMode": "sometimes"}, "Unsupported value"),
        ({"followerMode": "scaleDown"}, "followerMode scaleDown needs spec.scaleTarget"),
        (
            {"followerMode": "scaleDown", "scaleTarget": {"kind": "CronJob", "name": "report"}},
            "scaleDown needs a target with a scale subresource",
        ),
        ({"identityStrategy": "node"}, "Unsupported value"),
        ({"leaderService": {"ports": []}}, "should have at least 1 items"),
        ({"leaderService": {"ports": [{"port": 0}]}}, "should be greater than or equal to 1"),
        ({"leaderService": {"name": "Primary", "ports": [{"port": 80}]}}, "should match"),
        (
            {"leaderService": {"ports": [{"name": "a", "port": 80}, {"name": "b", "port": 80}]}},
            "each port and protocol may appear once",
        ),
        (
            {"leaderService": {"ports": [{"name": "a", "port": 80}, {"port": 81}]}},
            "with more than one port, every port needs a name",
        ),
    ],
)
def test_bad_specs_are_refused_by_the_apiserver_with_a_message(
    kube: Client, namespace: str, crd: None, spec: dict[str, Any], message: str
) -> None:
    with pytest.raises(ApiError) as refused:
        kube.create(policy("bad", namespace, **spec))
    assert refused.value.status.code == 422
    assert message in (refused.value.status.message or "")


def test_users_cannot_write_the_status_through_the_main_resource(
    kube: Client, namespace: str, crd: None
) -> None:
    created = kube.create(policy("pool", namespace))
    fake = {"status": {"term": 99, "leader": {"pod": "fake"}}}
    kube.patch(LeaderPolicy, "pool", fake, namespace=namespace, patch_type=PatchType.MERGE)
    assert status(kube, "pool", namespace) == dict(created.get("status") or {})
