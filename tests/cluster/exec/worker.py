"""The program the exec tests run under ``zen-lead exec``: it stamps its own life into a shared ledger.

Every line is JSON with the worker's pid, ``t`` (CLOCK_MONOTONIC, one time line for every process
on this machine) and ``wall`` (time.time()): ``start`` (with the token and slot it was given), then
``alive`` every 10 ms, ``signal`` for each signal it receives, ``stop`` when it exits on its own. A
worker that is SIGKILLed writes nothing more: its last ``alive`` is within 10 ms of its death.

    worker.py LEDGER [--exit N] [--run-for SECONDS] [--ignore-term] [--term-exit N]
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import signal
import sys
import time
from types import FrameType

args = argparse.ArgumentParser()
args.add_argument("ledger")
args.add_argument("--exit", type=int, default=0)
args.add_argument("--run-for", type=float, default=None)
args.add_argument("--ignore-term", action="store_true")
args.add_argument("--term-exit", type=int, default=0)
options = args.parse_args()


def stamp(event: str, **fields: object) -> None:
    line = json.dumps(
        {"event": event, "pid": os.getpid(), "t": time.monotonic(), "wall": time.time(), **fields}
    )
    with open(options.ledger, "a") as ledger:
        fcntl.flock(ledger, fcntl.LOCK_EX)
        ledger.write(line + "\n")


def on_signal(signum: int, frame: FrameType | None) -> None:
    stamp("signal", signal=signal.Signals(signum).name)
    if signum == signal.SIGTERM and not options.ignore_term:
        stamp("stop", code=options.term_exit)
        sys.exit(options.term_exit)


for handled in (signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2):
    signal.signal(handled, on_signal)

stamp(
    "start",
    token=int(os.environ["ZEN_LEAD_TOKEN"]),
    term=int(os.environ["ZEN_LEAD_TERM"]),
    fencing=os.environ["ZEN_LEAD_FENCING_TOKEN"],
    lease=os.environ["ZEN_LEAD_LEASE"],
    identity=os.environ["ZEN_LEAD_IDENTITY"],
    slot=os.environ.get("ZEN_LEAD_SLOT"),
    ppid=os.getppid(),
)
started = time.monotonic()
while options.run_for is None or time.monotonic() - started < options.run_for:
    stamp("alive")
    time.sleep(0.01)
stamp("stop", code=options.exit)
sys.exit(options.exit)
