"""Markdown tables from a run's JSON, written into docs/performance.md between markers, so the report's
numbers are the run's numbers: ``python -m bench.report [bench/results/full.json]``.

Only the block between ``<!-- bench:tables:begin -->`` and ``<!-- bench:tables:end -->`` is replaced;
the prose around it is the analysis and is written by hand.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

from bench import plots

REPO = Path(__file__).resolve().parent.parent
DOC = REPO / "docs" / "performance.md"
BEGIN, END = "<!-- bench:tables:begin -->", "<!-- bench:tables:end -->"
MODES = ("ready", "delete", "ready_back_to_back", "ready_after_idle")
MODE_NAMES = {
    "ready": "NotReady, paced",
    "delete": "deleted, paced",
    "ready_back_to_back": "NotReady, back to back",
    "ready_after_idle": "NotReady after 6 s idle",
}


_STALL_NOTE = " (our own work's share at most)"


def _lag(phase: dict[str, Any]) -> str:
    """Event-loop lag p99 / worst, and in parentheses the bound of it that the controller's own work
    caused (``zen_lead_event_loop_stall_seconds``); runs before that metric existed have no parentheses."""
    lag = phase["event_loop_lag"]
    text = f"{_ms(lag['p99_seconds'])} / {_ms(lag['max_seconds_since_start'])}"
    stall = phase.get("event_loop_stall")
    if stall:
        text += f" ({_ms(stall['p99_seconds'])} / {_ms(stall['max_seconds_since_start'])})"
    return text


def _ms(value: Any) -> str:
    return "—" if value is None else f"{1000 * value:.1f}"


def _s(value: Any, digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _ratio(value: Any) -> str:
    return "—" if value is None else f"{value:.2f}"


def _mb(value: Any) -> str:
    return "—" if value is None else f"{value / 2**20:.0f}"


def machine(results: dict[str, Any]) -> list[str]:
    m = results["machine"]
    p = results["profile"]
    return [
        f"Run `{p['name']}` of {results['started_at']} ({results['duration_seconds'] / 60:.1f} min): "
        f"{m['nproc']} CPUs ({m['cpu_model']}), {m['memory_bytes'] / 2**30:.0f} GiB, Linux {m['kernel']}, "
        f"load average {m['load_average_at_start']} at start and {m.get('load_average_at_end')} at the end; "
        f"Kubernetes {m['kubernetes']}, Python {m['python']}, zen-lead {m['packages']['zen-lead']}, "
        f"{results['cluster']['nodes']} kwok nodes (+1 with its own kwok). "
        f"Controller: QPS {results['controller']['qps']:.0f}, burst {results['controller']['burst']}, "
        f"{results['controller']['workers']} workers. kube-controller-manager: "
        f"{results['cluster']['kube_controller_manager_client']}.",
        "",
    ]


def failover(results: dict[str, Any]) -> list[str]:
    lines = [
        "| Services x pods | trigger | trials | zen-lead (a) p50 / p90 / p99 / max, ms | "
        "upstream (b) p50 / p90 / p99 / max, ms | p99(a)/p99(b) | per-trial a/b p50 | "
        "slice writes per failover |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for config, data in results["failover"].items():
        for mode in MODES:
            if mode not in data:
                continue
            d = data[mode]
            zen, up = d["zen_seconds"], d["upstream_seconds"]
            writes = d["writes_per_failover"]["apiserver_apply"].get("endpointslices")
            lines.append(
                f"| {config.replace('x', ' x ')} | {MODE_NAMES[mode]} | "
                f"{d['complete']}/{d['trials']} | "
                f"{_ms(zen['p50'])} / {_ms(zen['p90'])} / {_ms(zen['p99'])} / {_ms(zen['max'])} | "
                f"{_ms(up['p50'])} / {_ms(up['p90'])} / {_ms(up['p99'])} / {_ms(up['max'])} | "
                f"{_ratio(d['ratio_of_p99'])} | {_ratio(d['ratio_per_trial']['p50'])} | {_s(writes)} |"
            )
    lines.append("")
    return lines


def failover_visible(results: dict[str, Any]) -> list[str]:
    lines = [
        "| Services x pods | trigger | zen-lead p50 / p99, ms | upstream p50 / p99, ms | "
        "write round trip p50, ms |",
        "|---|---|---|---|---|",
    ]
    for config, data in results["failover"].items():
        for mode in MODES:
            if mode not in data:
                continue
            d = data[mode]
            v = d["from_pod_event_seen"]
            lines.append(
                f"| {config.replace('x', ' x ')} | {MODE_NAMES[mode]} | "
                f"{_ms(v['zen_seconds']['p50'])} / {_ms(v['zen_seconds']['p99'])} | "
                f"{_ms(v['upstream_seconds']['p50'])} / {_ms(v['upstream_seconds']['p99'])} | "
                f"{_ms(d['write_round_trip_seconds']['p50'])} |"
            )
    lines.append("")
    return lines


def scale(results: dict[str, Any]) -> list[str]:
    s = results.get("scale") or {}
    cold, quiet, warm, churn = (s.get(k) for k in ("cold_start", "quiet", "warm_restart", "churn"))
    lines = ["| measurement | value |", "|---|---|"]
    if cold:
        lines += [
            f"| cold start ({cold['services']} Services, {cold['pods']} pods): start -> cache sync | "
            f"{_s(cold['start_to_cache_sync_seconds'])} s |",
            f"| cold start: start -> manager Lease acquired | {_s(cold['start_to_leadership_seconds'])} s |",
            "| cold start: cache sync -> every Service routed | "
            f"{_s(cold['cache_sync_to_converged_seconds'])} s |",
            f"| cold start: start -> every Service routed | {_s(cold['start_to_converged_seconds'])} s |",
            f"| cold start: writes (controller's count) | {_fmt_counts(cold['controller_writes'])} |",
            f"| cold start: APPLY requests (apiserver's count) | {_fmt_counts(cold['apiserver_apply'])} |",
            f"| cold start: all requests of the controller's identity (apiserver) | "
            f"{_fmt_counts(cold['apiserver_requests'])} |",
            f"| cold start: CPU seconds until converged | {_s(cold['at_convergence']['cpu_seconds'])} |",
            *_cold_latency(cold),
            "| RSS at convergence / after settling / peak, MB | "
            f"{_mb(cold['at_convergence']['rss_bytes'])} / "
            f"{_mb(cold['after_settle']['rss_bytes'])} / {_mb(cold['after_settle']['peak_rss_bytes'])} |",
            f"| event-loop lag during cold start: p99 / worst{_STALL_NOTE}, ms | {_lag(cold)} |",
        ]
    if quiet:
        lines += [
            f"| quiet {quiet['seconds']:.0f} s: requests (controller's count, watches and Lease excluded) | "
            f"{_fmt_counts(quiet['controller_requests']) or '0'} |",
            f"| quiet: requests of the controller's identity (apiserver; Lease renewals every 2 s included, "
            f"~{quiet['expected_lease_renewals']:.0f} expected) | "
            f"{_fmt_counts(quiet['apiserver_requests'])} |",
            f"| quiet: CPU seconds per minute | {_s(quiet['cpu_seconds_per_minute'], 3)} |",
            f"| quiet: RSS (steady state), MB | {_mb(quiet['rss_bytes'])} |",
            *_scrapes(quiet),
            f"| quiet: event-loop lag p99 / worst since start{_STALL_NOTE}, ms | {_lag(quiet)} |",
        ]
    if warm:
        lines += [
            f"| warm restart: SIGTERM -> exited | {_s(warm['stop_seconds'])} s |",
            f"| warm restart: start -> cache sync / -> Lease / -> first pass done | "
            f"{_s(warm['start_to_cache_sync_seconds'])} / {_s(warm['start_to_leadership_seconds'])} / "
            f"{_s(warm['start_to_first_pass_done_seconds'])} s |",
            f"| warm restart: writes (controller / apiserver APPLY / leader-slice watch events) | "
            f"{warm['controller_writes_total']:.0f} / {sum(warm['apiserver_apply'].values()):.0f} / "
            f"{warm['leader_slice_events_observed']} |",
        ]
    if churn:
        lines += [
            f"| churn: {churn['pod_events']} pod events (non-leaders NotReady and back) in "
            f"{churn['seconds']:.1f} s | {churn['events_per_second']:.0f} events/s |",
            f"| churn: CPU seconds per 1,000 pod events (gross / net of idle) | "
            f"{_s(churn['cpu_seconds_per_1000_events'], 3)} / "
            f"{_s(churn['net_cpu_seconds_per_1000_events'], 3)} |",
            f"| churn: writes | {_fmt_counts(churn['controller_writes']) or '0'} |",
            f"| churn: event-loop lag p99 / worst since start{_STALL_NOTE}, ms | {_lag(churn)} |",
        ]
    lines.append("")
    return lines


def _cold_latency(cold: dict[str, Any]) -> list[str]:
    latency = cold.get("controller_apply_latency")
    if not latency:
        return []
    return [
        f"| cold start: apply latency seen by the controller, {resource}: p50 / p99 | "
        f"{_ms(v['p50'])} / {_ms(v['p99'])} ms |"
        for resource, v in latency.items()
    ]


def _scrapes(quiet: dict[str, Any]) -> list[str]:
    scrapes = quiet.get("metrics_scrape_seconds")
    if not scrapes:
        return []
    return [
        f"| one `/metrics` scrape of the controller, wall time (rendered in a thread that shares the GIL) | "
        f"{' / '.join(_ms(x) for x in scrapes)} ms |"
    ]


def _fmt_counts(counts: dict[str, Any]) -> str:
    return ", ".join(f"{k} {v:.0f}" for k, v in counts.items() if v)


def burst(results: dict[str, Any]) -> list[str]:
    phases = results.get("burst") or {}
    if not phases:
        return []
    lines = ["| measurement | " + " | ".join(k.replace("_", " ") for k in phases) + " |"]
    lines.append("|---|" + "---|" * len(phases))

    def row(label: str, render: Any) -> None:
        lines.append(f"| {label} | " + " | ".join(render(v) for v in phases.values()) + " |")

    row("pods made NotReady", lambda v: str(v.get("pods_made_not_ready", v.get("pods_marked_not_ready"))))
    row(
        "Services led from the node / with a pod on it",
        lambda v: f"{v['services_led_from_victim']} / {v['services_with_pods_on_victim']}",
    )
    row(
        "first to last pod NotReady, s",
        lambda v: _s(v.get("writes_spread_seconds", v.get("pod_marking_spread_seconds"))),
    )
    row(
        "**zen-lead: last leader moved, s after the last pod NotReady**",
        lambda v: f"**{_s(v['zen_after_last_write']['last_seconds'], 3)}**",
    )
    row(
        "upstream: last slice cleared, s after the last pod NotReady",
        lambda v: _s(v["upstream_after_last_write"]["last_seconds"], 3),
    )
    row(
        "zen-lead: last leader moved, s after the first pod NotReady",
        lambda v: _s(v["zen_after_first_write"]["last_seconds"], 3),
    )
    row(
        "upstream: last slice cleared, s after the first pod NotReady",
        lambda v: _s(v["upstream_after_first_write"]["last_seconds"], 3),
    )
    row("zen-lead per Service, after its own leader went NotReady: p50 / p99, s", lambda v: _per_service(v))
    row(
        "never two ready endpoints (violations seen)",
        lambda v: str(v["safety"]["two_ready_endpoints_observed"]),
    )
    row(
        "Services without one ready leader at the end",
        lambda v: str(v["safety"]["services_without_one_leader_at_end"]),
    )
    row("controller writes", lambda v: _fmt_counts(v["controller_writes"]))
    row(f"controller event-loop lag p99 / worst since start{_STALL_NOTE}, ms", _lag)
    row(
        "controller sockets before / after",
        lambda v: (
            f"{v['controller_sockets']['before']} / {v['controller_sockets']['after']}"
            if "controller_sockets" in v
            else "—"
        ),
    )
    lines.append("")
    return lines


def _per_service(v: dict[str, Any]) -> str:
    summary = v.get("zen_per_service_after_its_write") or v.get("zen_per_service_after_its_pod_marked") or {}
    return f"{_s(summary.get('p50'), 3)} / {_s(summary.get('p99'), 3)}"


def pools(results: dict[str, Any]) -> list[str]:
    p = results.get("pools")
    if not p:
        return []
    cold, quiet, ready = p["cold_start"], p["quiet"], p["ready"]
    size = f"{p['pools']} pools x {p['members']} members"

    def p50_99(summary: dict[str, Any]) -> str:
        return f"{_ms(summary['p50'])} / {_ms(summary['p99'])}"

    lease = ready["lease_seconds"]
    lines = [
        "| failover, leader NotReady, paced | trials | from the write's response: p50 / p99, ms | "
        "from the pod event seen on a watch: p50 / p99, ms |",
        "|---|---|---|---|",
        f"| pools, {size}: Lease holder changed | {ready['trials']} | {p50_99(lease)} | "
        f"{p50_99(ready['from_pod_event_seen']['lease_seconds'])} |",
    ]
    for config, d in p.get("director_beside", {}).items():
        lines.append(
            f"| director, {config.replace('x', ' Services x ')} pods: leader slice moved | "
            f"{d['zen_seconds']['count']} | {p50_99(d['zen_seconds'])} | {p50_99(d['from_pod_event_seen'])} |"
        )
    writes = ready["writes_per_failover"]["controller_metrics"]
    lines += [
        "",
        "| measurement | value |",
        "|---|---|",
        f"| {size}: member pods Ready (Deployments, kube-controller-manager's 20 QPS) | "
        f"{_s(p['members_ready_seconds'], 1)} s |",
        f"| cold start: start -> cache sync / every Lease held / every status / every role annotation | "
        f"{_s(cold['start_to_cache_sync_seconds'])} / {_s(cold['start_to_every_lease_held_seconds'])} / "
        f"{_s(cold['start_to_every_status_seconds'])} / "
        f"{_s(cold['start_to_every_role_annotation_seconds'])} s |",
        f"| cold start: writes (controller's count, manager Lease excluded) | "
        f"{_fmt_counts(cold['controller_writes'])} |",
        f"| failover: Lease p50 / p90 / p99 / max | {_ms(lease['p50'])} / {_ms(lease['p90'])} / "
        f"{_ms(lease['p99'])} / {_ms(lease['max'])} ms |",
        f"| failover: status written, p50 / p99; new leader's role annotation, p50 / p99 | "
        f"{p50_99(ready['status_seconds'])}; {p50_99(ready['role_seconds'])} ms |",
        f"| failover: trials written in the order Lease, status, role annotation (resourceVersions) | "
        f"{ready['trials_in_write_order']} / {ready['trials']} |",
        f"| **Lease writes per failover** (events of the pool's Lease on the watch / controller's count) | "
        f"**{_s(ready['lease_writes_per_failover_watch'])}** / {_s(writes.get('leases'))} |",
        f"| writes per failover, undoing included (controller's count) | {_fmt_per(writes)} |",
        f"| quiet {quiet['seconds']:.0f} s: controller requests (manager Lease renewals excluded) | "
        f"{_fmt_counts(quiet['controller_requests']) or '0'} |",
        f"| quiet: watch events of pool Leases / LeaderPolicies / pods | "
        f"{quiet['watch_events']['leases']} / {quiet['watch_events']['leaderpolicies']} / "
        f"{quiet['watch_events']['pods']} |",
        f"| RSS at convergence / after the quiet window / after the trials (peak), MB | "
        f"{_mb(cold['at_convergence']['rss_bytes'])} / {_mb(quiet['rss_bytes'])} / "
        f"{_mb(p['after_trials']['rss_bytes'])} ({_mb(p['after_trials']['peak_rss_bytes'])}) |",
        f"| CPU: seconds until converged / per minute when quiet / per failover | "
        f"{_s(cold['at_convergence']['cpu_seconds'])} / {_s(quiet['cpu_seconds_per_minute'], 3)} / "
        f"{_s(ready['cpu_seconds_per_failover'], 3)} |",
        "",
    ]
    return lines


def _fmt_per(counts: dict[str, Any]) -> str:
    return ", ".join(f"{k} {v:.2f}" for k, v in counts.items() if v)


def elector(results: dict[str, Any]) -> list[str]:
    e = results.get("elector")
    if not e:
        return []
    t = e["timing"]
    lines = [
        f"Timings for both: lease {t['lease_duration']} s, renew deadline {t['renew_deadline']} s, "
        f"retry {t['retry_period']} s.",
        "",
        "| | zen-lead elector | kubernetes.leaderelection (official client) |",
        "|---|---|---|",
    ]
    for key, label in (
        ("graceful_handoff_seconds", "graceful handoff (SIGTERM)"),
        ("crash_takeover_seconds", "crash takeover (SIGKILL)"),
    ):
        cells = [
            f"p50 {_s(e[i][key]['p50'])} s, max {_s(e[i][key]['max'])} s (n={e[i][key]['count']})"
            for i in ("zen", "official")
        ]
        lines.append(f"| {label} | {cells[0]} | {cells[1]} |")
    for role in ("leader", "standby"):
        cells = []
        for impl in ("zen", "official"):
            r = e[impl]["steady_state"][role]
            req = r["requests_per_minute"]
            cells.append(
                f"{_s(r['cpu_seconds_per_minute'], 3)} CPU s/min, {req['dispatched']:.0f} requests/min "
                f"({req['watch']:.0f} watch), RSS {_mb(r['rss_bytes'])} MB"
            )
        lines.append(f"| {role}, steady state | {cells[0]} | {cells[1]} |")
    lines.append("")
    return lines


def targets(results: dict[str, Any]) -> list[str]:
    lines = ["| target | limit | measured | verdict | issue |", "|---|---|---|---|---|"]
    for t in results["targets"]:
        verdict = {True: "met", False: "**MISSED**", None: "n/a at this scale"}[t["met"]]
        measured = t["measured"]
        value = f"{measured:.3f}" if isinstance(measured, float) else str(measured)
        lines.append(f"| {t['target']} | {t['limit']} | {value} | {verdict} | {t['issue']} |")
    lines.append("")
    return lines


def render(results: dict[str, Any]) -> str:
    parts = [
        "### Run",
        *machine(results),
        "### Targets",
        *targets(results),
        "### Failover latency, from the write's response",
        *failover(results),
        "### Failover latency, from the pod event seen on a watch",
        *failover_visible(results),
        "### Scale and cost",
        *scale(results),
        "### Node death",
        *burst(results),
        "### Pools",
        *(pools(results) or ["Not in this run.", ""]),
        "### Elector",
        *elector(results),
    ]
    return "\n".join(parts)


def update(doc: Path, results: dict[str, Any]) -> None:
    text = doc.read_text()
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    doc.write_text(
        f"{head}{BEGIN}\n<!-- generated by `python -m bench.report` from bench/results/"
        f"{results['profile']['name']}.json; do not edit by hand -->\n\n{render(results)}\n{END}{tail}"
    )


def main(argv: list[str] | None = None) -> int:
    """Tables into docs/performance.md and plots (next to the JSON; for a full run also docs/img)."""
    args = argv if argv is not None else sys.argv[1:]
    source = Path(args[0]) if args else REPO / "bench" / "results" / "full.json"
    results = json.loads(source.read_text())
    update(DOC, results)
    name = results["profile"]["name"]
    for path in plots.all_plots(results, source.parent, f"{name}-"):
        if name == "full":
            shutil.copy(path, DOC.parent / "img" / path.name.replace(f"{name}-", "bench-"))
    print(f"updated {DOC} and the plots from {source}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
