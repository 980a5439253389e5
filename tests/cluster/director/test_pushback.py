"""When the apiserver pushes back (API Priority and Fairness answers 429), nothing is dropped.

A FlowSchema puts the controller's ServiceAccount into a priority level of its own with about three
seats and ``Reject`` when full — a real apiserver's real 429s with Retry-After. The controller must
wait as told, retry, and still converge every Service.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from lightkube import Client
from lightkube.generic_resource import create_global_resource
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.models.rbac_v1 import PolicyRule, RoleRef, Subject
from lightkube.resources.core_v1 import ServiceAccount
from lightkube.resources.rbac_authorization_v1 import Role, RoleBinding

from tests.cluster.director.conftest import ENABLED, ready_pods, wait_leader
from tests.support.controller import ControllerProcess
from tests.support.identity import service_account_kubeconfig
from tests.support.wait import eventually
from tests.support.workload import deployment, service
from zen_lead.localcluster import ClusterInfo

pytestmark = pytest.mark.cluster
FlowSchema = create_global_resource("flowcontrol.apiserver.k8s.io", "v1", "FlowSchema", "flowschemas")
PriorityLevel = create_global_resource(
    "flowcontrol.apiserver.k8s.io", "v1", "PriorityLevelConfiguration", "prioritylevelconfigurations"
)
SERVICES = 40


@pytest.fixture
def throttled_kubeconfig(
    kube: Client, cluster: ClusterInfo, namespace: str, tmp_path: Path
) -> Iterator[Path]:
    name = "zen-lead"
    kube.create(ServiceAccount(metadata=ObjectMeta(name=name, namespace=namespace)))
    rw = ["get", "list", "watch", "create", "patch", "delete"]
    kube.create(
        Role(
            metadata=ObjectMeta(name=name, namespace=namespace),
            rules=[
                PolicyRule(apiGroups=[""], resources=["services"], verbs=rw),
                PolicyRule(apiGroups=["discovery.k8s.io"], resources=["endpointslices"], verbs=rw),
                PolicyRule(apiGroups=[""], resources=["pods"], verbs=["get", "list", "watch"]),
                PolicyRule(apiGroups=[""], resources=["events"], verbs=["create", "patch"]),
            ],
        )
    )
    kube.create(
        RoleBinding(
            metadata=ObjectMeta(name=name, namespace=namespace),
            roleRef=RoleRef(apiGroup="rbac.authorization.k8s.io", kind="Role", name=name),
            subjects=[Subject(kind="ServiceAccount", name=name, namespace=namespace)],
        )
    )
    level = f"zl-tiny-{namespace}"[:63]
    kube.create(
        PriorityLevel.from_dict(
            {
                "metadata": {"name": level},
                "spec": {
                    "type": "Limited",
                    "limited": {
                        "nominalConcurrencyShares": 1,
                        "lendablePercent": 0,
                        "limitResponse": {"type": "Reject"},
                    },
                },
            }
        )
    )
    kube.create(
        FlowSchema.from_dict(
            {
                "metadata": {"name": level},
                "spec": {
                    "matchingPrecedence": 100,
                    "priorityLevelConfiguration": {"name": level},
                    "distinguisherMethod": {"type": "ByUser"},
                    "rules": [
                        {
                            "subjects": [
                                {
                                    "kind": "ServiceAccount",
                                    "serviceAccount": {"name": name, "namespace": namespace},
                                }
                            ],
                            "resourceRules": [
                                {
                                    "verbs": ["*"],
                                    "apiGroups": ["*"],
                                    "resources": ["*"],
                                    "namespaces": ["*"],
                                    "clusterScope": True,
                                }
                            ],
                        }
                    ],
                },
            }
        )
    )

    def in_effect() -> bool:
        # The apiserver's APF configuration controller marks a FlowSchema it has taken in with the
        # condition Dangling (False when its priority level exists): only then does it route requests.
        status = kube.get(FlowSchema, level).status or {}
        return any(
            c.get("type") == "Dangling" and c.get("status") == "False" for c in status.get("conditions", [])
        )

    eventually(in_effect, what=f"FlowSchema {level} in effect")
    yield service_account_kubeconfig(
        kube, cluster, namespace=namespace, name=name, target=tmp_path / "throttled.kubeconfig"
    )
    kube.delete(FlowSchema, level)
    kube.delete(PriorityLevel, level)


def test_429s_are_waited_out_and_every_service_converges(
    kube: Client, namespace: str, tmp_path: Path, throttled_kubeconfig: Path
) -> None:
    kube.create(deployment("pool", namespace, replicas=3))
    eventually(lambda: len(ready_pods(kube, namespace, {"app": "pool"})) == 3, what="3 pods")
    for index in range(SERVICES):
        kube.create(service(f"s{index}", namespace, selector={"app": "pool"}, annotations=ENABLED))
    with ControllerProcess(
        kubeconfig=throttled_kubeconfig,
        namespace=namespace,
        log_dir=tmp_path,
        extra=["--no-leader-elect", "--workers", "64"],
    ) as controller:
        for index in range(SERVICES):
            wait_leader(kube, namespace, f"s{index}-leader", timeout=90)
        assert controller.metric("zen_lead_api_throttled_total") > 0, "the apiserver never pushed back"
        assert controller.metric("zen_lead_api_requests_total", code="429") > 0
