"""Alert rules and dashboard: valid for promtool, right in their logic, and built only from metric names and
labels a running controller exports."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]  # PyYAML comes with lightkube; no stubs installed
from lightkube import Client
from prometheus_client.metrics import MetricWrapperBase
from prometheus_client.parser import text_string_to_metric_families

from tests.cluster.deploy.conftest import CHART, make_namespace
from tests.support.controller import ControllerProcess
from tests.support.crds import install_pool_crd
from zen_lead.director import metrics as director_metrics
from zen_lead.election import metrics as election_metrics
from zen_lead.kube import metrics as kube_metrics
from zen_lead.localcluster import ClusterInfo
from zen_lead.observability import metrics as process_metrics
from zen_lead.pools import metrics as pools_metrics
from zen_lead.runtime import metrics as runtime_metrics

METRIC_MODULES = (
    process_metrics,
    kube_metrics,
    runtime_metrics,
    director_metrics,
    election_metrics,
    pools_metrics,
)

pytestmark = pytest.mark.cluster

RULES = CHART / "files" / "zen-lead-rules.yaml"
DASHBOARD = CHART / "files" / "zen-lead-dashboard.json"
# Labels Prometheus attaches to every scraped series (the target's), not the controller.
TARGET_LABELS = {"job", "instance"}
SERIES_SUFFIXES = {
    "counter": ("_total",),
    "gauge": ("",),
    "histogram": ("_bucket", "_count", "_sum"),
    "summary": ("", "_count", "_sum"),
    "info": ("_info",),
}
METRIC = re.compile(r"\bzen_lead_[a-z0-9_]+\b")
GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)")
MATCHERS = re.compile(r"\{([^{}]*)\}")
MATCHER_LABEL = re.compile(r"(\w+)\s*(?:=~|!~|!=|=)")
LEGEND_LABEL = re.compile(r"\{\{\s*(\w+)\s*\}\}")
TEMPLATE_LABEL = re.compile(r"\$labels\.(\w+)")
LABEL_VALUES = re.compile(r"label_values\((?:[^,]*),\s*(\w+)\)")


def rules() -> list[dict[str, Any]]:
    return [rule for group in yaml.safe_load(RULES.read_text())["groups"] for rule in group["rules"]]


def dashboard_panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from dashboard_panels(panel.get("panels", []))


def queries() -> Iterator[tuple[str, str, str]]:
    """(where, PromQL, text that may name labels of its result) for every query in rules and dashboard."""
    for rule in rules():
        yield f"alert {rule['alert']}", rule["expr"], json.dumps(rule.get("annotations", {}))
    dashboard = json.loads(DASHBOARD.read_text())
    for panel in dashboard_panels(dashboard["panels"]):
        for target in panel.get("targets", []):
            yield f"panel {panel['title']!r}", target["expr"], target.get("legendFormat", "")
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            yield f"variable {variable['name']}", variable["definition"], ""


def labels_used(expr: str, text: str) -> set[str]:
    used = {label.strip() for group in GROUPING.findall(expr) for label in group.split(",") if label.strip()}
    used |= {label for matchers in MATCHERS.findall(expr) for label in MATCHER_LABEL.findall(matchers)}
    used |= set(LABEL_VALUES.findall(expr))
    used |= set(LEGEND_LABEL.findall(text)) | set(TEMPLATE_LABEL.findall(text))
    return used


def declared_labels() -> dict[str, set[str]]:
    """Family name -> label names, as the controller's code declares them (for families still without
    samples, such as error counters in a healthy run)."""
    declared: dict[str, set[str]] = {}
    for module in METRIC_MODULES:
        for value in vars(module).values():
            if isinstance(value, MetricWrapperBase):
                declared[value._name] = set(value._labelnames)
    return declared


def exported(exposition: str) -> dict[str, set[str]]:
    """Series name -> label names, from a /metrics page: sampled series with the labels they carry, and
    the series every declared (# TYPE) family will have, with the labels the code declares for it."""
    declared = declared_labels()
    series: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(exposition):
        for suffix in SERIES_SUFFIXES.get(family.type, ("",)):
            series.setdefault(family.name + suffix, set()).update(declared.get(family.name, set()))
        for sample in family.samples:
            series.setdefault(sample.name, set()).update(sample.labels)
    for name, labels in series.items():
        if name.endswith("_bucket"):
            labels.add("le")
    return series


@pytest.fixture(scope="module")
def exposition(
    cluster: ClusterInfo, kube: Client, namespaces: list[str], tmp_path_factory: pytest.TempPathFactory
) -> str:
    """The /metrics page of a controller running as in production (leader election on), with every
    module on (pools too: their series exist only where they run)."""
    install_pool_crd(kube)
    namespace = make_namespace(kube, "zl-metrics")
    namespaces.append(namespace)
    controller = ControllerProcess(
        kubeconfig=cluster.kubeconfig,
        namespace=namespace,
        log_dir=tmp_path_factory.mktemp("metrics"),
        extra=["--controllers=*,pools"],
    )
    with controller:
        return controller.metrics()


def test_rules_pass_promtool_check(promtool: Path) -> None:
    result = subprocess.run(
        [str(promtool), "check", "rules", str(RULES)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(rules())} rules found" in result.stdout


def test_rules_and_dashboard_use_only_exported_metrics_and_labels(exposition: str) -> None:
    series = exported(exposition)
    assert "zen_lead_is_leader" in series  # the page is the controller's
    problems = []
    count = 0
    for where, expr, text in queries():
        names = set(METRIC.findall(expr))
        count += len(names)
        missing = names - set(series)
        if missing:
            problems.append(f"{where}: metrics not exported: {sorted(missing)}")
        available = set(TARGET_LABELS).union(*(series.get(name, set()) for name in names))
        unknown = labels_used(expr, text) - available
        if unknown:
            problems.append(f"{where}: labels not on {sorted(names)}: {sorted(unknown)}")
    assert not problems, "\n".join(problems)
    assert count > 40  # the extraction found the queries


def test_label_check_catches_a_wrong_label(exposition: str) -> None:
    """The check above catches a legend or grouping naming a label the metric does not have."""
    series = exported(exposition)
    expr = 'sum by (pod) (rate(zen_lead_leader_changes_total{service="db"}[5m]))'
    assert labels_used(expr, "{{ namespace }}") == {"pod", "service", "namespace"}
    assert "pod" not in series["zen_lead_leader_changes_total"]
    assert {"namespace", "service", "reason"} <= series["zen_lead_leader_changes_total"]


def test_dashboard_is_well_formed() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    panels = list(dashboard_panels(dashboard["panels"]))
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    defined = {v["name"] for v in dashboard["templating"]["list"]} | {"__rate_interval", "__interval"}
    used = set()
    for panel in panels:
        assert {"h", "w", "x", "y"} <= panel["gridPos"].keys()
        assert panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24
        for target in panel.get("targets", []):
            used |= set(re.findall(r"\$\{?(\w+)", target["expr"]))
            assert target["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
    assert used <= defined, f"undefined variables: {used - defined}"


# Expressions evaluated by promtool over synthetic series: the alerts' logic, not only their syntax.
def expr_of(alert: str) -> str:
    [rule] = [r for r in rules() if r["alert"] == alert]
    return str(rule["expr"])


def inputs(*series: tuple[str, str, str]) -> list[dict[str, str]]:
    return [{"series": f"{name}{{{labels}}}", "values": values} for name, labels, values in series]


def expect(alert: str, at: str, *samples: tuple[str, float], wrap: str = "{}") -> dict[str, Any]:
    return {
        "expr": wrap.format(expr_of(alert)),
        "eval_time": at,
        "exp_samples": [{"labels": labels, "value": value} for labels, value in samples],
    }


def test_alert_expressions_behave(promtool: Path, tmp_path: Path) -> None:
    leader = inputs(
        # Replica a leads; b stands by with a stale gauge from an earlier tenure, which must not count.
        ("zen_lead_is_leader", 'job="zl",instance="a"', "1x10"),
        ("zen_lead_is_leader", 'job="zl",instance="b"', "0x10"),
        ("zen_lead_services_without_leader", 'job="zl",instance="a",namespace="shop"', "0 0 2x8"),
        ("zen_lead_services_without_leader", 'job="zl",instance="b",namespace="old"', "3x10"),
        # Job "two": from minute 2 both replicas claim the Lease. Job "none": nobody leads.
        ("zen_lead_is_leader", 'job="two",instance="c"', "1x10"),
        ("zen_lead_is_leader", 'job="two",instance="d"', "0 0 1x8"),
        ("zen_lead_is_leader", 'job="none",instance="e"', "0x10"),
    )
    health = inputs(
        # 60 failovers a minute in "shop": 59 under 10ms, 1 in (1s, 2.5s] -> p99 = 1 + 1.5 * 0.4 = 1.6s.
        ("zen_lead_failover_latency_seconds_bucket", 'namespace="shop",le="0.01"', "0+59x20"),
        ("zen_lead_failover_latency_seconds_bucket", 'namespace="shop",le="1"', "0+59x20"),
        ("zen_lead_failover_latency_seconds_bucket", 'namespace="shop",le="2.5"', "0+60x20"),
        ("zen_lead_failover_latency_seconds_bucket", 'namespace="shop",le="+Inf"', "0+60x20"),
        ("zen_lead_failover_latency_seconds_bucket", 'namespace="calm",le="0.01"', "0+60x20"),
        ("zen_lead_failover_latency_seconds_bucket", 'namespace="calm",le="+Inf"', "0+60x20"),
        ("zen_lead_reconcile_errors_total", 'namespace="shop"', "0+12x20"),
        ("zen_lead_reconcile_errors_total", 'namespace="calm"', "0+1x20"),
        (
            "zen_lead_watch_restarts_total",
            'job="zl",instance="a",resource="pods",reason="connection"',
            "0+2x20",
        ),
        (
            "zen_lead_watch_restarts_total",
            'job="zl",instance="a",resource="services",reason="expired"',
            "0+0.1x20",
        ),
        ("zen_lead_informer_synced", 'job="zl",instance="a",resource="pods"', "0x20"),
        ("zen_lead_informer_synced", 'job="zl",instance="a",resource="services"', "1x20"),
    )
    pools = inputs(
        # Pool "db" loses its leader at minute 1 (leading replica a); b's stale gauge must not count.
        ("zen_lead_is_leader", 'job="zl",instance="a"', "1x20"),
        ("zen_lead_is_leader", 'job="zl",instance="b"', "0x20"),
        ("zen_lead_pool_has_leader", 'job="zl",instance="a",namespace="shop",pool="db"', "1 0x19"),
        ("zen_lead_pool_has_leader", 'job="zl",instance="a",namespace="shop",pool="web"', "1x20"),
        ("zen_lead_pool_has_leader", 'job="zl",instance="b",namespace="old",pool="db"', "0x20"),
        # "web" changes leader once a minute: 15 in 15 minutes; "db" once in all.
        ("zen_lead_pool_leader_changes_total", 'namespace="shop",pool="web",reason="NotReady"', "0+1x20"),
        ("zen_lead_pool_leader_changes_total", 'namespace="shop",pool="db",reason="Elected"', "1x20"),
    )
    pods = '{job="zl",instance="a",resource="pods"}'
    tests = [
        {
            "interval": "1m",
            "input_series": leader,
            "promql_expr_test": [
                expect("ZenLeadServiceWithoutLeader", "1m"),
                expect("ZenLeadServiceWithoutLeader", "5m", ('{namespace="shop"}', 2)),
                expect("ZenLeadNoActiveReplica", "5m", ('{job="none"}', 0)),
                expect("ZenLeadMultipleActiveReplicas", "1m"),
                expect("ZenLeadMultipleActiveReplicas", "5m", ('{job="two"}', 2)),
                expect("ZenLeadDown", "5m"),
            ],
        },
        {
            "interval": "1m",
            "input_series": health,
            "promql_expr_test": [
                # p99 is 1.6s, give or take a float rounding: count the namespaces above the threshold.
                expect(
                    "ZenLeadFailoverLatencyHigh",
                    "15m",
                    ('{namespace="shop"}', 1),
                    wrap="count by (namespace) ({})",
                ),
                expect("ZenLeadReconcileErrors", "15m", ('{namespace="shop"}', 0.2)),
                expect("ZenLeadWatchRestartsSpiking", "15m", (pods, 20)),
                expect("ZenLeadInformerNotSynced", "15m", (pods, 0)),
                expect("ZenLeadDown", "15m", ("{}", 1)),
            ],
        },
        {
            "interval": "1m",
            "input_series": pools,
            "promql_expr_test": [
                expect("ZenLeadPoolWithoutLeader", "0m"),
                expect("ZenLeadPoolWithoutLeader", "15m", ('{namespace="shop",pool="db"}', 1)),
                expect(
                    "ZenLeadPoolLeaderFlapping",
                    "16m",
                    ('{namespace="shop",pool="web"}', 15),
                    wrap="round({})",
                ),
            ],
        },
    ]
    test_file = tmp_path / "rules_test.yaml"
    test_file.write_text(
        yaml.safe_dump({"rule_files": [str(RULES)], "evaluation_interval": "1m", "tests": tests})
    )
    result = subprocess.run(
        [str(promtool), "test", "rules", str(test_file)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_one_leader_gauge_and_no_created_series(exposition: str) -> None:
    samples = [s for family in text_string_to_metric_families(exposition) for s in family.samples]
    names = {s.name for s in samples}
    assert "zen_lead_is_leader" in names
    assert "zen_lead_election_is_leader" not in names  # the manager's Lease is told once, above
    assert not [n for n in names if n.endswith("_created")]
    assert "zen_lead_election_transitions_total" in names  # the election's other series stay
