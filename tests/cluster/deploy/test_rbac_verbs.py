"""docs/deployment.md, shown rather than claimed:

- "Removing any of these verbs from the chart makes that scenario fail": the chart's RBAC, verb by
  verb. Each verb gets a namespace of its own with the chart's Roles minus that verb, and a controller
  with the chart's flags and that identity; one more namespace keeps every verb (the control). All of
  them go through the scenario of test_install.py together (opt-in, failovers that repeat an Event, a
  dual-stack source turned single-stack, opt-out, Lease renewals), and a variant fails as that
  scenario does: a request RBAC refused (in the controller's debug log) or a step that never completes.
- The drain handoff with the chart's own timings (15/10/2): SIGTERM (what an eviction sends) makes the
  leader release the Lease, and the standby takes it within one retry period.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from lightkube import Client
from lightkube.resources.coordination_v1 import Lease
from lightkube.resources.core_v1 import Service
from lightkube.types import PatchType

from tests.cluster.deploy.conftest import apply_all, container_args, find, make_namespace, rendered
from tests.cluster.deploy.test_install import LOCAL_FLAGS, allowed, denial
from tests.cluster.director.conftest import ENABLED, events, leader_slices
from tests.support.controller import ControllerProcess
from tests.support.identity import service_account_kubeconfig
from tests.support.wait import eventually
from tests.support.workload import deployment, service, set_pod_ready
from zen_lead.localcluster import ClusterInfo

pytestmark = pytest.mark.cluster
RBAC_KINDS = ("ServiceAccount", "Role", "RoleBinding")
# `get` on these is granted for single reads the code does not make (docs/deployment.md: "grants
# nothing beyond list"): removing it must change nothing.
UNUSED = {("services", "get"), ("endpointslices", "get"), ("pods", "get")}
STEP_TIMEOUT = 60.0


@dataclass(frozen=True)
class Verb:
    role: str
    rule: int
    resource: str
    verb: str

    def __str__(self) -> str:
        return f"{self.resource}/{self.verb}"


def chart_verbs(objects: list[dict[str, Any]]) -> list[Verb]:
    return [
        Verb(role["metadata"]["name"], index, resource, verb)
        for role in find(objects, "Role")
        for index, rule in enumerate(role["rules"])
        for resource in rule["resources"]
        for verb in rule["verbs"]
    ]


def without(objects: list[dict[str, Any]], verb: Verb | None) -> list[dict[str, Any]]:
    """The chart's ServiceAccount, Roles and RoleBindings, with ``verb`` taken out of its rule."""
    kept = [o for o in objects if o["kind"] in RBAC_KINDS]
    if verb is not None:
        [role] = [o for o in kept if o["kind"] == "Role" and o["metadata"]["name"] == verb.role]
        rule = role["rules"][verb.rule]
        rule["verbs"] = [v for v in rule["verbs"] if v != verb.verb]
        if not rule["verbs"]:  # a rule must name a verb: its only one goes with it
            del role["rules"][verb.rule]
    return kept


@dataclass
class Variant:
    removed: Verb | None
    namespace: str
    controller: ControllerProcess
    failed: str = ""  # why the scenario failed for it (empty: not, so far)
    leaders: dict[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return "control" if self.removed is None else str(self.removed)

    def check_denials(self) -> None:
        if not self.failed:
            refused = [r for r in self.controller.records() if denial(r)]
            if refused:
                self.failed = f"refused: {refused[0].get('msg')} {refused[0].get('error', '')}"[:300]


def leader_of(kube: Client, namespace: str, leader_service: str) -> str | None:
    names = {
        e.targetRef.name for s in leader_slices(kube, namespace, leader_service) for e in s.endpoints or []
    }
    return names.pop() if len(names) == 1 else None


def step(variants: list[Variant], what: str, done: Callable[[Variant], bool]) -> None:
    """Wait until ``done`` holds for every variant still passing; a variant refused a request, or not
    done within STEP_TIMEOUT, has failed the scenario."""
    deadline = time.monotonic() + STEP_TIMEOUT
    pending = [v for v in variants if not v.failed]
    while pending:
        for variant in pending:
            variant.check_denials()
        pending = [v for v in pending if not v.failed and not done(v)]
        if not pending or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    for variant in pending:
        variant.failed = f"{what}: not done within {STEP_TIMEOUT:.0f}s"


@pytest.fixture
def variants(
    kube: Client, cluster: ClusterInfo, helm: Path, tmp_path: Path, namespaces: list[str]
) -> Iterator[list[Variant]]:
    base = rendered(helm, namespace="zl-verbs")
    removals: list[Verb | None] = [None, *chart_verbs(base)]
    made: list[Variant] = []
    try:
        for removed in removals:
            namespace = make_namespace(kube, "zl-verb")
            namespaces.append(namespace)
            objects = rendered(helm, namespace=namespace)
            apply_all(kube, without(objects, removed))
            [account] = find(objects, "ServiceAccount")
            kubeconfig = service_account_kubeconfig(
                kube,
                cluster,
                namespace=namespace,
                name=account["metadata"]["name"],
                target=tmp_path / f"{namespace}.kubeconfig",
            )
            controller = ControllerProcess(
                kubeconfig=kubeconfig, namespace=namespace, log_dir=tmp_path, name=namespace
            )
            at = controller.argv.index("--namespace")
            del controller.argv[at : at + 2]
            controller.argv += [a for a in container_args(objects) if not a.startswith(LOCAL_FLAGS)]
            made.append(Variant(removed, namespace, controller))
        # RBAC takes effect a moment after the bindings are stored: wait until every kept verb is
        # allowed, so that no variant is refused what it was given.
        for variant in made:
            account_user = f"system:serviceaccount:{variant.namespace}:zen-lead"
            for verb in chart_verbs(base):
                if verb == variant.removed:
                    continue
                group = (
                    "coordination.k8s.io"
                    if verb.resource == "leases"
                    else ("discovery.k8s.io" if verb.resource == "endpointslices" else "")
                )
                name = (
                    "zen-lead"
                    if verb.resource == "leases" and verb.verb != "create"
                    else (variant.namespace if verb.resource == "namespaces" else None)
                )  # the rules that name their objects (resourceNames) are asked about those
                eventually(
                    lambda v=variant, vb=verb, g=group, n=name, u=account_user: allowed(
                        kube,
                        _Who(u, v.namespace),
                        verb=vb.verb,
                        resource=vb.resource,
                        namespace=v.namespace,
                        group=g,
                        name=n,
                    ),
                    timeout=20,
                    what=f"{verb} allowed in {variant.namespace}",
                )
        with ThreadPoolExecutor(len(made)) as starting:  # the processes start side by side
            list(starting.map(lambda v: v.controller.start(wait_ready=False), made))
        yield made
    finally:
        for variant in made:
            variant.controller.stop()


@dataclass(frozen=True)
class _Who:
    """What ``allowed`` needs of an identity."""

    user: str
    namespace: str

    @property
    def groups(self) -> list[str]:
        return ["system:serviceaccounts", f"system:serviceaccounts:{self.namespace}", "system:authenticated"]


def test_removing_any_verb_the_controller_uses_makes_the_scenario_fail(
    kube: Client, variants: list[Variant]
) -> None:
    def each(action: Callable[[Variant], None]) -> None:
        for variant in variants:
            if not variant.failed:
                action(variant)

    def opt_in(v: Variant) -> None:
        kube.create(deployment("db", v.namespace, replicas=2))
        kube.create(service("db", v.namespace, selector={"app": "db"}, annotations=ENABLED))
        kube.create(
            service(
                "dual",
                v.namespace,
                selector={"app": "db"},
                annotations=ENABLED,
                ipFamilyPolicy="RequireDualStack",
                ipFamilies=["IPv4", "IPv6"],
            )
        )

    each(opt_in)

    def routed(v: Variant) -> bool:
        leader = leader_of(kube, v.namespace, "db-leader")
        if leader is None or len(leader_slices(kube, v.namespace, "dual-leader")) != 2:
            return False
        v.leaders["first"] = leader
        return True

    step(variants, "opt-in", routed)

    # The same change twice: the second LeaderChanged Event is a patch of the first (count 2).
    each(lambda v: set_pod_ready(kube, v.leaders["first"], v.namespace, False))

    def moved(v: Variant) -> bool:
        leader = leader_of(kube, v.namespace, "db-leader")
        if leader is None or leader == v.leaders["first"]:
            return False
        v.leaders["second"] = leader
        return True

    step(variants, "first failover", moved)
    each(lambda v: set_pod_ready(kube, v.leaders["first"], v.namespace, True))
    each(lambda v: set_pod_ready(kube, v.leaders["second"], v.namespace, False))
    step(
        variants, "second failover", lambda v: leader_of(kube, v.namespace, "db-leader") == v.leaders["first"]
    )
    each(lambda v: set_pod_ready(kube, v.leaders["second"], v.namespace, True))
    each(lambda v: set_pod_ready(kube, v.leaders["first"], v.namespace, False))
    step(
        variants, "third failover", lambda v: leader_of(kube, v.namespace, "db-leader") == v.leaders["second"]
    )

    def counted_twice(v: Variant) -> bool:
        change = f"from pod {v.leaders['first']} to {v.leaders['second']}"
        return any(
            change in (e.message or "") and e.count == 2
            for e in events(kube, v.namespace, "LeaderChanged", "db")
        )

    step(variants, "the repeated Event", counted_twice)

    # Deletes: the IPv6 slice when the source turns single-stack, the leader Service on opt-out.
    each(
        lambda v: kube.patch(
            Service,
            "dual",
            {"spec": {"ipFamilyPolicy": "SingleStack", "ipFamilies": ["IPv4"]}},
            namespace=v.namespace,
            patch_type=PatchType.MERGE,
        )
    )
    step(
        variants,
        "the IPv6 slice deleted",
        lambda v: [s.addressType for s in leader_slices(kube, v.namespace, "dual-leader")] == ["IPv4"],
    )
    each(
        lambda v: kube.patch(
            Service,
            "dual",
            {"metadata": {"annotations": {"zen-lead.io/enabled": None}}},
            namespace=v.namespace,
            patch_type=PatchType.MERGE,
        )
    )
    step(
        variants,
        "the leader Service deleted",
        lambda v: (
            not list(kube.list(Service, namespace=v.namespace, fields={"metadata.name": "dual-leader"}))
        ),
    )

    # Leading throughout: the Lease renewed (2 s retry period), no election error, no 403 at all.
    def renewing(v: Variant) -> bool:
        spec = kube.get(Lease, "zen-lead", namespace=v.namespace).spec
        return bool(spec and spec.renewTime and spec.acquireTime and spec.renewTime > spec.acquireTime)

    step(variants, "the Lease renewed", renewing)
    for variant in variants:
        variant.check_denials()
        controller = variant.controller
        # (Not zen_lead_election_api_errors_total, as test_install does: with 22 controllers starting at
        # once on two cores a first Lease read may time out, and is retried. A refused Lease request is
        # in the log, which check_denials reads.)
        health = {
            "is_leader": controller.metric("zen_lead_is_leader"),
            "403s": controller.metric("zen_lead_api_requests_total", code="403"),
        }
        if not variant.failed and health != {"is_leader": 1, "403s": 0}:
            variant.failed = f"not leading cleanly: {health}"

    outcome = {variant.name: variant.failed for variant in variants}
    assert outcome.pop("control") == "", "the scenario fails even with every verb"
    expected_to_pass = {f"{resource}/{verb}" for resource, verb in UNUSED}
    passed = {name for name, why in outcome.items() if not why}
    assert passed == expected_to_pass, {name: why or "passed" for name, why in outcome.items()}


def test_a_drained_leader_hands_over_within_one_retry_period_with_the_chart_timings(
    kube: Client, cluster: ClusterInfo, helm: Path, tmp_path: Path, namespaces: list[str]
) -> None:
    """docs/deployment.md: a drain evicts one replica at a time (the PDB); if it is the leader it
    releases the Lease on SIGTERM after draining its workers, and the standby takes over within one
    retry period (2 s). Two replicas with the chart's flags; the handoff is judged on the Lease's stored
    times: the release record's timestamp and the standby's acquireTime."""
    namespace = make_namespace(kube, "zl-drain")
    namespaces.append(namespace)
    objects = rendered(helm, namespace=namespace)
    [pdb] = find(objects, "PodDisruptionBudget")
    assert pdb["spec"]["maxUnavailable"] == 1
    flags = [a for a in container_args(objects) if not a.startswith(LOCAL_FLAGS)]
    timing = {
        a.split("=")[0]: float(a.split("=")[1].removesuffix("s"))
        for a in flags
        if a.startswith(("--leader-elect-lease-duration", "--leader-elect-retry-period"))
    }
    # the chart's defaults (renew deadline 10 s)
    assert timing == {"--leader-elect-lease-duration": 15, "--leader-elect-retry-period": 2}
    apply_all(kube, without(objects, None))

    def replica(index: int) -> ControllerProcess:
        process = ControllerProcess(
            kubeconfig=service_account_kubeconfig(
                kube, cluster, namespace=namespace, name="zen-lead", target=tmp_path / f"r{index}.kubeconfig"
            ),
            namespace=namespace,
            log_dir=tmp_path,
            name=f"replica-{index}",
        )
        at = process.argv.index("--namespace")
        del process.argv[at : at + 2]
        process.argv += flags
        return process

    releases: list[Any] = []
    watching, stop_watch = threading.Event(), threading.Event()

    def watch_releases() -> None:
        for _, lease in kube.watch(Lease, namespace=namespace, fields={"metadata.name": "zen-lead"}):
            watching.set()  # the first event is the Lease as it is now
            if lease.spec and not lease.spec.holderIdentity:
                releases.append(lease.spec)
            if stop_watch.is_set():
                return

    first, second = replica(0), replica(1)
    try:
        eventually(lambda: allowed_to_lead(kube, namespace), timeout=20, what="the chart's RBAC in effect")
        first.start()
        eventually(lambda: first.metric("zen_lead_is_leader") == 1, what="the first replica leads")
        second.start()
        eventually(
            lambda: any(r.get("msg", "").startswith("new leader observed") for r in second.records()),
            what="the standby observed the leader",
        )
        threading.Thread(target=watch_releases, daemon=True).start()
        assert watching.wait(30)
        first.stop(signal.SIGTERM)  # what the kubelet sends the evicted pod
        eventually(lambda: second.metric("zen_lead_is_leader") == 1, timeout=30, what="the standby leads")
        [released] = eventually(lambda: releases, what="the release record seen")
        taken = kube.get(Lease, "zen-lead", namespace=namespace).spec
        assert taken is not None
        handoff = (taken.acquireTime - released.renewTime).total_seconds()
        # The standby's watch wakes it on the release (tens of milliseconds); without the watch it would
        # be its next jittered retry, up to 2.2 x 2 s. One retry period is the documented bound.
        assert 0 <= handoff <= timing["--leader-elect-retry-period"], (
            f"the standby took over {handoff:.3f}s after the release"
        )
    finally:
        stop_watch.set()
        first.stop()
        second.stop()


def allowed_to_lead(kube: Client, namespace: str) -> bool:
    who = _Who(f"system:serviceaccount:{namespace}:zen-lead", namespace)
    return allowed(
        kube,
        who,
        verb="patch",
        resource="leases",
        group="coordination.k8s.io",
        namespace=namespace,
        name="zen-lead",
    ) and allowed(kube, who, verb="list", resource="pods", namespace=namespace)
