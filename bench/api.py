"""``python -m bench.api [--rounds N] [--subscribers N] [--rate R]`` — issue 14's status API beside
etcd's own election service (v3election), in one run on one local cluster.

The servers: ``zen-lead run`` serving the API (HTTP and gRPC on loopback, the defaults: auth answers
cached 10 s when allowed), whose target is a plain Lease; and the cluster's own etcd (v3.6.8), whose
v3election service needs no setup. The client for both is one Go program (``bench/apidriver``, built
on first use), so a request or a subscriber costs the same on the client side and the numbers compare
the servers; it measures with Go's monotonic clock in one process:

- **requests at a fixed rate** (open loop: each request in its own goroutine on schedule, one
  connection): zen-lead ``Leaders.Get`` (gRPC) and ``GET /v1/leader/lease/{name}`` (HTTP/1.1
  keep-alive), etcd ``Election.Leader``; p50/p99 after a warm-up. One caller, so after its first
  request zen-lead answers from its auth cache (a TokenReview and a SubjectAccessReview again once
  every 10 s, when the entries expire); **first calls** (a fresh ServiceAccount token each: both
  reviews) are measured apart, one after another.
- **fan-out**: ``--subscribers`` streams (zen-lead ``Leaders.Watch``; etcd ``Election.Observe``)
  spread over ``--channels`` connections. Per round one change is written — zen-lead: a merge patch of
  the Lease's holder and term through the apiserver; etcd: a ``Proclaim`` (a new value, one put) and,
  in rounds of their own, a handoff (the leader ``Resign``s while another campaigner waits: one
  delete, after which Observe looks the new leader up) — and timed from the moment an independent
  watcher (an apiserver watch on the Lease; an etcd watch on the election prefix) sees it to the
  moment the **last** subscriber is told. RSS per subscriber: the server process's resident memory
  after all subscribers got their first state, minus before, over the subscriber count (``/proc``).

Results: ``bench/results/api.json`` and ``bench/results/api.png``. Not part of ``python -m bench``
(its own cluster). Two shared cores: the load average before and after each phase is recorded.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]  # PyYAML comes with lightkube; no stubs installed
from lightkube import Client
from lightkube.models.coordination_v1 import LeaseSpec
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.coordination_v1 import Lease
from lightkube.resources.core_v1 import Namespace
from tests.support.api import READ_ALL, grant, token_for
from tests.support.controller import ControllerProcess

from bench.exec import go_build
from bench.machine import describe, load_average
from bench.stats import clean, ratio, summary
from zen_lead.kube.config import sync_client
from zen_lead.localcluster import LocalCluster
from zen_lead.localcluster.state import load_layout, read_status

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
DRIVER = ROOT / "bench" / "apidriver"
NAMESPACE = "bench-api"
LEASE = "bench-target"
ELECTION = "bench-election"
LATENCY_TARGETS = ("zen-grpc", "zen-http", "etcd")


class Setup:
    """The cluster side: the server, the caller's tokens and what the driver needs to reach both."""

    def __init__(self, kube: Client, kubeconfig: Path, work: Path, *, first_calls: int) -> None:
        self.kube, self.kubeconfig, self.work = kube, kubeconfig, work
        config = yaml.safe_load(kubeconfig.read_text())
        self.kube_server = config["clusters"][0]["cluster"]["server"]
        self.kube_ca = config["clusters"][0]["cluster"]["certificate-authority"]
        self.admin_token = self._file("admin.token", config["users"][0]["user"]["token"])
        kube.create(Namespace(metadata=ObjectMeta(name=NAMESPACE)))
        now = datetime.now(UTC)
        spec = LeaseSpec(holderIdentity="initial", leaseDurationSeconds=3600, leaseTransitions=0,
                         acquireTime=now, renewTime=now)  # fmt: skip
        kube.create(Lease(metadata=ObjectMeta(name=LEASE, namespace=NAMESPACE), spec=spec))
        grant(kube, NAMESPACE, "reader", READ_ALL)
        self.token = self._file("reader.token", token_for(kube, NAMESPACE, "reader"))
        grant(kube, NAMESPACE, "storm", READ_ALL)
        self.storm_token = self._file("storm.token", token_for(kube, NAMESPACE, "storm"))
        self.fresh: dict[str, Path] = {}
        for target in ("zen-grpc", "zen-http"):  # a ServiceAccount each: neither review is cached
            tokens = []
            for index in range(first_calls):
                name = f"first-{target.removeprefix('zen-')}-{index}"
                grant(kube, NAMESPACE, name, READ_ALL)
                tokens.append(token_for(kube, NAMESPACE, name))
            self.fresh[target] = self._file(f"{target}.tokens", "\n".join(tokens) + "\n")

    def _file(self, name: str, text: str) -> Path:
        path = self.work / name
        path.write_text(text)
        path.chmod(0o600)
        return path


def start_server(kubeconfig: Path, logs: Path) -> ControllerProcess:
    flags = ["--api-bind-address=127.0.0.1:0", "--grpc-bind-address=127.0.0.1:0", "--log-level", "info"]
    return ControllerProcess(
        kubeconfig=kubeconfig, namespace=NAMESPACE, log_dir=logs, name="zen-lead-api", extra=flags
    ).start()


def drive(binary: Path, command: str, args: list[str], timeout: float) -> dict[str, Any]:
    done = subprocess.run(
        [str(binary), command, *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"apidriver {command} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def latency_summary(raw: dict[str, Any]) -> dict[str, Any]:
    samples = raw["samples"] or []
    sent = raw["sent"]
    return {
        "rate": raw["rate"],
        "seconds": raw["seconds"],
        "sent": sent,
        "errors": raw["errors"],
        "first_error": raw.get("first_error"),
        "late_sends": raw["late"],
        "latency_seconds": summary(samples),
        "server_cpu_seconds_per_1000": ratio(1000 * raw["server_cpu_seconds"], sent),
    }


def fanout_summary(raw: dict[str, Any]) -> dict[str, Any]:
    modes = {}
    for mode in raw["mode_order"]:
        rounds = raw["modes"][mode]["rounds"]
        complete = [r for r in rounds if r["missing"] == 0]
        modes[mode] = {
            "rounds": len(rounds),
            "complete_rounds": len(complete),
            "missing_notifications": sum(r["missing"] for r in rounds),
            "stalled_at_round": raw["modes"][mode]["stalled_at_round"] or None,
            "to_last_seconds": summary([r["last"] for r in complete]),
            "to_median_subscriber_seconds": summary([r["p50"] for r in rounds]),
            "to_first_seconds": summary([r["first"] for r in rounds]),
            "write_to_watcher_seconds": summary([r["write_to_watcher"] for r in rounds]),
            "server_cpu_seconds_per_change": summary([r["server_cpu_seconds"] for r in rounds]),
            "pooled_percentiles_seconds": raw["modes"][mode]["pooled_percentiles"],
            "per_round": [{k: r[k] for k in ("first", "p50", "last", "missing")} for r in rounds],
        }
    return {
        "subscribers": raw["subscribers"],
        "channels": raw["channels"],
        "subscribed": raw["subscribed"],
        "subscribe_seconds": raw["subscribe_seconds"],
        "subscribe_server_cpu_seconds": raw["subscribe_server_cpu_seconds"],
        "stream_errors": raw["stream_errors"],
        "rss_before_bytes": raw["rss_before_bytes"],
        "rss_after_bytes": raw["rss_after_bytes"],
        "rss_per_subscriber_bytes": raw["rss_per_subscriber_bytes"],
        "driver_rss_bytes": raw["driver_rss_after_bytes"],
        "modes": modes,
    }


def ratios(results: dict[str, Any]) -> dict[str, Any]:
    """zen-lead over etcd (above 1: zen-lead slower or larger)."""
    latency, fanout = results["latency"], results["fanout"]
    etcd_latency = latency["etcd"]["latency_seconds"]
    out: dict[str, Any] = {}
    for target in ("zen-grpc", "zen-http"):
        for q in ("p50", "p99"):
            out[f"{target} {q} / etcd Leader {q}"] = ratio(
                latency[target]["latency_seconds"][q], etcd_latency[q]
            )
    zen = fanout["zen"]["modes"]["holder"]["to_last_seconds"]
    for mode in fanout["etcd"]["modes"]:
        etcd = fanout["etcd"]["modes"][mode]["to_last_seconds"]
        for q in ("p50", "p99"):
            out[f"watch to last {q} / etcd {mode} {q}"] = ratio(zen[q], etcd[q])
    out["rss per subscriber / etcd"] = ratio(
        fanout["zen"]["rss_per_subscriber_bytes"], fanout["etcd"]["rss_per_subscriber_bytes"]
    )
    return out


def run(args: argparse.Namespace, binary: Path, work: Path) -> dict[str, Any]:
    cluster = LocalCluster(args.cluster, nodes=1)
    cluster.down()
    info = cluster.up(owner_pid=os.getpid())
    server: ControllerProcess | None = None
    try:
        kube = sync_client(info.kubeconfig)
        setup = Setup(kube, info.kubeconfig, work, first_calls=args.first_calls)
        server = start_server(info.kubeconfig, work)
        assert server.proc is not None
        etcd_pid = int((read_status(info.state) or {})["pids"]["etcd"])
        etcd = f"127.0.0.1:{load_layout(info.state).etcd_client_port}"
        common = [
            f"--zen-grpc={server.addresses['grpc']}", f"--zen-http={server.addresses['api']}",
            f"--etcd={etcd}", f"--token-file={setup.token}", f"--namespace={NAMESPACE}",
            f"--lease={LEASE}", f"--election={ELECTION}",
        ]  # fmt: skip
        pids = {"zen-grpc": server.proc.pid, "zen-http": server.proc.pid, "etcd": etcd_pid}
        loads: dict[str, list[float]] = {"start": load_average()}
        latency = {}
        timing = [f"--rate={args.rate}", f"--duration={args.duration}s", f"--warmup={args.warmup}s"]
        for target in LATENCY_TARGETS:
            argv = [*common, *timing, f"--target={target}", f"--server-pid={pids[target]}"]
            latency[target] = latency_summary(drive(binary, "latency", argv, 600))
            loads[f"after latency {target}"] = load_average()
        first = {}
        for target, tokens in setup.fresh.items():
            argv = [*common, f"--target={target}", f"--tokens-file={tokens}"]
            raw = drive(binary, "firstcall", argv, 300)
            first[target] = {"errors": raw["errors"], "latency_seconds": summary(raw["samples"] or [])}
        fanout: dict[str, Any] = {}
        fan = [f"--subscribers={args.subscribers}", f"--channels={args.channels}",
               f"--kube-server={setup.kube_server}", f"--kube-ca={setup.kube_ca}",
               f"--kube-token-file={setup.admin_token}"]  # fmt: skip
        for system, pid in (("zen", server.proc.pid), ("etcd", etcd_pid)):
            argv = [*common, *fan, f"--rounds={args.rounds}", f"--system={system}", f"--server-pid={pid}"]
            fanout[system] = fanout_summary(drive(binary, "fanout", argv, 900))
            loads[f"after fanout {system}"] = load_average()
        # The same subscribers opening at once with a token the server has not seen: every stream's
        # TokenReview and SubjectAccessReview is a miss (the caches do not merge concurrent misses).
        before = _auth_counts(server.metrics())
        cold = [*common, *fan, f"--token-file={setup.storm_token}"]  # the later flag wins
        raw = drive(binary, "fanout", [*cold, "--rounds=0", "--system=zen", "--cold",
                                       f"--server-pid={server.proc.pid}"], 300)  # fmt: skip
        storm = {k: raw[k] for k in ("subscribers", "subscribed", "subscribe_seconds", "stream_errors")}
        storm["reviews"] = _delta(before, _auth_counts(server.metrics()))
        loads["end"] = load_average()
        metrics = server.metrics()
    finally:
        if server is not None:
            server.stop()
        if not args.keep_cluster:
            cluster.down()
    results: dict[str, Any] = {
        "machine": describe(kubernetes_version=info.kubernetes_version),
        "etcd": "v3.6.8 (the local cluster's; v3election served by it)",
        "parameters": {
            "subscribers": args.subscribers,
            "channels": args.channels,
            "rounds": args.rounds,
            "rate": args.rate,
            "duration_seconds": args.duration,
            "warmup_seconds": args.warmup,
            "first_calls": args.first_calls,
            "auth_cache": "zen-lead defaults: allowed 10 s, denied 2 s",
        },
        "load_average": loads,
        "latency": latency,
        "first_call": first,
        "fanout": fanout,
        "cold_subscribe": storm,
        "auth_reviews": _auth_counts(metrics),
    }
    results["ratios_zen_over_etcd"] = ratios(results)
    return results


def _auth_counts(metrics: str) -> dict[str, float]:
    """The server's review counters at the end (cache hits and misses), from its /metrics."""
    counts: dict[str, float] = {}
    for line in metrics.splitlines():
        if line.startswith(("zen_lead_api_authentications_total{", "zen_lead_api_authorizations_total{")):
            key, _, value = line.rpartition(" ")
            counts[key] = float(value)
    return counts


def _delta(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {k: v - before.get(k, 0.0) for k, v in after.items() if v != before.get(k, 0.0)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.api", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=30, help="changes per mode (default 30)")
    parser.add_argument("--subscribers", type=int, default=1000, help="streams per system (default 1000)")
    parser.add_argument("--channels", type=int, default=10, help="connections the streams share (default 10)")
    parser.add_argument("--rate", type=float, default=200, help="requests per second (default 200)")
    parser.add_argument("--duration", type=float, default=10, help="seconds measured (default 10)")
    parser.add_argument("--warmup", type=float, default=2, help="seconds at the rate before (default 2)")
    parser.add_argument("--first-calls", type=int, default=10, help="fresh tokens per protocol (default 10)")
    parser.add_argument("--cluster", default="bench-api", help="local cluster name (started fresh)")
    parser.add_argument("--keep-cluster", action="store_true", help="leave the cluster running afterwards")
    parser.add_argument("--output", type=Path, default=RESULTS / "api.json")
    parser.add_argument("--plot", type=Path, help="the figure (default: beside --output, .png)")
    args = parser.parse_args(argv)
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        binary = go_build(DRIVER, work / "apidriver")
        results = run(args, binary, work)
    results["duration_seconds"] = time.monotonic() - started
    results = clean(results)  # type: ignore[assignment]
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    plot(results, args.plot or args.output.with_suffix(".png"))
    for line in report_lines(results):
        print(line)
    return 0


def report_lines(results: dict[str, Any]) -> list[str]:
    lines = []
    for target, data in results["latency"].items():
        measured = data["latency_seconds"]
        lines.append(
            f"{target:>9} at {data['rate']:g}/s: p50 {_ms(measured['p50'])} p99 {_ms(measured['p99'])} "
            f"max {_ms(measured['max'])} ({data['errors']} errors)"
        )
    for target, data in results["first_call"].items():
        measured = data["latency_seconds"]
        lines.append(f"{target:>9} first call: p50 {_ms(measured['p50'])} max {_ms(measured['max'])}")
    for system, data in results["fanout"].items():
        for mode, measured in data["modes"].items():
            last = measured["to_last_seconds"]
            lines.append(
                f"{system:>5} {mode:>8} x{data['subscribers']}: to last p50 {_ms(last['p50'])} "
                f"p99 {_ms(last['p99'])} (missing {measured['missing_notifications']}); "
                f"RSS/subscriber {data['rss_per_subscriber_bytes'] / 1024:.1f} KiB"
            )
    return lines


def plot(results: dict[str, Any], target: Path) -> Path:
    """Three panels: request latency per target; the CDF of every subscriber's delay after the
    independent watcher saw the change; the change-to-last-subscriber time of each round."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colors = {"zen-grpc": "#1f77b4", "zen-http": "#17becf", "etcd": "#ff7f0e"}
    series = {
        "zen holder": ("zen", "holder", "#1f77b4", "-"),
        "etcd proclaim": ("etcd", "proclaim", "#ff7f0e", "-"),
        "etcd handoff": ("etcd", "handoff", "#d62728", "--"),
    }
    fig, (bars, cdf, rounds) = plt.subplots(1, 3, figsize=(16, 4.8))
    names = list(results["latency"])
    for index, name in enumerate(names):
        measured = results["latency"][name]["latency_seconds"]
        for q, alpha in (("p99", 0.35), ("p50", 1.0)):
            value = 1000 * (measured[q] or 0.0)
            bars.bar(index, value, width=0.6, color=colors.get(name, "grey"), alpha=alpha,
                     label=q if index == 0 else None)  # fmt: skip
            bars.annotate(f"{value:.2f}", (index, value), ha="center", va="bottom", fontsize=8)
    bars.set_xticks(range(len(names)), ["zen Get (gRPC)", "zen GET (HTTP)", "etcd Leader"][: len(names)])
    bars.set_ylabel("ms")
    rate = results["parameters"]["rate"]
    bars.set_title(f"request latency at {rate:g}/s (p50 solid, p99 light)", fontsize=10)
    subscribers = results["parameters"]["subscribers"]
    for label, (system, mode, color, style) in series.items():
        data = results["fanout"].get(system, {}).get("modes", {}).get(mode)
        if not data:
            continue
        if data["stalled_at_round"]:  # most subscribers never told: no delay distribution to draw
            told = subscribers - data["per_round"][-1]["missing"]
            note = f"{label}: stalled in round {data['stalled_at_round']}, {told}/{subscribers} told"
            rounds.annotate(note, (0.02, 0.95), xycoords="axes fraction", color=color, fontsize=8)
            continue
        values = [1000 * v for v in data["pooled_percentiles_seconds"] if v is not None]
        cdf.plot(values, [i / max(len(values) - 1, 1) for i in range(len(values))], style, color=color,
                 label=label)  # fmt: skip
        per_round = [1000 * r["last"] for r in data["per_round"] if r["last"] is not None]
        rounds.plot(range(1, len(per_round) + 1), per_round, style, marker=".", color=color, label=label)
    cdf.set_xlabel("ms after the independent watcher saw the change")
    cdf.set_ylabel(f"fraction of notifications ({subscribers} subscribers x rounds)")
    cdf.set_title("every subscriber's delay", fontsize=10)
    rounds.set_xlabel("round")
    rounds.set_ylabel("ms to the last subscriber")
    rounds.set_title("change -> last subscriber told, per round", fontsize=10)
    for ax in (bars, cdf, rounds):
        ax.grid(alpha=0.3)
    bars.legend(fontsize=8)
    cdf.legend(fontsize=8)
    rounds.legend(fontsize=8)
    fig.suptitle(f"Status API (issue 14) beside etcd v3election, {subscribers} subscribers, one run")
    fig.tight_layout()
    target.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(target, dpi=110)
    plt.close(fig)
    return target


def _ms(seconds: float | None) -> str:
    return "n/a" if seconds is None else f"{1000 * seconds:.2f} ms"


if __name__ == "__main__":
    sys.exit(main())
