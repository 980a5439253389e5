"""Where the local cluster keeps its binaries, state and logs.

``ZEN_LEAD_CACHE`` overrides the cache root (default ``~/.cache/zen-lead``); binaries live under
``bin/`` keyed by the hash of their Go module files, so a warm start never rebuilds and a change of
version never reuses a stale build. Each named cluster has its own state directory.
"""

from __future__ import annotations

import os
from pathlib import Path


def cache_root() -> Path:
    env = os.environ.get("ZEN_LEAD_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "zen-lead"


def cluster_dir(name: str) -> Path:
    return cache_root() / "clusters" / name


def tools_dir() -> Path:
    """The Go modules under ``tools/`` of the source checkout (or ``ZEN_LEAD_TOOLS_DIR``)."""
    env = os.environ.get("ZEN_LEAD_TOOLS_DIR")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[3] / "tools"
