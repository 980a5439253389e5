"""``python -m bench`` — every benchmark at full scale (15-25 minutes on 2 cores);
``--quick`` — every benchmark, small (a few minutes); ``--tiny`` — the CI smoke's size."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import logging
import sys

from bench.profiles import FULL, QUICK, TINY
from bench.runner import BENCHMARKS, run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="small versions of every benchmark (minutes)")
    size.add_argument("--tiny", action="store_true", help="the smallest versions (the CI smoke)")
    parser.add_argument("--only", action="append", choices=BENCHMARKS, help="run only these (repeatable)")
    parser.add_argument(
        "--cluster", default="bench", help="local cluster name (started fresh, stopped after)"
    )
    parser.add_argument(
        "--pools",
        type=int,
        help="this many pools instead of the profile's (results then go to <profile>-pools<N>.json)",
    )
    parser.add_argument("--keep-cluster", action="store_true", help="leave the cluster running afterwards")
    args = parser.parse_args(argv)
    profile = TINY if args.tiny else QUICK if args.quick else FULL
    if args.pools is not None and args.pools != profile.pools:
        profile = dataclasses.replace(profile, name=f"{profile.name}-pools{args.pools}", pools=args.pools)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S", stream=sys.stderr
    )
    for noisy in ("httpx2", "httpcore2", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    results = asyncio.run(
        run(
            profile,
            cluster_name=args.cluster,
            only=set(args.only or BENCHMARKS),
            keep_cluster=args.keep_cluster,
        )
    )
    for target in results["targets"]:
        verdict = {True: "met", False: "MISSED", None: "n/a at this scale"}[target["met"]]
        print(
            f"{verdict:>18}  {target['target']}: {json.dumps(target['measured'])} (target {target['limit']})"
        )
    print(f"results: bench/results/{profile.name}.json ({results['duration_seconds']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
