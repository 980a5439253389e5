"""The side-by-side tools outside ``python -m bench`` keep working: ``bench.transport`` (one write per
HTTP client) and ``bench.ab`` (the controller at two revisions or settings), each at its smallest, on a
local cluster of its own. Their results are checked for shape only: benchmarks are not timed tests."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pytest

from bench import ab, transport

pytestmark = pytest.mark.cluster
CLUSTER = os.environ.get("ZEN_LEAD_BENCH_SMOKE_CLUSTER", "bench-smoke")


def test_transport_measures_every_client(tmp_path: Path) -> None:
    output = tmp_path / "transport.json"
    argv = ["--requests", "20", "--concurrency", "4", "--rounds", "1"]
    assert transport.main([*argv, "--cluster", f"{CLUSTER}-transport", "--output", str(output)]) == 0
    results = json.loads(output.read_text())
    assert results["requests"] == 20
    clients = results["by_concurrency"]["4"]
    assert set(clients) == {"httpx2 HTTP/1.1 pool", "httpx2 HTTP/2", "aiohttp HTTP/1.1 pool"}
    for measured in clients.values():
        [round_] = measured["rounds"]
        assert round_["requests"] == 20
        assert round_["cpu_seconds"] > 0
        assert 0 < round_["p50_ms"] <= round_["p99_ms"]


def test_ab_alternates_two_variants_on_one_cluster(tmp_path: Path) -> None:
    output = tmp_path / "ab.json"
    argv = ["--baseline", "HEAD", "--services", "4", "--pods", "2", "--nodes", "1", "--rounds", "1"]
    argv += ["--isolated", "2"]
    extra = ["--candidate-args", "--workers 2", "--cluster", f"{CLUSTER}-ab", "--output", str(output)]
    assert ab.main([*argv, *extra]) == 0
    results = json.loads(output.read_text())
    assert results["controller_args"] == {"baseline": [], "candidate": ["--workers", "2"]}
    assert [r["variant"] for r in results["rounds"]] == ["baseline", "candidate"]
    for round_ in results["rounds"]:
        assert round_["failovers"] == 4  # every Service's leader was made NotReady and moved
        assert round_["stopped_on_sigterm"]
        # causality: the status writes and the moves they caused come after the first write began
        assert round_["writes_spread_seconds"] > 0
        assert round_["last_moved_after_first_write_seconds"] > 0
        assert math.isfinite(round_["cpu_seconds"])  # a clock tick or two at this size: not checkable
        assert round_["rss_bytes"] > 10_000_000  # a Python process with its caches, not nothing
        assert len(round_["isolated_failover_seconds"]) == 2
        assert all(0 < seconds < 60 for seconds in round_["isolated_failover_seconds"])
    assert set(results["median"]) == {"baseline", "candidate"}
