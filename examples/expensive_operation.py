"""Expensive operation, once: every replica needs the result, one computes it, the others wait for it.

    python examples/expensive_operation.py --kubeconfig ~/.kube/config [--version 7]

Think schema migration or index build at start-up. All replicas queue on one lock; the first runs the
operation and records the result (a ConfigMap); the others get the lock in turn, find the result and
skip the work. Prints "computed" or "reused".
"""

from __future__ import annotations

import argparse
import asyncio

from lightkube import ApiError, AsyncClient
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import ConfigMap

from zen_lead.election import LeaseRef, lock
from zen_lead.kube.config import async_client


async def recorded(client: AsyncClient, namespace: str, version: str) -> str | None:
    try:
        result = await client.get(ConfigMap, f"migration-{version}", namespace=namespace)
    except ApiError as error:
        if error.status.code == 404:
            return None
        raise
    return (result.data or {}).get("result")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--kubeconfig", required=True)
    parser.add_argument("--namespace", default="default")
    parser.add_argument("--version", default="1")
    args = parser.parse_args()
    client = async_client(args.kubeconfig)
    try:
        async with lock(
            LeaseRef("schema-migration", args.namespace, kubeconfig=args.kubeconfig), ttl=30, timeout=600
        ) as fence:
            if (result := await recorded(client, args.namespace, args.version)) is not None:
                print(f"reused: {result}", flush=True)
                return
            await asyncio.sleep(2)  # the expensive part
            fence.check()
            data = {"result": f"migrated to {args.version}", "token": str(fence.token)}
            await client.create(
                ConfigMap(metadata=ObjectMeta(name=f"migration-{args.version}"), data=data),
                namespace=args.namespace,
            )
            print(f"computed: migrated to {args.version}", flush=True)
    finally:
        await client.close()


if __name__ == "__main__":
    asyncio.run(main())
