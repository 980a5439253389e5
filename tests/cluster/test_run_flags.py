"""``zen-lead run`` on the command line: every user error at start-up is one line on stderr and a non-zero
exit before anything starts (no log line, no Lease); durations take units; kube-controller-manager's flag
names, the older names and the environment variables all set the same options."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from lightkube import ApiError, Client
from lightkube.resources.coordination_v1 import Lease

from tests.support.controller import ControllerProcess
from tests.support.wait import eventually
from zen_lead.localcluster import ClusterInfo

pytestmark = pytest.mark.cluster

LEASE = "startup-check"


def zen_lead_run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "zen_lead", "run", *args],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, **(env or {})},
        check=False,
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str], *expected: str) -> str:
    """Refused with a single ``Error: ...`` line naming ``expected``: no traceback, no log, no usage."""
    assert result.returncode != 0, result
    assert result.stdout == "", result.stdout
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    [line] = lines
    assert line.startswith("Error: "), line
    for text in expected:
        assert text in line, line
    return line


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder.getsockname()[1]


def base(cluster: ClusterInfo, namespace: str) -> list[str]:
    return [
        "--kubeconfig",
        str(cluster.kubeconfig),
        "--namespace",
        namespace,
        "--leader-elect-resource-name",
        LEASE,
        "--metrics-bind-address",
        "127.0.0.1:0",
        "--health-probe-bind-address",
        "127.0.0.1:0",
    ]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--leader-elect-lease-duration", "5"], ["--leader-elect-lease-duration (5s) must be greater than"]),
        (["--lease-duration", "5s"], ["--leader-elect-renew-deadline (10s)"]),
        (["--leader-elect-retry-period", "9s"], ["--leader-elect-retry-period (1.2 x 9s = 10.8s)"]),
        (["--leader-elect-lease-duration", "15500ms"], ["whole number of seconds (got 15.5)"]),
        (["--leader-elect-lease-duration", "soon"], ["'soon' is not a duration", "--help"]),
        (["--leader-elect-lease-duration", "inf"], ["'inf' is not a duration"]),
        (["--kube-api-qps", "-1"], ["--kube-api-qps"]),
        (["--kube-api-burst", "0"], ["--kube-api-burst"]),
        (["--workers", "0"], ["--workers"]),
        (["--no-such-flag"], ["No such option '--no-such-flag'"]),
        (["--all-namespaces"], ["--all-namespaces and --namespace exclude each other"]),
        (["--namespace", "Not_A_Namespace"], ["--namespace 'Not_A_Namespace' is not a valid namespace"]),
        (["--leader-elect-resource-name", "UPPER"], ["--leader-elect-resource-name", "invalid Lease name"]),
        (["--identity="], ["--identity must not be empty"]),
        (["--metrics-bind-address", "localhost"], ["--metrics-bind-address: 'localhost' is not [host]:port"]),
        (["--health-probe-bind-address", ":99999"], ["--health-probe-bind-address"]),
        (["--metrics-bind-address", "192.0.2.1:8080"], ["cannot listen on 192.0.2.1:8080"]),
        (
            ["--metrics-bind-address", ":18081", "--health-probe-bind-address", "127.0.0.1:18081"],
            ["share port 18081 on different hosts"],
        ),
    ],
    ids=lambda value: (
        " ".join(value) if isinstance(value, list) and value and value[0].startswith("-") else ""
    ),
)
def test_a_user_error_is_one_line_before_anything_starts(
    cluster: ClusterInfo, kube: Client, namespace: str, args: list[str], expected: list[str]
) -> None:
    assert_one_line_error(zen_lead_run(*base(cluster, namespace), *args), *expected)
    with pytest.raises(ApiError):  # nothing campaigned: the elector never started
        kube.get(Lease, LEASE, namespace=namespace)


def test_a_taken_port_is_one_line(cluster: ClusterInfo, namespace: str, taken_port: int) -> None:
    result = zen_lead_run(*base(cluster, namespace), "--metrics-bind-address", f"127.0.0.1:{taken_port}")
    assert_one_line_error(
        result, f"--metrics-bind-address: cannot listen on 127.0.0.1:{taken_port}", "in use"
    )


def test_usage_errors_exit_2_and_others_1(cluster: ClusterInfo, namespace: str) -> None:
    assert zen_lead_run(*base(cluster, namespace), "--workers", "many").returncode == 2
    assert zen_lead_run(*base(cluster, namespace), "--lease-duration", "5s").returncode == 1


@pytest.mark.parametrize(
    ("kubeconfig", "expected"),
    [
        ("missing", ["cannot use kubeconfig", "missing", "not found"]),
        ("directory", ["cannot use kubeconfig", "not a file"]),
        ("not-yaml", ["cannot use kubeconfig", "not valid YAML"]),
        ("not-a-kubeconfig", ["cannot use kubeconfig", "not a kubeconfig"]),
        ("bad-ca", ["cannot use kubeconfig", "No such file or directory"]),
    ],
)
def test_a_kubeconfig_that_does_not_load_is_one_line(
    cluster: ClusterInfo, tmp_path: Path, kubeconfig: str, expected: list[str]
) -> None:
    path = tmp_path / kubeconfig
    if kubeconfig == "directory":
        path.mkdir()
    elif kubeconfig == "not-yaml":
        path.write_text("{{{ not yaml")
    elif kubeconfig == "not-a-kubeconfig":
        path.write_text("apiVersion: v1\nkind: Config\n")
    elif kubeconfig == "bad-ca":
        ca = str(cluster.kubeconfig.parent / "pki" / "serving")
        path.write_text(cluster.kubeconfig.read_text().replace(ca, str(tmp_path / "no-such-dir")))
    assert_one_line_error(zen_lead_run("--kubeconfig", str(path), "--namespace", "x"), *expected)


def test_no_kubeconfig_at_all_is_one_line(tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path)}
    command = [sys.executable, "-m", "zen_lead", "run", "--namespace", "x"]
    clean = {k: v for k, v in os.environ.items() if k != "KUBECONFIG"}
    result = subprocess.run(command, capture_output=True, text=True, env={**clean, **env}, check=False)
    assert_one_line_error(result, "no kubeconfig: pass --kubeconfig or set KUBECONFIG", str(tmp_path))


def starting_record(process: ControllerProcess) -> dict[str, object]:
    return eventually(
        lambda: next((r for r in process.records() if r.get("msg") == "starting"), None),
        what="the starting record",
    )


def lease_duration_seconds(kube: Client, namespace: str, name: str) -> int:
    def read() -> int | None:
        try:
            return kube.get(Lease, name, namespace=namespace).spec.leaseDurationSeconds
        except ApiError:
            return None

    return eventually(read, what=f"Lease {name}")


def started_with(
    cluster: ClusterInfo,
    kube: Client,
    namespace: str,
    tmp_path: Path,
    *,
    lease: str,
    extra: list[str],
    env: dict[str, str] | None = None,
) -> tuple[int, object, object]:
    """Run the controller with ``extra`` and ``env``; return its Lease's duration and its client limits."""
    controller = ControllerProcess(
        kubeconfig=cluster.kubeconfig, namespace=namespace, log_dir=tmp_path, name=lease, extra=extra, env=env
    ).start(wait_ready=False)
    try:
        record = starting_record(controller)
        return lease_duration_seconds(kube, namespace, lease), record["qps"], record["burst"]
    finally:
        controller.stop()


def test_conventional_names_take_durations_with_units(
    cluster: ClusterInfo, kube: Client, namespace: str, tmp_path: Path
) -> None:
    extra = [
        "--leader-elect-resource-name=conventional",
        f"--leader-elect-resource-namespace={namespace}",
        "--leader-elect-lease-duration=1m30s",
        "--leader-elect-renew-deadline=1m",
        "--leader-elect-retry-period=1500ms",
        "--kube-api-qps=7.5",
        "--kube-api-burst=9",
    ]
    started = started_with(cluster, kube, namespace, tmp_path, lease="conventional", extra=extra)
    assert started == (90, 7.5, 9)


def test_older_names_and_environment_variables_still_work(
    cluster: ClusterInfo, kube: Client, namespace: str, tmp_path: Path
) -> None:
    extra = ["--leader-election-id=older", "--renew-deadline=20", "--qps=3", "--burst=4"]
    env = {"ZEN_LEAD_LEASE_DURATION": "25", "ZEN_LEAD_LEADER_ELECT_RETRY_PERIOD": "2s"}
    started = started_with(cluster, kube, namespace, tmp_path, lease="older", extra=extra, env=env)
    assert started == (25, 3.0, 4)
    by_env = zen_lead_run(
        *base(cluster, namespace), env={"ZEN_LEAD_KUBE_API_BURST": "0", "ZEN_LEAD_WORKERS": "2"}
    )
    assert_one_line_error(by_env, "--kube-api-burst")
