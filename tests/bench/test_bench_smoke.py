"""The benchmarks keep working: every one runs in its tiniest form (``bench.profiles.TINY``) on a local
cluster of its own, and produces well-formed results. No thresholds: benchmarks are not timed tests."""

from __future__ import annotations

import asyncio
import json
import math
import os
from typing import Any

import pytest
from bench.profiles import TINY
from bench.runner import run

pytestmark = pytest.mark.cluster

SUMMARY_KEYS = {"count", "p50", "p90", "p99", "max", "mean"}


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    directory = tmp_path_factory.mktemp("bench")
    name = os.environ.get("ZEN_LEAD_BENCH_SMOKE_CLUSTER", "bench-smoke")
    produced = asyncio.run(
        run(TINY, cluster_name=name, results_dir=directory, logs_dir=directory / "logs", plots_to_docs=False)
    )
    written = json.loads((directory / "tiny.json").read_text())
    assert written == produced
    for plot in ("failover", "failover-cdf", "node-burst", "elector"):
        assert (directory / f"tiny-{plot}.png").stat().st_size > 0
    return written


def assert_summary(summary: dict[str, Any], count: int) -> None:
    assert set(summary) == SUMMARY_KEYS
    assert summary["count"] == count
    assert summary["p50"] is not None
    assert summary["p50"] <= summary["max"]


def test_run_describes_machine_and_parameters(results: dict[str, Any]) -> None:
    machine = results["machine"]
    assert machine["nproc"] >= 1
    assert machine["memory_bytes"] > 0
    assert machine["kubernetes"].startswith("v1.")
    assert machine["packages"]["zen-lead"]
    assert results["profile"]["name"] == "tiny"
    assert results["benchmarks"] == ["burst", "elector", "failover", "pools", "scale"]
    assert {t["met"] for t in results["targets"]} <= {True, False, None}


def test_failover_trials(results: dict[str, Any]) -> None:
    configs = {f"{s}x{p}" for s, p in TINY.failover_configs} | {f"{TINY.big_services}x{TINY.big_pods}"}
    assert set(results["failover"]) == configs
    for data in results["failover"].values():
        for mode, trials in (("ready", TINY.ready_trials), ("delete", TINY.delete_trials)):
            measured = data[mode]
            assert measured["trials"] == measured["complete"] == trials
            assert len(measured["samples"]) == trials
            assert_summary(measured["zen_seconds"], trials)
            assert_summary(measured["upstream_seconds"], trials)
            assert measured["ratio_of_p99"] is not None
            assert measured["writes_per_failover"]["apiserver_apply"]["endpointslices"] > 0
        assert data["safety"]["violations"] == 0


def test_scale_and_cost(results: dict[str, Any]) -> None:
    scale = results["scale"]
    cold = scale["cold_start"]
    assert cold["services"] == TINY.big_services
    assert cold["pods"] == TINY.big_services * TINY.big_pods
    assert 0 < cold["start_to_cache_sync_seconds"] < cold["start_to_converged_seconds"]
    assert cold["after_settle"]["rss_bytes"] > 0
    assert cold["apiserver_apply"]["endpointslices"] >= TINY.big_services
    quiet = scale["quiet"]
    assert quiet["seconds"] >= TINY.quiet_seconds
    # Nothing changes, so the controller neither writes nor polls: its own counter shows only the manager
    # Lease's renewals (the elector shares the controller's client), the apiserver no apply; what the
    # apiserver counts for its identity (its FlowSchema) are those renewals, one request every retry
    # period (2 s): at least one, and at most one per period begun in the window (watches are counted
    # apart, as type "watch").
    assert set(quiet["controller_requests"]) <= {"patch/leases"}
    assert quiet["controller_requests"].get("patch/leases", 0) <= quiet["seconds"] / 2.0 + 1
    assert quiet["apiserver_apply"] == {"endpointslices": 0, "services": 0}
    assert 1 <= quiet["apiserver_requests"]["regular"] <= quiet["seconds"] / 2.0 + 1
    assert "controller_writes_total" in scale["warm_restart"]
    churn = scale["churn"]
    assert churn["pod_events"] == 2 * TINY.churn_pods
    # non-leader pods flipped NotReady and back: no failover, so no write and no leader slice event
    assert churn["controller_writes"] == {"endpointslices": 0, "services": 0, "events": 0}
    assert churn["leader_slice_events"] == 0
    assert churn["cpu_seconds_per_1000_events"] == pytest.approx(
        1000 * churn["cpu_seconds"] / churn["pod_events"]
    )
    assert 0 <= churn["net_cpu_seconds_per_1000_events"] <= churn["cpu_seconds_per_1000_events"]


def test_node_burst(results: dict[str, Any]) -> None:
    for phase in ("status_writes", "heartbeat_stop"):
        data = results["burst"][phase]
        assert data["services_led_from_victim"] == TINY.big_services // 2
        assert data["finished_within_timeout"] is True
        assert data["zen_after_last_write"]["missing"] == 0
        assert data["upstream_after_last_write"]["missing"] == 0
        assert data["zen_after_last_write"]["last_seconds"] is not None
        assert len(data["timeline"]["zen"]) == data["services_led_from_victim"]
        assert data["safety"]["all_services_routed_at_end"] is True


def test_elector(results: dict[str, Any]) -> None:
    elector = results["elector"]
    timing = TINY.elector_timing
    for impl in ("zen", "official"):
        data = elector[impl]
        assert_summary(data["graceful_handoff_seconds"], TINY.elector_rounds)
        assert_summary(data["crash_takeover_seconds"], TINY.elector_rounds)
        steady = data["steady_state"]
        window = steady["window_seconds"]
        # The leader renews every retry period, at least one request each (the official client reads
        # then replaces: two): the apiserver attributes at least the renewals begun inside the window to
        # the leader's FlowSchema. A standby only reads, never more often than the leader's requests.
        renewals_per_minute = (window // timing.retry_period - 1) * 60 / window
        leader, standby = steady["leader"]["requests_per_minute"], steady["standby"]["requests_per_minute"]
        assert leader["regular"] >= renewals_per_minute, (impl, leader)
        assert 0 < standby["regular"] <= leader["regular"], (impl, standby, leader)
        for role in ("leader", "standby"):
            # CPU over a 5 s window is a clock tick or two (10 ms each): a figure, too coarse to check
            assert math.isfinite(steady[role]["cpu_seconds_per_minute"])
            assert steady[role]["rss_bytes"] > 0


def test_pools(results: dict[str, Any]) -> None:
    pools = results["pools"]
    n, members, trials = TINY.pools, TINY.pool_members, TINY.ready_trials
    assert (pools["pools"], pools["members"]) == (n, members)
    cold = pools["cold_start"]
    # one pass per pool once the caches synced: a Lease created, a status, every member annotated, in
    # that order (their resourceVersions; arrival times on two watches may cross)
    writes = cold["controller_writes"]
    assert (writes["leases"], writes["leaderpolicies/status"], writes["pods"]) == (n, n, n * members)
    assert cold["controller_requests"]["create/leases"] == n  # the manager Lease's creation taken out
    assert cold["pools_in_write_order"] == n
    assert 0 < cold["start_to_cache_sync_seconds"] < cold["start_to_every_lease_held_seconds"]
    ready = pools["ready"]
    assert ready["trials"] == trials
    for key in ("lease_seconds", "status_seconds", "role_seconds"):
        assert_summary(ready[key], trials)
        assert 0 < ready[key]["p50"] <= ready[key]["p99"]
    assert ready["from_pod_event_seen"]["lease_seconds"]["p50"] > 0
    # the critical path: one Lease write per failover (the watch saw one event of the pool's Lease per
    # trial, its undo included; the controller counted one), then the status, then the annotations
    assert ready["lease_writes_per_failover_watch"] == 1.0
    assert ready["trials_in_write_order"] == trials
    assert ready["term_steps"] == [1]
    per = ready["writes_per_failover"]["controller_metrics"]
    assert set(per) <= {"leases", "leaderpolicies/status", "pods", "events"}
    # status on the failover and again when the old leader is Ready (eligible 3 of 3); the pods: the old
    # leader demoted, the third member's term, the new leader promoted
    assert (per["leases"], per["leaderpolicies/status"], per["pods"]) == (1.0, 2.0, members)
    quiet = pools["quiet"]
    assert quiet["seconds"] >= TINY.quiet_seconds
    assert quiet["controller_requests"] == {}
    assert quiet["watch_events"] == {"leases": 0, "leaderpolicies": 0, "pods": 0}
    # what was taken out of the controller's count: the manager Lease's renewals, one per 2 s
    assert 1 <= quiet["manager_lease_renewals"] <= quiet["seconds"] / 2.0 + 1
    for phase in (cold["at_convergence"], pools["after_trials"]):
        assert 0 < phase["rss_bytes"] <= phase["peak_rss_bytes"]
    assert cold["at_convergence"]["cpu_seconds"] > 0
    assert set(pools["director_beside"]) == set(results["failover"])
    met = {t["target"]: t["met"] for t in results["targets"] if t["issue"] == "13"}
    assert met == {
        f"pool Lease writes per failover, {n}x{members}": True,
        f"pools quiet: controller requests and pool Lease writes, {n}x{members}": True,
    }


def test_results_are_standard_json(results: dict[str, Any]) -> None:
    assert json.dumps(results, allow_nan=False)  # NaN/inf were replaced by null
