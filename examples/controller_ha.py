"""Controller HA: run N replicas, only the leader reconciles; a standby takes over on failure.

    python examples/controller_ha.py --kubeconfig ~/.kube/config [--namespace default]

Stop the leader with Ctrl-C (or SIGTERM): its loops are cancelled, the Lease is released, and a
standby starts reconciling within about a second.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal

from lightkube import AsyncClient
from lightkube.resources.core_v1 import ConfigMap

from zen_lead.election import LeaderElector, Leadership, LeaseRef
from zen_lead.kube.config import async_client


async def reconcile_forever(client: AsyncClient, namespace: str, leadership: Leadership) -> None:
    while True:
        leadership.fence.check()  # cheap local guard before acting
        count = len([cm async for cm in client.list(ConfigMap, namespace=namespace)])
        logging.info("reconciled %d ConfigMaps as %s", count, leadership.token)
        await asyncio.sleep(5)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--kubeconfig", required=True)
    parser.add_argument("--namespace", default="default")
    args = parser.parse_args()
    client = async_client(args.kubeconfig)

    async def lead(leadership: Leadership) -> None:
        # everything started here is cancelled the instant leadership is lost
        leadership.start_soon(reconcile_forever(client, args.namespace, leadership))

    elector = LeaderElector(
        LeaseRef("example-controller", args.namespace, kubeconfig=args.kubeconfig), on_started_leading=lead
    )
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, elector.stop)
    asyncio.get_running_loop().add_signal_handler(signal.SIGINT, elector.stop)
    try:
        await elector.run()
    finally:
        await client.close()


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    logging.getLogger("httpx2").setLevel(logging.WARNING)  # one line per API request otherwise
    asyncio.run(main())
