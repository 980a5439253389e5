"""What the numbers were measured on: CPUs, memory, load, versions."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

PACKAGES = ("zen-lead", "lightkube", "msgspec", "httpx2", "aiohttp", "kubernetes", "prometheus_client")


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _mem_total_bytes() -> int:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _package_version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "absent"


def source_state() -> dict[str, Any]:
    """The commit the controller ran from, and files of src/ changed since (they ran too)."""
    repo = Path(__file__).resolve().parent.parent

    def git(*args: str) -> str:
        try:
            done = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            return ""
        return done.stdout.rstrip("\n")

    changed = [line[3:] for line in git("status", "--porcelain", "--", "src").splitlines()]
    return {"commit": git("rev-parse", "HEAD").strip(), "src_changed_since_commit": changed}


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def describe(*, kubernetes_version: str) -> dict[str, Any]:
    return {
        "nproc": os.cpu_count(),
        "memory_bytes": _mem_total_bytes(),
        "cpu_model": _cpu_model(),
        "kernel": platform.release(),
        "python": sys.version.split()[0],
        "kubernetes": kubernetes_version,
        "packages": {name: _package_version(name) for name in PACKAGES},
        "load_average_at_start": load_average(),
        "source": source_state(),
    }
