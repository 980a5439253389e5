"""``bench.api`` (issue 14's status API beside etcd's v3election) keeps working: its smallest run
(20 subscribers, 2 rounds, 2 s at the rate) on a local cluster of its own, results checked for shape
only: benchmarks are not timed tests. About 35 s once the Go driver is in Go's build cache."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from bench import api

pytestmark = pytest.mark.cluster
CLUSTER = os.environ.get("ZEN_LEAD_BENCH_SMOKE_CLUSTER", "bench-smoke")
SUBSCRIBERS, ROUNDS = 20, 2


def test_api_bench_measures_both_servers_in_one_run(tmp_path: Path) -> None:
    output = tmp_path / "api.json"
    argv = [f"--subscribers={SUBSCRIBERS}", f"--rounds={ROUNDS}", "--channels=2", "--rate=100"]
    argv += ["--duration=2", "--warmup=0.5", "--first-calls=2", f"--cluster={CLUSTER}-api"]
    assert api.main([*argv, "--output", str(output)]) == 0
    results = json.loads(output.read_text())
    assert output.with_suffix(".png").stat().st_size > 0
    assert results["machine"]["nproc"] >= 1
    assert results["load_average"]["start"]

    assert set(results["latency"]) == {"zen-grpc", "zen-http", "etcd"}
    for measured in results["latency"].values():
        assert measured["errors"] == 0
        assert measured["sent"] == 200  # 100/s for 2 s, the warm-up apart
        assert 0 < measured["latency_seconds"]["p50"] <= measured["latency_seconds"]["p99"]
    for measured in results["first_call"].values():
        assert measured["errors"] == 0
        assert measured["latency_seconds"]["count"] == 2

    fanout = results["fanout"]
    assert set(fanout["zen"]["modes"]) == {"holder"}
    assert set(fanout["etcd"]["modes"]) == {"proclaim", "handoff"}
    for system in fanout.values():
        assert system["subscribed"] == SUBSCRIBERS
        assert system["stream_errors"] == []
        assert system["rss_after_bytes"] > 0
        for name, mode in system["modes"].items():
            if name == "handoff":  # etcd's Observe can stall after a handoff (docs/performance.md)
                assert mode["rounds"] >= 1
                continue
            # every subscriber told every change: nothing lost, even coalesced
            assert mode["complete_rounds"] == ROUNDS
            assert mode["missing_notifications"] == 0
            last = mode["to_last_seconds"]
            assert last["count"] == ROUNDS
            assert last["p50"] <= last["max"] < 10
            assert len(mode["pooled_percentiles_seconds"]) == 101
    cold = results["cold_subscribe"]
    assert cold["subscribed"] == SUBSCRIBERS
    assert cold["stream_errors"] == []
    assert any('cache="miss"' in key for key in cold["reviews"])  # a token never seen: reviewed
    assert results["ratios_zen_over_etcd"]["rss per subscriber / etcd"] is not None
