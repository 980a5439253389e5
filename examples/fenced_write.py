"""Guarded S3-style write with fencing: the storage, not the lock, refuses a stale writer.

    python examples/fenced_write.py --kubeconfig ~/.kube/config --store /tmp/fenced-store

``FencedStore`` stands in for an object store that supports conditional writes (S3 ``If-Match``, a
database row with a token column): it remembers the highest token per key and rejects lower ones. A
writer that was paused while holding the lock, lost it, and wakes up still believing it holds it is
stopped by ``fence.check()`` or, if it got past that, by the store.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path

from zen_lead.election import LeaseRef, lock


class StaleTokenError(Exception):
    pass


class FencedStore:
    """Objects in a directory; each write carries a token and must not go below the last one seen."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def put(self, key: str, body: str, *, token: int) -> None:
        path = self.root / f"{key}.json"
        seen = json.loads(path.read_text())["token"] if path.exists() else -1
        if token < seen:
            raise StaleTokenError(f"write to {key!r} with token {token} rejected: {seen} already seen")
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"token": token, "body": body}))
        tmp.replace(path)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--kubeconfig", required=True)
    parser.add_argument("--namespace", default="default")
    parser.add_argument("--store", type=Path, default=Path("/tmp/fenced-store"))
    args = parser.parse_args()
    store = FencedStore(args.store)
    async with lock(LeaseRef("report-writer", args.namespace, kubeconfig=args.kubeconfig), ttl=10) as fence:
        body = f"report generated at {time.time():.0f}"
        fence.check()  # 1. cheap local check: renewals still succeeding?
        store.put("daily-report", body, token=fence.token)  # 2. the store rejects a stale token
        print(f"wrote daily-report with token {fence.token}", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
