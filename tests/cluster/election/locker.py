"""A lock-holding process for the cluster tests; prints JSON events stamped with ``time.monotonic()``.

Modes:
- ``rounds`` — take the lock ``--rounds`` times, hold it ``--hold`` seconds each (``enter``/``exit``);
- ``hang`` — take the lock and never leave the critical section (the test kills the process);
- ``stale`` — take the lock without cancel-on-loss, wait for a line on stdin (the test freezes us in
  between), then report what the fence says and try a fenced write (``report``);
- ``cancel`` — take the lock with cancel-on-loss and sleep in it; report ``lock lost`` when the body is
  cancelled because renewals stopped.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # the repository root, for tests.*

from tests.cluster.election.harness import FencedFile
from zen_lead.election import LeaseRef, LockLostError, StaleFenceError, lock
from zen_lead.kube.client import ApiClient


def emit(event: str, **fields: object) -> None:
    print(json.dumps({"event": event, "t": time.monotonic(), **fields}), flush=True)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["rounds", "hang", "stale", "cancel"])
    parser.add_argument("--kubeconfig", required=True)
    parser.add_argument("--namespace", required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--ttl", type=float, default=3)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--hold", type=float, default=0.15)
    parser.add_argument("--store", type=Path)
    args = parser.parse_args()
    client = ApiClient.from_kubeconfig(args.kubeconfig)
    ref = LeaseRef(args.name, args.namespace, client=client)
    common = {"ttl": args.ttl}

    if args.mode == "rounds":
        for _ in range(args.rounds):
            async with lock(ref, **common) as fence:
                emit("enter", token=fence.token, identity=fence.identity)
                await asyncio.sleep(args.hold)
                emit("exit", token=fence.token, valid=fence.valid())
    elif args.mode == "hang":
        async with lock(ref, **common) as fence:
            emit("enter", token=fence.token, identity=fence.identity)
            await asyncio.Event().wait()
    elif args.mode == "stale":
        async with lock(ref, cancel_on_loss=False, **common) as fence:
            emit("enter", token=fence.token, identity=fence.identity)
            await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
            report: dict[str, object] = {"token": fence.token, "valid": fence.valid()}
            for check in ("check", "confirm"):
                try:
                    if check == "check":
                        fence.check()
                    else:
                        await fence.confirm()
                    report[check] = "passed"
                except StaleFenceError as error:
                    report[check] = f"StaleFenceError: {error}"
            try:
                FencedFile(args.store).write(fence.token, "from the stale holder")
                report["write"] = "accepted"
            except FencedFile.StaleWrite as error:
                report["write"] = f"rejected: {error}"
            emit("report", **report)
    else:
        try:
            async with lock(ref, **common) as fence:
                emit("enter", token=fence.token, identity=fence.identity)
                await asyncio.Event().wait()
        except LockLostError as error:
            emit("lock lost", reason=str(error))
    await client.aclose()


if __name__ == "__main__":
    asyncio.run(main())
