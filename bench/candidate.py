"""One election candidate, as a process: ``python -m bench.candidate --impl zen|official ...``.

Prints JSON lines stamped with ``time.monotonic()``: ``started``, ``leading`` (when its
``on_started_leading`` ran) and, on SIGTERM, ``released`` once it has shut down. On SIGTERM zen-lead's
elector stops its work and releases the Lease; the official client (``kubernetes.leaderelection``) has no
release, so the process just exits — that is the behaviour a user of it gets.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
import threading
import time
from typing import Any


def emit(event: str, **fields: Any) -> None:
    sys.stdout.write(json.dumps({"event": event, "t": time.monotonic(), **fields}) + "\n")
    sys.stdout.flush()


async def run_zen(args: argparse.Namespace) -> None:
    from zen_lead.election import LeaderElector, Leadership, LeaseRef, Timing

    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)

    async def lead(leadership: Leadership) -> None:
        emit("leading", identity=args.identity)

    elector = LeaderElector(
        LeaseRef(args.lease, args.namespace, kubeconfig=args.kubeconfig),
        on_started_leading=lead,
        identity=args.identity,
        timing=Timing(
            lease_duration=float(args.lease_duration),
            renew_deadline=args.renew_deadline,
            retry_period=args.retry_period,
        ),
    )
    task = asyncio.create_task(elector.run())
    emit("started")
    await stop.wait()
    elector.stop()
    await task
    emit("released")


def run_official(args: argparse.Namespace) -> None:
    from kubernetes import config
    from kubernetes.leaderelection import electionconfig, leaderelection
    from kubernetes.leaderelection.resourcelock.leaselock import LeaseLock

    config.load_kube_config(config_file=args.kubeconfig)

    def on_term(signum: int, frame: object) -> None:
        emit("released")  # nothing to release: the client has no such step
        os._exit(0)

    signal.signal(signal.SIGTERM, on_term)
    election = leaderelection.LeaderElection(
        electionconfig.Config(
            LeaseLock(args.lease, args.namespace, args.identity),
            lease_duration=args.lease_duration,
            renew_deadline=args.renew_deadline,
            retry_period=args.retry_period,
            onstarted_leading=lambda: emit("leading", identity=args.identity),
            onstopped_leading=lambda: emit("lost", identity=args.identity),
        )
    )
    emit("started")
    worker = threading.Thread(target=election.run, daemon=True)
    worker.start()
    while True:  # the main thread stays free to take SIGTERM
        time.sleep(3600)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.candidate")
    parser.add_argument("--impl", choices=("zen", "official"), required=True)
    parser.add_argument("--kubeconfig", required=True)
    parser.add_argument("--namespace", required=True)
    parser.add_argument("--lease", required=True)
    parser.add_argument("--identity", required=True)
    parser.add_argument("--lease-duration", type=int, required=True)
    parser.add_argument("--renew-deadline", type=float, required=True)
    parser.add_argument("--retry-period", type=float, required=True)
    args = parser.parse_args(argv)
    if args.impl == "zen":
        asyncio.run(run_zen(args))
    else:
        run_official(args)


if __name__ == "__main__":
    main()
