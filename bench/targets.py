"""The issues' targets, checked against a run's results. Scale-bound targets count only at 1,000 Services /
10,000 pods; at other scales they are reported as measured, with ``met`` null."""

from __future__ import annotations

from typing import Any

TARGET_SERVICES, TARGET_PODS = 1000, 10


def _target(name: str, limit: str, measured: Any, met: bool | None, source: str) -> dict[str, Any]:
    return {"target": name, "limit": limit, "measured": measured, "met": met, "issue": source}


def _le(value: Any, limit: float) -> bool | None:
    return None if value is None else bool(value <= limit)


def evaluate(results: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    failover = results.get("failover") or {}
    for config, data in failover.items():
        at_scale = data["services"] == TARGET_SERVICES and data["pods_per_service"] == TARGET_PODS
        for mode in ("ready", "delete"):
            zen = data[mode]["zen_seconds"]["p99"]
            if at_scale:
                found.append(
                    _target(f"failover p99(a), {mode}, {config}", "<= 0.100 s", zen, _le(zen, 0.1), "6")
                )
            ratio = data[mode]["ratio_of_p99"]
            found.append(
                _target(f"failover p99(a)/p99(b), {mode}, {config}", "<= 0.5", ratio, _le(ratio, 0.5), "6")
            )
        slices = data["ready"]["writes_per_failover"]["apiserver_apply"].get("endpointslices")
        found.append(
            _target(
                f"slice writes per failover, {config}",
                "1 (critical path)",
                slices,
                None if slices is None else round(slices, 2) == 1.0,
                "6, 8",
            )
        )
    scale = results.get("scale") or {}
    cold = scale.get("cold_start")
    if cold:
        at_scale = cold["services"] == TARGET_SERVICES and cold["pods"] == TARGET_SERVICES * TARGET_PODS
        value = cold["cache_sync_to_converged_seconds"]
        found.append(
            _target(
                "cold start: converged after cache sync",
                "<= 5 s",
                value,
                _le(value, 5.0) if at_scale else None,
                "8 (6: <= 10 s)",
            )
        )
        rss = max(
            [cold["after_settle"]["rss_bytes"]]
            + [scale[k]["rss_bytes"] for k in ("quiet", "warm_restart", "churn") if k in scale]
        )
        found.append(
            _target(
                "RSS at steady state",
                "<= 120 MB",
                rss / 2**20,
                _le(rss / 2**20, 120) if at_scale else None,
                "8 (6: <= 150 MB)",
            )
        )
    phases = [scale[p] for p in ("cold_start", "quiet", "warm_restart", "churn") if p in scale]
    phases += list((results.get("burst") or {}).values())
    for metric, what in (
        ("lag", "event-loop lag"),
        ("stall", "event-loop stall from our code (upper bound)"),
    ):
        lags = [phase[f"event_loop_{metric}"] for phase in phases if f"event_loop_{metric}" in phase]
        if lags:
            p99 = max((v["p99_seconds"] or 0.0) for v in lags)
            worst = max((v["max_seconds_since_start"] or 0.0) for v in lags)
            found.append(_target(f"{what} p99 (worst phase)", "<= 0.050 s", p99, _le(p99, 0.05), "8"))
            found.append(_target(f"{what}, worst single tick", "<= 0.050 s", worst, _le(worst, 0.05), "6"))
    warm = scale.get("warm_restart")
    if warm:
        total = warm["controller_writes_total"] + sum(warm["apiserver_apply"].values())
        found.append(_target("warm restart writes", "0", total, total == 0, "8"))
    quiet = scale.get("quiet")
    if quiet:
        total = sum(quiet["controller_requests"].values())
        found.append(
            _target(
                "quiet period: controller requests (lease renewals excluded)", "0", total, total == 0, "6"
            )
        )
    for name, data in (results.get("burst") or {}).items():
        last = data["zen_after_last_write"]["last_seconds"]
        at_scale = data["services_led_from_victim"] >= 400
        limit_met = _le(last, 1.0) if name == "status_writes" and at_scale else None
        found.append(
            _target(
                f"node burst ({name}): last leader moved after the last NotReady",
                "<= 1 s",
                last,
                limit_met,
                "8",
            )
        )
        safety = data["safety"]
        found.append(
            _target(
                f"node burst ({name}): never two ready endpoints",
                "0",
                safety["two_ready_endpoints_observed"],
                safety["two_ready_endpoints_observed"] == 0,
                "8",
            )
        )
        found.append(
            _target(
                f"node burst ({name}): none leaderless at the end",
                "0",
                safety["services_without_one_leader_at_end"],
                safety["services_without_one_leader_at_end"] == 0,
                "8",
            )
        )
    found += _pools(results.get("pools"))
    return found


def _pools(pools: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Issue 13: one write on a pool failover's critical path (the Lease), none from a quiet pool."""
    if not pools:
        return []
    size = f"{pools['pools']}x{pools['members']}"
    lease = pools["ready"]["lease_writes_per_failover_watch"]
    quiet = pools["quiet"]
    writes = sum(quiet["controller_requests"].values()) + quiet["watch_events"]["leases"]
    return [
        _target(
            f"pool Lease writes per failover, {size}",
            "1 (critical path)",
            lease,
            None if lease is None else round(lease, 2) == 1.0,
            "13",
        ),
        _target(
            f"pools quiet: controller requests and pool Lease writes, {size}",
            "0",
            writes,
            writes == 0,
            "13",
        ),
    ]
