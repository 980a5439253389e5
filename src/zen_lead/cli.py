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
