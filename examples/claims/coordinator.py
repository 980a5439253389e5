"""A claim coordinator for the example's Host/Machine pair: run three, one leads.

    python examples/claims/coordinator.py --kubeconfig K --namespace NS --identity replica-1 \\
        --enable-claim-coordinator-leader-election [--claim-coordinator-lease-duration=15s ...]

Every replica watches Hosts and Machines; the one holding the Lease ``metal-claim-coordinator-leader``
claims a Host for every waiting Machine in priority order; the others delegate to it, and fall back
to optimistic claiming when no leader has renewed for a lease duration (or without the enable flag).
``--metrics-port`` serves the metrics (``metal_claim_coordinator_*``); ``--addresses-file`` writes the
bound port as JSON (for port 0).
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal
from pathlib import Path

import click
from prometheus_client import start_http_server

from zen_lead.claims import (
    ClaimCoordinator,
    ClaimCoordinatorOptions,
    ClaimDescriptor,
    ClaimMetrics,
    DuplicateIdentityError,
    claim_coordinator_click_options,
)
from zen_lead.kube.client import ApiClient
from zen_lead.kube.resources import Resource
from zen_lead.kube.structs import GenericObject
from zen_lead.observability.logging import configure

GROUP = "metal.example.kube-zen.io"
HOSTS = Resource(GROUP, "v1alpha1", "hosts", "Host", True, GenericObject)
MACHINES = Resource(GROUP, "v1alpha1", "machines", "Machine", True, GenericObject)
DESCRIPTOR = ClaimDescriptor(claimable=HOSTS, claimant=MACHINES)


async def serve(
    kubeconfig: str | None, namespace: str, identity: str, options: ClaimCoordinatorOptions, concurrency: int
) -> None:
    client = ApiClient.from_kubeconfig(kubeconfig)
    coordinator = ClaimCoordinator(
        client,
        DESCRIPTOR,
        name="metal",
        namespace=namespace,
        identity=identity,
        options=options,
        metrics=ClaimMetrics(prefix="metal"),
        concurrency=concurrency,
    )
    task = asyncio.create_task(coordinator.run())
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, task.cancel)
    try:
        await task
    except asyncio.CancelledError:
        pass
    finally:
        await client.aclose()


@click.command()
@click.option("--kubeconfig", default=None, help="Default: $KUBECONFIG, ~/.kube/config or in-cluster.")
@click.option("--namespace", required=True)
@click.option("--identity", required=True, help="Unique per replica, e.g. the pod name.")
@click.option("--metrics-port", type=int, default=0, show_default=True)
@click.option("--addresses-file", type=click.Path(path_type=Path), default=None)
@click.option("--concurrency", type=click.IntRange(1, 64), default=8, show_default=True)
@claim_coordinator_click_options
def main(
    kubeconfig: str | None,
    namespace: str,
    identity: str,
    metrics_port: int,
    addresses_file: Path | None,
    concurrency: int,
    claim_coordinator: ClaimCoordinatorOptions,
) -> None:
    configure("info", "text")
    server, _thread = start_http_server(metrics_port, addr="127.0.0.1")
    if addresses_file is not None:
        addresses_file.write_text(json.dumps({"metrics": f"127.0.0.1:{server.server_port}"}))
    try:
        asyncio.run(serve(kubeconfig, namespace, identity, claim_coordinator, concurrency))
    except DuplicateIdentityError as error:
        logging.getLogger("zen_lead.claims").error("%s", error)
        raise SystemExit(3) from None


if __name__ == "__main__":
    main()
