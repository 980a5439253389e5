"""Make a simulated pod NotReady or Ready again, as its kubelet would on a failing readiness probe.

A kubelet whose readiness probe fails writes three things through the pod's status subresource: the
container's ``ready: false`` in ``containerStatuses``, and the ``ContainersReady`` and ``Ready``
conditions ``False`` (reason ``ContainersNotReady``). Controllers read the ``Ready`` condition;
``kubectl get pods`` counts ready containers for its READY column (``0/1``) — so all three are written,
in one patch, or the two views disagree. The containers keep running (phase ``Running``, ``started``).

kwok leaves such a pod alone: its pod stages act on pods that are ``Pending`` (start them, Ready), owned
by a Job (complete them) or being deleted — a Running pod made NotReady here stays NotReady until this
module makes it Ready again.

The patch carries the ``resourceVersion`` it was computed from, so a status written meanwhile by someone
else is never overwritten with an older copy: on a conflict the pod is read again and the patch redone.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from lightkube import ApiError, Client
from lightkube.models import core_v1 as models
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Pod

from zen_lead.localcluster.errors import ClusterError

CONFLICT_RETRIES = 5
CONDITIONS = ("ContainersReady", "Ready")


@dataclass(frozen=True, slots=True)
class PodReadiness:
    """What ``kubectl get pods`` shows for the pod afterwards."""

    namespace: str
    name: str
    ready: bool
    ready_containers: int
    containers: int

    def __str__(self) -> str:
        state = "Ready" if self.ready else "NotReady"
        return f"pod {self.namespace}/{self.name}: {state}, READY {self.ready_containers}/{self.containers}"


def set_pod_readiness(client: Client, name: str, *, namespace: str, ready: bool) -> PodReadiness:
    """Write the pod's readiness (containers and conditions) as its kubelet would; return the result."""
    for _ in range(CONFLICT_RETRIES):
        pod = client.get(Pod, name, namespace=namespace)
        try:
            updated = client.patch(
                Pod.Status, name, namespace=namespace, obj=readiness_patch(pod, ready=ready)
            )
        except ApiError as error:
            if error.status.code == 409:
                continue  # written meanwhile: recompute from the newer copy
            raise
        return observed_readiness(updated)
    raise ClusterError(f"pod {namespace}/{name} kept changing; its readiness was not written")


def readiness_patch(pod: models.Pod, *, ready: bool, now: str | None = None) -> dict[str, Any]:
    """The strategic-merge patch of ``pod``'s status that makes it ``ready`` (or not)."""
    status, meta = pod.status or models.PodStatus(), pod.metadata or ObjectMeta()
    statuses = list(status.containerStatuses or [])
    if not statuses:
        raise ClusterError(
            f"pod {meta.namespace}/{meta.name} has no container statuses yet (phase {status.phase}): "
            "wait until it runs"
        )
    now = now or time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    wanted = "True" if ready else "False"
    current = {c.type: c for c in status.conditions or []}
    unready = ", ".join(status.name for status in statuses)
    conditions = [
        {
            "type": kind,
            "status": wanted,
            "reason": None if ready else "ContainersNotReady",
            "message": None if ready else f"containers with unready status: [{unready}]",
            # Conditions merge by type: an unchanged one keeps its transition time, as a kubelet keeps it.
            **({"lastTransitionTime": now} if kind not in current or current[kind].status != wanted else {}),
        }
        for kind in CONDITIONS
    ]
    # containerStatuses is an atomic list: the patch carries every entry, whole, with only `ready` set.
    containers = [{**status.to_dict(), "ready": ready} for status in statuses]
    return {
        "metadata": {"resourceVersion": meta.resourceVersion},
        "status": {"conditions": conditions, "containerStatuses": containers},
    }


def observed_readiness(pod: models.Pod) -> PodReadiness:
    """Readiness as ``kubectl get pods`` reports it: a container counts when ready *and* running."""
    status, meta = pod.status or models.PodStatus(), pod.metadata or ObjectMeta()
    statuses = status.containerStatuses or []
    return PodReadiness(
        namespace=str(meta.namespace),
        name=str(meta.name),
        ready=any(c.type == "Ready" and c.status == "True" for c in status.conditions or []),
        ready_containers=sum(1 for s in statuses if s.ready and s.state is not None and s.state.running),
        containers=len(pod.spec.containers) if pod.spec else len(statuses),
    )
