"""A kopf operator run as N replicas where only the leader handles events (zen-lead instead of kopf peering).

    python examples/kopf/kopf_operator.py --kubeconfig ~/.kube/config --namespace default   # run it 3 times

(``-P``: without it this file's directory comes first on ``sys.path`` and its name shadows the standard
library's ``operator`` module.)
It handles ConfigMaps labelled ``example.zen-lead.io/kopf: "true"``: on create (and on changes of their
``data``) it annotates them with ``example.zen-lead.io/handled-by: <identity>#<fencing token>``.

Every replica campaigns for one Lease with zen-lead's ``LeaderElector``. The leader runs kopf -- in
standalone mode, so kopf's own peering (``KopfPeering`` objects, priorities) stays out of the way --
and stops it when the tenure ends; the standbys run no kopf at all. kopf runs on its own event loop in
a worker thread, the embedding kopf's docs recommend ("Embedding"): in the elector's loop kopf would
take over SIGTERM and, when it exits, cancel every task started in that loop after it began.
SIGTERM stops the elector: kopf stops, the Lease is released, a standby leads at once.
See docs/integrations/kopf.md.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import threading
from typing import Any

import kopf

from zen_lead.election import LeaderElector, Leadership, LeaseRef, Timing, default_identity, default_namespace

LABEL = "example.zen-lead.io/kopf"
HANDLED_BY = "example.zen-lead.io/handled-by"


# ---- the operator: ordinary kopf handlers ------------------------------------------------------------
@kopf.on.login()
def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
    """kopf's minimal logins, in the elector's order: KUBECONFIG, the pod's service account, ~/.kube."""
    if os.environ.get("KUBECONFIG"):
        return kopf.login_with_kubeconfig(**kwargs)
    return kopf.login_with_service_account(**kwargs) or kopf.login_with_kubeconfig(**kwargs)


# ``field="data"``: our own annotation is a change too (kopf diffs labels and annotations); reacting to
# it would annotate every ConfigMap twice.
@kopf.on.create("configmaps", labels={LABEL: "true"})
@kopf.on.update("configmaps", labels={LABEL: "true"}, field="data")
async def handle(*, memo: Any, patch: kopf.Patch, name: str | None, logger: kopf.Logger, **_: Any) -> None:
    leadership: Leadership = memo.leadership  # this tenure (see run_kopf)
    if not leadership.valid():  # the tenure has just ended and kopf is stopping: leave it to the next
        raise kopf.TemporaryError("no longer the leader", delay=1)
    patch.metadata.annotations[HANDLED_BY] = f"{leadership.identity}#{leadership.token.transitions}"
    logger.info("handled %s as %s", name, leadership.token)


# ---- running kopf for the length of one tenure ---------------------------------------------------------
def run_kopf(leadership: Leadership, namespace: str, stop: threading.Event) -> None:
    """One kopf operator on a new event loop in this (worker) thread, until ``stop`` is set."""
    settings = kopf.OperatorSettings()
    settings.scanning.disabled = True  # namespaced: no cluster-wide watches of namespaces and CRDs
    loop = asyncio.new_event_loop()
    try:
        kopf.run(
            loop=loop,
            standalone=True,  # no kopf peering: the Lease decides who runs
            clusterwide=False,
            namespaces=[namespace],
            settings=settings,
            stop_flag=stop,  # a flag, not cancellation: cancelled kopf schedules a SIGKILL (in 10 min)
            memo=kopf.Memo(leadership=leadership),  # what the handlers see as ``memo``
        )
    finally:
        loop.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--kubeconfig", help="outside a cluster (default: KUBECONFIG, in-cluster, ~/.kube)")
    parser.add_argument("--namespace", default=default_namespace(), help="the ConfigMaps' and the Lease's")
    parser.add_argument("--identity", default=default_identity(), help="default: POD_NAME + a suffix")
    parser.add_argument("--lease", default="kopf-example-operator", help="the Lease's name")
    # short timings make a demo fail over quickly; keep client-go's defaults in production
    parser.add_argument("--lease-duration", type=float, default=15)
    parser.add_argument("--renew-deadline", type=float, default=10)
    parser.add_argument("--retry-period", type=float, default=2)
    args = parser.parse_args()
    if args.kubeconfig:
        os.environ["KUBECONFIG"] = args.kubeconfig  # for kopf's login (the elector gets it below)

    async def lead(leadership: Leadership) -> None:
        """``on_started_leading``: kopf runs until the elector cancels this (loss or stop())."""
        stop = threading.Event()
        loop = asyncio.get_running_loop()
        operator = loop.run_in_executor(None, run_kopf, leadership, args.namespace, stop)
        try:
            await asyncio.shield(operator)  # returns (or raises) only if kopf exits by itself
        finally:
            stop.set()  # kopf stops watching, drains queued events (settings.batching.exit_timeout)
            await asyncio.wait({operator})  # drain: the elector keeps renewing until kopf has exited
        raise RuntimeError("kopf exited while leading")  # end the tenure rather than lead idle

    elector = LeaderElector(
        LeaseRef(args.lease, args.namespace, kubeconfig=args.kubeconfig),
        identity=args.identity,
        timing=Timing(
            lease_duration=args.lease_duration,
            renew_deadline=args.renew_deadline,
            retry_period=args.retry_period,
        ),
        on_started_leading=lead,
    )
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, elector.stop)  # graceful: stop kopf, release the Lease, exit
    await elector.run()


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(threadName)s %(name)s %(message)s")
    logging.getLogger("httpx2").setLevel(logging.WARNING)  # one line per API request otherwise
    asyncio.run(main())
