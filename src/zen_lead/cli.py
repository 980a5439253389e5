"""The ``zen-lead`` command: ``run`` (the manager), ``cluster`` (the local control plane), ``demo``."""

from __future__ import annotations

import json
import sys

import click

from zen_lead import __version__
from zen_lead.localcluster import ClusterError, LocalCluster


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="zen-lead")
def main() -> None:
    """Kubernetes-native leader election and single-active routing."""


@main.command()
@click.option("--keep", is_flag=True, help="Leave the demo cluster running afterwards.")
def demo(keep: bool) -> None:
    """Live failover demo on the embedded local cluster (builds it on first use)."""
    from zen_lead.demo.run import run_demo

    try:
        run_demo(keep=keep)
    except ClusterError as error:
        raise click.ClickException(str(error)) from error


@main.group()
def cluster() -> None:
    """The embedded local control plane (etcd, kube-apiserver, controller-manager, scheduler, kwok)."""


_name = click.option("--name", default="default", show_default=True, help="Cluster name (state directory).")


@cluster.command()
@_name
@click.option("--nodes", default=3, show_default=True, help="Simulated (kwok) nodes to register.")
@click.option("--zones", default=3, show_default=True, help="Zones the nodes are spread over.")
@click.option("--apiserver-port", type=int, default=None, help="Fixed apiserver port (default: a free one).")
def up(name: str, nodes: int, zones: int, apiserver_port: int | None) -> None:
    """Build (first run only) and start a local cluster; reuse it if already running."""
    try:
        info = LocalCluster(name, nodes=nodes, zones=zones, apiserver_port=apiserver_port).up()
    except ClusterError as error:
        raise click.ClickException(str(error)) from error
    state = "reused" if info.reused else "started"
    click.echo(
        f"{state} cluster {info.name!r}: {info.server} (Kubernetes {info.kubernetes_version}), "
        f"{len(info.nodes)} nodes, {info.startup_seconds:.1f}s"
    )
    click.echo(f"export KUBECONFIG={info.kubeconfig}")


@cluster.command()
@_name
def down(name: str) -> None:
    """Stop every process of the cluster and free its ports."""
    try:
        was_running = LocalCluster(name).down()
    except ClusterError as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"cluster {name!r} stopped" if was_running else f"cluster {name!r} was not running")


@cluster.command()
@_name
def status(name: str) -> None:
    """Print the cluster's state as JSON; exit 1 when it is not running."""
    local = LocalCluster(name)
    click.echo(json.dumps(local.status(), indent=2))
    sys.exit(0 if local.is_running() else 1)


@cluster.command()
@_name
def env(name: str) -> None:
    """Print shell exports for the cluster (eval "$(zen-lead cluster env)")."""
    for line in LocalCluster(name).env():
        click.echo(line)


@cluster.command()
@click.option(
    "--test-tools/--no-test-tools",
    default=True,
    show_default=True,
    help="Also build Helm and promtool, which the deployment tests use (minutes, first run only).",
)
def build(test_tools: bool) -> None:
    """Build the control-plane binaries (first run only; later runs find them in the cache)."""
    from zen_lead.localcluster.build import TEST_TOOLS, ensure_binaries, ensure_go_tool

    try:
        binaries = ensure_binaries()
        tools = [(tool, ensure_go_tool(tool)) for tool in TEST_TOOLS] if test_tools else []
    except ClusterError as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"Kubernetes {binaries.kubernetes_version}: {binaries.kube}")
    click.echo(f"kwok: {binaries.kwok}")
    for tool, path in tools:
        click.echo(f"{tool.name} {tool.version}: {path}")


def _env(name: str) -> str:
    return f"ZEN_LEAD_{name.upper().replace('-', '_')}"


@main.command()
@click.option(
    "--kubeconfig",
    envvar="KUBECONFIG",
    default=None,
    help="Path to a kubeconfig (default: in-cluster config, then ~/.kube/config).",
)
@click.option(
    "--namespace",
    "namespaces",
    multiple=True,
    envvar=_env("namespace"),
    help="Namespace to manage (repeatable). Default: the pod's own namespace.",
)
@click.option(
    "--all-namespaces",
    is_flag=True,
    envvar=_env("all-namespaces"),
    help="Manage Services in every namespace (needs cluster-wide RBAC).",
)
@click.option(
    "--metrics-bind-address",
    default=":8080",
    show_default=True,
    envvar=_env("metrics-bind-address"),
    help="Address for /metrics; 0 disables.",
)
@click.option(
    "--health-probe-bind-address",
    default=":8081",
    show_default=True,
    envvar=_env("health-probe-bind-address"),
    help="Address for /healthz and /readyz; 0 disables.",
)
@click.option(
    "--leader-elect/--no-leader-elect",
    default=True,
    show_default=True,
    envvar=_env("leader-elect"),
    help="Run writers only while holding the manager Lease (always on in production).",
)
@click.option(
    "--leader-election-id",
    default="zen-lead-manager",
    show_default=True,
    envvar=_env("leader-election-id"),
    help="Name of the manager Lease.",
)
@click.option(
    "--leader-election-namespace",
    default=None,
    envvar=_env("leader-election-namespace"),
    help="Namespace of the manager Lease. Default: the first managed namespace.",
)
@click.option(
    "--lease-duration",
    default=15.0,
    show_default=True,
    envvar=_env("lease-duration"),
    help="Seconds a standby waits before taking over an unrenewed Lease.",
)
@click.option(
    "--renew-deadline",
    default=10.0,
    show_default=True,
    envvar=_env("renew-deadline"),
    help="Seconds the leader keeps trying to renew before it steps down.",
)
@click.option(
    "--retry-period",
    default=2.0,
    show_default=True,
    envvar=_env("retry-period"),
    help="Seconds between acquire/renew attempts.",
)
@click.option(
    "--qps",
    default=None,
    type=float,
    envvar=_env("qps"),
    help="Client-side sustained request rate to the apiserver (0 = unlimited). Default: 500.",
)
@click.option(
    "--burst", default=None, type=int, envvar=_env("burst"), help="Client-side burst. Default: 1000."
)
@click.option(
    "--workers",
    default=None,
    type=int,
    envvar=_env("workers"),
    help="Concurrent reconciles (writes in flight). Default: 64.",
)
@click.option(
    "--node-zones/--no-node-zones",
    default=False,
    show_default=True,
    envvar=_env("node-zones"),
    help="Read Nodes to fill each endpoint's zone (topology-aware routing). Needs get/list/watch on "
    "nodes, a cluster-scoped permission, so it is off by default.",
)
@click.option(
    "--log-level",
    default="info",
    show_default=True,
    envvar=_env("log-level"),
    type=click.Choice(["debug", "info", "warning", "error"]),
)
@click.option(
    "--log-format",
    default="json",
    show_default=True,
    envvar=_env("log-format"),
    type=click.Choice(["json", "text"]),
)
@click.option(
    "--identity",
    default=None,
    envvar=_env("identity"),
    help="Identity in the manager Lease. Default: pod name plus a random suffix.",
)
@click.option(
    "--controllers",
    "controllers",
    multiple=True,
    default=["*"],
    show_default=True,
    envvar=_env("controllers"),
    help="Controllers to run, comma-separated: '*' (those on by default: director), 'name' to enable "
    "one, '-name' to disable one (kube-controller-manager's convention).",
)
@click.option(
    "--startup-grace",
    default=60.0,
    show_default=True,
    type=float,
    envvar=_env("startup-grace"),
    help="Seconds a new leader Service waits for its first eligible pod with a Normal Event "
    "(WaitingForEligiblePod) before NoEligiblePod becomes a Warning.",
)
@click.option(
    "--addresses-file",
    default=None,
    envvar=_env("addresses-file"),
    type=click.Path(dir_okay=False),
    help="Write the bound metrics and probe addresses here as JSON once serving (for ':0' ports).",
)
def run(
    kubeconfig: str | None,
    namespaces: tuple[str, ...],
    all_namespaces: bool,
    metrics_bind_address: str,
    health_probe_bind_address: str,
    leader_elect: bool,
    leader_election_id: str,
    leader_election_namespace: str | None,
    lease_duration: float,
    renew_deadline: float,
    retry_period: float,
    qps: float | None,
    burst: int | None,
    workers: int | None,
    node_zones: bool,
    log_level: str,
    log_format: str,
    identity: str | None,
    controllers: tuple[str, ...],
    startup_grace: float,
    addresses_file: str | None,
) -> None:
    """Run the controller (the Service director) with its own leader election."""
    import asyncio

    from zen_lead.kube.config import load_config
    from zen_lead.manager import options as defaults
    from zen_lead.manager.controllers import CONTROLLERS, parse_controllers
    from zen_lead.manager.run import run_manager

    try:
        enabled = parse_controllers(controllers, {n: c.on_by_default for n, c in CONTROLLERS.items()})
    except ValueError as error:
        raise click.UsageError(str(error)) from error

    if all_namespaces and namespaces:
        raise click.UsageError("--all-namespaces and --namespace exclude each other")
    scope: list[str] | None
    if all_namespaces:
        scope = None
    else:
        scope = list(namespaces) or [
            defaults.own_namespace() or load_config(kubeconfig).namespace or "default"
        ]
    options = defaults.ManagerOptions(
        kubeconfig=kubeconfig,
        namespaces=scope,
        metrics_bind_address=metrics_bind_address,
        health_probe_bind_address=health_probe_bind_address,
        leader_elect=leader_elect,
        leader_election_id=leader_election_id,
        leader_election_namespace=leader_election_namespace
        or (scope[0] if scope else defaults.own_namespace() or "default"),
        lease_duration=lease_duration,
        renew_deadline=renew_deadline,
        retry_period=retry_period,
        qps=defaults.DEFAULT_QPS if qps is None else qps,
        burst=burst or defaults.DEFAULT_BURST,
        workers=workers or defaults.DEFAULT_WORKERS,
        node_zones=node_zones,
        log_level=log_level,
        log_format=log_format,
        identity=identity or defaults.default_identity(),
        controllers=enabled,
        addresses_file=addresses_file,
        startup_grace=startup_grace,
    )
    asyncio.run(run_manager(options))
