"""The ``zen-lead`` command: ``run`` (the manager), ``cluster`` (the local control plane), ``demo``.

Every error a user can make is one line on stderr and a non-zero exit: ``Error: ...``. A wrong flag or
value exits 2 (click's usage error, without the usage text: ``--help`` has it); anything else found
before start-up (a kubeconfig that does not load, a timing the elector would refuse) exits 1.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any

import click

from zen_lead import __version__
from zen_lead.api.options import ApiOptions
from zen_lead.cli.params import Duration, F, OneLineUsageError, _Group, seconds_text
from zen_lead.director.core import STARTUP_GRACE
from zen_lead.election import Timing
from zen_lead.localcluster import ClusterError, LocalCluster
from zen_lead.manager import options as defaults


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(__version__, prog_name="zen-lead")
def main() -> None:
    """Kubernetes-native leader election and single-active routing."""


def _cluster_error(error: ClusterError) -> click.ClickException:
    return click.ClickException(str(error))


@main.command()
@click.option("--keep", is_flag=True, help="Leave the cluster running afterwards, and say how to try it.")
@click.option(
    "--name", default="demo", show_default=True, help="Cluster to use; one already running is left running."
)
def demo(keep: bool, name: str) -> None:
    """Live failover demo on the embedded local cluster (builds it on first use)."""
    from zen_lead.demo.run import run_demo

    try:
        run_demo(keep=keep, name=name)
    except ClusterError as error:
        raise _cluster_error(error) from error


@main.group()
def cluster() -> None:
    """The embedded local control plane (etcd, kube-apiserver, controller-manager, scheduler, kwok)."""


_name = click.option("--name", default="default", show_default=True, help="Cluster name (state directory).")


@cluster.command()
@_name
@click.option("--nodes", default=3, show_default=True, help="Simulated (kwok) nodes to register.")
@click.option("--zones", default=3, show_default=True, help="Zones the nodes are spread over.")
@click.option("--apiserver-port", type=int, default=None, show_default="a free port", help="Apiserver port.")
def up(name: str, nodes: int, zones: int, apiserver_port: int | None) -> None:
    """Build (first run only) and start a local cluster; reuse it if already running."""
    try:
        info = LocalCluster(name, nodes=nodes, zones=zones, apiserver_port=apiserver_port).up()
    except ClusterError as error:
        raise _cluster_error(error) from error
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
        raise _cluster_error(error) from error
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
    """Print shell exports for a running cluster (eval "$(zen-lead cluster env)"); exit 1 without one."""
    try:
        lines = list(LocalCluster(name).env())
    except ClusterError as error:
        raise _cluster_error(error) from error
    for line in lines:
        click.echo(line)


@cluster.command("pod-ready")
@click.argument("pod")
@click.option("-n", "--namespace", default="default", show_default=True, help="The pod's namespace.")
@click.option(
    "--ready/--not-ready",
    default=True,
    show_default=True,
    help="Make the pod Ready, or NotReady as a failing readiness probe would.",
)
@_name
def pod_ready(pod: str, namespace: str, ready: bool, name: str) -> None:
    """Make a simulated pod NotReady (--not-ready) or Ready again, as its kubelet would.

    Writes the containers' ready status and the Ready and ContainersReady conditions, so controllers and
    `kubectl get pods` (READY 0/1, still Running) agree. kwok leaves the pod so until it is changed again.
    """
    from lightkube import ApiError

    from zen_lead.kube.config import sync_client
    from zen_lead.localcluster.pods import set_pod_readiness

    local = LocalCluster(name)
    try:
        local.require_running()
        client = sync_client(local.state / "kubeconfig", field_manager="zen-lead-cli")
        click.echo(set_pod_readiness(client, pod, namespace=namespace, ready=ready))
    except ClusterError as error:
        raise _cluster_error(error) from error
    except ApiError as error:  # the apiserver's answer (not found, forbidden) is for the user
        raise click.ClickException(f"pod {namespace}/{pod}: {error.status.message}") from error


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
        raise _cluster_error(error) from error
    click.echo(f"Kubernetes {binaries.kubernetes_version}: {binaries.kube}")
    click.echo(f"kwok: {binaries.kwok}")
    for tool, path in tools:
        click.echo(f"{tool.name} {tool.version}: {path}")


def _env(*flags: str) -> list[str]:
    """The environment variables of a flag and its older names: ``ZEN_LEAD_<FLAG>``."""
    return [f"ZEN_LEAD_{flag.upper().replace('-', '_')}" for flag in flags]


def _option(*names: str, **kwargs: Any) -> Callable[[F], F]:
    """A ``run`` flag: its kube-controller-manager or controller-runtime name first, older names after,
    one environment variable per name, and its default shown in the help as every other's."""
    flags = [name.lstrip("-").split("/")[0] for name in names if name.startswith("--")]
    return click.option(*names, envvar=_env(*flags), show_default=kwargs.pop("show_default", True), **kwargs)


_TIMING = Timing()


def _timing_option(name: str, help_text: str) -> Callable[[F], F]:
    """A duration of the election: ``--leader-elect-<name>`` (older: ``--<name>``), ``Timing``'s default."""
    field = name.replace("-", "_")
    return _option(
        f"--leader-elect-{name}",
        f"--{name}",
        field,
        type=Duration(),
        default=seconds_text(getattr(_TIMING, field)),
        help=help_text,
    )


@main.command(epilog="Every flag can also be set as ZEN_LEAD_<FLAG>, e.g. ZEN_LEAD_KUBE_API_QPS=100.")
@click.option(
    "--kubeconfig",
    envvar="KUBECONFIG",
    metavar="PATH",
    default=None,
    show_default="$KUBECONFIG, in a pod its service account, else ~/.kube/config",
    help="Path to a kubeconfig.",
)
@_option(
    "--namespace",
    "namespaces",
    metavar="NAME",
    multiple=True,
    show_default="the pod's own, else the kubeconfig context's",
    help="Namespace to manage (repeatable).",
)
@_option("--all-namespaces", is_flag=True, help="Manage Services in every namespace (cluster-wide RBAC).")
@_option(
    "--metrics-bind-address", metavar="[HOST]:PORT", default=":8080", help="Address for /metrics; 0 disables."
)
@_option(
    "--health-probe-bind-address",
    metavar="[HOST]:PORT",
    default=":8081",
    help="Address for /healthz and /readyz; 0 disables.",
)
@_option(
    "--leader-elect/--no-leader-elect",
    default=True,
    help="Run writers only while holding the manager Lease (always on in production).",
)
@_option(
    "--leader-elect-resource-name",
    "--leader-election-id",
    "leader_election_id",
    default="zen-lead-manager",
    help="Name of the manager Lease.",
)
@_option(
    "--leader-elect-resource-namespace",
    "--leader-election-namespace",
    "leader_election_namespace",
    default=None,
    show_default="the first managed namespace",
    help="Namespace of the manager Lease.",
)
@_timing_option(
    "lease-duration", "How long a standby waits before taking over an unrenewed Lease (whole seconds)."
)
@_timing_option("renew-deadline", "How long the leader keeps trying to renew before it steps down.")
@_timing_option("retry-period", "How long to wait between acquire and renew attempts.")
@_option(
    "--kube-api-qps",
    "--qps",
    "qps",
    type=click.FloatRange(min=0),
    default=defaults.DEFAULT_QPS,
    help="Client-side sustained request rate to the apiserver (0 = unlimited).",
)
@_option(
    "--kube-api-burst",
    "--burst",
    "burst",
    type=click.IntRange(min=1),
    default=defaults.DEFAULT_BURST,
    help="Client-side burst.",
)
@_option(
    "--workers",
    type=click.IntRange(min=1),
    default=defaults.DEFAULT_WORKERS,
    help="Concurrent reconciles (writes in flight).",
)
@_option(
    "--node-zones/--no-node-zones",
    default=False,
    help="Read Nodes to fill each endpoint's zone (topology-aware routing). Needs get/list/watch on "
    "nodes, a cluster-scoped permission, so it is off by default.",
)
@_option(
    "--log-level", default="info", type=click.Choice(["debug", "info", "warning", "error"]), help="Log level."
)
@_option("--log-format", default="json", type=click.Choice(["json", "text"]), help="json: one object a line.")
@_option(
    "--identity",
    default=None,
    show_default="pod name plus a random suffix",
    help="Identity in the manager Lease.",
)
@_option(
    "--controllers",
    metavar="LIST",
    multiple=True,
    default=["*"],
    show_default="*",
    help="Controllers to run, comma-separated: '*' (those on by default: director), 'name' to enable "
    "one, '-name' to disable one (kube-controller-manager's convention).",
)
@_option(
    "--startup-grace",
    type=Duration(),
    default=seconds_text(STARTUP_GRACE),
    help="How long a new leader Service waits for its first eligible pod with a Normal Event "
    "(WaitingForEligiblePod) before NoEligiblePod becomes a Warning.",
)
@_option(
    "--addresses-file",
    metavar="PATH",
    default=None,
    show_default="none",
    type=click.Path(dir_okay=False),
    help="Write the bound metrics and probe addresses here as JSON once serving (for ':0' ports).",
)
@_option(
    "--api-bind-address",
    metavar="[HOST]:PORT",
    default="0",
    help="Serve the status and lock API (HTTP/JSON, event streams) here; 0 disables. Needs "
    "system:auth-delegator (TokenReview, SubjectAccessReview).",
)
@_option(
    "--grpc-bind-address",
    metavar="[HOST]:PORT",
    default="0",
    help="Serve the API over gRPC here; 0 disables.",
)
@_option(
    "--api-tls-cert-file",
    metavar="PATH",
    default=None,
    show_default="none: loopback only",
    help="TLS certificate.",
)
@_option("--api-tls-key-file", metavar="PATH", default=None, show_default="none", help="TLS private key.")
@_option(
    "--api-stale-after",
    type=Duration(),
    default="10s",
    help="Answers are marked stale once the apiserver has not been heard from for this long.",
)
@_option(
    "--api-auth-cache-allowed-ttl",
    type=Duration(),
    default="10s",
    help="How long an allowed review is reused.",
)
@_option(
    "--api-auth-cache-denied-ttl", type=Duration(), default="2s", help="How long a denied review is reused."
)
def run(
    namespaces: tuple[str, ...], all_namespaces: bool, controllers: tuple[str, ...], **flags: Any
) -> None:
    """Run the controller (the Service director) with its own leader election.

    Durations take Go's syntax (15s, 1m30s, 500ms); a bare number is seconds.
    """
    import asyncio

    from zen_lead.manager.controllers import CONTROLLERS, parse_controllers
    from zen_lead.manager.run import run_manager

    if all_namespaces and namespaces:
        raise OneLineUsageError("--all-namespaces and --namespace exclude each other (see: --help)")
    try:
        enabled = parse_controllers(controllers, {n: c.on_by_default for n, c in CONTROLLERS.items()})
    except ValueError as error:
        raise OneLineUsageError(f"{error} (see: --help)") from error
    api = ApiOptions(
        http_bind_address=flags.pop("api_bind_address"),
        grpc_bind_address=flags.pop("grpc_bind_address"),
        tls_cert_file=flags.pop("api_tls_cert_file"),
        tls_key_file=flags.pop("api_tls_key_file"),
        stale_after=flags.pop("api_stale_after"),
        auth_allow_ttl=flags.pop("api_auth_cache_allowed_ttl"),
        auth_deny_ttl=flags.pop("api_auth_cache_denied_ttl"),
    )
    try:
        options = defaults.build_options(
            namespaces=None if all_namespaces else list(namespaces), controllers=enabled, api=api, **flags
        )
    except defaults.StartupError as error:
        raise click.ClickException(str(error)) from error
    asyncio.run(run_manager(options))


from zen_lead.cli.exec import exec_command  # noqa: E402 - commands of their own modules, registered last
from zen_lead.cli.status import status_command  # noqa: E402

main.add_command(exec_command)
main.add_command(status_command)
