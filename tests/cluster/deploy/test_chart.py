"""The chart as Helm sees it: lint, what each mode renders, what the schema refuses, and no drift between
the chart and the files generated from it (``deploy/``, the values table)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]  # PyYAML comes with lightkube; no stubs installed

from tests.cluster.deploy.conftest import CHART, container_args, find, helm_template, rendered

pytestmark = pytest.mark.cluster

NS = "ops"

# What the controller needs in each namespace it manages (docs/deployment.md explains each verb).
MANAGED_RULES = [
    {
        "apiGroups": [""],
        "resources": ["services"],
        "verbs": ["get", "list", "watch", "create", "patch", "delete"],
    },
    {
        "apiGroups": ["discovery.k8s.io"],
        "resources": ["endpointslices"],
        "verbs": ["get", "list", "watch", "create", "patch", "delete"],
    },
    {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]},
    {"apiGroups": [""], "resources": ["events"], "verbs": ["create", "patch"]},
]
LEASE_RULES = [
    {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["create"]},
    {
        "apiGroups": ["coordination.k8s.io"],
        "resources": ["leases"],
        "resourceNames": ["zen-lead"],
        "verbs": ["get", "watch", "patch"],
    },
]
NODE_RULES = [{"apiGroups": [""], "resources": ["nodes"], "verbs": ["get", "list", "watch"]}]


def namespaced_rules(namespace: str) -> list[dict[str, object]]:
    """A managed namespace's Role: the managed rules, and reading that namespace itself."""
    own = {"apiGroups": [""], "resources": ["namespaces"], "resourceNames": [namespace], "verbs": ["get"]}
    return [*MANAGED_RULES, own]


MODES: dict[str, dict[str, Any]] = {
    "default": {},
    "multi-namespace": {"watchNamespaces": ["payments", "orders"]},
    "cluster-wide": {"clusterWide": True, "nodeZones": True},
    "everything-on": {
        "watchNamespaces": ["payments"],
        "nodeZones": True,
        "metrics": {"serviceMonitor": {"enabled": True}, "prometheusRule": {"enabled": True}},
        "grafanaDashboard": {"enabled": True},
    },
}


def kinds(objects: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    return sorted((o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"]) for o in objects)


def role_rules(objects: list[dict[str, Any]], kind: str, name: str, namespace: str | None = None) -> Any:
    [role] = [
        o for o in find(objects, kind, name) if namespace is None or o["metadata"]["namespace"] == namespace
    ]
    return role["rules"]


@pytest.mark.parametrize("mode", MODES)
def test_helm_lint_is_clean(helm: Path, mode: str, tmp_path: Path) -> None:
    values = tmp_path / "values.yaml"
    values.write_text(yaml.safe_dump(MODES[mode]))
    result = subprocess.run(
        [str(helm), "lint", "--strict", str(CHART), "--namespace", NS, "--values", str(values)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "[WARNING]" not in result.stdout, result.stdout
    assert "[ERROR]" not in result.stdout, result.stdout


def test_default_is_namespace_scoped(helm: Path) -> None:
    objects = rendered(helm, namespace=NS)
    assert kinds(objects) == [
        ("Deployment", NS, "zen-lead"),
        ("PodDisruptionBudget", NS, "zen-lead"),
        ("Role", NS, "zen-lead"),
        ("Role", NS, "zen-lead-leader-election"),
        ("RoleBinding", NS, "zen-lead"),
        ("RoleBinding", NS, "zen-lead-leader-election"),
        ("Service", NS, "zen-lead-metrics"),
        ("ServiceAccount", NS, "zen-lead"),
    ]
    assert role_rules(objects, "Role", "zen-lead") == namespaced_rules(NS)
    assert role_rules(objects, "Role", "zen-lead-leader-election") == LEASE_RULES
    for binding in find(objects, "RoleBinding"):
        assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "zen-lead", "namespace": NS}]
        assert binding["roleRef"]["name"] == binding["metadata"]["name"]
    assert container_args(objects) == [
        f"--namespace={NS}",
        "--metrics-bind-address=:8080",
        "--health-probe-bind-address=:8081",
        "--leader-elect",
        "--leader-elect-resource-name=zen-lead",
        f"--leader-elect-resource-namespace={NS}",
        "--leader-elect-lease-duration=15s",
        "--leader-elect-renew-deadline=10s",
        "--leader-elect-retry-period=2s",
        "--kube-api-qps=500",
        "--kube-api-burst=1000",
        "--workers=64",
        "--no-node-zones",
        "--controllers=*",
        "--log-level=info",
        "--log-format=json",
    ]


def test_watch_namespaces_get_a_role_each_and_a_flag_each(helm: Path) -> None:
    objects = rendered(helm, namespace=NS, watchNamespaces=["payments", NS, "orders"])
    for namespace in (NS, "payments", "orders"):
        assert role_rules(objects, "Role", "zen-lead", namespace) == namespaced_rules(namespace)
        [binding] = [
            b for b in find(objects, "RoleBinding", "zen-lead") if b["metadata"]["namespace"] == namespace
        ]
        assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "zen-lead", "namespace": NS}]
    assert len(find(objects, "Role", "zen-lead")) == 3  # the release namespace is not repeated
    assert [a for a in container_args(objects) if a.startswith("--namespace")] == [
        f"--namespace={NS}",
        "--namespace=payments",
        "--namespace=orders",
    ]
    assert not find(objects, "ClusterRole")
    assert not find(objects, "ClusterRoleBinding")
    # The Lease stays in the release namespace only.
    [lease_role] = find(objects, "Role", "zen-lead-leader-election")
    assert lease_role["metadata"]["namespace"] == NS


def test_cluster_wide_uses_a_cluster_role_and_all_namespaces(helm: Path) -> None:
    objects = rendered(helm, namespace=NS, clusterWide=True)
    assert role_rules(objects, "ClusterRole", f"{NS}-zen-lead") == MANAGED_RULES
    [binding] = find(objects, "ClusterRoleBinding")
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": f"{NS}-zen-lead",
    }
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "zen-lead", "namespace": NS}]
    assert [r["metadata"]["name"] for r in find(objects, "Role")] == ["zen-lead-leader-election"]
    args = container_args(objects)
    assert "--all-namespaces" in args
    assert not [a for a in args if a.startswith("--namespace")]


def test_node_zones_adds_read_only_access_to_nodes(helm: Path) -> None:
    without = rendered(helm, namespace=NS)
    assert "--no-node-zones" in container_args(without)
    objects = rendered(helm, namespace=NS, nodeZones=True)
    assert "--node-zones" in container_args(objects)
    assert role_rules(objects, "ClusterRole", f"{NS}-zen-lead-nodes") == NODE_RULES
    [binding] = find(objects, "ClusterRoleBinding")
    assert binding["roleRef"]["name"] == f"{NS}-zen-lead-nodes"


def test_no_rule_grants_secrets_or_pod_writes_in_any_mode(helm: Path) -> None:
    for sets in MODES.values():
        for role in find(rendered(helm, namespace=NS, **sets), "Role") + find(
            rendered(helm, namespace=NS, **sets), "ClusterRole"
        ):
            for rule in role["rules"]:
                assert "*" not in rule["verbs"], rule
                assert "*" not in rule["resources"], rule
                assert "secrets" not in rule["resources"], rule
                if "pods" in rule["resources"] or any(r.startswith("pods/") for r in rule["resources"]):
                    assert set(rule["verbs"]) <= {"get", "list", "watch"}, rule


def test_deployment_is_hardened(helm: Path) -> None:
    [deployment] = find(rendered(helm, namespace=NS), "Deployment")
    spec = deployment["spec"]
    assert spec["replicas"] == 2
    pod = spec["template"]["spec"]
    assert pod["serviceAccountName"] == "zen-lead"
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    [container] = pod["containers"]
    security = container["securityContext"]
    assert security["allowPrivilegeEscalation"] is False
    assert security["readOnlyRootFilesystem"] is True
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert security["seccompProfile"] == {"type": "RuntimeDefault"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "probes"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "probes"}
    assert {p["name"]: p["containerPort"] for p in container["ports"]} == {"metrics": 8080, "probes": 8081}
    assert container["resources"]["requests"]
    assert container["resources"]["limits"]["memory"]
    env = {e["name"]: e["valueFrom"]["fieldRef"]["fieldPath"] for e in container["env"]}
    assert env == {"POD_NAME": "metadata.name", "POD_NAMESPACE": "metadata.namespace"}
    selector = spec["selector"]["matchLabels"]
    assert [c["topologyKey"] for c in pod["topologySpreadConstraints"]] == [
        "topology.kubernetes.io/zone",
        "kubernetes.io/hostname",
    ]
    assert all(c["labelSelector"] == {"matchLabels": selector} for c in pod["topologySpreadConstraints"])


DIGEST = "sha256:" + "0123456789abcdef" * 4


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        ({}, "localhost:5000/zen-lead:0.1.0"),  # never a bare name: that would be Docker Hub's library/
        ({"registry": "registry.example.com", "tag": "0.1.1"}, "registry.example.com/zen-lead:0.1.1"),
        (
            {"registry": "registry.example.com:5443", "repository": "team/zl"},
            "registry.example.com:5443/team/zl:0.1.0",
        ),
        ({"digest": DIGEST}, f"localhost:5000/zen-lead@{DIGEST}"),
        ({"tag": "0.1.1", "digest": DIGEST}, f"localhost:5000/zen-lead@{DIGEST}"),  # the digest wins
        ({"registry": "", "repository": "ghcr.example/zl/zen-lead"}, "ghcr.example/zl/zen-lead:0.1.0"),
    ],
)
def test_image_is_registry_repository_and_tag_or_digest(
    helm: Path, image: dict[str, str], expected: str
) -> None:
    [deployment] = find(rendered(helm, namespace=NS, image=image), "Deployment")
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    assert container["image"] == expected


def test_pod_disruption_budget_only_with_two_replicas(helm: Path) -> None:
    [pdb] = find(rendered(helm, namespace=NS), "PodDisruptionBudget")
    assert pdb["spec"]["maxUnavailable"] == 1
    single = rendered(helm, namespace=NS, replicaCount=1, leaderElection={"enabled": False})
    assert not find(single, "PodDisruptionBudget")
    assert "--no-leader-elect" in container_args(single)
    assert not find(single, "Role", "zen-lead-leader-election")


def test_monitoring_objects_embed_the_shared_files(helm: Path) -> None:
    objects = rendered(helm, namespace=NS, **MODES["everything-on"])
    [rule] = find(objects, "PrometheusRule")
    assert rule["spec"] == yaml.safe_load((CHART / "files" / "zen-lead-rules.yaml").read_text())
    [dashboard] = find(objects, "ConfigMap", "zen-lead-dashboard")
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert dashboard["data"]["zen-lead-dashboard.json"] == (
        CHART / "files" / "zen-lead-dashboard.json"
    ).read_text().rstrip("\n")
    [monitor] = find(objects, "ServiceMonitor")
    [endpoint] = monitor["spec"]["endpoints"]
    assert endpoint["port"] == "metrics"
    assert endpoint["honorLabels"] is True
    [service] = find(objects, "Service", "zen-lead-metrics")
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"unknown": 1}, "additional properties 'unknown' not allowed"),
        ({"controller": {"logLevel": "verbose"}}, "/controller/logLevel"),
        ({"controller": {"logFormat": "xml"}}, "/controller/logFormat"),
        ({"controller": {"qps": "fast"}}, "/controller/qps"),
        ({"controller": {"workers": 0}}, "/controller/workers"),
        ({"controller": {"extraArgs": ["oops"]}}, "/controller/extraArgs/0"),
        ({"controller": {"typo": 1}}, "additional properties 'typo' not allowed"),
        ({"replicaCount": 0}, "/replicaCount"),
        ({"replicaCount": "2"}, "/replicaCount"),
        ({"watchNamespaces": ["Not_A_Namespace"]}, "/watchNamespaces/0"),
        ({"watchNamespaces": ["a", "a"]}, "/watchNamespaces"),
        ({"watchNamespaces": "payments"}, "/watchNamespaces"),
        ({"clusterWide": True, "watchNamespaces": ["payments"]}, "/watchNamespaces"),
        ({"clusterWide": "yes"}, "/clusterWide"),
        ({"image": {"pullPolicy": "Sometimes"}}, "/image/pullPolicy"),
        ({"image": {"tag": 1}}, "/image/tag"),
        ({"image": {"digest": "sha256:abc"}}, "/image/digest"),
        ({"image": {"digest": "latest"}}, "/image/digest"),
        ({"image": {"registry": "https://registry.example.com"}}, "/image/registry"),
        ({"image": {"registry": "registry.example.com/team"}}, "/image/registry"),
        ({"ports": {"metrics": 70000}}, "/ports/metrics"),
        ({"leaderElection": {"leaseDuration": 0}}, "/leaderElection/leaseDuration"),
        ({"metrics": {"serviceMonitor": {"interval": "often"}}}, "/metrics/serviceMonitor/interval"),
        ({"metrics": {"service": {"type": "ExternalName"}}}, "/metrics/service/type"),
        ({"podDisruptionBudget": {"maxUnavailable": "half"}}, "/podDisruptionBudget/maxUnavailable"),
        # Invariants the schema cannot state; the templates refuse them.
        ({"ports": {"probes": 8080}}, "ports.metrics and ports.probes must differ"),
        ({"leaderElection": {"renewDeadline": 15}}, "leaseDuration > renewDeadline > 1.2 * retryPeriod"),
        ({"leaderElection": {"retryPeriod": 9}}, "leaseDuration > renewDeadline > 1.2 * retryPeriod"),
        ({"serviceAccount": {"create": False}}, "serviceAccount.name is required"),
        (
            {"metrics": {"service": {"enabled": False}, "serviceMonitor": {"enabled": True}}},
            "needs metrics.service.enabled",
        ),
    ],
    ids=lambda v: str(v)[:60] if isinstance(v, dict) else "",
)
def test_bad_values_are_refused(helm: Path, values: dict[str, Any], message: str) -> None:
    result = helm_template(helm, namespace=NS, sets=values)
    assert result.returncode != 0, f"accepted {values}"
    assert message in result.stderr, result.stderr


def test_generated_files_match_the_chart(helm: Path, render: ModuleType) -> None:
    """deploy/zen-lead.yaml, deploy/prometheus, deploy/grafana and the README values table."""
    stale = render.stale(render.generated(helm))
    assert not stale, f"stale: {stale}; run: python deploy/render.py"


# What pools add in each managed namespace (docs/pools.md explains each verb), only with pools.enabled.
POOL_RULES = [
    {
        "apiGroups": ["coordination.kube-zen.io"],
        "resources": ["leaderpolicies"],
        "verbs": ["get", "list", "watch", "patch"],
    },
    {"apiGroups": ["coordination.kube-zen.io"], "resources": ["leaderpolicies/status"], "verbs": ["patch"]},
    {
        "apiGroups": ["coordination.k8s.io"],
        "resources": ["leases"],
        "verbs": ["get", "list", "watch", "create", "patch"],
    },
    {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]},
    {"apiGroups": [""], "resources": ["events"], "verbs": ["create", "patch"]},
    {"apiGroups": ["autoscaling"], "resources": ["horizontalpodautoscalers"], "verbs": ["list", "watch"]},
    {"apiGroups": ["apps"], "resources": ["deployments/scale"], "verbs": ["get", "patch"]},
    {"apiGroups": ["apps"], "resources": ["statefulsets/scale"], "verbs": ["get", "patch"]},
    *MANAGED_RULES[:2],  # services and endpointslices, as the director's: a pool's leader Service
]
POD_PATCH = {"apiGroups": [""], "resources": ["pods"], "verbs": ["patch"]}


@pytest.mark.parametrize("pod_writes", [True, False])
def test_pools_add_their_crd_their_rules_and_the_controller_only_when_enabled(
    helm: Path, pod_writes: bool
) -> None:
    objects = rendered(helm, namespace=NS, pools={"enabled": True, "podWrites": pod_writes})
    [crd] = find(objects, "CustomResourceDefinition")
    assert crd["metadata"]["name"] == "leaderpolicies.coordination.kube-zen.io"
    assert crd["spec"]["scope"] == "Namespaced"
    rules = role_rules(objects, "Role", "zen-lead")
    own = namespaced_rules(NS)[-1]
    assert rules == [*MANAGED_RULES, *POOL_RULES, *([POD_PATCH] if pod_writes else []), own]
    assert "--controllers=*,pools" in container_args(objects)
    # the day-0 Service mode has none of it: no CRD, no pod write, no pools controller
    plain = rendered(helm, namespace=NS)
    assert not find(plain, "CustomResourceDefinition")
    assert all(
        "patch" not in r["verbs"] for r in role_rules(plain, "Role", "zen-lead") if r["resources"] == ["pods"]
    )
    assert "--controllers=*" in container_args(plain)


def test_artifact_hub_metadata_matches_the_chart() -> None:
    """The Artifact Hub annotations parse and say what the chart ships: its CRD, its image, valid kinds."""
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    annotations = chart["annotations"]
    assert annotations["artifacthub.io/category"] in {
        "ai-machine-learning", "database", "integration-delivery", "monitoring-logging", "networking",
        "security", "storage", "streaming-messaging",
    }  # fmt: skip
    listed = yaml.safe_load(annotations["artifacthub.io/crds"])
    examples = yaml.safe_load(annotations["artifacthub.io/crdsExamples"])
    files = sorted((CHART / "files" / "crds").glob("*.yaml"))
    assert len(listed) == len(examples) == len(files)  # every CRD the chart ships, each with an example
    for path, entry, example in zip(
        files, sorted(listed, key=lambda e: e["name"]), sorted(examples, key=lambda e: e["kind"]), strict=True
    ):
        crd = yaml.safe_load(path.read_text())
        assert entry["name"] == crd["metadata"]["name"]
        assert entry["kind"] == crd["spec"]["names"]["kind"] == example["kind"]
        assert entry["version"] in {v["name"] for v in crd["spec"]["versions"]}
        assert example["apiVersion"] == f"{crd['spec']['group']}/{entry['version']}"
    [image] = yaml.safe_load(annotations["artifacthub.io/images"])
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert image["image"] == f"{values['image']['repository']}:{chart['appVersion']}"
    changes = yaml.safe_load(annotations["artifacthub.io/changes"])
    assert changes
    assert all(
        c["kind"] in {"added", "changed", "deprecated", "removed", "fixed", "security"} for c in changes
    )


# What the status API adds in each managed namespace (docs/api.md), only with api.enabled.
API_RULES = [
    {
        "apiGroups": ["coordination.k8s.io"],
        "resources": ["leases"],
        "verbs": ["get", "list", "watch", "create", "patch"],
    },
    {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]},
    {"apiGroups": [""], "resources": ["services"], "verbs": ["get", "list", "watch"]},
    {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": ["get", "list", "watch"]},
]


def test_the_api_adds_its_binding_rules_ports_and_tls_only_when_enabled(helm: Path) -> None:
    objects = rendered(helm, namespace=NS, api={"enabled": True, "tls": {"secretName": "api-cert"}})
    [binding] = [
        b for b in find(objects, "ClusterRoleBinding") if b["roleRef"]["name"] == "system:auth-delegator"
    ]
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "zen-lead", "namespace": NS}]
    rules = role_rules(objects, "Role", "zen-lead")
    assert rules == [*MANAGED_RULES, *API_RULES, namespaced_rules(NS)[-1]]
    args = container_args(objects)
    for flag in (
        "--api-bind-address=:8443",
        "--grpc-bind-address=:9443",
        "--api-tls-cert-file=/etc/zen-lead/api-tls/tls.crt",
        "--api-tls-key-file=/etc/zen-lead/api-tls/tls.key",
        "--api-stale-after=10s",
    ):
        assert flag in args
    [deployment] = find(objects, "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    assert {"name": "api-tls", "secret": {"secretName": "api-cert"}} in pod["volumes"]
    ports = {p["name"]: p["containerPort"] for p in pod["containers"][0]["ports"]}
    assert (ports["api"], ports["grpc"]) == (8443, 9443)
    [service] = [s for s in find(objects, "Service") if s["metadata"]["name"] == "zen-lead-api"]
    assert {p["name"]: p["targetPort"] for p in service["spec"]["ports"]} == {"api": "api", "grpc": "grpc"}
    # the day-0 Service mode has none of it
    plain = rendered(helm, namespace=NS)
    assert not [
        b for b in find(plain, "ClusterRoleBinding") if b["roleRef"]["name"] == "system:auth-delegator"
    ]
    assert not any(a.startswith("--api-") or a.startswith("--grpc-") for a in container_args(plain))
    assert not [s for s in find(plain, "Service") if s["metadata"]["name"] == "zen-lead-api"]


def test_the_api_refuses_to_serve_without_tls(helm: Path) -> None:
    result = helm_template(helm, namespace=NS, sets={"api": {"enabled": True}})
    assert result.returncode != 0
    assert "api.enabled needs api.tls.secretName" in result.stderr
