"""``python -m bench.transport`` — what one API write costs the controller, per HTTP client.

The controller's CPU is shared with the apiserver on small machines, and a node-death burst is ~1,000
writes: the client's own cost per request decides how soon the last one is sent. This benchmark applies
the same EndpointSlice (server-side apply, the failover write) ``requests`` times at a fixed concurrency
through each client, interleaved round by round on one cluster, and reports per client: the process CPU
seconds per 1,000 requests (the client's own cost: the apiserver is another process), wall time and
latency percentiles.

Clients: httpx2 over an HTTP/1.1 pool (lightkube's transport), httpx2 over HTTP/2, and aiohttp over an
HTTP/1.1 pool. Results: ``bench/results/transport.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import ssl
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import httpx2
import msgspec
from lightkube.config.client_adapter import ConnectionParams, verify_cluster

from bench.machine import describe
from zen_lead.kube.config import load_config, sync_client
from zen_lead.localcluster import LocalCluster

RESULTS = Path(__file__).resolve().parent / "results"
Send = Callable[[str, bytes], Awaitable[int]]


def _slice(namespace: str, index: int) -> tuple[str, bytes]:
    name = f"bench-{index}"
    manifest = {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {"name": name, "namespace": namespace, "labels": {"kubernetes.io/service-name": name}},
        "addressType": "IPv4",
        "endpoints": [
            {"addresses": [f"10.9.{index // 250}.{index % 250 + 1}"], "conditions": {"ready": True}}
        ],
        "ports": [{"name": "p", "port": 5432, "protocol": "TCP"}],
    }
    path = f"/apis/discovery.k8s.io/v1/namespaces/{namespace}/endpointslices/{name}"
    return path, msgspec.json.encode(manifest)


PARAMS = {"fieldManager": "bench-transport", "force": "true"}
HEADERS = {"Content-Type": "application/apply-patch+yaml", "Accept": "application/json"}


async def _httpx(kubeconfig: Path, *, http2: bool) -> tuple[Send, Callable[[], Awaitable[None]]]:
    config = load_config(kubeconfig)
    params = ConnectionParams(timeout=httpx2.Timeout(30), trust_env=False, http2=http2)
    client = httpx2.AsyncClient(
        **params.httpx_params(config),
        limits=httpx2.Limits(max_connections=256, max_keepalive_connections=256, keepalive_expiry=60),
    )

    async def send(path: str, body: bytes) -> int:
        response = await client.request("PATCH", path, params=PARAMS, content=body, headers=HEADERS)
        _ = response.content
        return response.status_code

    return send, client.aclose


async def _aiohttp(kubeconfig: Path) -> tuple[Send, Callable[[], Awaitable[None]]]:
    config = load_config(kubeconfig)
    assert config.user is not None
    assert config.user.token is not None, "the local cluster uses tokens"
    verify = verify_cluster(config.cluster, config.user, config.abs_file, trust_env=False)
    assert isinstance(verify, ssl.SSLContext)
    session = aiohttp.ClientSession(
        base_url=config.cluster.server,
        connector=aiohttp.TCPConnector(ssl=verify, limit=256, keepalive_timeout=60),
        headers={"Authorization": f"Bearer {config.user.token}"},
        timeout=aiohttp.ClientTimeout(total=30),
    )

    async def send(path: str, body: bytes) -> int:
        async with session.patch(path, params=PARAMS, data=body, headers=HEADERS) as response:
            await response.read()
            return response.status

    return send, session.close


async def _round(send: Send, bodies: list[tuple[str, bytes]], concurrency: int) -> dict[str, Any]:
    latencies: list[float] = []
    pending = iter(bodies)

    async def worker() -> None:
        for path, body in pending:
            started = time.perf_counter()
            code = await send(path, body)
            latencies.append(time.perf_counter() - started)
            if code >= 300:
                raise RuntimeError(f"apply answered {code}")

    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    latencies.sort()
    return {
        "requests": len(latencies),
        "cpu_seconds": cpu,
        "wall_seconds": wall,
        "p50_ms": 1000 * latencies[len(latencies) // 2],
        "p99_ms": 1000 * latencies[int(len(latencies) * 0.99) - 1],
    }


def _summary(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    per_1000 = [1000 * r["cpu_seconds"] / r["requests"] for r in rounds]
    return {
        "rounds": rounds,
        "cpu_seconds_per_1000_requests_median": statistics.median(per_1000),
        "requests_per_second_median": statistics.median(r["requests"] / r["wall_seconds"] for r in rounds),
        "p50_ms_median": statistics.median(r["p50_ms"] for r in rounds),
        "p99_ms_median": statistics.median(r["p99_ms"] for r in rounds),
    }


async def measure(kubeconfig: Path, *, requests: int, concurrency: int, rounds: int) -> dict[str, Any]:
    namespace = "bench-transport"
    bodies = [_slice(namespace, i) for i in range(requests)]
    makers: dict[str, Callable[[], Awaitable[tuple[Send, Callable[[], Awaitable[None]]]]]] = {
        "httpx2 HTTP/1.1 pool": lambda: _httpx(kubeconfig, http2=False),
        "httpx2 HTTP/2": lambda: _httpx(kubeconfig, http2=True),
        "aiohttp HTTP/1.1 pool": lambda: _aiohttp(kubeconfig),
    }
    clients = {name: await make() for name, make in makers.items()}
    results: dict[str, list[dict[str, Any]]] = {name: [] for name in clients}
    try:
        for send, _ in clients.values():  # warm-up: connections open, objects exist
            await _round(send, bodies, concurrency)
        for _ in range(rounds):
            for name, (send, _) in clients.items():
                results[name].append(await _round(send, bodies, concurrency))
    finally:
        for _, close in clients.values():
            await close()
    return {name: _summary(r) for name, r in results.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.transport", description=__doc__)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, action="append")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--cluster", default="bench-transport")
    parser.add_argument("--output", type=Path, default=RESULTS / "transport.json")
    args = parser.parse_args(argv)
    local = LocalCluster(args.cluster, nodes=1, zones=1)
    info = local.up()
    try:
        from lightkube.models.meta_v1 import ObjectMeta
        from lightkube.resources.core_v1 import Namespace

        sync_client(info.kubeconfig).create(Namespace(metadata=ObjectMeta(name="bench-transport")))
        results: dict[str, Any] = {
            "machine": describe(kubernetes_version=info.kubernetes_version),
            "requests": args.requests,
            "by_concurrency": {},
        }
        for concurrency in args.concurrency or [64, 8]:
            measured = asyncio.run(
                measure(info.kubeconfig, requests=args.requests, concurrency=concurrency, rounds=args.rounds)
            )
            results["by_concurrency"][str(concurrency)] = measured
            for name, summary in measured.items():
                print(
                    f"c={concurrency:<3} {name:<22} "
                    f"CPU {summary['cpu_seconds_per_1000_requests_median']:.2f} s/1000 req, "
                    f"{summary['requests_per_second_median']:.0f} req/s, "
                    f"p50 {summary['p50_ms_median']:.1f} ms, p99 {summary['p99_ms_median']:.1f} ms"
                )
    finally:
        local.down()
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    print(f"results: {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
