"""What the director tells users, on the real cluster: a name two sources ask for, Services that are
not opted in, and a first deploy (a wait, not a warning). ExternalName: test_lifecycle."""

from __future__ import annotations

from pathlib import Path

import pytest
from lightkube import ApiError, Client
from lightkube.resources.core_v1 import Pod, Service

from tests.cluster.director.conftest import ENABLED, events, wait_leader
from tests.support.controller import ControllerProcess
from tests.support.wait import eventually, settled
from tests.support.workload import deployment, service, set_pod_ready
from zen_lead.localcluster import ClusterInfo

pytestmark = pytest.mark.cluster

SHARED = {**ENABLED, "zen-lead.io/leader-service-name": "shared"}


def warnings(kube: Client, namespace: str, involved: str) -> list[tuple[str, str, int]]:
    return sorted(
        (e.reason or "", e.message or "", e.count or 1)
        for e in events(kube, namespace, involved=involved)
        if e.type == "Warning"
    )


def test_two_sources_asking_for_one_name_the_loser_is_told_and_served_once_it_is_free(
    kube: Client, namespace: str, controller: ControllerProcess
) -> None:
    kube.create(deployment("db", namespace, replicas=2))
    kube.create(service("first", namespace, selector={"app": "db"}, annotations=SHARED))
    wait_leader(kube, namespace, "shared")
    kube.create(service("second", namespace, selector={"app": "db"}, annotations=SHARED))
    told = eventually(
        lambda: events(kube, namespace, "NameConflict", "second"), what="NameConflict on the second"
    )
    assert "Service first, which holds it" in (told[0].message or "")
    held = kube.get(Service, "shared", namespace=namespace)
    assert held.metadata.labels["zen-lead.io/source-service"] == "first"
    eventually(lambda: controller.metric("zen_lead_name_conflicts", namespace=namespace) == 1, what="gauge")
    assert not events(kube, namespace, "NameConflict", "first")

    kube.delete(Service, "first", namespace=namespace)  # the name is free: the second gets it

    def served_by_second() -> bool:
        try:
            current = kube.get(Service, "shared", namespace=namespace)
        except ApiError:  # between the deletion and the re-creation
            return False
        return current.metadata.labels.get("zen-lead.io/source-service") == "second"

    eventually(served_by_second, timeout=60, what="the second source owning the name")
    wait_leader(kube, namespace, "shared")
    eventually(lambda: controller.metric("zen_lead_name_conflicts", namespace=namespace) == 0, what="gauge")


def test_a_service_not_opted_in_is_warned_once_about_enabled_and_an_opt_out_hears_nothing(
    kube: Client, namespace: str, controller: ControllerProcess
) -> None:
    pods = [p.metadata.name for p in _deploy(kube, namespace, replicas=2)]
    typo = {"zen-lead.io/enabled": "yes", "zen-lead.io/sticky": "maybe"}
    kube.create(service("typo", namespace, selector={"app": "db"}, annotations=typo))
    kube.create(
        service(
            "quiet",
            namespace,
            selector={"app": "db"},
            annotations={"zen-lead.io/enabled": "false", "zen-lead.io/sticky": "maybe"},
        )
    )
    eventually(lambda: warnings(kube, namespace, "typo"), what="the warning about enabled: yes")
    done = controller.metric("zen_lead_reconcile_duration_seconds_count", controller="director")
    for pod in pods * 2:  # pod changes reconcile both Services again and again
        set_pod_ready(kube, pod, namespace, ready=False)
        set_pod_ready(kube, pod, namespace, ready=True)
    eventually(
        lambda: (
            controller.metric("zen_lead_reconcile_duration_seconds_count", controller="director") >= done + 4
        ),
        what="the pod changes reconciled",
    )
    told = settled(lambda: warnings(kube, namespace, "typo"), quiet=3.0, what="the typo Service's Events")
    assert [(reason, count) for reason, _, count in told] == [("InvalidAnnotation", 1)]
    assert "zen-lead.io/enabled='yes'" in told[0][1]
    assert events(kube, namespace, involved="quiet") == []
    ours = kube.list(Service, namespace=namespace, labels={"app.kubernetes.io/managed-by": "zen-lead"})
    assert list(ours) == []


def test_a_first_deploy_is_a_normal_wait_and_a_warning_only_past_the_grace(
    cluster: ClusterInfo, kube: Client, namespace: str, tmp_path: Path
) -> None:
    grace = 8
    process = ControllerProcess(
        kubeconfig=cluster.kubeconfig,
        namespace=namespace,
        log_dir=tmp_path,
        extra=["--no-leader-elect", "--startup-grace", str(grace)],
    )
    with process:
        # pods on a node nobody runs stay Pending: a Deployment that is still starting
        stuck = deployment("slow", namespace, replicas=1)
        assert stuck.spec is not None
        assert stuck.spec.template.spec is not None
        stuck.spec.template.spec.nodeSelector = {"kubernetes.io/hostname": "no-such-node"}
        kube.create(stuck)
        kube.create(service("slow", namespace, selector={"app": "slow"}, annotations=ENABLED))
        waiting = eventually(
            lambda: events(kube, namespace, "WaitingForEligiblePod", "slow"), what="the Normal Event"
        )
        assert waiting[0].type == "Normal"
        assert not events(kube, namespace, "NoEligiblePod", "slow")
        warned = eventually(
            lambda: events(kube, namespace, "NoEligiblePod", "slow"), timeout=grace + 30, what="the Warning"
        )
        assert warned[0].type == "Warning"
        # a healthy first deploy never sees the Warning
        kube.create(deployment("fast", namespace, replicas=1))
        kube.create(service("fast", namespace, selector={"app": "fast"}, annotations=ENABLED))
        wait_leader(kube, namespace, "fast-leader")
        assert events(kube, namespace, "LeaderElected", "fast")
        assert not events(kube, namespace, "NoEligiblePod", "fast")


def _deploy(kube: Client, namespace: str, *, replicas: int) -> list[Pod]:
    kube.create(deployment("db", namespace, replicas=replicas))

    def ready() -> list[Pod] | None:
        found = [p for p in kube.list(Pod, namespace=namespace) if p.status and p.status.podIP]
        return found if len(found) == replicas else None

    return eventually(ready, what=f"{replicas} pods with IPs")
