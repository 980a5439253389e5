"""A leader-election candidate process for the cluster tests.

Prints one JSON object per line on stdout, each with ``t`` = ``time.monotonic()`` (CLOCK_MONOTONIC is
system-wide on Linux, so the test compares these across processes):

- ``started`` — the elector is about to run;
- ``became leader`` — ``on_started_leading`` was entered (``token`` = fencing token);
- ``work cancelled`` — the leader work received its cancellation: the instant it stops acting
  (``deadline`` = the fence's deadline then: start of the last successful renewal + renew_deadline);
- ``stopped leading`` — ``on_stopped_leading`` ran (after the work drained);
- ``new leader observed`` — ``on_new_leader`` (``leader``);
- ``exited`` — ``run()`` returned (after SIGTERM: drained and released).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
import time

from zen_lead.election import LeaderElector, Leadership, LeaseRef, Timing


def emit(event: str, **fields: object) -> None:
    print(json.dumps({"event": event, "t": time.monotonic(), **fields}), flush=True)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--kubeconfig", required=True)
    parser.add_argument("--namespace", required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--identity", required=True)
    parser.add_argument("--lease-duration", type=float, default=4)
    parser.add_argument("--renew-deadline", type=float, default=3)
    parser.add_argument("--retry-period", type=float, default=0.5)
    args = parser.parse_args()

    async def lead(leadership: Leadership) -> None:
        emit("became leader", identity=args.identity, token=leadership.token.transitions)
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            emit(
                "work cancelled",
                identity=args.identity,
                token=leadership.token.transitions,
                deadline=leadership.fence.deadline,
            )
            raise

    elector = LeaderElector(
        LeaseRef(args.name, args.namespace, kubeconfig=args.kubeconfig),
        identity=args.identity,
        timing=Timing(
            lease_duration=args.lease_duration,
            renew_deadline=args.renew_deadline,
            retry_period=args.retry_period,
        ),
        on_started_leading=lead,
        on_stopped_leading=lambda: emit("stopped leading", identity=args.identity),
        on_new_leader=lambda leader: emit("new leader observed", identity=args.identity, leader=leader),
    )
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, elector.stop)
    emit("started", identity=args.identity)
    await elector.run()
    emit("exited", identity=args.identity)


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
