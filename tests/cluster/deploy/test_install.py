"""The chart on a real apiserver: every rendered object is accepted, the ServiceAccount's permissions are
exactly the chart's (no more), and the controller running with that identity does its job."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]  # PyYAML comes with lightkube; no stubs installed
from lightkube import Client
from lightkube.codecs import load_all_yaml
from lightkube.models.authorization_v1 import (
    ResourceAttributes,
    SelfSubjectRulesReviewSpec,
    SubjectAccessReviewSpec,
)
from lightkube.models.core_v1 import Capabilities, PodSecurityContext, SeccompProfile, SecurityContext
from lightkube.resources.apps_v1 import Deployment
from lightkube.resources.authorization_v1 import SelfSubjectRulesReview, SubjectAccessReview
from lightkube.resources.coordination_v1 import Lease
from lightkube.resources.core_v1 import Namespace, Pod, Service
from lightkube.types import PatchType

from tests.cluster.deploy.conftest import (
    FIELD_MANAGER,
    RESTRICTED,
    ROOT,
    Installation,
    container_args,
    install,
    make_namespace,
    uninstall,
)
from tests.cluster.director.conftest import ENABLED, events, leader_slices, ready_pods, wait_leader
from tests.support.controller import ControllerProcess
from tests.support.wait import eventually
from tests.support.workload import deployment, service, set_pod_ready
from zen_lead.kube.config import sync_client
from zen_lead.localcluster import ClusterInfo

pytestmark = pytest.mark.cluster

MANAGED = {
    ("", "services"): {"get", "list", "watch", "create", "patch", "delete"},
    ("discovery.k8s.io", "endpointslices"): {"get", "list", "watch", "create", "patch", "delete"},
    ("", "pods"): {"get", "list", "watch"},
    ("", "events"): {"create", "patch"},
}
# Flags that are about this test process, not about the chart (ControllerProcess sets its own).
LOCAL_FLAGS = ("--metrics-bind-address", "--health-probe-bind-address", "--log-level")


@pytest.fixture(scope="module")
def namespaced(
    kube: Client,
    cluster: ClusterInfo,
    helm: Path,
    workdir: Path,
    namespaces: list[str],
    monitoring_crds: None,
) -> Iterator[Installation]:
    """The chart in its release namespace plus one watched namespace, monitoring objects on."""
    release_ns = make_namespace(kube, "zl-release", RESTRICTED)
    watched = make_namespace(kube, "zl-watched")
    namespaces += [release_ns, watched]
    installation = install(
        kube,
        cluster,
        helm,
        namespace=release_ns,
        release="zen-lead",
        workdir=workdir,
        watchNamespaces=[watched],
        metrics={"serviceMonitor": {"enabled": True}, "prometheusRule": {"enabled": True}},
        grafanaDashboard={"enabled": True},
    )
    yield installation
    uninstall(kube, installation)


@pytest.fixture(scope="module")
def cluster_wide(
    kube: Client, cluster: ClusterInfo, helm: Path, workdir: Path, namespaces: list[str]
) -> Iterator[Installation]:
    release_ns = make_namespace(kube, "zl-cw", RESTRICTED)
    namespaces.append(release_ns)
    installation = install(
        kube,
        cluster,
        helm,
        namespace=release_ns,
        release="zl",
        workdir=workdir,
        clusterWide=True,
        nodeZones=True,
    )
    yield installation
    uninstall(kube, installation)


@pytest.fixture(scope="module")
def elsewhere(kube: Client, namespaces: list[str]) -> str:
    """A namespace the namespaced installation does not manage."""
    name = make_namespace(kube, "zl-elsewhere")
    namespaces.append(name)
    return name


def watched_namespace(installation: Installation) -> str:
    [watched] = [
        a.partition("=")[2]
        for a in container_args(installation.objects)
        if a.startswith("--namespace=") and a != f"--namespace={installation.namespace}"
    ]
    return watched


def allowed(
    kube: Client,
    who: Installation,
    *,
    verb: str,
    resource: str,
    namespace: str | None = None,
    group: str = "",
    name: str | None = None,
    subresource: str | None = None,
) -> bool:
    review = SubjectAccessReview(
        spec=SubjectAccessReviewSpec(
            user=who.user,
            groups=who.groups,
            resourceAttributes=ResourceAttributes(
                verb=verb,
                resource=resource,
                group=group,
                namespace=namespace,
                name=name,
                subresource=subresource,
            ),
        )
    )
    status = kube.create(review).status
    assert status is not None
    return bool(status.allowed)


def resource_rules(client: Client, namespace: str) -> dict[tuple[str, str, str], set[str]]:
    """(group, resource, resourceName) -> verbs the client's identity has in ``namespace``.

    Leaves out what every authenticated user has (creating self-reviews in authorization.k8s.io and
    authentication.k8s.io)."""
    review = client.create(SelfSubjectRulesReview(spec=SelfSubjectRulesReviewSpec(namespace=namespace)))
    found: dict[tuple[str, str, str], set[str]] = {}
    assert review.status is not None
    for rule in review.status.resourceRules:
        for group in rule.apiGroups or [""]:
            if group in ("authorization.k8s.io", "authentication.k8s.io"):
                continue
            for resource in rule.resources or []:
                for name in rule.resourceNames or [""]:
                    found.setdefault((group, resource, name), set()).update(rule.verbs)
    return found


def assert_rules(client: Client, namespace: str, expected: dict[tuple[str, str, str], set[str]]) -> None:
    """The identity's rules in ``namespace`` are exactly ``expected`` once RBAC has seen the bindings.

    The apiserver's authorizer reads Roles and bindings from informers: a binding just applied takes
    effect a moment later, so the comparison is retried for a few seconds before it fails."""

    def check() -> bool:
        assert resource_rules(client, namespace) == expected
        return True

    eventually(check, timeout=10, what=f"the rules in {namespace}")


def expected_rules(
    *, managed: bool, lease: str | None, nodes: bool, own: str | None = None
) -> dict[tuple[str, str, str], set[str]]:
    """``own``: the managed namespace, which a namespaced Role lets the controller read (it exists?)."""
    rules: dict[tuple[str, str, str], set[str]] = {}
    if managed:
        rules |= {(group, resource, ""): set(verbs) for (group, resource), verbs in MANAGED.items()}
    if own is not None:
        rules[("", "namespaces", own)] = {"get"}
    if lease is not None:
        rules[("coordination.k8s.io", "leases", "")] = {"create"}
        rules[("coordination.k8s.io", "leases", lease)] = {"get", "watch", "patch"}
    if nodes:
        rules[("", "nodes", "")] = {"get", "list", "watch"}
    return rules


# ---- every object accepted ---------------------------------------------------------------------------
def test_every_rendered_object_is_accepted(kube: Client, namespaced: Installation) -> None:
    kinds = sorted({o["kind"] for o in namespaced.objects})
    assert kinds == [
        "ConfigMap",
        "Deployment",
        "PodDisruptionBudget",
        "PrometheusRule",
        "Role",
        "RoleBinding",
        "Service",
        "ServiceAccount",
        "ServiceMonitor",
    ]
    obj: Any
    for obj in load_all_yaml(yaml.safe_dump_all(namespaced.objects)):
        stored: Any = kube.get(type(obj), obj.metadata.name, namespace=obj.metadata.namespace)
        managers = {m.manager for m in stored.metadata.managedFields or []}
        assert FIELD_MANAGER in managers, (type(obj).__name__, obj.metadata.name)


def test_controller_pods_pass_the_restricted_pod_security_standard(
    kube: Client, namespaced: Installation
) -> None:
    """The release namespace enforces `restricted`: the ReplicaSet can create the pods only if they comply."""
    labels: dict[str, Any] = {
        "app.kubernetes.io/name": "zen-lead",
        "app.kubernetes.io/instance": namespaced.release,
    }
    eventually(
        lambda: len(list(kube.list(Pod, namespace=namespaced.namespace, labels=labels))) == 2,
        timeout=30,
        what="the Deployment's two pods admitted",
    )


def test_plain_manifests_are_accepted(kube: Client) -> None:
    """deploy/zen-lead.yaml (the chart with default values, plus its Namespace) as `kubectl apply` sees it."""
    objects = load_all_yaml((ROOT / "deploy" / "zen-lead.yaml").read_text())
    eventually(  # a reused cluster may still be deleting it from an earlier run
        lambda: not list(kube.list(Namespace, fields={"metadata.name": "zen-lead"})),
        timeout=60,
        what="namespace zen-lead gone",
    )
    try:
        for obj in objects:
            kube.apply(obj, field_manager=FIELD_MANAGER, force=True)
        labels: dict[str, Any] = {"app.kubernetes.io/name": "zen-lead"}
        eventually(
            lambda: len(list(kube.list(Pod, namespace="zen-lead", labels=labels))) == 2,
            timeout=30,
            what="the plain manifests' two pods admitted",
        )
    finally:
        kube.delete(Namespace, "zen-lead")


# ---- permissions: exactly the chart's ----------------------------------------------------------------
def test_namespaced_identity_has_exactly_the_chart_rules(
    cluster: ClusterInfo, namespaced: Installation, elsewhere: str
) -> None:
    client = sync_client(namespaced.kubeconfig, field_manager=FIELD_MANAGER)
    lease = namespaced.lease
    assert_rules(
        client,
        namespaced.namespace,
        expected_rules(managed=True, lease=lease, nodes=False, own=namespaced.namespace),
    )
    watched = watched_namespace(namespaced)
    assert_rules(client, watched, expected_rules(managed=True, lease=None, nodes=False, own=watched))
    assert_rules(client, elsewhere, expected_rules(managed=False, lease=None, nodes=False))


def test_cluster_wide_identity_has_exactly_the_chart_rules(
    cluster: ClusterInfo, cluster_wide: Installation, elsewhere: str
) -> None:
    client = sync_client(cluster_wide.kubeconfig, field_manager=FIELD_MANAGER)
    assert_rules(
        client, cluster_wide.namespace, expected_rules(managed=True, lease=cluster_wide.lease, nodes=True)
    )
    assert_rules(client, elsewhere, expected_rules(managed=True, lease=None, nodes=True))


@pytest.mark.parametrize(
    ("verb", "resource", "subresource"),
    [
        ("patch", "pods", None),
        ("update", "pods", None),
        ("create", "pods", None),
        ("delete", "pods", None),
        ("deletecollection", "pods", None),
        ("patch", "pods", "status"),
        ("create", "pods", "eviction"),
        ("get", "secrets", None),
        ("list", "secrets", None),
        ("watch", "secrets", None),
        ("update", "services", None),
        ("update", "leases", None),
    ],
)
def test_access_reviews_deny_what_the_controller_must_not_do(
    kube: Client,
    namespaced: Installation,
    cluster_wide: Installation,
    verb: str,
    resource: str,
    subresource: str | None,
) -> None:
    group = "coordination.k8s.io" if resource == "leases" else ""
    for who in (namespaced, cluster_wide):
        for namespace in (who.namespace, watched_namespace(namespaced), None):
            assert not allowed(
                kube,
                who,
                verb=verb,
                resource=resource,
                group=group,
                namespace=namespace,
                subresource=subresource,
            ), (who.release, verb, resource, subresource, namespace)


def test_access_reviews_confine_the_namespaced_identity(
    kube: Client, namespaced: Installation, cluster_wide: Installation, elsewhere: str
) -> None:
    ns, watched = namespaced.namespace, watched_namespace(namespaced)
    # Positive controls: what the controller needs, where it needs it.
    for namespace in (ns, watched):
        assert allowed(kube, namespaced, verb="patch", resource="services", namespace=namespace)
        assert allowed(
            kube,
            namespaced,
            verb="delete",
            group="discovery.k8s.io",
            resource="endpointslices",
            namespace=namespace,
        )
        assert allowed(kube, namespaced, verb="watch", resource="pods", namespace=namespace)
        assert allowed(kube, namespaced, verb="create", resource="events", namespace=namespace)
    assert allowed(
        kube,
        namespaced,
        verb="patch",
        group="coordination.k8s.io",
        resource="leases",
        namespace=ns,
        name=namespaced.lease,
    )
    # Nothing in a namespace it does not manage, nothing cluster-wide.
    for verb in ("get", "list", "watch", "create", "patch", "delete"):
        assert not allowed(kube, namespaced, verb=verb, resource="services", namespace=elsewhere)
        assert not allowed(kube, namespaced, verb=verb, resource="services")
        assert not allowed(
            kube,
            namespaced,
            verb=verb,
            group="discovery.k8s.io",
            resource="endpointslices",
            namespace=elsewhere,
        )
    assert not allowed(kube, namespaced, verb="list", resource="pods", namespace=elsewhere)
    assert not allowed(kube, namespaced, verb="list", resource="nodes")
    # The Lease: only its own, only in the release namespace.
    assert not allowed(
        kube,
        namespaced,
        verb="patch",
        group="coordination.k8s.io",
        resource="leases",
        namespace=ns,
        name="kube-scheduler",
    )
    assert not allowed(
        kube, namespaced, verb="create", group="coordination.k8s.io", resource="leases", namespace=watched
    )
    # Cluster-wide mode reaches every namespace, reads nodes, and still no more.
    assert allowed(kube, cluster_wide, verb="patch", resource="services", namespace=elsewhere)
    assert allowed(kube, cluster_wide, verb="list", resource="services")
    assert allowed(kube, cluster_wide, verb="watch", resource="nodes")
    assert not allowed(kube, cluster_wide, verb="patch", resource="nodes")
    assert not allowed(
        kube, cluster_wide, verb="create", group="coordination.k8s.io", resource="leases", namespace=elsewhere
    )


# ---- the controller with the chart's identity ----------------------------------------------------------
def restricted_deployment(name: str, namespace: str) -> Deployment:
    """The test workload, made to meet the `restricted` Pod Security Standard of the release namespace."""
    workload = deployment(name, namespace, replicas=2)
    assert workload.spec is not None
    pod = workload.spec.template.spec
    assert pod is not None
    pod.securityContext = PodSecurityContext(
        runAsNonRoot=True, runAsUser=1000, seccompProfile=SeccompProfile(type="RuntimeDefault")
    )
    for container in pod.containers:
        container.securityContext = SecurityContext(
            allowPrivilegeEscalation=False, capabilities=Capabilities(drop=["ALL"])
        )
    return workload


def run_smoke(kube: Client, namespace: str, name: str) -> None:
    """Annotated Service + Deployment -> one leader endpoint; the leader turns NotReady -> it moves.

    The leader then moves back and forth so that the same change happens twice: the recorder patches
    the existing Event (count 2) instead of creating a second one, which exercises `patch` on events.
    """
    kube.create(restricted_deployment(name, namespace))
    kube.create(service(name, namespace, selector={"app": name}, annotations=ENABLED))
    eventually(lambda: len(ready_pods(kube, namespace, {"app": name})) == 2, what="2 ready pods")
    leader_service = f"{name}-leader"
    first = wait_leader(kube, namespace, leader_service)
    set_pod_ready(kube, first, namespace, False)
    second = wait_leader(kube, namespace, leader_service, not_in={first})
    set_pod_ready(kube, first, namespace, True)
    set_pod_ready(kube, second, namespace, False)
    wait_leader(kube, namespace, leader_service, not_in={second})
    set_pod_ready(kube, second, namespace, True)
    set_pod_ready(kube, first, namespace, False)
    wait_leader(kube, namespace, leader_service, not_in={first})

    def repeated_change() -> bool:
        changes = events(kube, namespace, reason="LeaderChanged", involved=name)
        return any(f"from pod {first} to {second}" in (e.message or "") and e.count == 2 for e in changes)

    eventually(repeated_change, what=f"the Event of {first} -> {second} counted twice")


def exercise_deletes(kube: Client, controller: ControllerProcess, namespace: str, app: str) -> None:
    """A dual-stack source turned single-stack (its IPv6 leader slice is deleted), then opted out (its
    leader Service is deleted): the `delete` verbs, seen in the controller's own request metrics."""
    name = f"{app}-dual"
    kube.create(
        service(
            name,
            namespace,
            selector={"app": app},
            annotations=ENABLED,
            ipFamilyPolicy="RequireDualStack",
            ipFamilies=["IPv4", "IPv6"],
        )
    )
    leader_service = f"{name}-leader"
    eventually(lambda: len(leader_slices(kube, namespace, leader_service)) == 2, what="IPv4 and IPv6 slices")
    kube.patch(
        Service,
        name,
        {"spec": {"ipFamilyPolicy": "SingleStack", "ipFamilies": ["IPv4"]}},
        namespace=namespace,
        patch_type=PatchType.MERGE,
    )
    eventually(
        lambda: [s.addressType for s in leader_slices(kube, namespace, leader_service)] == ["IPv4"],
        what="the IPv6 slice deleted",
    )
    kube.patch(
        Service,
        name,
        {"metadata": {"annotations": {"zen-lead.io/enabled": None}}},
        namespace=namespace,
        patch_type=PatchType.MERGE,
    )
    eventually(
        lambda: not list(kube.list(Service, namespace=namespace, fields={"metadata.name": leader_service})),
        what="the leader Service deleted after opt-out",
    )
    for resource in ("endpointslices", "services"):  # counted once the delete's response is read
        eventually(
            lambda r=resource: (
                controller.metric("zen_lead_api_requests_total", verb="delete", resource=r, code="200") >= 1
            ),
            what=f"a {resource} delete counted by the controller",
        )


def start_controller(installation: Installation, log_dir: Path) -> ControllerProcess:
    """``zen-lead run`` with the Deployment's flags (leader election included) and the chart's identity."""
    controller = ControllerProcess(
        kubeconfig=installation.kubeconfig,
        namespace=installation.namespace,
        log_dir=log_dir,
        name=installation.release,
    )
    # ControllerProcess passes `--namespace <release namespace>` first; the chart's flags say the rest
    # (and replace it in cluster-wide mode, where --namespace and --all-namespaces exclude each other).
    at = controller.argv.index("--namespace")
    del controller.argv[at : at + 2]
    controller.argv += [a for a in container_args(installation.objects) if not a.startswith(LOCAL_FLAGS)]
    return controller.start()


# The authorizer's wording when RBAC refuses a request (not other 403s, such as writes into a namespace
# that is being deleted, which a cluster-wide controller meets in a shared test cluster).
RBAC_DENIAL = re.compile(r'forbidden: User "[^"]+" cannot')


# How the elector reports a refused Lease request: "HTTP 403: ..." from the store, or the HTTP client's
# "403 Forbidden" on a watch. Matched as words, never as digits inside a timestamp or a holder identity
# (a record stamped 02:42:29.403Z once passed for a denial).
ELECTION_DENIAL = re.compile(r"\bHTTP 403\b|\b403 Forbidden\b|\bforbidden\b", re.IGNORECASE)


def denial(record: dict[str, object]) -> bool:
    """A log record about a request RBAC refused. Failed Lease requests are logged by the elector with
    the HTTP status (the Lease is in the release namespace, which is never being deleted here). The
    timestamp is left out of the text searched."""
    text = " ".join(str(value) for key, value in record.items() if key != "ts")
    if str(record.get("logger", "")).startswith("zen_lead.election"):
        return ELECTION_DENIAL.search(text) is not None
    return RBAC_DENIAL.search(text) is not None


def test_denial_matches_refusals_only() -> None:
    """The matcher itself: refusals in either wording count, digits of a timestamp or identity do not."""
    election = {"ts": "2026-12-02T02:42:29.403Z", "level": "info", "logger": "zen_lead.election"}
    assert not denial({**election, "msg": "became leader of ns/zl as vm_a4031f (token 0)"})
    assert denial({**election, "msg": "could not renew ns/zl (9.0s left): renew ns/zl: HTTP 403: denied"})
    assert denial({**election, "msg": "lease watch interrupted: Client error '403 Forbidden' for url"})
    director = {"ts": "2026-12-02T02:42:29.403Z", "level": "warning", "logger": "zen_lead.director"}
    assert not denial({**director, "msg": "apply failed: HTTP 403: namespace is being terminated"})
    assert denial({**director, "msg": 'services is forbidden: User "system:serviceaccount:a:b" cannot'})


def assert_leading_without_denials(
    kube: Client, controller: ControllerProcess, installation: Installation, *, only_writer: bool
) -> None:
    """The replica holds the manager Lease and renews it (get, create, patch), and RBAC refused none of
    its requests: no RBAC denial in its (debug) log, which reports every failed request including Lease
    watches, and — when it is the only writer in its namespaces — no 403 at all in its request metrics."""

    def renew_time() -> object:
        spec = kube.get(Lease, installation.lease, namespace=installation.namespace).spec
        return spec.renewTime if spec else None

    acquired = renew_time()
    assert acquired is not None, "the manager Lease was never acquired"
    eventually(lambda: renew_time() != acquired, timeout=15, what="a renewal of the manager Lease")
    assert controller.metric("zen_lead_is_leader") == 1
    assert controller.metric("zen_lead_election_api_errors_total") == 0, controller.tail(60)
    assert controller.metric("zen_lead_api_requests_total") > 0
    denied = [r for r in controller.records() if denial(r)]
    assert not denied, denied[:3]
    if only_writer:
        assert controller.metric("zen_lead_api_requests_total", code="403") == 0, controller.tail(60)


def test_controller_runs_with_the_namespaced_chart_identity(
    kube: Client, namespaced: Installation, tmp_path: Path
) -> None:
    controller = start_controller(namespaced, tmp_path)
    try:
        run_smoke(kube, namespaced.namespace, "db")
        exercise_deletes(kube, controller, namespaced.namespace, "db")
        run_smoke(kube, watched_namespace(namespaced), "cache")
        assert_leading_without_denials(kube, controller, namespaced, only_writer=True)
    finally:
        controller.stop()


def test_controller_runs_with_the_cluster_wide_chart_identity(
    kube: Client, cluster_wide: Installation, namespaces: list[str], tmp_path: Path
) -> None:
    anywhere = make_namespace(kube, "zl-anywhere")
    namespaces.append(anywhere)
    controller = start_controller(cluster_wide, tmp_path)
    try:
        run_smoke(kube, anywhere, "queue")
        # nodeZones: true -> the endpoint carries its Node's zone (read with the nodes ClusterRole).
        [slice_] = leader_slices(kube, anywhere, "queue-leader")
        [endpoint] = slice_.endpoints or []
        assert endpoint.zone, "no zone on the leader endpoint"
        assert_leading_without_denials(kube, controller, cluster_wide, only_writer=False)
    finally:
        controller.stop()
