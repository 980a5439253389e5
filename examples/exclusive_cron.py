"""Exclusive cron run: many replicas fire on the same schedule, the job runs once per period.

    python examples/exclusive_cron.py --kubeconfig ~/.kube/config [--period 2024-05-06]

A lock keeps two runs from overlapping; a marker written under the lock (a ConfigMap) keeps a replica
that fires later in the same period from running the job again. Prints "ran" or "skipped: ...".
"""

from __future__ import annotations

import argparse
import asyncio
import datetime

from lightkube import ApiError, AsyncClient
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import ConfigMap

from zen_lead.election import LeaseRef, try_acquire
from zen_lead.kube.config import async_client

MARKER = "nightly-report-done"


async def done_period(client: AsyncClient, namespace: str) -> str | None:
    try:
        marker = await client.get(ConfigMap, MARKER, namespace=namespace)
    except ApiError as error:
        if error.status.code == 404:
            return None
        raise
    return (marker.data or {}).get("period")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--kubeconfig", required=True)
    parser.add_argument("--namespace", default="default")
    parser.add_argument("--period", default=datetime.date.today().isoformat())
    parser.add_argument("--duration", type=float, default=1.0, help="how long the job takes")
    args = parser.parse_args()
    client = async_client(args.kubeconfig)
    try:
        held = await try_acquire(
            LeaseRef("nightly-report", args.namespace, kubeconfig=args.kubeconfig), ttl=30
        )
        if held is None:
            print("skipped: another replica is running the job", flush=True)
            return
        async with held as fence:
            if await done_period(client, args.namespace) == args.period:
                print(f"skipped: {args.period} already done", flush=True)
                return
            await asyncio.sleep(args.duration)  # the job
            fence.check()  # still ours? then record the period as done
            marker = ConfigMap(
                metadata=ObjectMeta(name=MARKER), data={"period": args.period, "token": str(fence.token)}
            )
            await client.apply(marker, namespace=args.namespace, field_manager="nightly-report", force=True)
            print(f"ran {args.period} with token {fence.token}", flush=True)
    finally:
        await client.close()


if __name__ == "__main__":
    asyncio.run(main())
