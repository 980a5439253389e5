"""The pure half of ``localcluster.pods``: the status patch, and readiness counted as kubectl counts it."""

from __future__ import annotations

import pytest
from lightkube.models.core_v1 import (
    Container,
    ContainerState,
    ContainerStateRunning,
    ContainerStateWaiting,
    ContainerStatus,
    Pod,
    PodCondition,
    PodSpec,
    PodStatus,
)
from lightkube.models.meta_v1 import ObjectMeta

from zen_lead.localcluster import ClusterError
from zen_lead.localcluster.pods import observed_readiness, readiness_patch

RUNNING = ContainerState(running=ContainerStateRunning())


def pod(*, ready: bool, states: list[ContainerState] | None = None) -> Pod:
    states = states or [RUNNING]
    names = [f"c{index}" for index in range(len(states))]
    status = "True" if ready else "False"
    return Pod(
        metadata=ObjectMeta(name="p", namespace="ns", resourceVersion="7"),
        spec=PodSpec(containers=[Container(name=name) for name in names]),
        status=PodStatus(
            phase="Running",
            conditions=[PodCondition(type=t, status=status) for t in ("Ready", "ContainersReady")],
            containerStatuses=[
                ContainerStatus(name=name, image="i", imageID="", ready=ready, restartCount=0, state=state)
                for name, state in zip(names, states, strict=True)
            ],
        ),
    )


def test_a_change_sets_the_transition_time_and_an_unchanged_condition_keeps_its_own() -> None:
    changed = readiness_patch(pod(ready=True), ready=False, now="2026-01-01T00:00:00Z")
    assert [c["lastTransitionTime"] for c in changed["status"]["conditions"]] == ["2026-01-01T00:00:00Z"] * 2
    unchanged = readiness_patch(pod(ready=False), ready=False, now="2026-01-01T00:00:00Z")
    assert all("lastTransitionTime" not in c for c in unchanged["status"]["conditions"])


def test_the_patch_carries_every_container_whole_and_the_resource_version() -> None:
    patch = readiness_patch(pod(ready=True, states=[RUNNING, RUNNING]), ready=False)
    assert patch["metadata"] == {"resourceVersion": "7"}
    assert [(c["name"], c["ready"], c["image"]) for c in patch["status"]["containerStatuses"]] == [
        ("c0", False, "i"),
        ("c1", False, "i"),
    ]


def test_a_pod_without_container_statuses_is_refused() -> None:
    empty = Pod(metadata=ObjectMeta(name="p", namespace="ns"), status=PodStatus(phase="Pending"))
    with pytest.raises(ClusterError, match="no container statuses yet"):
        readiness_patch(empty, ready=False)


def test_a_ready_container_counts_only_while_running_as_kubectl_counts_it() -> None:
    waiting = ContainerState(waiting=ContainerStateWaiting(reason="ContainerCreating"))
    readiness = observed_readiness(pod(ready=True, states=[RUNNING, waiting]))
    assert (readiness.ready_containers, readiness.containers) == (1, 2)
    assert str(readiness) == "pod ns/p: Ready, READY 1/2"
