"""PNG plots of a run's JSON (matplotlib, Agg backend): one figure per benchmark."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

ZEN_COLOR, UPSTREAM_COLOR = "#1f77b4", "#ff7f0e"


def _ms(value: Any) -> float:
    return 1000 * float(value) if value is not None else float("nan")


def failover(results: dict[str, Any], target: Path) -> Path:
    configs = results["failover"]
    names = list(configs)
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5), sharey=True)
    for ax, mode in zip(axes, ("ready", "delete"), strict=True):
        positions = range(len(names))
        for offset, (who, key, color) in enumerate(
            (("zen-lead", "zen_seconds", ZEN_COLOR), ("upstream", "upstream_seconds", UPSTREAM_COLOR))
        ):
            p50 = [_ms(configs[n][mode][key]["p50"]) for n in names]
            p99 = [_ms(configs[n][mode][key]["p99"]) for n in names]
            xs = [p + (offset - 0.5) * 0.38 for p in positions]
            ax.bar(xs, p99, width=0.36, color=color, alpha=0.35, label=f"{who} p99")
            ax.bar(xs, p50, width=0.36, color=color, label=f"{who} p50")
        ax.set_xticks(
            list(positions), [n.replace("x", " svc x ") + " pods" for n in names], rotation=20, fontsize=8
        )
        ax.set_yscale("log")
        ax.set_title(
            "leader NotReady (status subresource), paced" if mode == "ready" else "leader pod deleted, paced"
        )
        ax.grid(axis="y", which="both", alpha=0.3)
    axes[0].set_ylabel("ms after the write landed (log)")
    axes[0].legend(fontsize=8)
    fig.suptitle("Failover: zen-lead leader slice moved (a) vs upstream slice marked the pod not ready (b)")
    fig.tight_layout()
    fig.savefig(target, dpi=110)
    plt.close(fig)
    return target


def failover_cdf(results: dict[str, Any], config: str, target: Path) -> Path:
    fig, ax = plt.subplots(figsize=(7, 4.5))
    data = results["failover"][config]
    for mode, style in (("ready", "-"), ("delete", "--"), ("ready_back_to_back", ":")):
        if mode not in data:
            continue
        samples = data[mode]["samples"]
        for who, key, color in (("zen-lead", "zen", ZEN_COLOR), ("upstream", "upstream", UPSTREAM_COLOR)):
            values = sorted(_ms(s[key]) for s in samples if s[key] is not None)
            if values:
                ys = [(i + 1) / len(values) for i in range(len(values))]
                ax.step(
                    values, ys, style, color=color, where="post", label=f"{who}, {mode.replace('_', ' ')}"
                )
    ax.set_xscale("log")
    ax.set_xlabel("ms after the write landed (log)")
    ax.set_ylabel("fraction of trials")
    ax.set_title(f"Failover latency CDF, {config.replace('x', ' Services x ')} pods")
    ax.grid(which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(target, dpi=110)
    plt.close(fig)
    return target


def burst(results: dict[str, Any], target: Path) -> Path:
    phases = [(k, v) for k, v in results["burst"].items() if isinstance(v, dict) and "timeline" in v]
    fig, axes = plt.subplots(1, max(1, len(phases)), figsize=(6 * max(1, len(phases)), 4.5), squeeze=False)
    for ax, (name, phase) in zip(axes[0], phases, strict=False):
        timeline = phase["timeline"]
        for who, color in (("zen", ZEN_COLOR), ("upstream", UPSTREAM_COLOR)):
            values = sorted(timeline[who])
            if values:
                ax.step(
                    values,
                    [(i + 1) / len(values) for i in range(len(values))],
                    color=color,
                    where="post",
                    label=f"{'zen-lead' if who == 'zen' else 'upstream'} ({len(values)} Services)",
                )
        writes = sorted(timeline["writes"])
        if writes:
            ax.step(
                writes,
                [(i + 1) / len(writes) for i in range(len(writes))],
                color="grey",
                where="post",
                linestyle=":",
                label=f"pods NotReady ({len(writes)})",
            )
        ax.set_xlabel("seconds since the first pod went NotReady")
        ax.set_ylabel("fraction done")
        ax.set_title(name.replace("_", " "))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle("Node death: leaders moved (zen-lead) vs slices cleared (upstream)")
    fig.tight_layout()
    fig.savefig(target, dpi=110)
    plt.close(fig)
    return target


def elector(results: dict[str, Any], target: Path) -> Path:
    data = results["elector"]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    modes = (
        ("graceful_handoff_seconds", "graceful (SIGTERM)"),
        ("crash_takeover_seconds", "crash (SIGKILL)"),
    )
    for offset, (impl, color, label) in enumerate(
        (("zen", ZEN_COLOR, "zen-lead elector"), ("official", UPSTREAM_COLOR, "kubernetes.leaderelection"))
    ):
        xs = [i + (offset - 0.5) * 0.38 for i in range(len(modes))]
        bars = ax.bar(
            xs,
            [data[impl][key]["p50"] or 0 for key, _ in modes],
            width=0.36,
            color=color,
            label=f"{label} p50",
        )
        ax.bar_label(bars, fmt="%.2f s", fontsize=8)
        ax.scatter(xs, [data[impl][key]["max"] or 0 for key, _ in modes], color="black", marker="_", s=300)
    ax.set_xticks(range(len(modes)), [label for _, label in modes])
    timing = data["timing"]
    ax.set_ylabel("seconds until the standby leads (bar p50, tick max)")
    ax.set_title(
        f"Leader handoff, lease {timing['lease_duration']} s / renew {timing['renew_deadline']} s / "
        f"retry {timing['retry_period']} s"
    )
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(target, dpi=110)
    plt.close(fig)
    return target


def all_plots(results: dict[str, Any], directory: Path, prefix: str) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    made = []
    if results.get("failover"):
        made.append(failover(results, directory / f"{prefix}failover.png"))
        largest = max(
            results["failover"],
            key=lambda k: (
                results["failover"][k]["services"] * 100 + results["failover"][k]["pods_per_service"]
            ),
        )
        made.append(failover_cdf(results, largest, directory / f"{prefix}failover-cdf.png"))
    if results.get("burst"):
        made.append(burst(results, directory / f"{prefix}node-burst.png"))
    if results.get("elector"):
        made.append(elector(results, directory / f"{prefix}elector.png"))
    return made
